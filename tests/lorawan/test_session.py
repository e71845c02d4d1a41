"""32-bit frame counters and device sessions: the table of cases, replays, duplicates,
gaps, counter resets, shared DevAddrs and state that survives a restart."""

import pytest

import hromada.lorawan as lorawan_api
from conftest import implementations
from hromada.lorawan.session import (
    DEFAULT_MAX_GAP,
    DeviceSession,
    SessionTable,
    classify_fcnt,
)

NWK = "44024241ed4ce9a68c6a8bc055233fd3"
APP = "ec925802ae430ca77fd3dd73cb2cc588"


@pytest.fixture(params=implementations("lorawan"))
def lw(request, monkeypatch):
    monkeypatch.setattr(lorawan_api, "_impl", request.param)
    return lorawan_api


# (next expected, wire, 32-bit counter): ChirpStack's table plus the edges of both wraps.
FULL_FCNT = [
    (None, 7, 7),            # no state yet: the wire value
    (0, 0, 0),
    (0, 1, 1),
    (1, 1, 1),
    (2, 1, 1),               # retransmission of the last frame
    (10, 9, 9),
    (10, 12, 12),            # two frames lost
    (65535, 65535, 65535),
    (65535, 0, 65536),       # 16-bit rollover
    (65536, 0, 65536),
    (65536, 65535, 65535),   # retransmission across the rollover
    (65537, 0, 65536),
    (65537, 1, 65537),
    (65537, 2, 65538),
    (131071, 1, 131073),
    (0xFFFFFFFF, 0, 0),      # 32-bit wrap
    (0xFFFFFFFF, 0xFFFF, 0xFFFFFFFF),
    (0xFFFFFFFF, 0xFFFE, 0xFFFFFFFE),
    (0, 0xFFFF, 0xFFFF),     # fresh session: no retransmission before the first frame
    (5, 3, 65539),           # an older counter reads as far ahead (the gap rule rejects it)
]


@pytest.mark.parametrize("next_expected,wire,full", FULL_FCNT)
def test_full_fcnt(lw, next_expected, wire, full):
    assert lw.full_fcnt(next_expected, wire) == full


@pytest.mark.parametrize("next_expected,fcnt,verdict", [
    (None, 123456, "accepted"),
    (10, 10, "accepted"),
    (10, 9, "duplicate"),
    # the last counter was 9: 9 + MAX_FCNT_GAP is the furthest jump the spec allows
    (10, 9 + DEFAULT_MAX_GAP, "accepted"),
    (10, 10 + DEFAULT_MAX_GAP, "gap"),
    (0xFFFFFFFF, 0, "accepted"),
    (0, 0, "accepted"),
])
def test_classify_fcnt(next_expected, fcnt, verdict):
    assert classify_fcnt(next_expected, fcnt) == verdict


def test_classify_fcnt_gap_is_configurable():
    assert classify_fcnt(10, 20, max_gap=5) == "gap"
    assert classify_fcnt(10, 20, max_gap=None) == "accepted"


def test_max_gap_per_table_and_per_session(lw):
    t = SessionTable([DeviceSession.create("a", "49be7df1", nwkskey=NWK, fcnt_up=0)], max_gap=5)
    assert t.check_uplink(up(lw, 5)).reason == "gap"
    assert t.check_uplink(up(lw, 4)).reason == "accepted"
    t = SessionTable([DeviceSession.create("a", "49be7df1", nwkskey=NWK, fcnt_up=0,
                                           max_gap=50)], max_gap=5)
    assert t.check_uplink(up(lw, 50)).reason == "gap"
    assert t.check_uplink(up(lw, 49)).reason == "accepted"
    t = SessionTable([DeviceSession.create("a", "49be7df1", nwkskey=NWK, fcnt_up=0)],
                     max_gap=None)
    assert t.check_uplink(up(lw, 60000)).reason == "accepted"


def up(lw, fcnt, addr="49be7df1", nwk=NWK, app=APP, payload=b"\x01", **kw):
    return lw.encode_data(dev_addr=addr, fcnt=fcnt, fport=1, payload=payload, nwkskey=nwk,
                          appskey=app, **kw)


def test_counters_and_rejections(lw):
    s = DeviceSession.create("meter-1", "49be7df1", nwkskey=NWK, appskey=APP)
    t = SessionTable([s])
    v = t.check_uplink(up(lw, 0))
    assert (v.accepted, v.reason, v.session, v.frame.fcnt) == (True, "accepted", s, 0)
    assert v.frame.frm_payload == b"\x01"
    assert s.fcnt_up == 1
    v = t.check_uplink(up(lw, 0))
    assert (v.accepted, v.reason) == (False, "duplicate")
    assert v.detail == "frame counter 0 of device meter-1 was already accepted (retransmission)"
    for n in (1, 2, 5):
        assert t.check_uplink(up(lw, n)).reason == "accepted"
    assert s.fcnt_up == 6
    v = t.check_uplink(up(lw, 3))
    assert (v.accepted, v.reason, v.frame.fcnt) == (False, "replay", 3)
    assert v.detail.startswith("frame counter 3 of device meter-1 is older than the last "
                               "accepted 5")
    v = t.check_uplink(up(lw, 6 + DEFAULT_MAX_GAP + 1))
    assert (v.accepted, v.reason) == (False, "gap")
    tampered = bytearray(up(lw, 6))
    tampered[-1] ^= 1
    v = t.check_uplink(bytes(tampered))
    assert (v.accepted, v.reason, v.session) == (False, "mic", None)
    assert t.check_uplink(up(lw, 6, addr="01020304")).reason == "unknown_dev_addr"
    assert t.check_uplink(b"\x40\x01").reason == "decode_error"
    jr = lw.encode_join_request(join_eui=1, dev_eui=2, dev_nonce=3, appkey=APP)
    assert t.check_uplink(jr).reason == "not_data_uplink"
    assert t.counters == {"accepted": 4, "counter_reset": 0, "duplicate": 1, "replay": 1,
                          "gap": 1, "mic": 1, "unknown_dev_addr": 1, "decode_error": 1,
                          "not_data_uplink": 1}
    assert s.rejected == {"duplicate": 1, "replay": 1, "gap": 1}
    assert s.fcnt_up == 6


def test_rollover_and_32_bit_counters(lw):
    s = DeviceSession.create("meter-2", "49be7df1", nwkskey=NWK, appskey=APP, fcnt_up=65534)
    t = SessionTable([s])
    for n in (65534, 65535, 65536, 65537, 70000):
        v = t.check_uplink(up(lw, n))
        assert (v.reason, v.frame.fcnt) == ("accepted", n)
    assert s.fcnt_up == 70001
    v = t.check_uplink(up(lw, 65537))
    assert (v.reason, v.frame.fcnt) == ("replay", 65537)


def test_32_bit_wrap(lw):
    s = DeviceSession.create("meter-3", "49be7df1", nwkskey=NWK, appskey=APP,
                             fcnt_up=0xFFFFFFFF)
    t = SessionTable([s])
    assert t.check_uplink(up(lw, 0xFFFFFFFF)).reason == "accepted"
    v = t.check_uplink(up(lw, 0))
    assert (v.reason, v.frame.fcnt, s.fcnt_up) == ("accepted", 0, 1)


def test_device_that_restarted_its_counter(lw):
    strict = DeviceSession.create("abp-1", "49be7df1", nwkskey=NWK, appskey=APP, fcnt_up=70001)
    t = SessionTable([strict])
    # The MIC only verifies with the raw 16-bit counter: a reset device (or a replay).
    v = t.check_uplink(up(lw, 0))
    assert (v.accepted, v.reason, v.frame.fcnt) == (False, "replay", 0)
    assert strict.fcnt_up == 70001
    relaxed = DeviceSession.create("abp-1", "49be7df1", nwkskey=NWK, appskey=APP,
                                   fcnt_up=70001, allow_reset=True)
    t = SessionTable([relaxed])
    v = t.check_uplink(up(lw, 0))
    assert (v.accepted, v.reason, v.frame.fcnt, relaxed.fcnt_up) == (True, "counter_reset", 0, 1)
    assert t.check_uplink(up(lw, 1)).reason == "accepted"
    assert t.counters["counter_reset"] == 1


def test_devices_sharing_a_dev_addr(lw):
    k2 = ("11" * 16, "22" * 16)
    a = DeviceSession.create("a", "26011bda", nwkskey=NWK, appskey=APP)
    b = DeviceSession.create("b", "26011bda", nwkskey=k2[0], appskey=k2[1], fcnt_up=500)
    t = SessionTable([a, b])
    assert [s.device for s in t.by_dev_addr("26011BDA")] == ["a", "b"]
    v = t.check_uplink(up(lw, 500, addr="26011bda", nwk=k2[0], app=k2[1], payload=b"B"))
    assert (v.reason, v.session.device, v.frame.frm_payload) == ("accepted", "b", b"B")
    v = t.check_uplink(up(lw, 3, addr="26011bda", payload=b"A"))
    assert (v.reason, v.session.device, v.frame.frm_payload) == ("accepted", "a", b"A")
    # b's old counter is a replay of b, not a new frame of a.
    v = t.check_uplink(up(lw, 499, addr="26011bda", nwk=k2[0], app=k2[1]))
    assert (v.reason, v.session.device) == ("replay", "b")


def test_v11_session_uplink(lw):
    keys = {"fnwksintkey": "01" * 16, "snwksintkey": "02" * 16, "nwksenckey": "03" * 16,
            "appskey": "04" * 16}
    s = DeviceSession.create("v11", "01020304", conf_fcnt_down=7, **keys)
    assert s.version == "1.1"
    t = SessionTable([s])
    phy = lw.encode_data(dev_addr="01020304", fcnt=4, fport=2, payload=b"ok", ack=True,
                         conf_fcnt=7, tx_dr=5, tx_ch=1, fopts="02", **keys)
    assert t.check_uplink(phy, tx_dr=5, tx_ch=2).reason == "mic"
    v = t.check_uplink(phy, tx_dr=5, tx_ch=1)
    assert (v.reason, v.frame.frm_payload, v.frame.mac_commands) == (
        "accepted", b"ok", [{"cid": 2, "name": "LinkCheckReq"}])


def test_downlink_counters():
    s = DeviceSession.create("d", "01020304", nwkskey=NWK, appskey=APP)
    assert [s.next_fcnt_down(1), s.next_fcnt_down(0), s.next_fcnt_down()] == [0, 1, 2]
    v11 = DeviceSession.create("e", "01020304", fnwksintkey=NWK, snwksintkey=NWK,
                               nwksenckey=NWK, appskey=APP)
    assert [v11.next_fcnt_down(1), v11.next_fcnt_down(0), v11.next_fcnt_down(5)] == [0, 0, 1]
    assert (v11.fcnt_down, v11.afcnt_down) == (1, 2)


def test_state_survives_a_restart_without_keys(lw):
    s = DeviceSession.create("meter-1", "49be7df1", nwkskey=NWK, appskey=APP)
    t = SessionTable([s], max_gap=100)
    for n in (0, 1, 2):
        t.check_uplink(up(lw, n))
    t.check_uplink(up(lw, 2))
    state = t.to_dict()
    assert NWK not in repr(state) and APP not in repr(state)
    assert state == {"max_gap": 100, "counters": dict(t.counters), "sessions": [{
        "device": "meter-1", "dev_addr": "49be7df1", "version": "1.0", "fcnt_up": 3,
        "fcnt_down": 0, "afcnt_down": 0, "conf_fcnt_down": 0, "max_gap": None,
        "allow_reset": False, "fopts_scheme": "errata", "rejected": {"duplicate": 1}}]}
    packed = t.to_msgpack()
    assert NWK.encode() not in packed and bytes.fromhex(NWK) not in packed
    again = SessionTable.from_msgpack(packed, keys={"meter-1": {"nwkskey": NWK,
                                                                "appskey": APP}})
    assert again.to_dict() == state
    # No replay window reopens after the restart.
    assert again.check_uplink(up(lw, 2)).reason == "duplicate"
    assert again.check_uplink(up(lw, 1)).reason == "replay"
    assert again.check_uplink(up(lw, 3)).reason == "accepted"


def test_state_with_keys(lw):
    s = DeviceSession.create("otaa", "49be7df1", nwkskey=NWK, appskey=APP, fcnt_up=9)
    d = s.to_dict(include_keys=True)
    assert d["keys"] == {"nwkskey": NWK, "appskey": APP}
    back = DeviceSession.from_dict(d)
    assert back.to_dict(include_keys=True) == d
    assert SessionTable([back]).check_uplink(up(lw, 9)).reason == "accepted"
    assert "44024241" not in repr(s)


def test_session_table_replaces_a_device():
    t = SessionTable()
    t.add(DeviceSession.create("x", "01020304", nwkskey=NWK))
    t.add(DeviceSession.create("x", "0a0b0c0d", nwkskey=NWK))
    assert len(t) == 1
    assert t.by_dev_addr("01020304") == []
    assert t.get("x").dev_addr == "0a0b0c0d"
    with pytest.raises(ValueError, match="dev_addr: expected 8 hex digits"):
        DeviceSession.create("y", "123", nwkskey=NWK)
