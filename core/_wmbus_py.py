"""Wireless M-Bus / OMS telegram decoder, pure-Python twin of ``hromada._wmbus``.

What a telegram looks like (EN 13757-4 link layer, EN 13757-7 transport and security,
EN 13757-3 application layer, OMS volume 2), layer by layer:

``L C M M A A A A V T`` - link layer (DLL).  L counts the bytes after itself; C is the
    control field (0x44 SND_NR ...); M the manufacturer, three letters of five bits each
    (``((M >> 10) & 31) + 64`` ...); A the meter id (4 bytes, 8 BCD digits, least
    significant byte first), version and device type.
CRCs - on the radio, frame format A puts a CRC (polynomial 0x3D65, initial 0, result
    inverted, sent MSB first) after the first 10 bytes and after every further 16
    bytes (L does not count them); frame format B has one CRC over the first 126 bytes
    and one over any rest (L counts them).  Many receivers strip them: see
    :func:`strip_crc` and ``frame_format``.
``8C CC ACC`` - extended link layer I; ``8E CC ACC M2 A2`` - ELL III (receiver
    address); ``8D CC ACC SN(4) PayloadCRC(2) ...`` - ELL II, where SN bits 29-31 = 1
    means AES-128-CTR from the PayloadCRC on, counter block M, A, CC (bits 0x10 and 0x02
    zeroed: a repeater changes them), SN, FN = 0 (2 bytes), BC (block counter); the
    decrypted PayloadCRC (little-endian) is the CRC of the rest, which is how a wrong
    key shows.
``90 AFLL FCL(2) [MCL] [KI(2)] [MCR(4)] [MAC] [ML(2)]`` - authentication and
    fragmentation layer (OMS security profile B); fields present as the FCL flags say.
``78`` - no transport header; ``7A ACC ST CW(2)`` - short header; ``72 ID(4) M(2) V T
    ACC ST CW(2)`` - long header (the meter's own address, which wins over the link
    layer's when a converter or repeater sent the telegram).  CW bits 8-12 are the
    security mode, bits 4-7 the number of encrypted 16-byte blocks.
Security mode 5 - AES-128-CBC, IV = M (2 bytes) + A (6 bytes) + 8 x ACC.
Security mode 7 - a configuration field extension byte follows CW (bits 4-5: key
    derivation function, 1 = OMS); Kenc = CMAC(K, 00 || MCR || ID || 07 x 7) and Kmac
    = CMAC(K, 01 || ...), with MCR the AFL message counter and ID the meter id bytes;
    the AFL MAC is CMAC(Kmac, MCL || KI || MCR || ML || everything from the TPL CI on)
    truncated; the data is AES-128-CBC with a zero IV.
Both modes put 0x2F 0x2F first in the plaintext: that is the check of the key.
Records - DIF (data field coding in bits 0-3, function in bits 4-5, storage number LSB
    in bit 6, extension bit 7), up to 10 DIFEs (4 more storage bits, 2 tariff bits, 1
    subunit bit each), VIF (unit and decimal exponent; 0xFB and 0xFD select the
    extension tables in the next byte), up to 10 VIFEs, then the data.  DIF 0x2F is an
    idle filler; 0x0F and 0x1F start manufacturer data that runs to the end.

Each record becomes a tuple ``(quantity, value, unit, storage, tariff, subunit,
function, dif_vif)``: ``value`` is scaled to ``unit`` (one unit per quantity family:
energy in kWh or GJ, volume in m3, power in W, volume flow in m3/h ...), an int where
the scale is whole and otherwise ``raw * num * 10**exp / den`` computed on exact
integers (so BCD 02850427 with VIF 0x14 is exactly 28504.27); dates and date-times
are ISO 8601 strings; ``None`` means the meter sent no usable value (no data, BCD with
hex digits, an invalid date).  Manufacturer-specific data (VIF 0x7F/0xFF, DIF
0x0F/0x1F, CI 0xA0-0xB7) is kept raw as a hex string.

Reading choices where the standard leaves room or sources differ:

* Integers are signed (type B), except identifiers, counters and bit fields (fabrication
  number, error flags, digital inputs ...), which are unsigned.
* BCD with 0xF as its top nibble is negative (type A); any other hex digit -> None.
* Combinable VIFEs 0x70-0x77 (x 10^(n-6)) and 0x7D (x 1000) change the scale; others
  are kept in ``dif_vif`` only; after VIFE 0x7F the rest is the manufacturer's.
* Plain-text VIF 0x7C/0xFC: the length byte and the text (last character first) follow
  the VIF itself, before any VIFE, as the common implementations read it; the record's
  quantity is ``"text:<unit text>"``.
* Type G/F/I years are 2000 + the 7-bit year.
* Security mode 5 with zero encrypted blocks decrypts nothing and needs no key.

Not supported (a clear DecodeError): compact frames (CI 0x79, they need the meter's
format frame), ELL IV (CI 0x8F), fragmented AFL messages, AES-GMAC, security modes
other than 0, 5 and 7, mode 7 key derivation functions other than 1.

API (the compiled twin has the same): :func:`crc16`, :func:`strip_crc`,
:func:`parse_records`, :func:`decode`.  Errors are :class:`hromada.errors.DecodeError`
with the byte offset (in the telegram without CRCs) and the field; keys never appear
in any message.
"""

from __future__ import annotations

import math
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from hromada.errors import DecodeError

__all__ = [
    "DEVICE_TYPES", "FUNCTIONS", "crc16", "decode", "manufacturer_code", "parse_records",
    "strip_crc",
]

# --------------------------------------------------------------------------- link layer

CRC_POLY = 0x3D65


def _crc_table():
    table = []
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ CRC_POLY) if c & 0x8000 else (c << 1)
        table.append(c & 0xFFFF)
    return tuple(table)


CRC_TABLE = _crc_table()


def crc16(data, start=0, end=None):
    """The EN 13757-4 CRC of ``data[start:end]`` (poly 0x3D65, init 0, inverted)."""
    c = 0
    t = CRC_TABLE
    for b in data[start:end]:
        c = ((c << 8) & 0xFFFF) ^ t[(c >> 8) ^ b]
    return c ^ 0xFFFF


FRAME_FORMATS = ("auto", "A", "B", "none")

#: Device type (A field, last byte) -> name, EN 13757-7 / OMS.
DEVICE_TYPES = {
    0x00: "other", 0x01: "oil", 0x02: "electricity", 0x03: "gas", 0x04: "heat",
    0x05: "steam", 0x06: "warm_water", 0x07: "water", 0x08: "heat_cost_allocator",
    0x09: "compressed_air", 0x0A: "cooling_outlet", 0x0B: "cooling_inlet",
    0x0C: "heat_inlet", 0x0D: "heat_cooling", 0x0E: "bus_system_component",
    0x0F: "unknown", 0x14: "calorific_value", 0x15: "hot_water", 0x16: "cold_water",
    0x17: "dual_register_water", 0x18: "pressure", 0x19: "ad_converter",
    0x1A: "smoke_detector", 0x1B: "room_sensor", 0x1C: "gas_detector",
    0x20: "breaker", 0x21: "valve", 0x25: "customer_unit", 0x28: "waste_water",
    0x29: "garbage", 0x2A: "carbon_dioxide", 0x31: "communication_controller",
    0x32: "unidirectional_repeater", 0x33: "bidirectional_repeater",
    0x36: "radio_converter_system", 0x37: "radio_converter_meter", 0x38: "wired_adapter",
    0xFF: "wildcard",
}

#: DIF bits 4-5.
FUNCTIONS = ("instantaneous", "maximum", "minimum", "error")


def manufacturer_code(m):
    """The three-letter code of a 16-bit M field (bit 15 is not part of it)."""
    return chr(((m >> 10) & 31) + 64) + chr(((m >> 5) & 31) + 64) + chr((m & 31) + 64)


def _bcd_id(b):
    """Meter id bytes (least significant first) -> 8 digits as shown on the meter."""
    return bytes(reversed(b)).hex().upper()


def _err(message, offset, field):
    return DecodeError(message, offset=offset, field=field)


def _format_a_length(lfield):
    """Total length of a format A telegram with CRCs, for L field ``lfield`` >= 9."""
    rest = lfield - 9
    return lfield + 1 + 2 * (1 + (rest + 15) // 16)


def _crc_error(block, fmt, start, end, computed, found):
    return _err(
        f"CRC error in block {block} (frame format {fmt}, bytes {start}-{end - 1}, CRC at "
        f"offset {end}): computed 0x{computed:04x}, telegram has 0x{found:04x}",
        end, "crc")


def _check_a(data):
    """Verify and remove the CRCs of a format A telegram of the right length."""
    out = bytearray()
    n = len(data)
    start, block, size = 0, 1, 10
    while start < n:
        end = start + size
        c = crc16(data, start, end)
        found = (data[end] << 8) | data[end + 1]
        if c != found:
            raise _crc_error(block, "A", start, end, c, found)
        out += data[start:end]
        start = end + 2
        block += 1
        size = min(16, n - start - 2)
    return bytes(out)


def _b_crcs(data):
    """Format B CRC blocks: [(block, start, end (= CRC offset), computed, found)]."""
    n = len(data)
    end2 = min(n, 128) - 2
    out = [(2, 0, end2, crc16(data, 0, end2), (data[end2] << 8) | data[end2 + 1])]
    if n > 128:
        out.append((3, 128, n - 2, crc16(data, 128, n - 2), (data[n - 2] << 8) | data[n - 1]))
    return out


def _b_valid(data):
    return all(c == f for _, _, _, c, f in _b_crcs(data))


def _b_check(data):
    for block, start, end, computed, found in _b_crcs(data):
        if computed != found:
            raise _crc_error(block, "B", start, end, computed, found)


def _b_strip(data):
    n = len(data)
    if n > 128:
        return data[:126] + data[128:n - 2]
    return data[:n - 2]


def strip_crc(data, frame_format="auto"):
    """``(telegram without CRCs, "A" | "B" | "none")``.

    ``frame_format``: "A" or "B" (CRCs present, checked), "none" (no CRCs) or "auto":
    format A when the length is that of format A with CRCs; else, when the length is
    L + 1, format B if its CRCs check out, else no CRCs.  (A telegram without CRCs whose
    last two bytes happen to be the format B CRC, 1 in 65536, is read as format B:
    say "none" when the receiver strips CRCs.)  L is left as it was.
    """
    data = bytes(data)
    n = len(data)
    if frame_format not in FRAME_FORMATS:
        raise ValueError(f"frame_format must be one of {FRAME_FORMATS}, not {frame_format!r}")
    if n == 0:
        raise _err("empty telegram", 0, "L")
    lfield = data[0]
    if frame_format == "none":
        if n != lfield + 1:
            raise _err(f"telegram is {n} bytes but its L field (0x{lfield:02x}) says "
                       f"{lfield + 1}", 0, "L")
        return data, "none"
    if frame_format == "A":
        if lfield < 9 or n != _format_a_length(lfield):
            need = _format_a_length(lfield) if lfield >= 9 else 12
            raise _err(f"telegram is {n} bytes but frame format A with L field "
                       f"0x{lfield:02x} needs {need}", 0, "L")
        return _check_a(data), "A"
    if frame_format == "B":
        if n != lfield + 1:
            raise _err(f"telegram is {n} bytes but its L field (0x{lfield:02x}) says "
                       f"{lfield + 1}", 0, "L")
        if lfield < 12 or lfield + 1 in (129, 130):
            raise _err(f"L field 0x{lfield:02x} does not fit frame format B", 0, "L")
        _b_check(data)
        return _b_strip(data), "B"
    # auto
    if lfield >= 9 and n == _format_a_length(lfield):
        return _check_a(data), "A"
    if n == lfield + 1:
        if lfield >= 12 and lfield + 1 not in (129, 130) and _b_valid(data):
            return _b_strip(data), "B"
        return data, "none"
    if lfield >= 9:
        raise _err(f"telegram is {n} bytes: its L field (0x{lfield:02x}) needs {lfield + 1} "
                   f"without CRCs or {_format_a_length(lfield)} with frame format A CRCs",
                   0, "L")
    raise _err(f"telegram is {n} bytes but its L field (0x{lfield:02x}) says {lfield + 1}",
               0, "L")


# --------------------------------------------------------------------------- VIF tables

# Value kinds: how the data bytes of a record become its value.
NUM = 0        # a number scaled by num * 10**exp / den
DATE = 1       # type G (2 bytes), or F / I when the data is 4 / 6 bytes
DATETIME = 2   # type F (4 bytes) or I (6 bytes), or G when 2 bytes
UINT = 3       # identifiers, counters and bit fields: unsigned, unscaled
RAW = 4        # manufacturer specific: the data bytes as hex

_TIME_UNITS = ("s", "min", "h", "d")


def _entry(quantity, unit, kind=NUM, exp=0, num=1, den=1):
    return (quantity, unit, kind, exp, num, den)


def _primary_table():
    """Primary VIF (bits 0-6) -> entry, EN 13757-3 table 10."""
    t = [None] * 128
    for n in range(8):
        t[0x00 + n] = _entry("energy", "kWh", exp=n - 6)          # 10^(n-3) Wh
        t[0x08 + n] = _entry("energy", "GJ", exp=n - 9)           # 10^n J
        t[0x10 + n] = _entry("volume", "m3", exp=n - 6)
        t[0x18 + n] = _entry("mass", "kg", exp=n - 3)
        t[0x28 + n] = _entry("power", "W", exp=n - 3)
        t[0x30 + n] = _entry("power", "W", exp=n, den=3600)       # 10^n J/h
        t[0x38 + n] = _entry("volume_flow", "m3/h", exp=n - 6)
        t[0x40 + n] = _entry("volume_flow", "m3/h", exp=n - 7, num=60)    # m3/min
        t[0x48 + n] = _entry("volume_flow", "m3/h", exp=n - 9, num=3600)  # m3/s
        t[0x50 + n] = _entry("mass_flow", "kg/h", exp=n - 3)
    for n in range(4):
        t[0x20 + n] = _entry("on_time", _TIME_UNITS[n])
        t[0x24 + n] = _entry("operating_time", _TIME_UNITS[n])
        t[0x58 + n] = _entry("flow_temperature", "Cel", exp=n - 3)
        t[0x5C + n] = _entry("return_temperature", "Cel", exp=n - 3)
        t[0x60 + n] = _entry("temperature_difference", "K", exp=n - 3)
        t[0x64 + n] = _entry("external_temperature", "Cel", exp=n - 3)
        t[0x68 + n] = _entry("pressure", "bar", exp=n - 3)
        t[0x70 + n] = _entry("averaging_duration", _TIME_UNITS[n])
        t[0x74 + n] = _entry("actuality_duration", _TIME_UNITS[n])
    t[0x6C] = _entry("date", "", DATE)
    t[0x6D] = _entry("datetime", "", DATETIME)
    t[0x6E] = _entry("hca", "")
    t[0x78] = _entry("fabrication_number", "", UINT)
    t[0x79] = _entry("enhanced_id", "", UINT)
    t[0x7A] = _entry("bus_address", "", UINT)
    t[0x7E] = _entry("any", "")
    t[0x7F] = _entry("manufacturer_specific", "", RAW)
    for i in range(128):
        if t[i] is None:   # 0x6F, and 0x7B / 0x7D without their extension bit
            t[i] = _entry(f"vif_{i:02x}", "")
    return tuple(t)


def _fd_table():
    """VIF 0xFD extension code (bits 0-6) -> entry, EN 13757-3 table 14."""
    t = {}
    for n in range(4):
        t[0x00 + n] = _entry("credit", "", exp=n - 3)
        t[0x04 + n] = _entry("debit", "", exp=n - 3)
        t[0x24 + n] = _entry("storage_interval", _TIME_UNITS[n])
        t[0x2C + n] = _entry("duration_since_readout", _TIME_UNITS[n])
        t[0x34 + n] = _entry("tariff_period", _TIME_UNITS[n])
        t[0x3C + n] = _entry("transmission_period", _TIME_UNITS[n])
    for n in range(16):
        t[0x40 + n] = _entry("voltage", "V", exp=n - 9)
        t[0x50 + n] = _entry("current", "A", exp=n - 12)
    names = {
        0x08: "access_number", 0x09: "medium", 0x0A: "manufacturer",
        0x0B: "parameter_set_id", 0x0C: "model_version", 0x0D: "hardware_version",
        0x0E: "firmware_version", 0x0F: "software_version", 0x10: "customer_location",
        0x11: "customer", 0x12: "access_code_user", 0x13: "access_code_operator",
        0x14: "access_code_system_operator", 0x15: "access_code_developer",
        0x16: "password", 0x17: "error_flags", 0x18: "error_mask", 0x1A: "digital_output",
        0x1B: "digital_input", 0x1E: "retry", 0x1F: "remote_control",
        0x20: "first_storage_number", 0x21: "last_storage_number",
        0x22: "storage_block_size", 0x60: "reset_counter", 0x61: "cumulation_counter",
        0x62: "control_signal", 0x63: "day_of_week", 0x64: "week_number",
        0x66: "parameter_activation_state", 0x75: "stop_count",
    }
    for code, name in names.items():
        t[code] = _entry(name, "", UINT)
    t[0x1C] = _entry("baud_rate", "bit/s", UINT)
    t[0x1D] = _entry("response_delay", "", UINT)
    t[0x28] = _entry("storage_interval_months", "")
    t[0x29] = _entry("storage_interval_years", "")
    t[0x30] = _entry("tariff_start", "", DATETIME)
    t[0x3A] = _entry("dimensionless", "")
    t[0x6C] = _entry("battery_operating_time", "h")
    t[0x6D] = _entry("battery_operating_time", "d")
    t[0x6E] = _entry("battery_operating_months", "")
    t[0x6F] = _entry("battery_operating_years", "")
    t[0x70] = _entry("battery_change", "", DATETIME)
    t[0x71] = _entry("rf_level", "dBm")
    t[0x74] = _entry("battery_remaining", "d")
    return t


def _fb_table():
    """VIF 0xFB extension code (bits 0-6) -> entry, EN 13757-3 table 12."""
    t = {}
    for n in range(2):
        t[0x00 + n] = _entry("energy", "kWh", exp=n + 2)        # 10^(n-1) MWh
        t[0x08 + n] = _entry("energy", "GJ", exp=n - 1)
        t[0x10 + n] = _entry("volume", "m3", exp=n + 2)
        t[0x18 + n] = _entry("mass", "kg", exp=n + 5)           # 10^(n+2) t
        t[0x1A + n] = _entry("humidity", "%RH", exp=n - 1)
        t[0x28 + n] = _entry("power", "W", exp=n + 5)           # 10^(n-1) MW
        t[0x30 + n] = _entry("power", "W", exp=n + 8, den=3600)  # 10^(n-1) GJ/h
    for n in range(4):
        t[0x2C + n] = _entry("frequency", "Hz", exp=n - 3)
        t[0x74 + n] = _entry("temperature_limit", "Cel", exp=n - 3)
    return t


PRIMARY = _primary_table()
FD = _fd_table()
FB = _fb_table()


def extension_entry(table, code):
    """Entry for extension ``code`` (bits 0-6) of the 0xFD or 0xFB table."""
    e = (FD if table == 0xFD else FB).get(code)
    if e is None:
        e = _entry(f"vif_{table:02x}_{code:02x}", "")
    return e


# --------------------------------------------------------------------------- values

#: Data bytes by DIF bits 0-3 (-1: variable length, -2: special function).
DATA_SIZES = (0, 1, 2, 3, 4, 4, 6, 8, 0, 1, 2, 3, 4, -1, 6, -2)


def bcd_value(b):
    """Little-endian BCD -> int; top nibble 0xF means negative; None on a hex digit."""
    v = 0
    last = len(b) - 1
    neg = False
    for k in range(last, -1, -1):
        hi = b[k] >> 4
        lo = b[k] & 15
        if k == last and hi == 15:
            neg = True
            hi = 0
        if hi > 9 or lo > 9:
            return None
        v = v * 100 + hi * 10 + lo
    return -v if neg else v


def scale(raw, exp, num, den):
    """``raw * num * 10**exp / den``: exact integer arithmetic, one rounding at the end;
    an int when the factor is whole (60 x 10**-1 is 6)."""
    if exp >= 0:
        n = num * 10 ** exp
        d = den
    else:
        n = num
        d = den * 10 ** -exp
    g = math.gcd(n, d)
    if g != 1:
        n //= g
        d //= g
    if d == 1 and not isinstance(raw, float):
        return raw * n
    return raw * n / d


def _date_g(b0, b1):
    day = b0 & 31
    month = b1 & 15
    year = 2000 + (((b0 & 0xE0) >> 5) | ((b1 & 0xF0) >> 1))
    if day == 0 or month == 0 or month > 12:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def date_value(b):
    """Type G (2 bytes), F (4) or I (6) -> ISO 8601 text, None when invalid."""
    n = len(b)
    if n == 2:
        return _date_g(b[0], b[1])
    if n == 4:
        if b[0] & 0x80:
            return None
        minute, hour = b[0] & 63, b[1] & 31
        second = 0
        d = _date_g(b[2], b[3])
    elif n == 6:
        if b[1] & 0x80:
            return None
        second, minute, hour = b[0] & 63, b[1] & 63, b[2] & 31
        d = _date_g(b[3], b[4])
    else:
        return None
    if d is None or hour > 23 or minute > 59 or second > 59:
        return None
    return f"{d}T{hour:02d}:{minute:02d}:{second:02d}"


def _signed(b):
    return int.from_bytes(b, "little", signed=True)


def _unsigned(b):
    return int.from_bytes(b, "little")


def _count(n):
    return "1 byte" if n == 1 else f"{n} bytes"


def _truncated(start, what, at, need, left):
    return _err(f"truncated record at offset {start}: {what} at offset {at} needs "
                f"{_count(need)}, {left} left", at, what)


def parse_records(data, base=0):
    """Application-layer records of ``data`` -> list of record tuples.

    ``base`` is added to every offset in error messages (the records' position in
    the telegram).
    """
    data = bytes(data)
    n = len(data)
    out = []
    i = 0
    while i < n:
        start = i
        dif = data[i]
        if dif == 0x2F:
            i += 1
            continue
        if (dif & 0x0F) == 0x0F:
            if dif == 0x0F or dif == 0x1F:
                out.append(("manufacturer_data", data[i + 1:].hex(), "", 0, 0, 0, None,
                            f"{dif:02x}"))
                break
            raise _err(f"reserved DIF 0x{dif:02x} at offset {base + i}", base + i, "dif")
        i += 1
        storage = (dif >> 6) & 1
        tariff = 0
        subunit = 0
        k = 0
        ext = dif & 0x80
        while ext:
            if i >= n:
                raise _truncated(base + start, "dife", base + i, 1, 0)
            if k == 10:
                raise _err(f"record at offset {base + start}: more than 10 DIFEs",
                           base + i, "dife")
            dife = data[i]
            i += 1
            storage |= (dife & 15) << (1 + 4 * k)
            tariff |= ((dife >> 4) & 3) << (2 * k)
            subunit |= ((dife >> 6) & 1) << k
            k += 1
            ext = dife & 0x80
        if i >= n:
            raise _truncated(base + start, "vif", base + i, 1, 0)
        vif = data[i]
        i += 1
        extra = 0
        mfr = False
        quantity = None
        if vif == 0xFD or vif == 0xFB:
            if i >= n:
                raise _truncated(base + start, "vife", base + i, 1, 0)
            code = data[i]
            i += 1
            entry = extension_entry(vif, code & 0x7F)
            ext = code & 0x80
        else:
            entry = PRIMARY[vif & 0x7F]
            ext = vif & 0x80
            mfr = (vif & 0x7F) == 0x7F
            if (vif & 0x7F) == 0x7C:
                # Plain-text unit: length and text (last character first) follow the
                # VIF itself, before any VIFE.
                if i >= n:
                    raise _truncated(base + start, "plain_text_unit", base + i, 1, 0)
                ln = data[i]
                if i + 1 + ln > n:
                    raise _truncated(base + start, "plain_text_unit", base + i + 1, ln,
                                     n - i - 1)
                quantity = "text:" + data[i + 1:i + 1 + ln][::-1].decode("latin-1")
                i += 1 + ln
        k = 0
        while ext:
            if i >= n:
                raise _truncated(base + start, "vife", base + i, 1, 0)
            if k == 10:
                raise _err(f"record at offset {base + start}: more than 10 VIFEs",
                           base + i, "vife")
            e = data[i]
            i += 1
            k += 1
            ext = e & 0x80
            if mfr:
                continue
            e &= 0x7F
            if 0x70 <= e <= 0x77:      # multiplicative correction 10^(nnn-6)
                extra += e - 0x76
            elif e == 0x7D:            # multiplicative correction 10^3
                extra += 3
            elif e == 0x7F:            # manufacturer-specific VIFEs follow
                mfr = True
        dif_vif = data[start:i].hex()
        if quantity is None:
            quantity, unit, kind, exp, num, den = entry
        else:
            unit, kind, exp, num, den = entry[1:]
        df = dif & 0x0F
        size = DATA_SIZES[df]
        raw = None
        if size == -1:
            if i >= n:
                raise _truncated(base + start, "lvar", base + i, 1, 0)
            lvar = data[i]
            i += 1
            if lvar < 0xC0:
                size = lvar
            elif lvar <= 0xC9:
                size = lvar - 0xC0
            elif 0xD0 <= lvar <= 0xD9:
                size = lvar - 0xD0
            elif 0xE0 <= lvar <= 0xEF:
                size = lvar - 0xE0
            elif 0xF0 <= lvar <= 0xF4:
                size = 4 * (lvar - 0xEC)
            elif lvar == 0xF5:
                size = 48
            elif lvar == 0xF6:
                size = 64
            else:
                raise _err(f"reserved LVAR 0x{lvar:02x} at offset {base + i - 1}",
                           base + i - 1, "lvar")
            if i + size > n:
                raise _truncated(base + start, "data", base + i, size, n - i)
            b = data[i:i + size]
            i += size
            if kind == RAW:
                raw = b.hex()
            elif lvar < 0xC0:
                raw = b[::-1].decode("latin-1")
            elif lvar <= 0xC9:
                raw = bcd_value(b)
            elif lvar <= 0xD9:
                raw = bcd_value(b)
                if raw is not None:
                    raw = -raw
            elif size <= 8:
                raw = _unsigned(b) if kind != NUM else _signed(b)
            else:
                raw = b.hex()
        else:
            if i + size > n:
                raise _truncated(base + start, "data", base + i, size, n - i)
            b = data[i:i + size]
            i += size
            if size == 0:
                raw = None
            elif kind == RAW:
                raw = b.hex()
            elif kind == DATE or kind == DATETIME:
                raw = date_value(b) if df in (2, 4, 6) else None
            elif df == 5:
                raw = struct.unpack("<f", b)[0]
            elif df >= 9:
                raw = bcd_value(b)
            elif kind == NUM:
                raw = _signed(b)
            else:
                raw = _unsigned(b)
        if kind == NUM and raw is not None and not isinstance(raw, str):
            value = scale(raw, exp + extra, num, den)
        else:
            value = raw
        out.append((quantity, value, unit, storage, tariff, subunit,
                    FUNCTIONS[(dif >> 4) & 3], dif_vif))
    return out


# --------------------------------------------------------------------------- crypto

_CONTEXTS = {}


def _contexts(key):
    """(ECB encryptor, ECB decryptor) for ``key``, kept so a key schedule is made once."""
    ctx = _CONTEXTS.get(key)
    if ctx is None:
        if len(key) != 16:
            raise ValueError("an AES-128 key is 16 bytes")
        if len(_CONTEXTS) >= 4096:
            _CONTEXTS.clear()
        c = Cipher(algorithms.AES(key), modes.ECB())
        ctx = (c.encryptor(), c.decryptor())
        _CONTEXTS[key] = ctx
    return ctx


def _xor(a, b):
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(
        len(a), "little")


def aes_cbc_decrypt(key, iv, data):
    """AES-128-CBC decryption of whole blocks (CBC = ECB, then XOR with the previous)."""
    if not data:
        return b""
    plain = _contexts(key)[1].update(data)
    return _xor(plain, iv + data[:-16])


def aes_ctr(key, counter, data):
    """AES-128-CTR (encryption = decryption); the counter block's last byte counts."""
    blocks = bytearray()
    c = int.from_bytes(counter, "big")
    for k in range((len(data) + 15) // 16):
        blocks += ((c + k) & ((1 << 128) - 1)).to_bytes(16, "big")
    stream = _contexts(key)[0].update(bytes(blocks))
    return _xor(data, stream[:len(data)])


def aes_cmac(key, message):
    c = CMAC(algorithms.AES(key))
    c.update(message)
    return c.finalize()


def mode7_keys(key, counter, ident):
    """(Kenc, Kmac) of OMS security mode 7 for message counter and meter id bytes."""
    tail = counter + ident + b"\x07" * 7
    return aes_cmac(key, b"\x00" + tail), aes_cmac(key, b"\x01" + tail)


# --------------------------------------------------------------------------- telegram

#: AFL authentication type (MCL bits 0-3) -> MAC length (AES-CMAC-128 truncated).
MAC_LENGTHS = {3: 2, 4: 4, 5: 8, 6: 12, 7: 16}


def _short(layer, pos, count, left):
    return _err(f"truncated {layer} at offset {pos}: needs {_count(count)}, {left} left",
                pos, layer)


def _need(frame, pos, count, layer):
    left = len(frame) - pos
    if left < count:
        raise _short(layer, pos, count, left)


def _get_key(key_for, manufacturer, ident, what):
    key = key_for(manufacturer, ident) if key_for is not None else None
    if key is None:
        raise _err(f"meter {manufacturer} {ident} is encrypted ({what}) and no key was given",
                   None, "key")
    if len(key) != 16:
        raise ValueError(f"the key for meter {manufacturer} {ident} must be 16 bytes")
    return key


def _wrong_key(manufacturer, ident, why, offset):
    return _err(f"meter {manufacturer} {ident}: decryption failed ({why}): wrong key?",
                offset, "key")


def _header(manufacturer, ident, version, dtype, ci, acc, status, mode, encryption,
            c_field, fmt):
    return {
        "manufacturer": manufacturer, "id": ident, "version": version,
        "device_type": DEVICE_TYPES.get(dtype, "reserved"), "device_type_code": dtype,
        "ci": ci, "access_number": acc, "status": status, "security_mode": mode,
        "encryption": encryption, "c_field": c_field, "frame_format": fmt,
    }


def decode(data, key_for=None, frame_format="auto"):
    """Decode one telegram -> ``(header dict, list of record tuples)``.

    ``key_for(manufacturer, id)`` returns the meter's 16-byte AES key or None; it is
    called only when the telegram is encrypted.
    """
    frame, fmt = strip_crc(data, frame_format)
    n = len(frame)
    if n < 11:
        raise _err(f"truncated telegram: {n} bytes, the link layer and CI field need 11",
                   n, "ci")
    c_field = frame[1]
    m_bytes = frame[2:4]
    manufacturer = manufacturer_code(frame[2] | (frame[3] << 8))
    a_bytes = frame[4:10]
    ident = _bcd_id(frame[4:8])
    version = frame[8]
    dtype = frame[9]
    pos = 10
    ci = frame[pos]
    acc = None
    encryption = "none"

    # Extended link layer.
    if ci == 0x8C or ci == 0x8E:
        size = 3 if ci == 0x8C else 11
        _need(frame, pos, size, "ell")
        acc = frame[pos + 2]
        pos += size
    elif ci == 0x8D:
        _need(frame, pos, 9, "ell")
        cc = frame[pos + 1]
        acc = frame[pos + 2]
        sn = frame[pos + 3:pos + 7]
        enc = sn[3] >> 5
        pos += 7
        payload = frame[pos:]
        if enc == 1:
            key = _get_key(key_for, manufacturer, ident, "ELL AES-CTR")
            counter = m_bytes + a_bytes + bytes([cc & 0xED]) + sn + b"\x00\x00\x00"
            payload = aes_ctr(key, counter, payload)
            encryption = "ell"
        elif enc != 0:
            raise _err(f"meter {manufacturer} {ident}: ELL encryption {enc} at offset "
                       f"{pos - 4} is not supported", pos - 4, "ell")
        if crc16(payload, 2) != (payload[0] | (payload[1] << 8)):
            if enc == 1:
                raise _wrong_key(manufacturer, ident, "ELL payload CRC mismatch", pos)
            raise _err(f"ELL payload CRC mismatch at offset {pos}", pos, "ell")
        frame = frame[:pos] + payload
        pos += 2
    elif ci == 0x8F:
        raise _err(f"ELL IV (CI 0x8f) at offset {pos} is not supported", pos, "ci")
    if pos >= n:
        raise _err(f"truncated ell at offset {pos}: no CI field after it", pos, "ci")

    # Authentication and fragmentation layer.
    afl = None
    ci = frame[pos]
    if ci == 0x90:
        _need(frame, pos, 2, "afl")
        afll = frame[pos + 1]
        _need(frame, pos + 2, afll, "afl")
        body = frame[pos + 2:pos + 2 + afll]
        if afll < 2:
            raise _err(f"AFL at offset {pos} is too short ({afll} bytes)", pos, "afl")
        fcl = body[0] | (body[1] << 8)
        if fcl & 0x4000:
            raise _err(f"fragmented message (AFL at offset {pos}) is not supported",
                       pos, "afl")
        j = 2
        mcl = ki = mcr = mac = ml = b""
        if fcl & 0x2000:
            mcl = body[j:j + 1]
            j += 1
        if fcl & 0x0200:
            ki = body[j:j + 2]
            j += 2
        if fcl & 0x0800:
            mcr = body[j:j + 4]
            j += 4
        if fcl & 0x0400:
            at = mcl[0] & 15 if mcl else 0
            maclen = MAC_LENGTHS.get(at)
            if maclen is None:
                raise _err(f"AFL at offset {pos}: authentication type {at} is not supported",
                           pos, "afl")
            mac = body[j:j + maclen]
            j += maclen
        if fcl & 0x1000:
            ml = body[j:j + 2]
            j += 2
        if j > afll:
            raise _err(f"truncated afl at offset {pos}: its fields need {j} bytes, AFLL "
                       f"says {afll}", pos, "afl")
        afl = (mcl, ki, mcr, mac, ml)
        pos += 2 + afll
        if pos >= n:
            raise _err(f"truncated afl at offset {pos}: no CI field after it", pos, "ci")
        ci = frame[pos]

    # Transport layer.
    tpl = pos
    status = None
    mode = 0
    if ci == 0x78:
        hdr_end = pos + 1
        cw = 0
    elif ci == 0x7A:
        _need(frame, pos, 5, "tpl")
        acc = frame[pos + 1]
        status = frame[pos + 2]
        cw = frame[pos + 3] | (frame[pos + 4] << 8)
        hdr_end = pos + 5
    elif ci == 0x72:
        _need(frame, pos, 13, "tpl")
        a_bytes = frame[pos + 1:pos + 5] + frame[pos + 7:pos + 9]
        m_bytes = frame[pos + 5:pos + 7]
        ident = _bcd_id(frame[pos + 1:pos + 5])
        manufacturer = manufacturer_code(m_bytes[0] | (m_bytes[1] << 8))
        version = frame[pos + 7]
        dtype = frame[pos + 8]
        acc = frame[pos + 9]
        status = frame[pos + 10]
        cw = frame[pos + 11] | (frame[pos + 12] << 8)
        hdr_end = pos + 13
    elif 0xA0 <= ci <= 0xB7:
        header = _header(manufacturer, ident, version, dtype, ci, acc, status, 0,
                         encryption, c_field, fmt)
        return header, [("manufacturer_data", frame[pos + 1:].hex(), "", 0, 0, 0, None, "")]
    elif ci == 0x79:
        raise _err(f"compact frame (CI 0x79) at offset {pos} is not supported: it needs "
                   "the meter's full frame format", pos, "ci")
    else:
        raise _err(f"unsupported CI field 0x{ci:02x} at offset {pos}", pos, "ci")

    if ci != 0x78:
        mode = (cw >> 8) & 0x1F
    if mode == 5 or mode == 7:
        if mode == 7:
            _need(frame, hdr_end, 1, "tpl")
            cfe = frame[hdr_end]
            hdr_end += 1
        blocks = (cw >> 4) & 15
        enc_len = 16 * blocks
        left = n - hdr_end
        if enc_len > left:
            raise _err(f"meter {manufacturer} {ident}: the configuration word says {blocks} "
                       f"encrypted blocks ({enc_len} bytes) but {left} bytes follow the "
                       f"header at offset {hdr_end}", hdr_end, "tpl")
        cipher = frame[hdr_end:hdr_end + enc_len]
        if mode == 5 and not enc_len:
            plain = b""        # mode 5 with no encrypted block: nothing to decrypt
        elif mode == 5:
            key = _get_key(key_for, manufacturer, ident, "mode 5")
            plain = aes_cbc_decrypt(key, m_bytes + a_bytes + bytes([acc]) * 8, cipher)
            encryption = "mode5"
        else:
            if afl is None or not afl[2] or not afl[3]:
                raise _err(f"meter {manufacturer} {ident} uses security mode 7 but has no "
                           "AFL message counter and MAC", tpl, "afl")
            kdf = (cfe >> 4) & 3
            if kdf != 1:
                raise _err(f"meter {manufacturer} {ident}: key derivation function {kdf} "
                           f"(offset {hdr_end - 1}) is not supported", hdr_end - 1, "tpl")
            key = _get_key(key_for, manufacturer, ident, "mode 7")
            kenc, kmac = mode7_keys(key, afl[2], a_bytes[:4])
            mcl, ki, mcr, mac, ml = afl
            if aes_cmac(kmac, mcl + ki + mcr + ml + frame[tpl:])[:len(mac)] != mac:
                raise _err(f"meter {manufacturer} {ident}: authentication failed (MAC "
                           "mismatch): wrong key?", tpl, "key")
            plain = aes_cbc_decrypt(kenc, b"\x00" * 16, cipher)
            encryption = "mode7"
        if enc_len and plain[:2] != b"\x2f\x2f":
            raise _wrong_key(manufacturer, ident, "no 2F2F after decryption", hdr_end)
        frame = frame[:hdr_end] + plain + frame[hdr_end + enc_len:]
    elif mode != 0:
        raise _err(f"meter {manufacturer} {ident} uses security mode {mode}, which is not "
                   "supported (only 0, 5 and 7)", tpl + (3 if ci == 0x7A else 11), "tpl")

    header = _header(manufacturer, ident, version, dtype, ci, acc, status, mode,
                     encryption, c_field, fmt)
    return header, parse_records(frame[hdr_end:], hdr_end)
