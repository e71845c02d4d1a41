"""Gateway ingest without sockets: retransmitted confirmed uplinks, late copies from other
gateways, join-accept radio parameters, RX1 data rates and the 32-bit tmst wrap."""

import asyncio

import pytest

from hromada import lorawan
from hromada.lorawan.gateway_sim import SimDevice
from hromada_plugins.sources.semtech_udp import gwmp

ABP_EUI = "0004a30b001c0530"
OTAA_EUI = "70b3d57ed0000001"
JOIN_EUI = "70b3d57ed0000000"
KEYS = {"nwkskey": "44024241ed4ce9a68c6a8bc055233fd3",
        "appskey": "ec925802ae430ca77fd3dd73cb2cc588"}
APPKEY = "2b7e151628aed2a6abf7158809cf4f3c"
GW1, GW2 = "aa555a0000000101", "aa555a0000000102"
GW_ADDR = {GW1: ("127.0.0.1", 1701), GW2: ("127.0.0.1", 1702)}


class _Ctx:
    def __init__(self):
        self.errors, self.events, self.records = [], [], []

    def count_error(self, kind, message=None, device=None):
        self.errors.append(kind)

    def emit(self, event):
        self.events.append(event)

    def pack(self, payload, **kw):
        return (payload, kw)

    async def put(self, records):
        self.records.extend(records)


def _source(**options):
    from hromada.options import validate_options
    from hromada_plugins.sources import semtech_udp

    [desc] = semtech_udp.hromada_sources()
    opts, problems = validate_options(desc.options, {
        "bind": "127.0.0.1:0", "dedup_window": 0,
        "keys": {ABP_EUI: {"dev_addr": "26011bda", **KEYS},
                 OTAA_EUI: {"appkey": APPKEY, "join_eui": JOIN_EUI}},
        **options}, "sources.gw")
    assert problems == []
    src = semtech_udp.SemtechUdpSource("gw", opts, None)
    src.ctx = _Ctx()
    src.sent = []
    src._send = lambda data, addr: src.sent.append((gwmp.parse(data), addr))
    for eui, addr in GW_ADDR.items():
        src.datagram(gwmp.pull_data(eui, 7), addr)
    src.sent.clear()
    return src


def _hear(src, phy, eui=GW1, *, tmst=1_000_000, datr="SF7BW125", freq=868.1, flush=True):
    pk = {"tmst": tmst, "freq": freq, "datr": datr, "rssi": -70, "lsnr": 5.0, "stat": 1,
          "data": gwmp.b64encode(phy)}
    src.datagram(gwmp.push_data(eui, 1, rxpk=[pk]), GW_ADDR[eui])
    if flush:
        asyncio.run(src.flush(final=True))


def _downlinks(src):
    return [dg.body["txpk"] for dg, _addr in src.sent if dg.kind == gwmp.PULL_RESP]


def _abp():
    return SimDevice(ABP_EUI, dev_addr="26011bda", **KEYS)


def test_a_retransmitted_confirmed_uplink_is_acknowledged_again_but_delivered_once():
    src = _source()
    dev = _abp()
    phy = dev.uplink(b"\x01", fport=1, confirmed=True)
    _hear(src, phy, tmst=1_000_000)
    # The device missed the ACK and sends the same frame again (the gateway that
    # reported it already: a new transmission, not a late copy).
    _hear(src, phy, tmst=4_000_000)
    acks = [dev.downlink(gwmp.b64decode(pk["data"])) for pk in _downlinks(src)]
    assert [(f.mtype, f.mic_ok, f.fcnt, f.fctrl["ack"]) for f in acks] == [
        ("UnconfirmedDataDown", True, 0, True), ("UnconfirmedDataDown", True, 1, True)]
    assert [pk["tmst"] for pk in _downlinks(src)] == [2_000_000, 5_000_000]
    assert [(p, kw["fcnt"]) for p, kw in src.ctx.records] == [(b"\x01", 0)]
    assert src.stats["uplinks"] == 1


def test_a_late_copy_from_another_gateway_is_neither_a_replay_nor_acked_twice():
    src = _source()
    dev = _abp()
    phy = dev.uplink(b"\x02", fport=1, confirmed=True)
    _hear(src, phy, GW1)
    _hear(src, phy, GW2)          # after the dedup window, well before a retransmission
    assert src.ctx.errors == []
    assert src.stats["late_copies"] == 1 and src.stats["replay"] == 0
    assert len(_downlinks(src)) == 1
    assert len(src.ctx.records) == 1


def test_a_late_copy_of_a_join_request_is_not_a_reused_dev_nonce():
    src = _source()
    dev = SimDevice(OTAA_EUI, appkey=APPKEY, join_eui=JOIN_EUI)
    req = dev.join_request()
    _hear(src, req, GW1)
    _hear(src, req, GW2)
    assert src.ctx.errors == []
    assert src.stats["joins"] == 1 and src.stats["late_copies"] == 1
    assert len(_downlinks(src)) == 1


def test_a_join_accept_uses_the_default_rx1_dr_offset_and_rx2_parameters():
    # The join-accept carries the configured RX1DROffset and RX2 data rate: the device
    # uses them only after it has received it, so the accept itself goes on the defaults.
    src = _source(rx1_dr_offset=2, rx2_datr="SF9BW125", rx2_frequency=869.525)
    dev = SimDevice(OTAA_EUI, appkey=APPKEY, join_eui=JOIN_EUI)
    _hear(src, dev.join_request(), datr="SF10BW125", freq=868.3)
    [pk] = _downlinks(src)
    assert (pk["tmst"], pk["freq"], pk["datr"]) == (6_000_000, 868.3, "SF10BW125")
    accept = dev.accept(gwmp.b64decode(pk["data"]))
    assert accept.dl_settings == "23"  # RX1DROffset 2, RX2 DR3


def test_a_join_accept_in_rx2_uses_the_default_rx2_data_rate_and_frequency():
    src = _source(rx2_datr="SF9BW125", rx2_frequency=869.0, tx_lead=5.5)  # RX1 too near
    dev = SimDevice(OTAA_EUI, appkey=APPKEY, join_eui=JOIN_EUI)
    _hear(src, dev.join_request(), datr="SF10BW125", freq=868.3)
    [pk] = _downlinks(src)
    assert (pk["tmst"], pk["freq"], pk["datr"]) == (7_000_000, 869.525, "SF12BW125")


@pytest.mark.parametrize(("datr", "offset", "expected"), [
    ("SF7BW250", 1, "SF7BW125"),      # DR6 - 1 = DR5
    ("SF7BW250", 0, "SF7BW250"),
    (50000, 2, "SF7BW125"),           # DR7 (FSK) - 2 = DR5
    ("SF9BW125", 2, "SF11BW125"),
    ("SF12BW125", 3, "SF12BW125"),
])
def test_rx1_data_rate_applies_the_offset_to_every_eu868_data_rate(datr, offset, expected):
    src = _source(rx1_dr_offset=offset)
    dev = _abp()
    _hear(src, dev.uplink(b"\x03", fport=1, confirmed=True), datr=datr)
    [pk] = _downlinks(src)
    assert pk["datr"] == expected and pk["tmst"] == 2_000_000


def test_receive_windows_follow_the_32_bit_tmst_wrap():
    src = _source()
    tmst = 0xFFFFFFFF - 1000
    dev = SimDevice(OTAA_EUI, appkey=APPKEY, join_eui=JOIN_EUI)
    _hear(src, dev.join_request(), tmst=tmst)
    dev.accept(gwmp.b64decode(_downlinks(src)[0]["data"]))
    _hear(src, dev.uplink(b"\x04", fport=1, confirmed=True), tmst=tmst)
    assert [pk["tmst"] for pk in _downlinks(src)] == [4_998_999, 998_999]
    assert lorawan.decode(gwmp.b64decode(_downlinks(src)[1]["data"])).fctrl["ack"] is True


def test_a_sim_device_joining_with_a_given_dev_nonce_derives_the_keys_of_that_nonce():
    src = _source()
    dev = SimDevice(OTAA_EUI, appkey=APPKEY, join_eui=JOIN_EUI)
    _hear(src, dev.join_request(dev_nonce=7))
    accept = dev.accept(gwmp.b64decode(_downlinks(src)[0]["data"]))
    _hear(src, dev.uplink(b"\x05", fport=2))
    assert (accept.join_nonce, src.ctx.errors) == ("000001", [])
    assert [(p, kw["device"]) for p, kw in src.ctx.records] == [(b"\x05", OTAA_EUI)]


@pytest.mark.parametrize(("field", "message"), [
    ("dev_addr", "keys.csv: line 2.dev_addr: expected 8 hex digits, got a value that looks "
                 "like a key (not shown)"),
    ("join_eui", "keys.csv: line 2.join_eui: expected 16 hex digits, got a value that looks "
                 "like a key (not shown)"),
    ("max_gap", "keys.csv: line 2.max_gap: must be an integer, not a value that looks like a "
                "key (not shown)"),
    ("allow_reset", "keys.csv: line 2.allow_reset: must be true or false, not a value that "
                    "looks like a key (not shown)"),
    ("version", "keys.csv: line 2.version: LoRaWAN version a value that looks like a key (not "
                "shown) is not 1.0.x or 1.1"),
    ("class", "keys.csv: line 2.class: device class a value that looks like a key (not shown) "
              "is not A or C (class B is not supported)"),
])
def test_a_key_in_the_wrong_column_is_not_shown_in_the_error(field, message):
    # A keys file whose columns are out of order puts keys into other fields.
    from hromada_plugins.sources.semtech_udp.devices import build_device

    key = KEYS["nwkskey"]
    with pytest.raises(ValueError) as info:
        build_device(ABP_EUI, {field: key.upper(), "appkey": APPKEY, "join_eui": JOIN_EUI,
                               **({"join_eui": key} if field == "join_eui" else {})},
                     "keys.csv: line 2")
    assert str(info.value) == message
    assert key not in str(info.value).lower()


def test_a_dev_eui_cell_holding_a_key_is_not_shown(tmp_path):
    from hromada_plugins.sources.semtech_udp.devices import read_keys_file

    path = tmp_path / "keys.csv"
    path.write_text(f"nwkskey,dev_eui\n{ABP_EUI},{KEYS['nwkskey']}\n")
    with pytest.raises(ValueError) as info:
        read_keys_file(path)
    assert str(info.value) == (f"{path}: line 2: dev_eui: expected 16 hex digits, got a value "
                               "that looks like a key (not shown)")
