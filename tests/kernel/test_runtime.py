"""Running cities end to end: real asyncio loop, real SQLite, real signals."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from hromada.city import load_city
from hromada.runtime import run_city

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"

# A local plugin (loaded through [plugins] modules) with a source that sends known
# frames, a service that fails on purpose and sends a command, and lifecycle hooks.
PLUGIN = '''
import json, pathlib
import hromada
from hromada import Command, DeviceModel, Event, ServiceType, SourceType, Option

LOG = pathlib.Path(__file__).with_name("hooks.log")
UNLUCKY = True

def decode(payload, fport, options):
    if len(payload) != 2:
        raise hromada.DecodeError(f"expected 2 bytes, got {len(payload)}", offset=0)
    return [("count", int.from_bytes(payload, "big"), "count")]

def encode_downlink(action, options):
    return 9, bytes([action["dim"]])

class Fixed:
    sent = []
    def __init__(self, name, options, city):
        self.frames = options["frames"]
    async def run(self, ctx):
        await ctx.put([ctx.pack(bytes.fromhex(p), network="test", device=d, fport=1, time=t)
                       for d, p, t in self.frames])
    async def send(self, command):
        LOG.open("a").write(json.dumps(["send", command.device, command.fport,
                                        command.payload.hex()]) + "\\n")

class Flaky:
    def __init__(self, name, options, city):
        self.calls = 0
        self.seen = 0
    def process(self, readings, ctx):
        self.calls += 1
        self.seen += len(readings)
        for r in readings:
            if r.value == 13 and UNLUCKY:
                raise RuntimeError("unlucky reading")
            if r.value == 40:
                ctx.command(Command(r.device, action={"dim": 40}))
                ctx.emit(Event("test.dim", "info", r.device, r.time, {"level": 40}))
    def summary(self):
        return {"seen": self.seen}

@hromada.hookimpl
def hromada_device_models():
    return [DeviceModel(id="test/counter", family="generic", decode=decode,
                        encode_downlink=encode_downlink)]

@hromada.hookimpl
def hromada_sources():
    return [SourceType("fixed", Fixed, (Option("frames", "list"),), downlinks=True)]

@hromada.hookimpl
def hromada_services():
    return [ServiceType("flaky", Flaky, events=("test.dim",))]

@hromada.hookimpl
def hromada_startup(city):
    LOG.open("a").write(json.dumps(["startup", city.name]) + "\\n")

@hromada.hookimpl
def hromada_shutdown(city, summary):
    LOG.open("a").write(json.dumps(["shutdown", summary["frames"]]) + "\\n")
'''

CITY = """
[city]
name = "Pluginville"

[plugins]
modules = ["localplug.py"]

[sources.fixed]
plugin = "fixed"
frames = [
  ["aa01", "0001", 100.0],
  ["aa02", "0028", 101.0],
  ["aa01", "000d", 102.0],
  ["aa01", "ff", 103.0],
  ["bb99", "0001", 104.0],
  ["bb99", "0002", 105.0],
  ["aa02", "0005", 106.0],
]

[services.flaky]
plugin = "flaky"

[sinks.db]
plugin = "sqlite"
path = "out.db"

[[devices]]
id = "AA01"
model = "test/counter"

[[devices]]
id = "aa02"
model = "test/counter"
"""


def rows(db, sql):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_quickstart_city_stores_every_reading(tmp_path):
    for name in ("city.toml", "devices.csv"):
        shutil.copy(QUICKSTART / name, tmp_path / name)
    summary = run_city(load_city(tmp_path / "city.toml"))
    # 300 devices, one uplink each 15 min for a day, 4 LPP values each
    assert summary["frames"] == 300 * 96
    assert summary["readings"] == 300 * 96 * 4
    assert summary["errors"] == 0 and summary["errors_by_kind"] == {}
    assert summary["ring"]["pushed"] == summary["ring"]["popped"] == 300 * 96
    assert set(summary) >= {"frames", "readings", "events", "errors", "seconds"}
    db = tmp_path / "quickstart.db"
    assert rows(db, "select count(*) from readings") == [(300 * 96 * 4,)]
    assert rows(db, "select count(*) from devices") == [(300,)]
    assert rows(db, "select distinct quantity, unit from readings order by 1") == [
        ("barometric_pressure_3", "hPa"), ("relative_humidity_2", "%RH"),
        ("temperature_1", "Cel"), ("voltage_4", "V")]
    # simulated time: 2026-06-01 00:00 Europe/Kyiv (UTC+3) for one day
    lo, hi = rows(db, "select min(time), max(time) from readings")[0]
    assert 1780261200 <= lo < hi < 1780261200 + 86400


def test_failures_are_isolated_counted_and_reported(tmp_path):
    (tmp_path / "localplug.py").write_text(PLUGIN)
    (tmp_path / "city.toml").write_text(CITY)
    summary = run_city(load_city(tmp_path / "city.toml"))
    assert summary["frames"] == 7
    # 0001, 0028, 000d, 0005 decode; ff is truncated; bb99 is not a city device
    assert summary["readings"] == 4
    assert summary["errors_by_kind"] == {"decode": 1, "unknown_device": 2, "plugin": 1}
    assert summary["errors"] == 4
    assert summary["commands"] == 1
    db = tmp_path / "out.db"
    assert rows(db, "select device, time, quantity, value, unit from readings order by time") == [
        ("aa01", 100.0, "count", 1, "count"), ("aa02", 101.0, "count", 40, "count"),
        ("aa01", 102.0, "count", 13, "count"), ("aa02", 106.0, "count", 5, "count")]
    events = rows(db, "select kind, device, source, data from events order by kind")
    kinds = [e[0] for e in events]
    assert kinds == ["decode.error", "device.unknown", "plugin.error", "test.dim"]
    decode_err = json.loads(events[0][3])
    assert decode_err["message"] == "test/counter: expected 2 bytes, got 1 at byte 0"
    assert (decode_err["payload"], events[0][1], events[0][2]) == ("ff", "aa01", "fixed")
    assert events[1][1] == "bb99"  # reported once, though two frames came
    assert json.loads(events[2][3])["message"].startswith(
        "service flaky: RuntimeError: unlucky reading")
    # the command for the dim reading went back through the source that heard the device
    log = [json.loads(line) for line in (tmp_path / "hooks.log").read_text().splitlines()]
    assert log == [["startup", "Pluginville"], ["send", "aa02", 9, "28"], ["shutdown", 7]]


def test_service_events_reach_the_sinks(tmp_path):
    plugin = PLUGIN.replace("UNLUCKY = True", "UNLUCKY = False")
    (tmp_path / "localplug.py").write_text(plugin)
    (tmp_path / "city.toml").write_text(CITY)
    summary = run_city(load_city(tmp_path / "city.toml"))
    assert summary["services"] == {"flaky": {"seen": 4}}
    assert rows(tmp_path / "out.db", "select kind, severity, device, source, data from events "
                                     "where kind = 'test.dim'") == [
        ("test.dim", "info", "aa02", "flaky", '{"level": 40}')]


def test_sigterm_stops_cleanly_and_loses_nothing(tmp_path):
    for name in ("city.toml", "devices.csv"):
        shutil.copy(QUICKSTART / name, tmp_path / name)
    city = (tmp_path / "city.toml").read_text()
    # one simulated hour per real second: far from done when the signal comes
    (tmp_path / "city.toml").write_text(city.replace("speed = 0 ", "speed = 3600 "))
    proc = subprocess.Popen(
        [sys.executable, "-m", "hromada", "run", "city.toml", "--summary-json", "s.json"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stderr.readline().startswith(b"running Quickstart")
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    summary = json.loads((tmp_path / "s.json").read_text())
    assert 0 < summary["frames"] < 300 * 96
    assert summary["readings"] == summary["frames"] * 4
    assert summary["errors"] == 0
    assert rows(tmp_path / "quickstart.db", "select count(*) from readings") == [
        (summary["readings"],)]


def test_a_failing_lifecycle_hook_is_reported_and_the_city_runs(tmp_path):
    plugin = PLUGIN.replace(
        'LOG.open("a").write(json.dumps(["startup", city.name]) + "\\n")',
        'raise KeyError("no such district")')
    (tmp_path / "localplug.py").write_text(plugin.replace("UNLUCKY = True", "UNLUCKY = False"))
    (tmp_path / "city.toml").write_text(CITY)
    summary = run_city(load_city(tmp_path / "city.toml"))
    assert summary["readings"] == 4
    assert summary["errors_by_kind"] == {"decode": 1, "unknown_device": 2, "plugin": 1}
    [(data,)] = rows(tmp_path / "out.db", "select data from events where kind = 'plugin.error'")
    assert json.loads(data)["message"] == (
        "plugin localplug: hromada_startup raised KeyError: 'no such district'")


def test_a_second_signal_forces_the_stop_of_a_hung_city(tmp_path):
    (tmp_path / "stuck.py").write_text(textwrap.dedent('''
        import time
        import hromada
        from hromada import SinkType

        class Stuck:
            def __init__(self, name, options, city): pass
            def open(self): pass
            def write(self, readings, events):
                time.sleep(3600)  # a database that never answers
            def close(self): pass

        @hromada.hookimpl
        def hromada_sinks():
            return [SinkType("stuck", Stuck)]
        '''))
    for name in ("city.toml", "devices.csv"):
        shutil.copy(QUICKSTART / name, tmp_path / name)
    city = (tmp_path / "city.toml").read_text().replace('plugin = "sqlite"', 'plugin = "stuck"')
    city = city.replace('path = "quickstart.db"', "").replace(
        "[sources.sim]", '[plugins]\nmodules = ["stuck.py"]\n\n[sources.sim]')
    (tmp_path / "city.toml").write_text(city)
    proc = subprocess.Popen([sys.executable, "-m", "hromada", "run", "city.toml"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stderr.readline().startswith(b"running Quickstart")
    time.sleep(1.5)  # the sink is stuck in its first write by now
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert proc.poll() is None  # the first signal waits for the sink
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "second SIGTERM: stopping now" in err.decode()


def test_a_frame_submitted_after_stop_is_refused_and_counted(tmp_path):
    import asyncio

    from hromada.runtime import Kernel

    for name in ("city.toml", "devices.csv"):
        shutil.copy(QUICKSTART / name, tmp_path / name)
    kernel = Kernel(load_city(tmp_path / "city.toml"))
    from hromada.runtime import SourceContext

    async def main():
        ctx = SourceContext(kernel, "late")
        kernel.aring.close()
        return ctx.submit(b"\x01\x67\x00\xff", network="sim", device="70b3d57ed0000000")

    assert asyncio.run(main()) is False
    assert dict(kernel.errors) == {"after_stop": 1}
    assert kernel.frames == 0


def test_sqlite_sink_keeps_values_of_every_type(tmp_path):
    from hromada import Event, Reading
    from hromada_plugins.sinks.sqlite import SQLiteSink

    sink = SQLiteSink("db", {"path": tmp_path / "v.db", "synchronous": "NORMAL"}, None)
    sink.open()
    sink.write([Reading("d", 1.0, "a", True, "bool"), Reading("d", 2.0, "b", 2**70, ""),
                Reading("d", 3.0, "c", "on", ""), Reading("d", 4.0, "e", 1.5, "m3"),
                Reading("d", 5.0, "f", b"\x01\xff", "")],
               [Event("x.y", "info", "d", 6.0, {"k": [1, 2]})])
    sink.close()
    assert rows(tmp_path / "v.db", "select quantity, value, typeof(value) from readings") == [
        ("a", 1, "integer"), ("b", str(2**70), "text"), ("c", "on", "text"),
        ("e", 1.5, "real"), ("f", "01ff", "text")]
    assert rows(tmp_path / "v.db", "select kind, data from events") == [("x.y", '{"k": [1, 2]}')]
