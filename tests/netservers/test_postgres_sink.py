"""The postgres sink against the real PostgreSQL: same rows as SQLite, idempotent on
replay, schema created and migrated, reconnects, secrets kept out of messages."""

import asyncio
import math
import sqlite3

import psycopg
import pytest
from nethelpers import PG_DSN, CityRun, run, uid, write_city

from conftest import need_service
from hromada import Device, Event, Reading
from hromada_plugins.sinks import postgres
from hromada_plugins.sinks.postgres import PostgresSink, split_value


class _City:
    name = "Pgville"


@pytest.fixture
def schema():
    need_service("postgres")
    name = f"hromada_test_{uid()}"
    yield name
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def pg(query, params=()):
    with psycopg.connect(PG_DSN) as conn:
        return conn.execute(query, params).fetchall()


def sink(schema, **opts):
    return PostgresSink("db", {"dsn": PG_DSN, "schema": schema, **opts}, _City())


SIM_CITY = """
[sources.sim]
plugin = "simulator"
start = "2026-06-01T00:00:00"
span = "6h"
interval = "15min"

[sinks.lite]
plugin = "sqlite"
path = "out.db"

[sinks.pg]
plugin = "postgres"
dsn = "{dsn}"
schema = "{schema}"
"""

DEVICES = [(f"70b3d57ed00000{i:02x}", "cayenne/lpp", f'name = "climate-{i}"',
            'tags = ["lamp-post", "climate"]') for i in range(12)]


def test_postgres_stores_the_same_rows_as_sqlite_and_replay_stores_them_once(
        tmp_path, schema):
    path = write_city(tmp_path, SIM_CITY.format(dsn=PG_DSN, schema=schema), devices=DEVICES)

    async def once():
        async with CityRun(path) as city:
            summary = await asyncio.wait_for(city.task, 20)
            return summary, city.kernel.sinks["pg"]

    first, pg_sink = run(once())
    assert first["errors"] == 0
    n = 12 * 24 * 4  # 12 sensors, 24 uplinks in 6 h, 4 LPP values each
    assert first["readings"] == n and first["sinks"] == {"lite": n, "pg": n}
    assert (pg_sink.rows_written, pg_sink.rows_ignored) == (n, 0)
    with sqlite3.connect(tmp_path / "out.db") as conn:
        lite = conn.execute("select device, time, quantity, value, unit from readings "
                            "order by 1, 2, 3").fetchall()
        lite_devices = conn.execute("select * from devices order by id").fetchall()
    pg_rows = pg(f"select device, time, quantity, value, unit from {schema}.readings "
                 "order by 1, 2, 3")
    assert len(lite) == n
    assert pg_rows == lite  # exact: ids, float times and values, units
    assert pg(f"select * from {schema}.devices order by id") == lite_devices
    assert pg(f"select count(*) from {schema}.readings where value_text is not null") == [(0,)]
    # the timestamp column is the same instant (to its microsecond resolution)
    assert pg(f"select count(*) from {schema}.readings "
              "where abs(extract(epoch from at)::float8 - time) > 0.000001") == [(0,)]
    assert pg(f"select key, value from {schema}.meta order by key") == [
        ("city", "Netville"), ("schema_version", "1")]

    # the same frames again (same simulator seed): nothing new is stored
    second, pg_sink = run(once())
    assert second["readings"] == n
    assert (pg_sink.rows_written, pg_sink.rows_ignored) == (0, n)
    assert pg(f"select count(*) from {schema}.readings") == [(n,)]


def test_values_of_every_kind_keep_their_meaning(schema):
    s = sink(schema)
    s.open()
    big = 2**60 + 1
    values = [21.5, 7, True, False, "open", b"\x01\xff", None, float("inf"), big,
              {"a": 1}, -0.0]
    s.write([Reading("d1", 100.0 + i, "q", v, "u") for i, v in enumerate(values)], [])
    s.close()
    got = pg(f"select value, value_text from {schema}.readings order by time")
    assert got == [(21.5, None), (7.0, None), (1.0, None), (0.0, None), (None, "open"),
                   (None, "01ff"), (None, None), (math.inf, None), (float(big), str(big)),
                   (None, '{"a": 1}'), (-0.0, None)]
    assert [split_value(v) for v in values] == got


def test_same_batch_twice_and_duplicates_within_a_batch_are_stored_once(schema):
    s = sink(schema)
    s.open()
    batch = [Reading("d1", 1.0, "temperature", 20.0, "Cel"),
             Reading("d1", 1.0, "humidity", 50, "%RH"),
             Reading("d1", 1.0, "temperature", 20.0, "Cel")]
    s.write(batch, [Event("x.y", "info", "d1", 1.0, {"n": 1})])
    s.write(batch, [])
    s.close()
    assert (s.rows_written, s.rows_ignored) == (2, 4)
    assert pg(f"select device, time, quantity, value, unit from {schema}.readings "
              "order by quantity") == [("d1", 1.0, "humidity", 50.0, "%RH"),
                                       ("d1", 1.0, "temperature", 20.0, "Cel")]
    assert pg(f"select time, kind, severity, device, source, data from {schema}.events") == [
        (1.0, "x.y", "info", "d1", None, {"n": 1})]


def test_events_with_odd_data_are_stored(schema):
    s = sink(schema)
    s.open()
    s.write([], [Event("a.b", "warning", None, 5.0, {"nan": float("nan"), "raw": b"\x01",
                                                     "nested": {"t": (1, 2)}}, "svc")])
    s.close()
    assert pg(f"select kind, device, source, data from {schema}.events") == [
        ("a.b", None, "svc", {"nan": "nan", "raw": "b'\\x01'", "nested": {"t": [1, 2]}})]


def test_schema_is_migrated_and_a_newer_one_refused(schema):
    # version 0: the schema exists (made by hand) with a partial table set
    pg_exec = psycopg.connect(PG_DSN, autocommit=True)
    with pg_exec:
        pg_exec.execute(f"CREATE SCHEMA {schema}")
        pg_exec.execute(f"CREATE TABLE {schema}.meta (key text PRIMARY KEY, value text)")
    s = sink(schema)
    s.open()
    assert s.version_found == 0
    s.add_devices([Device("aa01", "cayenne/lpp", name="n", tags=("x", "y"))])
    s.add_devices([Device("aa01", "cayenne/lpp", name="renamed", lat=48.5)])
    s.close()
    assert pg(f"select * from {schema}.devices") == [
        ("aa01", "cayenne/lpp", "renamed", 48.5, None, None, "")]
    s = sink(schema)
    s.open()  # already current: nothing to do
    assert s.version_found == 1
    s.close()
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"UPDATE {schema}.meta SET value = '99' WHERE key = 'schema_version'")
    s = sink(schema)
    with pytest.raises(RuntimeError) as exc:
        s.open()
    s.close()
    assert str(exc.value) == (f"sink db: schema {schema} has version 99, newer than this "
                              "hromada's 1; upgrade hromada or use another schema")


def test_a_lost_connection_is_reopened_and_the_batch_written(schema):
    s = sink(schema)
    s.open()
    s.write([Reading("d1", 1.0, "q", 1, "")], [])
    pid = s.conn.info.backend_pid
    pg("select pg_terminate_backend(%s)", (pid,))
    s.write([Reading("d1", 2.0, "q", 2, "")], [])
    assert s.conn.info.backend_pid != pid
    s.close()
    assert pg(f"select time, value from {schema}.readings order by time") == [
        (1.0, 1.0), (2.0, 2.0)]


def test_bad_options_and_unreachable_server_name_no_secret(monkeypatch):
    with pytest.raises(ValueError) as exc:
        PostgresSink("db", {"dsn": "", "schema": "Bad-Name"}, _City())
    assert str(exc.value) == ("sinks.db.schema: 'Bad-Name' is not a plain schema name "
                              "(lowercase letters, digits and _, at most 63)")
    s = PostgresSink("db", {"dsn": "host=127.0.0.1 port=1 dbname=test user=postgres "
                                   "password=hunter2 connect_timeout=2",
                            "schema": "x"}, _City())
    with pytest.raises(ConnectionError) as exc:
        s.open()
    assert str(exc.value).startswith("sink db: cannot connect to PostgreSQL: ")
    assert "hunter2" not in str(exc.value) and "hunter2" not in repr(s)
    monkeypatch.setenv("HROMADA_TEST_DSN", "host=127.0.0.1 port=1")
    assert PostgresSink("db", {"dsn": "env:HROMADA_TEST_DSN", "schema": "x"},
                        _City())._dsn == "host=127.0.0.1 port=1"
    monkeypatch.delenv("HROMADA_TEST_DSN")
    with pytest.raises(ValueError) as exc:
        PostgresSink("db", {"dsn": "env:HROMADA_TEST_DSN", "schema": "x"}, _City())
    assert str(exc.value) == ("environment variable HROMADA_TEST_DSN (named by the dsn "
                              "option) is not set")


def test_check_validates_the_sink_options():
    sinks = {t.name: t for t in postgres.hromada_sinks()}
    opts = {o.name: o for o in sinks["postgres"].options}
    assert opts["dsn"].secret and opts["schema"].default == "hromada"


def test_text_postgres_cannot_hold_and_huge_integers_do_not_cost_the_batch(schema):
    # PostgreSQL text holds neither NUL nor lone surrogates; SQLite holds both.  They
    # become U+FFFD, and the other readings of the batch are stored as they are.
    s = sink(schema)
    s.open()
    s.write([Reading("d\x00", 1.0, "q\ud800", "a\x00b", "u\x00"),
             Reading("d1", 2.0, "big", 10**400, ""),
             Reading("d1", 3.0, "small", -(10**400), ""),
             Reading("d1", 4.0, "ok", 1.5, "m")],
            [Event("a.b", "info", "d\x00", 5.0, {"s\x00": ["x\x00", "\udfff"]}, "svc")])
    s.close()
    assert pg(f"select device, time, quantity, value, value_text, unit from {schema}.readings"
              " order by time") == [
        ("d\ufffd", 1.0, "q\ufffd", None, "a\ufffdb", "u\ufffd"),
        ("d1", 2.0, "big", math.inf, "1" + "0" * 400, ""),
        ("d1", 3.0, "small", -math.inf, "-1" + "0" * 400, ""),
        ("d1", 4.0, "ok", 1.5, None, "m")]
    assert pg(f"select device, data from {schema}.events") == [
        ("d\ufffd", {"s\ufffd": ["x\ufffd", "\ufffd"]})]


def test_a_malformed_dsn_is_refused_without_repeating_it():
    for dsn in ("host=127.0.0.1 password=top secret", "host=127.0.0.1 passwrd=secret",
                "postgresql://u:pa secret@127.0.0.1:5432/test"):
        s = PostgresSink("db", {"dsn": dsn, "schema": "x"}, _City())
        with pytest.raises(ValueError) as exc:
            s.open()
        assert str(exc.value) == ("sink db: the dsn is not a libpq connection string or "
                                  "URI (not shown here: it may hold a password)")
        assert exc.value.__cause__ is None and exc.value.__suppress_context__
