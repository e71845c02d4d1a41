"""The embedded default sink: SQLite in WAL mode, batched writes.

Schema (version 2)::

    devices  (id TEXT PRIMARY KEY, model TEXT, name TEXT, lat REAL, lon REAL,
              district TEXT, tags TEXT)                 -- tags comma-separated
    readings (device TEXT, time REAL, quantity TEXT, value, unit TEXT)
              -- time: POSIX seconds UTC; value keeps its type (REAL, INTEGER, TEXT;
              -- an integer beyond 64 bits is stored as its decimal text)
              -- UNIQUE (device, time, quantity): a replayed frame stores nothing new
    events   (time REAL, kind TEXT, severity TEXT, device TEXT, source TEXT, data TEXT)
              -- data: JSON object
    meta     (key TEXT PRIMARY KEY, value TEXT)        -- schema_version, city

The unique index on readings(device, time, quantity) makes writes idempotent, as in the
postgres sink (the first value stored for a key stays), and serves the usual "one device
over time" query.  A version-1 database (no unique index) is migrated on open: rows
repeating an earlier row's key are removed, then the index is built.
"""

from __future__ import annotations

import json
import sqlite3

import hromada
from hromada import Option, SinkType

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY, model TEXT NOT NULL, name TEXT, lat REAL, lon REAL,
    district TEXT, tags TEXT);
CREATE TABLE IF NOT EXISTS readings (
    device TEXT NOT NULL, time REAL NOT NULL, quantity TEXT NOT NULL, value, unit TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS readings_key ON readings (device, time, quantity);
CREATE TABLE IF NOT EXISTS events (
    time REAL, kind TEXT NOT NULL, severity TEXT NOT NULL, device TEXT, source TEXT,
    data TEXT);
"""


def _value(v):
    # SQLite keeps int/float/str natively; anything else is stored as JSON text.
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int) and not -(2**63) <= v < 2**63:
        return str(v)  # beyond SQLite's INTEGER: kept exact, as text
    if isinstance(v, int | float | str) or v is None:
        return v
    if isinstance(v, bytes):
        return v.hex()
    return json.dumps(v, default=str)


class SQLiteSink:
    def __init__(self, name, options, city):
        self.name = name
        self.path = options["path"]
        self.city_name = city.name if city is not None else ""
        self.synchronous = options["synchronous"]
        self.db = None

    def open(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={self.synchronous}")
        self._migrate()
        self.db.executescript(SCHEMA)
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),))
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('city', ?)", (self.city_name,))
        self.db.commit()

    def _migrate(self):
        db = self.db
        row = None
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or int(row[0]) >= SCHEMA_VERSION:
            return
        if int(row[0]) == 1:
            # Version 1 appended readings: keep the first row of each key, as version 2
            # would have.
            with db:
                db.execute("DELETE FROM readings WHERE rowid NOT IN (SELECT min(rowid) FROM "
                           "readings GROUP BY device, time, quantity)")
                db.execute("DROP INDEX IF EXISTS readings_device_time")

    def add_devices(self, devices):
        self.db.executemany(
            "INSERT OR REPLACE INTO devices VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(d.id, d.model, d.name, d.lat, d.lon, d.district, ",".join(d.tags))
             for d in devices])
        self.db.commit()

    def write(self, readings, events):
        db = self.db
        if readings:
            db.executemany(
                "INSERT OR IGNORE INTO readings VALUES (?, ?, ?, ?, ?)",
                [(r.device, r.time, r.quantity, _value(r.value), r.unit) for r in readings])
        if events:
            db.executemany(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
                [(e.time, e.kind, e.severity, e.device, e.source,
                  json.dumps(dict(e.data), default=str)) for e in events])
        db.commit()

    def close(self):
        if self.db is not None:
            self.db.close()
            self.db = None


@hromada.hookimpl
def hromada_sinks():
    return [
        SinkType(
            name="sqlite",
            factory=SQLiteSink,
            help="Embedded SQLite database (WAL, batched writes): devices, readings, events.",
            options=(
                Option("path", "path", default="city.db",
                       help="database file, relative to the city file"),
                Option("synchronous", "str", default="NORMAL",
                       choices=("OFF", "NORMAL", "FULL"),
                       help="SQLite synchronous pragma (NORMAL is safe with WAL)"),
            ),
        )
    ]
