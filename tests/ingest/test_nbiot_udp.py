"""The nbiot-udp source on real UDP sockets: identity, duplicates, replies, downlinks."""

import asyncio
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ingest_kit import RunningCity, UdpClient, eventually, rows

from hromada import Command
from hromada.errors import ConfigError
from hromada_plugins.sources.nbiot_udp import Field, Header, HeaderError, NbiotUdpSource

IMEI = "356938035643809"
IMEI_BCD = bytes.fromhex("0356938035643809")

PLUGIN = '''
import hromada
from hromada import Command, DeviceModel, Option, ServiceType

def decode_volume(payload, fport, options):
    if len(payload) != 4:
        raise hromada.DecodeError(f"expected 4 bytes, got {len(payload)}", offset=0)
    return [("volume", int.from_bytes(payload, "big") / 1000, "m3")]

def downlink(action, options):
    return 1, bytes([0xA0, action["interval_min"]])

class Reporting:
    """Asks a meter to report every 15 min once it passed 100 m3."""
    def __init__(self, name, options, city):
        self.asked = set()
    def process(self, readings, ctx):
        for r in readings:
            if r.value > 100 and r.device not in self.asked:
                self.asked.add(r.device)
                ctx.command(Command(r.device, action={"interval_min": 15}))

@hromada.hookimpl
def hromada_device_models():
    return [
        DeviceModel(id="test/nbmeter", family="water_meter", decode=decode_volume,
                    encode_downlink=downlink, quantities={"volume": "m3"}, network="nbiot"),
        DeviceModel(id="test/imeimeter", family="water_meter", decode=decode_volume,
                    encode_downlink=downlink, quantities={"volume": "m3"}, network="nbiot",
                    options=(Option("nbiot_identity", "table", default={
                                 "offset": 0, "length": 8, "format": "bcd", "digits": 15}),
                             Option("nbiot_sequence", "table",
                                    default={"offset": 8, "length": 2}))),
    ]

@hromada.hookimpl
def hromada_services():
    return [ServiceType("test-reporting", Reporting)]
'''


def uplink(imei_bcd, seq, liters):
    return imei_bcd + seq.to_bytes(2, "big") + liters.to_bytes(4, "big")


# -- header fields -------------------------------------------------------------------

@pytest.mark.parametrize("fmt, raw, digits, expected", [
    ("bcd", "0356938035643809", 15, IMEI),
    ("bcd", "356938035643809f", None, IMEI),
    ("tbcd", "53968330653408f9", None, IMEI),
    ("hex", "00ABcdEF", None, "00abcdef"),
    ("ascii", "534e2d3030343200", None, "sn-0042"),
    ("uint", "000100", None, "256"),
    ("uint", "01000000", None, "16777216"),
    ("uint", "3039", 8, "00012345"),
])
def test_identity_formats(fmt, raw, digits, expected):
    field = Field(0, len(bytes.fromhex(raw)), fmt, digits)
    assert field.read(bytes.fromhex(raw) + b"rest", "identity") == expected


@pytest.mark.parametrize("field, data, message", [
    (Field(0, 8, "bcd"), bytes(5),
     "datagram of 5 bytes is too short for the identity field (bytes 0-7)"),
    (Field(1, 3, "bcd"), bytes.fromhex("0012a456"),
     "identity field: byte 2 (0xa4) is not BCD"),
    (Field(0, 8, "bcd", 15), bytes.fromhex("1356938035643809"),
     "identity field holds '1356938035643809', not 15 digits"),
    (Field(0, 2, "ascii"), b"\xff\x00", "identity field (bytes 0-1) is not ASCII text"),
    (Field(0, 2, "ascii"), b"\x00 ", "identity field (bytes 0-1) is empty"),
])
def test_identity_errors_say_what_and_where(field, data, message):
    with pytest.raises(HeaderError) as exc:
        field.read(data, "identity")
    assert str(exc.value) == message


def test_header_strips_identity_and_sequence():
    hdr = Header.from_options({"offset": 0, "length": 8, "format": "bcd", "digits": 15},
                              {"offset": 8, "length": 2, "byteorder": "little"}, None,
                              "sources.nb", ("identity", "sequence", "header_length"))
    assert hdr.length == 10
    assert hdr.split(IMEI_BCD + b"\x07\x01" + b"\xde\xad") == (IMEI, 0x0107, b"\xde\xad")


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=24), offset=st.integers(0, 8), length=st.integers(1, 12),
       fmt=st.sampled_from(["bcd", "tbcd", "hex", "ascii", "uint"]),
       digits=st.one_of(st.none(), st.integers(1, 20)))
def test_random_datagrams_only_raise_header_errors(data, offset, length, fmt, digits):
    field = Field(offset, length, fmt, None if fmt in ("hex", "ascii") else digits)
    try:
        text = field.read(data, "identity")
    except HeaderError:
        return
    assert text and text == text.lower()


@pytest.mark.parametrize("options, message", [
    ({"identity": {"offset": 0, "length": 8, "format": "xml"}},
     "sources.nb.identity.format: 'xml' is not one of bcd, tbcd, hex, ascii, uint"),
    ({"identity": {"offset": 0, "length": 0}},
     "sources.nb.identity.length: must be an integer >= 1, not 0"),
    ({"identity": {"offset": 0, "length": 8, "size": 2}},
     "sources.nb.identity: unknown key(s) size; allowed: offset, length, format, digits, "
     "byteorder"),
    ({"identity": {"offset": 0, "length": 8}, "header_length": 4},
     "sources.nb.header_length: must be an integer covering the header fields (>= 8), not 4"),
    ({"sequence": {"offset": 0, "length": 2, "format": "hex"}},
     "sources.nb.sequence.format: a sequence number is \"uint\""),
    ({"bind": "localhost"}, "sources.nb.bind: 'localhost' is not host:port (e.g. \"0.0.0.0:9000\")"),
    ({}, "sources.nb: no way to tell devices apart: set identity (a header field), addresses, "
         "or use device models that declare nbiot_identity"),
    ({"identity": {"offset": 0, "length": 8}, "ack": "xyz"}, "sources.nb.ack: 'xyz' is not hex bytes"),
    ({"identity": {"offset": 0, "length": 8, "format": "hex", "digits": 15}},
     "sources.nb.identity.digits: applies to bcd, tbcd and uint fields, not hex"),
])
def test_bad_options_are_named(options, message):
    opts = {"bind": "127.0.0.1:0", **options}
    with pytest.raises(ValueError) as exc:
        NbiotUdpSource("nb", opts, None)
    assert str(exc.value) == message


# -- a city on loopback ----------------------------------------------------------------

CITY = """
[city]
name = "Nbville"

[plugins]
modules = ["nbplug.py"]

[kernel]
max_latency = 0.01

[sources.nb]
plugin = "nbiot-udp"
bind = "127.0.0.1:0"
identity = {{ offset = 0, length = 8, format = "bcd", digits = 15 }}
sequence = {{ offset = 8, length = 2 }}
ack = "aa"
ack_echo = "sequence"

[sinks.db]
plugin = "sqlite"
path = "nb.db"

[[devices]]
id = "{imei}"
model = "test/nbmeter"
"""


def write_city(tmp_path, text):
    (tmp_path / "nbplug.py").write_text(PLUGIN)
    (tmp_path / "city.toml").write_text(text)
    return tmp_path / "city.toml"


async def _identity_city(tmp_path):
    city = await RunningCity(write_city(tmp_path, CITY.format(imei=IMEI))).start()
    src = city.source("nb")
    dev = await UdpClient.open(src.address)
    t0 = time.time()
    try:
        dev.send(uplink(IMEI_BCD, 1, 123456))
        assert await dev.reply() == bytes.fromhex("aa0001")
        dev.send(uplink(IMEI_BCD, 2, 123500))
        assert await dev.reply() == bytes.fromhex("aa0002")
        # the device missed the ack and sends seq 2 again: dropped, acked again
        dev.send(uplink(IMEI_BCD, 2, 123500))
        assert await dev.reply() == bytes.fromhex("aa0002")
        dev.send(b"\x01\x02\x03")
        await dev.no_reply()
        # a meter the city does not list: reported, and not acked
        dev.send(uplink(bytes.fromhex("0490154203237518"), 1, 1))
        await dev.no_reply()
        await src.send(Command(IMEI, payload=bytes.fromhex("a00f")))
        assert src.pending(IMEI) == 1
        dev.send(uplink(IMEI_BCD, 3, 123600))
        assert await dev.reply() == bytes.fromhex("a00f")  # the downlink instead of the ack
        assert src.pending(IMEI) == 0
        stats = dict(src.stats)
        port = dev.port
    finally:
        dev.close()
        summary = await city.stop()
    return summary, stats, port, t0


def test_identity_header_duplicates_acks_and_downlinks(tmp_path):
    summary, stats, port, t0 = asyncio.run(_identity_city(tmp_path))
    assert summary["frames"] == 3 and summary["readings"] == 3
    assert summary["errors_by_kind"] == {"duplicate": 1, "malformed": 1, "unknown_device": 1}
    assert summary["sources"] == {"nb": 3}
    assert stats == {"datagrams": 6, "frames": 3, "duplicate": 1, "malformed": 1,
                     "unknown_device": 1, "replies": 4, "downlinks_queued": 1,
                     "downlinks_sent": 1}
    db = tmp_path / "nb.db"
    assert rows(db, "select device, quantity, value, unit from readings order by time") == [
        (IMEI, "volume", 123.456, "m3"), (IMEI, "volume", 123.5, "m3"),
        (IMEI, "volume", 123.6, "m3")]
    lo, hi = rows(db, "select min(time), max(time) from readings")[0]
    assert t0 <= lo <= hi <= time.time()
    events = rows(db, "select kind, device, source, data from events order by kind")
    assert [(k, d, s) for k, d, s, _ in events] == [
        ("device.unknown", "490154203237518", "nb"), ("malformed.error", None, "nb")]
    assert json.loads(events[1][3])["message"] == (
        f"nb: datagram from 127.0.0.1:{port}: datagram of 3 bytes is too short for the "
        "identity field (bytes 0-7)")


MODEL_CITY = """
[city]
name = "Nbville"

[plugins]
modules = ["nbplug.py"]

[kernel]
max_latency = 0.01

[sources.nb]
plugin = "nbiot-udp"
bind = "127.0.0.1:0"
addresses = {{ "127.0.0.1:{port}" = "meter-a" }}
ack = "06"

[services.reporting]
plugin = "test-reporting"

[sinks.db]
plugin = "sqlite"
path = "nb.db"

[[devices]]
id = "meter-a"
model = "test/nbmeter"

[[devices]]
id = "490154203237518"
model = "test/imeimeter"
"""


async def _model_city(tmp_path):
    a = await UdpClient.open()
    city = await RunningCity(write_city(tmp_path, MODEL_CITY.format(port=a.port))).start()
    src = city.source("nb")
    a.server = src.address
    b = await UdpClient.open(src.address)
    imei = bytes.fromhex("0490154203237518")
    try:
        a.send((50000).to_bytes(4, "big"))          # known by its address, no header
        assert await a.reply() == b"\x06"
        b.send(uplink(imei, 7, 150000))              # the model's IMEI header
        assert await b.reply() == b"\x06"
        # the service saw 150 m3 and asked for a 15 min interval: queued for the meter
        await eventually(lambda: src.pending("490154203237518") == 1, "the command")
        b.send(uplink(imei, 8, 150100))
        assert await b.reply() == bytes.fromhex("a00f")
        b.send(uplink(imei, 8, 150100))              # retransmission: same reply again
        assert await b.reply() == bytes.fromhex("a00f")
        b.send(uplink(bytes.fromhex("0356938035643809"), 1, 5))   # nobody the city lists
        b.send(uplink(bytes.fromhex("03569380356438ab"), 1, 5))   # not BCD
        await eventually(lambda: src.stats["datagrams"] == 6, "all datagrams")
        await b.no_reply()
        stats = dict(src.stats)
    finally:
        a.close()
        b.close()
        summary = await city.stop()
    return summary, stats


def test_address_map_model_identity_and_service_downlink(tmp_path):
    summary, stats = asyncio.run(_model_city(tmp_path))
    assert summary["readings"] == 3
    assert summary["commands"] == 1
    assert summary["errors_by_kind"] == {"duplicate": 1, "unidentified": 1, "malformed": 1}
    assert stats["downlinks_sent"] == 1 and stats["replies"] == 4
    assert rows(tmp_path / "nb.db", "select device, value from readings order by time") == [
        ("meter-a", 50.0), ("490154203237518", 150.0), ("490154203237518", 150.1)]
    [(data,)] = rows(tmp_path / "nb.db",
                     "select data from events where kind = 'unidentified.error'")
    assert json.loads(data)["message"].startswith("nb: datagram from 127.0.0.1:")
    assert json.loads(data)["message"].endswith(
        ": no device of the city matches its address or identity header")


def test_an_address_map_naming_an_unknown_device_is_refused(tmp_path):
    text = MODEL_CITY.format(port=4000).replace('= "meter-a" }', '= "meter-z" }')
    city = RunningCity(write_city(tmp_path, text))
    summary = asyncio.run(asyncio.wait_for(city.kernel.run(), 10))
    assert summary["errors_by_kind"] == {"plugin": 1}
    [(data,)] = rows(tmp_path / "nb.db", "select data from events where kind = 'plugin.error'")
    assert json.loads(data)["message"].startswith(
        "source nb: ValueError: sources.nb.addresses: device 'meter-z' (for 127.0.0.1:4000) "
        "is not in the city's device list")


def test_a_model_header_that_does_not_fit_is_a_config_error(tmp_path):
    text = MODEL_CITY.format(port=4000) + '\n[[devices]]\nid = "x1"\nmodel = "test/imeimeter"' \
        '\nnbiot_identity = { offset = 0, length = 8, format = "morse" }\n'
    with pytest.raises(ValueError) as exc:
        NbiotUdpSource("nb", {"bind": "127.0.0.1:0", "addresses": {}},
                       _load(write_city(tmp_path, text)))
    assert str(exc.value) == ("device x1 (model test/imeimeter).nbiot_identity.format: 'morse' "
                              "is not one of bcd, tbcd, hex, ascii, uint")


def _load(path):
    from hromada.city import load_city
    try:
        return load_city(path)
    except ConfigError as exc:  # pragma: no cover - shows what is wrong
        raise AssertionError(str(exc)) from None


# -- review fixes ------------------------------------------------------------------------

@pytest.mark.parametrize("field, data, message", [
    # filler pads the digits at either end; inside them it is a corrupt identity, not a
    # shorter one (0x35 0x6f 0x93 would otherwise read as the id "35693")
    (Field(0, 3, "bcd"), bytes.fromhex("356f93"),
     "identity field: byte 1 (0x6f) has a filler nibble F between digits"),
    (Field(2, 2, "tbcd"), bytes.fromhex("0000f321"),
     "identity field: byte 2 (0xf3) has a filler nibble F between digits"),
])
def test_filler_between_digits_is_refused(field, data, message):
    with pytest.raises(HeaderError) as exc:
        field.read(data, "identity")
    assert str(exc.value) == message


@pytest.mark.parametrize("fmt, raw, expected", [
    ("bcd", "f356938035643809", IMEI),     # filler in front
    ("bcd", "356938035643809f", IMEI),     # filler behind
    ("tbcd", "21f3", "123"),
])
def test_filler_at_either_end_is_dropped(fmt, raw, expected):
    assert Field(0, len(bytes.fromhex(raw)), fmt).read(bytes.fromhex(raw), "identity") == \
        expected


def test_an_address_map_matches_ipv4_senders_on_a_dual_stack_socket():
    # bound to "[::]:port", Linux reports IPv4 senders as ::ffff:a.b.c.d
    src = NbiotUdpSource("nb", {"bind": "[::]:0", "addresses": {
        "10.0.0.7:40000": "meter-12", "10.0.0.8": "meter-13"}}, None)
    assert src.identify(b"\x01", ("::ffff:10.0.0.7", 40000, 0, 0)) == ("meter-12", None,
                                                                         b"\x01")
    assert src.identify(b"\x02", ("::FFFF:10.0.0.8", 5, 0, 0)) == ("meter-13", None, b"\x02")
    assert src.identify(b"\x03", ("10.0.0.8", 5)) == ("meter-13", None, b"\x03")
