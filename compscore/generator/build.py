"""Put a generated company together: chunk by chunk to files (`write_company`) or whole in memory.

Chunk `i` depends only on (seed, i, its position count, quarters, start), so the streamed files and the
in-memory company are the same rows in the same order.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from compscore.canonical_io import Format
from compscore.dataset import CanonicalData
from compscore.generator.company import GeneratorConfig, simulate_chunk
from compscore.generator.lines import statement_lines
from compscore.generator.plans_catalog import PLANS, PLANS_BY_ID
from compscore.generator.writer import TableAppender
from compscore.plans import write_plans
from compscore.schema import PLANS_DIR

MANIFEST = ".generator.json"
"""Written into every output folder: the arguments that regenerate it and its row counts. Hidden, so the
canonical loader ignores it silently."""
_LINES_STREAM = 1
"""Second seed word of the adjustment-line random stream (the CRM stream is `[seed, chunk]`)."""


@dataclass(frozen=True)
class GenerationSummary:
    config: GeneratorConfig
    """The config that regenerates the output (with `reps` = positions actually written)."""
    fmt: str
    chunks: int
    rows: dict[str, int]
    adjustment_lines: int
    seconds: float


def generate_chunk(config: GeneratorConfig, chunk: int, with_lines: bool = True) -> dict[str, pl.DataFrame]:
    """Every table of chunk `chunk`; statement lines from the payout engine when `with_lines`."""
    tables = simulate_chunk(config, chunk)
    if with_lines:
        data = CanonicalData(tables=dict(tables), plans=dict(PLANS_BY_ID))
        rng = np.random.default_rng([config.seed, chunk, _LINES_STREAM])
        tables["commission_lines"] = statement_lines(data, rng, chunk, config.end_date)
    return tables


def generate_company(config: GeneratorConfig, with_lines: bool = True) -> CanonicalData:
    """The whole company in memory (for tests and small companies)."""
    parts = [generate_chunk(config, i, with_lines) for i in range(config.n_chunks)]
    tables = {name: pl.concat([p[name] for p in parts], how="vertical") for name in parts[0]}
    return CanonicalData(tables=tables, plans=dict(PLANS_BY_ID), given_commission_lines=with_lines)


def _chunk_indexes(config: GeneratorConfig, target_lines: int | None) -> Iterator[int]:
    """Chunk indexes to generate: all of `config.reps`, or full chunks until the target is met."""
    chunk = 0
    while target_lines is not None or chunk < config.n_chunks:
        yield chunk
        chunk += 1


def write_company(
    config: GeneratorConfig,
    out: str | Path,
    fmt: Format = "parquet",
    target_lines: int | None = None,
    with_lines: bool = True,
    show_progress: bool = True,
) -> GenerationSummary:
    """Generate chunk by chunk, appending each table to `out/<table>.<fmt>`; write the plans and manifest.

    With `target_lines`, `config.reps` is ignored: full chunks of `config.reps_per_chunk` positions are
    generated until at least that many statement lines (or deals, without lines) have been written.
    Progress goes to stderr, one line per chunk, unless `show_progress` is off.
    """
    out = Path(out)
    if target_lines is not None:
        config = dataclasses.replace(config, reps=config.reps_per_chunk)  # every chunk full-sized
    started = time.perf_counter()
    count_table = "commission_lines" if with_lines else "deals"
    positions = 0
    n_chunks = 0
    adjustments = 0
    with TableAppender(out, fmt) as appender:
        for chunk in _chunk_indexes(config, target_lines):
            if target_lines is not None and appender.rows.get(count_table, 0) >= target_lines:
                break
            tables = generate_chunk(config, chunk, with_lines)
            for name, frame in tables.items():
                appender.append(name, frame)
            if with_lines:
                adjustments += tables["commission_lines"].filter(pl.col("line_type") == "adjustment").height
            positions += config.chunk_positions(chunk)
            n_chunks += 1
            del tables
            if show_progress:
                total = f"/{config.n_chunks}" if target_lines is None else f" (target {target_lines:,})"
                print(
                    f"chunk {chunk + 1}{total}: {positions:,} positions, "
                    f"{appender.rows.get('deals', 0):,} deals, "
                    f"{appender.rows.get('commission_lines', 0):,} lines, "
                    f"{time.perf_counter() - started:.1f}s",
                    file=sys.stderr,
                    flush=True,
                )
        rows = dict(appender.rows)
    write_plans(PLANS, out / PLANS_DIR)
    written = dataclasses.replace(config, reps=positions)
    summary = GenerationSummary(written, fmt, n_chunks, rows, adjustments, time.perf_counter() - started)
    (out / MANIFEST).write_text(json.dumps(manifest(summary), indent=2) + "\n", encoding="utf-8")
    return summary


def manifest(summary: GenerationSummary) -> dict[str, object]:
    """What `.generator.json` holds: no timings, so the same arguments give the same file."""
    c = summary.config
    return {
        "generator": "compscore.generator",
        "planted_truth": "compscore.generator.planted",
        "arguments": {
            "reps": c.reps,
            "quarters": c.quarters,
            "seed": c.seed,
            "start": c.start.isoformat(),
            "reps_per_chunk": c.reps_per_chunk,
            "format": summary.fmt,
        },
        "command": (
            f"compscore generate --out DIR --reps {c.reps} --quarters {c.quarters} --seed {c.seed} "
            f"--start {c.start.isoformat()} --reps-per-chunk {c.reps_per_chunk} --format {summary.fmt}"
        ),
        "end_date": c.end_date.isoformat(),
        "chunks": summary.chunks,
        "rows": summary.rows,
        "adjustment_lines": summary.adjustment_lines,
    }
