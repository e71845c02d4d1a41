"""Netvox R718N3 3-phase current meter: manual examples, multipliers, errors."""

import random

import pytest

from conftest import implementations
from hromada import DecodeError, Device, EncodeError
from hromada.testing import assert_readings
from hromada_plugins.devices.netvox import codec

IMPLS = implementations("layout")


@pytest.fixture(scope="module", params=IMPLS)
def r718n3(request):
    (model,) = codec.build_models(request.param)
    return model


def _decode(model, payload, fport=6):
    return dict((q, v) for q, v, _u in model.decode(bytes.fromhex(payload.replace(" ", "")),
                                                    fport, {}))


def test_examples_decode_exactly_in_order(r718n3):
    assert len(r718n3.examples) >= 3
    for ex in r718n3.examples:
        got = r718n3.decode(ex.payload, ex.fport, {})
        assert [r[0] for r in got] == [r[0] for r in ex.readings], ex.description
        assert_readings(got, ex.readings)


def test_multiplier_of_phase_one_in_report_1(r718n3):
    got = _decode(r718n3, "01 4A 01 24 FFFF 0001 0002 0A")
    assert got["current_l1"] == 655.35 and got["current_l2"] == 0.001
    assert "multiplier_l1" not in got


@pytest.mark.parametrize(("codes", "mults"), [
    (0x00, (1, 1, 1)), (0x36, (10, 5, 100)), (0x1B, (100, 10, 5)), (0x3F, (100, 100, 100))])
def test_multiplier_codes_in_report_3(r718n3, codes, mults):
    got = _decode(r718n3, f"01 4A 03 24 0001 0001 0001 {codes:02X}")
    assert [got[f"current_l{i}"] for i in (1, 2, 3)] == [m / 1000 for m in mults]


@pytest.mark.parametrize(("payload", "fport", "message"), [
    ("014A0124", 6,
     "payload too short for field 'current_l1' (u16 at byte 4): 4 bytes given, 6 needed"),
    ("014A012403E800C81B58", 6,
     "payload too short for field 'multiplier_l1' (u8 at byte 10): 10 bytes given, 11 needed"),
    ("024A0124", 6, "field 'version' at byte 0 is 2, expected 1"),
    ("014B0124", 6, "field 'device type' at byte 1 is 75, expected 74"),
    ("014A0524", 6, "unknown report type 5 at byte 2"),
    ("014A", 6,
     "payload too short for field 'report type' (u8 at byte 2): 2 bytes given, 3 needed"),
    ("014A012403E8", 5, "unexpected fport 5; this layout decodes fport 6, 7"),
])
def test_decode_errors(r718n3, payload, fport, message):
    with pytest.raises(DecodeError) as info:
        r718n3.decode(bytes.fromhex(payload), fport, {})
    assert str(info.value) == message


def test_configuration_answers_have_no_readings(r718n3):
    assert r718n3.decode(bytes.fromhex("814A000000000000000000"), 7, {}) == []


def test_encoder_reports(r718n3):
    enc = r718n3.encode
    assert enc({"battery": 3.1, "low_battery": True, "current_l1": 1.501,
                "current_l2": 1.492, "current_l3": 1.502}, {}) == (
        6, bytes.fromhex("014A019F05DD05D405DE01"))
    assert enc({"battery": 3.1, "low_battery": True, "multiplier_l2": 1,
                "multiplier_l3": 1}, {}) == (6, bytes.fromhex("014A029F01010000000000"))
    assert enc({"current_l1": 10.0, "current_l2": 1.0, "current_l3": 700.0}, {}) == (
        6, bytes.fromhex("014A0324 2710 03E8 1B58 30"))  # 10 A and 1 A need no multiplier
    assert enc({"low_current_alarm_l1": True, "high_current_alarm_l3": True}, {}) == (
        6, bytes.fromhex("014A0424210000000000 00"))


@pytest.mark.parametrize(("values", "message"), [
    ({"current_l1": 1.0, "low_current_alarm_l1": True},
     "['current_l1', 'low_current_alarm_l1'] span several report types: encode them "
     "separately"),
    ({"current_l1": 7000.0}, "current_l1 7000.0 A is beyond the meter's range"),
    ({"current_l2": -1}, "'current_l2' must be a non-negative number of A, not -1"),
    ({"battery": 20}, "'battery' must be 0..12.7 V, not 20"),
    ({"voltage": 230}, "['voltage'] are not quantities of an R718N3 report"),
])
def test_encoder_errors(r718n3, values, message):
    with pytest.raises(EncodeError) as info:
        r718n3.encode(values, {})
    assert str(info.value) == message


def test_simulated_lighting_feeder(r718n3):
    dev = Device(id="cabinet-3", model="netvox/r718n3")
    rng = random.Random(4)
    day = 1_704_153_600
    noon = night = None
    for h in range(24):
        values = r718n3.simulate(dev, day + h * 3600, rng)
        fport, data = r718n3.encode(values, {})
        got = dict((q, v) for q, v, _u in r718n3.decode(data, fport, {}))
        assert {q: got[q] for q in values} == values
        if h == 12:
            noon = got["current_l1"]
        if h == 20:
            night = got["current_l1"]
    assert night > 20 * noon
