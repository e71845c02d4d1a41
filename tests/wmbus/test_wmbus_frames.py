"""Link layer: frame formats A and B, CRC checks, lengths, header fields."""

import pytest
from wmbus_vectors import KAMSTRUP_ELL, KAMSTRUP_KEY, OMS_MODE5, OMS_MODE5_CRC, OMS_MODE7_CRC

from conftest import implementations
from hromada.errors import DecodeError
from hromada.wmbus.encode import crc16 as independent_crc
from hromada.wmbus.encode import manufacturer_field, raw_record, record, telegram

IMPLS = implementations("wmbus")


def _strip_error(impl, data, fmt="auto"):
    with pytest.raises(DecodeError) as info:
        impl.strip_crc(data, fmt)
    return str(info.value), info.value.offset, info.value.field


@pytest.mark.parametrize("impl", IMPLS)
def test_crc16_known_blocks(impl):
    # Annex N.2.1 with CRCs: block 1 (L..type) ends in 3363, block 2 in C2AD.
    assert impl.crc16(OMS_MODE5_CRC[:10]) == 0x3363
    assert impl.crc16(OMS_MODE5_CRC, 12, 28) == 0xC2AD
    assert independent_crc(OMS_MODE5_CRC[:10]) == 0x3363
    assert impl.crc16(b"") == 0xFFFF


@pytest.mark.parametrize("impl", IMPLS)
def test_strip_format_a(impl):
    assert impl.strip_crc(OMS_MODE5_CRC) == (OMS_MODE5, "A")
    assert impl.strip_crc(OMS_MODE5_CRC, "A") == (OMS_MODE5, "A")
    assert impl.strip_crc(OMS_MODE5, "auto") == (OMS_MODE5, "none")


@pytest.mark.parametrize("impl", IMPLS)
def test_format_a_crc_error_names_block(impl):
    bad = bytearray(OMS_MODE5_CRC)
    bad[15] ^= 0x01                                 # inside block 2 (bytes 12-27)
    computed = independent_crc(bytes(bad[12:28]))
    assert _strip_error(impl, bytes(bad)) == (
        f"CRC error in block 2 (frame format A, bytes 12-27, CRC at offset 28): computed "
        f"0x{computed:04x}, telegram has 0xc2ad", 28, "crc")
    bad = bytearray(OMS_MODE7_CRC)
    bad[-1] ^= 0xFF                                 # the last block's CRC itself
    with pytest.raises(DecodeError) as info:
        impl.decode(bytes(bad))
    assert str(info.value).startswith(
        "CRC error in block 5 (frame format A, bytes 66-75, CRC at offset 76): computed "
        "0xbaa1, telegram has 0xba5e")


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("nrec", [1, 30])           # one block 2; block 2 and block 3
def test_format_b_round_trip(impl, nrec):
    body = b"".join(record("volume", k / 1000, "m3", storage=k % 2) for k in range(nrec))
    plain = telegram(body, frame_format="none")
    b = telegram(body, frame_format="B")
    assert len(b) == len(plain) + (2 if len(plain) + 2 <= 128 else 4)
    assert b[0] == len(b) - 1                       # format B: L counts the CRCs
    stripped, fmt = impl.strip_crc(b)
    assert fmt == "B" and stripped[1:] == plain[1:]
    assert impl.strip_crc(b, "B")[1] == "B"
    header, records = impl.decode(b)
    assert header["frame_format"] == "B" and len(records) == nrec
    assert records[-1][1] == (nrec - 1) / 1000


@pytest.mark.parametrize("impl", IMPLS)
def test_format_b_crc_errors(impl):
    body = b"".join(record("volume", k, "m3") for k in range(30))
    b = bytearray(telegram(body, frame_format="B"))
    n = len(b)
    good3 = (b[-2] << 8) | b[-1]
    b[130] ^= 0x40                                  # block 3
    computed = independent_crc(bytes(b[128:n - 2]))
    assert _strip_error(impl, bytes(b), "B") == (
        f"CRC error in block 3 (frame format B, bytes 128-{n - 3}, CRC at offset {n - 2}): "
        f"computed 0x{computed:04x}, telegram has 0x{good3:04x}", n - 2, "crc")
    # In "auto" a format B telegram whose CRC fails reads as one without CRCs.
    assert impl.strip_crc(bytes(b))[1] == "none"
    b = bytearray(telegram(record("volume", 1, "m3"), frame_format="B"))
    b[12] ^= 1
    msg, offset, field = _strip_error(impl, bytes(b), "B")
    assert msg.startswith(f"CRC error in block 2 (frame format B, bytes 0-{len(b) - 3}, "
                          f"CRC at offset {len(b) - 2}): ")
    assert (offset, field) == (len(b) - 2, "crc")


@pytest.mark.parametrize("impl", IMPLS)
def test_length_errors(impl):
    assert _strip_error(impl, b"") == ("empty telegram", 0, "L")
    assert _strip_error(impl, b"\x05\x44\x00", "none") == (
        "telegram is 3 bytes but its L field (0x05) says 6", 0, "L")
    assert _strip_error(impl, KAMSTRUP_ELL + b"\x89") == (
        "telegram is 38 bytes: its L field (0x24) needs 37 without CRCs or 43 with frame "
        "format A CRCs", 0, "L")
    assert _strip_error(impl, OMS_MODE5, "A") == (
        "telegram is 47 bytes but frame format A with L field 0x2e needs 55", 0, "L")
    assert _strip_error(impl, bytes([4, 1, 2, 3, 4]), "A") == (
        "telegram is 5 bytes but frame format A with L field 0x04 needs 12", 0, "L")
    assert _strip_error(impl, bytes([10]) + bytes(10), "B") == (
        "L field 0x0a does not fit frame format B", 0, "L")
    assert _strip_error(impl, bytes([5, 1, 2]), "auto") == (
        "telegram is 3 bytes but its L field (0x05) says 6", 0, "L")
    with pytest.raises(ValueError) as info:
        impl.strip_crc(OMS_MODE5, "C")
    assert str(info.value) == ("frame_format must be one of ('auto', 'A', 'B', 'none'), "
                               "not 'C'")


@pytest.mark.parametrize("impl", IMPLS)
def test_truncated_link_layer_and_layers(impl):
    def err(data):
        with pytest.raises(DecodeError) as info:
            impl.decode(data, lambda m, i: KAMSTRUP_KEY)
        return str(info.value), info.value.offset, info.value.field

    assert err(bytes([9, 0x44]) + bytes(8)) == (
        "truncated telegram: 10 bytes, the link layer and CI field need 11", 10, "ci")
    def frame(tail):
        body = bytes([0x44]) + manufacturer_field("KAM") + bytes.fromhex("785634120107") + tail
        return bytes([len(body)]) + body

    assert err(frame(b"\x8c\x20")) == (
        "truncated ell at offset 10: needs 3 bytes, 2 left", 10, "ell")
    assert err(frame(b"\x72\x01\x02")) == (
        "truncated tpl at offset 10: needs 13 bytes, 3 left", 10, "tpl")
    assert err(frame(b"\x90\x05\x00")) == (
        "truncated afl at offset 12: needs 5 bytes, 1 left", 12, "afl")
    assert err(frame(b"\x79")) == (
        "compact frame (CI 0x79) at offset 10 is not supported: it needs the meter's full "
        "frame format", 10, "ci")
    assert err(frame(b"\x51")) == (
        "unsupported CI field 0x51 at offset 10", 10, "ci")
    assert err(frame(b"\x90\x02\x00\x40\x78")) == (
        "fragmented message (AFL at offset 10) is not supported", 10, "afl")


@pytest.mark.parametrize("impl", IMPLS)
def test_link_fields(impl):
    t = telegram(raw_record(0x13, 1), manufacturer="ZRI", id="00000042", version=0x99,
                 device_type=0x08, c_field=0x46, access_number=7, status=0x04)
    header, _ = impl.decode(t)
    assert header == {
        "manufacturer": "ZRI", "id": "00000042", "version": 0x99,
        "device_type": "heat_cost_allocator", "device_type_code": 8, "ci": 0x7A,
        "access_number": 7, "status": 4, "security_mode": 0, "encryption": "none",
        "c_field": 0x46, "frame_format": "none"}
    assert impl.manufacturer_code(0x2C2D) == "KAM"
    assert impl.manufacturer_code(0x1593) == "ELS"
    # An unlisted device type still decodes; an id with hex digits is shown as sent.
    t = bytearray(t)
    t[9] = 0x45
    t[4] = 0xAB
    header, _ = impl.decode(bytes(t))
    assert (header["device_type"], header["device_type_code"]) == ("reserved", 0x45)
    assert header["id"] == "000000AB"
