"""Cayenne LPP codec (hromada._lpp and its twin hromada._lpp_py) and the cayenne/lpp model.

Every test body runs against both implementations; random payloads check that they
agree byte for byte, error for error.
"""

import fnmatch
import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import implementations, require_compiled
from hromada import Device, compiled
from hromada.errors import DecodeError, EncodeError
from hromada.units import UNITS

IMPLS = implementations("lpp")


@pytest.fixture(params=IMPLS)
def impl(request):
    return request.param


def h(s):
    return bytes.fromhex(s.replace(" ", ""))


def test_compiled_loads():
    require_compiled("lpp")
    from hromada import lpp

    assert lpp.IMPLEMENTATION == "compiled"
    assert lpp.decode is compiled.both("lpp")[0].decode


def test_public_module_reexports():
    from hromada import _lpp_py, lpp

    assert lpp.TYPES is _lpp_py.TYPES
    assert lpp.IMPLEMENTATION == ("pure" if compiled.NO_EXTENSIONS else "compiled")
    for name in ("decode", "decode_many", "encode"):
        assert callable(getattr(lpp, name))


# -- documented examples -------------------------------------------------------------

DOCUMENTED = [
    # myDevices "Cayenne Low Power Payload" document, section Examples.
    ("03 67 01 10 05 67 00 FF",
     [("temperature_3", 27.2, "Cel"), ("temperature_5", 25.5, "Cel")]),
    ("01 67 FF D7", [("temperature_1", -4.1, "Cel")]),
    ("06 71 04 D2 FB 2E 00 00",
     [("accelerometer_6_x", 1.234, "gn"), ("accelerometer_6_y", -1.234, "gn"),
      ("accelerometer_6_z", 0.0, "gn")]),
    ("01 88 06 76 5F F2 96 0A 00 03 E8",
     [("gps_1_latitude", 42.3519, "lat"), ("gps_1_longitude", -87.9094, "lon"),
      ("gps_1_altitude", 10.0, "m")]),
]


@pytest.mark.parametrize("payload,expected", DOCUMENTED)
def test_documented_examples(impl, payload, expected):
    assert impl.decode(h(payload)) == expected


def test_empty_payload(impl):
    assert impl.decode(b"") == []
    assert impl.decode_many([]) == []
    assert impl.decode_many([b"", b""]) == [[], []]


# -- every type, with its boundary values ----------------------------------------------

EVERY_TYPE = [
    ("01 00 00", [("digital_input_1", 0, "")]),
    ("01 00 FF", [("digital_input_1", 255, "")]),
    ("02 01 01", [("digital_output_2", 1, "")]),
    ("03 02 80 00", [("analog_input_3", -327.68, "")]),
    ("03 02 7F FF", [("analog_input_3", 327.67, "")]),
    ("03 02 FF FF", [("analog_input_3", -0.01, "")]),
    ("04 03 00 01", [("analog_output_4", 0.01, "")]),
    ("05 64 FF FF FF FF", [("generic_sensor_5", 4294967295, "")]),
    ("06 65 FF FF", [("illuminance_6", 65535, "lx")]),
    ("07 66 01", [("presence_7", 1, "bool")]),
    ("08 67 80 00", [("temperature_8", -3276.8, "Cel")]),
    ("08 67 7F FF", [("temperature_8", 3276.7, "Cel")]),
    ("09 68 FF", [("relative_humidity_9", 127.5, "%RH")]),
    ("09 68 01", [("relative_humidity_9", 0.5, "%RH")]),
    ("0A 71 80 00 7F FF 00 01",
     [("accelerometer_10_x", -32.768, "gn"), ("accelerometer_10_y", 32.767, "gn"),
      ("accelerometer_10_z", 0.001, "gn")]),
    ("0B 73 FF FF", [("barometric_pressure_11", 6553.5, "hPa")]),
    ("0B 73 27 9D", [("barometric_pressure_11", 1014.1, "hPa")]),
    ("0C 74 FF FF", [("voltage_12", 655.35, "V")]),
    ("0C 74 01 68", [("voltage_12", 3.6, "V")]),
    ("0D 75 FF FF", [("current_13", 65.535, "A")]),
    ("0E 76 FF FF FF FF", [("frequency_14", 4294967295, "Hz")]),
    ("0F 78 64", [("percentage_15", 100, "%")]),
    ("10 79 80 00", [("altitude_16", -32768, "m")]),
    ("10 79 7F FF", [("altitude_16", 32767, "m")]),
    ("11 7A 80 00 00", [("load_17", -8388.608, "kg")]),
    ("11 7A 7F FF FF", [("load_17", 8388.607, "kg")]),
    ("12 7D 01 90", [("concentration_18", 400, "ppm")]),
    ("13 80 FF FF", [("power_19", 65535, "W")]),
    ("14 82 FF FF FF FF", [("distance_20", 4294967.295, "m")]),
    ("15 83 00 00 30 39", [("energy_21", 12.345, "kWh")]),
    ("16 84 01 67", [("direction_22", 359, "deg")]),
    ("17 85 65 53 F1 00", [("unixtime_23", 1700000000, "s")]),
    ("18 86 80 00 7F FF FF FF",
     [("gyrometer_24_x", -327.68, "deg/s"), ("gyrometer_24_y", 327.67, "deg/s"),
      ("gyrometer_24_z", -0.01, "deg/s")]),
    ("19 87 FF 80 00", [("colour_25_r", 255, ""), ("colour_25_g", 128, ""),
                        ("colour_25_b", 0, "")]),
    ("1A 88 80 00 00 7F FF FF FF FF FF",
     [("gps_26_latitude", -838.8608, "lat"), ("gps_26_longitude", 838.8607, "lon"),
      ("gps_26_altitude", -0.01, "m")]),
    ("FF 8E 01", [("switch_255", 1, "bool")]),
    ("00 67 00 00", [("temperature_0", 0.0, "Cel")]),
]


@pytest.mark.parametrize("payload,expected", EVERY_TYPE)
def test_every_type(impl, payload, expected):
    got = impl.decode(h(payload))
    assert got == expected
    # ints where the resolution is 1, floats otherwise (== alone would let 1 == 1.0 pass)
    assert [type(v) for _, v, _ in got] == [type(v) for _, v, _ in expected]


def test_every_type_is_covered(impl):
    covered = {h(p)[1] for p, _ in EVERY_TYPE}
    assert covered == set(impl.TYPES)
    assert len(impl.TYPES) == 27


def test_type_table(impl):
    t = impl.TYPES[136]
    assert (t.id, t.name, t.size, t.signed) == (136, "gps", 9, True)
    assert t.axes == ("latitude", "longitude", "altitude")
    assert t.divisor == (10000, 10000, 100)
    assert t.scale == (1 / 10000, 1 / 10000, 1 / 100)
    assert t.unit == ("lat", "lon", "m")
    assert impl.TYPES[104].scale == (0.5,) and impl.TYPES[104].unit == ("%RH",)
    assert impl.TYPES[103].size == 2 and impl.TYPES[103].value_size == 2
    for t in impl.TYPES.values():
        n = max(1, len(t.axes))
        assert len(t.scale) == len(t.unit) == len(t.divisor) == n
        assert t.size == n * t.value_size
        assert t.id == t.id & 0xFF
        for unit in t.unit:
            assert unit in UNITS


def test_multiple_records_in_order(impl):
    payload = h("01 67 00 E1  02 68 50  01 67 FF 38  03 73 27 9D")
    assert impl.decode(payload) == [
        ("temperature_1", 22.5, "Cel"),
        ("relative_humidity_2", 40.0, "%RH"),
        ("temperature_1", -20.0, "Cel"),
        ("barometric_pressure_3", 1014.1, "hPa"),
    ]


def test_bytes_like_inputs(impl):
    payload = h("03 67 01 10 05 67 00 FF")
    want = impl.decode(payload)
    assert impl.decode(bytearray(payload)) == want
    assert impl.decode(memoryview(payload)) == want
    assert impl.decode(memoryview(b"xx" + payload)[2:]) == want

    class Sub(bytes):
        pass

    assert impl.decode(Sub(payload)) == want
    assert impl.decode_many([bytearray(payload), payload]) == [want, want]


@pytest.mark.parametrize("bad", ["0367", 3, None, [3, 103, 1, 16]])
def test_not_bytes(impl, bad):
    with pytest.raises(TypeError, match="LPP payload must be bytes-like, not "):
        impl.decode(bad)


# -- errors ----------------------------------------------------------------------------

ERRORS = [
    ("03", "truncated LPP record: channel 3 at byte 0 has no type byte", 1, "type"),
    ("03 67 01 10 05",
     "truncated LPP record: channel 5 at byte 4 has no type byte", 5, "type"),
    ("03 FF", "unknown LPP type 255 on channel 3 at byte 1", 1, "type"),
    ("03 67 01 10 07 05 00", "unknown LPP type 5 on channel 7 at byte 5", 5, "type"),
    # the old "PPM"/"RGB" ids of one ElectronicCats release are not decoded
    ("01 8F 01 90", "unknown LPP type 143 on channel 1 at byte 1", 1, "type"),
    ("03 67 01",
     "truncated LPP record: type temperature on channel 3 needs 2 bytes at byte 2, 1 left",
     2, "temperature"),
    ("03 67",
     "truncated LPP record: type temperature on channel 3 needs 2 bytes at byte 2, 0 left",
     2, "temperature"),
    ("01 88 06 76 5F F2 96 0A 00 03",
     "truncated LPP record: type gps on channel 1 needs 9 bytes at byte 2, 8 left",
     2, "gps"),
    ("03 67 01 10 06 71 04 D2 FB 2E 00",
     "truncated LPP record: type accelerometer on channel 6 needs 6 bytes at byte 6, "
     "5 left", 6, "accelerometer"),
]


@pytest.mark.parametrize("payload,message,offset,field", ERRORS)
def test_errors(impl, payload, message, offset, field):
    with pytest.raises(DecodeError) as info:
        impl.decode(h(payload))
    assert str(info.value) == message
    assert info.value.offset == offset
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


def test_decode_many_matches_decode(impl):
    payloads = [h(p) for p, _ in DOCUMENTED + EVERY_TYPE]
    assert impl.decode_many(payloads) == [impl.decode(p) for p in payloads]
    assert impl.decode_many(iter(payloads[:3])) == [impl.decode(p) for p in payloads[:3]]


def test_decode_many_error_names_the_payload(impl):
    good = h("03 67 01 10")
    with pytest.raises(DecodeError) as info:
        impl.decode_many([good, good, h("03 FF"), h("03")])
    assert str(info.value) == "unknown LPP type 255 on channel 3 at byte 1"
    assert info.value.index == 2


# -- compiled vs pure on random input --------------------------------------------------

# With HROMADA_NO_EXTENSIONS set only the pure twin runs, even where the build exists.
_comp, _pure = compiled.both("lpp")
if compiled.NO_EXTENSIONS:
    _comp = None
_KNOWN = sorted(_pure.TYPES)


def _outcome(mod, payload):
    try:
        return ("ok", mod.decode(payload))
    except DecodeError as exc:
        return ("error", type(exc), str(exc), exc.offset, exc.field)


def _record_bytes():
    """One well-formed record of a known type (random channel and value bytes)."""
    return st.sampled_from(_KNOWN).flatmap(lambda tid: st.tuples(
        st.integers(0, 255), st.just(tid),
        st.binary(min_size=_pure.TYPES[tid].size, max_size=_pure.TYPES[tid].size),
    )).map(lambda r: bytes([r[0], r[1]]) + r[2])


_valid = st.lists(_record_bytes(), max_size=8).map(b"".join)

_payloads = st.one_of(
    _valid,
    st.binary(max_size=64),
    # well-formed records, then garbage (unknown types, short records)
    st.tuples(_valid, st.binary(min_size=1, max_size=12)).map(lambda t: t[0] + t[1]),
    # well-formed records cut anywhere
    st.tuples(_valid, st.integers(0, 80)).map(lambda t: t[0][: t[1]]),
)


@pytest.mark.skipif(_comp is None, reason="compiled hromada._lpp not built or HROMADA_NO_EXTENSIONS set")
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_payloads)
def test_compiled_equals_pure(payload):
    a, b = _outcome(_comp, payload), _outcome(_pure, payload)
    assert a == b
    if a[0] == "ok":
        assert [type(v) for _, v, _ in a[1]] == [type(v) for _, v, _ in b[1]]


@pytest.mark.skipif(_comp is None, reason="compiled hromada._lpp not built or HROMADA_NO_EXTENSIONS set")
@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(_valid, _valid, _payloads), max_size=20))
def test_compiled_equals_pure_batch(payloads):
    try:
        a = _comp.decode_many(payloads)
    except DecodeError as exc:
        a = (str(exc), exc.index)
    try:
        b = _pure.decode_many(payloads)
    except DecodeError as exc:
        b = (str(exc), exc.index)
    assert a == b


# -- encode ------------------------------------------------------------------------------


def test_encode_documented(impl):
    assert impl.encode({"temperature_3": 27.2, "temperature_5": 25.5}) == h(
        "03 67 01 10 05 67 00 FF")
    assert impl.encode([("gps_1_latitude", 42.3519), ("gps_1_longitude", -87.9094),
                        ("gps_1_altitude", 10)]) == h("01 88 06 76 5F F2 96 0A 00 03 E8")
    # axes in any order still make one record, x-y-z on the wire
    assert impl.encode({"accelerometer_6_z": 0, "accelerometer_6_x": 1.234,
                        "accelerometer_6_y": -1.234}) == h("06 71 04 D2 FB 2E 00 00")


def test_encode_rounds_to_resolution(impl):
    # the reference C encoders truncate (42.3519 -> 42.3518); this one rounds
    assert impl.encode({"temperature_1": 27.26}) == h("01 67 01 11")
    assert impl.encode({"temperature_1": -4.14}) == h("01 67 FF D7")
    assert impl.encode({"relative_humidity_2": 30.3}) == h("02 68 3D")
    assert impl.encode({"barometric_pressure_3": 1073.21}) == h("03 73 29 EC")
    assert impl.encode({"switch_1": True, "percentage_2": 99.6}) == h("01 8E 01 02 78 64")
    assert impl.encode({}) == b""


def test_encode_order_is_first_appearance(impl):
    got = impl.encode([("voltage_4", 3.6), ("temperature_1", 20), ("gps_2_altitude", 1),
                       ("gps_2_latitude", 0), ("gps_2_longitude", 0)])
    assert got == h("04 74 01 68  01 67 00 C8  02 88 000000 000000 000064")


ENCODE_ERRORS = [
    ({"temperature_3": 5000},
     "temperature_3 = 5000 is out of range for LPP temperature: -3276.8 to 3276.7 Cel"),
    ({"voltage_1": -0.01},
     "voltage_1 = -0.01 is out of range for LPP voltage: 0.0 to 655.35 V"),
    ({"altitude_1": 40000},
     "altitude_1 = 40000 is out of range for LPP altitude: -32768 to 32767 m"),
    ({"colour_1_r": 256, "colour_1_g": 0, "colour_1_b": 0},
     "colour_1_r = 256 is out of range for LPP colour: 0 to 255"),
    ({"gps_1_latitude": 1},
     "LPP gps on channel 1 needs all of its axes; missing gps_1_longitude, gps_1_altitude"),
    ({"humidity_1": 50},
     "unknown LPP quantity 'humidity_1': expected '<type>_<channel>' with a type from "
     "hromada.lpp.TYPES, e.g. 'temperature_1'"),
    ({"temperature": 1},
     "unknown LPP quantity 'temperature': expected '<type>_<channel>' with a type from "
     "hromada.lpp.TYPES, e.g. 'temperature_1'"),
    ({"temperature_256": 1}, "LPP channel 256 in 'temperature_256' is out of range 0..255"),
    ({"temperature_1_x": 1}, "unknown LPP quantity 'temperature_1_x': temperature has no axes"),
    ({"accelerometer_1": 1},
     "LPP quantity 'accelerometer_1' needs an axis: give accelerometer_1_x, "
     "accelerometer_1_y, accelerometer_1_z"),
    ({"gyrometer_1_w": 1},
     "LPP quantity 'gyrometer_1_w' needs an axis: give gyrometer_1_x, gyrometer_1_y, "
     "gyrometer_1_z"),
    ([("temperature_1", 1), ("temperature_1", 2)], "LPP quantity 'temperature_1' given twice"),
    ({"temperature_1": "warm"}, "value of temperature_1 must be a number, not 'warm'"),
    ({"temperature_1": None}, "value of temperature_1 must be a number, not None"),
    ({"temperature_1": math.inf}, "value of temperature_1 must be finite, not inf"),
    ([("temperature_1",)], "expected (quantity, value) pairs, got ('temperature_1',)"),
]


@pytest.mark.parametrize("values,message", ENCODE_ERRORS)
def test_encode_errors(impl, values, message):
    with pytest.raises(EncodeError) as info:
        impl.encode(values)
    assert str(info.value) == message


def _raw_range(t):
    bits = 8 * t.value_size
    if t.signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


@st.composite
def _records(draw):
    """[(type, channel, [raw, ...]), ...] with unique (type, channel)."""
    keys = draw(st.lists(st.tuples(st.sampled_from(_KNOWN), st.integers(0, 255)),
                         max_size=6, unique=True))
    out = []
    for tid, ch in keys:
        t = _pure.TYPES[tid]
        lo, hi = _raw_range(t)
        raws = [draw(st.integers(lo, hi)) for _ in t.divisor]
        out.append((tid, ch, raws))
    return out


def _wire(records):
    out = bytearray()
    for tid, ch, raws in records:
        t = _pure.TYPES[tid]
        out += bytes([ch, tid])
        for raw in raws:
            out += raw.to_bytes(t.value_size, "big", signed=t.signed)
    return bytes(out)


@settings(max_examples=200, deadline=None)
@given(_records())
def test_round_trip_exact(records):
    values, readings = [], []
    for tid, ch, raws in records:
        t = _pure.TYPES[tid]
        suffixes = [f"_{a}" for a in t.axes] or [""]
        for raw, div, unit, sfx in zip(raws, t.divisor, t.unit, suffixes, strict=True):
            q = f"{t.name}_{ch}{sfx}"
            v = raw if div == 1 else raw / div
            values.append((q, v))
            readings.append((q, v, unit))
    wire = _wire(records)
    for mod in filter(None, (_comp, _pure)):
        assert mod.encode(values) == wire
        assert mod.encode(dict(values)) == wire
        assert mod.decode(wire) == readings


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(_KNOWN), st.integers(0, 255), st.data())
def test_round_trip_quantises(tid, ch, data):
    t = _pure.TYPES[tid]
    lo, hi = _raw_range(t)
    suffixes = [f"_{a}" for a in t.axes] or [""]
    values = {}
    for div, sfx in zip(t.divisor, suffixes, strict=True):
        # stay half a step inside the range so that rounding cannot leave it
        x = data.draw(st.floats((lo + 0.5) / div, (hi - 0.5) / div, allow_nan=False))
        values[f"{t.name}_{ch}{sfx}"] = x
    for mod in filter(None, (_comp, _pure)):
        got = mod.decode(mod.encode(values))
        assert [q for q, _, _ in got] == list(values)
        for (q, v, _), div in zip(got, t.divisor, strict=True):
            assert abs(v - values[q]) <= 0.5 / div + 1e-9 * abs(values[q])


# -- cross-check against pycayennelpp (not a project dependency) --------------------------

CROSS = [
    "03 67 01 10 05 67 00 FF",
    "01 67 FF D7 06 71 04 D2 FB 2E 00 00",
    "01 88 06 76 5F F2 96 0A 00 03 E8",
    "00 67 FF D7 01 71 04 D2 FB 2E 00 00 03 68 3C 04 73 27 9D 05 88 06 76 5F F2 96 0A 00 03 E8",
    "01 00 FF 02 01 00 03 02 80 00 04 03 7F FF 05 64 FF FF FF FF 06 65 12 34 07 66 01",
    "08 74 01 68 09 75 03 E8 0A 76 00 01 86 A0 0B 78 64 0C 79 FF 9C 0D 7A FF FF FF",
    "0E 7D 01 90 0F 80 00 64 10 82 00 00 30 39 11 83 00 01 E2 40 12 84 01 67",
    "13 85 65 53 F1 00 14 86 80 00 7F FF 00 01 15 87 FF 80 00 16 8E 01",
]


@pytest.mark.parametrize("payload", CROSS)
def test_cross_check_pycayennelpp(impl, payload):
    cayennelpp = pytest.importorskip("cayennelpp")
    data = h(payload)
    frame = cayennelpp.LppFrame().from_bytes(data)
    theirs = []
    for item in frame.data:
        for v in item.value:
            theirs.append((item.channel, int(item.type), v))
    ours = impl.decode(data)
    assert len(ours) == len(theirs)
    for (q, v, _), (ch, tid, their_v) in zip(ours, theirs, strict=True):
        assert q.startswith(f"{impl.TYPES[tid].name}_{ch}")
        assert v == their_v  # both divide the raw int once: the same double


def test_cross_check_pycayennelpp_encode(impl):
    cayennelpp = pytest.importorskip("cayennelpp")
    frame = cayennelpp.LppFrame()
    frame.add_temperature(3, 27.2)
    frame.add_humidity(4, 30.5)
    frame.add_barometer(5, 1014.1)
    frame.add_gps(1, 42.3519, -87.9094, 10)
    frame.add_load(2, -1.5)
    ours = impl.encode({"temperature_3": 27.2, "relative_humidity_4": 30.5,
                        "barometric_pressure_5": 1014.1, "gps_1_latitude": 42.3519,
                        "gps_1_longitude": -87.9094, "gps_1_altitude": 10, "load_2": -1.5})
    assert ours == bytes(frame)


# -- the cayenne/lpp device model ----------------------------------------------------------


@pytest.fixture(scope="module")
def model():
    from hromada_plugins.devices import cayenne

    models = cayenne.hromada_device_models()
    assert len(models) == 1
    return models[0]


def test_model_descriptor(model):
    assert model.id == "cayenne/lpp"
    assert model.family == "generic"
    assert model.vendor == "cayenne"
    assert model.vendor_url.startswith("https://")
    assert len(model.examples) >= 5
    assert model.quantities["temperature_*"] == "Cel"
    assert model.quantities["gps_*_latitude"] == "lat"
    assert model.quantities["accelerometer_*_x"] == "gn"
    for unit in model.quantities.values():
        assert unit in UNITS


def test_model_entry_point():
    from importlib.metadata import entry_points

    eps = {ep.name: ep.value for ep in entry_points(group="hromada")}
    assert eps.get("cayenne") == "hromada_plugins.devices.cayenne"


def test_model_examples(model):
    for ex in model.examples:
        assert model.decode(ex.payload, ex.fport, ex.options) == list(ex.readings), \
            ex.description
    first = model.examples[0]
    assert first.payload == h("03 67 01 10 05 67 00 FF")
    assert first.readings == (("temperature_3", 27.2, "Cel"), ("temperature_5", 25.5, "Cel"))


def test_model_quantities_cover_every_reading(model):
    for payload, _ in EVERY_TYPE:
        for q, _, unit in model.decode(h(payload), 1, {}):
            units = {u for pat, u in model.quantities.items() if fnmatch.fnmatchcase(q, pat)}
            assert units == {unit}, q


def test_model_encode(model):
    assert model.encode({"temperature_3": 27.2}, {}) == (1, h("03 67 01 10"))
    assert model.encode({"temperature_3": 27.2}, {"fport": 9}) == (9, h("03 67 01 10"))
    with pytest.raises(EncodeError):
        model.encode({"nonsense": 1}, {})


def test_model_decode_errors(model):
    with pytest.raises(DecodeError, match="unknown LPP type 255 on channel 3 at byte 1"):
        model.decode(h("03 FF"), 1, {})


def test_simulate(model):
    dev = Device(id="70b3d57ed0000001", model="cayenne/lpp")
    t0 = 1_700_000_000.0
    a = model.simulate(dev, t0, random.Random(7))
    b = model.simulate(dev, t0, random.Random(7))
    assert a == b
    assert list(a) == ["temperature_1", "relative_humidity_2", "barometric_pressure_3",
                       "voltage_4"]
    # the values are already at LPP resolution: they come back unchanged
    fport, payload = model.encode(a, {})
    assert fport == 1
    assert len(payload) == 15
    assert {q: v for q, v, _ in model.decode(payload, fport, {})} == a

    rng = random.Random(1)
    temps = [model.simulate(dev, t0 + i * 600, rng)["temperature_1"] for i in range(144)]
    assert -5 < min(temps) < max(temps) < 25
    assert max(temps) - min(temps) > 6  # a daily wave, not just noise
    for i in range(0, 86400 * 30, 86400 // 7):
        v = model.simulate(dev, t0 + i, rng)
        assert 15 <= v["relative_humidity_2"] <= 100
        assert 980 < v["barometric_pressure_3"] < 1045
        assert 3.0 <= v["voltage_4"] <= 3.7
    other = model.simulate(Device(id="70b3d57ed0000002", model="cayenne/lpp"), t0,
                           random.Random(7))
    assert other != a
