"""The native device models: vendor examples, round trips, errors, plugin loading.

Every model builds its layouts with each implementation of the layout engine (compiled
and pure), so each example runs through both twins.
"""

import fnmatch
import importlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import implementations, require_compiled
from hromada import DecodeError, Device, EncodeError, compiled
from hromada.descriptors import FAMILIES
from hromada.model import same_value
from hromada.plugins import PluginHost
from hromada.units import UNITS

VENDORS = ("adeunis", "axioma", "bosch", "decentlab", "dragino", "elsys", "elvaco",
           "milesight", "nas", "netvox", "nwave", "pmx")
IMPLS = implementations("layout")


def _build(impl):
    models = []
    for vendor in VENDORS:
        mod = importlib.import_module(f"hromada_plugins.devices.{vendor}.codec")
        models.extend(mod.build_models(impl))
    return models


_DEFAULT = _build(None)
MODEL_IDS = [m.id for m in _DEFAULT]
EXAMPLES = [(m.id, i) for m in _DEFAULT for i in range(len(m.examples))]


@pytest.fixture(scope="module", params=IMPLS)
def models(request):
    return {m.id: m for m in _build(request.param)}


def _same(got, expected):
    if len(got) != len(expected):
        return False
    for (q1, v1, u1), (q2, v2, u2) in zip(got, expected, strict=True):
        if q1 != q2 or u1 != u2 or not same_value(v1, v2):
            return False
        if isinstance(v2, bool) != isinstance(v1, bool) or isinstance(v1, str) != isinstance(
                v2, str):
            return False
    return True


def test_layout_engine_is_compiled():
    require_compiled("layout")


@pytest.mark.parametrize(("model_id", "index"), EXAMPLES,
                         ids=[f"{m}-{i}" for m, i in EXAMPLES])
def test_vendor_examples(models, model_id, index):
    model = models[model_id]
    ex = model.examples[index]
    got = model.decode(ex.payload, ex.fport, dict(ex.options))
    assert _same(got, list(ex.readings)), f"{ex.description}\n got {got}\n want {ex.readings}"


@pytest.mark.parametrize("impl", IMPLS)
def test_models_run_on_the_requested_engine(impl):
    for model in _build(impl):
        lay = getattr(model.decode, "layout", None)
        assert lay is not None, f"{model.id} does not decode through the layout engine"
        assert type(lay) is impl.Layout


def test_every_model_has_three_examples_and_known_units():
    for model in _DEFAULT:
        assert len(model.examples) >= 3, model.id
        assert model.family in FAMILIES
        assert model.encode is not None and model.simulate is not None, model.id
        for quantity, unit in model.quantities.items():
            assert unit in UNITS, f"{model.id}: {quantity} has unknown unit {unit!r}"


def _declared(model, quantity, unit):
    for pattern, declared in model.quantities.items():
        if fnmatch.fnmatchcase(quantity, pattern):
            return declared == unit
    return False


def test_readings_are_declared_quantities():
    for model in _DEFAULT:
        for ex in model.examples:
            for q, _v, unit in model.decode(ex.payload, ex.fport, dict(ex.options)):
                assert _declared(model, q, unit), f"{model.id}: {q} [{unit}] not declared"


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_simulate_encode_decode_round_trip(models, model_id):
    model = models[model_id]
    device = Device(id=f"sim-{model_id}", model=model_id)
    for k in range(12):
        t = 1_700_000_000 + k * 7919
        values = model.simulate(device, t, random.Random(k))
        again = model.simulate(device, t, random.Random(k))
        assert values == again, "simulate must be deterministic for a given rng"
        fport, payload = model.encode(values, {})
        decoded = {}
        for q, v, _unit in model.decode(payload, fport, {}):
            decoded.setdefault(q, v)
        for q, v in values.items():
            assert q in decoded, f"{model_id}: {q} lost in the round trip"
            assert same_value(decoded[q], v), f"{model_id}: {q} {v!r} -> {decoded[q]!r}"


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_example_readings_encode_back(models, model_id):
    """Examples whose readings the encoder can carry give the same readings back."""
    model = models[model_id]
    for ex in model.examples:
        values = {q: v for q, v, _u in ex.readings}
        if not values:
            continue
        try:
            fport, payload = model.encode(values, dict(ex.options))
        except EncodeError:
            continue
        got = {q: v for q, v, _u in model.decode(payload, fport, dict(ex.options))}
        for q, v in values.items():
            if q in got:
                assert same_value(got[q], v), f"{model_id}: {q}"


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_truncated_payloads_raise_decode_error_only(models, model_id):
    model = models[model_id]
    for ex in model.examples:
        for cut in range(len(ex.payload)):
            try:
                model.decode(ex.payload[:cut], ex.fport, dict(ex.options))
            except DecodeError as exc:
                assert exc.offset is None or exc.offset >= 0
                assert str(exc)


@pytest.mark.parametrize(("model_id", "payload", "fport", "message"), [
    ("milesight/em310-udl", "01755C0382", 85,
     "payload too short for record 'distance' (0x0382) at byte 3: 5 bytes given, 7 needed"),
    ("milesight/em300-th", "0175", 85,
     "payload too short for record 'battery' (0x0175) at byte 0: 2 bytes given, 3 needed"),
    ("dragino/ldds75", "0B450B05", 2, "payload has 4 bytes, the layout needs exactly 8"),
    ("axioma/qalcosonic-w1", "00105E5F0040E201", 100,
     "payload too short for field 'volume' (u32 at byte 5): 8 bytes given, 9 needed"),
    ("decentlab/dl-pm", "021b50000f0c25", 1,
     "payload too short for block 'particulate matter' at byte 7: 7 bytes given, "
     "27 needed"),
    ("decentlab/dl-pm", "031b5000010c25", 1, "field 'protocol version' at byte 0 is 3, "
                                             "expected 2"),
    ("elvaco/cmi4110", "000C06526761", 2,
     "payload too short for record 'energy' (0x0c06) at byte 1: 6 bytes given, 7 needed"),
    ("adeunis/pulse", "4620000027", 1,
     "payload too short for field 'pulse_count_a' (u32 at byte 2): 5 bytes given, "
     "6 needed"),
    ("adeunis/pulse", "99", 1, "unknown frame code 153 at byte 0"),
    ("bosch/tps110", "01", 9, "unexpected fport 9; this layout decodes fport 1, 2, 3, 4, 5, 6"),
    ("elsys/ers-co2", "0600", 5,
     "payload too short for record 'co2' (0x06) at byte 0: 2 bytes given, 3 needed"),
])
def test_decode_error_messages(models, model_id, payload, fport, message):
    model = models[model_id]
    data = bytes.fromhex(payload)
    with pytest.raises(DecodeError) as info:
        model.decode(data, fport, {})
    assert str(info.value) == message


@pytest.mark.parametrize("impl", IMPLS)
def test_elvaco_bcd_error(impl):
    model = {m.id: m for m in _build(impl)}["elvaco/cmi4110"]
    with pytest.raises(DecodeError) as info:
        model.decode(bytes.fromhex("000C065267610A"), 2, {})
    assert str(info.value) == "field 'energy' at byte 6 is not BCD (byte 0x0a)"
    assert info.value.offset == 6


@pytest.mark.parametrize("model_id", MODEL_IDS)
@settings(max_examples=40, deadline=None)
@given(payload=st.binary(max_size=40), fport=st.sampled_from([1, 2, 3, 5, 85, 100]))
def test_random_bytes_only_raise_decode_error(model_id, payload, fport):
    model = {m.id: m for m in _DEFAULT}[model_id]
    try:
        out = model.decode(payload, fport, {})
    except DecodeError:
        return
    assert isinstance(out, list)


@pytest.mark.skipif(compiled.both("layout")[0] is None or compiled.NO_EXTENSIONS,
                    reason="needs the compiled layout engine")
@pytest.mark.parametrize("model_id", MODEL_IDS)
@settings(max_examples=40, deadline=None)
@given(payload=st.binary(max_size=40), fport=st.sampled_from([1, 2, 3, 85]))
def test_compiled_models_match_pure_models(model_id, payload, fport):
    comp, pure = compiled.both("layout")
    mc = {m.id: m for m in _COMPILED}[model_id]
    mp = {m.id: m for m in _PURE}[model_id]

    def outcome(m):
        try:
            return repr(m.decode(payload, fport, {}))
        except DecodeError as exc:
            return f"error {exc} @ {exc.offset} {exc.field}"
    assert outcome(mc) == outcome(mp)


_COMPILED = _build(compiled.both("layout")[0]) if compiled.both("layout")[0] else []
_PURE = _build(compiled.both("layout")[1])


# -- fill levels and downlinks ----------------------------------------------------------


def test_bin_fill_level_follows_bin_depth():
    model = {m.id: m for m in _DEFAULT}["milesight/em310-udl"]
    payload = bytes.fromhex("03824C04")  # 1100 mm to the waste
    levels = {depth: dict((q, v) for q, v, _ in model.decode(payload, 85,
                                                             {"bin_depth_mm": depth}))
              for depth in (1000, 2000, 4400)}
    assert levels[1000]["fill_level"] == 0.0   # further than the bottom: empty
    assert levels[2000]["fill_level"] == 45.0
    assert levels[4400]["fill_level"] == 75.0
    assert [o.name for o in model.options] == ["bin_depth_mm"]


def test_ws558_downlink():
    model = {m.id: m for m in _DEFAULT}["milesight/ws558"]
    enc = model.encode_downlink
    assert enc({"on": True}, {}) == (85, bytes.fromhex("080101"))
    assert enc({"on": False}, {}) == (85, bytes.fromhex("080100"))
    assert enc({"lamp_on_3": True, "lamp_on_1": False}, {}) == (85, bytes.fromhex("080504"))
    assert enc({"switches": {8: True}}, {}) == (85, bytes.fromhex("088080"))
    with pytest.raises(EncodeError, match="cannot dim"):
        enc({"dim": 40}, {})
    with pytest.raises(EncodeError, match="switch 9 does not exist"):
        enc({"switches": {9: True}}, {})


def test_axioma_alarm_flags():
    model = {m.id: m for m in _DEFAULT}["axioma/qalcosonic-w1"]
    for code, alarm in ((0x30, "leak"), (0x70, "backflow"), (0xD0, "tamper"),
                        (0xB0, "burst")):
        data = bytes.fromhex("00105E5F") + bytes([code]) + bytes.fromhex("E8030000")
        got = {q: v for q, v, _ in model.decode(data, 100, {})}
        assert got[alarm] is True
        assert sum(got[a] for a in ("leak", "backflow", "tamper", "burst", "dry")) == 1
        fport, enc = model.encode({"volume": 1.0, "meter_time": 1600000000, alarm: True}, {})
        assert enc == data and fport == 100


# -- the plugin host ------------------------------------------------------------------


def test_models_load_through_the_plugin_host():
    host = PluginHost()
    mine = [e for e in host.errors if e[0] in VENDORS]
    assert mine == []
    for vendor in VENDORS:
        assert host.plugins[vendor].status == "loaded"
    ids = set(MODEL_IDS)
    assert ids <= set(host.device_models)
    for model_id in ids:
        assert host.owner("device_models", model_id) == model_id.split("/")[0]


def test_model_coverage():
    families = {m.family for m in _DEFAULT}
    assert len(_DEFAULT) >= 24
    for family in ("water_meter", "gas_meter", "heat_meter", "electricity_meter",
                   "pulse_counter", "waste_bin", "air_quality", "noise", "climate",
                   "street_light", "parking", "people_counter", "traffic_counter"):
        assert family in families, family
    def dims(model):
        try:
            return model.encode_downlink({"dim": 40}, {})[1] != b""
        except EncodeError:
            return False  # switches only (milesight/ws558)
    dimmable = [m.id for m in _DEFAULT if m.family == "street_light" and m.encode_downlink
                and dims(m)]
    assert dimmable, "no street light takes a dimming downlink"


def test_simulated_registers_never_go_backwards_and_are_repeatable():
    import random

    from hromada import Device
    from hromada.plugins import PluginHost

    models = PluginHost().device_models
    water = models["axioma/qalcosonic-w1"]
    dev = Device("0011223344556677", water.id)
    t0 = 1780261200
    volumes = [water.simulate(dev, t0 + i * 900, random.Random(i))["volume"] for i in range(200)]
    assert volumes == sorted(volumes) and volumes[-1] > volumes[0]
    alarms = {water.simulate(dev, t0 + i * 900, random.Random(i))["alarm"] for i in range(500)}
    assert alarms == {"none"}
    bay = models["bosch/tps110"]
    dev = Device("70b3d57ed0000042", bay.id)
    states = [bay.simulate(dev, t0 + i * 1800, random.Random(0))["occupied"] for i in range(48)]
    assert states == [bay.simulate(dev, t0 + i * 1800, random.Random(99))["occupied"]
                      for i in range(48)]
    assert True in states and False in states
