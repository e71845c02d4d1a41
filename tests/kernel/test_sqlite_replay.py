"""The sqlite sink is idempotent like the postgres sink: a replayed frame, or the same
city run twice, stores each reading once."""

import json
import shutil
import sqlite3
from pathlib import Path

from hromada import Reading
from hromada.cli import main
from hromada_plugins.sinks.sqlite import SQLiteSink

QUICKSTART = Path(__file__).parents[2] / "examples" / "quickstart"


def _sink(path):
    sink = SQLiteSink("db", {"path": path, "synchronous": "NORMAL"}, None)
    sink.open()
    return sink


def _rows(path, sql):
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_the_same_readings_twice_are_stored_once_and_the_first_value_stays(tmp_path):
    sink = _sink(tmp_path / "c.db")
    first = [Reading("aa", 1.0, "temperature", 21.5, "Cel"), Reading("aa", 1.0, "humidity", 40, "%RH")]
    sink.write(first, [])
    sink.write([Reading("aa", 1.0, "temperature", 99.0, "Cel"),
                Reading("aa", 2.0, "temperature", 22.0, "Cel")], [])
    sink.close()
    assert _rows(tmp_path / "c.db", "select device, time, quantity, value from readings "
                                    "order by time, quantity") == [
        ("aa", 1.0, "humidity", 40), ("aa", 1.0, "temperature", 21.5),
        ("aa", 2.0, "temperature", 22.0)]


def test_a_version_1_database_is_migrated(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript("""
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
            INSERT INTO meta VALUES ('schema_version', '1');
            CREATE TABLE readings (device TEXT NOT NULL, time REAL NOT NULL,
                                   quantity TEXT NOT NULL, value, unit TEXT);
            CREATE INDEX readings_device_time ON readings (device, time);
            INSERT INTO readings VALUES ('aa', 1.0, 'temperature', 21.5, 'Cel');
            INSERT INTO readings VALUES ('aa', 1.0, 'temperature', 21.5, 'Cel');
            INSERT INTO readings VALUES ('aa', 1.0, 'temperature', 30.0, 'Cel');
            INSERT INTO readings VALUES ('aa', 2.0, 'temperature', 22.0, 'Cel');
        """)
    _sink(path).close()
    assert _rows(path, "select time, value from readings order by rowid") == [
        (1.0, 21.5), (2.0, 22.0)]
    assert _rows(path, "select value from meta where key = 'schema_version'") == [("2",)]
    assert _rows(path, "select name from sqlite_master where type = 'index' and "
                       "tbl_name = 'readings'") == [("readings_key",)]


def test_running_the_quickstart_twice_stores_each_reading_once(tmp_path):
    city = tmp_path / "city"
    shutil.copytree(QUICKSTART, city, ignore=shutil.ignore_patterns(
        ".hromada-state", "*.db", "*.db-*", "summary.json"))
    for run in (1, 2):
        assert main(["run", str(city / "city.toml"), "-q",
                     "--summary-json", str(tmp_path / f"s{run}.json")]) == 0
    summary = json.loads((tmp_path / "s2.json").read_text())
    [db] = city.glob("*.db")
    assert _rows(db, "select count(*) from readings") == [(summary["readings"],)]
