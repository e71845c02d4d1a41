"""Device sessions: 32-bit frame counters, replay and duplicate rejection.

A network server keeps, per device session, the next expected uplink counter.  The
16-bit counter on the air is widened against it (:func:`full_fcnt`); the MIC then tells
which of several devices sharing a DevAddr sent the frame, and whether the counter is
new (accepted), the last one again (a retransmission: ``duplicate``), older (``replay``;
or a device that restarted its counter, accepted only with ``allow_reset``), or too far
ahead (``gap``).  Every rejection is returned with its reason and counted, never silently
dropped.

The state (counters, never keys unless asked) is a plain dict and msgpack-able, so the
kernel can persist it and reopen no replay window on restart.
"""

from __future__ import annotations

from typing import Any

import attrs
import msgpack

from hromada.errors import DecodeError

from . import Keys, LoRaFrame, full_fcnt, make_keys, parse_key

__all__ = ["DEFAULT_MAX_GAP", "DeviceSession", "REASONS", "SessionTable", "Verdict",
           "classify_fcnt", "full_fcnt"]

#: LoRaWAN 1.0's MAX_FCNT_GAP.
DEFAULT_MAX_GAP = 16384

#: Every outcome of :meth:`SessionTable.check_uplink`.
REASONS = ("accepted", "counter_reset", "duplicate", "replay", "gap", "mic", "unknown_dev_addr",
           "decode_error", "not_data_uplink")

_KEY_FIELDS = ("nwkskey", "appskey", "fnwksintkey", "snwksintkey", "nwksenckey")


def classify_fcnt(next_expected, fcnt, max_gap=DEFAULT_MAX_GAP):
    """Verdict on a 32-bit counter: "accepted", "duplicate" (the last one again) or "gap".

    ``next_expected`` None means nothing was received yet (any counter is new).  As in
    the specification (MAX_FCNT_GAP), "gap" means the counter is more than ``max_gap``
    above the last one received (``next_expected - 1``): ``max_gap`` or more frames lost.
    """
    if next_expected is None:
        return "accepted"
    if next_expected > 0 and fcnt == next_expected - 1:
        return "duplicate"
    lost = (fcnt - next_expected) & 0xFFFFFFFF
    if max_gap is not None and lost >= max_gap:
        return "gap"
    return "accepted"


@attrs.define(eq=False)
class DeviceSession:
    """One device's session: DevAddr, keys (never shown) and frame counters.

    ``fcnt_up`` is the next expected uplink counter (None until the first uplink);
    ``fcnt_down``/``afcnt_down`` the next downlink counters (1.0 uses ``fcnt_down`` only;
    1.1: NFCntDown for FPort 0 / no FPort, AFCntDown otherwise).  ``conf_fcnt_down`` is
    the counter of the last confirmed downlink, which a 1.1 uplink's MIC covers when it
    acknowledges it.  ``max_gap`` (None: the table's) bounds how far ahead a counter may
    jump; ``allow_reset`` accepts a device whose counter restarted (ABP devices without
    non-volatile counters), which reopens old counters to replays.
    """

    device: str
    dev_addr: str
    version: str = "1.0"
    fcnt_up: int | None = None
    fcnt_down: int = 0
    afcnt_down: int = 0
    conf_fcnt_down: int = 0
    max_gap: int | None = None
    allow_reset: bool = False
    fopts_scheme: str = "errata"
    rejected: dict[str, int] = attrs.field(factory=dict)
    _key_bytes: dict[str, bytes] = attrs.field(factory=dict, repr=False, alias="key_bytes")
    _keys: Any = attrs.field(default=None, repr=False, init=False)

    @classmethod
    def create(cls, device, dev_addr, *, nwkskey=None, appskey=None, fnwksintkey=None,
               snwksintkey=None, nwksenckey=None, version=None, **state):
        """A session from keys (bytes, hex or ``env:VAR``) and optional counter state."""
        given = {"nwkskey": nwkskey, "appskey": appskey, "fnwksintkey": fnwksintkey,
                 "snwksintkey": snwksintkey, "nwksenckey": nwksenckey}
        key_bytes = {n: parse_key(v, n) for n, v in given.items() if v is not None}
        if version is None:
            version = "1.1" if any(n in key_bytes for n in
                                   ("fnwksintkey", "snwksintkey", "nwksenckey")) else "1.0"
        return cls(device, _norm_addr(dev_addr), version, key_bytes=key_bytes, **state)

    def __attrs_post_init__(self):
        self.dev_addr = _norm_addr(self.dev_addr)

    @property
    def keys(self) -> Keys:
        """The session's :class:`hromada.lorawan.Keys` (AES contexts made once)."""
        if self._keys is None:
            self._keys = make_keys(version=self.version, fopts_scheme=self.fopts_scheme,
                                   **self._key_bytes)
        return self._keys

    def next_fcnt_down(self, fport=None):
        """Take the counter for the next downlink (and advance it)."""
        if self.version == "1.1" and fport:
            n, self.afcnt_down = self.afcnt_down, (self.afcnt_down + 1) & 0xFFFFFFFF
        else:
            n, self.fcnt_down = self.fcnt_down, (self.fcnt_down + 1) & 0xFFFFFFFF
        return n

    def to_dict(self, include_keys=False):
        """The session's state as plain data (keys only when ``include_keys``, as hex)."""
        d = {"device": self.device, "dev_addr": self.dev_addr, "version": self.version,
             "fcnt_up": self.fcnt_up, "fcnt_down": self.fcnt_down,
             "afcnt_down": self.afcnt_down, "conf_fcnt_down": self.conf_fcnt_down,
             "max_gap": self.max_gap, "allow_reset": self.allow_reset,
             "fopts_scheme": self.fopts_scheme, "rejected": dict(self.rejected)}
        if include_keys:
            d["keys"] = {n: v.hex() for n, v in self._key_bytes.items()}
        return d

    @classmethod
    def from_dict(cls, d, **keys):
        """Inverse of :meth:`to_dict`; keys missing from ``d`` come as keyword arguments."""
        d = dict(d)
        stored = d.pop("keys", None) or {}
        merged = {**stored, **{k: v for k, v in keys.items() if v is not None}}
        device, dev_addr = d.pop("device"), d.pop("dev_addr")
        return cls.create(device, dev_addr, **merged, **d)

    def _count(self, reason):
        self.rejected[reason] = self.rejected.get(reason, 0) + 1


def _norm_addr(dev_addr):
    if isinstance(dev_addr, int):
        return f"{dev_addr:08x}"
    text = str(dev_addr).strip().lower()
    if len(text) != 8 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"dev_addr: expected 8 hex digits, got {dev_addr!r}")
    return text


@attrs.frozen
class Verdict:
    """Outcome of one uplink: ``accepted`` and why (``reason``, one of :data:`REASONS`),
    the decoded frame when a session's MIC matched, the session, and a readable
    ``detail``."""

    accepted: bool
    reason: str
    frame: LoRaFrame | None = None
    session: DeviceSession | None = None
    detail: str = ""


class SessionTable:
    """Sessions by DevAddr (several devices may share one) and the uplink checks.

    ``max_gap`` is the default for sessions without their own (None: no limit).
    """

    def __init__(self, sessions=(), *, max_gap=DEFAULT_MAX_GAP):
        self.max_gap = max_gap
        self._by_addr: dict[str, list[DeviceSession]] = {}
        self._by_device: dict[str, DeviceSession] = {}
        self.counters = dict.fromkeys(REASONS, 0)
        for s in sessions:
            self.add(s)

    def add(self, session: DeviceSession):
        """Add (or replace, by device id) a session."""
        old = self._by_device.pop(session.device, None)
        if old is not None:
            self._by_addr[old.dev_addr].remove(old)
        self._by_device[session.device] = session
        self._by_addr.setdefault(session.dev_addr, []).append(session)
        return session

    def get(self, device):
        return self._by_device.get(device)

    def by_dev_addr(self, dev_addr):
        return list(self._by_addr.get(_norm_addr(dev_addr), ()))

    def __len__(self):
        return len(self._by_device)

    def __iter__(self):
        return iter(self._by_device.values())

    def _verdict(self, reason, accepted=False, frame=None, session=None, detail=""):
        self.counters[reason] += 1
        if session is not None and not accepted:
            session._count(reason)
        return Verdict(accepted, reason, frame, session, detail)

    def check_uplink(self, phy, *, tx_dr=0, tx_ch=0) -> Verdict:
        """Decode an uplink against the sessions of its DevAddr and apply the counter rules.

        Accepting advances the session's ``fcnt_up``.  ``tx_dr``/``tx_ch`` are the data
        rate and channel index it was received on (LoRaWAN 1.1 MICs cover them).
        """
        phy = bytes(phy)
        if len(phy) < 12 or (phy[0] >> 5) not in (2, 4):
            try:
                frame = make_keys().decode(phy)
            except DecodeError as exc:
                return self._verdict("decode_error", detail=str(exc))
            return self._verdict("not_data_uplink", frame=frame,
                                 detail=f"{frame.mtype} is not a data uplink")
        dev_addr = phy[1:5][::-1].hex()
        sessions = self._by_addr.get(dev_addr)
        if not sessions:
            return self._verdict("unknown_dev_addr", detail=f"no session for DevAddr {dev_addr}")
        wire = phy[6] | (phy[7] << 8)
        # First the counter a live device would use, for every session sharing the DevAddr;
        # only then older counters (replays or a device that restarted its counter).
        for s in sessions:
            try:
                frame = s.keys.decode(phy, s.fcnt_up, _conf(s, phy), tx_dr, tx_ch)
            except DecodeError as exc:
                return self._verdict("decode_error", session=s, detail=str(exc))
            if frame.mic_ok:
                return self._counter_rules(s, frame)
        for s in sessions:
            for candidate in _older_candidates(s.fcnt_up, wire):
                frame = s.keys.decode(phy, candidate, _conf(s, phy), tx_dr, tx_ch)
                if not frame.mic_ok:
                    continue
                if s.allow_reset and candidate == wire:
                    s.fcnt_up = (wire + 1) & 0xFFFFFFFF
                    self.counters["counter_reset"] += 1
                    return Verdict(True, "counter_reset", frame, s,
                                   f"device {s.device} restarted its frame counter at {wire}")
                return self._verdict("replay", frame=frame, session=s, detail=(
                    f"frame counter {candidate} of device {s.device} is older than the last "
                    f"accepted {s.fcnt_up - 1} (replayed frame, or a device that restarted "
                    "its counter: allow_reset accepts that)"))
        return self._verdict("mic", detail=f"MIC matches no session of DevAddr {dev_addr}")

    def _counter_rules(self, s, frame):
        rule = classify_fcnt(s.fcnt_up, frame.fcnt, s.max_gap if s.max_gap is not None
                             else self.max_gap)
        if rule == "duplicate":
            return self._verdict("duplicate", frame=frame, session=s, detail=(
                f"frame counter {frame.fcnt} of device {s.device} was already accepted "
                "(retransmission)"))
        if rule == "gap":
            return self._verdict("gap", frame=frame, session=s, detail=(
                f"frame counter {frame.fcnt} of device {s.device} is "
                f"{frame.fcnt - s.fcnt_up} ahead of the expected {s.fcnt_up}"))
        s.fcnt_up = (frame.fcnt + 1) & 0xFFFFFFFF
        self.counters["accepted"] += 1
        return Verdict(True, "accepted", frame, s)

    # ---- state

    def to_dict(self, include_keys=False):
        return {"max_gap": self.max_gap, "counters": dict(self.counters),
                "sessions": [s.to_dict(include_keys) for s in self._by_device.values()]}

    @classmethod
    def from_dict(cls, d, keys=None):
        """Rebuild; ``keys`` maps device id -> dict of key arguments for sessions whose
        state was saved without keys."""
        keys = keys or {}
        table = cls(max_gap=d.get("max_gap", DEFAULT_MAX_GAP))
        for sd in d.get("sessions", ()):
            table.add(DeviceSession.from_dict(sd, **keys.get(sd["device"], {})))
        table.counters.update(d.get("counters", {}))
        return table

    def to_msgpack(self, include_keys=False) -> bytes:
        return msgpack.packb(self.to_dict(include_keys), use_bin_type=True)

    @classmethod
    def from_msgpack(cls, data, keys=None):
        return cls.from_dict(msgpack.unpackb(data, raw=False), keys)


def _conf(session, phy):
    # A 1.1 uplink acknowledging a confirmed downlink covers that downlink's counter.
    return session.conf_fcnt_down & 0xFFFF if phy[5] & 0x20 else 0


def _older_candidates(next_expected, wire):
    """32-bit counters below the accepted range that end in ``wire``: the raw 16-bit value
    (a device that restarted) and the latest earlier one (a replay)."""
    if next_expected is None:
        return []
    out = []
    if wire < next_expected - 1:
        out.append(wire)
    if next_expected >= 1:
        prev = next_expected - 1 - ((next_expected - 1 - wire) & 0xFFFF)
        if prev == next_expected - 1:
            prev -= 0x10000
        if 0 <= prev and prev not in out:
            out.append(prev)
    return out
