"""Located problems found while mapping a source export to the canonical tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SourceIssue:
    """One problem in a source file: where it is, what was found and what was expected.

    `line` is the 1-based line of the file (the header is line 1, so the first data row is line 2);
    it is None for a problem with the file as a whole (e.g. a missing file).
    """

    file: str
    line: int | None
    column: str | None
    value: str | None
    expected: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}: line {self.line}"
        column = f": column {self.column!r}" if self.column else ""
        value = f": value {self.value!r}" if self.value is not None else ""
        return f"{where}{column}{value}: {self.expected}"


class SourceError(ValueError):
    """A source that cannot be mapped; `issues` lists every problem found, not just the first."""

    def __init__(self, issues: Sequence[SourceIssue]):
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class MappingError(ValueError):
    """A mapping YAML that cannot be used: the message names the file, the line and the key."""
