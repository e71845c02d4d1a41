"""PMX TCR radar traffic counter: vendor examples, categories, errors, rush hours."""

import random

import pytest

from conftest import implementations
from hromada import DecodeError, Device, EncodeError
from hromada.testing import assert_readings
from hromada_plugins.devices.pmx import codec

IMPLS = implementations("layout")
FRAME = bytes.fromhex("A2140A03E832044C3433")  # 20:10, 1000 at 50 km/h, 1100 at 52, 5.1 V


@pytest.fixture(scope="module", params=IMPLS)
def tcr(request):
    (model,) = codec.build_models(request.param)
    return model


def test_examples_decode_exactly_in_order(tcr):
    assert len(tcr.examples) >= 3
    for ex in tcr.examples:
        got = tcr.decode(ex.payload, ex.fport, {})
        assert [r[0] for r in got] == [r[0] for r in ex.readings], ex.description
        assert_readings(got, ex.readings)


@pytest.mark.parametrize(("fport", "prefix"), [(13, "vehicle_count"),
                                               (14, "vehicle_count_cat1"),
                                               (15, "vehicle_count_cat2"),
                                               (16, "vehicle_count_cat3"),
                                               (17, "vehicle_count_cat4")])
def test_each_port_is_one_counter(tcr, fport, prefix):
    got = dict((q, v) for q, v, _u in tcr.decode(FRAME, fport, {}))
    assert got[f"{prefix}_ltr"] == 1000 and got[f"{prefix}_rtl"] == 1100
    assert got[prefix] == 2100
    assert got["voltage"] == 5.1
    assert sum(q.startswith("vehicle_count") for q in got) == 3


def test_trailing_bytes_of_newer_firmware_are_ignored(tcr):
    assert tcr.decode(FRAME + b"\xff", 13, {}) == tcr.decode(FRAME, 13, {})


@pytest.mark.parametrize(("payload", "fport", "message"), [
    ("A2140A03E832044C34", 13,
     "payload too short for field 'voltage' (u8 at byte 9): 9 bytes given, 10 needed"),
    ("", 13, "payload too short for field 'payload version' (u8 at byte 0): 0 bytes given, "
             "1 needed"),
    ("A1140A03E832044C3433", 13, "field 'payload version' at byte 0 is 161, expected 162"),
    ("D1", 190, "field 'payload version' at byte 0 is 209, expected 210"),
    ("A2140A03E832044C3433", 18,
     "unexpected fport 18; this layout decodes fport 1, 13, 14, 15, 16, 17, 190"),
])
def test_decode_errors(tcr, payload, fport, message):
    with pytest.raises(DecodeError) as info:
        tcr.decode(bytes.fromhex(payload), fport, {})
    assert str(info.value) == message


def test_encoder(tcr):
    values = {"vehicle_count_cat2_ltr": 7, "avg_speed_cat2_ltr": 31,
              "vehicle_count_cat2_rtl": 9, "avg_speed_cat2_rtl": 28, "voltage": 12.3,
              "vehicle_count_cat2": 16}
    assert tcr.encode(values, {}) == (15, bytes.fromhex("A200000007 1F 0009 1C 7B"))
    assert tcr.encode({"vehicle_count_ltr": 1000, "avg_speed_ltr": 50,
                       "vehicle_count_rtl": 1100, "avg_speed_rtl": 52, "voltage": 5.1}, {}) \
        == (13, bytes.fromhex("A2000003E832044C3433"))


@pytest.mark.parametrize(("values", "message"), [
    ({"vehicle_count_cat1_ltr": 1, "vehicle_count_cat3_ltr": 2},
     "values of categories [1, 3]: one frame carries one"),
    ({"vehicle_count": 5}, "'vehicle_count' is the sum of vehicle_count_ltr and "
                           "vehicle_count_rtl, which the frame carries: give both, adding up"),
    ({"vehicle_count": 5, "vehicle_count_ltr": 1, "vehicle_count_rtl": 1},
     "'vehicle_count' is the sum of vehicle_count_ltr and vehicle_count_rtl, which the frame "
     "carries: give both, adding up"),
    ({"people_in": 3}, "['people_in'] are not quantities of a TCR counter frame"),
    ({"vehicle_count_ltr": 70000}, "value 70000 does not fit field 'vehicle_count_ltr' (u16)"),
])
def test_encoder_errors(tcr, values, message):
    with pytest.raises(EncodeError) as info:
        tcr.encode(values, {})
    assert str(info.value) == message


def test_simulated_street_has_rush_hours(tcr):
    dev = Device(id="counter-main-street", model="pmx/tcr")
    day = 1_704_153_600  # 2024-01-02 00:00 UTC
    rng = random.Random(5)
    per_hour = {}
    for k in range(96):
        t = day + k * 900
        values = tcr.simulate(dev, t, rng)
        fport, data = tcr.encode(values, {})
        assert fport == 13
        got = dict((q, v) for q, v, _u in tcr.decode(data, fport, {}))
        assert {q: got[q] for q in values} == values
        per_hour[k // 4] = per_hour.get(k // 4, 0) + got["vehicle_count"]
    assert per_hour[8] > 5 * per_hour[3] and per_hour[17] > 5 * per_hour[3]
    assert per_hour[8] > per_hour[12] and per_hour[17] > per_hour[12]
    # into town in the morning, out of town in the evening
    morning = tcr.simulate(dev, day + 8 * 3600, random.Random(1))
    evening = tcr.simulate(dev, day + 18 * 3600, random.Random(1))
    assert morning["vehicle_count_ltr"] > morning["vehicle_count_rtl"]
    assert evening["vehicle_count_ltr"] < evening["vehicle_count_rtl"]
