"""OTAA join server, DevAddr ranges, device key tables and files, source options."""

import random
import threading

import msgpack
import pytest

from hromada import lorawan
from hromada.lorawan.session import SessionTable
from hromada.options import validate_options
from hromada.state import StateDB, StateError
from hromada_plugins.sources import semtech_udp
from hromada_plugins.sources.semtech_udp.devices import build_device, load_devices, read_keys_file
from hromada_plugins.sources.semtech_udp.joinserver import (
    JoinRefused,
    JoinServer,
    cflist_bytes,
    dev_addr_range,
    parse_range,
)

APPKEY = "2b7e151628aed2a6abf7158809cf4f3c"
NWKKEY = "000102030405060708090a0b0c0d0e0f"
DEV = "70b3d57ed0000001"
JOIN_EUI = "70b3d57ed0000000"


@pytest.mark.parametrize("net_id, first, last", [
    (0x000000, "00000000", "01ffffff"),
    (0x000013, "26000000", "27ffffff"),       # The Things Network
    (0x20002d, "ad000000", "adffffff"),       # type 1: prefix 10, NwkID 6 bits, 24 bits left
    (0x40016b, "d6b00000", "d6bfffff"),       # type 2: prefix 110, NwkID 9 bits
    (0x60002d, "e05a0000", "e05bffff"),       # type 3: prefix 1110, NwkID 11 bits
    (0xc00053, "fc014c00", "fc014fff"),       # type 6: prefix 1111110, NwkID 15 bits
    (0xe003ff, "fe01ff80", "fe01ffff"),       # type 7: 7 bits of NwkAddr left
])
def test_dev_addr_range_of_a_net_id(net_id, first, last):
    lo, hi = dev_addr_range(net_id)
    assert (f"{lo:08x}", f"{hi:08x}") == (first, last)


@pytest.mark.parametrize("text, message", [
    ("26011000", "x: '26011000' is not a DevAddr range like \"26011000-260113ff\""),
    ("2601100-26011fff", "x: '2601100-26011fff' is not a DevAddr range like \"26011000-260113ff\""),
    ("260113ff-26011000", "x: the range '260113ff-26011000' ends before it starts"),
])
def test_bad_dev_addr_ranges(text, message):
    with pytest.raises(ValueError) as exc:
        parse_range(text, "x")
    assert str(exc.value) == message


def test_cflist_holds_frequencies_in_100_hz_units_and_type_0():
    assert cflist_bytes([867.1, 867.3]).hex() == "184f84e85684" + "00" * 9 + "00"
    assert cflist_bytes([]) == b""
    with pytest.raises(ValueError, match="cflist: at most 5 frequencies, got 6"):
        cflist_bytes([867.1] * 6)
    with pytest.raises(ValueError, match="cflist: 'x' is not a frequency in MHz"):
        cflist_bytes(["x"])


def _server(version="1.0", **kw):
    fields = {"appkey": APPKEY, "join_eui": JOIN_EUI}
    if version == "1.1":
        fields["nwkkey"] = NWKKEY
    dev = build_device(DEV, fields, "keys")
    return JoinServer({DEV: dev}, **kw)


def _request(dev_nonce, key=APPKEY, dev_eui=DEV, join_eui=JOIN_EUI, v11=False):
    keys = {"nwkkey": key} if v11 else {"appkey": key}
    return lorawan.encode_join_request(join_eui=join_eui, dev_eui=dev_eui, dev_nonce=dev_nonce,
                                       **keys)


def test_a_1_0_join_gives_a_working_session():
    js = _server(net_id=0x13, rx1_dr_offset=2, rx2_dr=3, rx_delay=5,
                 cflist=cflist_bytes([867.1]))
    joined = js.handle(_request(0x1234))
    assert (joined.device, joined.dev_addr, joined.dev_nonce, joined.join_nonce) == (
        DEV, "26000000", 0x1234, 1)
    accept = lorawan.decode(joined.join_accept, appkey=APPKEY)
    assert accept.to_dict() == {
        "mtype": "JoinAccept", "join_nonce": "000001", "net_id": "000013",
        "dev_addr": "26000000", "dl_settings": "23", "rx_delay": 5,
        "cflist": "184f84" + "00" * 13, "mic": accept.mic, "mic_ok": True}
    keys = lorawan.derive_session_keys_10(APPKEY, join_nonce=1, net_id="000013",
                                          dev_nonce=0x1234)
    up = lorawan.encode_data(dev_addr="26000000", fcnt=0, fport=2, payload=b"ok",
                             **keys.as_kwargs())
    verdict = SessionTable([joined.session]).check_uplink(up)
    assert (verdict.reason, verdict.frame.frm_payload) == ("accepted", b"ok")
    assert "Joined(device='70b3d57ed0000001', dev_addr='26000000'" in repr(joined)


def test_a_1_1_join_uses_opt_neg_and_js_int_key():
    js = _server("1.1")
    joined = js.handle(_request(3, NWKKEY, v11=True))
    jsk = lorawan.derive_js_keys(NWKKEY, DEV)
    accept = lorawan.decode(joined.join_accept, nwkkey=NWKKEY, jsintkey=jsk.jsintkey,
                            join_eui=JOIN_EUI, dev_nonce=3)
    assert (accept.mic_ok, accept.dl_settings, accept.dev_addr) == (True, "80", "00000000")
    keys = lorawan.derive_session_keys_11(NWKKEY, APPKEY, join_nonce=1, join_eui=JOIN_EUI,
                                          dev_nonce=3)
    up = lorawan.encode_data(dev_addr="00000000", fcnt=0, fport=1, payload=b"v11",
                             **keys.as_kwargs())
    verdict = SessionTable([joined.session]).check_uplink(up)
    assert (verdict.reason, verdict.session.version) == ("accepted", "1.1")


@pytest.mark.parametrize("check, nonces, refused", [
    ("unique", [5, 3, 5], [5]),
    ("increasing", [5, 3, 6, 6], [3, 6]),
])
def test_dev_nonce_reuse_is_refused(check, nonces, refused):
    js = _server(dev_nonce_check=check)
    got = []
    for n in nonces:
        try:
            js.handle(_request(n))
        except JoinRefused as exc:
            assert exc.kind == "dev_nonce" and exc.device == DEV
            assert str(exc) == (f"join-request of device {DEV} reuses DevNonce {n} (a replayed "
                                "join-request): refused")
            got.append(n)
    assert got == refused


@pytest.mark.parametrize("phy, kind, message", [
    (_request(1, dev_eui="70b3d57ed00000ff"), "join_refused",
     "join-request from DevEUI 70b3d57ed00000ff, which has no root keys in this city"),
    (_request(1, join_eui="0000000000000001"), "join_refused",
     f"join-request of device {DEV} names JoinEUI 0000000000000001, not its {JOIN_EUI}"),
    (_request(1, key=NWKKEY), "mic",
     f"join-request of device {DEV}: the MIC does not match its root key"),
    (_request(1)[:-1], "join_refused",
     "unreadable join-request: mic at byte 19: frame too short (length 22); a join-request "
     "is 23 bytes"),
])
def test_refused_join_requests_say_why(phy, kind, message):
    js = _server()
    with pytest.raises(JoinRefused) as exc:
        js.handle(phy)
    assert (exc.value.kind, str(exc.value)) == (kind, message)
    assert js.records.get(DEV, {"nonces": set()})["nonces"] == set()  # nothing was used up


def test_dev_addrs_skip_those_in_use_and_run_out():
    js = _server(addr_range=(0x26011000, 0x26011002))
    assert js.handle(_request(1), {"26011000"}).dev_addr == "26011001"
    assert js.handle(_request(2), {"26011001"}).dev_addr == "26011002"
    assert js.handle(_request(3), {"26011002"}).dev_addr == "26011000"  # wraps around
    with pytest.raises(JoinRefused, match="no free DevAddr left in 26011000-26011002"):
        js.handle(_request(4), {"26011000", "26011001", "26011002"})


def test_join_state_has_no_keys_and_restores_the_session():
    js = _server(net_id=0x13)
    js.handle(_request(7))
    state = js.state()
    assert state == {"next_addr": 0x26000001, "devices": {DEV: {
        "nonces": [7], "last_nonce": 7, "join_nonce": 1,
        "session": {"dev_addr": "26000000", "join_nonce": 1, "dev_nonce": 7,
                    "net_id": "000013", "join_eui": JOIN_EUI, "version": "1.0"}}}}
    again = _server(net_id=0x13)
    again.load_state(state)
    session = again.restore_session(DEV)
    keys = lorawan.derive_session_keys_10(APPKEY, join_nonce=1, net_id="000013", dev_nonce=7)
    up = lorawan.encode_data(dev_addr="26000000", fcnt=0, fport=1, payload=b"x",
                             **keys.as_kwargs())
    assert SessionTable([session]).check_uplink(up).accepted
    with pytest.raises(JoinRefused, match="reuses DevNonce 7"):
        again.handle(_request(7))
    assert again.handle(_request(8)).join_nonce == 2


# -- device keys ---------------------------------------------------------------------------

NWK = "44024241ed4ce9a68c6a8bc055233fd3"
APP = "ec925802ae430ca77fd3dd73cb2cc588"


ABP_FIELDS = {"dev_addr": "26011bda", "nwkskey": NWK, "appskey": APP}


def test_an_abp_devices_own_receive_windows_are_read():
    dev = build_device("0004a30b001c0530", {**ABP_FIELDS, "rx1_delay": "5", "rx1_dr_offset": 1,
                                            "rx2_frequency": "869.525", "rx2_datr": "SF9BW125"},
                       "k")
    assert dev.rx == {"rx1_delay": 5, "rx1_dr_offset": 1, "rx2_frequency": 869.525,
                      "rx2_datr": "SF9BW125"}
    assert build_device("0004a30b001c0530", {**ABP_FIELDS, "rx2_datr": "50000"}, "k").rx == {
        "rx2_datr": 50000}    # FSK, in bit/s
    assert build_device("0004a30b001c0530", ABP_FIELDS, "k").rx == {}


@pytest.mark.parametrize("fields, message", [
    ({"dev_addr": "26011bda", "nwkskey": NWK},
     "k: an ABP device (dev_addr given) of LoRaWAN 1.0 needs appskey"),
    ({"nwkskey": NWK, "appskey": APP},
     "k: session keys without dev_addr; give the DevAddr of the ABP session"),
    ({}, "k: neither dev_addr with session keys (ABP) nor appkey (OTAA)"),
    ({"appkey": APP, "colour": "red"},
     "k: unknown field(s) colour; allowed: dev_addr, nwkskey, appskey, fnwksintkey, "
     "snwksintkey, nwksenckey, appkey, nwkkey, join_eui, version, class, allow_reset, max_gap, "
     "rx1_delay, rx1_dr_offset, rx2_frequency, rx2_datr"),
    ({"appkey": APP, "version": "1.2"}, "k.version: LoRaWAN version '1.2' is not 1.0.x or 1.1"),
    ({"appkey": APP, "class": "B"},
     "k.class: device class 'B' is not A or C (class B is not supported)"),
    ({"appkey": APP, "version": "1.1"},
     "k: an OTAA device of LoRaWAN 1.1 needs nwkkey as well as appkey"),
    ({"appkey": APP[:-2]}, "k.appkey: expected 32 hex digits"),
    ({"appkey": "env:HROMADA_TEST_UNSET_KEY"},
     "k.appkey: environment variable HROMADA_TEST_UNSET_KEY is not set"),
    ({"appkey": APP, "join_eui": "12"}, "k.join_eui: expected 16 hex digits, got '12'"),
    ({"dev_addr": "xyz", "nwkskey": NWK, "appskey": APP},
     "k.dev_addr: expected 8 hex digits, got 'xyz'"),
    ({"appkey": APP, "max_gap": 0}, "k.max_gap: must be at least 1, not 0"),
    ({"appkey": APP, "allow_reset": "maybe"}, "k.allow_reset: must be true or false, not 'maybe'"),
    ({"appkey": APP, "rx1_delay": 2, "rx2_datr": "SF9BW125"},
     "k: rx1_delay, rx2_datr are the settings of an ABP device; an OTAA device takes the "
     "source's from its join-accept"),
    ({**ABP_FIELDS, "rx1_delay": 16}, "k.rx1_delay: must be seconds from 1 to 15, not 16"),
    ({**ABP_FIELDS, "rx1_dr_offset": "x"},
     "k.rx1_dr_offset: must be an integer from 0 to 5, not 'x'"),
    ({**ABP_FIELDS, "rx2_frequency": 8695.25},
     "k.rx2_frequency: must be a frequency in MHz from 100 to 1100 (e.g. 869.525), not 8695.25"),
    ({**ABP_FIELDS, "rx2_datr": "SF13BW125"},
     "k.rx2_datr: must be a data rate like \"SF9BW125\" (or FSK bit/s), not 'SF13BW125'"),
])
def test_bad_device_keys_are_named_without_their_values(fields, message, monkeypatch):
    monkeypatch.delenv("HROMADA_TEST_UNSET_KEY", raising=False)
    with pytest.raises(ValueError) as exc:
        build_device("0004a30b001c0530", fields, "k")
    assert str(exc.value) == message
    assert APP not in str(exc.value) and APP[:-2] not in str(exc.value)


def test_keys_from_env_csv_and_toml(tmp_path, monkeypatch):
    monkeypatch.setenv("HROMADA_TEST_NWK", NWK.upper())
    (tmp_path / "keys.csv").write_text(
        "DEV_EUI,dev_addr,nwkskey,appskey,appkey,class,allow_reset\n"
        f"0004A30B001C0530,26011BDA,env:HROMADA_TEST_NWK,{APP},,c,true\n"
        f"70b3d57ed0000001,,,,{APP},,\n")
    rows, where = read_keys_file(tmp_path / "keys.csv")
    assert rows["0004a30b001c0530"]["dev_addr"] == "26011BDA"
    assert where["70b3d57ed0000001"] == f"{tmp_path / 'keys.csv'}: line 3"
    from_csv = load_devices({}, tmp_path / "keys.csv", None, "sources.gw")
    abp = from_csv["0004a30b001c0530"]
    assert (abp.session_keys["nwkskey"].hex(), abp.dev_addr, abp.device_class,
            abp.allow_reset) == (NWK, "26011bda", "C", True)
    assert from_csv["70b3d57ed0000001"].appkey.hex() == APP
    (tmp_path / "keys.csv").write_text("dev_eui,serial\n0004a30b001c0530,x\n")
    with pytest.raises(ValueError) as exc:
        load_devices({}, tmp_path / "keys.csv", None, "sources.gw")
    assert str(exc.value) == (f"{tmp_path / 'keys.csv'}: line 2: unknown field(s) serial; "
                              "allowed: dev_addr, nwkskey, appskey, fnwksintkey, snwksintkey, "
                              "nwksenckey, appkey, nwkkey, join_eui, version, class, "
                              "allow_reset, max_gap, rx1_delay, rx1_dr_offset, "
                              "rx2_frequency, rx2_datr")
    (tmp_path / "keys.toml").write_text(
        f'[0004a30b001c0530]\ndev_addr = "26011bda"\nnwkskey = "{NWK}"\nappskey = "{APP}"\n'
        f'[70b3d57ed0000001]\nappkey = "{APP}"\nclass = "C"\n')
    city = {"0004a30b001c0530": None, "70b3d57ed0000001": None}
    devs = load_devices({"70b3d57ed0000001": {"join_eui": JOIN_EUI}}, tmp_path / "keys.toml",
                        city, "sources.gw")
    abp, otaa = devs["0004a30b001c0530"], devs["70b3d57ed0000001"]
    assert (abp.dev_addr, abp.session_keys["nwkskey"].hex()) == ("26011bda", NWK)
    assert (otaa.appkey.hex(), otaa.join_eui, otaa.device_class) == (APP, JOIN_EUI, "C")
    with pytest.raises(ValueError) as exc:
        load_devices({"0004a30b001c0531": {"appkey": APP}}, None, city, "sources.gw")
    assert str(exc.value) == ("sources.gw.keys.0004a30b001c0531: device 0004a30b001c0531 is "
                              "not in the city's device list")


@pytest.mark.parametrize("text, message", [
    ("id,appkey\n12,{app}\n", "line 2: id: expected 16 hex digits, got '12'"),
    ("dev_addr,appkey\n1,2\n", "line 1: the header needs a dev_eui (or id) column"),
    ("id,appkey\n0004a30b001c0530,{app},extra\n", "line 2: more cells than header columns"),
    ("id,appkey\n0004a30b001c0530,{app}\n0004a30b001c0530,{app}\n",
     "line 3: DevEUI 0004a30b001c0530 is listed twice"),
])
def test_bad_keys_files_name_the_line(tmp_path, text, message):
    path = tmp_path / "keys.csv"
    path.write_text(text.format(app=APP))
    with pytest.raises(ValueError) as exc:
        read_keys_file(path)
    assert str(exc.value) == f"{path}: {message}"


# -- the source's own options ------------------------------------------------------------

def _options(**given):
    [desc] = semtech_udp.hromada_sources()
    opts, problems = validate_options(desc.options, given, "sources.gw")
    assert problems == []
    return opts


@pytest.mark.parametrize("given, message", [
    ({"bind": "localhost"}, "sources.gw.bind: 'localhost' is not host:port (e.g. \"0.0.0.0:1700\")"),
    ({"net_id": "13"}, "sources.gw.net_id: expected 6 hex digits, got '13'"),
    ({"rx2_datr": "SF6BW100"},
     "sources.gw.rx2_datr: 'SF6BW100' is not a data rate like \"SF12BW125\" (or FSK bit/s)"),
    ({"gateways": ["aa55"]}, "sources.gw.gateways: 'aa55' is not a gateway EUI (16 hex digits)"),
    ({"cflist": [867.1] * 6}, "sources.gw.cflist: at most 5 frequencies, got 6"),
    ({"dev_addr_range": "x-y"},
     "sources.gw.dev_addr_range: 'x-y' is not a DevAddr range like \"26011000-260113ff\""),
])
def test_bad_source_options_are_named(given, message):
    with pytest.raises(ValueError) as exc:
        semtech_udp.SemtechUdpSource("gw", _options(**given), None)
    assert str(exc.value) == message


def test_damaged_saved_state_refuses_to_start(tmp_path):
    with StateDB(tmp_path / "state.db") as db:
        scope = db.scope("source:gw")
        scope.put("meta", b"\x82\xa4se")  # a truncated map
        src = semtech_udp.SemtechUdpSource("gw", _options(), None)
        with pytest.raises(ValueError) as exc:
            src.load_state(scope)
    assert str(exc.value) == (
        f"sources.gw: saved state (key 'meta' of source:gw in {tmp_path / 'state.db'}) is "
        "unreadable (ValueError: Unpack failed: incomplete input); the frame counters in it "
        "protect against replays. `hromada state CITY --forget source:gw` starts with "
        "fresh counters (replayed frames older than now would then be accepted once)")


def test_secret_option_values_are_not_shown_by_validation():
    [desc] = semtech_udp.hromada_sources()
    _opts, problems = validate_options(desc.options, {"keys": "env:APPKEY" + APP}, "sources.gw")
    assert problems == [("sources.gw.keys", "must be a table, not str (secret)")]


def test_check_reports_key_problems_before_the_city_runs(tmp_path, capsys):
    from hromada.cli import main

    (tmp_path / "city.toml").write_text(
        '[city]\nname = "Keyville"\n\n[sources.gw]\nplugin = "semtech-udp"\n'
        'bind = "127.0.0.1:0"\n\n[sources.gw.keys.70b3d57ed0000001]\n'
        'dev_addr = "26011bda"\nnwkskey = "env:HROMADA_TEST_UNSET_KEY"\n'
        'appskey = "00112233445566778899aabbccddeeff"\n\n'
        '[sources.gw.keys.70b3d57ed0000999]\nappkey = "00112233445566778899aabbccddeeff"\n\n'
        '[[devices]]\nid = "70b3d57ed0000001"\nmodel = "cayenne/lpp"\n')
    path = tmp_path / "city.toml"
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: sources.gw.keys.70b3d57ed0000001.nwkskey: environment variable " \
           "HROMADA_TEST_UNSET_KEY is not set" in err
    path.write_text(path.read_text().replace('"env:HROMADA_TEST_UNSET_KEY"',
                                             '"ffeeddccbbaa99887766554433221100"'))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: sources.gw.keys.70b3d57ed0000999: device 70b3d57ed0000999 is not in " \
           "the city's device list" in err
    assert "00112233445566778899aabbccddeeff" not in err and "ffeeddcc" not in err


def test_state_writes_from_the_saver_thread_and_the_stop_never_race(tmp_path):
    # CI once failed with FileNotFoundError on a temporary file's rename: the periodic
    # saver's worker thread and the final save at stop wrote at the same time.  Now every
    # write takes the lock and writes everything taken so far; a late write of an older
    # number finds nothing left and never replaces newer values.
    with StateDB(tmp_path / "state.db") as db:
        src = semtech_udp.SemtechUdpSource("gw", _options(), None)
        src.state = db.scope("source:gw")
        for n in range(1, 201):
            src._unwritten.update({"last": b"%d" % n, f"only/{n}": b"x"})
        src._state_seq = 200
        order = list(range(1, 201))
        random.Random(7).shuffle(order)
        errors = []

        def write(seq):
            try:
                src._write(seq)
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(seq,)) for seq in order]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        saved = src.state.load()
        assert saved["last"] == b"200"
        assert sorted(saved) == sorted(["last", *(f"only/{n}" for n in range(1, 201))])
        assert src._unwritten == {} and src._state_written == 200
        # a write numbered before what is on disk changes nothing
        src.state.put("last", b"newer")
        src._write(150)
        assert src.state.get("last") == b"newer"
        # The stop's save takes the next number, so it is written after all of them.
        src.save_state()
        assert msgpack.unpackb(src.state.get("meta"))["source"] == "semtech-udp"
        assert src._state_written == 201


def test_a_failed_state_write_goes_with_the_next(tmp_path):
    db = StateDB(tmp_path / "state.db")
    src = semtech_udp.SemtechUdpSource("gw", _options(), None)
    src.state = db.scope("source:gw")
    src._dirty.add("0000000000000001")
    first = src._take_changes()
    db.close()
    with pytest.raises(StateError) as exc:
        src._write(first)
    assert str(exc.value) == f"the city's state database {tmp_path / 'state.db'} is closed"
    with StateDB(tmp_path / "state.db") as db:
        src.state = db.scope("source:gw")
        src._dirty.add("0000000000000002")
        src.save_state()
        assert sorted(src.state.load()) == ["device/0000000000000001",
                                            "device/0000000000000002", "meta"]
    # failed writes keep one value per key, not one copy per attempt
    db.close()
    src._dirty.add("0000000000000001")
    for _ in range(50):
        with pytest.raises(StateError):
            src._write(src._take_changes())
        src._dirty.add("0000000000000001")
    assert sorted(src._unwritten) == ["device/0000000000000001", "meta"]


def test_check_names_every_bad_device_not_only_the_first():
    table = {"0004a30b001c0530": {"dev_addr": "xyz", "nwkskey": NWK, "appskey": APP},
             "70b3d57ed0000001": {"appkey": APP[:-2]},
             "70b3d57ed0000002": {"appkey": APP}}
    problems = []
    got = load_devices(table, None, None, "sources.gw", problems=problems)
    assert list(got) == ["70b3d57ed0000002"]
    assert problems == [
        "sources.gw.keys.0004a30b001c0530.dev_addr: expected 8 hex digits, got 'xyz'",
        "sources.gw.keys.70b3d57ed0000001.appkey: expected 32 hex digits"]
    [desc] = semtech_udp.hromada_sources()
    opts = _options(keys=table)
    assert desc.validate("gw", opts, None) == [
        ("sources.gw.keys.0004a30b001c0530.dev_addr", "expected 8 hex digits, got 'xyz'"),
        ("sources.gw.keys.70b3d57ed0000001.appkey", "expected 32 hex digits")]
    with pytest.raises(ValueError):   # without a problems list, the first one raises
        load_devices(table, None, None, "sources.gw")
