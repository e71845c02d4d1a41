"""The mqtt sink against the real Mosquitto: readings and events republished on their
topics, JSON or msgpack, acknowledged with QoS 1."""

import json
import time

import msgpack
import pytest
from nethelpers import DEV_A, LPP_A, LPP_B, CityRun, Collector, run, uid, write_city

from conftest import need_service
from hromada import Event, Reading
from hromada.options import validate_options
from hromada_plugins.sinks.mqtt import MqttSink, hromada_sinks

# Frames from a local source, so that the expected messages are exact.
PLUGIN = '''
import hromada
from hromada import Event, Option, SourceType

class Fixed:
    def __init__(self, name, options, city):
        self.frames = options["frames"]
    async def run(self, ctx):
        await ctx.put([ctx.pack(bytes.fromhex(p), network="test", device=d, fport=1, time=t)
                       for d, p, t in self.frames])
        ctx.emit(Event("test.done", "info", None, 9.0, {"frames": len(self.frames)}, ctx.name))

@hromada.hookimpl
def hromada_sources():
    return [SourceType("fixed", Fixed, (Option("frames", "list"),))]
'''


def city_body(root, **sink):
    opts = "".join(f"{k} = {json.dumps(v)}\n" for k, v in sink.items())
    return f"""
[sources.fixed]
plugin = "fixed"
frames = [["{DEV_A}", "{LPP_A.hex()}", 100.5], ["{DEV_A}", "{LPP_B.hex()}", 160.5]]

[sinks.bus]
plugin = "mqtt"
url = "mqtt://127.0.0.1:1883"
reading_topic = "{root}/{{city}}/{{device}}/{{quantity}}"
event_topic = "{root}/{{city}}/events/{{kind}}"
{opts}
"""


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_readings_and_events_are_republished(tmp_path, fmt):
    need_service("mosquitto")
    root = f"hromada-test/{uid()}"
    path = write_city(tmp_path, city_body(root, format=fmt), plugin=PLUGIN,
                      name="Net/ville")

    async def main():
        async with Collector(f"{root}/#") as bus:
            async with CityRun(path) as city:
                summary = await city.task
            got = await bus.wait(4)
        return got, summary

    got, summary = run(main())
    assert summary["errors"] == 0 and summary["sinks"] == {"bus": 3}
    load = json.loads if fmt == "json" else msgpack.unpackb
    messages = sorted(((t, load(p)) for t, p in got), key=lambda m: (m[0], m[1]["time"]))
    # '/' in a value would add a topic level: it becomes '_'
    assert messages == [
        (f"{root}/Net_ville/{DEV_A}/relative_humidity_2",
         {"device": DEV_A, "time": 100.5, "quantity": "relative_humidity_2", "value": 40.0,
          "unit": "%RH"}),
        (f"{root}/Net_ville/{DEV_A}/temperature_1",
         {"device": DEV_A, "time": 100.5, "quantity": "temperature_1", "value": 21.5,
          "unit": "Cel"}),
        (f"{root}/Net_ville/{DEV_A}/temperature_1",
         {"device": DEV_A, "time": 160.5, "quantity": "temperature_1", "value": -4.1,
          "unit": "Cel"}),
        (f"{root}/Net_ville/events/test.done",
         {"kind": "test.done", "severity": "info", "device": None, "time": 9.0,
          "source": "fixed", "data": {"frames": 2}}),
    ]


class _City:
    name = "Busville"


def options(**kw):
    """Options as the kernel hands them to the factory (validated, defaults filled)."""
    opts, problems = validate_options(hromada_sinks()[0].options, kw, "sinks.bus")
    assert problems == []
    return opts


def test_direct_writes_wait_for_the_broker_and_nan_becomes_null_in_json():
    need_service("mosquitto")
    root = f"hromada-test/{uid()}"
    sink = MqttSink("bus", options(reading_topic=root + "/{device}/{quantity}/{unit}",
                                   event_topic=root + "/ev/{severity}/{source}",
                                   timeout=5.0), _City())

    async def main():
        import asyncio

        async with Collector(f"{root}/#") as bus:
            await asyncio.to_thread(sink.open)
            await asyncio.to_thread(
                sink.write,
                [Reading("d+1", 1.0, "level", float("nan"), "%"),
                 Reading("d#2", 2.0, "raw", b"\x01\x02", "")],
                [Event("a.b", "critical", "d", 3.0, {"x": float("inf")}, None)])
            got = await bus.wait(3)
            await asyncio.to_thread(sink.close)
        return got

    got = run(main())
    assert sink.published == 3 and sink.dropped == 0
    assert sorted(((t, json.loads(p)) for t, p in got), key=lambda m: m[0]) == [
        (f"{root}/d_1/level/%", {"device": "d+1", "time": 1.0, "quantity": "level",
                                 "value": None, "unit": "%"}),
        (f"{root}/d_2/raw/", {"device": "d#2", "time": 2.0, "quantity": "raw",
                              "value": "0102", "unit": ""}),
        (f"{root}/ev/critical/", {"kind": "a.b", "severity": "critical", "device": "d",
                                  "time": 3.0, "source": None, "data": {"x": None}}),
    ]


def test_templates_are_checked_and_an_absent_broker_is_reported_quickly():
    with pytest.raises(ValueError) as exc:
        MqttSink("bus", options(reading_topic="x/{device}/{room}"), _City())
    assert str(exc.value) == ("sinks.bus.reading_topic: unknown field(s) room in "
                              "'x/{device}/{room}'; allowed: city, device, quantity, unit")
    with pytest.raises(ValueError) as exc:
        MqttSink("bus", options(event_topic="x/+/{kind}"), _City())
    assert str(exc.value) == ("sinks.bus.event_topic: 'x/+/{kind}': a topic to publish to "
                              "has no wildcards")
    with pytest.raises(ValueError) as exc:
        MqttSink("bus", options(url="http://127.0.0.1"), _City())
    assert str(exc.value) == ("sinks.bus.url: http://127.0.0.1 is not a broker URL; use "
                              "mqtt://host:port or mqtts://host:port (TLS)")
    sink = MqttSink("bus", options(url="mqtt://127.0.0.1:1", timeout=0.3,
                                   password="pw-secret"), _City())
    t0 = time.monotonic()
    with pytest.raises(ConnectionError) as exc:
        sink.open()
    assert time.monotonic() - t0 < 3
    assert str(exc.value) == ("mqtt sink bus: broker mqtt://127.0.0.1:1 did not accept a "
                              "connection within 0.3s")
    assert "pw-secret" not in repr(sink)


def test_nul_in_a_topic_value_and_nan_inside_a_list_do_not_poison_the_sink():
    # MQTT forbids U+0000 in topic names: Mosquitto drops the connection, and paho would
    # send the same message again on every reconnection.
    need_service("mosquitto")
    root = f"hromada-test/{uid()}"
    sink = MqttSink("bus", options(reading_topic=root + "/{device}/{quantity}", timeout=3.0),
                    _City())

    async def main():
        import asyncio

        async with Collector(f"{root}/#") as bus:
            await asyncio.to_thread(sink.open)
            try:
                for batch in ([Reading("a\x00b", 1.0, "q\ud800", 1, "")],
                              [Reading("d", 2.0, "levels", [1.5, float("nan")], "")],
                              [Reading("ok", 3.0, "q", 2, "")]):
                    await asyncio.to_thread(sink.write, batch, [])
                got = await bus.wait(3)
            finally:
                await asyncio.to_thread(sink.close)
        return got

    got = run(main())
    assert [(t, json.loads(p)["value"]) for t, p in got] == [
        (f"{root}/a_b/q_", 1), (f"{root}/d/levels", [1.5, None]), (f"{root}/ok/q", 2)]
    assert sink.published == 3
