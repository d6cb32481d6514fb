"""Identifiers that may name a file: plan ids (a plan is written to `plans/<plan_id>.yaml`) and run ids
(a run's report goes to `data_quality/<run_id>/`). Checked in one place, before any path is built.

A safe id is 1 to 128 characters of letters, digits, `.`, `_` and `-`, starting with a letter or a digit:
no `/`, no `..` path, no absolute path, no hidden file, nothing a shell or a file system reads specially.
"""

from __future__ import annotations

import re

SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
SAFE_ID_WORDS = "1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"


class UnsafeId(ValueError):
    """An identifier that would not be safe as a file or folder name."""


def is_safe_id(value: object) -> bool:
    return isinstance(value, str) and SAFE_ID.fullmatch(value) is not None


def checked_id(kind: str, value: str) -> str:
    """`value` unchanged when it is a safe id; else `UnsafeId` naming the kind ("plan_id", "run id")."""
    if not is_safe_id(value):
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise UnsafeId(f"invalid {kind} {shown!r}: expected {SAFE_ID_WORDS}")
    return value
