"""LoRaWAN MAC layer, pure-Python twin of ``hromada._lorawan`` (same API).

Parses PHYPayloads of every message type, checks MICs (LoRaWAN 1.0.x and 1.1) and
decrypts FRMPayload, FOpts (1.1) and join-accepts, using AES from the ``cryptography``
package.  It is the readable reference for the compiled module and the oracle of the
differential tests; ``hromada.lorawan`` is the public API built on whichever of the two
is loaded.

Conventions: ``dev_addr`` arguments are ints (the DevAddr as a number, sent little-endian
on the wire); keys are 16-byte ``bytes``; ``fcnt`` hints are the next expected 32-bit
counter, from which the 32-bit value of a frame's 16-bit counter is reconstructed.
Keys never appear in a repr or an exception message.
"""

from cryptography.hazmat.primitives import cmac as _cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from hromada.errors import DecodeError

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
_PAYLOAD_PLAIN = 1
_FOPTS_PLAIN = 2
_JA_PLAIN = 4


def backends():
    """AES backends this implementation can use."""
    return ["cryptography"]


def backend():
    """The AES backend in use."""
    return "cryptography"


def set_backend(name):
    """Select an AES backend (the pure twin has only ``cryptography``); returns it."""
    if name not in ("auto", "cryptography"):
        raise ValueError(f"unknown AES backend {name!r}; available: cryptography")
    return "cryptography"


def _check_key(key, name="key"):
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be bytes, not {type(key).__name__}")
    key = bytes(key)
    if len(key) != 16:
        raise ValueError(f"{name} must be 16 bytes, got {len(key)}")
    return key


def _check_bytes(data, name):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be bytes, not {type(data).__name__}")
    return bytes(data)


def _check_u32(v, name):
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 0xFFFFFFFF:
        raise ValueError(f"{name} must be an integer from 0 to 4294967295")
    return v


def _check_u8(v, name):
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 0xFF:
        raise ValueError(f"{name} must be an integer from 0 to 255")
    return v


def _check_u16(v, name):
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 0xFFFF:
        raise ValueError(f"{name} must be an integer from 0 to 65535")
    return v


class _Key:
    """One AES-128 key with its ECB contexts, so the key schedule is computed once."""

    __slots__ = ("_key", "_enc", "_dec")

    def __init__(self, key):
        self._key = key
        cipher = Cipher(algorithms.AES(key), modes.ECB())
        self._enc = cipher.encryptor()
        self._dec = cipher.decryptor()

    def __repr__(self):
        return "<AES key>"

    def encrypt(self, blocks):
        return self._enc.update(blocks)

    def decrypt(self, blocks):
        return self._dec.update(blocks)

    def cmac(self, data):
        c = _cmac.CMAC(algorithms.AES(self._key))
        c.update(data)
        return c.finalize()


# --------------------------------------------------------------------------------------
# Primitives (also what the FIPS-197 / RFC 4493 / LoRaWAN crypto vectors are checked on).


def aes_encrypt(key, block):
    """AES-128 encryption of one 16-byte block."""
    key = _check_key(key)
    block = _check_bytes(block, "block")
    if len(block) != 16:
        raise ValueError(f"block must be 16 bytes, got {len(block)}")
    return _Key(key).encrypt(block)


def aes_decrypt(key, block):
    """AES-128 decryption of one 16-byte block."""
    key = _check_key(key)
    block = _check_bytes(block, "block")
    if len(block) != 16:
        raise ValueError(f"block must be 16 bytes, got {len(block)}")
    return _Key(key).decrypt(block)


def aes_cmac(key, msg):
    """AES-CMAC (RFC 4493) of ``msg``: 16 bytes."""
    return _Key(_check_key(key)).cmac(_check_bytes(msg, "msg"))


def _block(tag, p1, p2, p3, p4, direction, dev_addr, fcnt, last):
    return bytes((tag, p1, p2, p3, p4, direction)) + dev_addr.to_bytes(4, "little") + \
        fcnt.to_bytes(4, "little") + bytes((0, last))


def _keystream_xor(k, selector, direction, dev_addr, fcnt, first, data):
    n = len(data)
    if not n:
        return b""
    blocks = b"".join(_block(1, 0, 0, 0, selector, direction, dev_addr, fcnt, (first + i) & 0xFF)
                      for i in range((n + 15) // 16))
    stream = k.encrypt(blocks)
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream[:n], "big")).to_bytes(n, "big")


def _data_mic(k, conf_fcnt, tx_dr, tx_ch, direction, dev_addr, fcnt, msg):
    b = _block(0x49, conf_fcnt & 0xFF, conf_fcnt >> 8, tx_dr, tx_ch, direction, dev_addr, fcnt,
               len(msg) & 0xFF)
    return k.cmac(b + msg)[:4]


def frm_crypt(key, dev_addr, fcnt, direction, data):
    """Encrypt or decrypt an FRMPayload (the same operation): LoRaWAN 4.3.3."""
    key = _check_key(key)
    _check_u32(dev_addr, "dev_addr")
    _check_u32(fcnt, "fcnt")
    direction = _check_direction(direction)
    return _keystream_xor(_Key(key), 0, direction, dev_addr, fcnt, 1, _check_bytes(data, "data"))


def fopts_crypt(key, dev_addr, fcnt, direction, data, scheme="errata", afcnt_down=False):
    """Encrypt or decrypt LoRaWAN 1.1 FOpts with NwkSEncKey.

    ``scheme`` "errata" (the FCntDwn erratum, default): A[4] selects the counter (0 uplink,
    1 NFCntDown, 2 AFCntDown when ``afcnt_down``) and A[15] = 1; "original": the block of
    the 1.1 specification as first published (A[4] = 0, A[15] = 0).
    """
    key = _check_key(key)
    _check_u32(dev_addr, "dev_addr")
    _check_u32(fcnt, "fcnt")
    direction = _check_direction(direction)
    data = _check_bytes(data, "data")
    if len(data) > 15:
        raise ValueError(f"FOpts are at most 15 bytes, got {len(data)}")
    selector, first = _fopts_block(scheme, direction, afcnt_down)
    return _keystream_xor(_Key(key), selector, direction, dev_addr, fcnt, first, data)


def _fopts_block(scheme, direction, afcnt_down):
    if scheme == "errata":
        return (0 if direction == 0 else (2 if afcnt_down else 1)), 1
    if scheme == "original":
        return 0, 0
    raise ValueError(f"scheme must be 'errata' or 'original', not {scheme!r}")


def _check_direction(direction):
    if direction not in (0, 1) or isinstance(direction, bool):
        raise ValueError("direction must be 0 (uplink) or 1 (downlink)")
    return direction


def data_mic(key, dev_addr, fcnt, direction, msg, conf_fcnt=0, tx_dr=0, tx_ch=0):
    """First 4 bytes of CMAC(key, B || msg) with B = [0x49, ConfFCnt, TxDr, TxCh, Dir,
    DevAddr, FCnt, 0, len(msg)]: the 1.0 MIC, and each half-input of the 1.1 MICs."""
    key = _check_key(key)
    _check_u32(dev_addr, "dev_addr")
    _check_u32(fcnt, "fcnt")
    direction = _check_direction(direction)
    _check_u16(conf_fcnt, "conf_fcnt")
    _check_u8(tx_dr, "tx_dr")
    _check_u8(tx_ch, "tx_ch")
    return _data_mic(_Key(key), conf_fcnt, tx_dr, tx_ch, direction, dev_addr, fcnt,
                     _check_bytes(msg, "msg"))


def full_fcnt(next_expected, wire):
    """32-bit counter of a frame from its 16-bit wire value and the next expected counter.

    ``next_expected - 1`` (same low 16 bits) is a retransmission; anything else is the
    first counter at or after ``next_expected`` with the wire's low 16 bits (so a 16-bit
    rollover and the 32-bit wrap are followed).  ``None`` means no state: the wire value.
    """
    _check_u16(wire, "wire")
    if next_expected is None:
        return wire
    _check_u32(next_expected, "next_expected")
    if next_expected > 0 and wire == ((next_expected - 1) & 0xFFFF):
        return next_expected - 1
    return (next_expected + ((wire - next_expected) & 0xFFFF)) & 0xFFFFFFFF


# --------------------------------------------------------------------------------------
# Decoding.


def _err(field, offset, reason):
    return DecodeError(f"{field} at byte {offset}: {reason}", offset=offset, field=field)


def _check_fixed(n, kind, layout, total, size=None):
    """Error for a frame of fixed size ``total`` that has ``n`` bytes, or None."""
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


class Keys:
    """The keys of one device session, with their AES contexts made once.

    ``version`` "1.0": ``nwkskey`` (MIC, FPort-0 payloads) and ``appskey``.  "1.1":
    ``fnwksintkey`` and ``snwksintkey`` (MICs), ``nwksenckey`` (FOpts, FPort-0 payloads),
    ``appskey``.  Join frames: ``joinkey`` (AppKey in 1.0, NwkKey in 1.1: join-request
    MIC, join-accept encryption and 1.0 MIC), ``jsintkey`` (1.1 join-accept MIC, rejoin
    type 1 MIC), ``jsenckey`` (join-accepts answering a rejoin).  ``fopts_scheme`` is the
    1.1 FOpts encryption: "errata" (default), "original" or "none" (sent in clear).
    Every key is optional; a MIC that needs a missing key is reported as not checked.
    """

    __slots__ = ("version", "fopts_scheme", "_names", "_fnwk", "_snwk", "_nwkenc", "_app",
                 "_join", "_jsint", "_jsenc")

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
        ctx = {name: (_Key(_check_key(k, name)) if k is not None else None)
               for name, k in given.items()}
        self.version = version
        self.fopts_scheme = fopts_scheme
        self._names = tuple(n for n in _KEY_NAMES if given[n] is not None)
        if version == "1.0":
            self._fnwk = self._snwk = self._nwkenc = ctx["nwkskey"]
        else:
            self._fnwk = ctx["fnwksintkey"]
            self._snwk = ctx["snwksintkey"]
            self._nwkenc = ctx["nwksenckey"]
        self._app = ctx["appskey"]
        self._join = ctx["joinkey"]
        self._jsint = ctx["jsintkey"]
        self._jsenc = ctx["jsenckey"]

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
        phy = _check_bytes(phy, "phy")
        if fcnt is not None:
            _check_u32(fcnt, "fcnt")
        _check_u16(conf_fcnt, "conf_fcnt")
        _check_u8(tx_dr, "tx_dr")
        _check_u8(tx_ch, "tx_ch")
        _check_u8(join_req_type, "join_req_type")
        if join_eui is not None:
            join_eui = _check_bytes(join_eui, "join_eui")
            if len(join_eui) != 8:
                raise ValueError(f"join_eui must be 8 bytes, got {len(join_eui)}")
        if dev_nonce is not None:
            _check_u16(dev_nonce, "dev_nonce")
        return self._decode(phy, fcnt, conf_fcnt, tx_dr, tx_ch, join_req_type, join_eui,
                            dev_nonce)

    def decode_many(self, phys, fcnt=None, conf_fcnt=0, tx_dr=0, tx_ch=0):
        """Decode a batch of one session's frames; a bad frame raises DecodeError whose
        message starts with ``frame N:`` and whose ``index`` is N."""
        if fcnt is not None:
            _check_u32(fcnt, "fcnt")
        _check_u16(conf_fcnt, "conf_fcnt")
        _check_u8(tx_dr, "tx_dr")
        _check_u8(tx_ch, "tx_ch")
        out = []
        for i, phy in enumerate(phys):
            phy = _check_bytes(phy, "phy")
            try:
                out.append(self._decode(phy, fcnt, conf_fcnt, tx_dr, tx_ch, 0xFF, None, None))
            except DecodeError as exc:
                err = DecodeError(f"frame {i}: {exc}", offset=exc.offset, field=exc.field)
                err.index = i
                raise err from None
        return out

    # ----------------------------------------------------------------------------------

    def _decode(self, phy, fcnt, conf_fcnt, tx_dr, tx_ch, join_req_type, join_eui, dev_nonce):
        n = len(phy)
        if n == 0:
            raise _err("mhdr", 0, "empty frame")
        mhdr = phy[0]
        if mhdr & 3:
            raise _err("mhdr", 0,
                       f"unsupported LoRaWAN major version {mhdr & 3} (MHDR 0x{mhdr:02x})")
        mtype = mhdr >> 5
        if 2 <= mtype <= 5:
            return self._decode_data(phy, mtype, fcnt, conf_fcnt, tx_dr, tx_ch)
        if mtype == 0:
            e = _check_fixed(n, "join-request", _JOIN_REQUEST, 23)
            if e:
                raise e
            ok = None if self._join is None else self._join.cmac(phy[:19])[:4] == phy[19:]
            return LoRaFrame._make(0, phy, None, None, -1, -1, ok, 0)
        if mtype == 1:
            return self._decode_join_accept(phy, join_req_type, join_eui, dev_nonce)
        if mtype == 6:
            if n < 2:
                raise _err("rejoin_type", 1, f"frame too short (length {n}); a rejoin-request"
                           " is 19 bytes (type 0 or 2) or 24 (type 1)")
            rtype = phy[1]
            if rtype in (0, 2):
                e = _check_fixed(n, f"type {rtype} rejoin-request", _REJOIN_02, 19)
                key = self._snwk
            elif rtype == 1:
                e = _check_fixed(n, "type 1 rejoin-request", _REJOIN_1, 24)
                key = self._jsint
            else:
                raise _err("rejoin_type", 1, f"unknown rejoin type {rtype}")
            if e:
                raise e
            ok = None if key is None else key.cmac(phy[:-4])[:4] == phy[-4:]
            return LoRaFrame._make(6, phy, None, None, -1, -1, ok, 0)
        # Proprietary: the format is the vendor's; nothing to check.
        return LoRaFrame._make(7, phy, phy[1:], None, -1, -1, None, _PAYLOAD_PLAIN)

    def _decode_data(self, phy, mtype, fcnt_hint, conf_fcnt, tx_dr, tx_ch):
        n = len(phy)
        if n < 12:
            raise _check_fixed(n, "data frame", _DATA, 12, "at least 12 bytes")
        end = n - 4
        fctrl = phy[5]
        fopts_len = fctrl & 0x0F
        if 8 + fopts_len > end:
            raise _err("fopts", 8, f"FOptsLen is {fopts_len} but the frame has room for "
                       f"{end - 8} before the MIC")
        fport = -1
        if end > 8 + fopts_len:
            fport = phy[8 + fopts_len]
            if fport == 0 and fopts_len:
                raise _err("fport", 8 + fopts_len, f"FPort 0 with FOptsLen {fopts_len} (MAC "
                           "commands in both)")
        direction = 0 if mtype in (2, 4) else 1
        dev_addr = int.from_bytes(phy[1:5], "little")
        wire = phy[6] | (phy[7] << 8)
        fcnt = full_fcnt(fcnt_hint, wire)
        msg = phy[:end]
        ack = fctrl & 0x20
        conf = conf_fcnt if ack else 0
        mic_ok = None
        if self.version == "1.0":
            if self._snwk is not None:
                mic_ok = _data_mic(self._snwk, 0, 0, 0, direction, dev_addr, fcnt, msg) == \
                    phy[end:]
        elif direction == 0:
            if self._fnwk is not None and self._snwk is not None:
                f = _data_mic(self._fnwk, 0, 0, 0, 0, dev_addr, fcnt, msg)
                s = _data_mic(self._snwk, conf, tx_dr, tx_ch, 0, dev_addr, fcnt, msg)
                mic_ok = s[:2] + f[:2] == phy[end:]
        elif self._snwk is not None:
            mic_ok = _data_mic(self._snwk, conf, 0, 0, 1, dev_addr, fcnt, msg) == phy[end:]
        flags = 0
        fopts = phy[8:8 + fopts_len]
        if self.version == "1.1" and fopts_len and self.fopts_scheme != "none":
            if self._nwkenc is not None:
                selector, first = _fopts_block(self.fopts_scheme, direction, fport > 0)
                fopts = _keystream_xor(self._nwkenc, selector, direction, dev_addr, fcnt, first,
                                       fopts)
                flags |= _FOPTS_PLAIN
        else:
            flags |= _FOPTS_PLAIN
        payload = None
        if fport >= 0:
            payload = phy[9 + fopts_len:end]
            key = self._nwkenc if fport == 0 else self._app
            if key is not None:
                payload = _keystream_xor(key, 0, direction, dev_addr, fcnt, 1, payload)
                flags |= _PAYLOAD_PLAIN
            elif not payload:
                flags |= _PAYLOAD_PLAIN
        return LoRaFrame._make(mtype, phy, payload, fopts, fcnt, fport, mic_ok, flags)

    def _decode_join_accept(self, phy, join_req_type, join_eui, dev_nonce):
        n = len(phy)
        if n < 17:
            raise _check_fixed(n, "join-accept", _JOIN_ACCEPT, 17, "17 or 33 bytes")
        if 17 < n < 33:
            raise _err("cflist", 13, f"incomplete CFList (frame length {n}); a join-accept "
                       "is 17 or 33 bytes")
        if n > 33:
            raise _err("phy_payload", 33, f"frame too long (length {n}); a join-accept is "
                       "17 or 33 bytes")
        key = self._jsenc if (join_req_type != 0xFF and self._jsenc is not None) else self._join
        if key is None:
            return LoRaFrame._make(1, phy, None, None, -1, -1, None, 0)
        # The server encrypts with AES decryption so that a device needs only encryption.
        plain = phy[:1] + key.encrypt(phy[1:])
        ok = self._join_accept_mic_ok(plain, join_req_type, join_eui, dev_nonce)
        if ok is not True and self._join_accept_mic_ok(phy, join_req_type, join_eui,
                                                       dev_nonce) is True:
            # Some tools print join-accepts before encryption; the MIC tells which it is.
            return LoRaFrame._make(1, phy, None, None, -1, -1, True, _JA_PLAIN)
        return LoRaFrame._make(1, plain, None, None, -1, -1, ok, _JA_PLAIN)

    def _join_accept_mic_ok(self, plain, join_req_type, join_eui, dev_nonce):
        if plain[11] & 0x80:  # OptNeg: a 1.1 join server answered
            if self._jsint is None or join_eui is None or dev_nonce is None:
                return None
            prefix = bytes((join_req_type,)) + join_eui + dev_nonce.to_bytes(2, "little")
            return self._jsint.cmac(prefix + plain[:-4])[:4] == plain[-4:]
        if self._join is None:
            return None
        return self._join.cmac(plain[:-4])[:4] == plain[-4:]


def _display(b):
    return b[::-1].hex()


def _mac_commands(data, uplink):
    from hromada.lorawan.maccmd import parse_mac_commands
    return parse_mac_commands(data, uplink)


class LoRaFrame:
    """One decoded LoRaWAN frame.  Attributes follow ``hromada lorawan decode --json``;
    those that do not apply to the frame's message type are None."""

    __slots__ = ("_mtype", "_raw", "_payload", "_fopts", "_fcnt", "_fport", "_mic_ok",
                 "_flags")

    def __init__(self):
        raise TypeError("LoRaFrame objects are made by decoding")

    @classmethod
    def _make(cls, mtype, raw, payload, fopts, fcnt, fport, mic_ok, flags):
        self = object.__new__(cls)
        s = object.__setattr__
        s(self, "_mtype", mtype)
        s(self, "_raw", raw)
        s(self, "_payload", payload)
        s(self, "_fopts", fopts)
        s(self, "_fcnt", fcnt)
        s(self, "_fport", fport)
        s(self, "_mic_ok", mic_ok)
        s(self, "_flags", flags)
        return self

    def __setattr__(self, name, value):
        raise AttributeError("LoRaFrame is immutable")

    def __delattr__(self, name):
        raise AttributeError("LoRaFrame is immutable")

    def _key(self):
        return (self._mtype, self._raw, self._payload, self._fopts, self._fcnt, self._fport,
                self._mic_ok, self._flags)

    def __eq__(self, other):
        if not isinstance(other, LoRaFrame):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __reduce__(self):
        return (_rebuild, self._key())

    def __repr__(self):
        parts = [f"mtype={self.mtype!r}"]
        for name in ("dev_addr", "dev_eui", "fcnt", "fport"):
            v = getattr(self, name)
            if v is not None:
                parts.append(f"{name}={v!r}")
        parts.append(f"mic_ok={self._mic_ok!r}")
        return f"LoRaFrame({', '.join(parts)})"

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
        if self._mtype == 7 or (self._mtype == 1 and not self._flags & _JA_PLAIN):
            return None
        return self._raw[-4:].hex()

    @property
    def mic_ok(self):
        return self._mic_ok

    @property
    def decrypted(self):
        """False when a payload (FRMPayload, FOpts, join-accept) stayed encrypted for want
        of its key."""
        if self._mtype == 1:
            return bool(self._flags & _JA_PLAIN)
        if 2 <= self._mtype <= 5:
            need = _FOPTS_PLAIN | (_PAYLOAD_PLAIN if self._fport >= 0 else 0)
            return self._flags & need == need
        return True

    # ---- data frames

    @property
    def dev_addr(self):
        if 2 <= self._mtype <= 5:
            return _display(self._raw[1:5])
        if self._mtype == 1 and self._flags & _JA_PLAIN:
            return _display(self._raw[7:11])
        return None

    @property
    def fctrl(self):
        if not 2 <= self._mtype <= 5:
            return None
        b = self._raw[5]
        up = self._mtype in (2, 4)
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
        return self._fopts.hex() if self._fopts is not None else None

    @property
    def frm_payload(self):
        return self._payload

    @property
    def mac_commands(self):
        if not 2 <= self._mtype <= 5:
            return None
        up = self._mtype in (2, 4)
        if self._fport == 0:
            return _mac_commands(self._payload, up) if self._flags & _PAYLOAD_PLAIN else None
        return _mac_commands(self._fopts, up) if self._flags & _FOPTS_PLAIN else None

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

    def _ja(self):
        return self._mtype == 1 and self._flags & _JA_PLAIN

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
        m = self._mtype
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
        d["mic_ok"] = self._mic_ok
        if 2 <= m <= 5:
            d["mac_commands"] = self.mac_commands
        return d


def _rebuild(mtype, raw, payload, fopts, fcnt, fport, mic_ok, flags):
    return LoRaFrame._make(mtype, raw, payload, fopts, fcnt, fport, mic_ok, flags)
