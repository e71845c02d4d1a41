"""Published telegrams decode to the values their documents state, on both twins."""

import pytest
from wmbus_vectors import (
    AMBER_KEY,
    AMBER_LONG,
    KAMSTRUP_ELL,
    KAMSTRUP_KEY,
    KAMSTRUP_RECORDS,
    LUG_HEAT,
    LUG_RECORDS,
    OMS_MODE5,
    OMS_MODE5_CRC,
    OMS_MODE5_KEY,
    OMS_MODE7,
    OMS_MODE7_CRC,
    OMS_MODE7_KEY,
    OMS_RECORDS,
)

from conftest import implementations, require_compiled
from hromada import compiled, wmbus

IMPLS = implementations("wmbus")


def _key(k):
    return lambda manufacturer, ident: k


def test_compiled_wmbus_loaded():
    require_compiled("wmbus")
    assert compiled.modules["wmbus"] == "compiled"
    assert wmbus.IMPLEMENTATION == "compiled"


ELS_HEADER = {
    "manufacturer": "ELS", "id": "12345678", "version": 0x33, "device_type": "gas",
    "device_type_code": 3, "ci": 0x7A, "status": 0, "c_field": 0x44,
}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("data,fmt", [(OMS_MODE5, "none"), (OMS_MODE5_CRC, "A")])
def test_oms_annex_n_mode5(impl, data, fmt):
    header, records = impl.decode(data, _key(OMS_MODE5_KEY))
    assert header == {**ELS_HEADER, "access_number": 42, "security_mode": 5,
                      "encryption": "mode5", "frame_format": fmt}
    assert records == OMS_RECORDS


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("data,fmt", [(OMS_MODE7, "none"), (OMS_MODE7_CRC, "A")])
def test_oms_annex_n_mode7(impl, data, fmt):
    header, records = impl.decode(data, _key(OMS_MODE7_KEY))
    assert header == {**ELS_HEADER, "access_number": 0x75, "security_mode": 7,
                      "encryption": "mode7", "frame_format": fmt}
    assert records == OMS_RECORDS


@pytest.mark.parametrize("impl", IMPLS)
def test_kamstrup_ell_aes_ctr(impl):
    header, records = impl.decode(KAMSTRUP_ELL, _key(KAMSTRUP_KEY))
    assert header == {
        "manufacturer": "KAM", "id": "63452869", "version": 0x1B, "device_type": "cold_water",
        "device_type_code": 0x16, "ci": 0x78, "access_number": 0x50, "status": None,
        "security_mode": 0, "encryption": "ell", "c_field": 0x44, "frame_format": "none"}
    assert records == KAMSTRUP_RECORDS


@pytest.mark.parametrize("impl", IMPLS)
def test_lug_negative_bcd_temperature(impl):
    header, records = impl.decode(LUG_HEAT)
    assert header["manufacturer"] == "LUG" and header["id"] == "67991306"
    assert header["device_type"] == "heat" and header["access_number"] == 0x82
    assert header["status"] == 0x10 and header["security_mode"] == 0
    assert records == LUG_RECORDS


@pytest.mark.parametrize("impl", IMPLS)
def test_long_header_mode5_uses_tpl_address(impl):
    header, records = impl.decode(AMBER_LONG, _key(AMBER_KEY))
    assert header == {
        "manufacturer": "AMB", "id": "57000044", "version": 0x0C,
        "device_type": "radio_converter_meter", "device_type_code": 0x37, "ci": 0x72,
        "access_number": 0xA3, "status": 0, "security_mode": 5, "encryption": "mode5",
        "c_field": 0x44, "frame_format": "none"}
    assert records == [
        ("volume", 0.675, "m3", 0, 0, 0, "instantaneous", "0e13"),
        ("customer", "AMBER wireless Testmodul! S Mode", "", 0, 0, 0, "instantaneous",
         "0dfd11"),
    ]


@pytest.mark.parametrize("impl", IMPLS)
def test_long_header_differs_from_link_layer(impl):
    # A converter (link address HRM 99999999) forwards meter KAM 12345678: the header
    # names the meter, and mode 5's IV is built from the meter's own address.
    from hromada.wmbus.encode import raw_record, telegram
    key = bytes(range(16))
    t = telegram(raw_record(0x13, 1234), manufacturer="HRM", id="99999999",
                 device_type=0x37, header="long", tpl_address=("KAM", "12345678", 5, 7),
                 security_mode=5, key=key, access_number=9)
    header, records = impl.decode(t, _key(key))
    assert (header["manufacturer"], header["id"], header["version"],
            header["device_type"]) == ("KAM", "12345678", 5, "water")
    assert records == [("volume", 1.234, "m3", 0, 0, 0, "instantaneous", "0413")]


@pytest.mark.parametrize("impl", IMPLS)
def test_no_transport_header_and_manufacturer_ci(impl):
    t = bytes.fromhex("0f442d2c7856341201077802fd170300")
    header, records = impl.decode(t)
    assert header["ci"] == 0x78 and header["access_number"] is None
    assert records == [("error_flags", 3, "", 0, 0, 0, "instantaneous", "02fd17")]
    # CI 0xA2 (manufacturer specific): kept raw.
    t = bytes.fromhex("0e442d2c785634120107a2010203ff")
    header, records = impl.decode(t)
    assert header["ci"] == 0xA2
    assert records == [("manufacturer_data", "010203ff", "", 0, 0, 0, None, "")]


def test_public_decode_and_to_dict():
    t = wmbus.decode(OMS_MODE5.hex(), key=OMS_MODE5_KEY.hex())
    assert t.meter == "ELS 12345678"
    assert t.to_dict() == {
        "header": {**ELS_HEADER, "access_number": 42, "security_mode": 5,
                   "encryption": "mode5", "frame_format": "none"},
        "records": [
            {"quantity": "volume", "value": 28504.27, "unit": "m3", "storage": 0,
             "tariff": 0, "function": "instantaneous", "dif_vif": "0c14", "subunit": 0},
            {"quantity": "datetime", "value": "2008-05-31T23:50:00", "unit": "",
             "storage": 0, "tariff": 0, "function": "instantaneous", "dif_vif": "046d",
             "subunit": 0},
            {"quantity": "error_flags", "value": 0, "unit": "", "storage": 0, "tariff": 0,
             "function": "instantaneous", "dif_vif": "02fd17", "subunit": 0},
        ],
    }
    assert [r.quantity for r in t.records] == ["volume", "datetime", "error_flags"]
    assert t.header.security_mode == 5 and t.header.access_number == 42


def test_readings_keep_current_numeric_values():
    t = wmbus.decode(KAMSTRUP_ELL, key=KAMSTRUP_KEY)
    rs = t.readings(time=1700000000.0)
    assert [(r.device, r.time, r.quantity, r.value, r.unit) for r in rs] == [
        ("KAM-63452869", 1700000000.0, "volume", 474.24, "m3")]
    assert [r.quantity for r in wmbus.decode(LUG_HEAT).readings("heat-1")] == [
        "energy", "volume", "on_time", "flow_temperature", "return_temperature"]


def test_decode_records_alone():
    recs = wmbus.decode_records("0C1427048502046D32371F1502FD1700002F2F")
    assert [tuple(r.to_dict().values()) for r in recs] == [
        ("volume", 28504.27, "m3", 0, 0, "instantaneous", "0c14", 0),
        ("datetime", "2008-05-31T23:50:00", "", 0, 0, "instantaneous", "046d", 0),
        ("error_flags", 0, "", 0, 0, "instantaneous", "02fd17", 0),
    ]
