"""Device models senml/json and senml/cbor: LwM2M names, units, times, sums."""

import time

import pytest

from hromada import senml
from hromada.errors import DecodeError
from hromada.testing import check_model
from hromada.units import UNITS
from hromada_plugins.devices import senml as model
from hromada_plugins.devices.senml import lwm2m


def decode(pack, options=None, fmt="json"):
    return model.decode_pack(senml.dumps(pack, fmt), fmt, options or {})


@pytest.mark.parametrize("name, value, expected", [
    ("/3303/0/5700", 21.5, ("temperature", 21.5, "Cel")),
    ("/3304/0/5700", 55, ("humidity", 55, "%RH")),
    ("/3424/0/1", 1234.567, ("volume", 1234.567, "m3")),
    ("/3424/0/4", 98765, ("pulse_count", 98765, "count")),
    ("/3424/0/10", True, ("leak", True, "bool")),
    ("/3424/0/11", 1, ("backflow", True, "bool")),       # 0/1 for a boolean resource
    ("/3424/0/13", False, ("tamper", False, "bool")),
    ("/3423/0/1", 42.5, ("volume", 42.5, "m3")),
    ("/3423/0/11", True, ("high_temperature", True, "bool")),
    ("/3435/0/2", 80.0, ("fill_level", 80.0, "%")),
    ("/3435/0/3", 95, ("fill_height", 95, "cm")),
    ("/3435/0/22", True, ("fire", True, "bool")),
    ("/3435/0/13", True, ("tilt", True, "bool")),
    ("/3416/0/3", 40, ("dimming_level", 40, "%")),
    ("/3416/0/5", True, ("lamp_failure", True, "bool")),
    ("/3416/0/46", 37.5, ("power", 37.5, "W")),
    ("/3416/0/47", 12.5, ("energy", 12500.0, "Wh")),     # the registry's kWh, in Wh
    ("/3428/0/1", 22.0, ("pm10", 22.0, "ug/m3")),
    ("/3428/0/3", 9.5, ("pm2_5", 9.5, "ug/m3")),
    ("/3428/0/15", 0.021, ("no2", 0.021, "ppm")),
    ("/3428/0/17", 612, ("co2", 612, "ppm")),
    ("/3/0/9", 87, ("battery", 87, "%EL")),
    ("/3/0/7/0", 3600, ("supply_voltage", 3.6, "V")),    # mV, a resource instance 0
    ("/6/0/0", 48.4416, ("latitude", 48.4416, "lat")),
    ("/3323/0/5700", 101325, ("pressure", 1013.25, "hPa")),
])
def test_lwm2m_resources_map_to_quantities(name, value, expected):
    key = "vb" if isinstance(value, bool) else "v"
    assert decode([{"n": name, key: value}]) == [expected]


def test_base_name_paths_instances_and_device_urns():
    pack = [{"bn": "urn:dev:imei:356938035643809:3303/", "n": "0/5700", "v": 4.5},
            {"n": "1/5700", "v": 5.5}, {"n": "1/5601", "v": -2}, {"n": "1/5602", "v": 9},
            {"bn": "/3424/2/", "n": "1", "v": 7.25}]
    assert decode(pack) == [
        ("temperature", 4.5, "Cel"), ("temperature_1", 5.5, "Cel"),
        ("temperature_min_1", -2, "Cel"), ("temperature_max_1", 9, "Cel"),
        ("volume_2", 7.25, "m3")]


def test_sensor_units_resource_sets_the_unit_and_known_units_convert():
    pack = [{"bn": "/3303/0/", "n": "5700", "v": 300.15}, {"n": "5701", "vs": "K"},
            {"bn": "/3300/0/", "n": "5700", "v": 3.3}, {"n": "5701", "vs": "V"},
            {"bn": "/3304/0/", "n": "5700", "v": 40}, {"n": "5701", "vs": "percent"},
            {"bn": "/3424/0/", "n": "1", "u": "l", "v": 1500}]
    out = decode(pack)
    assert out[0][0] == "temperature" and out[0][2] == "Cel"
    assert out[0][1] == pytest.approx(27.0, abs=1e-9)
    assert out[1:] == [("value", 3.3, "V"), ("humidity", 40, "%RH"), ("volume", 1.5, "m3")]


def test_timestamp_resource_gives_the_instance_its_time():
    pack = [{"bn": "/3424/0/", "n": "1", "v": 10.5}, {"n": "5518", "v": 1_760_000_000},
            {"n": "6050", "v": 0.25}, {"bn": "/3303/0/", "n": "5700", "v": 3}]
    assert decode(pack) == [("volume", 10.5, "m3", 1_760_000_000.25), ("temperature", 3, "Cel")]


def test_unknown_resources_and_metadata():
    pack = [{"n": "/3424/0/99", "v": 5}, {"n": "/3424/0/99", "u": "V", "v": 6},
            {"n": "/3303/0/5750", "vs": "outdoor"}, {"n": "/3303/0/6042", "v": 4}]
    assert decode(pack) == [("lwm2m_3424_99", 5, ""), ("lwm2m_3424_99", 6, "V")]


def test_lwm2m_mapping_can_be_switched_off_and_names_mapped():
    pack = [{"n": "/3303/0/5700", "u": "Cel", "v": 20}]
    assert decode(pack, {"lwm2m": False}) == [("3303_0_5700", 20, "Cel")]
    assert decode([{"bn": "urn:dev:ow:10e2073a01080063:", "n": "temp", "u": "Cel", "v": 2}],
                  {"names": {"temp": "air_temperature"}}) == [("air_temperature", 2, "Cel")]


def test_plain_senml_names_and_units():
    pack = [{"bn": "urn:dev:ow:10e2073a01080063:", "n": "voltage", "u": "V", "v": 120.1},
            {"n": "Nfc-Reader", "vd": b"hi \n"}, {"n": "label", "vs": "Machine Room"},
            {"bn": "urn:dev:ow:10e2073a01080063", "n": "", "u": "%RH", "v": 20},
            {"u": "lat", "v": 60.07965}, {"u": "%EL", "v": 98}, {"v": 7}]
    assert decode(pack) == [
        ("voltage", 120.1, "V"), ("nfc_reader", "6869200a", ""),
        ("label", "Machine Room", ""), ("humidity", 20, "%RH"), ("latitude", 60.07965, "lat"),
        ("battery", 98, "%EL"), ("value", 7, "")]


def test_records_keep_their_times():
    pack = [{"bn": "urn:dev:ow:10e2073a0108006:", "bt": 1.276020076001e+09, "bu": "A",
             "n": "current", "t": -5, "v": 1.2}, {"n": "current", "v": 1.7}]
    assert decode(pack) == [("current", 1.2, "A", 1276020071.001),
                            ("current", 1.7, "A", 1276020076.001)]
    # "now" takes the frame's time (no 4th element); other relative times count from now
    before = time.time()
    now_item, past_item = decode([{"n": "a", "u": "V", "v": 1}, {"n": "a", "u": "V",
                                                                  "t": -60, "v": 2}])
    assert now_item == ("a", 1, "V")
    assert past_item[:3] == ("a", 2, "V")
    assert before - 60 <= past_item[3] <= time.time() - 60


def test_sums_are_readings_in_the_integrated_unit():
    pack = [{"n": "heater", "u": "W", "v": 1500, "s": 3_600_000},
            {"n": "flow", "u": "m3/s", "s": 12.5}, {"n": "hits", "s": 4}]
    assert decode(pack) == [("heater", 1500, "W"), ("heater_sum", 3_600_000, "J"),
                            ("flow_sum", 12.5, "m3"), ("hits_sum", 4, "")]


def test_an_unknown_unit_is_a_decode_error_naming_the_record():
    with pytest.raises(DecodeError) as exc:
        decode([{"n": "a", "v": 1}, {"n": "b", "u": "furlong", "v": 2}])
    assert str(exc.value) == ("record 1 (b): unit 'furlong' is not a hromada unit (see "
                              "hromada.units.UNITS)")
    assert exc.value.field == "u"


def test_cbor_decodes_like_json():
    pack = [{"bn": "/3435/0/", "n": "2", "v": 72.5}, {"n": "5", "vb": False}]
    assert decode(pack, fmt="cbor") == decode(pack) == [("fill_level", 72.5, "%"),
                                                        ("full", False, "bool")]


def test_the_table_gives_each_quantity_one_unit_of_the_units_table():
    units = {}
    for (obj, res), (q, unit, scale) in lwm2m.RESOURCES.items():
        assert unit in UNITS, (obj, res, unit)
        assert units.setdefault(q, unit) == unit, f"{q} in {units[q]} and {unit}"
        assert scale > 0


def test_encoder_round_trips_through_lwm2m_paths():
    encode = model._encoder("json")
    values = {"temperature": 21.5, "temperature_1": 3.0, "energy": 2500.0, "leak": True,
              "fill_level": 40.0, "status": "ok"}
    fport, payload = encode(values, {})
    assert fport == 0
    assert [r.name for r in senml.loads(payload)] == [
        "/3303/0/5700", "/3303/1/5700", "/3331/0/5700", "/3424/0/10", "/3435/0/2", "status"]
    assert {q: v for q, v, _u in model.decode_json(payload, 0, {})} == values


@pytest.mark.parametrize("model_id", ["senml/json", "senml/cbor"])
def test_models_pass_the_sdk_checks(model_id):
    from hromada.plugins import PluginHost

    check_model(PluginHost().device_models[model_id], fuzz_examples=60)
