"""OTAA: answering join-requests of the devices whose root keys the city holds.

A device joins by sending a join-request (JoinEUI, DevEUI, DevNonce, MIC with its
AppKey, or NwkKey in 1.1).  The join server checks the MIC and that the DevNonce was
never used before (a replayed join-request would otherwise reset the device's session),
picks a JoinNonce (a per-device counter) and a DevAddr from the network's range, derives
the session keys and answers with a join-accept built and encrypted by the MAC layer
(:mod:`hromada.lorawan`) with the EU868 defaults: RX1DROffset 0, RX2 DR0, RxDelay 1 s,
an optional CFList of extra channels.

The state kept between runs (:meth:`JoinServer.state`) holds no key: each device's used
DevNonces, its last JoinNonce and the parameters of its current session, from which the
session keys are derived again with the root key at start.
"""

from __future__ import annotations

import attrs

from hromada import lorawan
from hromada.errors import DecodeError, EncodeError
from hromada.lorawan.session import DeviceSession

#: NwkID bits of NetID types 0..7 (LoRaWAN Backend Interfaces, DevAddr assignment).
_NWKID_BITS = (6, 6, 9, 11, 12, 13, 15, 17)


def dev_addr_range(net_id):
    """(first, last) DevAddr (ints) of a NetID (int): the type prefix, the NwkID (the
    NetID's low bits), then the NwkAddr bits the network assigns."""
    kind = net_id >> 21
    bits = _NWKID_BITS[kind]
    nwk_id = net_id & ((1 << bits) - 1)
    addr_bits = 32 - (kind + 1) - bits
    prefix = ((1 << kind) - 1) << 1  # `kind` ones and a zero
    first = (prefix << (32 - kind - 1)) | (nwk_id << addr_bits)
    return first, first | ((1 << addr_bits) - 1)


def parse_range(text, where):
    """``"26011000-260113ff"`` -> (first, last)."""
    lo, sep, hi = str(text).partition("-")
    try:
        if not sep or len(lo.strip()) != 8 or len(hi.strip()) != 8:
            raise ValueError
        first, last = int(lo, 16), int(hi, 16)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a DevAddr range like "
                         "\"26011000-260113ff\"") from None
    if first > last:
        raise ValueError(f"{where}: the range {text!r} ends before it starts")
    return first, last


def cflist_bytes(frequencies, where="cflist"):
    """An EU868 CFList (type 0): up to five extra channel frequencies in MHz."""
    if len(frequencies) > 5:
        raise ValueError(f"{where}: at most 5 frequencies, got {len(frequencies)}")
    out = b""
    for f in frequencies:
        if isinstance(f, bool) or not isinstance(f, int | float) or not 100 <= f <= 1000:
            raise ValueError(f"{where}: {f!r} is not a frequency in MHz")
        out += round(f * 10000).to_bytes(3, "little")  # units of 100 Hz
    return out.ljust(15, b"\x00") + b"\x00" if frequencies else b""


class JoinRefused(Exception):
    """A join-request that gets no join-accept: ``kind`` is the error kind counted
    ("join_refused", "mic", "dev_nonce"), the message says why (never a key)."""

    def __init__(self, kind, message, device=None):
        super().__init__(message)
        self.kind = kind
        self.device = device


@attrs.frozen
class Joined:
    """An answered join: the new session and the join-accept to transmit."""

    device: str
    session: DeviceSession = attrs.field(repr=False)
    join_accept: bytes = attrs.field(repr=False)
    dev_addr: str
    dev_nonce: int
    join_nonce: int


class JoinServer:
    """Join-request -> join-accept for the devices in ``devices`` (DevEUI ->
    :class:`~hromada_plugins.sources.semtech_udp.devices.LoraDevice` with root keys)."""

    def __init__(self, devices, *, net_id=0, addr_range=None, rx1_dr_offset=0, rx2_dr=0,
                 rx_delay=1, cflist=b"", dev_nonce_check="unique"):
        self.devices = {k: d for k, d in devices.items() if d.otaa}
        self.net_id = net_id
        self.addr_range = addr_range or dev_addr_range(net_id)
        self.next_addr = self.addr_range[0]
        self.dl_settings = ((rx1_dr_offset & 7) << 4) | (rx2_dr & 0x0F)
        self.rx_delay = rx_delay
        self.cflist = cflist
        self.dev_nonce_check = dev_nonce_check
        # DevEUI -> {"nonces": set, "last_nonce", "join_nonce", "session": {...} | None}
        self.records = {}

    @property
    def net_id_hex(self):
        return f"{self.net_id:06x}"

    def _record(self, dev):
        rec = self.records.get(dev)
        if rec is None:
            rec = self.records[dev] = {"nonces": set(), "last_nonce": None, "join_nonce": 0,
                                       "session": None}
        return rec

    def allocate(self, used):
        """The next free DevAddr (hex) of the range, skipping those in ``used``."""
        first, last = self.addr_range
        size = last - first + 1
        addr = self.next_addr if first <= self.next_addr <= last else first
        for _ in range(min(size, len(used) + 1)):
            text = f"{addr:08x}"
            addr = first if addr == last else addr + 1
            if text not in used:
                self.next_addr = addr
                return text
        raise JoinRefused("join_refused", f"no free DevAddr left in {first:08x}-{last:08x}")

    def handle(self, phy, used_addrs=frozenset()):
        """Answer one join-request (bytes): :class:`Joined`, or raise :class:`JoinRefused`."""
        try:
            req = lorawan.decode(phy)
        except DecodeError as exc:
            raise JoinRefused("join_refused", f"unreadable join-request: {exc}") from None
        dev_eui = req.dev_eui
        dev = self.devices.get(dev_eui)
        if dev is None:
            raise JoinRefused("join_refused", f"join-request from DevEUI {dev_eui}, which has no root "
                                      "keys in this city", dev_eui)
        if dev.join_eui is not None and req.join_eui != dev.join_eui:
            raise JoinRefused("join_refused", f"join-request of device {dev_eui} names JoinEUI "
                                      f"{req.join_eui}, not its {dev.join_eui}", dev_eui)
        root = {"nwkkey": dev.nwkkey} if dev.version == "1.1" else {"appkey": dev.appkey}
        checked = lorawan.decode(phy, **root)
        if not checked.mic_ok:
            raise JoinRefused("mic", f"join-request of device {dev_eui}: the MIC does not "
                                     "match its root key", dev_eui)
        nonce = req.dev_nonce
        rec = self._record(dev_eui)
        if nonce in rec["nonces"] or (self.dev_nonce_check == "increasing"
                                      and rec["last_nonce"] is not None
                                      and nonce <= rec["last_nonce"]):
            raise JoinRefused("dev_nonce", f"join-request of device {dev_eui} reuses DevNonce "
                                           f"{nonce} (a replayed join-request): refused",
                              dev_eui)
        join_nonce = (rec["join_nonce"] + 1) & 0xFFFFFF
        dev_addr = self.allocate(set(used_addrs))
        session, accept = self._session(dev, dev_addr, join_nonce, nonce, req.join_eui,
                                        with_accept=True)
        rec["nonces"].add(nonce)
        rec["last_nonce"] = nonce
        rec["join_nonce"] = join_nonce
        rec["session"] = {"dev_addr": dev_addr, "join_nonce": join_nonce, "dev_nonce": nonce,
                          "net_id": self.net_id_hex, "join_eui": req.join_eui,
                          "version": dev.version}
        return Joined(dev_eui, session, accept, dev_addr, nonce, join_nonce)

    def _session(self, dev, dev_addr, join_nonce, dev_nonce, join_eui, *, net_id=None,
                 with_accept=False):
        net_id = net_id or self.net_id_hex
        try:
            if dev.version == "1.1":
                keys = lorawan.derive_session_keys_11(dev.nwkkey, dev.appkey,
                                                      join_nonce=join_nonce,
                                                      join_eui=join_eui, dev_nonce=dev_nonce)
            else:
                keys = lorawan.derive_session_keys_10(dev.appkey, join_nonce=join_nonce,
                                                      net_id=net_id, dev_nonce=dev_nonce)
            accept = None
            if with_accept:
                if dev.version == "1.1":
                    js = lorawan.derive_js_keys(dev.nwkkey, dev.id)
                    accept = lorawan.encode_join_accept(
                        join_nonce=join_nonce, net_id=net_id, dev_addr=dev_addr,
                        nwkkey=dev.nwkkey, dl_settings=0x80 | self.dl_settings,
                        rx_delay=self.rx_delay, cflist=self.cflist or None,
                        jsintkey=js.jsintkey, join_eui=join_eui, dev_nonce=dev_nonce)
                else:
                    accept = lorawan.encode_join_accept(
                        join_nonce=join_nonce, net_id=net_id, dev_addr=dev_addr,
                        appkey=dev.appkey, dl_settings=self.dl_settings,
                        rx_delay=self.rx_delay, cflist=self.cflist or None)
        except (EncodeError, ValueError) as exc:
            raise JoinRefused("join_refused", f"join of device {dev.id}: {exc}", dev.id) from None
        session = DeviceSession.create(dev.id, dev_addr, version=dev.version,
                                       allow_reset=dev.allow_reset, max_gap=dev.max_gap,
                                       **keys.as_kwargs())
        return session, accept

    def restore_session(self, dev_eui, state=None):
        """The session of a device's last join, keys derived again (None if none)."""
        dev = self.devices.get(dev_eui)
        rec = self.records.get(dev_eui)
        if dev is None or rec is None or rec["session"] is None:
            return None
        s = rec["session"]
        if s.get("version", "1.0") != dev.version:
            return None
        session, _ = self._session(dev, s["dev_addr"], s["join_nonce"], s["dev_nonce"],
                                   s["join_eui"], net_id=s["net_id"])
        return session

    # -- state between runs (no keys) ------------------------------------------------

    def state(self):
        return {"next_addr": self.next_addr,
                "devices": {dev: self.record_state(dev) for dev in self.records}}

    def record_state(self, dev):
        """One device's join record as plain data (no keys), or None if it never joined."""
        rec = self.records.get(dev)
        if rec is None:
            return None
        return {"nonces": sorted(rec["nonces"]), "last_nonce": rec["last_nonce"],
                "join_nonce": rec["join_nonce"], "session": rec["session"]}

    def load_state(self, state):
        self.next_addr = int(state.get("next_addr", self.addr_range[0]))
        for dev, rec in (state.get("devices") or {}).items():
            self.records[dev] = {"nonces": set(rec.get("nonces") or ()),
                                 "last_nonce": rec.get("last_nonce"),
                                 "join_nonce": int(rec.get("join_nonce") or 0),
                                 "session": rec.get("session")}
