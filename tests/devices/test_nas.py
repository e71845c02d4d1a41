"""NAS models: UL2030 luminaire controller (street light) and CM3061 gas meter reader.

Every test body runs on both layout engines (compiled and pure) through the
``models`` fixture.
"""

import random

import pytest

from conftest import implementations
from hromada import DecodeError, Device, EncodeError
from hromada.testing import assert_readings, same_value
from hromada_plugins.devices.nas import codec, luminaire, meter

IMPLS = implementations("layout")


@pytest.fixture(scope="module", params=IMPLS)
def models(request):
    return {m.id: m for m in codec.build_models(request.param)}


@pytest.fixture(scope="module")
def lamp(models):
    return models["nas/ul2030"]


@pytest.fixture(scope="module")
def gas(models):
    return models["nas/cm3061"]


def _decode(model, hexstr, fport, options=None):
    return model.decode(bytes.fromhex(hexstr.replace(" ", "")), fport, options or {})


def _values(readings):
    return {q: v for q, v, _u in readings}


def test_examples_decode_exactly_in_order(models):
    for model in models.values():
        assert len(model.examples) >= 3
        for ex in model.examples:
            got = model.decode(ex.payload, ex.fport, {})
            assert [r[0] for r in got] == [r[0] for r in ex.readings], ex.description
            assert_readings(got, ex.readings)


def test_models_run_on_the_requested_engine():
    for param in IMPLS:
        impl = param.values[0]
        if impl is None:
            continue  # not compiled: conftest marks that case
        for model in codec.build_models(impl):
            assert type(model.decode.layout) is impl.Layout


# -- UL2030: status ---------------------------------------------------------------------


def test_status_from_the_datasheet(lamp):
    got = _values(_decode(lamp, "01 F37F205E 8244 32 09 16 20 07 01D2 029455 0401 "
                                "FE501900 12501900", 23))
    assert got["relay_on"] is True and got["dali_connection_error"] is True
    assert got["temperature"] == 22
    assert got["lamp_error_alert_24h"] is True and got["voltage_alert_24h"] is False
    assert got["light_level"] == 299.9 and got["ldr_input"] == 210
    assert got["digital_input"] is True
    assert got["dimming_level"] == 25 and got["dali_9_dimming_level"] == 25
    assert got["lamp_on"] is True


def test_unknown_sensor_source_skips_the_rest_of_the_sensor_block(lamp):
    # datasheet example with a sensor source (0x21) this decoder does not know
    got = _values(_decode(lamp, "01 F37F205E 82C4 32 09 16 20 09 01D2 029455 0401 2100 "
                                "FE511900 123F1900", 23))
    assert got["ldr_input"] == 210 and got["digital_input"] is True
    assert got["dimming_level"] == 25 and got["dali_9_dimming_level"] == 25


@pytest.mark.parametrize(("status_bits", "level", "lamp_on"), [
    (0x80, 0x19, True),    # relay closed, 25 %
    (0x80, 0x00, False),   # relay closed, dimmed to 0
    (0x00, 0x64, False),   # relay open
    (0x80, 0xFF, True),    # relay closed, no level reported (0-10 V, relay-only)
])
def test_lamp_on_is_relay_and_level(lamp, status_bits, level, lamp_on):
    data = bytes([0x01, 0, 0, 0, 0, status_bits, 0, 0, 0, 20, 0, 0, 0xFE, 0x21, level, 0xFF])
    got = _values(lamp.decode(data, 23, {}))
    assert got["lamp_on"] is lamp_on
    assert ("dimming_level" in got) is (level != 0xFF)
    assert "driver_error" not in got  # DALI status 0xFF: none reported


def test_lamp_on_only_from_status_frames(lamp):
    assert "lamp_on" not in _values(_decode(lamp, "01FE64", 60))


def test_light_sensor_scale():
    assert luminaire.light_lux(0x5594) == 299.9
    assert luminaire.light_lux(0) == 0.001
    assert luminaire.light_lux(16000) == 10.0
    assert luminaire.light_lux(0x8000 | 16000) == 10.0  # bit 15 is not part of the value
    assert luminaire.light_lux(luminaire.light_raw(1234.0)) == 1234.0


@pytest.mark.parametrize(("payload", "fport", "message"), [
    ("", 23, "payload too short for field 'status header' (u8 at byte 0): 0 bytes given, "
             "1 needed"),
    ("02F37F205E92320916", 23, "unknown status header 2 at byte 0"),
    ("01F37F205E8244320916", 23,
     "payload too short for field 'alerts' (u8 at byte 10): 10 bytes given, 11 needed"),
    ("01F37F205E8244320916200702945501D204", 23,
     "payload too short for sensor sources at byte 12: 18 bytes given, 19 needed"),
    ("01F37F205E8244320916200301D202", 23,
     "sensor source 0x02 at byte 14 runs past the end of the sensor sources at byte 15"),
    ("01F37F205E82443209162000FE5019", 23,
     "payload too short for dimming source 1 at byte 12: 15 bytes given, 16 needed"),
    ("00F37F205E923209", 23,
     "payload too short for field 'temperature' (s8 at byte 8): 8 bytes given, 9 needed"),
    ("00F37F205E92320916", 23,
     "payload too short for reported fields at byte 9: 9 bytes given, 10 needed"),
    ("00F37F205E9232091612", 23,
     "payload too short for ldr input at byte 10: 10 bytes given, 11 needed"),
    ("00FF80D0EF2F0112FF4794", 26,
     "payload too short for usage entry 2 (dali_9) at byte 7: 11 bytes given, 31 needed"),
    ("00FF", 26, "payload too short for usage entry 1 at byte 1: 2 bytes given, 3 needed"),
    ("01FF80", 26, "field 'usage header' at byte 0 is 1, expected 0"),
    ("01FE6402", 60,
     "payload too short for dimming destination 2 at byte 3: 4 bytes given, 5 needed"),
    ("0909", 60,
     "payload too short for dimming destination 1 at byte 1: 2 bytes given, 4 needed"),
    ("FF", 60, "unknown command 255 at byte 0"),
    ("8420", 61,
     "payload too short for field 'power' (u16 at byte 2): 2 bytes given, 4 needed"),
    ("832002", 61, "payload too short for driver 1 at byte 2: 3 bytes given, 4 needed"),
    ("8050", 61, "unknown digital input length 5 at byte 1"),
    ("01FE64", 24, "unexpected fport 24; this layout decodes fport 23, 26, 50, 60, 61, 99"),
])
def test_lamp_decode_errors(lamp, payload, fport, message):
    with pytest.raises(DecodeError) as info:
        _decode(lamp, payload, fport)
    assert str(info.value) == message


def test_decode_error_carries_offset_and_field(lamp):
    with pytest.raises(DecodeError) as info:
        _decode(lamp, "00FF80D0EF2F0112FF4794", 26)
    assert (info.value.offset, info.value.field) == (7, "usage entry 2")


# -- UL2030: usage, commands, notifications ----------------------------------------------


def test_usage_prefixes_later_addresses(lamp):
    got = _decode(lamp, "00 FF03 E8030000 3C00 12 03 D0070000 1E00", 26)
    assert got == [("energy", 1.0, "kWh"), ("power", 60, "W"),
                   ("dali_9_energy", 2.0, "kWh"), ("dali_9_power", 30, "W")]


def test_usage_unknown_power_factor_gives_no_reading(lamp):
    assert _decode(lamp, "00 FF10 FF", 26) == []


def test_dimming_echo_resume_has_no_level(lamp):
    assert _decode(lamp, "01 FEFF", 60) == []
    assert _decode(lamp, "09 FE3205", 60) == [("dimming_level", 50, "%")]
    assert _decode(lamp, "01 0432 0864", 60) == [("dimming_level", 50, "%"),
                                                ("dali_4_dimming_level", 100, "%")]


def test_answers_without_readings(lamp):
    for payload, fport in (("0348A1FE48A2A848A3FE48A4FE48A507", 60), ("080400030607", 60),
                           ("000D008350010101F37F205E000CFE0104", 99), ("13320A", 99),
                           ("8501", 61), ("0758020000", 50)):
        assert _decode(lamp, payload, fport) == []


# -- UL2030: the dimming downlink --------------------------------------------------------


@pytest.mark.parametrize(("action", "payload"), [
    ({"dim": 100}, "01FE64"),                          # datasheet: manual dimming
    ({"dim": {2: 50, 4: 100}}, "0104320864"),          # nas-codecs encoder example
    ({"dim": 100, "minutes": 5}, "09FE6405"),          # nas-codecs encoder example
    ({"dim": 40}, "01FE28"),
    ({"dim": 0}, "01FE00"),
    ({"dim": 37.6}, "01FE26"),
    ({"on": True}, "01FE64"),
    ({"on": False}, "01FE00"),
    ({"resume": True}, "01FEFF"),
    ({"dim": 30, "address": 9}, "01121E"),
    ({"dim": 30, "group": 3}, "01861E"),
    ({"dim": 30, "address": "analog"}, "01011E"),
    ({"on": True, "address": "broadcast", "minutes": 255}, "09FE64FF"),
])
def test_downlink_bytes(lamp, action, payload):
    assert lamp.encode_downlink(action, {}) == (60, bytes.fromhex(payload))


def test_downlink_decodes_back_as_the_command_echo(lamp):
    fport, data = lamp.encode_downlink({"dim": 65}, {})
    assert lamp.decode(data, fport, {}) == [("dimming_level", 65, "%")]


@pytest.mark.parametrize(("action", "message"), [
    ({"dim": 150}, "the dimming level must be 0..100 %, not 150"),
    ({"dim": -1}, "the dimming level must be 0..100 %, not -1"),
    ({"dim": "bright"}, "the dimming level must be a number of percent 0..100, not 'bright'"),
    ({"dim": True}, "the dimming level must be a number of percent 0..100, not True"),
    ({"on": "yes"}, "'on' must be true or false, not 'yes'"),
    ({"resume": False}, "'resume' must be true, not False"),
    ({}, "give exactly one of 'dim', 'on' or 'resume', not []"),
    ({"dim": 10, "on": True}, "give exactly one of 'dim', 'on' or 'resume', not ['dim', 'on']"),
    ({"blink": 3}, "unknown action ['blink']: a NAS luminaire controller takes 'dim' "
                   "(0..100 %), 'on' (true/false) or 'resume', with optional 'address', "
                   "'group' and 'minutes'"),
    ({"dim": 10, "address": 64}, "a DALI short address is 0..63, not 64"),
    ({"dim": 10, "group": 16}, "a DALI group is 0..15, not 16"),
    ({"dim": 10, "address": 1, "group": 1}, "give 'address' or 'group', not both"),
    ({"dim": 10, "minutes": 0}, "'minutes' must be 1..255, not 0"),
    ({"dim": {}}, "'dim' maps no DALI address to a level"),
    ({"dim": {1: 10}, "address": 2}, "'dim' as {address: level} already names the drivers"),
    ("dim 40", "a downlink action is a dict such as {'dim': 40}, not 'dim 40'"),
])
def test_downlink_errors(lamp, action, message):
    with pytest.raises(EncodeError) as info:
        lamp.encode_downlink(action, {})
    assert str(info.value) == message


# -- UL2030: encoder and simulation --------------------------------------------------------


def test_encoder_picks_the_frame(lamp):
    assert lamp.encode({"dimming_level": 40, "relay_on": True}, {})[0] == 23
    assert lamp.encode({"energy": 1.5, "power": 30}, {})[0] == 26
    assert lamp.encode({"over_current_alert": True, "power": 90}, {}) == (
        61, bytes.fromhex("84025A000000FF"))
    assert lamp.encode({"energy": 1.5}, {}) == (26, bytes.fromhex("00FF01DC050000"))


@pytest.mark.parametrize(("values", "message"), [
    ({"lamp_on": True, "dimming_level": 0},
     "lamp_on=True contradicts relay_on=True with dimming_level=0"),
    ({"dimming_level": 120}, "'dimming_level' 120 is outside 0..100"),
    ({"energy": 1.0, "dali_9_power": 3},
     "['dali_9_power'] would decode under the plain name: give the plain quantity too"),
    ({"energy": 1.0, "kitchen_power": 3},
     "'kitchen' is not an address (broadcast, analog, internal, dali_N, dali_group_N)"),
    ({"over_current_alert": True, "energy": 1.0},
     "['energy'] do not fit a metering alert: encode them separately"),
    ({"humidity": 40}, "'humidity' is not a quantity of this frame"),
])
def test_encoder_errors(lamp, values, message):
    with pytest.raises(EncodeError) as info:
        lamp.encode(values, {})
    assert str(info.value) == message


def test_address_names_round_trip():
    for byte in (0x01, 0xFE, 0xFF, 0x00, 0x12, 0x7E, 0x80, 0x9E, 0x09):
        assert luminaire.address_byte(luminaire.address_name(byte)) == byte


def test_simulated_lamp_dims_at_night_and_meters_energy(lamp):
    dev = Device(id="lamp-7", model="nas/ul2030")
    day = 1_704_067_200  # 2024-01-01 00:00 UTC: winter, dark from about 16:00 to 08:00
    level = {h: luminaire.level_at(day + h * 3600) for h in range(24)}
    assert level[2] == luminaire.NIGHT_LEVEL and level[23] == luminaire.NIGHT_LEVEL
    assert level[18] == 100 and level[6] == 100
    assert level[12] == 0
    rng = random.Random(3)
    energy = []
    for k in range(96):
        t = day + k * 900
        values = lamp.simulate(dev, t, rng)
        fport, data = lamp.encode(values, {})
        got = _values(lamp.decode(data, fport, {}))
        for q, v in values.items():
            assert same_value(got[q], v), (q, v, got[q])
        if fport == 26:
            energy.append(got["energy"])
            if luminaire.level_at(t) == 0:
                assert got["power"] == 0
        else:
            assert got["lamp_on"] is (luminaire.level_at(t) > 0)
    assert energy == sorted(energy) and energy[-1] > energy[0]


def test_burn_is_monotonic_across_days():
    ts = [1_700_000_000 + k * 5000 for k in range(400)]
    burns = [luminaire.burn(t, 60) for t in ts]
    assert all(b2[0] >= b1[0] and b2[1] >= b1[1] for b1, b2 in zip(burns, burns[1:], strict=False))


# -- CM3061 gas meter -------------------------------------------------------------------


def test_gas_datasheet_example(gas):
    assert _decode(gas, "04000014015400000001", 25)[-1] == ("volume", 0.84, "m3")


def test_gas_volume_multipliers_and_units(gas):
    # exponent 7 (x10), gas, m3: 10 steps of 10 m3; then the same count in ft3 and gallons
    assert _values(_decode(gas, "04 00 00 17 00 0A000000 00", 25))["volume"] == 100.0
    assert _values(_decode(gas, "04 00 00 57 00 0A000000 00", 25))["volume"] == round(
        100 * 0.028316846592, 6)
    assert _values(_decode(gas, "04 00 00 37 00 0A000000 00", 25))["volume"] == round(
        100 * 0.003785411784, 6)
    assert _values(_decode(gas, "04 00 00 13 00 0A000000 00", 25))["volume"] == 0.01


def test_gas_reading_age_scale():
    assert [meter.reading_age_minutes(r) for r in (0, 59, 60, 61, 155, 156, 157, 200, 201,
                                                   253)] == [
        0, 59, 0, 15, 1425, 0, 1440, 0, 10080, 525600]


def test_gas_reading_age_unknown_gives_no_reading(gas):
    assert "reading_age" not in _values(_decode(gas, "04 00 00 14 FE 01000000 00", 25))


def test_gas_alert_flags(gas):
    got = _values(_decode(gas, "04 4F 00 14 01 01000000 00", 25))
    assert [q for q in meter.ALERTS.values() if got[q]] == [
        "backflow", "burst", "leak", "tamper", "no_usage"]


@pytest.mark.parametrize(("payload", "fport", "message"), [
    ("05000014015400000001", 25, "field 'usage header' at byte 0 is 5, expected 4"),
    ("04000012015400000001", 25, "unknown value 2 of field 'multiplier' at byte 3"),
    ("040000F7015400000001", 25, "unknown value 3 of field 'volume unit' at byte 3"),
    ("040006140154000000", 25, "unknown value 6 of field 'meter_status' at byte 2"),
    ("04000014015400", 25,
     "payload too short for field 'volume' (u32 at byte 5): 7 bytes given, 9 needed"),
    ("040000140154000000", 25, "payload too short for field 'device status flag' "
                               "(u8 at byte 9): 9 bytes given, 10 needed"),
    ("04000014015400000003B37F", 25,
     "payload too short for block 'device status' at byte 10: 12 bytes given, 20 needed"),
    ("04000094015400000001", 25, "payload too short for field 'device status flag' "
                                 "(u8 at byte 11): 10 bytes given, 12 needed"),
    ("0133", 99, "payload too short for field 'usage header' (u8 at byte 2): 2 bytes given, "
                 "3 needed"),
    ("04000014015400000001", 26, "unexpected fport 26; this layout decodes fport 25, 50, 60, "
                                 "99"),
])
def test_gas_decode_errors(gas, payload, fport, message):
    with pytest.raises(DecodeError) as info:
        _decode(gas, payload, fport)
    assert str(info.value) == message


def test_gas_encoder_bytes(gas):
    # the datasheet frame but for the app-connected bit, which the encoder does not set
    assert gas.encode({"volume": 0.84, "reading_age": 1}, {}) == (
        25, bytes.fromhex("04000014015400000000"))
    # no reading age: the "unknown" marker 0xFE; a litre resolution takes exponent 3
    fport, data = gas.encode({"volume": 12.345, "battery": 3.6, "temperature": -5}, {})
    assert data.hex() == "04000013fe393000000200d2fb00000000000000"
    assert _values(gas.decode(data, fport, {}))["volume"] == 12.345


def test_gas_encoder_errors(gas):
    with pytest.raises(EncodeError, match="needs 'volume'"):
        gas.encode({"battery": 3.6}, {})
    with pytest.raises(EncodeError, match=r"\['flow'\] are not quantities"):
        gas.encode({"volume": 1.0, "flow": 2.0}, {})
    with pytest.raises(EncodeError, match="beyond the register"):
        gas.encode({"volume": 1e12}, {})


def test_gas_simulation_follows_the_day_and_the_season(gas):
    dev = Device(id="flat-12", model="nas/cm3061")

    def use(t0, hours):
        return meter.gas_used_m3(t0 + hours * 3600) - meter.gas_used_m3(t0)

    jan, jul = 1_704_067_200, 1_719_792_000  # 2024-01-01 and 2024-07-01, 00:00 UTC
    night, morning, evening = use(jan + 2 * 3600, 2), use(jan + 6 * 3600, 2), use(
        jan + 18 * 3600, 2)
    assert morning > 2 * night and evening > 2 * night
    assert use(jan, 24) > 3 * use(jul, 24)
    rng = random.Random(1)
    volumes = []
    for k in range(48):
        values = gas.simulate(dev, jan + k * 1800, rng)
        fport, data = gas.encode(values, {})
        got = _values(gas.decode(data, fport, {}))
        assert got["volume"] == values["volume"]
        volumes.append(got["volume"])
    assert volumes == sorted(volumes) and volumes[-1] > volumes[0]
