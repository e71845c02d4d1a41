"""The coap source with a real aiocoap client on loopback: SenML JSON/CBOR, opaque
payloads, answers 2.04 / 4.00 / 4.04 / 4.15 with their diagnostics."""

import asyncio
import json
import time

import pytest
from ingest_kit import RunningCity, coap_post, rows

from hromada import senml
from hromada_plugins.sources.coap import base_name_candidates

pytest.importorskip("aiocoap", reason="the coap source needs hromada[coap] (aiocoap)")

PLUGIN = '''
import hromada
from hromada import DeviceModel

def decode(payload, fport, options):
    if len(payload) != 2:
        raise hromada.DecodeError(f"expected 2 bytes, got {len(payload)}", offset=0)
    return [("temperature", int.from_bytes(payload, "big", signed=True) / 10, "Cel")]

@hromada.hookimpl
def hromada_device_models():
    return [DeviceModel(id="test/opaque", family="climate", decode=decode,
                        quantities={"temperature": "Cel"}, network="nbiot")]
'''

CITY = """
[city]
name = "Coapville"

[plugins]
modules = ["coapplug.py"]

[kernel]
max_latency = 0.01

[sources.coap]
plugin = "coap"
bind = "127.0.0.1:0"

[sinks.db]
plugin = "sqlite"
path = "coap.db"

[[devices]]
id = "lamp-7"
model = "senml/json"

[[devices]]
id = "356938035643809"
model = "senml/cbor"

[[devices]]
id = "sensor-9"
model = "test/opaque"
"""

LAMP = [{"bn": "/3416/0/", "n": "3", "v": 40}, {"n": "46", "v": 37.5},
        {"n": "5", "vb": False}, {"bn": "/3/0/", "n": "9", "v": 88}]
METER = [{"bn": "urn:dev:imei:356938035643809:", "bt": 1_760_000_000, "n": "3424/0/1",
          "v": 1234.5}, {"n": "3424/0/1", "t": 3600, "v": 1235.25},
         {"n": "3424/0/11", "t": 3600, "vb": True}]


async def _run(tmp_path):
    (tmp_path / "coapplug.py").write_text(PLUGIN)
    (tmp_path / "city.toml").write_text(CITY)
    city = await RunningCity(tmp_path / "city.toml").start()
    port = city.source("coap").address[1]
    answers = {}
    try:
        answers["json"] = await coap_post(port, "/d/lamp-7", senml.dumps(LAMP), 110)
        answers["cbor-base-name"] = await coap_post(port, "/d", senml.dumps(METER, "cbor"), 112)
        answers["opaque"] = await coap_post(port, "/d/sensor-9", bytes.fromhex("00d7"), 42)
        answers["opaque-put"] = await coap_post(port, "/d/SENSOR-9", bytes.fromhex("ff9c"),
                                                method="PUT")
        answers["bad-senml"] = await coap_post(port, "/d/lamp-7", b'[{"n":"5700","v":"x"}]',
                                               110)
        answers["unknown"] = await coap_post(port, "/d/lamp-8", senml.dumps(LAMP), 110)
        answers["unknown-urn"] = await coap_post(
            port, "/d", senml.dumps([{"bn": "urn:dev:imei:1111:", "n": "x", "v": 1}]), 110)
        answers["format"] = await coap_post(port, "/d/lamp-7", b"{}", 50)
        answers["wrong-senml"] = await coap_post(port, "/d/lamp-7", senml.dumps(LAMP, "cbor"),
                                                 112)
        answers["no-device"] = await coap_post(port, "/d", bytes.fromhex("00d7"), 42)
        answers["path"] = await coap_post(port, "/sensors/lamp-7", senml.dumps(LAMP), 110)
        answers["get"] = await coap_post(port, "/d/lamp-7", b"", method="GET")
    finally:
        summary = await city.stop()
    return answers, summary


def test_coap_requests_become_readings(tmp_path):
    t0 = time.time()
    answers, summary = asyncio.run(_run(tmp_path))
    assert answers.pop("get")[0] == "4.05 Method Not Allowed"  # aiocoap answers it
    assert answers == {
        "json": ("2.04 Changed", b""),
        "cbor-base-name": ("2.04 Changed", b""),
        "opaque": ("2.04 Changed", b""),
        "opaque-put": ("2.04 Changed", b""),
        "bad-senml": ("4.00 Bad Request",
                      b"SenML JSON: record 0: 'v' must be a number, not a string"),
        "unknown": ("4.04 Not Found", b"unknown device 'lamp-8'"),
        "unknown-urn": ("4.04 Not Found", b"unknown device '1111' (base name)"),
        "format": ("4.15 Unsupported Content Format",
                   b"content-format 50 is not taken: send SenML JSON (110), SenML CBOR (112) "
                   b"or application/octet-stream (42)"),
        "wrong-senml": ("4.15 Unsupported Content Format",
                        b"device lamp-7 (model senml/json) sends SenML JSON (110), not "
                        b"content-format 112"),
        "no-device": ("4.00 Bad Request", b"an opaque payload needs the device id in the "
                                          b"path: POST to /d/{device_id}"),
        "path": ("4.04 Not Found", b"no resource /sensors/lamp-7; POST to /d/{device_id}"),
    }
    assert summary["frames"] == 4
    assert summary["readings"] == 4 + 3 + 2
    assert summary["errors_by_kind"] == {"malformed": 5, "unknown_device": 2}
    db = tmp_path / "coap.db"
    got = rows(db, "select device, quantity, value, unit from readings "
                   "order by device, time, quantity")
    assert got == [
        ("356938035643809", "volume", 1234.5, "m3"),
        ("356938035643809", "backflow", 1, "bool"),
        ("356938035643809", "volume", 1235.25, "m3"),
        ("lamp-7", "battery", 88, "%EL"), ("lamp-7", "dimming_level", 40, "%"),
        ("lamp-7", "lamp_failure", 0, "bool"), ("lamp-7", "power", 37.5, "W"),
        ("sensor-9", "temperature", 21.5, "Cel"), ("sensor-9", "temperature", -10.0, "Cel")]
    assert rows(db, "select distinct time from readings where device = '356938035643809' "
                    "order by time") == [(1_760_000_000,), (1_760_003_600,)]
    lo, hi = rows(db, "select min(time), max(time) from readings where device != "
                      "'356938035643809'")[0]
    assert t0 <= lo <= hi <= time.time()
    messages = [json.loads(d)["message"] for (d,) in rows(
        db, "select data from events where kind = 'malformed.error' order by time")]
    assert messages[0] == "coap: SenML JSON: record 0: 'v' must be a number, not a string"


def test_base_name_candidates():
    assert base_name_candidates("urn:dev:ow:10e2073a01080063:") == [
        "urn:dev:ow:10e2073a01080063", "10e2073a01080063"]
    assert base_name_candidates("urn:imei:35-209900-176148-1:") == [
        "urn:imei:35-209900-176148-1", "35-209900-176148-1"]
    assert base_name_candidates("Lamp-7/") == ["lamp-7"]
    assert base_name_candidates("/3303/0/") == ["/3303/0"]
    assert base_name_candidates("") == []
