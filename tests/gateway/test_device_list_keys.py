"""LoRaWAN identities and keys as columns of the city's device list: a semtech-udp city
whose ABP and OTAA devices' keys are only in the devices CSV, run over real loopback UDP;
the keys_file and the keys table override device-list fields one by one."""

import asyncio

import pytest
from gw_kit import (
    ABP_ADDR,
    ABP_EUI,
    APPKEY,
    APPSKEY,
    GW_EUIS,
    JOIN_EUI,
    LPP_A,
    LPP_B,
    NWKSKEY,
    OTAA_EUI,
    RunningCity,
    abp_device,
    otaa_device,
    rows,
)

from hromada.model import Device
from hromada_plugins.sources import semtech_udp
from hromada_plugins.sources.semtech_udp.devices import DEVICE_COLUMNS, load_devices

PLAIN_EUI = "70b3d57ed0000002"   # a city device without LoRaWAN columns
WRONG_KEY = "000102030405060708090a0b0c0d0e0f"

CITY = """
[city]
name = "Columnville"
devices = "devices.csv"
state_dir = "state"

[kernel]
max_latency = 0.01

[sources.gw]
plugin = "semtech-udp"
bind = "127.0.0.1:0"
dedup_window = 0.05
state_interval = 60
{gw}

[sinks.db]
plugin = "sqlite"
path = "city.db"
"""

HEADER = "id,model,name,dev_addr,nwkskey,appskey,appkey,join_eui,lorawan_version,lorawan_class\n"


def devices_csv(appskey=APPSKEY):
    return (HEADER
            + f"{ABP_EUI},cayenne/lpp,abp,{ABP_ADDR.upper()},env:HROMADA_TEST_DL_NWKSKEY,"
              f"{appskey},,,1.0.3,A\n"
            + f"{OTAA_EUI},cayenne/lpp,otaa,,,,{APPKEY},{JOIN_EUI},,\n"
            + f"{PLAIN_EUI},cayenne/lpp,plain,,,,,,,\n")


def write_city(tmp_path, monkeypatch, *, gw="", appskey=APPSKEY):
    monkeypatch.setenv("HROMADA_TEST_DL_NWKSKEY", NWKSKEY)
    (tmp_path / "devices.csv").write_text(devices_csv(appskey))
    (tmp_path / "city.toml").write_text(CITY.format(gw=gw))
    return tmp_path / "city.toml"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def _abp_and_otaa(path):
    city = await RunningCity(path).start()
    try:
        loaded = dict(city.source.devices)
        gw = await city.gateway(GW_EUIS[0])
        await gw.uplink(abp_device().uplink(LPP_A, fport=1))
        await city.uplinks_done(1)
        dev = otaa_device()
        await gw.uplink(dev.join_request())
        token, _txpk, phy = await gw.downlink()
        dev.accept(phy)
        gw.tx_ack(token)
        await gw.uplink(dev.uplink(LPP_B, fport=2))
        await city.uplinks_done(3)
        stats = dict(city.source.stats)
    finally:
        summary = await city.stop()
    return summary, stats, loaded, city.city


def _key_material():
    out = []
    for key in (NWKSKEY, APPSKEY, APPKEY):
        out += [bytes.fromhex(key), key.encode(), key.upper().encode(),
                key.encode("utf-16-le")]
    return out


def test_keys_only_in_the_devices_csv_decode_real_uplinks(tmp_path, monkeypatch):
    path = write_city(tmp_path, monkeypatch)
    summary, stats, loaded, city = run(_abp_and_otaa(path))
    assert summary["errors_by_kind"] == {}
    assert (summary["frames"], summary["readings"]) == (2, 4)
    assert (stats["uplinks"], stats["joins"]) == (2, 1)
    # Only the devices with LoRaWAN columns are devices of the source.
    assert sorted(loaded) == [ABP_EUI, OTAA_EUI]
    abp, otaa = loaded[ABP_EUI], loaded[OTAA_EUI]
    assert (abp.dev_addr, abp.version, abp.device_class) == (ABP_ADDR, "1.0", "A")
    assert (abp.session_keys["nwkskey"].hex(), abp.session_keys["appskey"].hex()) == \
        (NWKSKEY, APPSKEY)
    assert (otaa.appkey.hex(), otaa.join_eui, otaa.abp) == (APPKEY, JOIN_EUI, False)
    assert city.devices[PLAIN_EUI].network == {}
    db = tmp_path / "city.db"
    assert rows(db, "select device, quantity, value, unit from readings order by rowid") == [
        (ABP_EUI, "temperature_3", 27.2, "Cel"), (ABP_EUI, "temperature_5", 25.5, "Cel"),
        (OTAA_EUI, "temperature_1", 22.5, "Cel"), (OTAA_EUI, "relative_humidity_2", 40.0, "%RH")]
    # The devices table holds the device list's own fields, nothing of its key columns.
    assert rows(db, "select * from devices order by id") == [
        (ABP_EUI, "cayenne/lpp", "abp", None, None, None, ""),
        (OTAA_EUI, "cayenne/lpp", "otaa", None, None, None, ""),
        (PLAIN_EUI, "cayenne/lpp", "plain", None, None, None, "")]
    assert [name for (name,) in rows(db, "select name from pragma_table_info('devices')")] == \
        ["id", "model", "name", "lat", "lon", "district", "tags"]
    db_bytes = db.read_bytes()
    assert ABP_EUI.encode() in db_bytes  # the file is the one written, not empty
    # No file the run wrote (the sink's database, its WAL, the source's saved state)
    # holds a key, in bytes or in hex.
    written = [p for p in tmp_path.rglob("*") if p.is_file()
               and p.name not in ("devices.csv", "city.toml")]
    assert db in written
    for p in written:
        data = p.read_bytes()
        for key in _key_material():
            assert key not in data, f"key material in {p.relative_to(tmp_path)}"
    for dev in city.devices.values():
        assert all(k not in repr(dev) for k in (NWKSKEY, APPSKEY, APPKEY))
    assert NWKSKEY not in repr(loaded) and APPKEY not in repr(loaded)


def test_a_keys_table_entry_overrides_one_csv_field(tmp_path, monkeypatch):
    monkeypatch.setenv("HROMADA_TEST_DL_APPSKEY", APPSKEY)
    gw = f'\n[sources.gw.keys.{ABP_EUI}]\nappskey = "env:HROMADA_TEST_DL_APPSKEY"\n'
    path = write_city(tmp_path, monkeypatch, gw=gw, appskey=WRONG_KEY)
    summary, stats, loaded, city = run(_abp_and_otaa(path))
    assert city.devices[ABP_EUI].network["appskey"] == WRONG_KEY  # the CSV's, overridden
    abp = loaded[ABP_EUI]
    assert (abp.dev_addr, abp.session_keys["nwkskey"].hex(),
            abp.session_keys["appskey"].hex()) == (ABP_ADDR, NWKSKEY, APPSKEY)
    assert summary["errors_by_kind"] == {}
    assert rows(tmp_path / "city.db",
                "select device, quantity, value, unit from readings order by rowid") == [
        (ABP_EUI, "temperature_3", 27.2, "Cel"), (ABP_EUI, "temperature_5", 25.5, "Cel"),
        (OTAA_EUI, "temperature_1", 22.5, "Cel"), (OTAA_EUI, "relative_humidity_2", 40.0, "%RH")]


def test_without_the_override_the_wrong_csv_key_decodes_nothing(tmp_path, monkeypatch):
    # The same city without the keys table: the uplink passes its MIC (NwkSKey) but its
    # payload, decrypted with the CSV's wrong AppSKey, is no Cayenne LPP.
    path = write_city(tmp_path, monkeypatch, appskey=WRONG_KEY)
    summary, _stats, loaded, _city = run(_abp_and_otaa(path))
    assert loaded[ABP_EUI].session_keys["appskey"].hex() == WRONG_KEY
    assert rows(tmp_path / "city.db", "select device from readings where device = ?",
                ABP_EUI) == []
    assert summary["errors_by_kind"].get("decode") == 1


# -- the layers, without a network -----------------------------------------------------------

def test_the_declared_device_options_are_the_columns_read():
    [desc] = semtech_udp.hromada_sources()
    opts = {o.name: o for o in desc.device_options}
    assert list(opts) == ["dev_addr", "nwkskey", "appskey", "fnwksintkey", "snwksintkey",
                          "nwksenckey", "appkey", "nwkkey", "join_eui", "lorawan_version",
                          "lorawan_class", "rx1_delay", "rx1_dr_offset", "rx2_frequency",
                          "rx2_datr"]
    assert set(opts) == set(DEVICE_COLUMNS)
    assert {n: o.type for n, o in opts.items() if o.type != "str"} == {
        "rx1_delay": "int", "rx1_dr_offset": "int", "rx2_frequency": "float"}
    assert sorted(n for n, o in opts.items() if o.secret) == [
        "appkey", "appskey", "fnwksintkey", "nwkkey", "nwksenckey", "nwkskey", "snwksintkey"]
    assert not any(o.required for o in opts.values())


def _device(eui, origin, **network):
    return Device(eui, "cayenne/lpp", network=network, origin=origin)


def test_keys_file_and_table_override_device_list_fields_one_by_one(tmp_path):
    keys = tmp_path / "keys.csv"
    keys.write_text("dev_eui,dev_addr,nwkskey,appskey\n"
                    f"{ABP_EUI},,{NWKSKEY},\n")   # empty cells override nothing
    city = {
        ABP_EUI: _device(ABP_EUI, "devices[0]", dev_addr=ABP_ADDR, nwkskey=WRONG_KEY,
                         appskey=WRONG_KEY, lorawan_class="C"),
        OTAA_EUI: _device(OTAA_EUI, "devices[1]", appkey=APPKEY, join_eui=JOIN_EUI),
        PLAIN_EUI: _device(PLAIN_EUI, "devices[2]"),
    }
    devs = load_devices({ABP_EUI: {"appskey": APPSKEY}}, keys, city, "sources.gw")
    assert sorted(devs) == [ABP_EUI, OTAA_EUI]
    abp = devs[ABP_EUI]
    assert (abp.dev_addr, abp.device_class, abp.session_keys["nwkskey"].hex(),
            abp.session_keys["appskey"].hex()) == (ABP_ADDR, "C", NWKSKEY, APPSKEY)
    assert devs[OTAA_EUI].appkey.hex() == APPKEY
    # Still usable without a device list, and with devices that carry no network fields.
    assert sorted(load_devices({OTAA_EUI: {"appkey": APPKEY}}, None, None,
                               "sources.gw")) == [OTAA_EUI]
    assert load_devices({}, None, {ABP_EUI: None}, "sources.gw") == {}


@pytest.mark.parametrize("network, origin, message", [
    ({"appkey": APPKEY[:-2]}, "devices[3]", "devices[3].appkey: expected 32 hex digits"),
    ({"appkey": APPKEY, "lorawan_version": "1.2"}, "/c/devices.csv: line 4",
     "/c/devices.csv: line 4.lorawan_version: LoRaWAN version '1.2' is not 1.0.x or 1.1"),
    ({"appkey": APPKEY, "lorawan_class": "b"}, None,
     f"devices.{OTAA_EUI}.lorawan_class: device class 'b' is not A or C (class B is not "
     "supported)"),
    ({"nwkskey": NWKSKEY, "appskey": APPSKEY}, "devices[3]",
     "devices[3]: session keys without dev_addr; give the DevAddr of the ABP session"),
    ({"dev_addr": ABP_ADDR, "nwkskey": "env:HROMADA_TEST_DL_UNSET"}, "devices[3]",
     "devices[3].nwkskey: environment variable HROMADA_TEST_DL_UNSET is not set"),
    ({"join_eui": NWKSKEY, "appkey": APPKEY}, "devices[3]",
     "devices[3].join_eui: expected 16 hex digits, got a value that looks like a key "
     "(not shown)"),
])
def test_device_list_errors_name_device_and_column_never_the_key(network, origin, message,
                                                                 monkeypatch):
    monkeypatch.delenv("HROMADA_TEST_DL_UNSET", raising=False)
    city = {OTAA_EUI: _device(OTAA_EUI, origin, **network)}
    with pytest.raises(ValueError) as exc:
        load_devices({}, None, city, "sources.gw")
    assert str(exc.value) == message
    for key in (APPKEY, APPKEY[:-2], NWKSKEY, APPSKEY):
        assert key not in str(exc.value)


def test_a_field_named_by_the_layer_that_gave_it(tmp_path):
    keys = tmp_path / "keys.csv"
    keys.write_text(f"dev_eui,appskey\n{ABP_EUI},{APPSKEY[:-1]}\n")
    city = {ABP_EUI: _device(ABP_EUI, "devices[0]", dev_addr=ABP_ADDR, nwkskey=NWKSKEY,
                             appskey=APPSKEY)}
    with pytest.raises(ValueError) as exc:
        load_devices({}, keys, city, "sources.gw")
    assert str(exc.value) == f"{keys}: line 2.appskey: expected 32 hex digits"
    with pytest.raises(ValueError) as exc:
        load_devices({ABP_EUI: {"lorawan_class": "C"}}, None, city, "sources.gw")
    assert str(exc.value) == (
        f"sources.gw.keys.{ABP_EUI}: unknown field(s) lorawan_class; allowed: dev_addr, "
        "nwkskey, appskey, fnwksintkey, snwksintkey, nwksenckey, appkey, nwkkey, join_eui, "
        "version, class, allow_reset, max_gap, rx1_delay, rx1_dr_offset, rx2_frequency, "
        "rx2_datr")
    city = {"cabinet-7": _device("cabinet-7", "devices[5]", appkey=APPKEY)}
    with pytest.raises(ValueError) as exc:
        load_devices({}, None, city, "sources.gw")
    assert str(exc.value) == ("devices[5].id: a device with LoRaWAN columns (appkey) needs "
                              "its DevEUI (16 hex digits) as id, not 'cabinet-7'")
