"""Application layer: every VIF class, every data coding, DIFEs, special records, errors.

Expected values come from this file's own reading of EN 13757-3 (tables 10, 12, 14
and annex A), computed with exact fractions, and telegrams come from the encoder.
"""

import math
import struct
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import implementations
from hromada.errors import DecodeError
from hromada.wmbus.encode import (
    DEFAULT_EXPONENTS,
    raw_record,
    record,
    vif_for,
)

IMPLS = implementations("wmbus")

# (first VIF bytes, codes, quantity, unit, exponent of the first code, factor) - the
# value is raw * factor * 10**(exponent + code).
PRIMARY = [
    ((0x00,), 8, "energy", "kWh", -6, 1),                     # 10^(n-3) Wh
    ((0x08,), 8, "energy", "GJ", -9, 1),                      # 10^n J
    ((0x10,), 8, "volume", "m3", -6, 1),
    ((0x18,), 8, "mass", "kg", -3, 1),
    ((0x28,), 8, "power", "W", -3, 1),
    ((0x30,), 8, "power", "W", 0, Fraction(1, 3600)),         # 10^n J/h
    ((0x38,), 8, "volume_flow", "m3/h", -6, 1),
    ((0x40,), 8, "volume_flow", "m3/h", -7, 60),              # 10^(n-7) m3/min
    ((0x48,), 8, "volume_flow", "m3/h", -9, 3600),            # 10^(n-9) m3/s
    ((0x50,), 8, "mass_flow", "kg/h", -3, 1),
    ((0x58,), 4, "flow_temperature", "Cel", -3, 1),
    ((0x5C,), 4, "return_temperature", "Cel", -3, 1),
    ((0x60,), 4, "temperature_difference", "K", -3, 1),
    ((0x64,), 4, "external_temperature", "Cel", -3, 1),
    ((0x68,), 4, "pressure", "bar", -3, 1),
    ((0xFD, 0x40), 16, "voltage", "V", -9, 1),
    ((0xFD, 0x50), 16, "current", "A", -12, 1),
    ((0xFB, 0x00), 2, "energy", "kWh", 2, 1),                 # 10^(n-1) MWh
    ((0xFB, 0x08), 2, "energy", "GJ", -1, 1),
    ((0xFB, 0x10), 2, "volume", "m3", 2, 1),
    ((0xFB, 0x18), 2, "mass", "kg", 5, 1),                    # 10^(n+2) t
    ((0xFB, 0x1A), 2, "humidity", "%RH", -1, 1),
    ((0xFB, 0x28), 2, "power", "W", 5, 1),                    # 10^(n-1) MW
    ((0xFB, 0x30), 2, "power", "W", 8, Fraction(1, 3600)),    # 10^(n-1) GJ/h
    ((0xFB, 0x2C), 4, "frequency", "Hz", -3, 1),
    ((0xFB, 0x74), 4, "temperature_limit", "Cel", -3, 1),
    ((0xFD, 0x00), 4, "credit", "", -3, 1),
    ((0xFD, 0x04), 4, "debit", "", -3, 1),
]
DURATIONS = [(0x20, "on_time"), (0x24, "operating_time"), (0x70, "averaging_duration"),
             (0x74, "actuality_duration"), ((0xFD, 0x24), "storage_interval"),
             ((0xFD, 0x2C), "duration_since_readout"), ((0xFD, 0x3C), "transmission_period")]
UNSIGNED = [
    ((0x78,), "fabrication_number"), ((0x79,), "enhanced_id"), ((0x7A,), "bus_address"),
    ((0xFD, 0x08), "access_number"), ((0xFD, 0x09), "medium"), ((0xFD, 0x0C), "model_version"),
    ((0xFD, 0x0E), "firmware_version"), ((0xFD, 0x17), "error_flags"),
    ((0xFD, 0x1B), "digital_input"), ((0xFD, 0x1A), "digital_output"),
    ((0xFD, 0x60), "reset_counter"), ((0xFD, 0x75), "stop_count"),
]
RAWS = [12345, -7, 0, 2**31 - 1, -2**31]


def _expected(raw, exp, factor):
    scale = Fraction(factor) * Fraction(10) ** exp
    v = raw * scale
    if scale.denominator == 1:
        return int(v)
    return float(v)


def _one(impl, data):
    recs = impl.parse_records(data)
    assert len(recs) == 1
    return recs[0]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("first,count,quantity,unit,exp0,factor", PRIMARY)
def test_scaled_vif_classes(impl, first, count, quantity, unit, exp0, factor):
    for code in range(count):
        vib = bytes(first[:-1]) + bytes([first[-1] + code])
        for raw in RAWS:
            q, value, u, *_ , dif_vif = _one(impl, raw_record(vib, raw, "int32"))
            exp = _expected(raw, exp0 + code, factor)
            assert (q, u, dif_vif) == (quantity, unit, "04" + vib.hex())
            assert value == exp and type(value) is type(exp), (vib.hex(), raw, value, exp)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("first,quantity", DURATIONS)
def test_duration_vifs(impl, first, quantity):
    first = (first,) if isinstance(first, int) else first
    for n, unit in enumerate(("s", "min", "h", "d")):
        vib = bytes(first[:-1]) + bytes([first[-1] + n])
        assert _one(impl, raw_record(vib, 300, "int16"))[:3] == (quantity, 300, unit)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("vib,quantity", UNSIGNED)
def test_unsigned_vifs(impl, vib, quantity):
    # Identifiers and bit fields are unsigned: 0xFFFFFFFF is 4294967295, not -1.
    assert _one(impl, raw_record(bytes(vib), -1, "int32"))[:3] == (quantity, 2**32 - 1, "")
    assert _one(impl, raw_record(bytes(vib), 12345678, "bcd8"))[:3] == (
        quantity, 12345678, "")


@pytest.mark.parametrize("impl", IMPLS)
def test_other_primary_vifs(impl):
    assert _one(impl, raw_record(0x6E, 250, "int16"))[:3] == ("hca", 250, "")
    assert _one(impl, raw_record(0x7E, 5, "int8"))[:3] == ("any", 5, "")
    assert _one(impl, raw_record(0x6F, 5, "int8"))[:3] == ("vif_6f", 5, "")
    assert _one(impl, raw_record(b"\xfd\x71", -80, "int8"))[:3] == ("rf_level", -80, "dBm")
    assert _one(impl, raw_record(b"\xfd\x74", 3650, "int16"))[:3] == (
        "battery_remaining", 3650, "d")
    assert _one(impl, raw_record(b"\xfd\x3a", 17, "int16"))[:3] == ("dimensionless", 17, "")
    assert _one(impl, raw_record(b"\xfd\x7e", 17, "int16"))[:3] == ("vif_fd_7e", 17, "")
    assert _one(impl, raw_record(b"\xfb\x7e", 17, "int16"))[:3] == ("vif_fb_7e", 17, "")


@pytest.mark.parametrize("impl", IMPLS)
def test_high_level_records_round_trip(impl):
    # Every (quantity, unit) the encoder knows, at every exponent it can code.
    cases = 0
    for (quantity, unit), exp in DEFAULT_EXPONENTS.items():
        for e in range(exp - 9, exp + 12):
            try:
                vif_for(quantity, unit, e)
            except Exception:
                continue
            value = 1234 * Fraction(10) ** e
            value = int(value) if value.denominator == 1 else float(value)
            got = _one(impl, record(quantity, value, unit, exponent=e))
            assert got[:3] == (quantity, value, unit)
            cases += 1
    assert cases == 128


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("coding,raw", [
    ("int8", -128), ("int8", 127), ("int16", -2), ("int24", -8388608), ("int24", 8388607),
    ("int32", -1), ("int48", -2**47), ("int48", 2**47 - 1), ("int64", -2**63),
    ("int64", 2**63 - 1), ("bcd2", 99), ("bcd4", 1234), ("bcd6", -99999),
    ("bcd8", 87654321), ("bcd8", -1234567), ("bcd12", 999999999999),
    ("bcd12", -12345678901),
])
def test_codings(impl, coding, raw):
    # VIF 0x16 (volume in m3): the raw number comes back unscaled.
    rec = _one(impl, raw_record(0x16, raw, coding))
    assert rec[1] == raw and type(rec[1]) is int


@pytest.mark.parametrize("impl", IMPLS)
def test_real_none_and_invalid_bcd(impl):
    assert _one(impl, raw_record(0x16, 1.5, "real32"))[1] == 1.5
    assert _one(impl, raw_record(0x13, 1.5, "real32"))[1] == 1.5 / 1000
    nan = _one(impl, raw_record(0x16, struct.pack("<f", math.nan), "real32"))[1]
    assert math.isnan(nan)
    assert _one(impl, raw_record(0x16, None, "none"))[:2] == ("volume", None)
    assert _one(impl, bytes([0x08, 0x16]))[:2] == ("volume", None)   # selection for readout
    assert _one(impl, raw_record(0x16, bytes.fromhex("1A00"), "bcd4"))[1] is None
    assert _one(impl, raw_record(0x16, bytes.fromhex("00E0"), "bcd4"))[1] is None
    assert _one(impl, raw_record(0x16, bytes.fromhex("01F0"), "bcd4"))[1] == -1


@pytest.mark.parametrize("impl", IMPLS)
def test_variable_length(impl):
    assert _one(impl, raw_record(b"\xfd\x0c", "FW-1.2", "var"))[:3] == (
        "model_version", "FW-1.2", "")
    assert _one(impl, bytes.fromhex("0d16") + b"\x03cba")[1] == "abc"
    assert _one(impl, bytes.fromhex("0d16c3563412"))[1] == 123456        # LVAR C3: BCD
    assert _one(impl, bytes.fromhex("0d16d3563412"))[1] == -123456       # LVAR D3
    assert _one(impl, bytes.fromhex("0d13e2ffff"))[1] == -0.001          # LVAR E2: binary
    assert _one(impl, bytes.fromhex("0d78e2ffff"))[1] == 65535           # unsigned id
    assert _one(impl, bytes.fromhex("0d16e9") + bytes(range(9)))[1] == bytes(range(9)).hex()
    assert _one(impl, bytes.fromhex("0d16f0") + bytes(16))[1] == "00" * 16   # F0: 16 bytes
    assert _one(impl, bytes.fromhex("0d16f6") + bytes(64))[1] == "00" * 64
    assert _one(impl, bytes.fromhex("0d7f03abcdef"))[1] == "abcdef"      # raw stays raw


@pytest.mark.parametrize("impl", IMPLS)
def test_dates(impl):
    assert _one(impl, record("date", "2024-02-29"))[:3] == ("date", "2024-02-29", "")
    assert _one(impl, record("datetime", "2024-02-29T13:45:00"))[1] == "2024-02-29T13:45:00"
    assert _one(impl, record("datetime", "2031-12-31T23:59:58", coding="int48"))[1] == (
        "2031-12-31T23:59:58")
    assert _one(impl, record("datetime", "2008-05-31", coding="int16"))[1] == "2008-05-31"
    assert _one(impl, raw_record(0x6C, 0, "int16"))[1] is None           # no date set
    assert _one(impl, raw_record(0x6D, bytes.fromhex("b2371f15"), "int32"))[1] is None  # IV
    assert _one(impl, raw_record(0x6D, bytes.fromhex("3c371f15"), "int32"))[1] is None  # 60 min
    assert _one(impl, raw_record(0x6D, 12345678, "bcd8"))[1] is None     # not a date coding
    # Type F in the FD table too (battery change).
    assert _one(impl, raw_record(b"\xfd\x70", bytes.fromhex("32371f15"), "int32"))[:2] == (
        "battery_change", "2008-05-31T23:50:00")


@pytest.mark.parametrize("impl", IMPLS)
def test_function_storage_tariff_subunit(impl):
    got = impl.parse_records(
        record("volume", 1, "m3", function="maximum")
        + record("volume", 2, "m3", function="minimum", storage=5)
        + record("volume", 3, "m3", function="error", tariff=2, subunit=1)
        + record("power", 4, "W", storage=2**41 - 1, tariff=2**20 - 1, subunit=2**10 - 1))
    assert [(r[0], r[1], r[3], r[4], r[5], r[6]) for r in got] == [
        ("volume", 1.0, 0, 0, 0, "maximum"),
        ("volume", 2.0, 5, 0, 0, "minimum"),
        ("volume", 3.0, 0, 2, 1, "error"),
        ("power", 4, 2**41 - 1, 2**20 - 1, 2**10 - 1, "instantaneous"),
    ]
    assert got[1][7] == "e40213"         # DIF 0x80|0x40|0x20|0x04, DIFE 0x02: storage 1 + 2*2


@given(storage=st.integers(0, 2**41 - 1), tariff=st.integers(0, 2**20 - 1),
       subunit=st.integers(0, 2**10 - 1), function=st.sampled_from(
           ["instantaneous", "maximum", "minimum", "error"]),
       raw=st.integers(-2**31, 2**31 - 1))
@settings(max_examples=60, deadline=None)
def test_register_round_trip_random(storage, tariff, subunit, function, raw):
    data = raw_record(0x16, raw, "int32", storage=storage, tariff=tariff, subunit=subunit,
                      function=function)
    for impl in (p.values[0] for p in IMPLS if p.values[0] is not None):
        assert impl.parse_records(data) == [
            ("volume", raw, "m3", storage, tariff, subunit, function, data[:-4].hex())]


@pytest.mark.parametrize("impl", IMPLS)
def test_special_records(impl):
    data = (b"\x2f\x2f" + raw_record(0x16, 7, "int8") + b"\x2f"
            + raw_record(b"\xff\x20", bytes.fromhex("beef"), "int16")
            + b"\x0f\x01\x02\x03")
    assert impl.parse_records(data) == [
        ("volume", 7, "m3", 0, 0, 0, "instantaneous", "0116"),
        ("manufacturer_specific", "beef", "", 0, 0, 0, "instantaneous", "02ff20"),
        ("manufacturer_data", "010203", "", 0, 0, 0, None, "0f"),
    ]
    assert impl.parse_records(b"\x1f") == [("manufacturer_data", "", "", 0, 0, 0, None, "1f")]
    assert impl.parse_records(b"") == []
    assert impl.parse_records(b"\x2f" * 5) == []


@pytest.mark.parametrize("impl", IMPLS)
def test_vife_corrections_and_plain_text(impl):
    # VIFE 0x7D: x1000; VIFE 0x74: x10^-2; both combined; 0x7F: the rest is the
    # manufacturer's and changes nothing.
    assert _one(impl, bytes.fromhex("01967d05"))[:2] == ("volume", 5000)
    assert _one(impl, bytes.fromhex("01967405"))[:2] == ("volume", 0.05)
    assert _one(impl, bytes.fromhex("0196fd7405"))[:2] == ("volume", 50)
    assert _one(impl, bytes.fromhex("0196ff7d05"))[:2] == ("volume", 5)
    assert _one(impl, bytes.fromhex("01fd977d05"))[:2] == ("error_flags", 5)
    # Plain-text unit (VIF 0x7C): length and text, last character first.
    rec = _one(impl, bytes.fromhex("027c036d70723930"))
    assert rec == ("text:rpm", 0x3039, "", 0, 0, 0, "instantaneous", "027c036d7072")
    rec = _one(impl, bytes.fromhex("02fc0278787d0a00"))             # 0xFC, then VIFE x1000
    assert rec[:2] == ("text:xx", 10000) and rec[7] == "02fc0278787d"


def _err(impl, data):
    with pytest.raises(DecodeError) as info:
        impl.parse_records(data, 100)
    return str(info.value), info.value.offset, info.value.field


@pytest.mark.parametrize("impl", IMPLS)
def test_record_errors(impl):
    assert _err(impl, bytes.fromhex("0413aabb")) == (
        "truncated record at offset 100: data at offset 102 needs 4 bytes, 2 left",
        102, "data")
    assert _err(impl, bytes.fromhex("0116020413")) == (
        "truncated record at offset 103: data at offset 105 needs 4 bytes, 0 left",
        105, "data")
    assert _err(impl, bytes.fromhex("84")) == (
        "truncated record at offset 100: dife at offset 101 needs 1 byte, 0 left",
        101, "dife")
    assert _err(impl, bytes.fromhex("04")) == (
        "truncated record at offset 100: vif at offset 101 needs 1 byte, 0 left", 101, "vif")
    assert _err(impl, bytes.fromhex("04fd")) == (
        "truncated record at offset 100: vife at offset 102 needs 1 byte, 0 left",
        102, "vife")
    assert _err(impl, bytes.fromhex("0493")) == (
        "truncated record at offset 100: vife at offset 102 needs 1 byte, 0 left",
        102, "vife")
    assert _err(impl, bytes.fromhex("84") + b"\x80" * 10 + b"\x00\x13") == (
        "record at offset 100: more than 10 DIFEs", 111, "dife")
    assert _err(impl, bytes.fromhex("0493") + b"\xf0" * 10 + b"\x70") == (
        "record at offset 100: more than 10 VIFEs", 112, "vife")
    assert _err(impl, bytes.fromhex("3f13")) == ("reserved DIF 0x3f at offset 100", 100, "dif")
    assert _err(impl, bytes.fromhex("0d13f7")) == ("reserved LVAR 0xf7 at offset 102", 102,
                                                   "lvar")
    assert _err(impl, bytes.fromhex("0d1305abcd")) == (
        "truncated record at offset 100: data at offset 103 needs 5 bytes, 2 left",
        103, "data")
    assert _err(impl, bytes.fromhex("0d13")) == (
        "truncated record at offset 100: lvar at offset 102 needs 1 byte, 0 left",
        102, "lvar")
    assert _err(impl, bytes.fromhex("027c0561")) == (
        "truncated record at offset 100: plain_text_unit at offset 103 needs 5 bytes, 1 left",
        103, "plain_text_unit")
    assert _err(impl, bytes.fromhex("027c")) == (
        "truncated record at offset 100: plain_text_unit at offset 102 needs 1 byte, 0 left",
        102, "plain_text_unit")


@pytest.mark.parametrize("impl", IMPLS)
def test_record_error_offsets_inside_telegram(impl):
    from hromada.wmbus.encode import telegram
    t = telegram(record("volume", 1, "m3") + bytes.fromhex("0413aa"))
    with pytest.raises(DecodeError) as info:
        impl.decode(t)
    assert str(info.value) == (
        "truncated record at offset 21: data at offset 23 needs 4 bytes, 1 left")
    assert (info.value.offset, info.value.field) == (23, "data")
