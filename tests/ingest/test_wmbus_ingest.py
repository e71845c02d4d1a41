"""The wmbus source (file and UDP) and the wmbus device model family."""

import asyncio
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ingest_kit import RunningCity, UdpClient, eventually, rows

from hromada.errors import DecodeError
from hromada.wmbus import encode as wenc
from hromada_plugins.devices import wmbus as models
from hromada_plugins.sources.wmbus import WmbusSource, meter_address, parse_line

# Published telegrams (the same as in tests/wmbus/wmbus_vectors.py, with their sources).
# OMS specification vol. 2 annex N.2.1: gas meter ELS 12345678, mode 5, 28504.27 m3.
OMS_MODE5 = bytes.fromhex(
    "2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6D"
    "EFC99D6D69EBF3")
OMS_MODE5_CRC = bytes.fromhex(
    "2E44931578563412330333637A2A0020255923C95AAA26D1B2E7493BC2AD013EC4A6F6D3529B520E"
    "DFF0EA6DEFC955B29D6D69EBF3EC8A")
OMS_KEY = "0102030405060708090A0B0C0D0E0F11"
# jMBus: heat meter LUG 67991306, unencrypted.
LUG_HEAT = bytes.fromhex(
    "2C44A7320613996707047A821000202F2F0C06000000000C14000000000C22224101000B5A410200"
    "0B5E4000F0")
# jMBus DecryptionTest: Kamstrup KAM 63452869, ELL AES-CTR, 474.24 m3 (473.247 stored).
KAM_ELL = bytes.fromhex(
    "24442D2C692845631B168D3050209CD621B006B1140AEF4953AE5B86FAFC0B00E70705B846")
KAM_KEY = "4E5508544202058100DFEFA06B0934A5"
# ioBroker wireless-mbus: AMB 57000044 with a long transport header, mode 5.
AMBER_LONG = bytes.fromhex(
    "4644a205440000570c377244000057a2050c37a3003005d898c64fd0c9bd2634365084e4df946736"
    "c71a2103e45a190caa1a49b602e46c9f45fcee79afbe34f0c167fd857f659e")


@pytest.mark.parametrize("telegram, expected", [
    (OMS_MODE5, ("els-12345678", 0x2A)),
    (OMS_MODE5_CRC, ("els-12345678", 0x2A)),
    (LUG_HEAT, ("lug-67991306", 0x82)),
    (KAM_ELL, ("kam-63452869", 0x50)),
    (AMBER_LONG, ("amb-57000044", 0xA3)),
])
def test_meter_address_is_the_canonical_id(telegram, expected):
    assert meter_address(telegram) == expected


def test_long_header_names_the_meter_behind_a_converter():
    raw = wenc.telegram(wenc.record("volume", 1.5, "m3"), manufacturer="HRM", id="11112222",
                        device_type=0x37, header="long", access_number=9,
                        tpl_address=("ELS", "87654321", 3, 7), frame_format="B")
    assert meter_address(raw) == ("els-87654321", 9)


def test_meter_address_errors():
    with pytest.raises(DecodeError) as exc:
        meter_address(OMS_MODE5[:-1])
    assert str(exc.value) == ("telegram is 46 bytes: its L field (0x2e) needs 47 without "
                              "CRCs or 55 with frame format A CRCs")
    with pytest.raises(DecodeError) as exc:
        meter_address(bytes.fromhex("09449315785634123303"))
    assert str(exc.value) == "truncated telegram: 10 bytes, the link layer and CI field need 11"
    assert (exc.value.offset, exc.value.field) == (10, "ci")


@settings(max_examples=300, deadline=None)
@given(body=st.binary(min_size=0, max_size=60), ci=st.sampled_from(
    [0x72, 0x7A, 0x78, 0x8C, 0x8D, 0x8E, 0x90, 0x00]))
def test_random_telegrams_give_an_id_or_a_decode_error(body, ci):
    raw = bytes([0x44, 0x2D, 0x2C, 1, 2, 3, 4, 1, 7, ci]) + body
    raw = bytes([len(raw)]) + raw  # L fits: the header parsing itself is under test
    if ci in (0x78, 0x7A, 0x00, 0x8D):  # no long header: the link layer names the meter
        assert meter_address(raw, "none")[0] == "kam-04030201"
    for data in (raw, body):
        try:
            dev, acc = meter_address(data)
        except DecodeError:
            continue
        assert len(dev) == 12 and dev[3] == "-" and (acc is None or 0 <= acc <= 255)


@pytest.mark.parametrize("line, expected", [
    (OMS_MODE5.hex(), OMS_MODE5),
    ("2E 44 93 15 78 56 34 12 33 03 7A\n", bytes.fromhex("2E449315785634123303 7A")),
    ("0x2e4493", bytes.fromhex("2e4493")),
    ("T1;1;1;2019-04-13 08:24:11.000;97;114;12345678;0x2E449315", bytes.fromhex("2E449315")),
    ("   ", None),
    ("# a receiver's comment", None),
])
def test_lines(line, expected):
    assert parse_line(line) == expected


def test_a_line_without_hex_is_refused():
    with pytest.raises(ValueError, match="not a hex telegram"):
        parse_line("hello world")


@pytest.mark.parametrize("options, message", [
    ({}, "sources.wm: give either bind (UDP) or file, not neither"),
    ({"bind": "127.0.0.1:0", "file": "x.hex"}, "sources.wm: give either bind (UDP) or file, "
                                               "not both"),
])
def test_bind_or_file(options, message):
    with pytest.raises(ValueError) as exc:
        WmbusSource("wm", options, None)
    assert str(exc.value) == message


# -- the device models ---------------------------------------------------------------

def test_meter_decodes_with_its_key():
    assert models.decode(OMS_MODE5_CRC, 0, {"key": OMS_KEY}) == [
        ("volume", 28504.27, "m3"), ("error_flags", 0, "")]
    assert models.decode(KAM_ELL, 0, {"key": KAM_KEY}) == [("volume", 474.24, "m3")]
    assert models.decode(KAM_ELL, 0, {"key": KAM_KEY, "historic": True}) == [
        ("volume", 474.24, "m3"), ("volume_s1", 473.247, "m3")]


def test_key_from_the_environment(monkeypatch):
    monkeypatch.setenv("HROMADA_TEST_ELS_KEY", OMS_KEY)
    assert models.decode(OMS_MODE5, 0, {"key": "env:HROMADA_TEST_ELS_KEY"})[0] == (
        "volume", 28504.27, "m3")


@pytest.mark.parametrize("key, message", [
    (None, "meter ELS 12345678 is encrypted (mode 5) and no key was given"),
    ("000102030405060708090A0B0C0D0E0F",
     "meter ELS 12345678: decryption failed (no 2F2F after decryption): wrong key?"),
    ("0102", "device option key: key: an AES-128 key is 16 bytes (32 hex digits), got 2"),
    ("zz" * 16, "device option key: key: not hexadecimal (expected 32 hex digits)"),
    ("env:HROMADA_NO_SUCH_VARIABLE",
     "device option key: key: environment variable HROMADA_NO_SUCH_VARIABLE is not set"),
])
def test_a_wrong_or_missing_key_names_the_meter_not_the_key(key, message):
    with pytest.raises(DecodeError) as exc:
        models.decode(OMS_MODE5, 0, {"key": key})
    assert str(exc.value) == message
    if key:
        assert key.lower() not in str(exc.value).lower()


def test_the_family():
    from hromada.plugins import PluginHost

    found = {m.id: m.family for m in PluginHost().device_models.values()
             if m.id.startswith("wmbus/")}
    assert found == {"wmbus/meter": "generic", "wmbus/water": "water_meter",
                     "wmbus/heat": "heat_meter", "wmbus/gas": "gas_meter",
                     "wmbus/electricity": "electricity_meter"}
    [key] = [o for o in models.OPTIONS if o.name == "key"]
    assert key.secret


# -- cities --------------------------------------------------------------------------

CITY = """
[city]
name = "Meterville"

[kernel]
max_latency = 0.01

[sources.wm]
plugin = "wmbus"
{source}

[sinks.db]
plugin = "sqlite"
path = "wm.db"

[[devices]]
id = "els-12345678"
model = "wmbus/gas"
key = "{oms_key}"

[[devices]]
id = "lug-67991306"
model = "wmbus/heat"

[[devices]]
id = "KAM-63452869"
model = "wmbus/water"
key = "env:HROMADA_TEST_KAM_KEY"
"""


def test_a_file_of_telegrams(tmp_path, monkeypatch):
    monkeypatch.setenv("HROMADA_TEST_KAM_KEY", KAM_KEY)
    (tmp_path / "air.hex").write_text("\n".join([
        "# receiver log",
        OMS_MODE5.hex(),
        OMS_MODE5_CRC.hex(),          # the same telegram, heard with its CRCs: kept
        OMS_MODE5.hex().upper(),      # a repeater sent it again: a duplicate
        "T1;1;1;2024-04-13 08:24:11.000;97;114;67991306;0x" + LUG_HEAT.hex(),
        " ".join(f"{b:02x}" for b in KAM_ELL),
        "not a telegram",
        AMBER_LONG.hex(),             # a meter the city does not list
        LUG_HEAT[:-1].hex(),          # cut short
    ]) + "\n")
    (tmp_path / "city.toml").write_text(CITY.format(source='file = "air.hex"',
                                                    oms_key=OMS_KEY))
    city = RunningCity(tmp_path / "city.toml")
    summary = asyncio.run(asyncio.wait_for(city.kernel.run(), 15))  # the file source ends
    assert summary["frames"] == 5
    assert summary["readings"] == 2 + 2 + 5 + 1
    assert summary["errors_by_kind"] == {"duplicate": 1, "malformed": 2, "unknown_device": 1}
    db = tmp_path / "wm.db"
    assert rows(db, "select device, quantity, value, unit from readings") == [
        ("els-12345678", "volume", 28504.27, "m3"), ("els-12345678", "error_flags", 0, ""),
        ("els-12345678", "volume", 28504.27, "m3"), ("els-12345678", "error_flags", 0, ""),
        ("lug-67991306", "energy", 0, "kWh"), ("lug-67991306", "volume", 0.0, "m3"),
        ("lug-67991306", "on_time", 14122, "h"), ("lug-67991306", "flow_temperature", 24.1, "Cel"),
        ("lug-67991306", "return_temperature", -4.0, "Cel"),
        ("kam-63452869", "volume", 474.24, "m3")]
    messages = sorted(json.loads(d)["message"] for (d,) in rows(
        db, "select data from events where kind = 'malformed.error'"))
    assert messages == [
        "wm: air.hex line 7: not a hex telegram",
        "wm: air.hex line 9: telegram is 44 bytes: its L field (0x2c) needs 45 without CRCs "
        "or 53 with frame format A CRCs"]
    everything = json.dumps(rows(db, "select * from events"))
    assert OMS_KEY.lower() not in everything.lower() and KAM_KEY.lower() not in everything.lower()


async def _udp_city(tmp_path):
    (tmp_path / "city.toml").write_text(CITY.format(source='bind = "127.0.0.1:0"',
                                                    oms_key="00" * 16))
    city = await RunningCity(tmp_path / "city.toml").start()
    src = city.source("wm")
    bridge = await UdpClient.open(src.address)
    try:
        bridge.send((LUG_HEAT.hex() + "\n" + KAM_ELL.hex() + "\n").encode())
        bridge.send(OMS_MODE5.hex().encode())  # the city holds a wrong key for this meter
        bridge.send(b"\xff\xfe")
        await eventually(lambda: src.stats["datagrams"] == 3, "three datagrams")
    finally:
        bridge.close()
        summary = await city.stop()
    return summary


def test_telegrams_over_udp(tmp_path, monkeypatch):
    monkeypatch.setenv("HROMADA_TEST_KAM_KEY", KAM_KEY)
    summary = asyncio.run(_udp_city(tmp_path))
    assert summary["frames"] == 3 and summary["readings"] == 6
    assert summary["errors_by_kind"] == {"decode": 1, "malformed": 1}
    [(device, data)] = rows(tmp_path / "wm.db",
                            "select device, data from events where kind = 'decode.error'")
    assert device == "els-12345678"
    assert json.loads(data)["message"] == (
        "wmbus/gas: meter ELS 12345678: decryption failed (no 2F2F after decryption): "
        "wrong key? at byte 15")
    assert rows(tmp_path / "wm.db", "select device, value from readings "
                                    "where quantity = 'volume' order by device") == [
        ("kam-63452869", 474.24), ("lug-67991306", 0.0)]


# -- review fixes ------------------------------------------------------------------------

@pytest.mark.parametrize("line", [
    OMS_MODE5.hex() + ";-72",                     # a receiver's RSSI field after the telegram
    OMS_MODE5.hex() + " -72\r\n",
    OMS_MODE5.hex().upper() + ",rssi=-72.5",
    "C1;1;1;2024-04-13 08:24:11.000;97;114;12345678;0x" + OMS_MODE5.hex() + ";-81 dBm",
    "\ufeff" + OMS_MODE5.hex(),                   # a byte order mark opening a file
])
def test_lines_with_receiver_extras(line):
    assert parse_line(line) == OMS_MODE5


class _Counting:
    def __init__(self):
        self.errors = []

    def count_error(self, kind, message=None, device=None):
        self.errors.append((kind, device))


def test_the_dedup_window_runs_from_the_first_copy(monkeypatch, tmp_path):
    import hromada_plugins.sources.wmbus as wsrc

    src = WmbusSource("wm", {"file": tmp_path / "x.hex", "dedup_window": 60.0}, None)
    src.ctx = _Counting()
    clock = iter([1000.0, 1050.0, 1100.0, 1150.0])
    monkeypatch.setattr(wsrc.time, "time", lambda: next(clock))
    got = [src.frame(OMS_MODE5.hex(), "here", {}) is not None for _ in range(4)]
    # copies at +50 s are duplicates; at +100 s the meter sent it again (a new frame)
    assert got == [True, False, True, False]
    assert src.ctx.errors == [("duplicate", "els-12345678")] * 2


def test_a_receiver_that_sends_crcs_gets_a_corrupt_format_b_telegram_refused(tmp_path):
    # Format B counts its CRC in L, so a telegram with one bad byte has the length of a
    # CRC-less one: "auto" alone would decode it to wrong values.  A bridge that sent a
    # telegram whose CRCs checked out keeps CRCs: its later CRC failures are refused.
    src = WmbusSource("wm", {"file": tmp_path / "x.hex", "dedup_window": 0}, None)
    src.ctx = _Counting()

    def tel(volume, acc):
        return wenc.telegram(wenc.record("volume", volume, "m3"), manufacturer="ELS",
                             id="12345678", device_type=3, access_number=acc,
                             frame_format="B")

    bridge, other = {"address": "10.0.0.5:40001"}, {"address": "10.0.0.6:40001"}
    good = tel(12.345, 77)
    bad = bytearray(tel(12.345, 78))
    bad[-5] ^= 0x10                               # a volume byte
    assert src.frame(good.hex(), "datagram", bridge) is not None
    assert src.frame(bytes(bad).hex(), "datagram", {"address": "10.0.0.5:40002"}) is None
    assert src.ctx.errors == [("crc", "els-12345678")]
    assert src.stats["crc"] == 1
    # a bridge never seen with CRCs: the telegram is taken as CRC-less, as "auto" says
    assert src.frame(bytes(bad).hex(), "datagram", other) is not None


def test_check_refuses_a_malformed_meter_key_without_showing_it(tmp_path, capsys, monkeypatch):
    from hromada.cli import main

    monkeypatch.delenv("HROMADA_TEST_UNSET_METER_KEY", raising=False)
    (tmp_path / "t.hex").write_text("")
    (tmp_path / "city.toml").write_text(
        '[city]\nname = "K"\n[sources.m]\nplugin = "wmbus"\nfile = "t.hex"\n'
        '[sinks.db]\nplugin = "sqlite"\n'
        '[[devices]]\nid = "els-12345678"\nmodel = "wmbus/gas"\n'
        'key = "000102030405060708090A0B0C0D0E0FZZ"\n'
        '[[devices]]\nid = "els-12345679"\nmodel = "wmbus/gas"\n'
        'key = "env:HROMADA_TEST_UNSET_METER_KEY"\n'
        '[[devices]]\nid = "els-12345670"\nmodel = "wmbus/gas"\nkey = "0001020304050607"\n')
    assert main(["check", str(tmp_path / "city.toml")]) == 2
    err = capsys.readouterr().err
    city = tmp_path / "city.toml"
    assert err.splitlines() == [
        f"{city}: devices[0].key: not hexadecimal (expected 32 hex digits)",
        f"{city}: devices[1].key: environment variable HROMADA_TEST_UNSET_METER_KEY is not set",
        f"{city}: devices[2].key: an AES-128 key is 16 bytes (32 hex digits), got 8",
        f"{city}: 3 problems; the city is not valid"]
    assert "0001020304050607" not in err
