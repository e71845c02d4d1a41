"""The declarative layout engine: exact decoding, exact errors, compiled == pure."""

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import implementations, require_compiled
from hromada import compiled, layout
from hromada._layout_py import normalize
from hromada.errors import DecodeError, EncodeError

IMPLS = implementations("layout")


def test_compiled_layout_loaded():
    require_compiled("layout")
    assert layout.implementation is compiled.both("layout")[0]
    assert compiled.modules["layout"] == "compiled"


def _err(impl, spec, payload, fport=None):
    with pytest.raises(DecodeError) as info:
        impl.compile(spec).decode(payload, fport)
    return str(info.value), info.value.offset, info.value.field


MILESIGHT = {
    "endian": "little",
    "records": {"key": 2, "types": {
        (0x01, 0x75): {"size": 1, "fields": [
            {"type": "u8", "quantity": "battery", "unit": "%"}]},
        (0x03, 0x67): {"size": 2, "fields": [
            {"type": "s16", "scale": 0.1, "quantity": "temperature", "unit": "Cel"}]},
        (0x04, 0x68): {"size": 1, "fields": [
            {"type": "u8", "scale": 0.5, "quantity": "humidity", "unit": "%RH"}]},
    }},
}


# -- fixed fields ---------------------------------------------------------------------


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("typ", "endian", "data", "value"), [
    ("u8", "big", "ff", 255),
    ("s8", "big", "ff", -1),
    ("u16", "big", "0102", 0x0102),
    ("u16", "little", "0102", 0x0201),
    ("s16", "big", "fffe", -2),
    ("s16", "little", "fe7f", 0x7FFE),
    ("u24", "big", "010203", 0x010203),
    ("u24", "little", "010203", 0x030201),
    ("s24", "big", "800000", -0x800000),
    ("s24", "little", "ffffff", -1),
    ("u32", "big", "ffffffff", 0xFFFFFFFF),
    ("u32", "little", "78563412", 0x12345678),
    ("s32", "big", "80000000", -0x80000000),
    ("s32", "little", "feffffff", -2),
    ("float32", "big", "41c80000", 25.0),
    ("float32", "little", "0000c841", 25.0),
])
def test_types(impl, typ, endian, data, value):
    spec = {"fields": [{"type": typ, "endian": endian, "quantity": "x"}]}
    out = impl.compile(spec).decode(bytes.fromhex(data))
    assert out == [("x", value, "")]
    assert type(out[0][1]) is type(value)


@pytest.mark.parametrize("impl", IMPLS)
def test_bcd(impl):
    spec = {"endian": "little", "fields": [
        {"offset": 0, "type": "bcd8", "quantity": "energy", "unit": "kWh"},
        {"offset": 4, "type": "bcd4", "scale": 0.1, "quantity": "temperature", "unit": "Cel"}]}
    lay = impl.compile(spec)
    assert lay.decode(bytes.fromhex("52676102" "3306")) == [
        ("energy", 2616752, "kWh"), ("temperature", 63.3, "Cel")]
    assert _err(impl, spec, bytes.fromhex("5267610a" "3306")) == (
        "field 'energy' at byte 3 is not BCD (byte 0x0a)", 3, "energy")
    assert _err(impl, spec, bytes.fromhex("52676102" "3f06")) == (
        "field 'temperature' at byte 4 is not BCD (byte 0x3f)", 4, "temperature")
    assert lay.encode({"energy": 2616752, "temperature": 63.3}) == bytes.fromhex("526761023306")


@pytest.mark.parametrize("impl", IMPLS)
def test_scale_add_divides_exactly(impl):
    spec = {"fields": [
        {"offset": 0, "type": "s16", "scale": 0.1, "quantity": "temperature", "unit": "Cel"},
        {"offset": 2, "type": "u8", "scale": 0.5, "quantity": "humidity", "unit": "%RH"},
        {"offset": 3, "type": "u8", "add": -40, "quantity": "t2", "unit": "Cel"},
        {"offset": 4, "type": "u16", "scale": 0.001, "quantity": "battery", "unit": "V"},
        {"offset": 6, "type": "u8", "scale": 2.5, "add": 1.0, "quantity": "y"},
    ]}
    out = impl.compile(spec).decode(bytes.fromhex("00ea" "65" "0a" "0ce4" "04"))
    assert out == [("temperature", 23.4, "Cel"), ("humidity", 50.5, "%RH"),
                   ("t2", -30, "Cel"), ("battery", 3.3, "V"), ("y", 11.0, "")]
    assert type(out[2][1]) is int


@pytest.mark.parametrize("impl", IMPLS)
def test_masks_flags_bool_enum_expect_invalid(impl):
    spec = {"fields": [
        {"offset": 0, "type": "u8", "name": "version", "expect": 2},
        {"offset": 1, "type": "u16", "mask": 0x3FFF, "quantity": "battery_mv", "unit": ""},
        {"offset": 1, "type": "u8", "mask": 0xC0, "quantity": "mode"},
        {"offset": 3, "type": "u8", "flags": {0: "leak", 1: "backflow",
                                             7: {"quantity": "ok", "invert": True}}},
        {"offset": 4, "type": "u8", "bool": True, "quantity": "lamp_on"},
        {"offset": 5, "type": "u8", "enum": {0: "normal", 1: "tilt"}, "quantity": "position"},
        {"offset": 6, "type": "u16", "invalid": [0xFFFF], "quantity": "distance", "unit": "mm"},
    ]}
    lay = impl.compile(spec)
    assert lay.decode(bytes.fromhex("02" "cb45" "03" "05" "01" "ffff")) == [
        ("battery_mv", 0x0B45, ""), ("mode", 3, ""),
        ("leak", True, "bool"), ("backflow", True, "bool"), ("ok", True, "bool"),
        ("lamp_on", True, "bool"), ("position", "tilt", ""),
    ]
    assert lay.decode(bytes.fromhex("02" "0001" "80" "00" "00" "0102"))[2:] == [
        ("leak", False, "bool"), ("backflow", False, "bool"), ("ok", False, "bool"),
        ("lamp_on", False, "bool"), ("position", "normal", ""), ("distance", 258, "mm"),
    ]
    assert _err(impl, spec, bytes.fromhex("03" "0001" "80" "00" "00" "0102")) == (
        "field 'version' at byte 0 is 3, expected 2", 0, "version")
    assert _err(impl, spec, bytes.fromhex("02" "0001" "80" "00" "07" "0102")) == (
        "unknown value 7 of field 'position' at byte 5", 5, "position")


@pytest.mark.parametrize("impl", IMPLS)
def test_truncated_fixed_payload_names_field_and_offset(impl):
    spec = {"fields": [
        {"offset": 0, "type": "u16", "quantity": "battery"},
        {"offset": 2, "type": "u16", "quantity": "distance", "unit": "mm"},
    ]}
    assert _err(impl, spec, b"\x01\x02\x03") == (
        "payload too short for field 'distance' (u16 at byte 2): 3 bytes given, 4 needed",
        2, "distance")
    assert _err(impl, spec, b"") == (
        "payload too short for field 'battery' (u16 at byte 0): 0 bytes given, 2 needed",
        0, "battery")


@pytest.mark.parametrize("impl", IMPLS)
def test_exact_length(impl):
    spec = {"length": 3, "fields": [{"type": "u8", "quantity": "x"}]}
    assert impl.compile(spec).decode(b"\x05\x00\x00") == [("x", 5, "")]
    assert _err(impl, spec, b"\x05\x00\x00\x00") == (
        "payload has 4 bytes, the layout needs exactly 3", 3, None)


# -- records --------------------------------------------------------------------------


@pytest.mark.parametrize("impl", IMPLS)
def test_milesight_records(impl):
    lay = impl.compile(MILESIGHT)
    assert lay.decode(bytes.fromhex("01755c03673401046865")) == [
        ("battery", 92, "%"), ("temperature", 30.8, "Cel"), ("humidity", 50.5, "%RH")]
    assert lay.decode(b"") == []
    assert _err(impl, MILESIGHT, bytes.fromhex("01755c0367")) == (
        "payload too short for record 'temperature' (0x0367) at byte 3: "
        "5 bytes given, 7 needed", 3, "temperature")
    assert _err(impl, MILESIGHT, bytes.fromhex("01755c03")) == (
        "payload too short for a record header at byte 3: 4 bytes given, 5 needed",
        3, "record")
    assert _err(impl, MILESIGHT, bytes.fromhex("01755c0999")) == (
        "unknown record 0x0999 at byte 3", 3, "record")


@pytest.mark.parametrize("impl", IMPLS)
def test_elsys_style_records_and_stop(impl):
    spec = {"records": {"key": 1, "unknown": "stop", "types": {
        0x01: {"size": 2, "fields": [
            {"type": "s16", "scale": 0.1, "quantity": "temperature", "unit": "Cel"}]},
        0x15: {"name": "sound", "size": 2, "fields": [
            {"offset": 0, "type": "u8", "quantity": "lamax", "unit": "dBA"},
            {"offset": 1, "type": "u8", "quantity": "laeq", "unit": "dBA"}]},
    }}}
    lay = impl.compile(spec)
    assert lay.decode(bytes.fromhex("0100e6" "153c32" "ee0102")) == [
        ("temperature", 23.0, "Cel"), ("lamax", 60, "dBA"), ("laeq", 50, "dBA")]
    assert _err(impl, spec, bytes.fromhex("0100e61532")) == (
        "payload too short for record 'sound' (0x15) at byte 3: 5 bytes given, 6 needed",
        3, "sound")


@pytest.mark.parametrize("impl", IMPLS)
def test_length_prefixed_records(impl):
    spec = {"records": {"key": 1, "length": True, "types": {
        0x10: {"size": 2, "fields": [{"type": "u16", "quantity": "x"}]}}}}
    lay = impl.compile(spec)
    # a longer record than we know: extra bytes are skipped (newer firmware)
    assert lay.decode(bytes.fromhex("1003000109" "10020002")) == [("x", 1, ""), ("x", 2, "")]
    assert _err(impl, spec, bytes.fromhex("100100")) == (
        "record 'x' (0x10) at byte 0 has length 1, needs at least 2", 0, "x")
    assert _err(impl, spec, bytes.fromhex("100300")) == (
        "payload too short for record 'x' (0x10) at byte 0: 3 bytes given, 5 needed", 0, "x")


@pytest.mark.parametrize("impl", IMPLS)
def test_fixed_header_then_records(impl):
    spec = {"fields": [{"type": "u8", "name": "version", "expect": 1}],
            "records": {"key": 1, "types": {
                0x01: {"size": 1, "fields": [{"type": "u8", "quantity": "battery",
                                              "unit": "%"}]}}}}
    assert impl.compile(spec).decode(b"\x01\x01\x50\x01\x51") == [
        ("battery", 80, "%"), ("battery", 81, "%")]


def _history(payload, pos):
    n = payload[pos]
    out = [("sample", payload[pos + 1 + i], "") for i in range(n)]
    return out, pos + 1 + n


def _broken(payload, pos):
    return [], payload[pos + 100]


@pytest.mark.parametrize("impl", IMPLS)
def test_python_record_fallback(impl):
    spec = {"records": {"key": 1, "types": {
        0x20: {"name": "history", "python": _history},
        0x21: {"name": "broken", "python": _broken},
        0x01: {"size": 1, "fields": [{"type": "u8", "quantity": "battery", "unit": "%"}]}}}}
    lay = impl.compile(spec)
    assert lay.decode(bytes.fromhex("2003070809" "0164")) == [
        ("sample", 7, ""), ("sample", 8, ""), ("sample", 9, ""), ("battery", 100, "%")]
    assert _err(impl, spec, bytes.fromhex("0164" "2100")) == (
        "broken at byte 3: IndexError: index out of range", 3, "broken")


# -- selection ------------------------------------------------------------------------


SWITCHED = {
    "fields": [{"offset": 0, "type": "u8", "name": "message type"}],
    "switch": {"offset": 0, "type": "u8", "name": "message type", "cases": {
        1: {"fields": [{"offset": 1, "type": "u8", "bool": True, "quantity": "occupied"}]},
        2: {"fields": [{"offset": 1, "type": "u16", "quantity": "vehicle_count",
                        "unit": "count"}]},
    }},
}


@pytest.mark.parametrize("impl", IMPLS)
def test_switch(impl):
    lay = impl.compile(SWITCHED)
    assert lay.decode(b"\x01\x01") == [("occupied", True, "bool")]
    assert lay.decode(b"\x02\x01\x00") == [("vehicle_count", 256, "count")]
    assert _err(impl, SWITCHED, b"\x07\x00") == (
        "unknown message type 7 at byte 0", 0, "message type")
    assert _err(impl, SWITCHED, b"\x02\x00") == (
        "payload too short for field 'vehicle_count' (u16 at byte 1): "
        "2 bytes given, 3 needed", 1, "vehicle_count")
    assert lay.encode({"vehicle_count": 513}) == b"\x02\x02\x01"
    assert lay.encode({"occupied": True}) == b"\x01\x01"


@pytest.mark.parametrize("impl", IMPLS)
def test_fport(impl):
    spec = {"fport": {"cases": {
        2: {"fields": [{"type": "u8", "quantity": "a"}]},
        3: {"fields": [{"type": "u8", "quantity": "b"}]}}}}
    lay = impl.compile(spec)
    assert lay.decode(b"\x05", 2) == [("a", 5, "")]
    assert lay.decode(b"\x05", 3) == [("b", 5, "")]
    assert _err(impl, spec, b"\x05", 9) == (
        "unexpected fport 9; this layout decodes fport 2, 3", None, "fport")
    assert _err(impl, spec, b"\x05") == (
        "unexpected fport None; this layout decodes fport 2, 3", None, "fport")
    assert lay.encode({"b": 7}, 3) == b"\x07"


@pytest.mark.parametrize("impl", IMPLS)
def test_present_bitmap_blocks(impl):
    spec = {"fields": [{"offset": 0, "type": "u8", "name": "version", "expect": 2}],
            "present": {"offset": 1, "type": "u16", "at": 3, "blocks": [
                {"bit": 0, "size": 4, "name": "pm", "fields": [
                    {"offset": 0, "type": "u16", "scale": 0.1, "quantity": "pm2_5",
                     "unit": "ug/m3"},
                    {"offset": 2, "type": "u16", "scale": 0.1, "quantity": "pm10",
                     "unit": "ug/m3"}]},
                {"bit": 1, "size": 2, "name": "battery", "fields": [
                    {"offset": 0, "type": "u16", "scale": 0.001, "quantity": "battery",
                     "unit": "V"}]}]}}
    lay = impl.compile(spec)
    assert lay.decode(bytes.fromhex("02" "0003" "0064" "00c8" "0bb8")) == [
        ("pm2_5", 10.0, "ug/m3"), ("pm10", 20.0, "ug/m3"), ("battery", 3.0, "V")]
    assert lay.decode(bytes.fromhex("02" "0002" "0bb8")) == [("battery", 3.0, "V")]
    assert _err(impl, spec, bytes.fromhex("02" "0003" "0064")) == (
        "payload too short for block 'pm' at byte 3: 5 bytes given, 7 needed", 3, "pm")
    enc = lay.encode({"pm2_5": 10.0, "pm10": 20.0, "battery": 3.0})
    assert enc == bytes.fromhex("02" "0003" "0064" "00c8" "0bb8")


def _tail(payload, base, fport):
    return [("rest", payload[base:].hex(), "")]


@pytest.mark.parametrize("impl", IMPLS)
def test_python_tail(impl):
    spec = {"fields": [{"type": "u8", "quantity": "x"}], "python": _tail}
    assert impl.compile(spec).decode(b"\x01\xab") == [("x", 1, ""), ("rest", "01ab", "")]


# -- batches, encoding, specs ---------------------------------------------------------


@pytest.mark.parametrize("impl", IMPLS)
def test_decode_many_keeps_going(impl):
    lay = impl.compile(MILESIGHT)
    out = lay.decode_many([bytes.fromhex("01755c"), bytes.fromhex("0175"),
                           bytearray.fromhex("046865")])
    assert out[0] == [("battery", 92, "%")]
    assert isinstance(out[1], DecodeError) and out[1].offset == 0
    assert out[2] == [("humidity", 50.5, "%RH")]


@pytest.mark.parametrize("impl", IMPLS)
def test_encode_round_trip_and_errors(impl):
    lay = impl.compile(MILESIGHT)
    values = {"battery": 92, "temperature": -12.3, "humidity": 50.5}
    data = lay.encode(values)
    assert data == bytes.fromhex("01755c" "036785ff" "046865")
    assert dict((q, v) for q, v, _ in lay.decode(data)) == values
    with pytest.raises(EncodeError, match="does not fit field 'battery'"):
        lay.encode({"battery": 300})
    assert lay.quantities() == {"battery": "%", "temperature": "Cel", "humidity": "%RH"}


@pytest.mark.parametrize(("spec", "message"), [
    ({"fields": [{"type": "u12"}]}, "type must be one of"),
    ({"fields": [{"type": "s16", "mask": 3, "quantity": "x"}]}, "unsigned integer fields only"),
    ({"fields": [{"type": "u8", "mask": 0x100, "quantity": "x"}]}, "does not fit a u8"),
    ({"fields": [{"type": "u8", "quantity": "x", "unit": "furlong"}]}, "unknown unit"),
    ({"fields": [{"type": "u8", "quantity": "x", "scale": 0}]}, "scale must be"),
    ({"fields": [{"type": "u8", "quantity": "x", "colour": 1}]}, "unknown keys"),
    ({"records": {"types": {0x01: {"size": 1, "fields": [
        {"type": "u16", "quantity": "x"}]}}}}, "does not fit the 1 bytes"),
    ({"records": {"types": {}}, "switch": {}}, "only one of"),
    ({"fields": [{"type": "float32", "bool": True, "quantity": "x"}]}, "integer type"),
])
def test_bad_specs_are_rejected(spec, message):
    for impl in (layout.implementation, compiled.both("layout")[1]):
        with pytest.raises(ValueError, match=message):
            impl.compile(spec)


# -- compiled == pure on random layouts and payloads ----------------------------------

_scales = st.sampled_from([1, 0.1, 0.5, 0.01, 0.001, 2.5, 1 / 3, 10])
_types = st.sampled_from(sorted(["u8", "u16", "u24", "u32", "s8", "s16", "s24", "s32",
                                 "float32", "bcd2", "bcd4", "bcd6", "bcd8"]))
_quantities = st.sampled_from(["a", "b", "c", "temperature", "volume"])


@st.composite
def _field(draw, limit=12):
    typ = draw(_types)
    size = {"u8": 1, "s8": 1, "u16": 2, "s16": 2, "u24": 3, "s24": 3, "bcd2": 1, "bcd4": 2,
            "bcd6": 3}.get(typ, 4)
    f = {"offset": draw(st.integers(0, max(0, limit - size))), "type": typ,
         "endian": draw(st.sampled_from(["big", "little"]))}
    mode = draw(st.sampled_from(["number", "number", "bool", "enum", "flags", "expect",
                                 "skip"] if typ[0] in "us" else ["number", "skip"]))
    if typ.startswith("u") and draw(st.booleans()):
        bits = 8 * size
        lo = draw(st.integers(0, bits - 1))
        hi = draw(st.integers(lo, bits - 1))
        f["mask"] = ((1 << (hi + 1)) - 1) ^ ((1 << lo) - 1)
    if mode == "number":
        f["quantity"] = draw(_quantities)
        f["scale"] = draw(_scales)
        f["add"] = draw(st.one_of(st.integers(-100, 100), st.floats(-100, 100)))
        if draw(st.booleans()):
            f["invalid"] = [draw(st.integers(0, 255))]
    elif mode == "bool":
        f["quantity"] = draw(_quantities)
        f["bool"] = True
        f["invert"] = draw(st.booleans())
    elif mode == "enum":
        f["quantity"] = draw(_quantities)
        f["enum"] = {k: f"v{k}" for k in draw(st.sets(st.integers(0, 7), max_size=5))}
    elif mode == "flags":
        f["flags"] = {b: draw(_quantities) for b in draw(
            st.sets(st.integers(0, 8 * size - 1), min_size=1, max_size=4))}
    elif mode == "expect":
        f["expect"] = draw(st.integers(0, 3))
        f["name"] = "version"
    return f


@st.composite
def _spec(draw, depth=0):
    spec = {"fields": draw(st.lists(_field(), max_size=4)),
            "endian": draw(st.sampled_from(["big", "little"]))}
    tail = draw(st.sampled_from(["none", "records", "switch", "present", "fport"]
                                if depth < 2 else ["none", "records"]))
    if tail == "records":
        keysize = draw(st.sampled_from([1, 2]))
        types = {}
        for key in draw(st.sets(st.integers(0, 3), min_size=1, max_size=4)):
            size = draw(st.integers(0, 6))
            types[(key, 0x10 + key) if keysize == 2 else key] = {
                "size": size, "fields": draw(st.lists(_field(size), max_size=2))
                if size >= 4 else [{"type": "u8", "quantity": "a"}] if size else []}
        spec["records"] = {"key": keysize, "types": types,
                           "length": draw(st.booleans()),
                           "unknown": draw(st.sampled_from(["error", "stop"]))}
    elif tail == "switch":
        spec["switch"] = {"offset": draw(st.integers(0, 3)), "type": "u8",
                          "mask": draw(st.sampled_from([0x03, 0x0F, 0xFF])),
                          "cases": {k: draw(_spec(depth + 1)) for k in range(2)}}
        if draw(st.booleans()):
            spec["switch"]["default"] = draw(_spec(depth + 1))
    elif tail == "present":
        spec["present"] = {"offset": 0, "type": "u8", "at": draw(st.integers(0, 4)),
                           "blocks": [{"bit": b, "size": 4, "fields": draw(
                               st.lists(_field(4), max_size=2))} for b in range(3)]}
    elif tail == "fport":
        spec["fport"] = {"cases": {1: draw(_spec(depth + 1)), 2: draw(_spec(depth + 1))}}
    return spec


def _outcome(lay, payload, fport):
    try:
        return "ok", repr(lay.decode(payload, fport))
    except DecodeError as exc:
        return "error", str(exc), exc.offset, exc.field


@pytest.mark.skipif(compiled.both("layout")[0] is None or compiled.NO_EXTENSIONS,
                    reason="needs the compiled layout engine")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=_spec(), payloads=st.lists(st.binary(max_size=24), min_size=1, max_size=6),
       fport=st.sampled_from([None, 1, 2, 3]))
def test_compiled_equals_pure_on_random_layouts(spec, payloads, fport):
    comp, pure = compiled.both("layout")
    try:
        normalize(spec)
    except ValueError:
        return
    lc, lp = comp.compile(spec), pure.compile(spec)
    for payload in payloads:
        assert _outcome(lc, payload, fport) == _outcome(lp, payload, fport)
    many_c = [r if isinstance(r, list) else str(r) for r in lc.decode_many(payloads, fport)]
    many_p = [r if isinstance(r, list) else str(r) for r in lp.decode_many(payloads, fport)]
    assert repr(many_c) == repr(many_p)


@pytest.mark.skipif(compiled.both("layout")[0] is None or compiled.NO_EXTENSIONS,
                    reason="needs the compiled layout engine")
@settings(max_examples=150, deadline=None)
@given(payload=st.binary(max_size=40))
def test_compiled_equals_pure_on_random_milesight_payloads(payload):
    comp, pure = compiled.both("layout")
    assert _outcome(comp.compile(MILESIGHT), payload, None) == _outcome(
        pure.compile(MILESIGHT), payload, None)


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=100, deadline=None)
@given(values=st.fixed_dictionaries({
    "battery": st.integers(0, 100),
    "temperature": st.integers(-400, 800).map(lambda v: v / 10),
    "humidity": st.integers(0, 200).map(lambda v: v / 2)}))
def test_encode_decode_round_trip(impl, values):
    lay = impl.compile(MILESIGHT)
    assert dict((q, v) for q, v, _ in lay.decode(lay.encode(values))) == values


def test_float32_matches_struct():
    for impl in (layout.implementation, compiled.both("layout")[1]):
        lay = impl.compile({"fields": [{"type": "float32", "quantity": "x", "scale": 0.5}]})
        data = struct.pack(">f", 1.1)
        assert lay.decode(data) == [("x", struct.unpack(">f", data)[0] * 0.5, "")]
