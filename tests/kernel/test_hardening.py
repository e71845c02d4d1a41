"""Defects found in review: each test names what a user would have hit."""

import json
import sqlite3
import textwrap

import msgpack
import pytest

from hromada.city import check_city, load_city
from hromada.cli import main
from hromada.options import parse_duration
from hromada.plugins import PluginHost
from hromada.runtime import run_city
from hromada.state import StateDB

# A local plugin: a source sending fixed frames (with or without downlinks), a codec
# that is lazy or malformed on some payloads, a service with state and commands, a sink
# that always fails.
PLUGIN = '''
import pathlib
import hromada
from hromada import Command, DeviceModel, Event, ServiceType, SinkType, SourceType, Option

LOG = pathlib.Path(__file__).with_name("sent.log")

def decode(payload, fport, options):
    if payload == b"\\xee":  # a lazy codec: the error comes while iterating
        return (_ for _ in ()).throw(hromada.DecodeError("lazy", offset=0))
    if payload == b"\\xbb":  # a codec bug: items of the wrong shape
        return [("count", 1)]
    return [("count", payload[0], "count")]

def encode_downlink(action, options):
    return 9, bytes([action["dim"]])

class Fixed:
    def __init__(self, name, options, city):
        self.frames = options["frames"]
    async def run(self, ctx):
        await ctx.put([ctx.pack(bytes.fromhex(p), network="test", device=d, fport=1, time=t)
                       for d, p, t in self.frames])

class Radio(Fixed):
    async def send(self, command):
        with LOG.open("a") as f:
            f.write(f"{command.device} {command.payload.hex()}\\n")

class Stateful:
    def __init__(self, name, options, city):
        self.seen = 0
    def restore(self, state):
        self.seen = state["seen"]
    def process(self, readings, ctx):
        self.seen += len(readings)
        for r in readings:
            if r.value == 40:
                ctx.command(Command(r.device, action={"dim": 40}))
            if r.value == 41:
                ctx.command({"device": r.device})  # not a Command: a service bug
    def stop(self, ctx):
        if self.seen == 3:
            raise RuntimeError("stop failed")
    def snapshot(self):
        return {"seen": self.seen}
    def summary(self):
        return {"seen": self.seen}

class Broken:
    def __init__(self, name, options, city): pass
    def open(self): pass
    def write(self, readings, events):
        raise OSError("disk full")
    def close(self): pass

class Halfway:
    def __init__(self, name, options, city): pass
    def open(self):
        LOG.with_name("halfway.log").write_text("open\\n")
    def add_devices(self, devices):
        raise RuntimeError("no devices table")
    def write(self, readings, events): pass
    def close(self):
        with LOG.with_name("halfway.log").open("a") as f:
            f.write("close\\n")

@hromada.hookimpl
def hromada_device_models():
    return [DeviceModel(id="test/counter", family="generic", decode=decode,
                        encode_downlink=encode_downlink)]

@hromada.hookimpl
def hromada_sources():
    return [SourceType("fixed", Fixed, (Option("frames", "list"),)),
            SourceType("radio", Radio, (Option("frames", "list"),), downlinks=True)]

@hromada.hookimpl
def hromada_services():
    return [ServiceType("stateful", Stateful)]

@hromada.hookimpl
def hromada_sinks():
    return [SinkType("broken", Broken), SinkType("halfway", Halfway)]
'''

CITY = """
[city]
name = "Reviewville"

[plugins]
modules = ["localplug.py"]

[sources.sim]
plugin = "fixed"
frames = FRAMES

[sources.radio]
plugin = "radio"
frames = []

[services.st]
plugin = "stateful"

[sinks.db]
plugin = "sqlite"
path = "out.db"

[[devices]]
id = "aa01"
model = "test/counter"
"""


def city(tmp_path, frames, extra=""):
    (tmp_path / "localplug.py").write_text(PLUGIN)
    (tmp_path / "city.toml").write_text(CITY.replace("FRAMES", json.dumps(frames)) + extra)
    return load_city(tmp_path / "city.toml")


def rows(db, sql):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_a_codec_failing_while_its_result_is_read_is_isolated(tmp_path):
    # Before: the lazy DecodeError and the 2-item reading escaped decode_batch and
    # killed the run; the good frames after them were never written.
    summary = run_city(city(tmp_path, [["aa01", "ee", 1.0], ["aa01", "bb", 2.0],
                                       ["aa01", "05", 3.0]]))
    assert summary["readings"] == 1
    assert summary["errors_by_kind"] == {"decode": 1, "plugin": 1}
    assert rows(tmp_path / "out.db", "select time, value from readings") == [(3.0, 5)]
    [(data,)] = rows(tmp_path / "out.db", "select data from events where kind='decode.error'")
    assert json.loads(data)["message"] == "test/counter: lazy at byte 0"
    [(data,)] = rows(tmp_path / "out.db", "select data from events where kind='plugin.error'")
    assert json.loads(data)["message"].startswith(
        "device model test/counter: IndexError: tuple index out of range")


def test_a_sink_failing_in_the_last_write_is_reported_to_the_other_sinks(tmp_path):
    # Before: the failure of the final (events-only) write in _stop was counted but its
    # event was never written nor counted in summary["events"].
    c = city(tmp_path, [["aa01", "05", 1.0]],
             extra='\n[sinks.bad]\nplugin = "broken"\n')
    summary = run_city(c)
    # the batch write fails, then the final write of that failure's event fails
    assert summary["errors_by_kind"] == {"plugin": 2}
    stored = rows(tmp_path / "out.db", "select kind, source from events order by rowid")
    assert stored == [("plugin.error", "sink bad"), ("plugin.error", "sink bad")]
    assert summary["events"] == 2
    assert summary["sinks"] == {"db": 1, "bad": 0}


def test_a_corrupt_state_file_is_reported_and_the_service_still_runs(tmp_path):
    # Before: the unpack error dropped the service for the run, and since it was not
    # running no snapshot replaced the bad state: the service was lost on every run.
    c = city(tmp_path, [["aa01", "05", 1.0], ["aa01", "06", 2.0]])
    db = c.state_dir / "state.db"
    with StateDB(db) as state:
        state.scope("service:st").put("snapshot", b"\x82\xa4se")  # a truncated map
    summary = run_city(c)
    assert summary["services"] == {"st": {"seen": 2}}
    assert summary["errors_by_kind"] == {"state": 1}
    [(source, data)] = rows(tmp_path / "out.db",
                            "select source, data from events where kind = 'state.error'")
    assert source == "service st"
    assert json.loads(data)["message"] == (
        f"service st: cannot read its saved state (service:st in {db}): ValueError: Unpack "
        "failed: incomplete input; kept as snapshot.corrupt, starting without it")
    saved = dict(rows(db, "select key, value from state where owner = 'service:st'"))
    assert msgpack.unpackb(saved["snapshot"]) == {"seen": 2}
    assert saved["snapshot.corrupt"] == b"\x82\xa4se"
    # and the next run restores it
    assert run_city(load_city(tmp_path / "city.toml"))["services"] == {"st": {"seen": 4}}


def test_a_failing_service_stop_still_saves_its_state(tmp_path):
    # Before: stop() and snapshot() shared one try: the state of the run was lost.
    c = city(tmp_path, [["aa01", "05", 1.0], ["aa01", "06", 2.0], ["aa01", "07", 3.0]])
    summary = run_city(c)
    assert summary["errors_by_kind"] == {"plugin": 1}
    [(data,)] = rows(tmp_path / "out.db", "select data from events where kind='plugin.error'")
    assert json.loads(data)["message"].startswith("service st: RuntimeError: stop failed")
    [(value,)] = rows(c.state_dir / "state.db", "select value from state where "
                                                "owner = 'service:st' and key = 'snapshot'")
    assert msgpack.unpackb(value) == {"seen": 3}


def test_a_sink_failing_to_add_devices_is_closed_and_idle_sinks_are_summarised(tmp_path):
    # Before: the half-opened sink was dropped without close() (its connection left
    # open), and a sink that wrote nothing was missing from summary["sinks"].
    summary = run_city(city(tmp_path, [], extra='\n[sinks.half]\nplugin = "halfway"\n'))
    assert (tmp_path / "halfway.log").read_text() == "open\nclose\n"
    assert summary["errors_by_kind"] == {"plugin": 1}
    assert summary["sinks"] == {"db": 0}


def test_a_ring_larger_than_the_ring_can_be_is_a_problem(tmp_path):
    (tmp_path / "city.toml").write_text(textwrap.dedent("""
        [city]
        name = "X"
        [kernel]
        ring_bytes = 5_000_000_000
        [sources.sim]
        plugin = "simulator"
        """))
    _, problems = check_city(tmp_path / "city.toml")
    assert [(p.where, p.message) for p in problems] == [
        ("kernel.ring_bytes", "5000000000 is above the maximum 4.29497e+09")]


def test_a_command_goes_only_through_the_source_that_heard_the_device(tmp_path):
    # aa01 was heard by "sim", which has no send(); the "radio" source's network never
    # heard it. Before: the command went out through "radio" anyway.
    summary = run_city(city(tmp_path, [["aa01", "28", 1.0]]))
    assert summary["commands"] == 0
    assert not (tmp_path / "sent.log").exists()
    assert rows(tmp_path / "out.db", "select kind, device, data from events") == [
        ("command.unsent", "aa01", '{"fport": 9, "payload": "28"}')]


def test_a_command_goes_through_the_source_that_heard_the_device(tmp_path):
    c = city(tmp_path, [])
    c.sources["radio"].options["frames"] = [["aa01", "28", 1.0]]
    summary = run_city(c)
    assert summary["commands"] == 1
    assert (tmp_path / "sent.log").read_text() == "aa01 28\n"


def test_a_service_passing_a_non_command_is_isolated(tmp_path):
    # Before: the error handler itself raised AttributeError and killed the decode loop.
    summary = run_city(city(tmp_path, [["aa01", "29", 1.0], ["aa01", "07", 2.0]]))
    assert summary["readings"] == 2
    assert summary["errors_by_kind"] == {"plugin": 1}
    [(data,)] = rows(tmp_path / "out.db", "select data from events where kind='plugin.error'")
    assert json.loads(data)["message"].startswith(
        "command for None: AttributeError: 'dict' object has no attribute 'device'")
    assert rows(tmp_path / "out.db", "select count(*) from readings") == [(2,)]


# -- device lists --------------------------------------------------------------------

CSV_CITY = """
[city]
name = "Csvville"
devices = "devices.csv"

[sources.sim]
plugin = "simulator"
span = "1h"
"""


def test_csv_from_a_spreadsheet_loads(tmp_path):
    # BOM at the start, CRLF line ends, spaces after commas, a blank row ",,," and an
    # empty line: before, the BOM hid the "id" column and the blank row was an error.
    (tmp_path / "city.toml").write_text(CSV_CITY)
    (tmp_path / "devices.csv").write_bytes(
        "\ufeffid, model, name\r\n"
        "70B3D57ED0000001 , cayenne/lpp , climate-1\r\n"
        ",,\r\n"
        "\r\n"
        "70b3d57ed0000002,cayenne/lpp,\r\n".encode())
    c, problems = check_city(tmp_path / "city.toml")
    assert problems == []
    assert [(d.id, d.model, d.name) for d in c.devices.values()] == [
        ("70b3d57ed0000001", "cayenne/lpp", "climate-1"),
        ("70b3d57ed0000002", "cayenne/lpp", None)]


def test_csv_problems_still_name_their_line(tmp_path):
    (tmp_path / "city.toml").write_text(CSV_CITY)
    (tmp_path / "devices.csv").write_bytes(
        b"\xef\xbb\xbfid,model\r\n,,\r\n70b3d57ed0000001,\r\n")
    _, problems = check_city(tmp_path / "city.toml")
    assert [(p.where, p.message) for p in problems] == [
        ("line 3.model", "missing: the device model ('vendor/device'); "
                         "'hromada devices' lists them")]


# -- options -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [-1, -0.5, float("nan"), float("inf")])
def test_a_duration_is_finite_and_not_negative(value):
    with pytest.raises(ValueError, match="is not a duration: it must be a finite number"):
        parse_duration(value)


def test_a_negative_max_latency_is_a_problem_not_a_crash_at_run(tmp_path):
    # Before: check passed, and `hromada run` died in AsyncRing with a traceback.
    (tmp_path / "city.toml").write_text(textwrap.dedent("""
        [city]
        name = "X"
        [kernel]
        max_latency = -1
        [sources.sim]
        plugin = "simulator"
        """))
    _, problems = check_city(tmp_path / "city.toml")
    assert [(p.where, p.message) for p in problems] == [
        ("kernel.max_latency", "-1 is not a duration: it must be a finite number of "
                               "seconds >= 0, or a string like '15min', '1h', '2d'")]


# -- plugins and CLI -----------------------------------------------------------------

BARE = '''
import hromada
from hromada import DeviceModel, SinkType

class S:
    pass

@hromada.hookimpl
def hromada_device_models():
    return DeviceModel(id="bare/one", family="generic", decode=lambda p, f, o: [])

@hromada.hookimpl
def hromada_sinks():
    return [SinkType("s", S)]
'''


def test_a_hook_returning_one_bare_descriptor_is_isolated(tmp_path):
    # Before: iterating the bare descriptor raised TypeError out of PluginHost(), so
    # every hromada command failed.
    (tmp_path / "bare.py").write_text(BARE)
    host = PluginHost(entry_points=False, files=[tmp_path / "bare.py"])
    assert host.errors == [("bare", "hromada_device_models returned DeviceModel, "
                                    "not a list of descriptors")]
    assert "bare/one" not in host.device_models
    assert set(host.sinks) == {"s"}


TIMED = '''
import hromada
from hromada import DeviceModel

def decode(payload, fport, options):
    if payload == b"\\x00":
        raise ZeroDivisionError("oops")
    return [("count", payload[0], "count", 1700000000.0)]

@hromada.hookimpl
def hromada_device_models():
    return [DeviceModel(id="timed/counter", family="generic", decode=decode)]
'''


@pytest.fixture
def timed_host(tmp_path, monkeypatch):
    (tmp_path / "timed.py").write_text(TIMED)
    host = PluginHost(entry_points=False, files=[tmp_path / "timed.py"])
    monkeypatch.setattr("hromada.plugins.get_host", lambda **kw: host)
    monkeypatch.setenv("HROMADA_NO_PLUGIN_COMMANDS", "1")
    return host


def test_decode_cli_shows_readings_with_their_own_time(timed_host, capsys):
    # Before: "too many values to unpack" for a (quantity, value, unit, time) item.
    assert main(["decode", "timed/counter", "07"]) == 0
    assert capsys.readouterr().out == f"{'count':28s} 7 count  at 1700000000.0\n"
    assert main(["decode", "timed/counter", "07", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"quantity": "count", "value": 7, "unit": "count", "time": 1700000000.0}]


def test_decode_cli_reports_a_codec_bug_without_a_traceback(timed_host, capsys):
    assert main(["decode", "timed/counter", "00"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("device model timed/counter failed: ZeroDivisionError: oops (")
    assert "Traceback" not in err


def test_a_service_snapshot_file_of_earlier_versions_is_imported(tmp_path):
    c = city(tmp_path, [["aa01", "05", 1.0], ["aa01", "06", 2.0]])
    c.state_dir.mkdir(parents=True)
    (c.state_dir / "st.msgpack").write_bytes(msgpack.packb({"seen": 40}))
    assert run_city(c)["services"] == {"st": {"seen": 42}}
    assert sorted(p.name for p in c.state_dir.iterdir() if p.name.startswith("st.")) == [
        "st.msgpack.imported"]
    # the next run reads the state database, not the file
    assert run_city(load_city(tmp_path / "city.toml"))["services"] == {"st": {"seen": 44}}
