"""Checks that an input path is something that can be read safely: a regular file of bounded size.

A FIFO blocks a reader forever, a directory or a symlink loop cannot be read at all, and a huge "config"
file can exhaust memory before a parser sees it. These checks look at the file with `os.stat` (which
follows symlinks, and raises on a loop) and never open it, so they cannot hang.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


def present(path: Path) -> bool:
    """True when something exists under `path`, even a dangling symlink or a symlink loop."""
    return path.exists() or path.is_symlink()


def not_regular_file(path: Path, max_bytes: int | None = None) -> str | None:
    """Why `path` cannot be read as an input file, or None when it can.

    The reason names what was found ("a directory", "a FIFO", "a symlink loop", ...) so a message can say
    "not a regular file: a FIFO"; a regular file larger than `max_bytes` is refused too.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "dangling symlink" if path.is_symlink() else "file not found"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "not a regular file: a symlink loop"
        return f"cannot stat file: {exc.strerror or exc}"
    if not stat.S_ISREG(info.st_mode):
        return f"not a regular file: {_kind(info.st_mode)}"
    if max_bytes is not None and info.st_size > max_bytes:
        return f"file too large: {info.st_size:,} bytes, at most {max_bytes:,} allowed"
    return None


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file"
