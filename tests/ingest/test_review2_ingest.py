"""Second review of ingest: LwM2M sums converted like values, LwM2M paths taken from the
end of a name, nbiot-udp sends nothing back to devices the city does not list."""

import asyncio
import json

import pytest
from ingest_kit import RunningCity, UdpClient, eventually, rows

from hromada import Command, senml
from hromada.errors import DecodeError
from hromada_plugins.devices import senml as model
from hromada_plugins.devices.senml import lwm2m


def decode(pack, fmt="json"):
    return model.decode_pack(senml.dumps(pack, fmt), fmt, {})


# -- 1. a sum (s) converts like the value of its record ----------------------------------

@pytest.mark.parametrize("fmt", ["json", "cbor"])
def test_an_lwm2m_sum_is_scaled_like_its_value(fmt):
    # 3416/47 is kWh in the registry, Wh in hromada; 3323/5700 is Pa, stored as hPa
    pack = [{"n": "/3416/0/47", "v": 12.5, "s": 3.5},
            {"n": "/3323/0/5700", "v": 101325, "s": 202650}]
    assert decode(pack, fmt) == [("energy", 12500.0, "Wh"), ("energy_sum", 3500.0, ""),
                                 ("pressure", 1013.25, "hPa"), ("pressure_sum", 2026.5, "")]


def test_an_lwm2m_sum_in_an_explicit_unit_is_converted_like_its_value():
    pack = [{"n": "/3424/0/1", "u": "l", "v": 1500, "s": 7200},
            {"bn": "/3331/0/", "n": "5700", "v": 2, "s": 4}, {"n": "5701", "vs": "kWh"}]
    assert decode(pack) == [("volume", 1.5, "m3"), ("volume_sum", 7.2, ""),
                            ("energy", 2000, "Wh"), ("energy_sum", 4000, "")]


def test_a_sum_without_a_value_is_converted_too():
    pack = [{"n": "/3331/0/5700", "u": "kWh", "s": 2}, {"n": "/3416/0/47", "s": 0.5}]
    assert decode(pack) == [("energy_sum", 2000, ""), ("energy_sum", 500.0, "")]


def test_a_sum_whose_conversion_has_an_offset_is_refused():
    # K -> Cel subtracts 273.15 from a value; the integral of a value over a time the pack
    # does not give cannot be shifted the same way
    with pytest.raises(DecodeError) as exc:
        decode([{"n": "/3303/0/5700", "u": "K", "v": 300.15, "s": 3001.5}])
    assert str(exc.value) == ("record 0 (/3303/0/5700): the sum (s) cannot be converted from "
                              "K to Cel: the conversion has an offset, and the time the sum "
                              "covers is unknown")
    assert exc.value.field == "s"


def test_sums_without_a_conversion_stay_as_they_came():
    pack = [{"n": "/3328/0/5700", "v": 1500, "s": 3_600_000},
            {"n": "/3424/0/1", "u": "m3", "v": 2.5, "s": 9},
            {"n": "heater", "u": "kWh", "v": 1, "s": 60}]
    assert decode(pack) == [("power", 1500, "W"), ("power_sum", 3_600_000, "J"),
                            ("volume", 2.5, "m3"), ("volume_sum", 9, ""),
                            ("heater", 1, "kWh"), ("heater_sum", 60, "")]


# -- 2. the object/instance/resource path is the end of the name --------------------------

@pytest.mark.parametrize("name, expected", [
    ("urn:dev:imei:123/3303/0/5700", (3303, 0, 5700, None)),
    ("urn:dev:imei:123:3303/0/5700", (3303, 0, 5700, None)),
    ("dev/1/2/3/3303/0/5700", (3303, 0, 5700, None)),
    ("meter/12/3303/0/5700", (3303, 0, 5700, None)),
    ("site:1/2/3/3424/0/1", (3424, 0, 1, None)),
    ("/3303/0/5700", (3303, 0, 5700, None)),
    ("3303/0/5700", (3303, 0, 5700, None)),
    # a resource instance: four numbers that are the whole path
    ("/3/0/7/1", (3, 0, 7, 1)),
    ("3/0/7/1", (3, 0, 7, 1)),
    ("urn:dev:imei:123/3/0/7/1", (3, 0, 7, 1)),
    ("urn:dev:mac:0024befffe804ff1:3/0/7/2", (3, 0, 7, 2)),
    ("gw:3/0/7/1", (3, 0, 7, 1)),
    ("urn:dev:imei:123", None),
    ("3303/0", None),
    ("temp", None),
])
def test_the_lwm2m_path_is_taken_from_the_end_of_the_name(name, expected):
    assert lwm2m.path(name) == expected


def test_a_base_name_with_a_numeric_device_id_and_an_object_path():
    pack = [{"bn": "urn:dev:imei:123/3303/0/", "n": "5700", "v": 21.5},
            {"n": "5701", "vs": "K"},
            {"bn": "dev/1/2/3/3424/1/", "n": "1", "v": 7.25},
            {"n": "dev/1/2/3/3303/2/5700", "bn": "", "v": 4}]
    out = decode(pack)
    # the 5701 of 3303/0 (not of a made-up object 123) sets the unit: K, converted to Cel
    assert out[0][:1] == ("temperature",) and out[0][2] == "Cel"
    assert out[0][1] == pytest.approx(-251.65, abs=1e-9)
    assert out[1:] == [("volume_1", 7.25, "m3"), ("temperature_2", 4, "Cel")]


# -- 3. nbiot-udp: no reply to a device the city does not list ---------------------------

IMEI = "356938035643809"
IMEI_BCD = bytes.fromhex("0356938035643809")
OTHER = "490154203237518"
OTHER_BCD = bytes.fromhex("0490154203237518")

PLUGIN = '''
import hromada
from hromada import DeviceModel

def decode_volume(payload, fport, options):
    return [("volume", int.from_bytes(payload, "big") / 1000, "m3")]

@hromada.hookimpl
def hromada_device_models():
    return [DeviceModel(id="test/nbmeter2", family="water_meter", decode=decode_volume,
                        quantities={"volume": "m3"}, network="nbiot")]
'''

CITY = """
[city]
name = "Nbville"

[plugins]
modules = ["nbplug2.py"]

[kernel]
max_latency = 0.01

[sources.nb]
plugin = "nbiot-udp"
bind = "127.0.0.1:0"
identity = { offset = 0, length = 8, format = "bcd", digits = 15 }
sequence = { offset = 8, length = 2 }
ack = "aa"
ack_echo = "sequence"

[sinks.db]
plugin = "sqlite"
path = "nb.db"

[[devices]]
id = "356938035643809"
model = "test/nbmeter2"
"""


def uplink(imei_bcd, seq, liters):
    return imei_bcd + seq.to_bytes(2, "big") + liters.to_bytes(4, "big")


async def _unknown_identity(tmp_path):
    (tmp_path / "nbplug2.py").write_text(PLUGIN)
    (tmp_path / "city.toml").write_text(CITY)
    city = await RunningCity(tmp_path / "city.toml").start()
    src = city.source("nb")
    dev = await UdpClient.open(src.address)
    try:
        dev.send(uplink(IMEI_BCD, 1, 1000))
        assert await dev.reply() == bytes.fromhex("aa0001")     # a city device: acked
        # a downlink queued for the unknown id must not go out either
        await src.send(Command(OTHER, payload=b"\xa0\x0f"))
        for seq in (1, 2, 2):                                   # incl. a retransmission
            dev.send(uplink(OTHER_BCD, seq, 5))
        await eventually(lambda: src.stats["datagrams"] == 4, "all datagrams")
        await dev.no_reply()
        stats = dict(src.stats)
        port = dev.port
    finally:
        dev.close()
        summary = await city.stop()
    return summary, stats, port


def test_nbiot_sends_nothing_back_to_an_unknown_identity(tmp_path):
    summary, stats, port = asyncio.run(_unknown_identity(tmp_path))
    assert stats == {"datagrams": 4, "frames": 1, "replies": 1, "unknown_device": 3,
                     "downlinks_queued": 1}
    assert summary["frames"] == 1 and summary["readings"] == 1
    assert summary["errors_by_kind"] == {"unknown_device": 3}
    events = rows(tmp_path / "nb.db", "select kind, severity, device, source, data "
                                      "from events order by time")
    assert [e[:4] for e in events] == [("device.unknown", "warning", OTHER, "nb")]
    assert json.loads(events[0][4]) == {
        "message": f"nb: datagram from 127.0.0.1:{port} names device '{OTHER}', which is "
                   "not in the city's device list: no reply sent",
        "network": "nbiot"}
