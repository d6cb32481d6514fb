"""A fresh PostgreSQL database per test (the machine's server, 127.0.0.1:5432, trust auth), dropped after;
tests using it skip with the reason when the server or the driver is absent."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

ADMIN_URL = os.environ.get("COMPSCORE_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def execute(url: str, *statements: str) -> None:
    dbapi = pytest.importorskip(
        "adbc_driver_postgresql.dbapi", reason="adbc-driver-postgresql is not installed"
    )
    with dbapi.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql)


@pytest.fixture
def database_url() -> Iterator[str]:
    """A fresh, uniquely named database, dropped afterwards; skip when the server is unreachable."""
    name = f"compscore_test_{uuid.uuid4().hex[:10]}"
    try:
        execute(ADMIN_URL, f'CREATE DATABASE "{name}"')
    except Exception as exc:  # any connection failure means: no server to test against
        pytest.skip(f"PostgreSQL not reachable at the COMPSCORE_POSTGRES_URL server: {type(exc).__name__}")
    base, _, _ = ADMIN_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        execute(ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
