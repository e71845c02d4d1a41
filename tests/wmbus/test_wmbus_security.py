"""Encryption: modes 5 and 7, ELL AES-CTR, per-meter keys, wrong and missing keys."""

import pytest
from wmbus_vectors import (
    KAMSTRUP_ELL,
    KAMSTRUP_KEY,
    OMS_MODE5,
    OMS_MODE5_CRC,
    OMS_MODE5_KEY,
    OMS_MODE7,
    OMS_MODE7_CRC,
    OMS_MODE7_KEY,
    OMS_RECORDS,
)

from conftest import implementations
from hromada import wmbus
from hromada.errors import DecodeError
from hromada.wmbus.encode import raw_record, record, telegram

IMPLS = implementations("wmbus")
WRONG = bytes.fromhex("4E5508544202058100DFEFA06B0934AF")


def _key(k):
    return lambda manufacturer, ident: k


def _error(impl, data, key=None):
    with pytest.raises(DecodeError) as info:
        impl.decode(data, _key(key) if key else None)
    e = info.value
    # Keys never show up in what a user sees.
    for k in (key, OMS_MODE5_KEY, OMS_MODE7_KEY, KAMSTRUP_KEY):
        if k:
            for text in (str(e), repr(e)):
                assert k.hex() not in text.lower()
    return str(e), e.offset, e.field


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("data", [OMS_MODE5, OMS_MODE5_CRC])
def test_mode5_missing_and_wrong_key(impl, data):
    assert _error(impl, data) == (
        "meter ELS 12345678 is encrypted (mode 5) and no key was given", None, "key")
    assert _error(impl, data, WRONG) == (
        "meter ELS 12345678: decryption failed (no 2F2F after decryption): wrong key?",
        15, "key")


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("data", [OMS_MODE7, OMS_MODE7_CRC])
def test_mode7_missing_and_wrong_key(impl, data):
    assert _error(impl, data) == (
        "meter ELS 12345678 is encrypted (mode 7) and no key was given", None, "key")
    assert _error(impl, data, WRONG) == (
        "meter ELS 12345678: authentication failed (MAC mismatch): wrong key?", 30, "key")


@pytest.mark.parametrize("impl", IMPLS)
def test_mode7_tampered_mac_or_counter_fails(impl):
    # The published MAC with one bit changed (21924D4F 2F -> 3F), then a counter that
    # is not the one the MAC covers: the right key no longer authenticates it.
    bad_mac = bytearray(OMS_MODE7)
    bad_mac[26] ^= 0x10
    bad_mcr = bytearray(OMS_MODE7)
    bad_mcr[18] ^= 0x01
    for data in (bad_mac, bad_mcr):
        assert _error(impl, bytes(data), OMS_MODE7_KEY) == (
            "meter ELS 12345678: authentication failed (MAC mismatch): wrong key?", 30, "key")


@pytest.mark.parametrize("impl", IMPLS)
def test_ell_missing_and_wrong_key(impl):
    assert _error(impl, KAMSTRUP_ELL) == (
        "meter KAM 63452869 is encrypted (ELL AES-CTR) and no key was given", None, "key")
    assert _error(impl, KAMSTRUP_ELL, WRONG) == (
        "meter KAM 63452869: decryption failed (ELL payload CRC mismatch): wrong key?",
        17, "key")


@pytest.mark.parametrize("impl", IMPLS)
def test_mode7_without_afl_is_refused(impl):
    key = bytes(16)
    t = bytearray(telegram(raw_record(0x13, 5), security_mode=5, key=key))
    t[14] = 0x07            # configuration word high byte: mode 7, no AFL in front
    t[15:15] = b"\x10"      # the CFE byte mode 7 has
    t[0] += 1
    assert _error(impl, bytes(t), key) == (
        "meter HRM 12345678 uses security mode 7 but has no AFL message counter and MAC",
        10, "afl")


@pytest.mark.parametrize("impl", IMPLS)
def test_unsupported_security_mode(impl):
    t = bytearray(telegram(raw_record(0x13, 5)))
    t[14] = 0x0D            # mode 13 (TLS)
    assert _error(impl, bytes(t)) == (
        "meter HRM 12345678 uses security mode 13, which is not supported (only 0, 5 and 7)",
        13, "tpl")


@pytest.mark.parametrize("impl", IMPLS)
def test_too_many_encrypted_blocks(impl):
    t = bytearray(telegram(raw_record(0x13, 5), security_mode=5, key=bytes(16)))
    t[13] = 0x30            # CW low byte: 3 blocks, only 1 present
    assert _error(impl, bytes(t), bytes(16)) == (
        "meter HRM 12345678: the configuration word says 3 encrypted blocks (48 bytes) but "
        "16 bytes follow the header at offset 15", 15, "tpl")


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", [5, 7])
@pytest.mark.parametrize("frame_format", ["none", "A", "B"])
@pytest.mark.parametrize("ell", [None, "8c", "8d"])
def test_encrypted_round_trips(impl, mode, frame_format, ell):
    key = bytes.fromhex("A1B2C3D4E5F60718293A4B5C6D7E8F90")
    body = (record("volume", 123.456, "m3") + record("energy", 98765, "kWh", coding="bcd8")
            + record("volume", 120.5, "m3", storage=1)
            + record("flow_temperature", 55.25, "Cel", coding="int16"))
    t = telegram(body, manufacturer="DME", id="87654321", device_type=7, version=3,
                 access_number=200, security_mode=mode, key=key, message_counter=77,
                 ell=ell, cc=0x44, frame_format=frame_format)
    header, records = impl.decode(t, _key(key))
    assert header["security_mode"] == mode
    assert header["encryption"] == f"mode{mode}"
    assert header["frame_format"] == frame_format
    assert records == [
        ("volume", 123.456, "m3", 0, 0, 0, "instantaneous", "0413"),
        ("energy", 98765, "kWh", 0, 0, 0, "instantaneous", "0c06"),
        ("volume", 120.5, "m3", 1, 0, 0, "instantaneous", "4413"),
        ("flow_temperature", 55.25, "Cel", 0, 0, 0, "instantaneous", "0259"),
    ]


@pytest.mark.parametrize("impl", IMPLS)
def test_ell_encrypted_and_mode5_inside(impl):
    # ELL AES-CTR around a mode 5 transport layer: two layers, one key.
    key = bytes(range(16, 32))
    t = telegram(record("volume", 1.5, "m3"), security_mode=5, key=key, ell="8d",
                 ell_encrypt=True, session_number=0x12345, cc=0x32, frame_format="A")
    header, records = impl.decode(t, _key(key))
    assert header["encryption"] == "mode5" and header["security_mode"] == 5
    assert records == [("volume", 1.5, "m3", 0, 0, 0, "instantaneous", "0413")]


@pytest.mark.parametrize("impl", IMPLS)
def test_key_lookup_gets_meter_identity(impl):
    seen = []

    def key_for(manufacturer, ident):
        seen.append((manufacturer, ident))
        return OMS_MODE5_KEY

    impl.decode(OMS_MODE5, key_for)
    assert seen == [("ELS", "12345678")]
    # Not encrypted: the lookup is never called.
    impl.decode(telegram(raw_record(0x13, 1)), key_for)
    assert len(seen) == 1


def test_per_meter_keys():
    for name in ("ELS12345678", "ELS-12345678", "ELS 12345678", "12345678"):
        t = wmbus.decode(OMS_MODE5, keys={name: OMS_MODE5_KEY.hex(), "KAM63452869": WRONG})
        assert [(r.quantity, r.value, r.unit) for r in t.records] == [
            r[:3] for r in OMS_RECORDS]
    # The meter-specific key wins over the default one.
    t = wmbus.decode(KAMSTRUP_ELL, key=WRONG, keys={"KAM63452869": KAMSTRUP_KEY})
    assert t.records[1].value == 474.24
    with pytest.raises(DecodeError) as info:
        wmbus.decode(OMS_MODE5, keys={"KAM63452869": KAMSTRUP_KEY})
    assert str(info.value) == "meter ELS 12345678 is encrypted (mode 5) and no key was given"


def test_key_forms(monkeypatch):
    monkeypatch.setenv("HROMADA_TEST_WMBUS_KEY", OMS_MODE5_KEY.hex())
    t = wmbus.decode(OMS_MODE5, key="env:HROMADA_TEST_WMBUS_KEY")
    assert t.records[0].value == 28504.27
    assert wmbus.parse_key(bytearray(OMS_MODE5_KEY)) == OMS_MODE5_KEY
    for bad, message in [
        ("0102", "key: an AES-128 key is 16 bytes (32 hex digits), got 2"),
        ("zz" * 16, "key: not hexadecimal (expected 32 hex digits)"),
        ("env:HROMADA_TEST_WMBUS_NO_SUCH_VAR",
         "key: environment variable HROMADA_TEST_WMBUS_NO_SUCH_VAR is not set"),
    ]:
        with pytest.raises(ValueError) as info:
            wmbus.decode(OMS_MODE5, key=bad)
        assert str(info.value) == message


@pytest.mark.parametrize("impl", IMPLS)
def test_mode5_with_no_encrypted_block_needs_no_key(impl):
    t = bytearray(telegram(raw_record(0x13, 5)))
    t[14] = 0x05            # mode 5, but the block count (CW bits 4-7) is 0
    header, records = impl.decode(bytes(t))
    assert (header["security_mode"], header["encryption"]) == (5, "none")
    assert records == [("volume", 0.005, "m3", 0, 0, 0, "instantaneous", "0413")]
