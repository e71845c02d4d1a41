"""A city with a semtech-udp source on real loopback UDP: simulated gateways send
PUSH_DATA, readings land in SQLite; joins, downlinks, replays, restarts."""

import asyncio
import json
import logging
import time

from gw_kit import (
    ABP_ADDR,
    ABP_EUI,
    GW_EUIS,
    LPP_A,
    LPP_B,
    OTAA_EUI,
    SECRETS,
    RunningCity,
    abp_device,
    eventually,
    otaa_device,
    rows,
    saved_state,
    write_city,
)

from hromada import Command, lorawan
from hromada.lorawan.gateway_sim import hear


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def _events(db, kind=None):
    sql = "select kind, severity, device, source, data from events"
    got = rows(db, sql + (" where kind = ?" if kind else "") + " order by rowid",
               *((kind,) if kind else ()))
    return [(k, s, d, src, json.loads(data)) for k, s, d, src, data in got]


# -- ABP and OTAA devices to stored readings ----------------------------------------------

async def _abp_and_otaa(tmp_path, monkeypatch):
    city = await RunningCity(write_city(tmp_path, monkeypatch)).start()
    t0 = time.time()
    try:
        gw1 = await city.gateway(GW_EUIS[0])
        abp = abp_device()
        await gw1.uplink(abp.uplink(LPP_A, fport=1), rssi=-71, lsnr=8.5, freq=868.3)
        await city.uplinks_done(1)

        dev = otaa_device()
        up = await gw1.uplink(dev.join_request(), freq=868.5, datr="SF9BW125")
        token, txpk, phy = await gw1.downlink()
        accept = dev.accept(phy)
        assert txpk["tmst"] == (up["tmst"] + 5_000_000) & 0xFFFFFFFF  # JOIN_ACCEPT_DELAY1
        assert (txpk["freq"], txpk["datr"], txpk["imme"] if "imme" in txpk else False) == \
            (868.5, "SF9BW125", False)  # RX1: the uplink's channel and data rate
        assert txpk["ipol"] is True and txpk["size"] == len(phy) == 17
        gw1.tx_ack(token)
        await gw1.uplink(dev.uplink(LPP_B, fport=2))
        await city.uplinks_done(3)
        stats = dict(city.source.stats)
    finally:
        summary = await city.stop()
    return summary, stats, accept, dev, t0, city.frames


def test_abp_and_otaa_devices_turn_push_data_into_readings(tmp_path, monkeypatch):
    summary, stats, accept, dev, t0, frames = run(_abp_and_otaa(tmp_path, monkeypatch))
    assert summary["errors_by_kind"] == {}
    assert summary["frames"] == 2 and summary["readings"] == 4
    assert stats["joins"] == 1 and stats["uplinks"] == 2 and stats["tx_ok"] == 1
    # The join-accept: NetID 000000, the first DevAddr of its range, EU868 defaults.
    assert (accept.net_id, accept.dev_addr, accept.join_nonce) == ("000000", "00000000",
                                                                    "000001")
    assert (accept.dl_settings, accept.rx_delay, accept.cflist) == ("00", 1, None)
    db = tmp_path / "city.db"
    assert rows(db, "select device, quantity, value, unit from readings order by rowid") == [
        (ABP_EUI, "temperature_3", 27.2, "Cel"), (ABP_EUI, "temperature_5", 25.5, "Cel"),
        (OTAA_EUI, "temperature_1", 22.5, "Cel"), (OTAA_EUI, "relative_humidity_2", 40.0, "%RH")]
    lo, hi = rows(db, "select min(time), max(time) from readings")[0]
    assert t0 <= lo <= hi <= time.time()
    kinds = [(k, d) for k, _s, d, _src, _data in _events(db)]
    assert kinds == [("lorawan.gateway", None), ("lorawan.join", OTAA_EUI)]
    join = _events(db, "lorawan.join")[0][4]
    assert join == {"message": f"device {OTAA_EUI} joined as DevAddr 00000000",
                    "dev_addr": "00000000", "dev_nonce": 1, "gateway": GW_EUIS[0]}
    # The ring records: network lorawan, the device, its port and counter, radio metadata.
    (net, device, fport, fcnt, _t, payload, rx, source), second = frames
    assert (net, device, fport, fcnt, payload, source) == ("lorawan", ABP_EUI, 1, 0, LPP_A, "gw")
    assert (rx["gateway"], rx["rssi"], rx["lsnr"], rx["freq"], rx["datr"], rx["dev_addr"]) == \
        (GW_EUIS[0], -71, 8.5, 868.3, "SF7BW125", ABP_ADDR)
    assert second[1:4] == [OTAA_EUI, 2, 0] and second[5] == LPP_B


# -- deduplication over three gateways ------------------------------------------------------

async def _three_gateways(tmp_path, monkeypatch):
    city = await RunningCity(write_city(tmp_path, monkeypatch)).start()
    try:
        gws = [await city.gateway(eui) for eui in GW_EUIS]
        abp = abp_device()
        phy = abp.uplink(LPP_A)
        # The weakest gateway first: the best one must still win.
        await hear(gws[::-1], phy, rssi=(-115, -64, -90), lsnr=(-8.0, 9.5, 2.0))
        await city.uplinks_done(1)
        await hear(gws[:2], abp.uplink(LPP_B), rssi=(-100, -100), lsnr=(-12.0, -3.0))
        await city.uplinks_done(2)
        stats = dict(city.source.stats)
        gateways = {eui: gw.to_dict() for eui, gw in city.source.gateways.items()}
    finally:
        summary = await city.stop()
    return summary, stats, gateways, city.frames


def test_the_same_uplink_from_three_gateways_is_stored_once(tmp_path, monkeypatch):
    summary, stats, gateways, frames = run(_three_gateways(tmp_path, monkeypatch))
    assert summary["frames"] == 2 and summary["readings"] == 4
    assert summary["errors_by_kind"] == {}
    assert stats["uplinks"] == 2
    assert rows(tmp_path / "city.db", "select count(*) from readings where device = ?",
                ABP_EUI) == [(4,)]
    rx = frames[0][6]
    assert rx["gateway"] == GW_EUIS[1] and (rx["rssi"], rx["lsnr"]) == (-64, 9.5)
    assert [(g["eui"], g["rssi"], g["lsnr"]) for g in rx["gateways"]] == [
        (GW_EUIS[1], -64, 9.5), (GW_EUIS[0], -90, 2.0), (GW_EUIS[2], -115, -8.0)]
    assert all(isinstance(g["tmst"], int) for g in rx["gateways"])
    # Below the noise floor the SNR decides: -100 dBm at -3 dB beats -100 dBm at -12 dB.
    assert frames[1][6]["gateway"] == GW_EUIS[1]
    assert [g["eui"] for g in frames[1][6]["gateways"]] == [GW_EUIS[1], GW_EUIS[0]]
    assert gateways[GW_EUIS[0]]["rxpk"] == 2 and gateways[GW_EUIS[2]]["rxpk"] == 1
    assert gateways[GW_EUIS[0]]["pull_address"].startswith("127.0.0.1:")


# -- replays, MIC, unknown DevAddr, malformed datagrams --------------------------------------

async def _bad_frames(tmp_path, monkeypatch):
    city = await RunningCity(write_city(tmp_path, monkeypatch)).start()
    try:
        gw = await city.gateway(GW_EUIS[0])
        abp = abp_device()
        first = abp.uplink(LPP_A)
        await gw.uplink(first)
        await city.uplinks_done(1)
        await gw.uplink(first)                       # the same frame after the window
        second = abp.uplink(LPP_B)
        await gw.uplink(second)
        await city.uplinks_done(3)
        await gw.uplink(first)                       # an older frame replayed
        tampered = bytearray(abp.uplink(LPP_A))
        tampered[-1] ^= 0x01
        await gw.uplink(bytes(tampered))
        other = lorawan.encode_data(dev_addr="01020304", fcnt=1, fport=1, payload=b"x",
                                    nwkskey=SECRETS[0], appskey=SECRETS[1])
        await gw.uplink(other)
        await city.uplinks_done(6)
        # Malformed datagrams: counted and ignored; the source goes on.
        gw.send_raw(b"\x02\x00")
        gw.send_raw(b"\x07\x12\x34\x00" + bytes(8) + b"{}")
        gw.send_raw(b"\x02\x12\x34\x00" + bytes.fromhex(GW_EUIS[0]) + b"{\"rxpk\": [")
        gw.send_raw(b"\x02\x12\x35\x00" + bytes.fromhex(GW_EUIS[0]) +
                    b'{"rxpk":[{"data":"not base64!","tmst":1}]}')
        gw.send_raw(b"\x02\x12\x36\x09")
        await eventually(lambda: city.source.stats["gwmp"] == 5, "5 malformed datagrams")
        await gw.uplink(abp.uplink(LPP_A))           # still working
        await city.uplinks_done(7)
        stats = dict(city.source.stats)
    finally:
        summary = await city.stop()
    return summary, stats, gw.port


def test_replays_mic_failures_unknown_dev_addrs_and_malformed_datagrams_are_counted(
        tmp_path, monkeypatch):
    summary, stats, port = run(_bad_frames(tmp_path, monkeypatch))
    assert summary["readings"] == 6 and summary["frames"] == 3
    assert summary["errors_by_kind"] == {"replay": 2, "mic": 1, "unknown_dev_addr": 1,
                                         "gwmp": 5}
    db = tmp_path / "city.db"
    replays = _events(db, "lorawan.replay")
    assert [(s, d, data["reason"], data["fcnt"]) for _k, s, d, _src, data in replays] == [
        ("warning", ABP_EUI, "duplicate", 0), ("warning", ABP_EUI, "replay", 0)]
    assert replays[0][4]["message"] == (f"frame counter 0 of device {ABP_EUI} was already "
                                        "accepted (retransmission)")
    assert replays[1][4]["message"] == (
        f"frame counter 0 of device {ABP_EUI} is older than the last accepted 1 (replayed "
        "frame, or a device that restarted its counter: allow_reset accepts that)")
    [mic] = _events(db, "lorawan.mic")
    assert mic[4] == {"message": f"MIC matches no session of DevAddr {ABP_ADDR}",
                      "reason": "mic", "gateways": [GW_EUIS[0]], "dev_addr": ABP_ADDR}
    [unknown] = _events(db, "lorawan.unknown_dev_addr")
    assert unknown[4]["message"] == "no session for DevAddr 01020304"
    messages = [data["message"] for *_x, data in _events(db, "gwmp.error")]
    here = f"gw: datagram from 127.0.0.1:{port}: "
    assert messages == [
        here + "datagram of 2 bytes is shorter than the 4-byte GWMP header",
        here + "byte 0: protocol version 7 (expected 1 or 2)",
        here + "PUSH_DATA: invalid JSON at byte 22: Expecting value",
        f"gw: PUSH_DATA from gateway {GW_EUIS[0]}: rxpk[0].data: not valid base64",
        here + "byte 3: unknown identifier 0x09",
    ]
    assert stats["datagrams"] == 13


# -- downlinks ----------------------------------------------------------------------------

PLUGIN = '''
import hromada
from hromada import Command, ServiceType

class Dimmer:
    """Answers every reading of a device with one downlink (fport 10)."""
    def __init__(self, name, options, city):
        self.sent = set()
    def process(self, readings, ctx):
        for r in readings:
            if r.device not in self.sent:
                self.sent.add(r.device)
                ctx.command(Command(r.device, fport=10, payload=bytes([0x01, 0x28])))

@hromada.hookimpl
def hromada_services():
    return [ServiceType("test-dimmer", Dimmer)]
'''


async def _service_downlink(tmp_path, monkeypatch):
    path = write_city(tmp_path, monkeypatch, plugin=PLUGIN, extra="rx1_delay = 2",
                      more='\n[services.dimmer]\nplugin = "test-dimmer"\n')
    city = await RunningCity(path).start()
    try:
        gws = [await city.gateway(eui) for eui in GW_EUIS[:2]]
        gws.append(await city.gateway(GW_EUIS[2], pull=False))  # no downlink path
        abp = abp_device()
        # The gateway without PULL_DATA hears best, but cannot transmit.
        ups = await hear([gws[2], gws[1], gws[0]], abp.uplink(LPP_A), rssi=(-50, -70, -90),
                         lsnr=(10.0, 8.0, 5.0), freq=867.7, datr="SF10BW125")
        token, txpk, phy = await gws[1].downlink()
        await gws[0].no_downlink(0.1)
        frame = abp.downlink(phy)
        gws[1].tx_ack(token, "TOO_LATE")
        await eventually(lambda: city.source.stats["tx_error"] == 1, "the TX_ACK")
        stats = dict(city.source.stats)
    finally:
        summary = await city.stop()
    return summary, stats, ups, txpk, frame


def test_a_service_command_goes_out_in_rx1_through_the_best_gateway(tmp_path, monkeypatch):
    summary, stats, ups, txpk, frame = run(_service_downlink(tmp_path, monkeypatch))
    assert summary["commands"] == 1
    assert txpk["tmst"] == (ups[1]["tmst"] + 2_000_000) & 0xFFFFFFFF   # rx1_delay = 2
    assert (txpk["freq"], txpk["datr"], txpk["powe"], txpk["ipol"]) == (867.7, "SF10BW125", 14,
                                                                       True)
    assert (frame.mtype, frame.mic_ok, frame.fcnt, frame.fport, frame.frm_payload) == (
        "UnconfirmedDataDown", True, 0, 10, b"\x01\x28")
    assert summary["errors_by_kind"] == {"tx_error": 1}
    [(_k, severity, device, source, data)] = _events(tmp_path / "city.db", "lorawan.tx_error")
    assert (severity, device, source) == ("warning", ABP_EUI, "gw")
    assert data["error"] == "TOO_LATE" and data["gateway"] == GW_EUIS[1] and data["fcnt"] == 0
    assert data["message"] == (f"gateway {GW_EUIS[1]} could not transmit the downlink for "
                               f"device {ABP_EUI}: TOO_LATE (too late to program the packet "
                               "for transmission)")
    assert stats["downlinks"] == 1


async def _queued_and_class_c(tmp_path, monkeypatch):
    path = write_city(tmp_path, monkeypatch, extra=f'class_c = ["{OTAA_EUI}"]')
    city = await RunningCity(path).start()
    src = city.source
    try:
        gw = await city.gateway(GW_EUIS[0])
        abp = abp_device()
        # Class A, nothing heard yet: queued until the next uplink.
        await src.send(Command(ABP_EUI, fport=5, payload=b"\xaa"))
        await src.send(Command(ABP_EUI, fport=6, payload=b"\xbb", confirmed=True))
        assert src.pending(ABP_EUI) == 2
        up = await gw.uplink(abp.uplink(LPP_A), datr="SF12BW125")
        _t, first_pk, first = await gw.downlink()
        up2 = await gw.uplink(abp.uplink(LPP_B, confirmed=True))
        _t, second_pk, second = await gw.downlink()
        up3 = await gw.uplink(abp.uplink(LPP_B, confirmed=True))
        _t, ack_pk, ack = await gw.downlink()
        # Class C: joins, then a command goes out at once on the RX2 parameters.
        dev = otaa_device()
        await gw.uplink(dev.join_request())
        _t, _pk, ja = await gw.downlink()
        dev.accept(ja)
        await gw.uplink(dev.uplink(LPP_B, fport=2))
        await city.uplinks_done(5)
        await src.send(Command(OTAA_EUI, fport=7, payload=b"\x07\x07"))
        _t, c_pk, c_phy = await gw.downlink()
        frames = [abp.downlink(first), abp.downlink(second), abp.downlink(ack)]
        c_frame = dev.downlink(c_phy)
    finally:
        summary = await city.stop()
    return summary, (up, up2, up3), (first_pk, second_pk, ack_pk, c_pk), frames, c_frame


def test_queued_downlinks_acks_and_class_c(tmp_path, monkeypatch):
    summary, ups, pks, frames, c_frame = run(_queued_and_class_c(tmp_path, monkeypatch))
    assert summary["errors_by_kind"] == {}
    first, second, ack = frames
    assert [(f.mtype, f.fcnt, f.fport, f.frm_payload, f.fctrl["fpending"], f.fctrl["ack"])
            for f in frames] == [
        ("UnconfirmedDataDown", 0, 5, b"\xaa", True, False),   # more is waiting
        ("ConfirmedDataDown", 1, 6, b"\xbb", False, True),     # piggybacks the ack
        ("UnconfirmedDataDown", 2, None, None, False, True)]  # an ack alone
    assert all(f.mic_ok for f in frames)
    assert [pk["tmst"] for pk in pks[:3]] == [(u["tmst"] + 1_000_000) & 0xFFFFFFFF for u in ups]
    assert pks[0]["datr"] == "SF12BW125"
    c_pk = pks[3]
    assert c_pk["imme"] is True and "tmst" not in c_pk
    assert (c_pk["freq"], c_pk["datr"]) == (869.525, "SF12BW125")
    assert (c_frame.mic_ok, c_frame.fport, c_frame.frm_payload) == (True, 7, b"\x07\x07")


# -- OTAA details --------------------------------------------------------------------------

async def _join_details(tmp_path, monkeypatch):
    extra = ('net_id = "000013"\ncflist = [867.1, 867.3, 867.5, 867.7, 867.9]\n'
             'dev_addr_range = "26011000-26011001"')
    city = await RunningCity(write_city(tmp_path, monkeypatch, extra=extra)).start()
    try:
        gw = await city.gateway(GW_EUIS[0])
        dev = otaa_device()
        req = dev.join_request()
        await gw.uplink(req)
        _t, _pk, ja = await gw.downlink()
        accept = dev.accept(ja)
        await gw.uplink(req)                                 # the same join-request again
        await gw.no_downlink()
        await gw.uplink(dev.join_request(dev_nonce=1))       # an old DevNonce
        await gw.no_downlink()
        wrong = otaa_device()
        wrong.appkey = bytes(16)
        await gw.uplink(wrong.join_request(dev_nonce=9))     # a MIC by another key
        stranger = otaa_device()
        stranger.dev_eui = "70b3d57ed00000ff"
        await gw.uplink(stranger.join_request())             # nobody the city knows
        await city.uplinks_done(4)
        await gw.no_downlink()
        second = dev.join_request()
        await gw.uplink(second)
        _t, _pk, ja2 = await gw.downlink()
        accept2 = dev.accept(ja2)
        await gw.uplink(dev.uplink(LPP_A, fport=3))
        await city.uplinks_done(6)
    finally:
        summary = await city.stop()
    return summary, accept, accept2


def test_join_accept_parameters_and_refused_join_requests(tmp_path, monkeypatch):
    summary, accept, accept2 = run(_join_details(tmp_path, monkeypatch))
    assert (accept.net_id, accept.dev_addr, accept.join_nonce) == ("000013", "26011000",
                                                                    "000001")
    assert bytes.fromhex(accept.cflist) == (
        (8671000).to_bytes(3, "little") + (8673000).to_bytes(3, "little")
        + (8675000).to_bytes(3, "little") + (8677000).to_bytes(3, "little")
        + (8679000).to_bytes(3, "little") + b"\x00")
    assert (accept2.dev_addr, accept2.join_nonce) == ("26011001", "000002")
    assert summary["errors_by_kind"] == {"dev_nonce": 2, "mic": 1, "join_refused": 1}
    db = tmp_path / "city.db"
    assert [d["message"] for *_x, d in _events(db, "lorawan.dev_nonce")] == [
        f"join-request of device {OTAA_EUI} reuses DevNonce 1 (a replayed join-request): "
        "refused"] * 2
    assert [d["message"] for *_x, d in _events(db, "lorawan.mic")] == [
        f"join-request of device {OTAA_EUI}: the MIC does not match its root key"]
    assert [d["message"] for *_x, d in _events(db, "lorawan.join_refused")] == [
        "join-request from DevEUI 70b3d57ed00000ff, which has no root keys in this city"]
    assert [(d["dev_addr"], d["dev_nonce"]) for *_x, d in _events(db, "lorawan.join")] == [
        ("26011000", 1), ("26011001", 2)]
    assert rows(db, "select device, quantity, value from readings") == [
        (OTAA_EUI, "temperature_3", 27.2), (OTAA_EUI, "temperature_5", 25.5)]


# -- restart: counters and sessions survive ------------------------------------------------

async def _first_run(tmp_path, monkeypatch):
    city = await RunningCity(write_city(tmp_path, monkeypatch)).start()
    try:
        gw = await city.gateway(GW_EUIS[0])
        abp = abp_device()
        abp.fcnt_up = 41
        frames = [abp.uplink(LPP_A), abp.uplink(LPP_B)]
        for phy in frames:
            await gw.uplink(phy)
        dev = otaa_device()
        await gw.uplink(dev.join_request())
        _t, _pk, ja = await gw.downlink()
        dev.accept(ja)
        otaa_frame = dev.uplink(LPP_A, fport=4)
        await gw.uplink(otaa_frame)
        await city.uplinks_done(4)
        await city.source.send(Command(ABP_EUI, fport=9, payload=b"\x09"))
        _t, _pk, down = await gw.downlink()          # in the open window of its uplink
        assert abp.downlink(down).fcnt == 0
        await city.source.send(Command(ABP_EUI, fport=9, payload=b"\x0a"))
        assert city.source.pending(ABP_EUI) == 1     # the window is used: queued
    finally:
        summary = await city.stop()
    return summary, frames, abp, dev, otaa_frame


async def _second_run(tmp_path, monkeypatch, frames, abp, dev, otaa_frame):
    city = await RunningCity(write_city(tmp_path, monkeypatch)).start()
    try:
        gw = await city.gateway(GW_EUIS[0])
        for phy in frames:
            await gw.uplink(phy)                      # replayed after the restart
        await gw.uplink(otaa_frame)
        await gw.uplink(dev.join_request(dev_nonce=1))  # the first run's DevNonce
        await gw.uplink(dev.uplink(LPP_B, fport=4))    # the joined session still works
        await gw.uplink(abp.uplink(LPP_A))
        await city.uplinks_done(6)
        _t, _pk, down = await gw.downlink()           # the queue and FCntDown went on
        await gw.no_downlink(0.2)
        frame = abp.downlink(down)
    finally:
        summary = await city.stop()
    return summary, frame


def test_a_restart_keeps_counters_sessions_and_dev_nonces(tmp_path, monkeypatch):
    s1, frames, abp, dev, otaa_frame = run(_first_run(tmp_path, monkeypatch))
    assert s1["readings"] == 6 and s1["errors_by_kind"] == {}
    # The counters are rows of the city's state database, one per device.
    saved = saved_state(tmp_path / "state")
    assert sorted(saved["devices"]) == [ABP_EUI, OTAA_EUI]
    devices = saved["devices"]
    assert devices[ABP_EUI]["session"]["fcnt_up"] == 43
    assert devices[OTAA_EUI]["session"]["fcnt_up"] == 1
    assert devices[OTAA_EUI]["join"]["nonces"] == [1]
    assert devices[ABP_EUI]["queue"] == [[9, b"\x0a", False]]
    assert saved["meta"]["format"] == 1
    state = (tmp_path / "state" / "state.db").read_bytes()
    for secret in SECRETS:
        assert bytes.fromhex(secret) not in state and secret.encode() not in state
    # A second run: the replayed frames are refused, the sessions go on.
    s2, down = run(_second_run(tmp_path, monkeypatch, frames, abp, dev, otaa_frame))
    assert s2["errors_by_kind"] == {"replay": 3, "dev_nonce": 1}
    assert s2["readings"] == 4
    assert (down.mic_ok, down.fport, down.fcnt, down.frm_payload) == (True, 9, 1, b"\x0a")
    db = tmp_path / "city.db"
    assert [d["reason"] for *_x, d in _events(db, "lorawan.replay")] == [
        "replay", "duplicate", "duplicate"]
    assert rows(db, "select device, count(*) from readings group by device order by device") == [
        (ABP_EUI, 6), (OTAA_EUI, 4)]


# -- keys are never shown ------------------------------------------------------------------

async def _everything_logged(tmp_path, monkeypatch):
    path = write_city(tmp_path, monkeypatch, extra=f'gateways = ["{GW_EUIS[0]}"]')
    city = await RunningCity(path).start()
    try:
        gw = await city.gateway(GW_EUIS[0])
        intruder = await city.gateway(GW_EUIS[1], pull=False)
        abp = abp_device()
        await gw.uplink(abp.uplink(LPP_A))
        intruder.push([intruder.rxpk(abp.uplink(LPP_A))])   # gets no PUSH_ACK
        await eventually(lambda: city.source.stats["unknown_gateway"] == 1, "the intruder")
        dev = otaa_device()
        await gw.uplink(dev.join_request())
        _t, _pk, ja = await gw.downlink()
        dev.accept(ja)
        bad = bytearray(dev.uplink(LPP_B))
        bad[-2] ^= 0xFF
        await gw.uplink(bytes(bad))
        await city.uplinks_done(3)
        text = repr(city.source.devices) + repr(list(city.source.table))
    finally:
        summary = await city.stop()
    return summary, text, intruder.port


def test_keys_are_never_logged_printed_or_stored(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    summary, text, port = run(_everything_logged(tmp_path, monkeypatch))
    assert summary["errors_by_kind"] == {"unknown_gateway": 1, "mic": 1}
    db = tmp_path / "city.db"
    [(_k, _s, _d, _src, data)] = _events(db, "lorawan.unknown_gateway")
    assert data == {"message": f"PUSH_DATA from gateway {GW_EUIS[1]} at 127.0.0.1:{port}, "
                               "which is not in the source's gateways list",
                    "gateway": GW_EUIS[1]}
    shown = caplog.text + text + json.dumps(summary) + repr(rows(db, "select * from events"))
    shown += (tmp_path / "state" / "state.db").read_bytes().hex()
    assert "listening on 127.0.0.1:" in caplog.text
    for secret in SECRETS:
        assert secret not in shown.lower()
    assert f"LoraDevice('{ABP_EUI}', ABP, LoRaWAN 1.0, class A)" in text
    assert f"LoraDevice('{OTAA_EUI}', OTAA, LoRaWAN 1.0, class A)" in text
