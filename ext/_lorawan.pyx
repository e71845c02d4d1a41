# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, embedsignature=True
"""LoRaWAN MAC layer, compiled (twin of ``hromada._lorawan_py``, same API).

Parsing, MIC checks and decryption run in C on AES-128/AES-CMAC written for hromada in
``ext/_lorawan/`` (AES-NI when the CPU has it, a portable table cipher otherwise).
``Keys`` holds one session's key schedules and CMAC subkeys, made once; ``decode_many``
decodes a whole batch in one call with no Python object per frame but its result.
Keys never appear in a repr or an exception message.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport memcmp, memset

from hromada.errors import DecodeError


cdef extern from "lw_aes.h":
    ctypedef struct lw_aes_ctx:
        pass

    ctypedef struct lw_cmac_ctx:
        lw_aes_ctx aes

    int LW_BACKEND_PORTABLE
    int LW_BACKEND_AESNI
    void lw_aes_setup()
    int lw_aes_backend()
    int lw_aes_have_aesni()
    int lw_aes_set_backend(int backend)
    void lw_aes_init(lw_aes_ctx *ctx, const uint8_t *key)
    void lw_aes_encrypt(const lw_aes_ctx *ctx, const uint8_t *inp, uint8_t *out)
    void lw_aes_decrypt(const lw_aes_ctx *ctx, const uint8_t *inp, uint8_t *out)
    void lw_cmac_init(lw_cmac_ctx *ctx, const uint8_t *key)
    void lw_cmac(const lw_cmac_ctx *ctx, const uint8_t *prefix, const uint8_t *msg, size_t n,
                 uint8_t *out)


cdef extern from "lw_mac.h":
    void lw_keystream_xor(const lw_aes_ctx *ctx, uint8_t selector, uint8_t dir,
                          uint32_t dev_addr, uint32_t fcnt, uint8_t first, const uint8_t *inp,
                          uint8_t *out, size_t n)
    void lw_data_mic(const lw_cmac_ctx *ctx, uint16_t conf_fcnt, uint8_t tx_dr, uint8_t tx_ch,
                     uint8_t dir, uint32_t dev_addr, uint32_t fcnt, const uint8_t *msg,
                     size_t n, uint8_t *mic)


lw_aes_setup()

#: MType names, indexed by the three MType bits of the MHDR.
MTYPES = (
    "JoinRequest",
    "JoinAccept",
    "UnconfirmedDataUp",
    "UnconfirmedDataDown",
    "ConfirmedDataUp",
    "ConfirmedDataDown",
    "RejoinRequest",
    "Proprietary",
)

FOPTS_SCHEMES = ("errata", "original", "none")

_KEY_NAMES = ("nwkskey", "appskey", "fnwksintkey", "snwksintkey", "nwksenckey",
              "joinkey", "jsintkey", "jsenckey")

# Frame flags kept on LoRaFrame.
cdef enum:
    PAYLOAD_PLAIN = 1
    FOPTS_PLAIN = 2
    JA_PLAIN = 4


def backends():
    """AES backends this implementation can use."""
    return ["aes-ni", "portable"] if lw_aes_have_aesni() else ["portable"]


def backend():
    """The AES backend in use."""
    return "aes-ni" if lw_aes_backend() == LW_BACKEND_AESNI else "portable"


def set_backend(name):
    """Select an AES backend ("aes-ni", "portable" or "auto"); returns the one in use.
    Existing key contexts stay valid: both backends share the round-key layout."""
    if name == "auto":
        lw_aes_set_backend(LW_BACKEND_AESNI if lw_aes_have_aesni() else LW_BACKEND_PORTABLE)
    elif name == "aes-ni" and lw_aes_have_aesni():
        lw_aes_set_backend(LW_BACKEND_AESNI)
    elif name == "portable":
        lw_aes_set_backend(LW_BACKEND_PORTABLE)
    else:
        raise ValueError(f"unknown AES backend {name!r}; available: {', '.join(backends())}")
    return backend()


# --------------------------------------------------------------------------------------
# Argument checks (same messages as the pure twin).

cdef bytes _check_key(key, str name="key"):
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be bytes, not {type(key).__name__}")
    key = bytes(key)
    if len(key) != 16:
        raise ValueError(f"{name} must be 16 bytes, got {len(key)}")
    return key


cdef bytes _check_bytes(data, str name):
    if type(data) is bytes:
        return <bytes>data
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be bytes, not {type(data).__name__}")
    return bytes(data)


cdef uint32_t _check_u32(v, str name) except? 0xFFFFFFFF:
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 0xFFFFFFFF:
        raise ValueError(f"{name} must be an integer from 0 to 4294967295")
    return v


cdef int _check_u8(v, str name) except -1:
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 0xFF:
        raise ValueError(f"{name} must be an integer from 0 to 255")
    return v


cdef int _check_u16(v, str name) except -1:
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 0xFFFF:
        raise ValueError(f"{name} must be an integer from 0 to 65535")
    return v


cdef int _check_direction(direction) except -1:
    if direction not in (0, 1) or isinstance(direction, bool):
        raise ValueError("direction must be 0 (uplink) or 1 (downlink)")
    return direction


cdef inline const uint8_t *_ptr(bytes b):
    return <const uint8_t *>PyBytes_AS_STRING(b)


# --------------------------------------------------------------------------------------
# Primitives.

def aes_encrypt(key, block):
    """AES-128 encryption of one 16-byte block."""
    cdef bytes k = _check_key(key)
    cdef bytes b = _check_bytes(block, "block")
    if len(b) != 16:
        raise ValueError(f"block must be 16 bytes, got {len(b)}")
    cdef lw_aes_ctx ctx
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 16)
    lw_aes_init(&ctx, _ptr(k))
    lw_aes_encrypt(&ctx, _ptr(b), <uint8_t *>PyBytes_AS_STRING(out))
    memset(&ctx, 0, sizeof(ctx))
    return out


def aes_decrypt(key, block):
    """AES-128 decryption of one 16-byte block."""
    cdef bytes k = _check_key(key)
    cdef bytes b = _check_bytes(block, "block")
    if len(b) != 16:
        raise ValueError(f"block must be 16 bytes, got {len(b)}")
    cdef lw_aes_ctx ctx
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 16)
    lw_aes_init(&ctx, _ptr(k))
    lw_aes_decrypt(&ctx, _ptr(b), <uint8_t *>PyBytes_AS_STRING(out))
    memset(&ctx, 0, sizeof(ctx))
    return out


def aes_cmac(key, msg):
    """AES-CMAC (RFC 4493) of ``msg``: 16 bytes."""
    cdef bytes k = _check_key(key)
    cdef bytes m = _check_bytes(msg, "msg")
    cdef lw_cmac_ctx ctx
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 16)
    lw_cmac_init(&ctx, _ptr(k))
    lw_cmac(&ctx, NULL, _ptr(m), PyBytes_GET_SIZE(m), <uint8_t *>PyBytes_AS_STRING(out))
    memset(&ctx, 0, sizeof(ctx))
    return out


cdef bytes _xor_stream(const lw_aes_ctx *ctx, uint8_t selector, uint8_t direction,
                       uint32_t dev_addr, uint32_t fcnt, uint8_t first, const uint8_t *src,
                       Py_ssize_t n):
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    if n:
        lw_keystream_xor(ctx, selector, direction, dev_addr, fcnt, first, src,
                         <uint8_t *>PyBytes_AS_STRING(out), n)
    return out


def frm_crypt(key, dev_addr, fcnt, direction, data):
    """Encrypt or decrypt an FRMPayload (the same operation): LoRaWAN 4.3.3."""
    cdef bytes k = _check_key(key)
    cdef uint32_t a = _check_u32(dev_addr, "dev_addr")
    cdef uint32_t c = _check_u32(fcnt, "fcnt")
    cdef int d = _check_direction(direction)
    cdef bytes m = _check_bytes(data, "data")
    cdef lw_aes_ctx ctx
    lw_aes_init(&ctx, _ptr(k))
    out = _xor_stream(&ctx, 0, d, a, c, 1, _ptr(m), len(m))
    memset(&ctx, 0, sizeof(ctx))
    return out


cdef int _fopts_block(scheme, int direction, bint afcnt_down, uint8_t *selector,
                      uint8_t *first) except -1:
    if scheme == "errata":
        selector[0] = 0 if direction == 0 else (2 if afcnt_down else 1)
        first[0] = 1
    elif scheme == "original":
        selector[0] = 0
        first[0] = 0
    else:
        raise ValueError(f"scheme must be 'errata' or 'original', not {scheme!r}")
    return 0


def fopts_crypt(key, dev_addr, fcnt, direction, data, scheme="errata", afcnt_down=False):
    """Encrypt or decrypt LoRaWAN 1.1 FOpts with NwkSEncKey.

    ``scheme`` "errata" (the FCntDwn erratum, default): A[4] selects the counter (0 uplink,
    1 NFCntDown, 2 AFCntDown when ``afcnt_down``) and A[15] = 1; "original": the block of
    the 1.1 specification as first published (A[4] = 0, A[15] = 0).
    """
    cdef bytes k = _check_key(key)
    cdef uint32_t a = _check_u32(dev_addr, "dev_addr")
    cdef uint32_t c = _check_u32(fcnt, "fcnt")
    cdef int d = _check_direction(direction)
    cdef bytes m = _check_bytes(data, "data")
    if len(m) > 15:
        raise ValueError(f"FOpts are at most 15 bytes, got {len(m)}")
    cdef uint8_t selector, first
    _fopts_block(scheme, d, afcnt_down, &selector, &first)
    cdef lw_aes_ctx ctx
    lw_aes_init(&ctx, _ptr(k))
    out = _xor_stream(&ctx, selector, d, a, c, first, _ptr(m), len(m))
    memset(&ctx, 0, sizeof(ctx))
    return out


def data_mic(key, dev_addr, fcnt, direction, msg, conf_fcnt=0, tx_dr=0, tx_ch=0):
    """First 4 bytes of CMAC(key, B || msg) with B = [0x49, ConfFCnt, TxDr, TxCh, Dir,
    DevAddr, FCnt, 0, len(msg)]: the 1.0 MIC, and each half-input of the 1.1 MICs."""
    cdef bytes k = _check_key(key)
    cdef uint32_t a = _check_u32(dev_addr, "dev_addr")
    cdef uint32_t c = _check_u32(fcnt, "fcnt")
    cdef int d = _check_direction(direction)
    cdef int conf = _check_u16(conf_fcnt, "conf_fcnt")
    cdef int dr = _check_u8(tx_dr, "tx_dr")
    cdef int ch = _check_u8(tx_ch, "tx_ch")
    cdef bytes m = _check_bytes(msg, "msg")
    cdef lw_cmac_ctx ctx
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 4)
    lw_cmac_init(&ctx, _ptr(k))
    lw_data_mic(&ctx, conf, dr, ch, d, a, c, _ptr(m), len(m), <uint8_t *>PyBytes_AS_STRING(out))
    memset(&ctx, 0, sizeof(ctx))
    return out


cdef inline uint32_t _full_fcnt(long long next_expected, uint32_t wire):
    if next_expected < 0:
        return wire
    if next_expected > 0 and wire == ((next_expected - 1) & 0xFFFF):
        return <uint32_t>(next_expected - 1)
    return <uint32_t>((next_expected + ((wire - next_expected) & 0xFFFF)) & 0xFFFFFFFF)


def full_fcnt(next_expected, wire):
    """32-bit counter of a frame from its 16-bit wire value and the next expected counter.

    ``next_expected - 1`` (same low 16 bits) is a retransmission; anything else is the
    first counter at or after ``next_expected`` with the wire's low 16 bits (so a 16-bit
    rollover and the 32-bit wrap are followed).  ``None`` means no state: the wire value.
    """
    _check_u16(wire, "wire")
    if next_expected is None:
        return wire
    return _full_fcnt(_check_u32(next_expected, "next_expected"), wire)


# --------------------------------------------------------------------------------------
# Decoding.

cdef _err(str field, Py_ssize_t offset, str reason):
    return DecodeError(f"{field} at byte {offset}: {reason}", offset=offset, field=field)


cdef _check_fixed(Py_ssize_t n, str kind, tuple layout, Py_ssize_t total, str size=None):
    size = size or f"{total} bytes"
    if n < total:
        for name, start, width in layout:
            if start + width > n:
                return _err(name, start,
                            f"frame too short (length {n}); a {kind} is {size}")
    if n > total:
        return _err("phy_payload", total,
                    f"frame too long (length {n}); a {kind} is {size}")
    return None


_JOIN_REQUEST = (("mhdr", 0, 1), ("join_eui", 1, 8), ("dev_eui", 9, 8), ("dev_nonce", 17, 2),
                 ("mic", 19, 4))
_JOIN_ACCEPT = (("mhdr", 0, 1), ("join_nonce", 1, 3), ("net_id", 4, 3), ("dev_addr", 7, 4),
                ("dl_settings", 11, 1), ("rx_delay", 12, 1), ("mic", 13, 4))
_REJOIN_02 = (("mhdr", 0, 1), ("rejoin_type", 1, 1), ("net_id", 2, 3), ("dev_eui", 5, 8),
              ("rj_count", 13, 2), ("mic", 15, 4))
_REJOIN_1 = (("mhdr", 0, 1), ("rejoin_type", 1, 1), ("join_eui", 2, 8), ("dev_eui", 10, 8),
             ("rj_count", 18, 2), ("mic", 20, 4))
_DATA = (("mhdr", 0, 1), ("dev_addr", 1, 4), ("fctrl", 5, 1), ("fcnt", 6, 2), ("mic", 8, 4))


cdef inline bint _cmac4_ok(const lw_cmac_ctx *ctx, const uint8_t *msg, Py_ssize_t n,
                           const uint8_t *mic):
    cdef uint8_t full[16]
    lw_cmac(ctx, NULL, msg, n, full)
    return memcmp(full, mic, 4) == 0


@cython.final
cdef class Keys:
    """The keys of one device session, with their AES contexts made once.

    ``version`` "1.0": ``nwkskey`` (MIC, FPort-0 payloads) and ``appskey``.  "1.1":
    ``fnwksintkey`` and ``snwksintkey`` (MICs), ``nwksenckey`` (FOpts, FPort-0 payloads),
    ``appskey``.  Join frames: ``joinkey`` (AppKey in 1.0, NwkKey in 1.1: join-request
    MIC, join-accept encryption and 1.0 MIC), ``jsintkey`` (1.1 join-accept MIC, rejoin
    type 1 MIC), ``jsenckey`` (join-accepts answering a rejoin).  ``fopts_scheme`` is the
    1.1 FOpts encryption: "errata" (default), "original" or "none" (sent in clear).
    Every key is optional; a MIC that needs a missing key is reported as not checked.
    """

    cdef lw_cmac_ctx c_nwk, c_fnwk, c_snwk, c_nwkenc, c_app, c_join, c_jsint, c_jsenc
    cdef const lw_cmac_ctx *fnwk
    cdef const lw_cmac_ctx *snwk
    cdef const lw_cmac_ctx *nwkenc
    cdef const lw_cmac_ctx *app
    cdef const lw_cmac_ctx *join
    cdef const lw_cmac_ctx *jsint
    cdef const lw_cmac_ctx *jsenc
    cdef bint v11
    cdef int scheme  # 0 errata, 1 original, 2 none
    cdef readonly str version
    cdef readonly str fopts_scheme
    cdef tuple _names

    def __cinit__(self):
        self.fnwk = self.snwk = self.nwkenc = self.app = NULL
        self.join = self.jsint = self.jsenc = NULL

    def __init__(self, version="1.0", *, nwkskey=None, appskey=None, fnwksintkey=None,
                 snwksintkey=None, nwksenckey=None, joinkey=None, jsintkey=None, jsenckey=None,
                 fopts_scheme="errata"):
        if version not in ("1.0", "1.1"):
            raise ValueError(f"version must be '1.0' or '1.1', not {version!r}")
        if fopts_scheme not in FOPTS_SCHEMES:
            raise ValueError(
                f"fopts_scheme must be 'errata', 'original' or 'none', not {fopts_scheme!r}")
        given = {"nwkskey": nwkskey, "appskey": appskey, "fnwksintkey": fnwksintkey,
                 "snwksintkey": snwksintkey, "nwksenckey": nwksenckey, "joinkey": joinkey,
                 "jsintkey": jsintkey, "jsenckey": jsenckey}
        if version == "1.0":
            for name in ("fnwksintkey", "snwksintkey", "nwksenckey"):
                if given[name] is not None:
                    raise ValueError(f"{name} is a LoRaWAN 1.1 key; use nwkskey for 1.0")
        elif nwkskey is not None:
            raise ValueError(
                "nwkskey is a LoRaWAN 1.0 key; 1.1 uses fnwksintkey, snwksintkey, nwksenckey")
        checked = {name: (_check_key(k, name) if k is not None else None)
                   for name, k in given.items()}
        self.version = version
        self.fopts_scheme = fopts_scheme
        self.v11 = version == "1.1"
        self.scheme = FOPTS_SCHEMES.index(fopts_scheme)
        self._names = tuple(n for n in _KEY_NAMES if given[n] is not None)
        self.fnwk = self.snwk = self.nwkenc = self.app = NULL
        self.join = self.jsint = self.jsenc = NULL
        if not self.v11:
            if checked["nwkskey"] is not None:
                lw_cmac_init(&self.c_nwk, _ptr(checked["nwkskey"]))
                self.fnwk = self.snwk = self.nwkenc = &self.c_nwk
        else:
            if checked["fnwksintkey"] is not None:
                lw_cmac_init(&self.c_fnwk, _ptr(checked["fnwksintkey"]))
                self.fnwk = &self.c_fnwk
            if checked["snwksintkey"] is not None:
                lw_cmac_init(&self.c_snwk, _ptr(checked["snwksintkey"]))
                self.snwk = &self.c_snwk
            if checked["nwksenckey"] is not None:
                lw_cmac_init(&self.c_nwkenc, _ptr(checked["nwksenckey"]))
                self.nwkenc = &self.c_nwkenc
        if checked["appskey"] is not None:
            lw_cmac_init(&self.c_app, _ptr(checked["appskey"]))
            self.app = &self.c_app
        if checked["joinkey"] is not None:
            lw_cmac_init(&self.c_join, _ptr(checked["joinkey"]))
            self.join = &self.c_join
        if checked["jsintkey"] is not None:
            lw_cmac_init(&self.c_jsint, _ptr(checked["jsintkey"]))
            self.jsint = &self.c_jsint
        if checked["jsenckey"] is not None:
            lw_cmac_init(&self.c_jsenc, _ptr(checked["jsenckey"]))
            self.jsenc = &self.c_jsenc

    def __dealloc__(self):
        # Key material should not linger in freed memory.
        memset(&self.c_nwk, 0, sizeof(lw_cmac_ctx))
        memset(&self.c_fnwk, 0, sizeof(lw_cmac_ctx))
        memset(&self.c_snwk, 0, sizeof(lw_cmac_ctx))
        memset(&self.c_nwkenc, 0, sizeof(lw_cmac_ctx))
        memset(&self.c_app, 0, sizeof(lw_cmac_ctx))
        memset(&self.c_join, 0, sizeof(lw_cmac_ctx))
        memset(&self.c_jsint, 0, sizeof(lw_cmac_ctx))
        memset(&self.c_jsenc, 0, sizeof(lw_cmac_ctx))

    @property
    def names(self):
        """Names of the keys present (never their values)."""
        return self._names

    def __repr__(self):
        return f"<Keys LoRaWAN {self.version}: {', '.join(self._names) or 'no keys'}>"

    def __reduce__(self):
        raise TypeError("Keys objects hold secrets and are not pickled")

    def decode(self, phy, fcnt=None, conf_fcnt=0, tx_dr=0, tx_ch=0, join_req_type=0xFF,
               join_eui=None, dev_nonce=None):
        """Decode one PHYPayload.

        ``fcnt``: the next expected 32-bit counter (None: the wire value is the counter).
        ``conf_fcnt``/``tx_dr``/``tx_ch``: the 1.1 MIC inputs (ConfFCnt counts only when
        the ACK bit is set).  ``join_req_type``/``join_eui`` (8 bytes, wire order)/
        ``dev_nonce``: the join-request a 1.1 (OptNeg) join-accept answers.
        """
        cdef bytes p = _check_bytes(phy, "phy")
        cdef long long hint = -1
        if fcnt is not None:
            hint = _check_u32(fcnt, "fcnt")
        cdef int conf = _check_u16(conf_fcnt, "conf_fcnt")
        cdef int dr = _check_u8(tx_dr, "tx_dr")
        cdef int ch = _check_u8(tx_ch, "tx_ch")
        cdef int jrt = _check_u8(join_req_type, "join_req_type")
        if join_eui is not None:
            join_eui = _check_bytes(join_eui, "join_eui")
            if len(join_eui) != 8:
                raise ValueError(f"join_eui must be 8 bytes, got {len(join_eui)}")
        cdef int nonce = -1
        if dev_nonce is not None:
            nonce = _check_u16(dev_nonce, "dev_nonce")
        return self._decode(p, hint, conf, dr, ch, jrt, join_eui, nonce)

    def decode_many(self, phys, fcnt=None, conf_fcnt=0, tx_dr=0, tx_ch=0):
        """Decode a batch of one session's frames; a bad frame raises DecodeError whose
        message starts with ``frame N:`` and whose ``index`` is N."""
        cdef long long hint = -1
        if fcnt is not None:
            hint = _check_u32(fcnt, "fcnt")
        cdef int conf = _check_u16(conf_fcnt, "conf_fcnt")
        cdef int dr = _check_u8(tx_dr, "tx_dr")
        cdef int ch = _check_u8(tx_ch, "tx_ch")
        cdef list out = []
        cdef Py_ssize_t i = 0
        cdef bytes p
        for phy in phys:
            p = _check_bytes(phy, "phy")
            try:
                out.append(self._decode(p, hint, conf, dr, ch, 0xFF, None, -1))
            except DecodeError as exc:
                err = DecodeError(f"frame {i}: {exc}", offset=exc.offset, field=exc.field)
                err.index = i
                raise err from None
            i += 1
        return out

    # ----------------------------------------------------------------------------------

    cdef LoRaFrame _decode(self, bytes phy, long long hint, int conf, int tx_dr, int tx_ch,
                           int jrt, object join_eui, int dev_nonce):
        cdef Py_ssize_t n = PyBytes_GET_SIZE(phy)
        cdef const uint8_t *p = _ptr(phy)
        cdef const lw_cmac_ctx *key
        cdef int mtype, rtype
        cdef object ok
        if n == 0:
            raise _err("mhdr", 0, "empty frame")
        if p[0] & 3:
            raise _err("mhdr", 0,
                       f"unsupported LoRaWAN major version {p[0] & 3} (MHDR 0x{p[0]:02x})")
        mtype = p[0] >> 5
        if 2 <= mtype <= 5:
            return self._decode_data(phy, p, n, mtype, hint, conf, tx_dr, tx_ch)
        if mtype == 0:
            e = _check_fixed(n, "join-request", _JOIN_REQUEST, 23)
            if e is not None:
                raise e
            ok = None if self.join == NULL else _cmac4_ok(self.join, p, 19, p + 19)
            return _make(0, phy, None, None, -1, -1, ok, 0)
        if mtype == 1:
            return self._decode_join_accept(phy, jrt, join_eui, dev_nonce)
        if mtype == 6:
            if n < 2:
                raise _err("rejoin_type", 1, f"frame too short (length {n}); a rejoin-request"
                           " is 19 bytes (type 0 or 2) or 24 (type 1)")
            rtype = p[1]
            if rtype == 0 or rtype == 2:
                e = _check_fixed(n, f"type {rtype} rejoin-request", _REJOIN_02, 19)
                key = self.snwk
            elif rtype == 1:
                e = _check_fixed(n, "type 1 rejoin-request", _REJOIN_1, 24)
                key = self.jsint
            else:
                raise _err("rejoin_type", 1, f"unknown rejoin type {rtype}")
            if e is not None:
                raise e
            ok = None if key == NULL else _cmac4_ok(key, p, n - 4, p + n - 4)
            return _make(6, phy, None, None, -1, -1, ok, 0)
        # Proprietary: the format is the vendor's; nothing to check.
        return _make(7, phy, phy[1:], None, -1, -1, None, PAYLOAD_PLAIN)

    cdef LoRaFrame _decode_data(self, bytes phy, const uint8_t *p, Py_ssize_t n, int mtype,
                                long long hint, int conf_fcnt, int tx_dr, int tx_ch):
        cdef Py_ssize_t end, fopts_len, pstart
        cdef int fport = -1, flags = 0
        cdef uint8_t direction, fctrl, selector, first
        cdef uint32_t dev_addr, fcnt
        cdef uint16_t conf
        cdef uint8_t mic[4]
        cdef uint8_t fmic[4]
        cdef object mic_ok = None
        cdef object fopts = None
        cdef object payload = None
        cdef const lw_cmac_ctx *key
        if n < 12:
            raise _check_fixed(n, "data frame", _DATA, 12, "at least 12 bytes")
        end = n - 4
        fctrl = p[5]
        fopts_len = fctrl & 0x0F
        if 8 + fopts_len > end:
            raise _err("fopts", 8, f"FOptsLen is {fopts_len} but the frame has room for "
                       f"{end - 8} before the MIC")
        if end > 8 + fopts_len:
            fport = p[8 + fopts_len]
            if fport == 0 and fopts_len:
                raise _err("fport", 8 + fopts_len, f"FPort 0 with FOptsLen {fopts_len} (MAC "
                           "commands in both)")
        direction = 0 if (mtype == 2 or mtype == 4) else 1
        dev_addr = p[1] | (<uint32_t>p[2] << 8) | (<uint32_t>p[3] << 16) | (<uint32_t>p[4] << 24)
        fcnt = _full_fcnt(hint, p[6] | (<uint32_t>p[7] << 8))
        conf = conf_fcnt if fctrl & 0x20 else 0
        if not self.v11:
            if self.snwk != NULL:
                lw_data_mic(self.snwk, 0, 0, 0, direction, dev_addr, fcnt, p, end, mic)
                mic_ok = memcmp(mic, p + end, 4) == 0
        elif direction == 0:
            if self.fnwk != NULL and self.snwk != NULL:
                lw_data_mic(self.fnwk, 0, 0, 0, 0, dev_addr, fcnt, p, end, fmic)
                lw_data_mic(self.snwk, conf, tx_dr, tx_ch, 0, dev_addr, fcnt, p, end, mic)
                mic_ok = memcmp(mic, p + end, 2) == 0 and memcmp(fmic, p + end + 2, 2) == 0
        elif self.snwk != NULL:
            lw_data_mic(self.snwk, conf, 0, 0, 1, dev_addr, fcnt, p, end, mic)
            mic_ok = memcmp(mic, p + end, 4) == 0
        if self.v11 and fopts_len and self.scheme != 2:
            if self.nwkenc != NULL:
                if self.scheme == 0:
                    selector = 0 if direction == 0 else (2 if fport > 0 else 1)
                    first = 1
                else:
                    selector = 0
                    first = 0
                fopts = _xor_stream(&self.nwkenc.aes, selector, direction, dev_addr, fcnt, first,
                                    p + 8, fopts_len)
                flags |= FOPTS_PLAIN
        else:
            flags |= FOPTS_PLAIN
        if fport >= 0:
            pstart = 9 + fopts_len
            key = self.nwkenc if fport == 0 else self.app
            if key != NULL:
                payload = _xor_stream(&key.aes, 0, direction, dev_addr, fcnt, 1, p + pstart,
                                      end - pstart)
                flags |= PAYLOAD_PLAIN
            else:
                payload = PyBytes_FromStringAndSize(<const char *>p + pstart, end - pstart)
                if end == pstart:
                    flags |= PAYLOAD_PLAIN
        return _make(mtype, phy, payload, fopts, fcnt, fport, mic_ok, flags)

    cdef LoRaFrame _decode_join_accept(self, bytes phy, int jrt, object join_eui,
                                       int dev_nonce):
        cdef Py_ssize_t n = PyBytes_GET_SIZE(phy)
        cdef const lw_cmac_ctx *key
        cdef bytes plain
        cdef uint8_t *q
        cdef Py_ssize_t i
        if n < 17:
            raise _check_fixed(n, "join-accept", _JOIN_ACCEPT, 17, "17 or 33 bytes")
        if 17 < n < 33:
            raise _err("cflist", 13, f"incomplete CFList (frame length {n}); a join-accept "
                       "is 17 or 33 bytes")
        if n > 33:
            raise _err("phy_payload", 33, f"frame too long (length {n}); a join-accept is "
                       "17 or 33 bytes")
        key = self.jsenc if (jrt != 0xFF and self.jsenc != NULL) else self.join
        if key == NULL:
            return _make(1, phy, None, None, -1, -1, None, 0)
        # The server encrypts with AES decryption so that a device needs only encryption.
        plain = PyBytes_FromStringAndSize(NULL, n)
        q = <uint8_t *>PyBytes_AS_STRING(plain)
        q[0] = _ptr(phy)[0]
        i = 1
        while i < n:
            lw_aes_encrypt(&key.aes, _ptr(phy) + i, q + i)
            i += 16
        ok = self._join_accept_mic_ok(plain, jrt, join_eui, dev_nonce)
        if ok is not True and self._join_accept_mic_ok(phy, jrt, join_eui, dev_nonce) is True:
            # Some tools print join-accepts before encryption; the MIC tells which it is.
            return _make(1, phy, None, None, -1, -1, True, JA_PLAIN)
        return _make(1, plain, None, None, -1, -1, ok, JA_PLAIN)

    cdef object _join_accept_mic_ok(self, bytes plain, int jrt, object join_eui,
                                    int dev_nonce):
        cdef const uint8_t *p = _ptr(plain)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(plain)
        cdef bytes msg
        if p[11] & 0x80:  # OptNeg: a 1.1 join server answered
            if self.jsint == NULL or join_eui is None or dev_nonce < 0:
                return None
            msg = bytes((jrt,)) + join_eui + bytes((dev_nonce & 0xFF, dev_nonce >> 8)) + \
                plain[:n - 4]
            return _cmac4_ok(self.jsint, _ptr(msg), len(msg), p + n - 4)
        if self.join == NULL:
            return None
        return _cmac4_ok(self.join, p, n - 4, p + n - 4)


# --------------------------------------------------------------------------------------


cdef inline str _display(bytes b):
    return b[::-1].hex()


cdef _mac_commands(bytes data, bint uplink):
    from hromada.lorawan.maccmd import parse_mac_commands
    return parse_mac_commands(data, uplink)


cdef LoRaFrame _make(int mtype, bytes raw, object payload, object fopts, long long fcnt,
                     int fport, object mic_ok, int flags):
    cdef LoRaFrame f = LoRaFrame.__new__(LoRaFrame)
    f._mtype = mtype
    f._raw = raw
    f._payload = payload
    f._fopts = fopts
    f._fcnt = fcnt
    f._fport = fport
    f._mic = -1 if mic_ok is None else (1 if mic_ok else 0)
    f._flags = flags
    return f


@cython.final
@cython.freelist(256)
cdef class LoRaFrame:
    """One decoded LoRaWAN frame.  Attributes follow ``hromada lorawan decode --json``;
    those that do not apply to the frame's message type are None."""

    cdef int _mtype
    cdef int _fport
    cdef int _flags
    cdef int _mic
    cdef long long _fcnt
    cdef bytes _raw
    cdef object _payload
    cdef object _fopts  # None: the FOpts are the plain bytes of _raw (no copy made)

    def __init__(self):
        raise TypeError("LoRaFrame objects are made by decoding")

    cdef bytes _fopts_bytes(self):
        if self._fopts is not None:
            return self._fopts
        if 2 <= self._mtype <= 5:
            return self._raw[8:8 + (self._raw[5] & 0x0F)]
        return None

    def _key(self):
        return (self._mtype, self._raw, self._payload, self._fopts_bytes(), self._fcnt,
                self._fport, self.mic_ok, self._flags)

    def __eq__(self, other):
        if not isinstance(other, LoRaFrame):
            return NotImplemented
        return self._key() == (<LoRaFrame>other)._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        parts = [f"mtype={self.mtype!r}"]
        for name in ("dev_addr", "dev_eui", "fcnt", "fport"):
            v = getattr(self, name)
            if v is not None:
                parts.append(f"{name}={v!r}")
        parts.append(f"mic_ok={self.mic_ok!r}")
        return f"LoRaFrame({', '.join(parts)})"

    def __reduce__(self):
        return (_rebuild, (self._mtype, self._raw, self._payload, self._fopts, self._fcnt,
                           self._fport, self.mic_ok, self._flags))

    # ---- common

    @property
    def mtype(self):
        return MTYPES[self._mtype]

    @property
    def is_data(self):
        return 2 <= self._mtype <= 5

    @property
    def uplink(self):
        """True for frames a device sends, False for the network's."""
        return self._mtype in (0, 2, 4, 6)

    @property
    def phy(self):
        """The frame's bytes (a join-accept decrypted when its key was given)."""
        return self._raw

    @property
    def mic(self):
        if self._mtype == 7 or (self._mtype == 1 and not self._flags & JA_PLAIN):
            return None
        return self._raw[len(self._raw) - 4:].hex()

    @property
    def mic_ok(self):
        return None if self._mic < 0 else self._mic == 1

    @property
    def decrypted(self):
        """False when a payload (FRMPayload, FOpts, join-accept) stayed encrypted for want
        of its key."""
        cdef int need
        if self._mtype == 1:
            return bool(self._flags & JA_PLAIN)
        if 2 <= self._mtype <= 5:
            need = FOPTS_PLAIN | (PAYLOAD_PLAIN if self._fport >= 0 else 0)
            return self._flags & need == need
        return True

    # ---- data frames

    @property
    def dev_addr(self):
        if 2 <= self._mtype <= 5:
            return _display(self._raw[1:5])
        if self._mtype == 1 and self._flags & JA_PLAIN:
            return _display(self._raw[7:11])
        return None

    @property
    def fctrl(self):
        if not 2 <= self._mtype <= 5:
            return None
        cdef int b = self._raw[5]
        cdef bint up = self._mtype == 2 or self._mtype == 4
        return {"adr": bool(b & 0x80), "adr_ack_req": bool(b & 0x40), "ack": bool(b & 0x20),
                "fpending": bool(b & 0x10) and not up, "class_b": bool(b & 0x10) and up,
                "fopts_len": b & 0x0F}

    @property
    def fcnt(self):
        return self._fcnt if 2 <= self._mtype <= 5 else None

    @property
    def fport(self):
        return self._fport if self._fport >= 0 else None

    @property
    def fopts(self):
        b = self._fopts_bytes()
        return b.hex() if b is not None else None

    @property
    def frm_payload(self):
        return self._payload

    @property
    def mac_commands(self):
        if not 2 <= self._mtype <= 5:
            return None
        cdef bint up = self._mtype == 2 or self._mtype == 4
        if self._fport == 0:
            return _mac_commands(self._payload, up) if self._flags & PAYLOAD_PLAIN else None
        return _mac_commands(self._fopts_bytes(), up) if self._flags & FOPTS_PLAIN else None

    # ---- join-request, join-accept, rejoin-request

    @property
    def join_eui(self):
        if self._mtype == 0:
            return _display(self._raw[1:9])
        if self._mtype == 6 and self._raw[1] == 1:
            return _display(self._raw[2:10])
        return None

    @property
    def dev_eui(self):
        if self._mtype == 0:
            return _display(self._raw[9:17])
        if self._mtype == 6:
            return _display(self._raw[10:18] if self._raw[1] == 1 else self._raw[5:13])
        return None

    @property
    def dev_nonce(self):
        return int.from_bytes(self._raw[17:19], "little") if self._mtype == 0 else None

    cdef bint _ja(self):
        return self._mtype == 1 and self._flags & JA_PLAIN

    @property
    def join_nonce(self):
        return _display(self._raw[1:4]) if self._ja() else None

    @property
    def net_id(self):
        if self._ja():
            return _display(self._raw[4:7])
        if self._mtype == 6 and self._raw[1] != 1:
            return _display(self._raw[2:5])
        return None

    @property
    def dl_settings(self):
        return self._raw[11:12].hex() if self._ja() else None

    @property
    def rx_delay(self):
        return self._raw[12] if self._ja() else None

    @property
    def cflist(self):
        return self._raw[13:29].hex() if self._ja() and len(self._raw) == 33 else None

    @property
    def rejoin_type(self):
        return self._raw[1] if self._mtype == 6 else None

    @property
    def rj_count(self):
        if self._mtype != 6:
            return None
        return int.from_bytes(self._raw[18:20] if self._raw[1] == 1 else self._raw[13:15],
                              "little")

    # ----

    def to_dict(self):
        """The frame as ``hromada lorawan decode --json`` prints it."""
        cdef int m = self._mtype
        if 2 <= m <= 5:
            p = self._payload
            d = {"mtype": self.mtype, "dev_addr": self.dev_addr, "fctrl": self.fctrl,
                 "fcnt": self._fcnt, "fport": self.fport, "fopts": self.fopts,
                 "frm_payload": p.hex() if p is not None else None}
        elif m == 0:
            d = {"mtype": self.mtype, "join_eui": self.join_eui, "dev_eui": self.dev_eui,
                 "dev_nonce": self.dev_nonce}
        elif m == 1:
            d = {"mtype": self.mtype, "join_nonce": self.join_nonce, "net_id": self.net_id,
                 "dev_addr": self.dev_addr, "dl_settings": self.dl_settings,
                 "rx_delay": self.rx_delay, "cflist": self.cflist}
        elif m == 6:
            d = {"mtype": self.mtype, "rejoin_type": self.rejoin_type}
            if self._raw[1] == 1:
                d["join_eui"] = self.join_eui
            else:
                d["net_id"] = self.net_id
            d["dev_eui"] = self.dev_eui
            d["rj_count"] = self.rj_count
        else:
            return {"mtype": self.mtype, "frm_payload": self._payload.hex(), "mic": None,
                    "mic_ok": None}
        d["mic"] = self.mic
        d["mic_ok"] = self.mic_ok
        if 2 <= m <= 5:
            d["mac_commands"] = self.mac_commands
        return d


def _rebuild(mtype, raw, payload, fopts, fcnt, fport, mic_ok, flags):
    return _make(mtype, raw, payload, fopts, fcnt, fport, mic_ok, flags)
