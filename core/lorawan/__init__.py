"""LoRaWAN MAC layer: decode, verify, decrypt and build PHYPayloads (1.0.x and 1.1).

The work is done by ``hromada._lorawan`` (Cython + C AES) or its pure twin
``hromada._lorawan_py`` (the ``cryptography`` package), chosen by ``hromada.compiled``.
This module is the public face: it takes keys as bytes, hex strings or ``env:VAR``
references, identifiers in display order (MSB first, as ChirpStack and The Things Stack
print them), and adds frame building and key derivation.

>>> f = decode(bytes.fromhex("40F17DBE4900020001954378762B11FF0D"),
...            nwkskey="44024241ed4ce9a68c6a8bc055233fd3",
...            appskey="ec925802ae430ca77fd3dd73cb2cc588")
>>> f.mtype, f.dev_addr, f.fcnt, f.fport, f.frm_payload, f.mic_ok
('UnconfirmedDataUp', '49be7df1', 2, 1, b'test', True)

Keys are never printed, logged or put in a repr or an error message.
"""

from __future__ import annotations

import functools
import os
import re

import attrs

from hromada import compiled
from hromada.errors import EncodeError

from .maccmd import parse_mac_commands

_impl = compiled.load("lorawan")

#: The class of decoded frames (from the loaded implementation).
LoRaFrame = _impl.LoRaFrame
#: One session's keys with their AES contexts made once (from the loaded implementation).
Keys = _impl.Keys
MTYPES = _impl.MTYPES

__all__ = [
    "APP_FPORTS", "MTYPES", "JoinServerKeys", "Keys", "LoRaFrame", "SessionKeys", "aes_cmac",
    "aes_encrypt", "app_fport_problem", "data_mic", "decode", "decode_many", "derive_js_keys",
    "derive_session_keys_10", "derive_session_keys_11", "encode_data", "encode_join_accept",
    "encode_join_request", "encode_proprietary", "encode_rejoin_request", "fopts_crypt",
    "frm_crypt", "full_fcnt", "implementation", "join_accept_mic", "make_keys", "parse_key",
    "parse_mac_commands",
]


def implementation():
    """"compiled" or "pure": which MAC-layer implementation is loaded."""
    return compiled.modules.get("lorawan", "pure")


# --------------------------------------------------------------------------------------
# Argument parsing.

_HEX = re.compile(r"[0-9a-fA-F]*")


def parse_key(value, name="key"):
    """A 16-byte AES key from bytes, 32 hex digits, or ``env:VAR`` (hex in that variable).

    Error messages name the key and the variable, never the value.
    """
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value)
        if len(value) != 16:
            raise ValueError(f"{name}: expected 16 bytes, got {len(value)}")
        return value
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected bytes or a hex string, not {type(value).__name__}")
    text = value.strip()
    source = ""
    if text.startswith("env:"):
        var = text[4:]
        if var not in os.environ:
            raise ValueError(f"{name}: environment variable {var} is not set")
        text = os.environ[var].strip()
        source = f" (from environment variable {var})"
    text = text.replace(" ", "").replace(":", "").replace("-", "")
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    if len(text) != 32 or not _HEX.fullmatch(text):
        raise ValueError(f"{name}: expected 32 hex digits{source}")
    return bytes.fromhex(text)


def _id(value, size, name):
    """An identifier (DevAddr, EUI, NetID, JoinNonce) in display order -> wire bytes (LE)."""
    if isinstance(value, bool):
        raise TypeError(f"{name}: expected a hex string, an int or bytes, not bool")
    if isinstance(value, int):
        if not 0 <= value < 1 << (8 * size):
            raise ValueError(f"{name}: {value} does not fit in {size} bytes")
        return value.to_bytes(size, "little")
    if isinstance(value, str):
        text = value.strip().replace(":", "").replace("-", "").replace(" ", "")
        if text[:2] in ("0x", "0X"):
            text = text[2:]
        if len(text) != 2 * size or not _HEX.fullmatch(text):
            raise ValueError(f"{name}: expected {2 * size} hex digits, got {value!r}")
        return bytes.fromhex(text)[::-1]
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value)
        if len(value) != size:
            raise ValueError(f"{name}: expected {size} bytes, got {len(value)}")
        return value[::-1]
    raise TypeError(f"{name}: expected a hex string, an int or bytes, not {type(value).__name__}")


def _phy(value):
    if isinstance(value, str):
        text = "".join(value.split())
        if not _HEX.fullmatch(text) or len(text) % 2:
            raise ValueError("phy: expected bytes or an even number of hex digits")
        return bytes.fromhex(text)
    return value


def _data(value, name):
    if value is None:
        return b""
    if isinstance(value, str):
        return bytes.fromhex(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{name}: expected bytes or hex, not {type(value).__name__}")


_V11_KEYS = ("fnwksintkey", "snwksintkey", "nwksenckey")


def make_keys(*, version=None, nwkskey=None, appskey=None, fnwksintkey=None, snwksintkey=None,
              nwksenckey=None, appkey=None, nwkkey=None, jsintkey=None, jsenckey=None,
              fopts_scheme="errata"):
    """A :class:`Keys` for one session.  ``version`` defaults to "1.1" when a 1.1 session
    key is given, else "1.0".  Join frames use NwkKey when given (1.1), else AppKey."""
    given = {"nwkskey": nwkskey, "appskey": appskey, "fnwksintkey": fnwksintkey,
             "snwksintkey": snwksintkey, "nwksenckey": nwksenckey, "appkey": appkey,
             "nwkkey": nwkkey, "jsintkey": jsintkey, "jsenckey": jsenckey}
    parsed = {n: parse_key(v, n) for n, v in given.items()}
    if version is None:
        version = "1.1" if any(parsed[n] is not None for n in _V11_KEYS) else "1.0"
    joinkey = parsed["nwkkey"] if parsed["nwkkey"] is not None else parsed["appkey"]
    return _cached_keys(_impl, version, fopts_scheme, parsed["nwkskey"], parsed["appskey"],
                        parsed["fnwksintkey"], parsed["snwksintkey"], parsed["nwksenckey"],
                        joinkey, parsed["jsintkey"], parsed["jsenckey"])


@functools.lru_cache(maxsize=64)
def _cached_keys(impl, version, fopts_scheme, nwkskey, appskey, fnwksintkey, snwksintkey,
                 nwksenckey, joinkey, jsintkey, jsenckey):
    # Repeated decode() calls with the same keys reuse the AES schedules.
    return impl.Keys(version, nwkskey=nwkskey, appskey=appskey, fnwksintkey=fnwksintkey,
                snwksintkey=snwksintkey, nwksenckey=nwksenckey, joinkey=joinkey,
                jsintkey=jsintkey, jsenckey=jsenckey, fopts_scheme=fopts_scheme)


# --------------------------------------------------------------------------------------
# Decoding.


def decode(phy, *, nwkskey=None, appskey=None, fcnt=None, appkey=None, nwkkey=None,
           fnwksintkey=None, snwksintkey=None, nwksenckey=None, jsintkey=None, jsenckey=None,
           version=None, fopts_scheme="errata", conf_fcnt=0, tx_dr=0, tx_ch=0,
           join_req_type=0xFF, join_eui=None, dev_nonce=None):
    """Decode one PHYPayload (bytes or hex) into a :class:`LoRaFrame`.

    Data frames: ``nwkskey``/``appskey`` (1.0) or ``fnwksintkey``/``snwksintkey``/
    ``nwksenckey``/``appskey`` (1.1) check the MIC and decrypt; ``fcnt`` is the next
    expected 32-bit counter, from which the frame's 32-bit counter is rebuilt (default:
    the 16-bit wire value); ``conf_fcnt``/``tx_dr``/``tx_ch`` are the 1.1 MIC inputs;
    ``fopts_scheme`` the 1.1 FOpts encryption ("errata", "original", "none").
    Join frames: ``appkey`` (1.0) or ``nwkkey`` (1.1), ``jsintkey``/``jsenckey``, and for
    a 1.1 join-accept's MIC the request it answers: ``join_req_type``, ``join_eui``,
    ``dev_nonce``.  Without a needed key ``mic_ok`` is None and payloads stay encrypted.
    Raises :class:`hromada.DecodeError` (naming field and byte offset) for bad frames.
    """
    keys = make_keys(version=version, nwkskey=nwkskey, appskey=appskey,
                     fnwksintkey=fnwksintkey, snwksintkey=snwksintkey, nwksenckey=nwksenckey,
                     appkey=appkey, nwkkey=nwkkey, jsintkey=jsintkey, jsenckey=jsenckey,
                     fopts_scheme=fopts_scheme)
    je = _id(join_eui, 8, "join_eui") if join_eui is not None else None
    return keys.decode(_phy(phy), fcnt, conf_fcnt, tx_dr, tx_ch, join_req_type, je, dev_nonce)


def decode_many(phys, *, nwkskey=None, appskey=None, fcnt=None, fnwksintkey=None,
                snwksintkey=None, nwksenckey=None, version=None, fopts_scheme="errata",
                conf_fcnt=0, tx_dr=0, tx_ch=0):
    """Decode many frames of one device session in one call into the MAC layer.

    Returns a list of :class:`LoRaFrame` (the compiled implementation builds them as
    light C objects with the same attributes).  A bad frame raises DecodeError whose
    message starts with ``frame N:``.  Every frame's counter is rebuilt from ``fcnt``
    alone (like :func:`decode`), so the result does not depend on the order of frames.
    """
    keys = make_keys(version=version, nwkskey=nwkskey, appskey=appskey,
                     fnwksintkey=fnwksintkey, snwksintkey=snwksintkey, nwksenckey=nwksenckey,
                     fopts_scheme=fopts_scheme)
    return keys.decode_many(phys, fcnt, conf_fcnt, tx_dr, tx_ch)


# --------------------------------------------------------------------------------------
# Crypto primitives (vectors, tools).

def aes_encrypt(key, block):
    """AES-128 encryption of one 16-byte block."""
    return _impl.aes_encrypt(parse_key(key), _data(block, "block"))


def aes_cmac(key, msg):
    """AES-CMAC (RFC 4493) of ``msg``."""
    return _impl.aes_cmac(parse_key(key), _data(msg, "msg"))


def full_fcnt(next_expected, wire):
    """32-bit counter of a frame from its 16-bit ``wire`` value and the next expected
    counter (None: no state, the wire value): a retransmission of the last counter, else
    the first counter at or after ``next_expected`` ending in ``wire``."""
    return _impl.full_fcnt(next_expected, wire)


def frm_crypt(key, dev_addr, fcnt, direction, data):
    """Encrypt/decrypt an FRMPayload; ``dev_addr`` in display order (hex, int or bytes)."""
    return _impl.frm_crypt(parse_key(key), _addr(dev_addr), fcnt, direction, _data(data, "data"))


def fopts_crypt(key, dev_addr, fcnt, direction, data, scheme="errata", afcnt_down=False):
    """Encrypt/decrypt 1.1 FOpts (``scheme`` "errata" or "original")."""
    return _impl.fopts_crypt(parse_key(key), _addr(dev_addr), fcnt, direction,
                             _data(data, "data"), scheme, afcnt_down)


def data_mic(key, dev_addr, fcnt, direction, msg, conf_fcnt=0, tx_dr=0, tx_ch=0):
    """CMAC(key, B || msg)[:4] with B the data-frame MIC block (1.0 MIC, 1.1 halves)."""
    return _impl.data_mic(parse_key(key), _addr(dev_addr), fcnt, direction, _data(msg, "msg"),
                          conf_fcnt, tx_dr, tx_ch)


def join_accept_mic(key, msg, *, join_req_type=None, join_eui=None, dev_nonce=None):
    """MIC of a plaintext join-accept ``msg`` (MHDR .. CFList, without MIC).

    1.0 (and 1.1 with OptNeg unset): CMAC(key, msg).  1.1 OptNeg: give ``join_req_type``,
    ``join_eui`` and ``dev_nonce``; the MIC is CMAC(JSIntKey, JoinReqType | JoinEUI |
    DevNonce | msg).
    """
    msg = _data(msg, "msg")
    if join_eui is not None or dev_nonce is not None or join_req_type is not None:
        if join_eui is None or dev_nonce is None:
            raise ValueError("a 1.1 join-accept MIC needs join_eui and dev_nonce")
        jrt = 0xFF if join_req_type is None else join_req_type
        msg = bytes((jrt,)) + _id(join_eui, 8, "join_eui") + _u16(dev_nonce, "dev_nonce") + msg
    return _impl.aes_cmac(parse_key(key), msg)[:4]


def _addr(dev_addr):
    return int.from_bytes(_id(dev_addr, 4, "dev_addr"), "little")


def _u16(v, name):
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 0xFFFF:
        raise ValueError(f"{name} must be an integer from 0 to 65535")
    return v.to_bytes(2, "little")


# --------------------------------------------------------------------------------------
# Key derivation.


@attrs.frozen
class SessionKeys:
    """Session keys derived at a join.  1.0: ``nwkskey``, ``appskey``; 1.1:
    ``fnwksintkey``, ``snwksintkey``, ``nwksenckey``, ``appskey``.  Not in the repr."""

    version: str
    appskey: bytes = attrs.field(repr=False)
    nwkskey: bytes | None = attrs.field(default=None, repr=False)
    fnwksintkey: bytes | None = attrs.field(default=None, repr=False)
    snwksintkey: bytes | None = attrs.field(default=None, repr=False)
    nwksenckey: bytes | None = attrs.field(default=None, repr=False)

    def as_kwargs(self):
        """Keyword arguments for :func:`decode`, :func:`make_keys` and the encoders."""
        names = ("nwkskey", "appskey") if self.version == "1.0" else \
            ("fnwksintkey", "snwksintkey", "nwksenckey", "appskey")
        return {n: getattr(self, n) for n in names}


@attrs.frozen
class JoinServerKeys:
    """JSIntKey and JSEncKey of a 1.1 device (not in the repr)."""

    jsintkey: bytes = attrs.field(repr=False)
    jsenckey: bytes = attrs.field(repr=False)


def derive_session_keys_10(appkey, *, join_nonce, net_id, dev_nonce):
    """LoRaWAN 1.0 (and 1.1 with OptNeg unset): NwkSKey and AppSKey from AppKey."""
    key = parse_key(appkey, "appkey")
    tail = _id(join_nonce, 3, "join_nonce") + _id(net_id, 3, "net_id") + \
        _u16(dev_nonce, "dev_nonce") + bytes(7)
    return SessionKeys("1.0", appskey=_impl.aes_encrypt(key, b"\x02" + tail),
                       nwkskey=_impl.aes_encrypt(key, b"\x01" + tail))


def derive_session_keys_11(nwkkey, appkey, *, join_nonce, join_eui, dev_nonce):
    """LoRaWAN 1.1: FNwkSIntKey, SNwkSIntKey, NwkSEncKey from NwkKey, AppSKey from AppKey."""
    nk = parse_key(nwkkey, "nwkkey")
    ak = parse_key(appkey, "appkey")
    tail = _id(join_nonce, 3, "join_nonce") + _id(join_eui, 8, "join_eui") + \
        _u16(dev_nonce, "dev_nonce") + bytes(2)
    return SessionKeys("1.1", appskey=_impl.aes_encrypt(ak, b"\x02" + tail),
                       fnwksintkey=_impl.aes_encrypt(nk, b"\x01" + tail),
                       snwksintkey=_impl.aes_encrypt(nk, b"\x03" + tail),
                       nwksenckey=_impl.aes_encrypt(nk, b"\x04" + tail))


def derive_js_keys(nwkkey, dev_eui):
    """LoRaWAN 1.1 JSIntKey and JSEncKey from NwkKey and DevEUI."""
    nk = parse_key(nwkkey, "nwkkey")
    tail = _id(dev_eui, 8, "dev_eui") + bytes(7)
    return JoinServerKeys(jsintkey=_impl.aes_encrypt(nk, b"\x06" + tail),
                          jsenckey=_impl.aes_encrypt(nk, b"\x05" + tail))


# --------------------------------------------------------------------------------------
# Encoding.

_DATA_MTYPES = {"UnconfirmedDataUp": 2, "UnconfirmedDataDown": 3, "ConfirmedDataUp": 4,
                "ConfirmedDataDown": 5}


def encode_data(*, dev_addr, fcnt, fport=None, payload=b"", fopts=b"", uplink=True,
                confirmed=False, mtype=None, adr=False, adr_ack_req=False, ack=False,
                fpending=False, class_b=False, nwkskey=None, appskey=None, fnwksintkey=None,
                snwksintkey=None, nwksenckey=None, version=None, fopts_scheme="errata",
                conf_fcnt=0, tx_dr=0, tx_ch=0):
    """Build a data frame: FRMPayload and (1.1) FOpts encrypted, MIC computed.

    ``payload`` and ``fopts`` are plaintext; ``fcnt`` is the full 32-bit counter (its low
    16 bits go on the air).  ``mtype`` (a name such as "ConfirmedDataDown") overrides
    ``uplink``/``confirmed``.  Raises :class:`hromada.EncodeError` for impossible frames
    or missing keys.
    """
    if mtype is not None:
        if mtype not in _DATA_MTYPES:
            raise EncodeError(f"mtype must be one of {', '.join(_DATA_MTYPES)}, not {mtype!r}")
        m = _DATA_MTYPES[mtype]
    else:
        m = (4 if confirmed else 2) + (0 if uplink else 1)
    up = m in (2, 4)
    direction = 0 if up else 1
    payload = _data(payload, "payload")
    fopts = _data(fopts, "fopts")
    if not isinstance(fcnt, int) or isinstance(fcnt, bool) or not 0 <= fcnt <= 0xFFFFFFFF:
        raise EncodeError("fcnt must be an integer from 0 to 4294967295")
    if len(fopts) > 15:
        raise EncodeError(f"FOpts are at most 15 bytes, got {len(fopts)}")
    if fport is None and payload:
        raise EncodeError("a payload needs an FPort")
    if fport is not None:
        if not isinstance(fport, int) or isinstance(fport, bool) or not 0 <= fport <= 255:
            raise EncodeError("fport must be an integer from 0 to 255")
        if fport == 0 and fopts:
            raise EncodeError("FPort 0 carries MAC commands; FOpts must then be empty")
    if fpending and up:
        raise EncodeError("fpending is a downlink flag")
    if class_b and not up:
        raise EncodeError("class_b is an uplink flag")
    keys = make_keys(version=version, nwkskey=nwkskey, appskey=appskey,
                     fnwksintkey=fnwksintkey, snwksintkey=snwksintkey, nwksenckey=nwksenckey,
                     fopts_scheme=fopts_scheme)
    v11 = keys.version == "1.1"
    addr_le = _id(dev_addr, 4, "dev_addr")
    addr = int.from_bytes(addr_le, "little")
    given = {"nwkskey": parse_key(nwkskey, "nwkskey"), "appskey": parse_key(appskey, "appskey"),
             "fnwksintkey": parse_key(fnwksintkey, "fnwksintkey"),
             "snwksintkey": parse_key(snwksintkey, "snwksintkey"),
             "nwksenckey": parse_key(nwksenckey, "nwksenckey")}

    def need(name):
        if given[name] is None:
            raise EncodeError(f"this frame needs {name}")
        return given[name]

    if v11 and fopts and fopts_scheme != "none":
        fopts = _impl.fopts_crypt(need("nwksenckey"), addr, fcnt, direction, fopts,
                                  fopts_scheme, bool(fport))
    frm = b""
    if fport is not None:
        key = need("nwksenckey" if v11 else "nwkskey") if fport == 0 else need("appskey")
        frm = bytes((fport,)) + _impl.frm_crypt(key, addr, fcnt, direction, payload)
    fctrl = (adr << 7) | (adr_ack_req << 6) | (ack << 5) | ((fpending or class_b) << 4) | \
        len(fopts)
    msg = bytes((m << 5,)) + addr_le + bytes((fctrl,)) + (fcnt & 0xFFFF).to_bytes(2, "little") \
        + fopts + frm
    conf = conf_fcnt if ack else 0
    if not v11:
        mic = _impl.data_mic(need("nwkskey"), addr, fcnt, direction, msg)
    elif up:
        f = _impl.data_mic(need("fnwksintkey"), addr, fcnt, 0, msg)
        s = _impl.data_mic(need("snwksintkey"), addr, fcnt, 0, msg, conf, tx_dr, tx_ch)
        mic = s[:2] + f[:2]
    else:
        mic = _impl.data_mic(need("snwksintkey"), addr, fcnt, 1, msg, conf)
    return msg + mic


def encode_join_request(*, join_eui, dev_eui, dev_nonce, appkey=None, nwkkey=None):
    """Build a join-request; the MIC uses NwkKey (1.1) or AppKey (1.0)."""
    key = parse_key(nwkkey, "nwkkey") or parse_key(appkey, "appkey")
    if key is None:
        raise EncodeError("a join-request needs appkey (1.0) or nwkkey (1.1)")
    msg = b"\x00" + _id(join_eui, 8, "join_eui") + _id(dev_eui, 8, "dev_eui") + \
        _u16(dev_nonce, "dev_nonce")
    return msg + _impl.aes_cmac(key, msg)[:4]


def encode_join_accept(*, join_nonce, net_id, dev_addr, appkey=None, nwkkey=None,
                       dl_settings=0, rx_delay=1, cflist=None, jsintkey=None, jsenckey=None,
                       join_req_type=0xFF, join_eui=None, dev_nonce=None, encrypt=True):
    """Build a join-accept, encrypted as a network sends it (``encrypt=False``: plaintext).

    ``dl_settings`` (int or hex) bit 7 is OptNeg: set, the MIC is the 1.1 one over
    ``join_req_type``/``join_eui``/``dev_nonce`` with ``jsintkey``.  Encryption uses
    NwkKey (1.1) or AppKey (1.0), or ``jsenckey`` when answering a rejoin
    (``join_req_type`` 0, 1 or 2).
    """
    if isinstance(dl_settings, str):
        dl_settings = int(dl_settings, 16)
    for name, v in (("dl_settings", dl_settings), ("rx_delay", rx_delay),
                    ("join_req_type", join_req_type)):
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 255:
            raise EncodeError(f"{name} must be an integer from 0 to 255")
    cf = _data(cflist, "cflist")
    if len(cf) not in (0, 16):
        raise EncodeError(f"cflist must be 16 bytes, got {len(cf)}")
    msg = b"\x20" + _id(join_nonce, 3, "join_nonce") + _id(net_id, 3, "net_id") + \
        _id(dev_addr, 4, "dev_addr") + bytes((dl_settings, rx_delay)) + cf
    root = parse_key(nwkkey, "nwkkey") or parse_key(appkey, "appkey")
    if dl_settings & 0x80:
        jsint = parse_key(jsintkey, "jsintkey")
        if jsint is None or join_eui is None or dev_nonce is None:
            raise EncodeError("an OptNeg (1.1) join-accept needs jsintkey, join_eui and "
                              "dev_nonce for its MIC")
        mic = join_accept_mic(jsint, msg, join_req_type=join_req_type, join_eui=join_eui,
                              dev_nonce=dev_nonce)
    else:
        if root is None:
            raise EncodeError("a join-accept needs appkey (1.0) or nwkkey (1.1)")
        mic = _impl.aes_cmac(root, msg)[:4]
    plain = msg + mic
    if not encrypt:
        return plain
    enc_key = root
    if join_req_type != 0xFF and jsenckey is not None:
        enc_key = parse_key(jsenckey, "jsenckey")
    if enc_key is None:
        raise EncodeError("encrypting a join-accept needs appkey (1.0) or nwkkey (1.1)")
    body = plain[1:]
    # AES decryption encrypts, so that the device needs only the encryption direction.
    return plain[:1] + b"".join(_impl.aes_decrypt(enc_key, body[i:i + 16])
                                for i in range(0, len(body), 16))


def encode_rejoin_request(*, rejoin_type, dev_eui, rj_count, net_id=None, join_eui=None,
                          snwksintkey=None, jsintkey=None):
    """Build a 1.1 rejoin-request: type 0/2 (``net_id``, MIC with SNwkSIntKey) or type 1
    (``join_eui``, MIC with JSIntKey)."""
    if rejoin_type in (0, 2):
        if net_id is None:
            raise EncodeError(f"a type {rejoin_type} rejoin-request needs net_id")
        body = _id(net_id, 3, "net_id")
        key = parse_key(snwksintkey, "snwksintkey")
        if key is None:
            raise EncodeError(f"a type {rejoin_type} rejoin-request needs snwksintkey")
    elif rejoin_type == 1:
        if join_eui is None:
            raise EncodeError("a type 1 rejoin-request needs join_eui")
        body = _id(join_eui, 8, "join_eui")
        key = parse_key(jsintkey, "jsintkey")
        if key is None:
            raise EncodeError("a type 1 rejoin-request needs jsintkey")
    else:
        raise EncodeError(f"rejoin_type must be 0, 1 or 2, not {rejoin_type!r}")
    msg = bytes((0xC0, rejoin_type)) + body + _id(dev_eui, 8, "dev_eui") + \
        _u16(rj_count, "rj_count")
    return msg + _impl.aes_cmac(key, msg)[:4]


def encode_proprietary(payload):
    """A proprietary frame: MHDR 0xE0 and the vendor's bytes."""
    return b"\xe0" + _data(payload, "payload")


# --------------------------------------------------------------------------------------
# Commands.

#: FPorts of application payloads.  0 carries MAC commands only, 224 is the MAC layer
#: test port and 225..255 are reserved (LoRaWAN 1.0.4 and 1.1, section 4.3.2).
APP_FPORTS = range(1, 224)


def app_fport_problem(device, fport):
    """Why a command's ``fport`` may not carry it to ``device`` as an application
    downlink, or None when it is an application port (1..223).  Every LoRaWAN source
    refuses such a command before sending it."""
    if fport is None:
        return f"command for device {device} has no fPort (application ports are 1..223)"
    if isinstance(fport, bool) or not isinstance(fport, int) or fport not in APP_FPORTS:
        return (f"command for device {device}: fPort {fport!r} is not an application port "
                "(1..223)")
    return None
