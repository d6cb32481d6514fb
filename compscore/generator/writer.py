"""Append chunk after chunk to one file per canonical table, CSV or Parquet, without holding them all.

`compscore.canonical_io.write_table` writes a whole frame at once; a generated company arrives in chunks,
so this appender keeps one open file per table (a `pyarrow.parquet.ParquetWriter`, or a CSV file written
header first). The files it leaves are the same layout `canonical_io` writes and the loader reads.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from compscore.canonical_io import Format, table_path
from compscore.schema import conform, empty_frame


class TableAppender:
    """Open table files in `directory`; `append(name, frame)` adds rows; `close()` finishes every file."""

    def __init__(self, directory: str | Path, fmt: Format) -> None:
        self.directory = Path(directory)
        self.fmt = fmt
        self.directory.mkdir(parents=True, exist_ok=True)
        self._parquet: dict[str, pq.ParquetWriter] = {}
        self._schemas: dict[str, pa.Schema] = {}
        self._csv_started: set[str] = set()
        self.rows: dict[str, int] = {}

    def append(self, name: str, frame: pl.DataFrame) -> None:
        frame = conform(frame, name).collect()
        path = table_path(self.directory, name, self.fmt)
        self.rows[name] = self.rows.get(name, 0) + frame.height
        if self.fmt == "parquet":
            if name not in self._parquet:
                self._schemas[name] = empty_frame(name).to_arrow().schema
                self._parquet[name] = pq.ParquetWriter(path, self._schemas[name], compression="zstd")
            self._parquet[name].write_table(frame.to_arrow().cast(self._schemas[name]))
            return
        first = name not in self._csv_started
        self._csv_started.add(name)
        with path.open("w" if first else "a", encoding="utf-8", newline="") as handle:
            frame.write_csv(handle, include_header=first, date_format="%Y-%m-%d", null_value="")

    def close(self) -> None:
        for writer in self._parquet.values():
            writer.close()
        self._parquet.clear()

    def __enter__(self) -> TableAppender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
