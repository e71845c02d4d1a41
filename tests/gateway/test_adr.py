"""Adaptive data rate: the network raises a device's data rate (then lowers its power)
from the SNR of its last 20 uplinks, answers ADRACKReq, and checks LinkADRAns."""

import asyncio

import pytest
from gw_kit import ABP_EUI, GW_EUIS, LPP_A, RunningCity, abp_device, saved_state, write_city

from hromada_plugins.sources.semtech_udp.adr import HISTORY, DeviceAdr, link_adr_req, plan


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


@pytest.mark.parametrize("snrs, dr, tx_power, expected", [
    # SF12 (DR0) floor -20 dB: SNR 5 leaves 5 + 20 - 10 = 15 dB, 5 steps: DR5
    ([5.0], 0, 0, (5, 0)),
    # 5 dB over the margin: one step
    ([-5.0, -12.0], 0, 0, (1, 0)),
    ([-8.0], 0, 0, (0, 0)),                 # 2 dB: no whole step
    # at DR5 already: the steps lower the power (index up), at most to 7
    ([20.0], 5, 0, (5, 5)),
    ([40.0], 5, 0, (5, 7)),
    # below the margin: power back up (index down), never the data rate down
    ([-10.0], 5, 3, (5, 0)),
    ([-30.0], 2, 0, (2, 0)),
    # the best SNR of the history counts: 2 + 12.5 - 10 = 4.5 dB, one step
    ([-15.0, 2.0, -9.0], 3, 1, (4, 1)),
    ([1.0], 6, 0, (6, 0)),                  # not a LoRa 125 kHz rate: left alone
])
def test_plan(snrs, dr, tx_power, expected):
    assert plan(snrs, dr, tx_power, 10.0) == expected


def test_link_adr_req_bytes():
    # DR5, TXPower 2, channels 0-2 enabled, ChMaskCntl 0, NbTrans 1
    assert link_adr_req(5, 2, 3) == bytes.fromhex("03520700" "01")
    assert link_adr_req(3, 0, 8) == bytes.fromhex("0330ff0001")


def test_device_adr_waits_for_a_full_history_and_for_the_answer():
    st = DeviceAdr()
    for _ in range(HISTORY - 1):
        st.heard(0, 5.0)
    assert st.decide(10.0, 3) == b""                  # 19 uplinks: not yet
    st.heard(0, 5.0)
    assert st.decide(10.0, 3) == link_adr_req(5, 0, 3)
    assert st.pending == (5, 0) and len(st.snrs) == 0
    assert st.answered({"power_ack": True, "data_rate_ack": True,
                        "channel_mask_ack": True}) == []
    assert (st.dr, st.tx_power, st.pending) == (5, 0, None)
    # a refused request changes nothing and says what was refused
    st.pending = (5, 3)
    assert st.answered({"power_ack": False, "data_rate_ack": True,
                        "channel_mask_ack": False}) == ["power", "channel mask"]
    assert (st.dr, st.tx_power, st.pending) == (5, 0, None)
    # a request whose answer never comes is dropped after two more uplinks
    st.pending = (5, 2)
    st.heard(5, 1.0)
    st.heard(5, 1.0)
    assert st.pending == (5, 2)
    st.heard(5, 1.0)
    assert st.pending is None


async def _adr_city(tmp_path, monkeypatch):
    city = await RunningCity(write_city(tmp_path, monkeypatch)).start()
    src = city.source
    try:
        gw = await city.gateway(GW_EUIS[0])
        abp = abp_device()
        for _ in range(HISTORY - 1):                 # at SF12, a strong signal
            await gw.uplink(abp.uplink(LPP_A, adr=True), datr="SF12BW125", lsnr=5.0)
        await city.uplinks_done(HISTORY - 1)
        await gw.no_downlink(0.05)
        await gw.uplink(abp.uplink(LPP_A, adr=True), datr="SF12BW125", lsnr=5.0)
        _t, _pk, down = await gw.downlink()
        request = abp.downlink(down)
        # the device takes it and answers in its next uplink, now at SF7
        await gw.uplink(abp.uplink(LPP_A, adr=True, fopts=b"\x03\x07"), datr="SF7BW125",
                        lsnr=-2.0)
        await city.uplinks_done(HISTORY + 1)
        await gw.no_downlink(0.2)                    # nothing more to say
        # ADRACKReq: an (empty) downlink must come, or the device lowers its rate
        await gw.uplink(abp.uplink(LPP_A, adr=True, adr_ack_req=True), datr="SF7BW125",
                        lsnr=-2.0)
        _t, _pk, down = await gw.downlink()
        ack_answer = abp.downlink(down)
        state = (src._adr_state[ABP_EUI].dr, src._adr_state[ABP_EUI].tx_power)
        stats = dict(src.stats)
    finally:
        summary = await city.stop()
    return summary, request, ack_answer, state, stats


def test_adr_raises_a_strong_devices_data_rate_end_to_end(tmp_path, monkeypatch):
    summary, request, ack_answer, state, stats = run(_adr_city(tmp_path, monkeypatch))
    assert request.mic_ok and request.fport is None
    assert request.mac_commands == [{"cid": 3, "name": "LinkADRReq", "data_rate": 5,
                                     "tx_power": 0, "ch_mask": 0x0007, "ch_mask_cntl": 0,
                                     "nb_trans": 1}]
    assert state == (5, 0)
    assert ack_answer.mic_ok and ack_answer.mac_commands == [] and ack_answer.fport is None
    assert stats["adr_requests"] == 1
    assert summary["readings"] == 2 * (HISTORY + 2) and summary["errors_by_kind"] == {}
    # the device's ADR state is kept with its counters
    assert saved_state(tmp_path / "state")["devices"][ABP_EUI]["adr"] == {"dr": 5,
                                                                         "tx_power": 0}


def test_a_refused_link_adr_req_is_counted_and_reported():
    from test_gwmp import _source

    from hromada import lorawan
    from hromada_plugins.sources.semtech_udp import gwmp

    src = _source()
    src._adr_state[ABP_EUI] = st = DeviceAdr(dr=0)
    st.pending = (5, 0)
    keys = {"nwkskey": "44024241ed4ce9a68c6a8bc055233fd3",
            "appskey": "ec925802ae430ca77fd3dd73cb2cc588"}
    # LinkADRAns with only the channel mask acknowledged
    phy = lorawan.encode_data(dev_addr="26011bda", fcnt=1, fport=1, payload=b"\x01",
                              fopts=b"\x03\x01", adr=True, **keys)
    pk = {"tmst": 1000, "freq": 868.1, "datr": "SF12BW125", "rssi": -70, "lsnr": 5.0,
          "stat": 1, "data": gwmp.b64encode(phy)}
    src.datagram(gwmp.push_data("aa555a0000000101", 1, rxpk=[pk]), ("127.0.0.1", 1700))
    asyncio.run(src.flush(final=True))
    assert src.ctx.errors == ["adr"]
    [event] = [e for e in src.ctx.events if e.kind == "lorawan.adr"]
    assert event.device == ABP_EUI and event.data["message"] == (
        f"device {ABP_EUI} refused LinkADRReq (DR5, TXPower 0): data rate, power not "
        "accepted")
    assert (st.dr, st.tx_power, st.pending) == (0, 0, None)


def _source_with(**given):
    from hromada.options import validate_options
    from hromada_plugins.sources import semtech_udp

    [desc] = semtech_udp.hromada_sources()
    opts, problems = validate_options(desc.options, {
        "bind": "127.0.0.1:0",
        "keys": {ABP_EUI: {"dev_addr": "26011bda", "nwkskey": "44024241ed4ce9a68c6a8bc055233fd3",
                           "appskey": "ec925802ae430ca77fd3dd73cb2cc588"}}, **given},
        "sources.gw")
    assert problems == []
    return semtech_udp.SemtechUdpSource("gw", opts, None)


def test_an_abp_device_is_asked_only_for_the_default_channels():
    # The CFList's extra channels reach OTAA devices in their join-accept; an ABP device
    # has the three default channels, and a mask naming others makes it refuse.
    import types

    from hromada_plugins.sources.semtech_udp.gwmp import Rx

    src = _source_with(cflist=[867.1, 867.3, 867.5, 867.7, 867.9])
    frame = types.SimpleNamespace(mac_commands=[], fctrl={"adr": True})
    heard = [("aa555a0000000101", Rx(phy=b"", tmst=0, freq=868.1, datr="SF12BW125",
                                     rssi=-80.0, lsnr=5.0))]
    got = [src._adr(ABP_EUI, frame, heard) for _ in range(HISTORY)]
    assert got[:-1] == [b""] * (HISTORY - 1)
    assert got[-1] == link_adr_req(5, 0, 3) == bytes.fromhex("0350070001")


def test_a_link_adr_req_that_does_not_fit_waits_for_the_next_uplink():
    import types

    from hromada_plugins.sources.semtech_udp.gwmp import Rx

    src = _source_with()
    frame = types.SimpleNamespace(mac_commands=[], fctrl={"adr": True})
    heard = [("aa555a0000000101", Rx(phy=b"", tmst=0, freq=868.1, datr="SF12BW125",
                                     rssi=-80.0, lsnr=5.0))]
    for _ in range(HISTORY - 1):
        src._adr(ABP_EUI, frame, heard)
    assert src._adr(ABP_EUI, frame, heard, room=4) == b""     # 15 - 11 bytes of answers
    assert src._adr(ABP_EUI, frame, heard, room=15) == link_adr_req(5, 0, 3)
