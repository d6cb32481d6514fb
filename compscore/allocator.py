"""How long Polars' memory allocator keeps freed memory: set when compscore is imported, before Polars is.

Polars allocates through jemalloc and, when imported, sets it to give freed pages back to the operating
system within half a second to a second (`dirty_decay_ms:500,muzzy_decay_ms:1000` in `polars/__init__.py`,
so that memory is released promptly: pola-rs/polars#18088), then appends whatever `ALLOCATOR_ENV` already
holds, which therefore wins. Scoring frees and allocates gigabytes a second (every batch builds and drops
its frames), so with Polars' setting the kernel maps and zeroes the same memory again and again: at 10M
statement lines, 69 s of the run's 251 s of CPU was the kernel's (page faults). Keeping freed pages for 5 s
(`KEEP_FREED_MEMORY`) cut the run from 169 to 131 s wall and 251 to 224 s CPU, for a peak of 4.0 GiB
instead of 3.5; 30 s was no faster within the noise (125–136 s) and held more (4.7–4.9 GiB at 10M, 11.0
GiB at 30M lines against 10.0 before); docs/performance.md, "Issue 9, session 8".

jemalloc reads the variable once, when Polars' library is loaded: so the setting is made by importing
`compscore` (which imports no Polars itself) before anything imports Polars; a value the user set is kept.
The entry points (`compscore.cli`, the `pipelines` package) import `compscore` first; `applied` says
whether it came in time.
"""

from __future__ import annotations

import os
import sys

ALLOCATOR_ENV = "_RJEM_MALLOC_CONF"
"""jemalloc's settings variable in Polars' build (tikv-jemallocator's prefixed name)."""

KEEP_FREED_MEMORY = "dirty_decay_ms:5000,muzzy_decay_ms:5000"
"""Freed pages are kept 5 s (jemalloc's `dirty_decay_ms` and `muzzy_decay_ms`) before they go back."""


def keep_freed_memory() -> bool:
    """Ask jemalloc to keep freed memory (`KEEP_FREED_MEMORY`) unless the user set `ALLOCATOR_ENV`; True
    when Polars was not loaded yet, so that the setting (the user's or ours) takes effect."""
    os.environ.setdefault(ALLOCATOR_ENV, KEEP_FREED_MEMORY)
    return "polars" not in sys.modules


applied = keep_freed_memory()
"""Whether the allocator's setting came before Polars in this process."""
