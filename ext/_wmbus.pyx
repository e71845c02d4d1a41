# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, infer_types=True
"""Wireless M-Bus / OMS telegram decoder, compiled (hromada._wmbus).

The twin of :mod:`hromada._wmbus_py`, which describes the format.  Here the CRC is a
table-driven C loop and the record walk reads the telegram through a char pointer,
with a bounds check before every read, computing values in C (BCD, integers, the
decimal scaling of VIFs, dates, hex) and creating only the result objects; CBC
chaining is a C loop over one ECB call on the cached key schedule.  The VIF tables,
the error messages and the AES primitives (the ``cryptography`` package) come from
the pure twin, so both produce the very same values and strings.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.float cimport PyFloat_FromDouble
from cpython.long cimport PyLong_FromLongLong, PyLong_FromUnsignedLongLong
from cpython.unicode cimport PyUnicode_DecodeASCII, PyUnicode_DecodeLatin1
from libc.stdint cimport int64_t, uint16_t, uint64_t
from libc.stdio cimport snprintf
from libc.string cimport memcpy

from hromada._wmbus_py import (
    DEVICE_TYPES,
    FRAME_FORMATS,
    FUNCTIONS,
    MAC_LENGTHS,
    PRIMARY,
    _contexts,
    _crc_error,
    _err,
    _format_a_length,
    _get_key,
    _header,
    _short,
    _truncated,
    _wrong_key,
    aes_cmac,
    aes_ctr,
    extension_entry,
    manufacturer_code,
    mode7_keys,
    scale,
)

__all__ = [
    "DEVICE_TYPES", "FUNCTIONS", "crc16", "decode", "manufacturer_code", "parse_records",
    "strip_crc",
]

# --------------------------------------------------------------------------- CRC

cdef uint16_t _crc_tab[256]


cdef void _make_crc_table():
    cdef int i, k
    cdef unsigned int c
    for i in range(256):
        c = i << 8
        for k in range(8):
            c = ((c << 1) ^ 0x3D65) if (c & 0x8000) else (c << 1)
        _crc_tab[i] = c & 0xFFFF


_make_crc_table()


cdef inline unsigned int _crc(const unsigned char* p, Py_ssize_t start, Py_ssize_t end) nogil:
    cdef unsigned int c = 0
    cdef Py_ssize_t i
    for i in range(start, end):
        c = ((c << 8) & 0xFFFF) ^ _crc_tab[(c >> 8) ^ p[i]]
    return c ^ 0xFFFF


cdef inline const unsigned char* _ptr(bytes b):
    return <const unsigned char*>PyBytes_AS_STRING(b)


def crc16(data, start=0, end=None):
    """The EN 13757-4 CRC of ``data[start:end]`` (poly 0x3D65, init 0, inverted)."""
    cdef bytes b = bytes(data[start:end])
    return _crc(_ptr(b), 0, PyBytes_GET_SIZE(b))


# --------------------------------------------------------------------------- frames

cdef object _check_a(bytes data):
    cdef const unsigned char* p = _ptr(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t start = 0, end, size = 10, w = 0
    cdef int block = 1
    cdef unsigned int c, found
    cdef bytearray out = bytearray(n)
    cdef unsigned char* q = out
    while start < n:
        end = start + size
        c = _crc(p, start, end)
        found = (p[end] << 8) | p[end + 1]
        if c != found:
            raise _crc_error(block, "A", start, end, c, found)
        memcpy(q + w, p + start, size)
        w += size
        start = end + 2
        block += 1
        size = n - start - 2
        if size > 16:
            size = 16
    return bytes(out[:w])


cdef int _b_bad(bytes data, bint raise_it) except -1:
    """0 if the format B CRCs are right; else raise (``raise_it``) or return the block."""
    cdef const unsigned char* p = _ptr(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t end2 = (n if n < 128 else 128) - 2
    cdef unsigned int c = _crc(p, 0, end2)
    cdef unsigned int found = (p[end2] << 8) | p[end2 + 1]
    if c != found:
        if raise_it:
            raise _crc_error(2, "B", 0, end2, c, found)
        return 2
    if n > 128:
        c = _crc(p, 128, n - 2)
        found = (p[n - 2] << 8) | p[n - 1]
        if c != found:
            if raise_it:
                raise _crc_error(3, "B", 128, n - 2, c, found)
            return 3
    return 0


cdef bytes _b_strip(bytes data):
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    if n > 128:
        return data[:126] + data[128:n - 2]
    return data[:n - 2]


def strip_crc(data, frame_format="auto"):
    """``(telegram without CRCs, "A" | "B" | "none")``; see the pure twin."""
    cdef bytes b = bytes(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(b)
    cdef int lfield
    if frame_format not in FRAME_FORMATS:
        raise ValueError(f"frame_format must be one of {FRAME_FORMATS}, not {frame_format!r}")
    if n == 0:
        raise _err("empty telegram", 0, "L")
    lfield = _ptr(b)[0]
    if frame_format == "none":
        if n != lfield + 1:
            raise _err(f"telegram is {n} bytes but its L field (0x{lfield:02x}) says "
                       f"{lfield + 1}", 0, "L")
        return b, "none"
    if frame_format == "A":
        if lfield < 9 or n != _format_a_length(lfield):
            need = _format_a_length(lfield) if lfield >= 9 else 12
            raise _err(f"telegram is {n} bytes but frame format A with L field "
                       f"0x{lfield:02x} needs {need}", 0, "L")
        return _check_a(b), "A"
    if frame_format == "B":
        if n != lfield + 1:
            raise _err(f"telegram is {n} bytes but its L field (0x{lfield:02x}) says "
                       f"{lfield + 1}", 0, "L")
        if lfield < 12 or lfield + 1 == 129 or lfield + 1 == 130:
            raise _err(f"L field 0x{lfield:02x} does not fit frame format B", 0, "L")
        _b_bad(b, True)
        return _b_strip(b), "B"
    if lfield >= 9 and n == _format_a_length(lfield):
        return _check_a(b), "A"
    if n == lfield + 1:
        if (lfield >= 12 and lfield + 1 != 129 and lfield + 1 != 130
                and _b_bad(b, False) == 0):
            return _b_strip(b), "B"
        return b, "none"
    if lfield >= 9:
        raise _err(f"telegram is {n} bytes: its L field (0x{lfield:02x}) needs {lfield + 1} "
                   f"without CRCs or {_format_a_length(lfield)} with frame format A CRCs",
                   0, "L")
    raise _err(f"telegram is {n} bytes but its L field (0x{lfield:02x}) says {lfield + 1}",
               0, "L")


# --------------------------------------------------------------------------- VIF tables

cdef enum:
    NUM = 0
    DATE = 1
    DATETIME = 2
    UINT = 3
    RAW = 4

cdef struct VifInfo:
    int kind
    int exp
    int64_t num
    int64_t den

# Three tables of 128 entries: primary VIF, 0xFD extension, 0xFB extension.
cdef VifInfo _vif[3][128]
cdef list _names = [[None] * 128 for _ in range(3)]
cdef list _units = [[None] * 128 for _ in range(3)]
cdef int64_t _p10[19]


cdef void _load_tables() except *:
    cdef int t, i
    _p10[0] = 1
    for i in range(1, 19):
        _p10[i] = _p10[i - 1] * 10
    for t in range(3):
        for i in range(128):
            if t == 0:
                e = PRIMARY[i]
            else:
                e = extension_entry(0xFD if t == 1 else 0xFB, i)
            _names[t][i] = e[0]
            _units[t][i] = e[1]
            _vif[t][i].kind = e[2]
            _vif[t][i].exp = e[3]
            _vif[t][i].num = e[4]
            _vif[t][i].den = e[5]


_load_tables()

cdef tuple _FUNCS = tuple(FUNCTIONS)
cdef int64_t _EXACT = (<int64_t>1) << 53


cdef inline int64_t _gcd(int64_t a, int64_t b):
    cdef int64_t t
    while b:
        t = a % b
        a = b
        b = t
    return a


cdef object _scale_int(int64_t r, int e, int64_t num, int64_t den):
    # The pure twin's scale() on exact integers.  When every operand is exact in a
    # double (|r * n| and d below 2**53), one IEEE division gives the same correctly
    # rounded result as Python's int / int; otherwise do exactly what the twin does.
    cdef int64_t n, d, g
    if -15 <= e <= 15:
        if e >= 0:
            n = num * _p10[e]
            d = den
        else:
            n = num
            d = den * _p10[-e]
        g = _gcd(n, d)
        n //= g
        d //= g
        if 0 < n < _EXACT and 0 < d < _EXACT and -_EXACT < r < _EXACT:
            if r == 0 or (r if r > 0 else -r) < _EXACT // n:
                if d == 1:
                    return PyLong_FromLongLong(r * n)
                return PyFloat_FromDouble(<double>(r * n) / <double>d)
    return scale(r, e, num, den)


cdef object _scale_float(double r, int e, int64_t num, int64_t den):
    cdef int64_t n, d, g
    if -15 <= e <= 15:
        if e >= 0:
            n = num * _p10[e]
            d = den
        else:
            n = num
            d = den * _p10[-e]
        g = _gcd(n, d)
        n //= g
        d //= g
        if 0 < n < _EXACT and 0 < d < _EXACT:
            return PyFloat_FromDouble((r * <double>n) / <double>d)
    return scale(r, e, num, den)


cdef inline int64_t _signed(const unsigned char* p, int size):
    cdef uint64_t u = 0
    cdef int k
    for k in range(size - 1, -1, -1):
        u = (u << 8) | p[k]
    if size < 8 and size > 0 and (u >> (8 * size - 1)) & 1:
        return <int64_t>u - ((<int64_t>1) << (8 * size))
    return <int64_t>u


cdef inline uint64_t _unsigned(const unsigned char* p, int size):
    cdef uint64_t u = 0
    cdef int k
    for k in range(size - 1, -1, -1):
        u = (u << 8) | p[k]
    return u


cdef inline bint _bcd(const unsigned char* p, int size, int64_t* out):
    """BCD (least significant byte first, top nibble 0xF = negative) -> out; False on a
    hex digit."""
    cdef int64_t v = 0
    cdef int k, hi, lo
    cdef bint neg = False
    for k in range(size - 1, -1, -1):
        hi = p[k] >> 4
        lo = p[k] & 15
        if k == size - 1 and hi == 15:
            neg = True
            hi = 0
        if hi > 9 or lo > 9:
            return False
        v = v * 100 + hi * 10 + lo
    out[0] = -v if neg else v
    return True


cdef object _date_g(int b0, int b1, char* buf, bint alone):
    cdef int day = b0 & 31, month = b1 & 15
    cdef int year = 2000 + (((b0 & 0xE0) >> 5) | ((b1 & 0xF0) >> 1))
    if day == 0 or month == 0 or month > 12:
        return None
    snprintf(buf, 16, "%04d-%02d-%02d", year, month, day)
    if alone:
        return PyUnicode_DecodeASCII(buf, 10, NULL)
    return True


cdef object _date(const unsigned char* p, int size):
    cdef char buf[32]
    cdef int second = 0, minute, hour
    if size == 2:
        return _date_g(p[0], p[1], buf, True)
    if size == 4:
        if p[0] & 0x80:
            return None
        minute = p[0] & 63
        hour = p[1] & 31
        ok = _date_g(p[2], p[3], buf, False)
    elif size == 6:
        if p[1] & 0x80:
            return None
        second = p[0] & 63
        minute = p[1] & 63
        hour = p[2] & 31
        ok = _date_g(p[3], p[4], buf, False)
    else:
        return None
    if ok is None or hour > 23 or minute > 59 or second > 59:
        return None
    snprintf(buf + 10, 16, "T%02d:%02d:%02d", hour, minute, second)
    return PyUnicode_DecodeASCII(buf, 19, NULL)


cdef const char* _HEXD = b"0123456789abcdef"


cdef str _hex(const unsigned char* p, Py_ssize_t size):
    cdef char buf[64]
    cdef Py_ssize_t k
    if size > 32:
        return (<bytes>p[:size]).hex()
    for k in range(size):
        buf[2 * k] = _HEXD[p[k] >> 4]
        buf[2 * k + 1] = _HEXD[p[k] & 15]
    return PyUnicode_DecodeASCII(buf, 2 * size, NULL)


cdef object _text(const unsigned char* p, int size):
    # Text is sent last character first.
    cdef char buf[256]
    cdef int k
    for k in range(size):
        buf[k] = <char>p[size - 1 - k]
    return PyUnicode_DecodeLatin1(buf, size, NULL)


cdef bint _LITTLE
cdef unsigned int _probe = 1
_LITTLE = (<unsigned char*>&_probe)[0] == 1


cdef double _float32(const unsigned char* p):
    cdef float f
    cdef unsigned char b[4]
    # Little-endian on the wire; this machine order is checked once at import.
    if _LITTLE:
        memcpy(&f, p, 4)
    else:
        b[0] = p[3]
        b[1] = p[2]
        b[2] = p[1]
        b[3] = p[0]
        memcpy(&f, b, 4)
    return f




cdef int _SIZES[16]


cdef void _load_sizes() except *:
    cdef int i
    for i, v in enumerate((0, 1, 2, 3, 4, 4, 6, 8, 0, 1, 2, 3, 4, -1, 6, -2)):
        _SIZES[i] = v


_load_sizes()


cdef list _records(bytes data, Py_ssize_t begin, Py_ssize_t base):
    # Records from data[begin:]; messages give offsets as base + index into data.
    cdef const unsigned char* p = _ptr(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t i = begin, start
    cdef list out = []
    cdef int dif, dife, vif, code, e, k, t, idx, df, size, lvar, ln
    cdef int extra, kind, exp
    cdef int64_t storage, sval
    cdef int tariff, subunit
    cdef bint ext, mfr
    cdef const VifInfo* info
    cdef object quantity, unit, raw, value
    while i < n:
        start = i
        dif = p[i]
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
            dife = p[i]
            i += 1
            storage |= (<int64_t>(dife & 15)) << (1 + 4 * k)
            tariff |= ((dife >> 4) & 3) << (2 * k)
            subunit |= ((dife >> 6) & 1) << k
            k += 1
            ext = dife & 0x80
        if i >= n:
            raise _truncated(base + start, "vif", base + i, 1, 0)
        vif = p[i]
        i += 1
        extra = 0
        mfr = False
        quantity = None
        if vif == 0xFD or vif == 0xFB:
            if i >= n:
                raise _truncated(base + start, "vife", base + i, 1, 0)
            code = p[i]
            i += 1
            t = 1 if vif == 0xFD else 2
            idx = code & 0x7F
            ext = code & 0x80
        else:
            t = 0
            idx = vif & 0x7F
            ext = vif & 0x80
            mfr = idx == 0x7F
            if idx == 0x7C:
                if i >= n:
                    raise _truncated(base + start, "plain_text_unit", base + i, 1, 0)
                ln = p[i]
                if i + 1 + ln > n:
                    raise _truncated(base + start, "plain_text_unit", base + i + 1, ln,
                                     n - i - 1)
                quantity = "text:" + _text(p + i + 1, ln)
                i += 1 + ln
        k = 0
        while ext:
            if i >= n:
                raise _truncated(base + start, "vife", base + i, 1, 0)
            if k == 10:
                raise _err(f"record at offset {base + start}: more than 10 VIFEs",
                           base + i, "vife")
            e = p[i]
            i += 1
            k += 1
            ext = e & 0x80
            if mfr:
                continue
            e &= 0x7F
            if 0x70 <= e <= 0x77:
                extra += e - 0x76
            elif e == 0x7D:
                extra += 3
            elif e == 0x7F:
                mfr = True
        dif_vif = _hex(p + start, i - start)
        info = &_vif[t][idx]
        kind = info.kind
        exp = info.exp + extra
        if quantity is None:
            quantity = _names[t][idx]
        unit = _units[t][idx]
        df = dif & 0x0F
        size = _SIZES[df]
        raw = None
        value = None
        if size == -1:
            if i >= n:
                raise _truncated(base + start, "lvar", base + i, 1, 0)
            lvar = p[i]
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
            if kind == RAW:
                value = data[i:i + size].hex()
            elif lvar < 0xC0:
                value = _text(p + i, size)
            elif lvar <= 0xD9:
                if _bcd(p + i, size, &sval):
                    if lvar >= 0xD0:
                        sval = -sval
                    value = _scale_int(sval, exp, info.num, info.den) if kind == NUM \
                        else PyLong_FromLongLong(sval)
            elif size <= 8:
                if kind == NUM:
                    value = _scale_int(_signed(p + i, size), exp, info.num, info.den)
                else:
                    value = PyLong_FromUnsignedLongLong(_unsigned(p + i, size))
            else:
                value = data[i:i + size].hex()
            i += size
        else:
            if i + size > n:
                raise _truncated(base + start, "data", base + i, size, n - i)
            if size == 0:
                pass
            elif kind == RAW:
                value = data[i:i + size].hex()
            elif kind == DATE or kind == DATETIME:
                if df == 2 or df == 4 or df == 6:
                    value = _date(p + i, size)
            elif df == 5:
                value = _float32(p + i)
                if kind == NUM:
                    value = _scale_float(value, exp, info.num, info.den)
            elif df >= 9:
                if _bcd(p + i, size, &sval):
                    value = _scale_int(sval, exp, info.num, info.den) if kind == NUM \
                        else PyLong_FromLongLong(sval)
            elif kind == NUM:
                value = _scale_int(_signed(p + i, size), exp, info.num, info.den)
            else:
                value = PyLong_FromUnsignedLongLong(_unsigned(p + i, size))
            i += size
        out.append((quantity, value, unit, storage, tariff, subunit,
                    _FUNCS[(dif >> 4) & 3], dif_vif))
    return out


def parse_records(data, base=0):
    """Application-layer records of ``data`` -> list of record tuples (see the twin)."""
    cdef bytes b = data if type(data) is bytes else bytes(data)
    return _records(b, 0, base)


# --------------------------------------------------------------------------- telegram

cdef inline void _need(Py_ssize_t n, Py_ssize_t pos, Py_ssize_t count, str layer) except *:
    if n - pos < count:
        raise _short(layer, pos, count, n - pos)


cdef str _bcd_id(const unsigned char* p):
    cdef char buf[9]
    cdef int k
    cdef const char* hexd = b"0123456789ABCDEF"
    for k in range(4):
        buf[2 * k] = hexd[p[3 - k] >> 4]
        buf[2 * k + 1] = hexd[p[3 - k] & 15]
    return PyUnicode_DecodeASCII(buf, 8, NULL)


cdef str _manufacturer(const unsigned char* p):
    cdef unsigned int m = p[0] | (p[1] << 8)
    cdef char buf[3]
    buf[0] = <char>(((m >> 10) & 31) + 64)
    buf[1] = <char>(((m >> 5) & 31) + 64)
    buf[2] = <char>((m & 31) + 64)
    return PyUnicode_DecodeASCII(buf, 3, NULL)


cdef bytes _cbc_decrypt(bytes key, bytes iv, bytes cipher):
    # ECB through the cached key schedule, then the CBC chaining XOR in C.
    cdef bytes plain = _contexts(key)[1].update(cipher)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(cipher), k
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    cdef unsigned char* q = <unsigned char*>PyBytes_AS_STRING(out)
    cdef const unsigned char* d = _ptr(plain)
    cdef const unsigned char* c = _ptr(cipher)
    cdef const unsigned char* v = _ptr(iv)
    for k in range(n):
        q[k] = d[k] ^ (v[k] if k < 16 else c[k - 16])
    return out


def decode(data, key_for=None, frame_format="auto"):
    """Decode one telegram -> ``(header dict, list of record tuples)`` (see the twin)."""
    frame, fmt = strip_crc(data, frame_format)
    cdef bytes f = frame
    cdef const unsigned char* p = _ptr(f)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(f)
    cdef Py_ssize_t pos, hdr_end, tpl, j
    # Where the meter's M field and A field (id, then version and type) sit: the link
    # layer, or the long transport header.
    cdef Py_ssize_t mpos = 2, idpos = 4, vtpos = 8
    cdef int ci, cc, enc, afll, fcl, at, maclen, cw = 0, mode = 0, blocks, kdf, cfe = 0
    cdef int version, dtype
    if n < 11:
        raise _err(f"truncated telegram: {n} bytes, the link layer and CI field need 11",
                   n, "ci")
    c_field = p[1]
    manufacturer = _manufacturer(p + 2)
    ident = _bcd_id(p + 4)
    version = p[8]
    dtype = p[9]
    pos = 10
    ci = p[pos]
    acc = None
    status = None
    encryption = "none"

    if ci == 0x8C or ci == 0x8E:
        _need(n, pos, 3 if ci == 0x8C else 11, "ell")
        acc = p[pos + 2]
        pos += 3 if ci == 0x8C else 11
    elif ci == 0x8D:
        _need(n, pos, 9, "ell")
        cc = p[pos + 1]
        acc = p[pos + 2]
        sn = f[pos + 3:pos + 7]
        enc = p[pos + 6] >> 5
        pos += 7
        payload = f[pos:]
        if enc == 1:
            key = _get_key(key_for, manufacturer, ident, "ELL AES-CTR")
            counter = f[2:10] + bytes((cc & 0xED,)) + sn + b"\x00\x00\x00"
            payload = aes_ctr(key, counter, payload)
            encryption = "ell"
        elif enc != 0:
            raise _err(f"meter {manufacturer} {ident}: ELL encryption {enc} at offset "
                       f"{pos - 4} is not supported", pos - 4, "ell")
        q = _ptr(payload)
        if _crc(q, 2, PyBytes_GET_SIZE(payload)) != <unsigned int>(q[0] | (q[1] << 8)):
            if enc == 1:
                raise _wrong_key(manufacturer, ident, "ELL payload CRC mismatch", pos)
            raise _err(f"ELL payload CRC mismatch at offset {pos}", pos, "ell")
        f = f[:pos] + payload
        p = _ptr(f)
        pos += 2
    elif ci == 0x8F:
        raise _err(f"ELL IV (CI 0x8f) at offset {pos} is not supported", pos, "ci")
    if pos >= n:
        raise _err(f"truncated ell at offset {pos}: no CI field after it", pos, "ci")

    afl = None
    ci = p[pos]
    if ci == 0x90:
        _need(n, pos, 2, "afl")
        afll = p[pos + 1]
        _need(n, pos + 2, afll, "afl")
        if afll < 2:
            raise _err(f"AFL at offset {pos} is too short ({afll} bytes)", pos, "afl")
        fcl = p[pos + 2] | (p[pos + 3] << 8)
        if fcl & 0x4000:
            raise _err(f"fragmented message (AFL at offset {pos}) is not supported",
                       pos, "afl")
        body = f[pos + 2:pos + 2 + afll]
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
            at = (mcl[0] & 15) if mcl else 0
            ml_len = MAC_LENGTHS.get(at)
            if ml_len is None:
                raise _err(f"AFL at offset {pos}: authentication type {at} is not supported",
                           pos, "afl")
            maclen = ml_len
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
        ci = p[pos]

    tpl = pos
    if ci == 0x78:
        hdr_end = pos + 1
    elif ci == 0x7A:
        _need(n, pos, 5, "tpl")
        acc = p[pos + 1]
        status = p[pos + 2]
        cw = p[pos + 3] | (p[pos + 4] << 8)
        hdr_end = pos + 5
    elif ci == 0x72:
        _need(n, pos, 13, "tpl")
        idpos = pos + 1
        mpos = pos + 5
        vtpos = pos + 7
        ident = _bcd_id(p + idpos)
        manufacturer = _manufacturer(p + mpos)
        version = p[pos + 7]
        dtype = p[pos + 8]
        acc = p[pos + 9]
        status = p[pos + 10]
        cw = p[pos + 11] | (p[pos + 12] << 8)
        hdr_end = pos + 13
    elif 0xA0 <= ci <= 0xB7:
        header = _header(manufacturer, ident, version, dtype, ci, acc, status, 0,
                         encryption, c_field, fmt)
        return header, [("manufacturer_data", f[pos + 1:].hex(), "", 0, 0, 0, None, "")]
    elif ci == 0x79:
        raise _err(f"compact frame (CI 0x79) at offset {pos} is not supported: it needs "
                   "the meter's full frame format", pos, "ci")
    else:
        raise _err(f"unsupported CI field 0x{ci:02x} at offset {pos}", pos, "ci")

    if ci != 0x78:
        mode = (cw >> 8) & 0x1F
    if mode == 5 or mode == 7:
        if mode == 7:
            _need(n, hdr_end, 1, "tpl")
            cfe = p[hdr_end]
            hdr_end += 1
        blocks = (cw >> 4) & 15
        enc_len = 16 * blocks
        if enc_len > n - hdr_end:
            raise _err(f"meter {manufacturer} {ident}: the configuration word says {blocks} "
                       f"encrypted blocks ({enc_len} bytes) but {n - hdr_end} bytes follow "
                       f"the header at offset {hdr_end}", hdr_end, "tpl")
        cipher = f[hdr_end:hdr_end + enc_len]
        a_id = f[idpos:idpos + 4]
        if mode == 5 and not enc_len:
            plain = b""
        elif mode == 5:
            key = _get_key(key_for, manufacturer, ident, "mode 5")
            iv = f[mpos:mpos + 2] + a_id + f[vtpos:vtpos + 2] + bytes((acc,)) * 8
            plain = _cbc_decrypt(key, iv, cipher)
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
            kenc, kmac = mode7_keys(key, afl[2], a_id)
            mcl, ki, mcr, mac, ml = afl
            if aes_cmac(kmac, mcl + ki + mcr + ml + f[tpl:])[:len(mac)] != mac:
                raise _err(f"meter {manufacturer} {ident}: authentication failed (MAC "
                           "mismatch): wrong key?", tpl, "key")
            plain = _cbc_decrypt(kenc, bytes(16), cipher)
            encryption = "mode7"
        if enc_len and plain[:2] != b"\x2f\x2f":
            raise _wrong_key(manufacturer, ident, "no 2F2F after decryption", hdr_end)
        f = f[:hdr_end] + plain + f[hdr_end + enc_len:]
    elif mode != 0:
        raise _err(f"meter {manufacturer} {ident} uses security mode {mode}, which is not "
                   "supported (only 0, 5 and 7)", tpl + (3 if ci == 0x7A else 11), "tpl")

    header = {
        "manufacturer": manufacturer, "id": ident, "version": version,
        "device_type": DEVICE_TYPES.get(dtype, "reserved"), "device_type_code": dtype,
        "ci": ci, "access_number": acc, "status": status, "security_mode": mode,
        "encryption": encryption, "c_field": c_field, "frame_format": fmt,
    }
    return header, _records(f, hdr_end, 0)
