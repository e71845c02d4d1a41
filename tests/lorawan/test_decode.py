"""Decoding behaviour of the MAC layer on both implementations: fields, keys, errors."""

import json
import pickle

import pytest

import hromada.lorawan as lorawan_api
from conftest import implementations, require_compiled
from hromada.errors import DecodeError

NWK = "44024241ed4ce9a68c6a8bc055233fd3"
APP = "ec925802ae430ca77fd3dd73cb2cc588"
UP = "40F17DBE4900020001954378762B11FF0D"  # lora-packet's 'test' uplink, FCnt 2


@pytest.fixture(params=implementations("lorawan"))
def lw(request, monkeypatch):
    """``hromada.lorawan`` running on the implementation under test."""
    monkeypatch.setattr(lorawan_api, "_impl", request.param)
    return lorawan_api


def test_compiled_is_loaded():
    require_compiled("lorawan")
    assert lorawan_api.implementation() == "compiled"


def test_data_uplink_every_field(lw):
    f = lw.decode(bytes.fromhex(UP), nwkskey=NWK, appskey=APP)
    assert f.to_dict() == {
        "mtype": "UnconfirmedDataUp", "dev_addr": "49be7df1",
        "fctrl": {"adr": False, "adr_ack_req": False, "ack": False, "fpending": False,
                  "class_b": False, "fopts_len": 0},
        "fcnt": 2, "fport": 1, "fopts": "", "frm_payload": "74657374", "mic": "2b11ff0d",
        "mic_ok": True, "mac_commands": []}
    assert f.frm_payload == b"test"
    assert (f.uplink, f.is_data, f.decrypted) == (True, True, True)
    for name in ("join_eui", "dev_eui", "dev_nonce", "join_nonce", "net_id", "dl_settings",
                 "rx_delay", "cflist", "rejoin_type", "rj_count"):
        assert getattr(f, name) is None, name
    json.dumps(f.to_dict())


def test_hex_phy_and_keys_as_bytes(lw):
    a = lw.decode(UP, nwkskey=bytes.fromhex(NWK), appskey=bytes.fromhex(APP))
    b = lw.decode(bytes.fromhex(UP), nwkskey=NWK.upper(), appskey=APP)
    assert a.to_dict() == b.to_dict()


def test_without_keys_nothing_is_checked_or_decrypted(lw):
    f = lw.decode(bytes.fromhex(UP))
    assert f.mic_ok is None
    assert f.frm_payload == bytes.fromhex("95437876")  # still encrypted
    assert f.decrypted is False
    # Only the network key: MIC checked, payload still encrypted.
    g = lw.decode(bytes.fromhex(UP), nwkskey=NWK)
    assert (g.mic_ok, g.frm_payload, g.decrypted) == (True, bytes.fromhex("95437876"), False)


def test_fport0_without_key_has_no_mac_commands(lw):
    phy = "40040302010000000069369eee6aa508"  # FPort 0, MAC commands encrypted
    assert lw.decode(phy).mac_commands is None
    f = lw.decode(phy, nwkskey="01" * 16)
    assert f.mac_commands == [{"cid": 2, "name": "LinkCheckReq"},
                              {"cid": 3, "name": "LinkADRAns", "power_ack": True,
                               "data_rate_ack": False, "channel_mask_ack": True}]


@pytest.mark.parametrize("uplink", [True, False])
@pytest.mark.parametrize("bit,name", [(0x80, "adr"), (0x40, "adr_ack_req"), (0x20, "ack"),
                                      (0x10, None)])
def test_every_fctrl_bit(lw, uplink, bit, name):
    phy = bytearray(bytes.fromhex(UP))
    if not uplink:
        phy[0] = 0x60
    phy[5] = bit
    fctrl = lw.decode(bytes(phy)).fctrl
    if name is None:
        name = "class_b" if uplink else "fpending"
    assert fctrl == {k: (k == name) if k != "fopts_len" else 0 for k in fctrl}


def test_fopts_len_and_mac_commands_per_direction(lw):
    keys = {"nwkskey": "01" * 16, "appskey": "01" * 16}
    up = lw.encode_data(dev_addr="01020304", fcnt=7, fport=1, payload=b"x",
                        fopts="030606", **keys)
    f = lw.decode(up, **keys)
    assert f.fctrl["fopts_len"] == 3 and f.fopts == "030606"
    assert f.mac_commands == [{"cid": 3, "name": "LinkADRAns", "power_ack": True,
                               "data_rate_ack": True, "channel_mask_ack": False},
                              {"cid": 6, "name": "DevStatusAns", "error": (
                                  "DevStatusAns needs 2 bytes after byte 2, 0 left"), "raw": ""}]
    down = lw.encode_data(dev_addr="01020304", fcnt=7, uplink=False,
                          fopts="035107ff01", **keys)  # LinkADRReq
    g = lw.decode(down, **keys)
    assert (g.fport, g.frm_payload) == (None, None)
    assert g.mac_commands == [{"cid": 3, "name": "LinkADRReq", "data_rate": 5, "tx_power": 1,
                               "ch_mask": 0xFF07, "ch_mask_cntl": 0, "nb_trans": 1}]


def test_fcnt_hint_rebuilds_32_bit_counter(lw):
    keys = {"nwkskey": NWK, "appskey": APP}
    phy = lw.encode_data(dev_addr="49be7df1", fcnt=65541, fport=2, payload=b"hi", **keys)
    assert phy[6:8] == b"\x05\x00"
    plain = lw.decode(phy, **keys)
    assert (plain.fcnt, plain.mic_ok) == (5, False)
    for hint in (65541, 65540, 65542, 60000):
        f = lw.decode(phy, fcnt=hint, **keys)
        assert (f.fcnt, f.mic_ok, f.frm_payload) == (65541, True, b"hi"), hint


def test_join_request(lw):
    f = lw.decode("00040302010403020105040302050403022d106a990e12", appkey="01" * 16)
    assert f.to_dict() == {"mtype": "JoinRequest", "join_eui": "0102030401020304",
                           "dev_eui": "0203040502030405", "dev_nonce": 4141,
                           "mic": "6a990e12", "mic_ok": True}
    assert (f.dev_addr, f.fcnt, f.fctrl, f.mac_commands) == (None, None, None, None)


def test_join_accept_with_cflist_round_trip(lw):
    cflist = bytes.fromhex("184f84e85684b85e84886684586e8400")
    phy = lw.encode_join_accept(join_nonce="a1b2c3", net_id="000013", dev_addr="26011bda",
                                appkey="0a" * 16, dl_settings=0x03, rx_delay=5, cflist=cflist)
    assert len(phy) == 33
    f = lw.decode(phy, appkey="0a" * 16)
    assert f.to_dict() == {"mtype": "JoinAccept", "join_nonce": "a1b2c3", "net_id": "000013",
                           "dev_addr": "26011bda", "dl_settings": "03", "rx_delay": 5,
                           "cflist": cflist.hex(), "mic": f.phy[-4:].hex(), "mic_ok": True}
    assert f.decrypted is True
    # Without the key the payload stays encrypted and nothing is made up.
    g = lw.decode(phy)
    assert g.to_dict() == {"mtype": "JoinAccept", "join_nonce": None, "net_id": None,
                           "dev_addr": None, "dl_settings": None, "rx_delay": None,
                           "cflist": None, "mic": None, "mic_ok": None}
    assert g.decrypted is False
    # A wrong key decrypts to garbage whose MIC fails.
    assert lw.decode(phy, appkey="0b" * 16).mic_ok is False


def test_join_accept_optneg_needs_its_request(lw):
    phy = "207abeea06b02920f11c02d0348fcf1815"
    k = "0102030405060708090a0b0c0d0e0f10"
    f = lw.decode(phy, nwkkey=k, jsintkey=k)
    assert f.dl_settings == "80" and f.mic_ok is None  # JoinEUI/DevNonce unknown
    g = lw.decode(phy, nwkkey=k, jsintkey=k, join_eui="0807060504030201", dev_nonce=258)
    assert g.mic_ok is True
    assert lw.decode(phy, nwkkey=k, jsintkey=k, join_eui="0807060504030201",
                     dev_nonce=259).mic_ok is False


def test_rejoin_requests(lw):
    k0 = "01" * 16
    r0 = lw.decode("c0000302010807060504030201020111da47bd", snwksintkey=k0)
    assert r0.to_dict() == {"mtype": "RejoinRequest", "rejoin_type": 0, "net_id": "010203",
                            "dev_eui": "0102030405060708", "rj_count": 258, "mic": "11da47bd",
                            "mic_ok": True}
    r1 = lw.decode("c00108070605040302010807060504030201020167f9abe7", jsintkey=k0)
    assert r1.to_dict() == {"mtype": "RejoinRequest", "rejoin_type": 1,
                            "join_eui": "0102030405060708", "dev_eui": "0102030405060708",
                            "rj_count": 258, "mic": "67f9abe7", "mic_ok": True}
    rebuilt = lw.encode_rejoin_request(rejoin_type=1, dev_eui="0102030405060708",
                                       join_eui="0102030405060708", rj_count=258, jsintkey=k0)
    assert rebuilt.hex() == "c00108070605040302010807060504030201020167f9abe7"


def test_proprietary(lw):
    f = lw.decode(b"\xe0\x01\x02\x03")
    assert f.to_dict() == {"mtype": "Proprietary", "frm_payload": "010203", "mic": None,
                           "mic_ok": None}
    assert f.frm_payload == b"\x01\x02\x03"
    assert lw.decode(lw.encode_proprietary(b"")).frm_payload == b""


ERRORS = [
    ("", "mhdr", 0, "mhdr at byte 0: empty frame"),
    ("41", "mhdr", 0, "mhdr at byte 0: unsupported LoRaWAN major version 1 (MHDR 0x41)"),
    ("400102", "dev_addr", 1,
     "dev_addr at byte 1: frame too short (length 3); a data frame is at least 12 bytes"),
    ("40f17dbe4900020001", "mic", 8,
     "mic at byte 8: frame too short (length 9); a data frame is at least 12 bytes"),
    ("40f17dbe490502000112345678", "fopts", 8,
     "fopts at byte 8: FOptsLen is 5 but the frame has room for 1 before the MIC"),
    ("40f17dbe49020200020300aabbccdd", "fport", 10,
     "fport at byte 10: FPort 0 with FOptsLen 2 (MAC commands in both)"),
    ("00" * 22, "mic", 19,
     "mic at byte 19: frame too short (length 22); a join-request is 23 bytes"),
    ("00" * 5, "join_eui", 1,
     "join_eui at byte 1: frame too short (length 5); a join-request is 23 bytes"),
    ("00" * 24, "phy_payload", 23,
     "phy_payload at byte 23: frame too long (length 24); a join-request is 23 bytes"),
    ("20" + "00" * 15, "mic", 13,
     "mic at byte 13: frame too short (length 16); a join-accept is 17 or 33 bytes"),
    ("20" + "00" * 19, "cflist", 13,
     "cflist at byte 13: incomplete CFList (frame length 20); a join-accept is 17 or 33 bytes"),
    ("20" + "00" * 33, "phy_payload", 33,
     "phy_payload at byte 33: frame too long (length 34); a join-accept is 17 or 33 bytes"),
    ("c0", "rejoin_type", 1, "rejoin_type at byte 1: frame too short (length 1); a "
     "rejoin-request is 19 bytes (type 0 or 2) or 24 (type 1)"),
    ("c003" + "00" * 17, "rejoin_type", 1, "rejoin_type at byte 1: unknown rejoin type 3"),
    ("c000" + "00" * 16, "mic", 15,
     "mic at byte 15: frame too short (length 18); a type 0 rejoin-request is 19 bytes"),
    ("c001" + "00" * 23, "phy_payload", 24,
     "phy_payload at byte 24: frame too long (length 25); a type 1 rejoin-request is 24 bytes"),
]


@pytest.mark.parametrize("phy,field,offset,message", ERRORS)
def test_decode_errors_name_field_and_offset(lw, phy, field, offset, message):
    with pytest.raises(DecodeError) as info:
        lw.decode(bytes.fromhex(phy), nwkskey=NWK, appskey=APP)
    assert str(info.value) == message
    assert (info.value.field, info.value.offset) == (field, offset)


def test_decode_many_matches_decode_and_names_the_bad_frame(lw):
    frames = [bytes.fromhex(UP), bytes.fromhex("40F17DBE49000300012A3518AF")]
    many = lw.decode_many(frames, nwkskey=NWK, appskey=APP)
    assert [f.to_dict() for f in many] == \
        [lw.decode(p, nwkskey=NWK, appskey=APP).to_dict() for p in frames]
    assert [f.fcnt for f in many] == [2, 3]
    assert lw.decode_many([], nwkskey=NWK, appskey=APP) == []
    with pytest.raises(DecodeError) as info:
        lw.decode_many([frames[0], b"\x40\x01", frames[1]], nwkskey=NWK, appskey=APP)
    assert str(info.value) == ("frame 1: dev_addr at byte 1: frame too short (length 2); a "
                               "data frame is at least 12 bytes")
    assert (info.value.index, info.value.field, info.value.offset) == (1, "dev_addr", 1)


def test_decode_many_accepts_any_bytes_like(lw):
    phy = bytes.fromhex(UP)
    many = lw.decode_many((bytearray(phy), memoryview(phy)), nwkskey=NWK, appskey=APP)
    assert [f.frm_payload for f in many] == [b"test", b"test"]
    with pytest.raises(TypeError, match="^phy must be bytes, not str$"):
        lw.decode_many([UP], nwkskey=NWK)


def test_frames_are_immutable_and_equal_by_value(lw, impl_of):
    a = lw.decode(UP, nwkskey=NWK, appskey=APP)
    b = lw.decode(bytes.fromhex(UP), nwkskey=NWK, appskey=APP)
    assert a == b and hash(a) == hash(b)
    assert a != lw.decode(UP, nwkskey=NWK)
    with pytest.raises(AttributeError):
        a.fcnt = 9
    with pytest.raises(TypeError, match="made by decoding"):
        impl_of(lw).LoRaFrame()


@pytest.fixture
def impl_of():
    return lambda lw: lw._impl


def test_keys_never_shown(lw):
    secret = "5ec2e75ec2e75ec2e75ec2e75ec2e75e"
    keys = lw.make_keys(nwkskey=secret, appskey=secret)
    assert secret not in repr(keys) and secret not in str(keys)
    assert repr(keys) == "<Keys LoRaWAN 1.0: nwkskey, appskey>"
    f = lw.decode(UP, nwkskey=secret, appskey=secret)
    assert secret not in repr(f) and secret not in str(f.to_dict())
    sk = lw.derive_session_keys_10(secret, join_nonce=1, net_id=2, dev_nonce=3)
    assert repr(sk) == "SessionKeys(version='1.0')"
    with pytest.raises(ValueError) as info:
        lw.decode(UP, nwkskey=secret[:-2])
    assert str(info.value) == "nwkskey: expected 32 hex digits"


def test_key_from_environment(lw, monkeypatch):
    monkeypatch.setenv("HROMADA_TEST_NWK", NWK)
    assert lw.decode(UP, nwkskey="env:HROMADA_TEST_NWK").mic_ok is True
    monkeypatch.setenv("HROMADA_TEST_BAD", "zz")
    with pytest.raises(ValueError) as info:
        lw.decode(UP, nwkskey="env:HROMADA_TEST_BAD")
    assert str(info.value) == ("nwkskey: expected 32 hex digits (from environment variable "
                               "HROMADA_TEST_BAD)")
    with pytest.raises(ValueError, match="^appskey: environment variable HROMADA_NOPE is not"):
        lw.decode(UP, appskey="env:HROMADA_NOPE")


@pytest.mark.parametrize("impl", implementations("lorawan"))
def test_keys_argument_checks(impl):
    k = bytes(16)
    with pytest.raises(ValueError, match=r"^version must be '1.0' or '1.1', not '1.2'$"):
        impl.Keys("1.2")
    with pytest.raises(ValueError, match="^snwksintkey is a LoRaWAN 1.1 key; use nwkskey"):
        impl.Keys("1.0", snwksintkey=k)
    with pytest.raises(ValueError, match="^nwkskey is a LoRaWAN 1.0 key"):
        impl.Keys("1.1", nwkskey=k)
    with pytest.raises(ValueError, match="^fopts_scheme must be"):
        impl.Keys("1.1", fopts_scheme="new")
    with pytest.raises(ValueError, match="^appskey must be 16 bytes, got 3$"):
        impl.Keys(appskey=b"abc")
    keys = impl.Keys("1.1", fnwksintkey=k, jsenckey=k)
    assert keys.names == ("fnwksintkey", "jsenckey")
    assert (keys.version, keys.fopts_scheme) == ("1.1", "errata")
    with pytest.raises(ValueError, match="^fcnt must be an integer from 0 to 4294967295$"):
        keys.decode(bytes.fromhex(UP), fcnt=-1)
    with pytest.raises(ValueError, match="^tx_dr must be an integer from 0 to 255$"):
        keys.decode(bytes.fromhex(UP), tx_dr=256)
    with pytest.raises(ValueError, match="^join_eui must be 8 bytes, got 2$"):
        keys.decode(bytes.fromhex(UP), join_eui=b"ab")
    with pytest.raises(ValueError, match="^wire must be an integer from 0 to 65535$"):
        impl.full_fcnt(0, 65536)


def test_v11_fopts_schemes(lw):
    keys = {"snwksintkey": "11" * 16, "fnwksintkey": "22" * 16, "nwksenckey": "33" * 16,
            "appskey": "44" * 16}
    for scheme in ("errata", "original", "none"):
        phy = lw.encode_data(dev_addr="01020304", fcnt=3, uplink=False, fport=5, payload=b"a",
                             fopts="0207ff", fopts_scheme=scheme, **keys)
        assert (phy[8:11] == bytes.fromhex("0207ff")) == (scheme == "none")
        f = lw.decode(phy, fopts_scheme=scheme, **keys)
        assert (f.fopts, f.mic_ok, f.frm_payload) == ("0207ff", True, b"a"), scheme
        assert f.mac_commands[0] == {"cid": 2, "name": "LinkCheckAns", "margin": 7, "gw_cnt": 255}
    errata = lw.encode_data(dev_addr="01020304", fcnt=3, uplink=False, fopts="0207ff", **keys)
    wrong = lw.decode(errata, fopts_scheme="original", **keys)
    assert wrong.mic_ok is True and wrong.fopts != "0207ff"
    # Without NwkSEncKey the FOpts stay encrypted: no MAC commands are guessed.
    no_enc = {k: v for k, v in keys.items() if k != "nwksenckey"}
    g = lw.decode(errata, **no_enc)
    assert g.mac_commands is None and g.decrypted is False and g.mic_ok is True


def test_v11_uplink_mic_covers_tx_dr_tx_ch_and_conf_fcnt(lw):
    keys = {"snwksintkey": "11" * 16, "fnwksintkey": "22" * 16, "nwksenckey": "33" * 16,
            "appskey": "44" * 16}
    phy = lw.encode_data(dev_addr="01020304", fcnt=9, fport=1, payload=b"z", ack=True,
                         conf_fcnt=41, tx_dr=3, tx_ch=2, **keys)
    assert lw.decode(phy, conf_fcnt=41, tx_dr=3, tx_ch=2, **keys).mic_ok is True
    assert lw.decode(phy, conf_fcnt=41, tx_dr=3, tx_ch=1, **keys).mic_ok is False
    assert lw.decode(phy, conf_fcnt=40, tx_dr=3, tx_ch=2, **keys).mic_ok is False
    # Only one of the two integrity keys: not checked rather than failed.
    assert lw.decode(phy, fnwksintkey="22" * 16, version="1.1").mic_ok is None


def test_join_accept_printed_before_encryption_is_recognised(lw):
    f = lw.decode("20386337CCBBAAE7CD2C010000D9D0A6E7", appkey="98929b92c49edba9676d646d3b612456")
    assert (f.mic_ok, f.join_nonce, f.net_id, f.dev_addr) == (True, "376338", "aabbcc",
                                                               "012ccde7")


def test_frames_pickle_keys_do_not(lw):
    f = lw.decode(UP, nwkskey=NWK, appskey=APP)
    g = pickle.loads(pickle.dumps(f))
    assert g == f and g.to_dict() == f.to_dict() and type(g) is type(f)
    with pytest.raises(TypeError, match="^Keys objects hold secrets and are not pickled$"):
        pickle.dumps(lw.make_keys(nwkskey=NWK))
