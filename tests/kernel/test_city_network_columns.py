"""Network columns of the device list: per-device fields a source reads (its
``device_options``), kept in ``Device.network``, never shown."""

import textwrap

from hromada.city import check_city, load_city, network_columns
from hromada.cli import main
from hromada.model import Device

NWKSKEY = "44024241ed4ce9a68c6a8bc055233fd3"
APPSKEY = "ec925802ae430ca77fd3dd73cb2cc588"
APPKEY = "2b7e151628aed2a6abf7158809cf4f3c"
ABP = "0004a30b001c0530"
OTAA = "70b3d57ed0000001"

COLUMNS = ("appkey, appskey, dev_addr, fnwksintkey, join_eui, lorawan_class, "
           "lorawan_version, nwkkey, nwksenckey, nwkskey, rx1_delay, rx1_dr_offset, "
           "rx2_datr, rx2_frequency, snwksintkey")

HEAD = """
[city]
name = "Keyville"
{city}

[plugins]
modules = {modules}

[sources.sim]
plugin = "simulator"
span = "1h"
"""

# A plugin file with a source whose device options are not strings, and a device model
# whose own option has the name of a semtech-udp network column.
PLUGIN = '''
import hromada
from hromada import DeviceModel, Option, SourceType


@hromada.hookimpl
def hromada_sources():
    return [SourceType(
        name="keyed", factory=lambda name, options, city: None,
        device_options=(
            Option("pin", "int", default=None, secret=True, min=0, max=9999),
            Option("lease", "duration", default=None, secret=True),
            Option("slot", "int", default=None, min=1, max=8),
            Option("site_plan", "path", default=None),
        ))]


@hromada.hookimpl
def hromada_device_models():
    return [DeviceModel(
        id="acme/clash", family="generic", decode=lambda payload, fport, options: [],
        options=(Option("join_eui", "int", default=0),))]
'''


def write_city(tmp_path, devices="", csv_text=None, plugin=False):
    city = 'devices = "devices.csv"' if csv_text is not None else ""
    modules = ["keyed.py"] if plugin else []
    if plugin:
        (tmp_path / "keyed.py").write_text(PLUGIN)
    if csv_text is not None:
        (tmp_path / "devices.csv").write_text(csv_text)
    path = tmp_path / "city.toml"
    path.write_text(HEAD.format(city=city, modules=modules) + textwrap.dedent(devices))
    return path


def problems_of(path):
    city, problems = check_city(path)
    assert city is None
    return [(p.file, p.where, p.message) for p in problems]


def test_inline_devices_keep_network_columns_apart_from_options(tmp_path):
    path = write_city(tmp_path, f"""
        [[devices]]
        id = "{ABP.upper()}"
        model = "cayenne/lpp"
        fport = 2
        dev_addr = "26011bda"
        nwkskey = "{NWKSKEY}"
        appskey = "env:HROMADA_TEST_APPSKEY"

        [[devices]]
        id = "{OTAA}"
        model = "cayenne/lpp"
        appkey = "{APPKEY}"
        join_eui = "70b3d57ed0000000"
        lorawan_version = "1.0.3"
        lorawan_class = "C"

        [[devices]]
        id = "70b3d57ed0000002"
        model = "cayenne/lpp"
        """)
    city = load_city(path)
    abp, otaa, plain = (city.devices[d] for d in (ABP, OTAA, "70b3d57ed0000002"))
    assert abp.network == {"dev_addr": "26011bda", "nwkskey": NWKSKEY,
                           "appskey": "env:HROMADA_TEST_APPSKEY"}
    assert abp.options == {"fport": 2}
    assert otaa.network == {"appkey": APPKEY, "join_eui": "70b3d57ed0000000",
                            "lorawan_version": "1.0.3", "lorawan_class": "C"}
    assert plain.network == {}
    assert (abp.origin, otaa.origin, plain.origin) == ("devices[0]", "devices[1]", "devices[2]")
    for dev in (abp, otaa):
        text = repr(dev) + str(dev)
        assert NWKSKEY not in text and APPKEY not in text and "network" not in text
        assert "APPSKEY" not in text
    assert repr(abp) == ("Device(id='0004a30b001c0530', model='cayenne/lpp', name=None, "
                         "lat=None, lon=None, district=None, tags=(), options={'fport': 2})")


def test_csv_network_columns_land_in_device_network(tmp_path):
    csv_text = ("id,model,name,fport,dev_addr,nwkskey,appskey,appkey,join_eui,lorawan_class\n"
                f"{ABP},cayenne/lpp,abp,2,26011BDA,env:NWK,{APPSKEY},,,\n"
                f"{OTAA},cayenne/lpp,otaa,,,,,{APPKEY},70b3d57ed0000000,A\n"
                "70b3d57ed0000002,cayenne/lpp,plain,,,,,,,\n")
    city = load_city(write_city(tmp_path, csv_text=csv_text))
    csv_path = tmp_path / "devices.csv"
    abp, otaa, plain = (city.devices[d] for d in (ABP, OTAA, "70b3d57ed0000002"))
    assert abp.network == {"dev_addr": "26011BDA", "nwkskey": "env:NWK", "appskey": APPSKEY}
    assert abp.options == {"fport": 2}
    assert otaa.network == {"appkey": APPKEY, "join_eui": "70b3d57ed0000000",
                            "lorawan_class": "A"}
    assert otaa.options == {"fport": 1}  # the model's default
    assert plain.network == {}  # empty cells are not given
    assert (abp.origin, otaa.origin) == (f"{csv_path}: line 2", f"{csv_path}: line 3")
    assert APPSKEY not in repr(abp) and APPKEY not in repr(otaa)
    assert repr(otaa) == ("Device(id='70b3d57ed0000001', model='cayenne/lpp', name='otaa', "
                          "lat=None, lon=None, district=None, tags=(), "
                          "options={'fport': 1})")


def test_network_is_not_part_of_equality():
    a = Device("d", "cayenne/lpp", network={"appkey": APPKEY})
    b = Device("d", "cayenne/lpp")
    assert a == b and a.network == {"appkey": APPKEY} and b.network == {}
    assert APPKEY not in repr(a)


def test_network_columns_come_from_installed_source_types(tmp_path):
    city = load_city(write_city(tmp_path, plugin=True, devices=f"""
        [[devices]]
        id = "{OTAA}"
        model = "cayenne/lpp"
        """))
    columns = network_columns(city.host)
    assert ", ".join(sorted(n for n in columns if n not in ("pin", "lease", "slot",
                                                             "site_plan"))) == COLUMNS
    assert columns["nwkskey"].secret and columns["appkey"].secret
    assert not columns["dev_addr"].secret and not columns["lorawan_version"].secret
    assert columns["pin"].type == "int" and columns["pin"].secret


def test_unknown_column_names_path_and_what_is_allowed(tmp_path):
    path = write_city(tmp_path, f"""
        [[devices]]
        id = "{OTAA}"
        model = "cayenne/lpp"
        appkey = "{APPKEY}"
        nwkskye = "{NWKSKEY}"
        """)
    assert problems_of(path) == [
        (str(path), "devices[0].nwkskye",
         f"unknown option 'nwkskye'; allowed options: fport; network columns: {COLUMNS}")]
    csv_text = ("id,model,app_key\n"
                f"{OTAA},cayenne/lpp,{APPKEY}\n")
    path = write_city(tmp_path, csv_text=csv_text)
    assert problems_of(path) == [
        (str(tmp_path / "devices.csv"), "line 2.app_key",
         f"unknown option 'app_key'; allowed options: fport; network columns: {COLUMNS}")]


def test_a_model_option_of_the_same_name_wins(tmp_path):
    csv_text = ("id,model,join_eui,appkey\n"
                f"{OTAA},acme/clash,7,{APPKEY}\n")
    city = load_city(write_city(tmp_path, csv_text=csv_text, plugin=True))
    dev = city.devices[OTAA]
    assert dev.options == {"join_eui": 7}           # the model's int option, coerced
    assert dev.network == {"appkey": APPKEY}        # not a network column for this model
    path = write_city(tmp_path, plugin=True, csv_text="id,model,join_eui\n"
                                                      f"{OTAA},acme/clash,70b3d57ed0000000\n")
    assert problems_of(path) == [
        (str(tmp_path / "devices.csv"), "line 2.join_eui",
         "must be an integer, not str '70b3d57ed0000000'")]


def test_csv_cells_are_coerced_and_checked_like_model_options(tmp_path):
    csv_text = ("id,model,slot,site_plan,pin\n"
                f"{OTAA},cayenne/lpp,3,plans/a.pdf,\n")
    city = load_city(write_city(tmp_path, csv_text=csv_text, plugin=True))
    assert city.devices[OTAA].network == {"slot": 3,
                                          "site_plan": tmp_path.resolve() / "plans" / "a.pdf"}
    csv_text = ("id,model,slot,lorawan_version\n"
                f"{OTAA},cayenne/lpp,9,1.1\n"
                f"{ABP},cayenne/lpp,two,\n")
    csv_path = str(tmp_path / "devices.csv")
    assert problems_of(write_city(tmp_path, csv_text=csv_text, plugin=True)) == [
        (csv_path, "line 2.slot", "9 is above the maximum 8"),
        (csv_path, "line 3.slot", "must be an integer, not str 'two'")]
    path = write_city(tmp_path, f"""
        [[devices]]
        id = "{OTAA}"
        model = "cayenne/lpp"
        lorawan_version = 1.1
        """)
    assert problems_of(path) == [
        (str(path), "devices[0].lorawan_version", "must be a string, not float 1.1")]


def test_secret_values_are_never_in_an_error(tmp_path):
    csv_text = ("id,model,pin,lease\n"
                f"{OTAA},cayenne/lpp,123456,forever{NWKSKEY}\n"
                f"{ABP},cayenne/lpp,{APPKEY[:6]},-{APPSKEY}\n")
    csv_path = str(tmp_path / "devices.csv")
    got = problems_of(write_city(tmp_path, csv_text=csv_text, plugin=True))
    assert got == [
        (csv_path, "line 2.pin", "(secret) is above the maximum 9999"),
        (csv_path, "line 2.lease", "(secret) is not a duration: use seconds or a string "
                                   "like '15min', '1h', '2d'"),
        (csv_path, "line 3.pin", "must be an integer, not str (secret)"),
        (csv_path, "line 3.lease", "(secret) is not a duration: use seconds or a string "
                                   "like '15min', '1h', '2d'")]
    path = write_city(tmp_path, f"""
        [[devices]]
        id = "{OTAA}"
        model = "cayenne/lpp"
        appkey = 0x{APPKEY[:12]}
        nwkkey = ["{NWKSKEY}"]
        """)
    got = problems_of(path)
    assert got == [
        (str(path), "devices[0].appkey", "must be a string, not int (secret)"),
        (str(path), "devices[0].nwkkey", "must be a string, not list (secret)")]
    text = repr(got)
    for secret in (NWKSKEY, APPKEY[:6], APPSKEY, str(int(APPKEY[:12], 16)), "123456"):
        assert secret not in text


# The keys of the semtech-udp source, checked by its validate before the city runs.
GW = """
[sources.gw]
plugin = "semtech-udp"
bind = "127.0.0.1:0"
"""


def test_check_names_the_csv_line_and_column_of_a_bad_key(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HROMADA_TEST_UNSET_KEY", raising=False)
    csv_text = ("id,model,dev_addr,nwkskey,appskey,appkey\n"
                f"{ABP},cayenne/lpp,26011bda,{NWKSKEY},{APPSKEY},\n"
                f"{OTAA},cayenne/lpp,,,,{APPKEY[:-1]}\n")
    path = write_city(tmp_path, GW, csv_text=csv_text)
    csv_path = tmp_path / "devices.csv"
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"{path}: {csv_path}: line 3.appkey: expected 32 hex digits",
                                f"{path}: 1 problem; the city is not valid"]
    assert APPKEY[:-1] not in err and NWKSKEY not in err and APPSKEY not in err
    # An unset variable is named, the value of another column is not shown.
    csv_path.write_text(csv_text.replace(APPKEY[:-1], APPKEY)
                        .replace(NWKSKEY, "env:HROMADA_TEST_UNSET_KEY"))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == (f"{path}: {csv_path}: line 2.nwkskey: environment variable "
                                   "HROMADA_TEST_UNSET_KEY is not set")
    assert APPSKEY not in err and APPKEY not in err
    # An inline device names its [[devices]] entry.
    path = write_city(tmp_path, GW + f"""
        [[devices]]
        id = "{OTAA}"
        model = "cayenne/lpp"
        lorawan_class = "B"
        appkey = "{APPKEY}"
        """)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == (f"{path}: devices[0].lorawan_class: device class 'B' is "
                                   "not A or C (class B is not supported)")
    assert APPKEY not in err


def test_check_json_never_shows_a_secret_column(tmp_path, capsys):
    csv_text = ("id,model,appkey,colour\n"
                f"{OTAA},cayenne/lpp,{APPKEY}x,red\n")
    path = write_city(tmp_path, GW, csv_text=csv_text)
    assert main(["check", str(path), "--json"]) == 2
    out = capsys.readouterr()
    assert APPKEY not in out.out + out.err
    assert "line 2.colour" in out.out and "line 2.appkey" not in out.out
    # With the unknown column gone, the device is built and the source's check runs.
    (tmp_path / "devices.csv").write_text(csv_text.replace(",colour", "").replace(",red", ""))
    assert main(["check", str(path), "--json"]) == 2
    out = capsys.readouterr()
    assert f"{tmp_path / 'devices.csv'}" in out.out and "line 2.appkey" in out.out
    assert APPKEY not in out.out + out.err
