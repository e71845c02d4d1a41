"""semtech-udp answers the MAC commands a network server answers at once: LinkCheckReq
and DeviceTimeReq, in the FOpts of a downlink in the uplink's RX1 window."""

import asyncio
import time

from gw_kit import GW_EUIS, LPP_A, RunningCity, abp_device, write_city

from hromada.lorawan.gateway_sim import hear
from hromada_plugins.sources.semtech_udp import GPS_EPOCH, GPS_LEAP_SECONDS, mac_answers
from hromada_plugins.sources.semtech_udp.gwmp import Rx


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def _link_check_and_time(tmp_path, monkeypatch):
    city = await RunningCity(write_city(tmp_path, monkeypatch)).start()
    try:
        gws = [await city.gateway(eui) for eui in GW_EUIS[:2]]
        abp = abp_device()
        before = time.time()
        # LinkCheckReq (0x02) and DeviceTimeReq (0x0D) piggybacked on a data uplink
        await hear(gws, abp.uplink(LPP_A, fopts=b"\x02\x0d"))   # SNR 9.0 and 4.0 dB
        after = time.time()
        _t, pk, down = await gws[0].downlink()       # the best gateway (-60 dBm) answers
        await gws[1].no_downlink(0.1)
        frame = abp.downlink(down)
        await city.uplinks_done(1)
        stats = dict(city.source.stats)
    finally:
        summary = await city.stop()
    return summary, frame, pk, stats, before, after


def test_link_check_and_device_time_are_answered_in_rx1(tmp_path, monkeypatch):
    summary, frame, pk, stats, before, after = run(_link_check_and_time(tmp_path, monkeypatch))
    assert frame.mic_ok and frame.mtype == "UnconfirmedDataDown"
    assert (frame.fport, frame.fcnt, frame.frm_payload) == (None, 0, None)
    link, dev_time = frame.mac_commands
    # margin: SNR 9.0 of the best copy over the SF7 floor of -7.5 dB; 2 gateways heard it
    assert link == {"cid": 2, "name": "LinkCheckAns", "margin": 16, "gw_cnt": 2}
    assert dev_time["name"] == "DeviceTimeAns"
    gps = dev_time["gps_seconds"] + dev_time["fraction_256"] / 256
    assert before - GPS_EPOCH + GPS_LEAP_SECONDS - 1 <= gps <= after - GPS_EPOCH + GPS_LEAP_SECONDS
    assert (pk["freq"], pk["datr"]) == (868.1, "SF7BW125")   # RX1: the uplink's channel
    assert stats["mac_answers"] == 1 and stats["downlinks"] == 1
    assert summary["readings"] == 2 and summary["errors_by_kind"] == {}


def rx(datr="SF7BW125", lsnr=5.0):
    return Rx(phy=b"", tmst=0, freq=868.1, datr=datr, rssi=-80.0, lsnr=lsnr)


def test_mac_answers_bytes():
    heard = [("aa", rx("SF12BW125", -12.25)), ("bb", rx())]
    # SF12 floor -20 dB: margin 7 (whole dB, rounded down); two gateways
    assert mac_answers([{"name": "LinkCheckReq"}], heard, 0) == bytes([0x02, 7, 2])
    # below the floor: margin 0; an FSK or unknown rate: margin 0
    assert mac_answers([{"name": "LinkCheckReq"}], [("aa", rx(lsnr=-9.0))], 0) == b"\x02\x00\x01"
    assert mac_answers([{"name": "LinkCheckReq"}], [("aa", rx(50000))], 0) == b"\x02\x00\x01"
    # 2026-01-01T00:00:00.5Z: GPS seconds 1451260818, fraction 128/256
    t = 1767225600.5
    assert mac_answers([{"name": "DeviceTimeReq"}], heard, t) == (
        b"\x0d" + (1451260818).to_bytes(4, "little") + b"\x80")
    # a request repeated in one uplink gets one answer (FOpts hold 15 bytes)
    assert mac_answers([{"name": "DeviceTimeReq"}] * 3, heard, t) == (
        b"\x0d" + (1451260818).to_bytes(4, "little") + b"\x80")
    # commands the network answers later (or not at all) get nothing here
    assert mac_answers([{"name": "LinkADRAns"}, {"name": "DevStatusAns"}], heard, t) == b""
