"""Located errors for input that cannot be used at all (a whole file or table, not a single row).

Row-level problems are not errors: they become `data_quality_rejects` rows and the rest of the file flows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadIssue:
    """One file-level problem: where it is (`file`, optional `line` and `column`), what was found, and
    what was expected."""

    file: str
    message: str
    line: int | None = None
    column: str | None = None
    value: str | None = None
    expected: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        if self.column is not None:
            where += f": column {self.column!r}"
        text = f"{where}: {self.message}"
        if self.value is not None:
            text += f" (found {self.value!r})"
        if self.expected is not None:
            text += f"; expected {self.expected}"
        return text


class LoadError(ValueError):
    """Input that cannot be loaded; `issues` lists every located problem found before giving up.

    The first issue's location is also available as `file`, `line`, `column`, `value` and `expected`.
    """

    def __init__(self, issues: LoadIssue | Sequence[LoadIssue]):
        self.issues = [issues] if isinstance(issues, LoadIssue) else list(issues)
        if not self.issues:
            raise ValueError("LoadError needs at least one issue")
        super().__init__("\n".join(str(i) for i in self.issues))

    @property
    def file(self) -> str:
        return self.issues[0].file

    @property
    def line(self) -> int | None:
        return self.issues[0].line

    @property
    def column(self) -> str | None:
        return self.issues[0].column

    @property
    def value(self) -> str | None:
        return self.issues[0].value

    @property
    def expected(self) -> str | None:
        return self.issues[0].expected
