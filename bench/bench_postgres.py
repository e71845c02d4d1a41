"""Writing readings to PostgreSQL: the postgres sink's COPY against executemany.

Each method stores the same readings, in batches, into its own fresh copy of the
sink's schema (so every method pays for the same primary key and index):

* ``sink COPY``: ``PostgresSink.write`` -- binary COPY into a temporary table, then
  ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` (idempotent on replay);
* ``executemany upsert``: psycopg 3 ``executemany`` of ``INSERT ... ON CONFLICT DO
  NOTHING`` (the same guarantee, row by row; psycopg pipelines it);
* ``executemany plain``: ``executemany`` of a plain ``INSERT`` (no replay guarantee).

Run: ``python bench/bench_postgres.py [--rows N] [--batch N] [--repeats N] [--json]``.
Prints rows/s (median over the repeats; methods take turns within each repeat) and
the ratios of the sink to each executemany peer.  Needs PostgreSQL at 127.0.0.1:5432
(database ``test``, trust auth) or ``--dsn``; bounded to a few seconds.
"""

import argparse
import json
import platform
import random
import statistics
import sys
import time
import uuid

import psycopg

from hromada import Reading
from hromada_plugins.sinks.postgres import PostgresSink, reading_rows


class _City:
    name = "bench"


def make_readings(n, seed=1):
    rng = random.Random(seed)
    out = []
    quantities = ("temperature_1", "relative_humidity_2", "barometric_pressure_3", "voltage_4")
    units = ("Cel", "%RH", "hPa", "V")
    t0 = 1780261200.0
    for i in range(n // 4):
        dev = f"70b3d57ed{i % 1000:07x}"
        t = t0 + (i // 1000) * 900 + rng.random()
        for q, u in zip(quantities, units, strict=True):
            out.append(Reading(dev, t, q, round(rng.uniform(0, 1000), 1), u))
    return out


def batches(items, size):
    return [items[i:i + size] for i in range(0, len(items), size)]


def fresh_sink(dsn):
    sink = PostgresSink("bench", {"dsn": dsn, "schema": f"hromada_bench_{uuid.uuid4().hex[:8]}"},
                        _City())
    sink.open()
    return sink


def drop(sink):
    with sink.conn.cursor() as cur:
        cur.execute(f"DROP SCHEMA {sink.schema} CASCADE")
    sink.conn.commit()
    sink.close()


def run_copy(dsn, parts):
    sink = fresh_sink(dsn)
    try:
        start = time.perf_counter()
        for part in parts:
            sink.write(part, [])
        return time.perf_counter() - start, sink.rows_written
    finally:
        drop(sink)


def run_executemany(dsn, parts, upsert):
    sink = fresh_sink(dsn)
    conflict = " ON CONFLICT DO NOTHING" if upsert else ""
    query = (f"INSERT INTO {sink.schema}.readings (device, time, quantity, value, value_text,"
             f" unit) VALUES (%s, %s, %s, %s, %s, %s){conflict}")
    try:
        start = time.perf_counter()
        for part in parts:
            with sink.conn.cursor() as cur:
                cur.executemany(query, list(reading_rows(part)))
            sink.conn.commit()
        elapsed = time.perf_counter() - start
        with sink.conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {sink.schema}.readings")
            stored = cur.fetchone()[0]
        return elapsed, stored
    finally:
        drop(sink)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dsn", default="host=127.0.0.1 port=5432 dbname=test user=postgres")
    ap.add_argument("--rows", type=int, default=40_000)
    ap.add_argument("--batch", type=int, default=4096, help="readings per write")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        psycopg.connect(args.dsn, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL not reachable: {str(exc).strip()}", file=sys.stderr)
        return 2
    readings = make_readings(args.rows)
    parts = batches(readings, args.batch)
    methods = {
        "sink COPY": lambda: run_copy(args.dsn, parts),
        "executemany upsert": lambda: run_executemany(args.dsn, parts, True),
        "executemany plain": lambda: run_executemany(args.dsn, parts, False),
    }
    rates = {name: [] for name in methods}
    for _ in range(args.repeats):
        for name, fn in methods.items():
            elapsed, stored = fn()
            assert stored == len(readings), f"{name} stored {stored} of {len(readings)}"
            rates[name].append(len(readings) / elapsed)
    result = {
        "rows": len(readings), "batch": args.batch, "repeats": args.repeats,
        "rows_per_s": {n: statistics.median(r) for n, r in rates.items()},
        "ratios": {
            f"sink COPY/{peer}": statistics.median(
                c / p for c, p in zip(rates["sink COPY"], rates[peer], strict=True))
            for peer in ("executemany upsert", "executemany plain")},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"PostgreSQL writes of {len(readings):,} readings in batches of {args.batch}, "
          f"median of {args.repeats}; Python {platform.python_version()}, psycopg "
          f"{psycopg.__version__}")
    for name, rate in result["rows_per_s"].items():
        print(f"  {name:<20} {rate:>12,.0f} rows/s")
    for name, ratio in result["ratios"].items():
        print(f"  {name:<38} {ratio:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
