"""Operating details of the semtech-udp source: gateway status, CRC failures, protocol v1
forwarders, the RX2 window, joins switched off, periodic state writes."""

import asyncio
import json
import time

from gw_kit import (
    ABP_EUI,
    GW_EUIS,
    LPP_A,
    LPP_B,
    RunningCity,
    abp_device,
    eventually,
    otaa_device,
    rows,
    saved_state,
    write_city,
)

from hromada import Command, lorawan


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


STAT = {"time": "2024-05-01 08:59:28 GMT", "lati": 48.4394, "long": 22.7178, "alti": 120,
        "rxnb": 12, "rxok": 10, "rxfw": 10, "ackr": 100.0, "dwnb": 1, "txnb": 1}


async def _status_and_crc(tmp_path, monkeypatch):
    city = await RunningCity(write_city(tmp_path, monkeypatch,
                                        extra="state_interval = 0.05")).start()
    state = tmp_path / "state"
    try:
        gw = await city.gateway(GW_EUIS[0])
        await gw.push_acked(stat=STAT)
        abp = abp_device()
        bad_crc = gw.rxpk(abp.uplink(LPP_A), stat=-1)
        good = gw.rxpk(abp.uplink(LPP_B))
        await gw.push_acked([bad_crc, good])           # two packets in one PUSH_DATA
        await city.uplinks_done(1)
        # The counters reach the state database while the city runs, not only at stop.
        await eventually(lambda: _fcnt_up(state) == 2, "a periodic write")
        info = city.source.gateways[GW_EUIS[0]].to_dict()
        stats = dict(city.source.stats)
    finally:
        summary = await city.stop()
    return summary, info, stats


def _fcnt_up(state_dir):
    saved = saved_state(state_dir)["devices"].get(ABP_EUI)
    return saved and saved["session"]["fcnt_up"]


def test_gateway_status_crc_failures_and_periodic_state(tmp_path, monkeypatch):
    summary, info, stats = run(_status_and_crc(tmp_path, monkeypatch))
    assert summary["errors_by_kind"] == {"crc": 1}
    assert summary["readings"] == 2
    assert info["stat"] == STAT and info["location"] == (48.4394, 22.7178, 120)
    assert (info["pushes"], info["rxpk"], info["version"]) == (2, 2, 2)
    assert info["last_seen"] >= info["first_seen"] and info["last_pull"] is not None
    assert (stats["stat"], stats["crc"], stats["uplinks"]) == (1, 1, 1)


async def _v1_and_rx2(tmp_path, monkeypatch):
    city = await RunningCity(write_city(tmp_path, monkeypatch, extra="join = false")).start()
    src = city.source
    try:
        gw = await city.gateway(GW_EUIS[0], version=1)
        abp = abp_device()
        up = await gw.uplink(abp.uplink(LPP_A), freq=868.3)
        await city.uplinks_done(1)
        # RX1 (1 s) is too close by now; RX2 (2 s) is still reachable.
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - src.last_uplink(ABP_EUI)["monotonic"])))
        await src.send(Command(ABP_EUI, fport=3, payload=b"\x33"))
        token, txpk, phy = await gw.downlink()
        # The window is used: the next command waits for the next uplink.
        await src.send(Command(ABP_EUI, fport=4, payload=b"\x44"))
        assert src.pending(ABP_EUI) == 1
        await gw.no_downlink(0.1)
        dev = otaa_device()
        await gw.uplink(dev.join_request())
        await city.uplinks_done(2)
        await gw.no_downlink(0.1)
        frame = abp.downlink(phy)
    finally:
        summary = await city.stop()
    return summary, up, token, txpk, frame


def test_rx2_window_protocol_v1_forwarders_and_joins_switched_off(tmp_path, monkeypatch):
    summary, up, token, txpk, frame = run(_v1_and_rx2(tmp_path, monkeypatch))
    assert token == 0   # protocol v1: the PULL_RESP token is unused
    assert txpk["tmst"] == (up["tmst"] + 2_000_000) & 0xFFFFFFFF
    assert (txpk["freq"], txpk["datr"]) == (869.525, "SF12BW125")
    assert (frame.mic_ok, frame.fport, frame.frm_payload, frame.fcnt) == (True, 3, b"\x33", 0)
    assert summary["errors_by_kind"] == {"join_refused": 1}
    [(data,)] = rows(tmp_path / "city.db", "select data from events where kind = 'lorawan.join_refused'")
    assert json.loads(data)["message"] == ("join-request ignored: the source answers no joins "
                                           "(join = false)")


V11_EUI = "70b3d57ed0001111"
V11 = {"fnwksintkey": "11111111111111111111111111111111",
       "snwksintkey": "22222222222222222222222222222222",
       "nwksenckey": "33333333333333333333333333333333",
       "appskey": "44444444444444444444444444444444"}


async def _lorawan_11(tmp_path, monkeypatch):
    keys = "\n".join(f'{k} = "{v}"' for k, v in V11.items())
    more = (f'\n[[devices]]\nid = "{V11_EUI}"\nmodel = "cayenne/lpp"\n')
    extra = f'\n[sources.gw.keys.{V11_EUI}]\ndev_addr = "26000111"\n{keys}\n'
    path = write_city(tmp_path, monkeypatch, more=more)
    path.write_text(path.read_text().replace("[sinks.db]", extra + "\n[sinks.db]"))
    city = await RunningCity(path).start()
    try:
        gw = await city.gateway(GW_EUIS[0])
        # The 1.1 MIC covers the data rate (SF9BW125 = DR3) and channel (868.3 = ch 1).
        up = lorawan.encode_data(dev_addr="26000111", fcnt=7, fport=2, payload=LPP_B,
                                 tx_dr=3, tx_ch=1, **V11)
        await gw.uplink(up, freq=868.3, datr="SF9BW125")
        await city.source.send(Command(V11_EUI, fport=5, payload=b"\x55"))
        _t, _pk, phy = await gw.downlink()
        wrong = lorawan.encode_data(dev_addr="26000111", fcnt=8, fport=2, payload=LPP_B,
                                    tx_dr=3, tx_ch=0, **V11)
        await gw.uplink(wrong, freq=868.3, datr="SF9BW125")   # says channel 0: MIC fails
        await city.uplinks_done(2)
    finally:
        summary = await city.stop()
    return summary, phy


def test_a_lorawan_11_abp_device(tmp_path, monkeypatch):
    summary, phy = run(_lorawan_11(tmp_path, monkeypatch))
    assert summary["readings"] == 2 and summary["errors_by_kind"] == {"mic": 1}
    down = lorawan.decode(phy, fcnt=0, **V11)
    # 1.1: an application downlink counts with AFCntDown (its first is 0).
    assert (down.mic_ok, down.fport, down.fcnt, down.frm_payload) == (True, 5, 0, b"\x55")


async def _class_c_backlog(tmp_path, monkeypatch):
    path = write_city(tmp_path, monkeypatch, extra=f'class_c = ["{ABP_EUI}"]')
    city = await RunningCity(path).start()
    src = city.source
    try:
        gw = await city.gateway(GW_EUIS[0])
        abp = abp_device()
        for n in (1, 2, 3):
            await src.send(Command(ABP_EUI, fport=n, payload=bytes([n])))
        assert src.pending(ABP_EUI) == 3   # no gateway has heard it yet
        up = await gw.uplink(abp.uplink(LPP_A))
        got = [await gw.downlink() for _ in range(3)]
        assert src.pending(ABP_EUI) == 0
    finally:
        await city.stop()
    return up, [(pk, abp.downlink(phy)) for _t, pk, phy in got]


def test_a_class_c_backlog_goes_out_after_the_first_uplink(tmp_path, monkeypatch):
    up, got = run(_class_c_backlog(tmp_path, monkeypatch))
    (pk1, f1), (pk2, f2), (pk3, f3) = got
    assert pk1["tmst"] == (up["tmst"] + 1_000_000) & 0xFFFFFFFF   # the RX1 window
    assert pk2["imme"] is True and pk3["imme"] is True            # the rest at once, RX2
    assert [(f.fcnt, f.fport, f.frm_payload, f.mic_ok) for f in (f1, f2, f3)] == [
        (0, 1, b"\x01", True), (1, 2, b"\x02", True), (2, 3, b"\x03", True)]
    assert f1.fctrl["fpending"] is True


def _fcnt_down(state_dir):
    saved = saved_state(state_dir)["devices"].get(ABP_EUI)
    return saved and saved["session"]["fcnt_down"]


async def _downlink_saved(tmp_path, monkeypatch):
    # state_interval 60 s: only the write right after a downlink can pass in time
    city = await RunningCity(write_city(tmp_path, monkeypatch)).start()
    state = tmp_path / "state"
    try:
        gw = await city.gateway(GW_EUIS[0])
        abp = abp_device()
        await gw.uplink(abp.uplink(LPP_A))
        await city.uplinks_done(1)
        await city.source.send(Command(ABP_EUI, fport=9, payload=b"\x09"))
        await gw.downlink()
        await eventually(lambda: _fcnt_down(state) == 1,
                         "the state write after a downlink", timeout=2)
    finally:
        await city.stop()


def test_a_used_fcnt_down_reaches_the_state_file_at_once(tmp_path, monkeypatch):
    """A crash right after a downlink must not make the next run reuse its FCntDown."""
    run(_downlink_saved(tmp_path, monkeypatch))


async def _stale_pull(tmp_path, monkeypatch):
    city = await RunningCity(write_city(tmp_path, monkeypatch, extra="rx1_delay = 2")).start()
    try:
        gw = await city.gateway(GW_EUIS[0])
        abp = abp_device()
        # Its last PULL_DATA was 61 s ago: its NAT mapping may be gone, so no PULL_RESP.
        city.source.gateways[GW_EUIS[0]].pulled -= 61
        await gw.uplink(abp.uplink(LPP_A))
        await city.uplinks_done(1)
        await city.source.send(Command(ABP_EUI, fport=9, payload=b"\x09"))
        await gw.no_downlink(0.2)
        assert city.source.pending(ABP_EUI) == 1   # kept for the device's next uplink
        await gw.pull()                              # the keep-alive comes back
        await gw.uplink(abp.uplink(LPP_B))
        _t, _pk, down = await gw.downlink()          # in the window of that uplink
        frame = abp.downlink(down)
    finally:
        summary = await city.stop()
    return summary, frame


def test_a_gateway_that_stopped_pulling_is_not_used_for_downlinks(tmp_path, monkeypatch):
    summary, frame = run(_stale_pull(tmp_path, monkeypatch))
    assert summary["errors_by_kind"] == {"downlink": 1}
    [(data,)] = rows(tmp_path / "city.db",
                     "select data from events where kind = 'lorawan.downlink'")
    assert json.loads(data)["message"] == (
        f"downlink for device {ABP_EUI}: none of the gateways that heard it ({GW_EUIS[0]}) "
        "has sent PULL_DATA in the last 60 s, so none can transmit")
    assert (frame.mic_ok, frame.fport, frame.fcnt, frame.frm_payload) == (True, 9, 0, b"\x09")


ABP_OWN_WINDOWS = f"""
[sources.gw.keys.{ABP_EUI}]      # the keys file has its keys; these are its own windows
rx1_delay = 2
rx1_dr_offset = 2
rx2_datr = "SF9BW125"
rx2_frequency = 869.525
"""


async def _abp_own_windows(tmp_path, monkeypatch):
    city = await RunningCity(write_city(tmp_path, monkeypatch, more=ABP_OWN_WINDOWS)).start()
    src = city.source
    try:
        gw = await city.gateway(GW_EUIS[0])
        abp = abp_device()
        up1 = await gw.uplink(abp.uplink(LPP_A), freq=868.3, datr="SF7BW125")
        await city.uplinks_done(1)
        await src.send(Command(ABP_EUI, fport=3, payload=b"\x33"))
        _t, rx1, phy1 = await gw.downlink()
        up2 = await gw.uplink(abp.uplink(LPP_B), freq=868.3, datr="SF7BW125")
        await city.uplinks_done(2)
        # its RX1 (2 s) is too close by now; its RX2 (3 s) is still reachable
        await asyncio.sleep(max(0.0, 2.0 - (time.monotonic()
                                            - src.last_uplink(ABP_EUI)["monotonic"])))
        await src.send(Command(ABP_EUI, fport=4, payload=b"\x44"))
        _t, rx2, phy2 = await gw.downlink()
        frames = [abp.downlink(phy1), abp.downlink(phy2)]
    finally:
        summary = await city.stop()
    return summary, up1, rx1, up2, rx2, frames


def test_an_abp_device_with_its_own_receive_windows(tmp_path, monkeypatch):
    summary, up1, rx1, up2, rx2, frames = run(_abp_own_windows(tmp_path, monkeypatch))
    # RX1: its delay (2 s, the source's is 1 s), the uplink's channel, DR5 - 2 = DR3
    assert rx1["tmst"] == (up1["tmst"] + 2_000_000) & 0xFFFFFFFF
    assert (rx1["freq"], rx1["datr"]) == (868.3, "SF9BW125")
    # RX2: one second later, on its RX2 data rate (the source's is SF12BW125)
    assert rx2["tmst"] == (up2["tmst"] + 3_000_000) & 0xFFFFFFFF
    assert (rx2["freq"], rx2["datr"]) == (869.525, "SF9BW125")
    assert [(f.mic_ok, f.fport, f.frm_payload, f.fcnt) for f in frames] == [
        (True, 3, b"\x33", 0), (True, 4, b"\x44", 1)]
    assert summary["errors_by_kind"] == {}


LAST_WORD = '''
import hromada
from hromada import Command, ServiceType

class LastWord:
    """Sends one command when the city stops (from its stop())."""
    def __init__(self, name, options, city):
        self.devices = set()
    def process(self, readings, ctx):
        self.devices.update(r.device for r in readings)
    def stop(self, ctx):
        for dev in sorted(self.devices):
            ctx.command(Command(dev, fport=7, payload=b"\\x07"))

@hromada.hookimpl
def hromada_services():
    return [ServiceType("test-last-word", LastWord)]
'''


async def _last_word(tmp_path, monkeypatch):
    path = write_city(tmp_path, monkeypatch, plugin=LAST_WORD,
                      more='\n[services.last]\nplugin = "test-last-word"\n')
    city = await RunningCity(path).start()
    try:
        gw = await city.gateway(GW_EUIS[0])
        await gw.uplink(abp_device().uplink(LPP_A))
        await city.uplinks_done(1)
    finally:
        summary = await city.stop()
    return summary


def test_a_command_from_a_services_stop_waits_in_the_saved_queue(tmp_path, monkeypatch):
    # The sources stop before the services' stop(): nothing can transmit then, and the
    # command used to stay in memory only, lost with the process.
    summary = run(_last_word(tmp_path, monkeypatch))
    assert summary["commands"] == 1 and summary["errors_by_kind"] == {}
    saved = saved_state(tmp_path / "state")["devices"][ABP_EUI]
    assert saved["queue"] == [[7, b"\x07", False]]


async def _after_legacy(tmp_path, monkeypatch):
    city = await RunningCity(write_city(tmp_path, monkeypatch)).start()
    try:
        gw = await city.gateway(GW_EUIS[0])
        abp = abp_device()
        await gw.uplink(abp.uplink(LPP_A, fcnt=3))    # older than the saved counter
        await gw.uplink(abp.uplink(LPP_B, fcnt=500))
        await city.uplinks_done(2)
    finally:
        summary = await city.stop()
    return summary


def test_the_state_file_of_earlier_versions_is_imported(tmp_path, monkeypatch):
    import msgpack

    state = tmp_path / "state"
    state.mkdir()
    session = {"device": ABP_EUI, "dev_addr": "26011bda", "version": "1.0", "fcnt_up": 100,
               "fcnt_down": 7, "afcnt_down": 0, "conf_fcnt_down": 0, "max_gap": None,
               "allow_reset": False, "fopts_scheme": "errata", "rejected": {}}
    (state / "gw.semtech-udp.msgpack").write_bytes(msgpack.packb({
        "format": 1, "source": "semtech-udp", "saved": 1.0,
        "table": {"max_gap": 16384, "counters": {}, "sessions": [session]},
        "joins": {"next_addr": 0, "devices": {}}, "queues": {ABP_EUI: [[5, b"\x05", False]]}}))
    summary = run(_after_legacy(tmp_path, monkeypatch))
    # the counter came across: the old frame is a replay, the newer one is taken
    assert summary["errors_by_kind"] == {"replay": 1} and summary["readings"] == 2
    assert sorted(p.name for p in state.iterdir() if "semtech" in p.name) == [
        "gw.semtech-udp.msgpack.imported"]
    saved = saved_state(state)["devices"][ABP_EUI]
    assert saved["session"]["fcnt_up"] == 501 and saved["session"]["fcnt_down"] == 8
