"""Nwave NPS405 parking sensor: vendor examples, the duration scale, registrations."""

import random

import pytest

from conftest import implementations
from hromada import DecodeError, Device, EncodeError
from hromada.testing import assert_readings
from hromada_plugins.devices.nwave import codec

IMPLS = implementations("layout")


@pytest.fixture(scope="module", params=IMPLS)
def nps(request):
    (model,) = codec.build_models(request.param)
    return model


def test_examples_decode_exactly_in_order(nps):
    assert len(nps.examples) >= 3
    for ex in nps.examples:
        got = nps.decode(ex.payload, ex.fport, {})
        assert [r[0] for r in got] == [r[0] for r in ex.readings], ex.description
        assert_readings(got, ex.readings)


@pytest.mark.parametrize(("raw", "minutes"), [
    (0, 0), (89, 89), (90, 90), (91, 95), (104, 160), (119, 235), (120, 240), (126, 600),
    (127, 660)])
def test_previous_state_duration_scale(nps, raw, minutes):
    got = nps.decode(bytes([raw << 1 | 1]), 1, {})
    assert got == [("occupied", True, "bool"), ("previous_state_duration", minutes, "min")]


def test_heartbeat_values(nps):
    got = dict((q, v) for q, v, _u in nps.decode(bytes.fromhex("03FF7F"), 2, {}))
    assert got == {"occupied": True, "hardware_status": 1, "battery": 3.52,
                   "temperature": 73.5}


def test_registration_without_occupancy(nps):
    assert nps.decode(bytes.fromhex("00 1F345678"), 10, {}) == [("tag_id", "1F345678", "")]
    assert nps.decode(bytes.fromhex("00 21 0000ABCD"), 10, {}) == [
        ("tag_battery", 3.3, "V"), ("tag_id", "0000ABCD", "")]


@pytest.mark.parametrize(("payload", "fport", "message"), [
    ("", 1, "payload too short for field 'occupied' (u8 at byte 0): 0 bytes given, 1 needed"),
    ("00D3", 2,
     "payload too short for field 'temperature' (s8 at byte 2): 2 bytes given, 3 needed"),
    ("020409", 3,
     "payload too short for field 'reset_cause' (u8 at byte 3): 3 bytes given, 4 needed"),
    ("02040908", 3, "unknown value 8 of field 'reset_cause' at byte 3"),
    ("D11F3456", 10, "payload too short for a tag registration: 4 bytes given, 5 needed"),
    ("01", 4, "unexpected fport 4; this layout decodes fport 1, 2, 3, 6, 10"),
])
def test_decode_errors(nps, payload, fport, message):
    with pytest.raises(DecodeError) as info:
        nps.decode(bytes.fromhex(payload), fport, {})
    assert str(info.value) == message


def test_encoder(nps):
    assert nps.encode({"occupied": True, "previous_state_duration": 74}, {}) == (1, b"\x95")
    assert nps.encode({"occupied": False, "hardware_status": 0, "battery": 3.344,
                       "temperature": -10.0}, {}) == (2, bytes.fromhex("00D3D8"))
    assert nps.encode({"occupied": True, "previous_state_duration": 160, "tag_battery": 3.2,
                       "tag_id": "1F345678"}, {}) == (10, bytes.fromhex("D1201F345678"))
    assert nps.encode({"reset_cause": "power_on", "occupied": False}, {}) == (
        3, bytes.fromhex("0000000200"))


@pytest.mark.parametrize(("values", "message"), [
    ({"occupied": True, "previous_state_duration": 91},
     "previous_state_duration 91 min is not on the sensor's scale (0-89, 90-235 by 5, "
     "240-600 by 60, 660)"),
    ({"occupied": True, "battery": 3.3, "reset_cause": "watchdog"},
     "['reset_cause'] do not fit the fPort 2 frame: encode them separately"),
    ({"occupied": False, "tag_id": "1F345678"},
     "a tag registration carries the bay's state only when occupied"),
    ({"tag_id": "1f345678"}, "'tag_id' must be 8 upper-case hex digits, not '1f345678'"),
    ({"fill_level": 3}, "['fill_level'] are not quantities of an NPS405 frame"),
])
def test_encoder_errors(nps, values, message):
    with pytest.raises(EncodeError) as info:
        nps.encode(values, {})
    assert str(info.value) == message


def test_simulated_bay(nps):
    dev = Device(id="bay-17", model="nwave/nps405")
    rng = random.Random(2)
    day = 1_704_153_600
    busy = quiet = 0
    for k in range(96):
        t = day + k * 900
        values = nps.simulate(dev, t, rng)
        fport, data = nps.encode(values, {})
        got = dict((q, v) for q, v, _u in nps.decode(data, fport, {}))
        assert {q: got[q] for q in values} == values
        hour = k // 4
        if 9 <= hour < 18:
            busy += got["occupied"]
        elif hour < 6:
            quiet += got["occupied"]
    assert busy / 36 > quiet / 24
