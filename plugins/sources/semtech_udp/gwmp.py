"""The Semtech UDP packet forwarder protocol (GWMP, versions 1 and 2).

Gateways running Semtech's packet forwarder (and its many forks) talk to a network
server in UDP datagrams with a 4-byte header (protocol version, a 2-byte token, an
identifier) and, for most kinds, the gateway's 8-byte EUI and a JSON object:

==========  ====  =========================================================
PUSH_DATA   0x00  gateway -> server: ``{"rxpk": [...], "stat": {...}}``
PUSH_ACK    0x01  server -> gateway: the PUSH_DATA's token echoed
PULL_DATA   0x02  gateway -> server: keep-alive that opens the downlink path
PULL_RESP   0x03  server -> gateway: ``{"txpk": {...}}`` to transmit
PULL_ACK    0x04  server -> gateway: the PULL_DATA's token echoed
TX_ACK      0x05  gateway -> server (v2): ``{"txpk_ack": {"error": "NONE"}}``
==========  ====  =========================================================

This module parses and builds those datagrams and reads the ``rxpk`` records (radio
metadata plus the base64 PHYPayload).  Every problem raises :class:`GwmpError` naming
the byte offset or the JSON field.  The EU868 data rates used to schedule downlinks
(RX1 on the uplink's channel and data rate, RX2 on 869.525 MHz DR0) are here too.
"""

from __future__ import annotations

import binascii
import json
import re

import attrs

from hromada.errors import DecodeError

PUSH_DATA, PUSH_ACK, PULL_DATA, PULL_RESP, PULL_ACK, TX_ACK = range(6)
NAMES = {PUSH_DATA: "PUSH_DATA", PUSH_ACK: "PUSH_ACK", PULL_DATA: "PULL_DATA",
         PULL_RESP: "PULL_RESP", PULL_ACK: "PULL_ACK", TX_ACK: "TX_ACK"}
#: Kinds that carry the gateway EUI in bytes 4-11.
WITH_EUI = (PUSH_DATA, PULL_DATA, TX_ACK)
VERSIONS = (1, 2)

#: TX_ACK ``error`` values of packet forwarder v2 ("NONE" means scheduled).
TX_ERRORS = {
    "NONE": "programmed for transmission",
    "TOO_LATE": "too late to program the packet for transmission",
    "TOO_EARLY": "the packet's timestamp is too far in advance",
    "COLLISION_PACKET": "another packet is already programmed at that time",
    "COLLISION_BEACON": "a beacon is planned at that time",
    "TX_FREQ": "the TX RF chain does not support the frequency",
    "TX_POWER": "the gateway does not support the TX power",
    "GPS_UNLOCKED": "the GPS is unlocked, so a GPS time cannot be used",
}

# -- EU868 regional parameters (RP002-1.0.x) ----------------------------------------------

#: EU868 data rates: DR index -> LoRa "SFxBWy" (DR7 is FSK 50 kbit/s).
EU868_DATA_RATES = ("SF12BW125", "SF11BW125", "SF10BW125", "SF9BW125", "SF8BW125",
                    "SF7BW125", "SF7BW250", 50000)
EU868_RX2_FREQUENCY = 869.525
EU868_RX2_DR = 0
#: The three channels every EU868 device has from the start (MHz).
EU868_DEFAULT_CHANNELS = (868.1, 868.3, 868.5)
RECEIVE_DELAY1 = 1.0
JOIN_ACCEPT_DELAY1 = 5.0
JOIN_ACCEPT_DELAY2 = 6.0

_DATR = re.compile(r"^SF(\d{1,2})BW(\d{2,3})$")
_KNOWN_DATR = frozenset(f"SF{sf}BW{bw}" for sf in range(5, 13) for bw in (125, 250, 500))


class GwmpError(DecodeError):
    """A datagram that does not follow the protocol (``offset``/``field`` say where)."""


def eu868_dr(datr):
    """The EU868 DR index of a data rate ("SF7BW125" -> 5, 50000 -> 7), or None."""
    try:
        return EU868_DATA_RATES.index(datr)
    except ValueError:
        return None


def eu868_datr(dr):
    """The data rate of an EU868 DR index (0..7)."""
    if isinstance(dr, bool) or not isinstance(dr, int) or not 0 <= dr < len(EU868_DATA_RATES):
        raise ValueError(f"EU868 data rates are DR0 to DR7, not {dr!r}")
    return EU868_DATA_RATES[dr]


def check_datr(datr):
    """A LoRa ("SF7BW125") or FSK (bit/s) data rate, or ValueError."""
    if isinstance(datr, int) and not isinstance(datr, bool) and datr > 0:
        return datr
    if isinstance(datr, str):
        m = _DATR.match(datr)
        if m and 5 <= int(m.group(1)) <= 12 and int(m.group(2)) in (125, 250, 500):
            return datr
    raise ValueError(f"{datr!r} is not a data rate like \"SF12BW125\" (or FSK bit/s)")


# -- datagrams ----------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Datagram:
    """One parsed datagram.  ``eui`` is the gateway EUI as lowercase hex (as sent, MSB
    first); ``body`` the JSON object (None when the kind has none or it was empty)."""

    version: int
    token: int
    kind: int
    eui: str | None = None
    body: dict | None = None

    @property
    def name(self):
        return NAMES[self.kind]


def parse(data):
    """Parse one datagram; raise :class:`GwmpError` for anything off-protocol."""
    n = len(data)
    if n < 4:
        raise GwmpError(f"datagram of {n} bytes is shorter than the 4-byte GWMP header",
                        offset=n, field="header")
    version = data[0]
    if version not in VERSIONS:
        raise GwmpError(f"byte 0: protocol version {version} (expected 1 or 2)", offset=0,
                        field="version")
    kind = data[3]
    if kind not in NAMES:
        raise GwmpError(f"byte 3: unknown identifier 0x{kind:02x}", offset=3, field="identifier")
    token = (data[1] << 8) | data[2]
    eui = None
    start = 4
    if kind in WITH_EUI:
        if n < 12:
            raise GwmpError(f"{NAMES[kind]} of {n} bytes: the gateway EUI needs bytes 4-11",
                            offset=n, field="gateway_eui")
        eui = bytes(data[4:12]).hex()
        start = 12
    body = None
    if kind in (PUSH_DATA, PULL_RESP, TX_ACK):
        raw = bytes(data[start:])
        if raw.strip(b"\x00 \t\r\n"):
            body = _json(raw, start, NAMES[kind])
        elif kind != TX_ACK:
            raise GwmpError(f"{NAMES[kind]}: no JSON object after byte {start - 1}",
                            offset=start, field="json")
    elif n > start:
        raise GwmpError(f"{NAMES[kind]} of {n} bytes: expected {start}", offset=start,
                        field="length")
    return Datagram(version, token, kind, eui, body)


def _json(raw, start, what):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GwmpError(f"{what}: byte {start + exc.start} is not UTF-8 text",
                        offset=start + exc.start, field="json") from None
    # Some forwarders end the JSON with a NUL (a C string): not part of the document.
    text = text.rstrip("\x00")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        offset = start + len(text[:exc.pos].encode("utf-8"))
        raise GwmpError(f"{what}: invalid JSON at byte {offset}: {exc.msg}", offset=offset,
                        field="json") from None
    if not isinstance(body, dict):
        raise GwmpError(f"{what}: the JSON at byte {start} is a {type(body).__name__}, not an "
                        "object", offset=start, field="json")
    return body


def _header(version, token, kind):
    return bytes((version, (token >> 8) & 0xFF, token & 0xFF, kind))


def _eui_bytes(eui):
    raw = bytes.fromhex(eui) if isinstance(eui, str) else bytes(eui)
    if len(raw) != 8:
        raise ValueError(f"a gateway EUI is 8 bytes, not {len(raw)}")
    return raw


def _dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def push_ack(version, token):
    return _header(version, token, PUSH_ACK)


def pull_ack(version, token):
    return _header(version, token, PULL_ACK)


def push_data(eui, token, *, rxpk=None, stat=None, version=2):
    body = {}
    if rxpk:
        body["rxpk"] = list(rxpk)
    if stat is not None:
        body["stat"] = stat
    return _header(version, token, PUSH_DATA) + _eui_bytes(eui) + _dumps(body)


def pull_data(eui, token, *, version=2):
    return _header(version, token, PULL_DATA) + _eui_bytes(eui)


def pull_resp(txpk, token=0, *, version=2):
    # Version 1 leaves the token unused (zero); version 2 matches it to the TX_ACK.
    return _header(version, token if version >= 2 else 0, PULL_RESP) + _dumps({"txpk": txpk})


def tx_ack(eui, token, error="NONE", *, version=2):
    body = b"" if error is None else _dumps({"txpk_ack": {"error": error}})
    return _header(version, token, TX_ACK) + _eui_bytes(eui) + body


# -- rxpk ---------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Rx:
    """One received radio packet: the PHYPayload and how one gateway heard it."""

    phy: bytes
    tmst: int | None
    freq: float | None
    datr: str | int | None
    rssi: float | None
    lsnr: float | None
    chan: int | None = None
    rfch: int | None = None
    codr: str | None = None
    time: str | None = None
    stat: int = 1
    modu: str = "LORA"

    @property
    def signal(self):
        """Signal strength for choosing the best gateway: RSSI, lowered by the SNR when
        the packet was below the noise floor (RSSI then measures mostly noise)."""
        rssi = self.rssi if self.rssi is not None else -200.0
        lsnr = self.lsnr if self.lsnr is not None else 0.0
        return rssi + min(lsnr, 0.0)


def _number(obj, key, where, *, integer=False, lo=None, hi=None):
    v = obj.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or (integer and not isinstance(v, int)):
        raise GwmpError(f"{where}.{key}: must be {'an integer' if integer else 'a number'}, "
                        f"not {v!r}", field=key)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise GwmpError(f"{where}.{key}: {v!r} is out of range", field=key)
    return v


def _text(obj, key, where):
    v = obj.get(key)
    if v is not None and not isinstance(v, str):
        raise GwmpError(f"{where}.{key}: must be a string, not {v!r}", field=key)
    return v


def b64decode(text, where="data"):
    """Base64 with or without padding (forwarders differ), strictly checked."""
    if not isinstance(text, str):
        raise GwmpError(f"{where}: must be a base64 string, not {text!r}", field="data")
    try:
        return binascii.a2b_base64(text + "=" * (-len(text) % 4), strict_mode=True)
    except (binascii.Error, ValueError):
        raise GwmpError(f"{where}: not valid base64", field="data") from None


def b64encode(data):
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _int_ok(v, lo, hi):
    return v is None or (type(v) is int and lo <= v <= hi)


def _num_ok(v):
    return v is None or type(v) is float or type(v) is int


def parse_rxpk(obj, where="rxpk[0]"):
    """Read one ``rxpk`` object into an :class:`Rx`; raise :class:`GwmpError`."""
    if not isinstance(obj, dict):
        raise GwmpError(f"{where}: must be an object, not {type(obj).__name__}", field="rxpk")
    get = obj.get
    data = get("data")
    if data is None:
        raise GwmpError(f"{where}.data: missing (the base64 PHYPayload)", field="data")
    phy = b64decode(data, f"{where}.data")
    size, tmst, freq, rssi, lsnr = get("size"), get("tmst"), get("freq"), get("rssi"), get("lsnr")
    stat, chan, rfch, datr = get("stat"), get("chan"), get("rfch"), get("datr")
    modu, codr, rxtime = get("modu"), get("codr"), get("time")
    # Fast path: a well-formed record is checked with a few type tests; anything else
    # goes through the checks that name the field.
    if not (_int_ok(size, 0, 1 << 16) and _int_ok(tmst, 0, 0xFFFFFFFF) and _num_ok(freq)
            and _num_ok(rssi) and _num_ok(lsnr) and _int_ok(stat, -1, 1)
            and _int_ok(chan, 0, 1 << 16) and _int_ok(rfch, 0, 1 << 16)
            and (freq is None or freq >= 0)
            and (modu is None or type(modu) is str) and (codr is None or type(codr) is str)
            and (rxtime is None or type(rxtime) is str)):
        size = _number(obj, "size", where, integer=True, lo=0)
        tmst = _number(obj, "tmst", where, integer=True, lo=0, hi=0xFFFFFFFF)
        freq = _number(obj, "freq", where, lo=0)
        rssi = _number(obj, "rssi", where)
        lsnr = _number(obj, "lsnr", where)
        stat = _number(obj, "stat", where, integer=True, lo=-1, hi=1)
        chan = _number(obj, "chan", where, integer=True, lo=0)
        rfch = _number(obj, "rfch", where, integer=True, lo=0)
        modu, codr = _text(obj, "modu", where), _text(obj, "codr", where)
        rxtime = _text(obj, "time", where)
    if size is not None and size != len(phy):
        raise GwmpError(f"{where}.size: {size} does not match the {len(phy)} bytes of data",
                        field="size")
    if datr is not None and (type(datr) is not str or datr not in _KNOWN_DATR):
        try:
            check_datr(datr)
        except ValueError as exc:
            raise GwmpError(f"{where}.datr: {exc}", field="datr") from None
    if rssi is None and isinstance(get("rsig"), list):
        # Multi-antenna (v2 "rsig") records: each antenna's channel RSSI and SNR.
        best = None
        for i, ant in enumerate(obj["rsig"]):
            if not isinstance(ant, dict):
                raise GwmpError(f"{where}.rsig[{i}]: must be an object", field="rsig")
            r = _number(ant, "rssic", f"{where}.rsig[{i}]")
            s = _number(ant, "lsnr", f"{where}.rsig[{i}]")
            if r is not None and (best is None or r > best[0]):
                best = (r, s)
        if best is not None:
            rssi, lsnr = best
    return Rx(phy, tmst, float(freq) if freq is not None else None, datr, rssi, lsnr, chan,
              rfch, codr, rxtime, 1 if stat is None else stat, modu or "LORA")


def txpk(phy, *, freq, datr, tmst=None, immediately=False, power=14, codr="4/5", rfch=0):
    """A ``txpk`` object for a LoRaWAN downlink: ``tmst`` (the gateway's microsecond
    counter) or ``immediately``; LoRa downlinks use inverted polarity and, per the
    LoRaWAN PHY layout, no payload CRC."""
    pk = {}
    if immediately:
        pk["imme"] = True
    else:
        pk["tmst"] = tmst & 0xFFFFFFFF
    pk.update({"freq": round(float(freq), 6), "rfch": rfch, "powe": power})
    if isinstance(datr, int):
        pk.update({"modu": "FSK", "datr": datr, "fdev": 25000})
    else:
        pk.update({"modu": "LORA", "datr": datr, "codr": codr, "ipol": True, "ncrc": True})
    pk.update({"size": len(phy), "data": b64encode(phy)})
    return pk
