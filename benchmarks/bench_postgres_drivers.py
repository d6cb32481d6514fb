"""Read a deals-shaped PostgreSQL table into Polars with each driver and print the timings.

Creates a scratch database on the server named by COMPSCORE_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), fills a table of `--rows` deals with `generate_series`,
reads it back `--repeat` times per driver and prints the median wall time and the peak resident memory
growth, then drops the database. Each driver runs in its own subprocess so memory figures do not mix.

    python benchmarks/bench_postgres_drivers.py --rows 1000000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
QUERY = "SELECT * FROM deals"
DRIVERS = ("adbc", "connectorx", "psycopg_cursor", "psycopg_copy_csv")

FILL_SQL = """
CREATE TABLE deals AS
SELECT 'D' || g::text AS deal_id,
       'A' || (g %% 50000)::text AS account_id,
       'R' || (g %% 400)::text AS owner_rep_id,
       (ARRAY['new_business','expansion','renewal'])[1 + g %% 3] AS deal_type,
       (ARRAY['open','won','lost'])[1 + g %% 3] AS stage,
       (g %% 100000)::float8 * 1.5 AS amount,
       12::bigint AS term_months,
       ((g %% 30)::float8 / 100) AS discount_pct,
       DATE '2024-01-01' + (g %% 700) AS created_date,
       DATE '2024-01-01' + (g %% 700) + 30 AS close_date,
       (ARRAY['Web','Partner Referral',NULL])[1 + g %% 3] AS lead_source,
       NULL::text AS referral_id
FROM generate_series(1, %(rows)s) AS g
"""


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def read_once(driver: str, url: str) -> tuple[float, int]:
    """Read the table once with `driver`; return (seconds, rows)."""
    import polars as pl

    start = time.perf_counter()
    if driver in ("adbc", "connectorx"):
        df = pl.read_database_uri(QUERY, url, engine=driver)
    elif driver == "psycopg_cursor":
        import psycopg

        with psycopg.connect(url) as conn:
            df = pl.read_database(QUERY, conn, infer_schema_length=None)
    elif driver == "psycopg_copy_csv":
        import io

        import psycopg

        buf = io.BytesIO()
        copy_sql = f"COPY ({QUERY}) TO STDOUT WITH (FORMAT csv, HEADER)"
        with psycopg.connect(url) as conn, conn.cursor() as cur, cur.copy(copy_sql) as copy:
            for block in copy:
                buf.write(block)
        buf.seek(0)
        df = pl.read_csv(buf, try_parse_dates=True)
    else:
        raise ValueError(f"unknown driver {driver!r}")
    return time.perf_counter() - start, df.height


def _child(driver: str, url: str, repeat: int) -> None:
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times, rows = [], 0
    for _ in range(repeat):
        seconds, rows = read_once(driver, url)
        times.append(seconds)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"driver": driver, "times": times, "rows": rows, "peak_mb": (peak - before) / 1024}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.url, args.repeat)
        return 0

    import psycopg

    admin_url = os.environ.get("COMPSCORE_POSTGRES_URL", DEFAULT_URL)
    db = f"compscore_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    url = _with_database(admin_url, db)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(FILL_SQL, {"rows": args.rows})
            conn.execute("ANALYZE deals")
        print(f"{args.rows:,} rows x 12 columns, median of {args.repeat} reads, one process per driver")
        print(f"{'driver':<18} {'median s':>9} {'min s':>7} {'peak RSS growth MB':>19}")
        for driver in DRIVERS:
            cmd = [sys.executable, __file__, "--child", driver, "--url", url, "--repeat", str(args.repeat)]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{driver:<18} failed: {out.stderr.strip().splitlines()[-1]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            assert r["rows"] == args.rows, r
            median = statistics.median(r["times"])
            print(f"{driver:<18} {median:>9.2f} {min(r['times']):>7.2f} {r['peak_mb']:>19.0f}")
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
