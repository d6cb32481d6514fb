"""HTML building blocks with escaping: every text that comes from the data goes through `text`."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from string import Template

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 2rem auto; padding: 0 1.5rem; max-width: 1100px; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } .meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.8rem 0 1.4rem; font-size: 0.88rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; vertical-align: top; }
td { white-space: nowrap; } td.wide { white-space: normal; min-width: 22rem; text-align: left; }
.scroll { overflow-x: auto; }
th { background: #f4f6f7; } td.text, th.text { text-align: left; }
tr.in-progress td { color: #888; font-style: italic; }
.reading { background: #fdf6e3; border-left: 4px solid #e67e22; padding: 0.6rem 1rem; }
.summary li { margin: 0.2rem 0; } figure { margin: 1rem 0; } figcaption { color: #555; font-size: 0.85rem; }
section.plan { border-top: 2px solid #ccc; margin-top: 2rem; }
.badge { font-size: 0.75rem; padding: 0 0.4rem; border-radius: 0.6rem; background: #eee; }
"""

PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>$title</title>
<style>$style</style>
</head>
<body>
$body
</body>
</html>
"""
)


def text(value: object) -> str:
    """Escaped text of a value (None as an en dash)."""
    return "–" if value is None else html.escape(str(value), quote=True)


def page(title: str, body: str) -> str:
    return PAGE.substitute(title=text(title), style=STYLE, body=body)


def figure(svg: str, name: str, caption: str) -> str:
    """An inline SVG chart (rendered by vl-convert from our own data) with an escaped caption."""
    return f'<figure data-chart="{text(name)}">{svg}<figcaption>{text(caption)}</figcaption></figure>'


def table(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    text_columns: int = 1,
    wide_last: bool = False,
    row_classes: Iterable[str] | None = None,
) -> str:
    """A table of escaped cells; the first `text_columns` columns are left-aligned, the last one wraps as
    prose when `wide_last`."""
    last = len(header) - 1

    def cell(tag: str, i: int, value: object) -> str:
        css = ' class="text"' if i < text_columns else ""
        if wide_last and i == last:
            css = ' class="text wide"'
        return f"<{tag}{css}>{text(value)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    classes = iter(row_classes or [])
    body = []
    for row in rows:
        css = next(classes, "")
        attr = f' class="{text(css)}"' if css else ""
        body.append(f"<tr{attr}>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>")
    rows_html = "".join(body)
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{rows_html}</tbody></table></div>'
    )
