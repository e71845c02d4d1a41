"""The ``postgres`` sink: readings, events and devices in PostgreSQL (psycopg 3).

The tables are those of the ``sqlite`` sink, in their own schema (option ``schema``),
created or migrated when the sink opens.  Schema version 1::

    meta     (key text PRIMARY KEY, value text)          -- schema_version, city
    devices  (id text PRIMARY KEY, model text NOT NULL, name text,
              lat double precision, lon double precision, district text, tags text)
    readings (device text COLLATE "C" NOT NULL, time double precision NOT NULL,
              quantity text COLLATE "C" NOT NULL, value double precision,
              value_text text, unit text,
              at timestamptz GENERATED ALWAYS AS (to_timestamp(time)) STORED,
              PRIMARY KEY (device, time, quantity))
    events   (time double precision, kind text NOT NULL, severity text NOT NULL,
              device text, source text, data jsonb)

``time`` is POSIX seconds (UTC), exactly as the kernel and SQLite have it; ``at`` is
the same instant as a timestamp for SQL and dashboards (indexed).  Device ids and
quantities compare bytewise (``COLLATE "C"``), as in SQLite, which also keeps the
primary key cheap to maintain.  A reading's value goes to ``value`` when it is a
number (bool as 1/0, like SQLite) and to ``value_text`` otherwise (text as is, bytes
as hex, anything else as JSON); an integer too large for a double keeps its exact
digits in ``value_text`` as well (``value`` is then the nearest double, infinity past
the largest).  Text PostgreSQL cannot hold (NUL, lone surrogates) is stored with U+FFFD
in their place, in every text column and in event data.

Writes are batched: each batch is copied (``COPY ... FROM STDIN``, binary) into a
temporary table and inserted with ``ON CONFLICT DO NOTHING`` on the primary key, so a
frame replayed after a restart stores its readings once.  Events have no natural key
and are appended.  A lost connection is re-opened once per batch (safe: the readings
are idempotent).
"""

from __future__ import annotations

import json
import logging
import math
import re

import hromada
from hromada import Option, SinkType

try:
    import psycopg
    from psycopg import sql
    from psycopg.types.json import set_json_dumps
except ImportError:
    raise ImportError("the postgres sink needs psycopg 3, which is not installed: "
                      "pip install 'hromada[postgres]'") from None

log = logging.getLogger("hromada.postgres")

SCHEMA_VERSION = 1
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_EXACT = 1 << 53
# What PostgreSQL text (UTF-8) cannot hold: NUL, and lone surrogates (from JSON escapes).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

# One list of statements per version: version N's list migrates N-1 to N.
MIGRATIONS = {
    1: [
        "CREATE TABLE IF NOT EXISTS {s}.meta (key text PRIMARY KEY, value text)",
        """CREATE TABLE IF NOT EXISTS {s}.devices (
               id text PRIMARY KEY, model text NOT NULL, name text,
               lat double precision, lon double precision, district text, tags text)""",
        """CREATE TABLE IF NOT EXISTS {s}.readings (
               device text COLLATE "C" NOT NULL, time double precision NOT NULL,
               quantity text COLLATE "C" NOT NULL, value double precision, value_text text,
               unit text,
               at timestamptz GENERATED ALWAYS AS (to_timestamp(time)) STORED,
               PRIMARY KEY (device, time, quantity))""",
        "CREATE INDEX IF NOT EXISTS readings_at ON {s}.readings (at)",
        """CREATE TABLE IF NOT EXISTS {s}.events (
               time double precision, kind text NOT NULL, severity text NOT NULL,
               device text, source text, data jsonb)""",
        "CREATE INDEX IF NOT EXISTS events_time ON {s}.events (time)",
    ],
}

READING_COLUMNS = ("device", "time", "quantity", "value", "value_text", "unit")
READING_TYPES = ("text", "float8", "text", "float8", "text", "text")
EVENT_COLUMNS = ("time", "kind", "severity", "device", "source", "data")
EVENT_TYPES = ("float8", "text", "text", "text", "text", "jsonb")


def split_value(v):
    """A reading's value as (value, value_text) for the two columns."""
    if isinstance(v, bool):
        return (1.0 if v else 0.0), None
    if isinstance(v, int):
        if -_EXACT <= v <= _EXACT:
            return float(v), None
        try:
            approx = float(v)
        except OverflowError:  # past the largest double: the nearest is infinity
            approx = math.inf if v > 0 else -math.inf
        return approx, str(v)
    if isinstance(v, float):
        return v, None
    if v is None:
        return None, None
    if isinstance(v, str):
        return None, v
    if isinstance(v, bytes | bytearray):
        return None, bytes(v).hex()
    return None, json.dumps(v, default=str)


def storable(text):
    """``text`` with what PostgreSQL text cannot hold replaced by U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text) if isinstance(text, str) else text


def reading_rows(readings, clean=False):
    for r in readings:
        value, text = split_value(r.value)
        if clean:
            yield (storable(r.device), float(r.time), storable(r.quantity), value,
                   storable(text), storable(r.unit))
        else:
            yield (r.device, float(r.time), r.quantity, value, text, r.unit)


def _json_safe(obj, clean=False):
    # jsonb refuses NaN and infinities; the SQLite sink writes them as JSON text, here
    # they become strings so an event is never lost over one odd number.
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {(storable(str(k)) if clean else str(k)): _json_safe(v, clean)
                for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v, clean) for v in obj]
    if clean and isinstance(obj, str):
        return storable(obj)
    return obj


def event_rows(events, clean=False):
    text = storable if clean else (lambda v: v)
    for e in events:
        data = _json_safe(dict(e.data), clean)
        yield (float(e.time) if e.time is not None else None, text(e.kind),
               text(e.severity), text(e.device), text(e.source), data)


class PostgresSink:
    def __init__(self, name, options, city):
        self.name = name
        self._dsn = _secret(options["dsn"])
        self.schema = options["schema"]
        if not _NAME.match(self.schema):
            raise ValueError(f"sinks.{name}.schema: {self.schema!r} is not a plain schema "
                             "name (lowercase letters, digits and _, at most 63)")
        self.city_name = city.name if city is not None else ""
        self.conn = None
        self.rows_written = 0
        self.rows_ignored = 0

    def __repr__(self):
        return f"<PostgresSink {self.name} schema={self.schema}>"

    def _q(self, text):
        return sql.SQL(text).format(s=sql.Identifier(self.schema))

    def _connect(self):
        try:
            conn = psycopg.connect(self._dsn, autocommit=False,
                                   application_name=f"hromada {self.name}"[:63])
        except psycopg.ProgrammingError:
            # libpq's parse errors quote the text around the fault, which may be the
            # password (`missing "=" after "secret"`).
            raise ValueError(f"sink {self.name}: the dsn is not a libpq connection string "
                             "or URI (not shown here: it may hold a password)") from None
        except psycopg.OperationalError as exc:
            # libpq's message names host and port, never the password.
            raise ConnectionError(f"sink {self.name}: cannot connect to PostgreSQL: "
                                  f"{str(exc).strip()}") from None
        set_json_dumps(_dumps, context=conn)
        with conn.cursor() as cur:
            cur.execute("CREATE TEMPORARY TABLE hromada_readings_in (device text, time "
                        "float8, quantity text, value float8, value_text text, unit text) "
                        "ON COMMIT DELETE ROWS")
        conn.commit()
        return conn

    def open(self):
        self.conn = self._connect()
        self.migrate()

    def migrate(self):
        """Create the schema, or bring it to SCHEMA_VERSION; refuse a newer one."""
        conn = self.conn
        with conn.cursor() as cur:
            # Two cities starting at once must not both migrate the same schema.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                        (f"hromada schema {self.schema}",))
            cur.execute(self._q("CREATE SCHEMA IF NOT EXISTS {s}"))
            cur.execute("SELECT to_regclass(%s)", (f"{self.schema}.meta",))
            version = 0
            if cur.fetchone()[0] is not None:
                cur.execute(self._q("SELECT value FROM {s}.meta WHERE key = "
                                    "'schema_version'"))
                row = cur.fetchone()
                version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                conn.rollback()
                raise RuntimeError(
                    f"sink {self.name}: schema {self.schema} has version {version}, newer "
                    f"than this hromada's {SCHEMA_VERSION}; upgrade hromada or use another "
                    "schema")
            for v in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[v]:
                    cur.execute(self._q(statement))
            cur.execute(self._q("INSERT INTO {s}.meta VALUES ('schema_version', %s), "
                                "('city', %s) ON CONFLICT (key) DO UPDATE SET value = "
                                "excluded.value"), (str(SCHEMA_VERSION), self.city_name))
        conn.commit()
        self.version_found = version

    def add_devices(self, devices):
        rows = [(d.id, d.model, d.name, d.lat, d.lon, d.district, ",".join(d.tags))
                for d in devices]
        with self.conn.cursor() as cur:
            cur.executemany(self._q(
                "INSERT INTO {s}.devices VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET model = excluded.model, name = excluded.name, "
                "lat = excluded.lat, lon = excluded.lon, district = excluded.district, "
                "tags = excluded.tags"), rows)
        self.conn.commit()

    def write(self, readings, events):
        try:
            self._write_checked(readings, events)
        except psycopg.OperationalError as exc:
            # The server went away (restart, failover): reconnect once and write the
            # batch again; readings are idempotent, the events were rolled back.
            log.warning("sink %s: PostgreSQL connection lost (%s); reconnecting",
                        self.name, str(exc).strip())
            self._close_quietly()
            self.conn = self._connect()
            self._write_checked(readings, events)

    def _write_checked(self, readings, events):
        try:
            self._write(readings, events)
        except (psycopg.DataError, UnicodeEncodeError):
            # Text PostgreSQL cannot hold (NUL, a lone surrogate) is rare: the batch is
            # cleaned only then, and written again (it was rolled back).
            self._write(readings, events, clean=True)

    def _write(self, readings, events, clean=False):
        conn = self.conn
        try:
            with conn.cursor() as cur:
                if readings:
                    with cur.copy("COPY hromada_readings_in (device, time, quantity, value, "
                                  "value_text, unit) FROM STDIN (FORMAT BINARY)") as copy:
                        copy.set_types(READING_TYPES)
                        write_row = copy.write_row
                        for row in reading_rows(readings, clean):
                            write_row(row)
                    cur.execute(self._q(
                        "INSERT INTO {s}.readings (device, time, quantity, value, value_text,"
                        " unit) SELECT device, time, quantity, value, value_text, unit FROM "
                        "hromada_readings_in ON CONFLICT DO NOTHING"))
                    stored = cur.rowcount
                    self.rows_written += stored
                    self.rows_ignored += len(readings) - stored
                if events:
                    with cur.copy(self._q("COPY {s}.events (time, kind, severity, device, "
                                          "source, data) FROM STDIN (FORMAT BINARY)")) as copy:
                        copy.set_types(EVENT_TYPES)
                        for row in event_rows(events, clean):
                            copy.write_row(row)
            conn.commit()
        except BaseException:
            if not conn.closed:
                try:
                    conn.rollback()
                except psycopg.Error:
                    pass  # the original error is the one to report
            raise

    def _close_quietly(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg.Error:
                pass
            self.conn = None

    def close(self):
        self._close_quietly()


def _dumps(obj):
    return json.dumps(obj, default=str)


def _secret(value):
    if isinstance(value, str) and value.startswith("env:"):
        import os

        name = value[4:]
        if name not in os.environ:
            raise ValueError(f"environment variable {name} (named by the dsn option) is "
                             "not set")
        return os.environ[name]
    return value


@hromada.hookimpl
def hromada_sinks():
    return [
        SinkType(
            name="postgres",
            factory=PostgresSink,
            help="PostgreSQL (psycopg 3): the sqlite sink's tables in a schema, batched "
                 "COPY, idempotent on replay.",
            options=(
                Option("dsn", "str", default="", secret=True,
                       help="libpq connection string or URI (empty: the PG* environment "
                            "variables); 'env:NAME' reads it from the environment"),
                Option("schema", "str", default="hromada",
                       help="schema of the tables (created if missing)"),
            ),
        )
    ]
