"""Code and data versions, so that the UI's "Unsynced" means something changed.

- `code_version(__file__)`: a hash of the `compscore` package's source and the asset module itself. An
  asset whose code version is unchanged and whose inputs' data versions are unchanged gets the same data
  version when it runs again, so nothing downstream turns Unsynced.
- `frame_version(frame)`: a hash of a table's rows and schema, given as the data version of the raw
  tables (whose input is the source folder, outside Dagster): unchanged files, unchanged versions.
- `file_version(path)`: a hash of a file's bytes, the data version of a raw table whose source Parquet
  file is taken as it is (`assets/raw.py`), where hashing its rows would mean reading them all: unchanged
  file, unchanged version. The same rows written to a file differently (another codec, other row groups)
  get another version, which only marks what is downstream Unsynced once more.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import dagster as dg
import polars as pl

import compscore

_DIGEST_CHARS = 16
_FILE_BLOCK_BYTES = 4 * 2**20


@functools.cache
def _package_digest() -> str:
    digest = hashlib.sha256()
    root = Path(compscore.__file__).parent
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".yaml"}:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def code_version(module_file: str) -> str:
    """The code version of the assets defined in `module_file` (their module plus the core package)."""
    digest = hashlib.sha256(_package_digest().encode())
    digest.update(Path(module_file).read_bytes())
    return digest.hexdigest()[:_DIGEST_CHARS]


def frame_version(frame: pl.DataFrame) -> dg.DataVersion:
    """The data version of a table: its schema, row count and rows, in order."""
    digest = hashlib.sha256(repr(frame.schema).encode())
    digest.update(str(frame.height).encode())
    if frame.height and frame.width:
        digest.update(frame.hash_rows(seed=0).to_numpy().tobytes())
    return dg.DataVersion(digest.hexdigest()[:_DIGEST_CHARS])


def file_version(path: Path) -> dg.DataVersion:
    """The data version of a file: a hash of its bytes, read in blocks (at 18.3M deals, 423 MB, about 0.3 s
    where hashing the rows took 1.3-1.6 s after reading them)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(_FILE_BLOCK_BYTES):
            digest.update(block)
    return dg.DataVersion(digest.hexdigest()[:_DIGEST_CHARS])


def object_version(value: object) -> dg.DataVersion:
    """The data version of a plain value with a deterministic repr (frozen dataclasses, dicts of them)."""
    return dg.DataVersion(hashlib.sha256(repr(value).encode()).hexdigest()[:_DIGEST_CHARS])
