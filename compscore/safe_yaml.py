"""A bounded YAML reader for config files (plans, adapter mappings): no aliases, bounded depth and size.

PyYAML's safe loader still expands aliases: a few hundred bytes of nested `&a [*b, *b, ...]` anchors
("billion laughs") become gigabytes, and an error message that shows the value would embed the
expansion. A document nested thousands of levels deep overflows the composer's recursion. So:

- an alias (`*name`) is refused where it appears, before anything is expanded (anchors alone are harmless
  and allowed: nothing refers to them);
- nesting deeper than `MAX_DEPTH` collections is refused;
- a file larger than `MAX_BYTES` is refused before it is read (see `compscore.safe_paths`).

`load_document` parses once and returns both the node tree (whose marks give every key its line) and the
plain values, so messages can name the line without a second parse.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 1_000_000
"""A config file is at most 1 MB; the largest real plan file is about 2 kB."""
MAX_DEPTH = 64
"""Collections nested deeper than this are refused; a plan needs 5 levels."""


class BoundedSafeLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses aliases and nesting deeper than `MAX_DEPTH`."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not allowed in this file", event.start_mark
            )
        is_collection = self.check_event(yaml.SequenceStartEvent) or self.check_event(yaml.MappingStartEvent)
        if is_collection:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark
                )
        try:
            return super().compose_node(parent, index)
        finally:
            if is_collection:
                self._depth -= 1


def load_document(
    text: str, loader: type[BoundedSafeLoader] = BoundedSafeLoader
) -> tuple[yaml.Node | None, Any]:
    """The node tree and the plain values of one YAML document; raises `yaml.YAMLError` when it is not one.

    An error's message names the problem only, never the (possibly huge) value.
    """
    reader = loader(text)
    try:
        node = reader.get_single_node()
        return node, (reader.construct_document(node) if node is not None else None)
    finally:
        reader.dispose()


def error_line(exc: yaml.YAMLError) -> int | None:
    """The 1-based line a YAML error points at, if it says."""
    mark = getattr(exc, "problem_mark", None)
    return mark.line + 1 if mark is not None else None


def error_problem(exc: yaml.YAMLError) -> str:
    """What is wrong, in one line and without the document's values."""
    problem = getattr(exc, "problem", None) or type(exc).__name__
    return " ".join(str(problem).split())
