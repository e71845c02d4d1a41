"""The city's state database: what sources and services keep between runs.

One SQLite file per city, ``{state_dir}/state.db`` (WAL), with one table::

    CREATE TABLE state (
        owner   TEXT NOT NULL,   -- "source:gw", "service:leaks"
        key     TEXT NOT NULL,   -- chosen by the owner, e.g. "device/0004a30b001c0530"
        value   BLOB NOT NULL,   -- msgpack, as the owner wrote it
        updated REAL NOT NULL,   -- Unix time of the last write
        PRIMARY KEY (owner, key)
    ) WITHOUT ROWID

Each :meth:`StateScope.write` is one transaction, so a crash leaves either the old or
the new values, never half a write; owners write only the keys that changed (a LoRaWAN
source with 100,000 devices writes the few whose counters moved).  The kernel opens the
database when a city starts and gives each source and service its scope as
``ctx.state``; nothing here ever holds a key or secret, by the owners' contract.

Writes may come from worker threads (a source saving off the event loop): one lock
serialises every use of the connection.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path

FILENAME = "state.db"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (
    owner   TEXT NOT NULL,
    key     TEXT NOT NULL,
    value   BLOB NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (owner, key)
) WITHOUT ROWID
"""


class StateError(Exception):
    """The state database cannot be opened, read or written; the message names it."""


class StateDB:
    """The city's state database at ``path`` (created with its directory when missing)."""

    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False,
                                       isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"cannot open the city's state database {self.path}: "
                             f"{exc}") from None

    def scope(self, owner: str) -> StateScope:
        """The keys of one owner ("source:NAME", "service:NAME")."""
        return StateScope(self, owner)

    def owners(self) -> dict[str, int]:
        """owner -> number of keys."""
        return dict(self._run(lambda db: db.execute(
            "SELECT owner, count(*) FROM state GROUP BY owner ORDER BY owner").fetchall()))

    def summary(self) -> dict[str, dict]:
        """owner -> {"keys", "bytes", "updated"} (values are not shown)."""
        rows = self._run(lambda db: db.execute(
            "SELECT owner, count(*), sum(length(value)), max(updated) FROM state "
            "GROUP BY owner ORDER BY owner").fetchall())
        return {o: {"keys": n, "bytes": b, "updated": u} for o, n, b, u in rows}

    def forget(self, owner: str) -> int:
        """Delete every key of ``owner``; how many there were."""
        def txn(db):
            with db:
                db.execute("BEGIN")
                return db.execute("DELETE FROM state WHERE owner = ?", (owner,)).rowcount

        return self._run(txn)

    def close(self):
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _run(self, fn):
        with self._lock:
            if self._db is None:
                raise StateError(f"the city's state database {self.path} is closed")
            try:
                return fn(self._db)
            except sqlite3.Error as exc:
                raise StateError(f"the city's state database {self.path}: {exc}") from None


class StateScope:
    """One owner's keys in the city's state database (values are bytes)."""

    def __init__(self, db: StateDB, owner: str):
        self.db = db
        self.owner = owner

    def __repr__(self):
        return f"StateScope({str(self.db.path)!r}, {self.owner!r})"

    def load(self) -> dict[str, bytes]:
        """Every key of this owner with its value."""
        rows = self.db._run(lambda db: db.execute(
            "SELECT key, value FROM state WHERE owner = ?", (self.owner,)).fetchall())
        return {k: bytes(v) for k, v in rows}

    def get(self, key: str) -> bytes | None:
        row = self.db._run(lambda db: db.execute(
            "SELECT value FROM state WHERE owner = ? AND key = ?",
            (self.owner, key)).fetchone())
        return None if row is None else bytes(row[0])

    def write(self, changes: Mapping[str, bytes | None]):
        """Set (bytes) or delete (None) keys, all in one transaction."""
        if not changes:
            return
        now = time.time()
        upserts = [(self.owner, k, v, now) for k, v in changes.items() if v is not None]
        deletes = [(self.owner, k) for k, v in changes.items() if v is None]

        def txn(db):
            with db:  # BEGIN ... COMMIT, or ROLLBACK on an error
                db.execute("BEGIN")
                if upserts:
                    db.executemany(
                        "INSERT INTO state (owner, key, value, updated) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (owner, key) DO UPDATE SET value = excluded.value, "
                        "updated = excluded.updated", upserts)
                if deletes:
                    db.executemany("DELETE FROM state WHERE owner = ? AND key = ?", deletes)

        self.db._run(txn)

    def put(self, key: str, value: bytes):
        self.write({key: value})

    def rename(self, key: str, new_key: str):
        """Move a value to another key (replacing it), e.g. to keep a damaged one aside."""
        def txn(db):
            with db:
                db.execute("BEGIN")
                db.execute("DELETE FROM state WHERE owner = ? AND key = ?",
                           (self.owner, new_key))
                db.execute("UPDATE state SET key = ? WHERE owner = ? AND key = ?",
                           (new_key, self.owner, key))

        self.db._run(txn)
