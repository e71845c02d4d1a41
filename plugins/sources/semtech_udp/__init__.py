"""The ``semtech-udp`` source: LoRaWAN gateways (Semtech UDP packet forwarder) straight in.

A small city needs no separate network server: gateways running the Semtech packet
forwarder (GWMP over UDP, :mod:`.gwmp`) send their received radio packets here, and this
source does the network server's part of the work:

- answers PUSH_DATA and PULL_DATA, tracks gateways by EUI (address, last seen, the
  forwarder's ``stat`` counters), counts malformed datagrams (``gwmp``) and ignores them;
- decodes each uplink once even when several gateways heard it: copies arriving within
  ``dedup_window`` are merged, the best signal kept and every gateway recorded in the
  frame's ``rx`` metadata;
- checks each data uplink against the device sessions (:mod:`hromada.lorawan.session`:
  MIC, 32-bit FCnt, replays and duplicates), decrypts it and pushes the application
  payload into the ring as a ``lorawan`` frame of the device (its DevEUI), so that the
  device's model decodes it;
- answers join-requests of OTAA devices whose root keys the city holds (:mod:`.joinserver`);
- sends downlinks from services as PULL_RESP: class A in the RX1 or RX2 window of the
  device's uplink (the gateway's ``tmst`` plus the receive delay), class C at once; a
  TX_ACK with an error becomes a ``lorawan.tx_error`` event;
- keeps the session counters (never keys) in the city's state database
  (:mod:`hromada.state`), a row per device written when it changed: periodically, right
  after each join and downlink, and at stop, so a restart reopens no replay window.

Device identities and keys come from columns of the city's device list (``dev_addr``,
``nwkskey``, ``appkey`` ...: the source's ``device_options``), the ``keys_file`` and the
``keys`` table, merged field by field, the table winning (:mod:`.devices`); keys may be
``env:VARIABLE`` and are never printed or logged.  README.md has a city example.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import re
import socket
import threading
import time
from collections import Counter, deque

import attrs
import msgpack

import hromada
from hromada import Event, Option, SourceType, lorawan
from hromada.errors import EncodeError
from hromada.lorawan.session import DEFAULT_MAX_GAP, DeviceSession, SessionTable

from . import gwmp
from .adr import DeviceAdr
from .devices import load_devices
from .joinserver import JoinRefused, JoinServer, cflist_bytes, dev_addr_range, parse_range

log = logging.getLogger("hromada.semtech_udp")

STATE_FORMAT = 1
#: TX_ACK tokens remembered (gateways on protocol v1 never answer).
MAX_PENDING_TX = 1024

#: Verdicts of SessionTable.check_uplink -> the error kind counted.
_REJECTED = {"duplicate": "replay", "replay": "replay", "gap": "fcnt_gap", "mic": "mic",
             "unknown_dev_addr": "unknown_dev_addr", "decode_error": "frame",
             "not_data_uplink": "frame"}


def parse_bind(text, where):
    """``"host:port"`` (``"[::1]:1700"`` for IPv6) -> (host, port)."""
    host, sep, port = str(text).rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{where}: {text!r} is not host:port (e.g. \"0.0.0.0:1700\")")
    return host.strip("[]") or "0.0.0.0", int(port)


def format_address(addr):
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# LinkCheckAns margin: the SNR (dB) below which a LoRa demodulator loses the packet, by
# spreading factor (SX1276 datasheet; the usual network-server table).
_SNR_FLOOR = {7: -7.5, 8: -10.0, 9: -12.5, 10: -15.0, 11: -17.5, 12: -20.0}
# DeviceTimeAns: GPS time = Unix time - GPS_EPOCH + leap seconds (18 since 2017-01-01).
GPS_EPOCH = 315964800
GPS_LEAP_SECONDS = 18


def mac_answers(commands, heard, received):
    """FOpts bytes answering an uplink's MAC commands that the network server answers at
    once: LinkCheckReq (margin over the demodulation floor of the best copy, number of
    gateways that heard it) and DeviceTimeReq (GPS time of ``received``, Unix seconds,
    in 1/256 s).  ``heard``: [(gateway EUI, gwmp.Rx)], best signal first."""
    out = bytearray()
    done = set()
    for cmd in commands:
        name = cmd.get("name")
        if name in done:
            continue  # a request repeated in one uplink gets one answer
        done.add(name)
        if name == "LinkCheckReq":
            rx = heard[0][1]
            m = re.match(r"SF(\d+)", rx.datr) if isinstance(rx.datr, str) else None
            floor = _SNR_FLOOR.get(int(m.group(1))) if m else None
            margin = (0 if floor is None or rx.lsnr is None
                      else max(0, min(254, int(rx.lsnr - floor))))
            out += bytes((0x02, margin, min(255, len(heard))))
        elif name == "DeviceTimeReq":
            gps = received - GPS_EPOCH + GPS_LEAP_SECONDS
            seconds = int(gps)
            fraction = min(255, int((gps - seconds) * 256))
            out += bytes((0x0D,)) + (seconds & 0xFFFFFFFF).to_bytes(4, "little") + \
                bytes((fraction,))
    return bytes(out)  # at most 3 + 6 bytes: FOpts hold 15


class Gateway:
    """What the source knows of one gateway."""

    __slots__ = ("eui", "address", "pull_address", "version", "first_seen", "last_seen",
                 "last_pull", "pulled", "stat", "location", "rxpk", "pushes", "downlinks",
                 "tx_errors")

    def __init__(self, eui):
        self.eui = eui
        self.address = None        # where its PUSH_DATA come from
        self.pull_address = None   # where PULL_RESP go (its PULL_DATA's sender)
        self.version = 2
        self.first_seen = self.last_seen = time.time()
        self.last_pull = None
        self.pulled = None         # time.monotonic() of its last PULL_DATA
        self.stat = {}
        self.location = None
        self.rxpk = 0
        self.pushes = 0
        self.downlinks = 0
        self.tx_errors = 0

    def to_dict(self):
        return {"eui": self.eui, "address": self.address and format_address(self.address),
                "pull_address": self.pull_address and format_address(self.pull_address),
                "version": self.version, "first_seen": self.first_seen,
                "last_seen": self.last_seen, "last_pull": self.last_pull,
                "stat": dict(self.stat), "location": self.location, "rxpk": self.rxpk,
                "pushes": self.pushes, "downlinks": self.downlinks,
                "tx_errors": self.tx_errors}


class _Uplink:
    """One radio packet while its copies from other gateways may still arrive."""

    __slots__ = ("phy", "first", "deadline", "time", "heard")

    def __init__(self, phy, first, deadline, wall):
        self.phy = phy
        self.first = first        # monotonic time of the first copy
        self.deadline = deadline
        self.time = wall
        self.heard = []           # [(gateway eui, gwmp.Rx)]


@attrs.frozen(slots=True)
class _RxSettings:
    """Where and when a class A device listens after an uplink (and class C at all)."""

    rx1_delay: int
    rx1_dr_offset: int
    rx2_frequency: float
    rx2_datr: str | int


class _Window:
    """A class A device's receive windows after one uplink."""

    __slots__ = ("first", "heard", "fcnt", "used")

    def __init__(self, first, heard, fcnt):
        self.first = first        # monotonic time the uplink arrived
        self.heard = heard        # [(gateway eui, gwmp.Rx)], best signal first
        self.fcnt = fcnt
        self.used = False


class SemtechUdpSource:
    """One UDP endpoint for Semtech packet forwarders; see the module documentation."""

    def __init__(self, name, options, city):
        self.name = name
        where = f"sources.{name}"
        self.where = where
        self.bind = parse_bind(options["bind"], f"{where}.bind")
        self.dedup_window = float(options["dedup_window"])
        self.rx1_delay = options["rx1_delay"]
        self.rx1_dr_offset = options["rx1_dr_offset"]
        self.rx2_frequency = float(options["rx2_frequency"])
        try:
            self.rx2_datr = gwmp.check_datr(options["rx2_datr"])
        except ValueError as exc:
            raise ValueError(f"{where}.rx2_datr: {exc}") from None
        self.tx_power = options["tx_power"]
        self.tx_lead = float(options["tx_lead"])
        self.adr_enabled = options["adr"]
        self.adr_margin = float(options["adr_margin"])
        self._adr_state: dict[str, DeviceAdr] = {}
        self.pull_timeout = float(options["pull_timeout"])
        self.state_interval = float(options["state_interval"])
        self.max_events = options["max_events"]
        self.queue_limit = options["downlink_queue"]
        self.rcvbuf = options["rcvbuf"]
        self.allowed = {self._eui(e, f"{where}.gateways") for e in options["gateways"]}
        city_devices = city.devices if city is not None else None
        self.devices = load_devices(options["keys"], options["keys_file"], city_devices, where)
        self.class_c = {d for d, dev in self.devices.items() if dev.device_class == "C"}
        for dev in options["class_c"]:
            dev = str(dev).strip().lower()
            if city_devices is not None and dev not in city_devices:
                raise ValueError(f"{where}.class_c: device {dev!r} is not in the city's "
                                 "device list")
            self.class_c.add(dev)
        net_id_text = str(options["net_id"]).strip()
        try:
            if len(net_id_text) != 6:
                raise ValueError
            net_id = int(net_id_text, 16)
        except ValueError:
            raise ValueError(f"{where}.net_id: expected 6 hex digits, got "
                             f"{options['net_id']!r}") from None
        addr_range = (parse_range(options["dev_addr_range"], f"{where}.dev_addr_range")
                      if options["dev_addr_range"] else dev_addr_range(net_id))
        cflist = list(options["cflist"])
        self.channels = {round(f * 10000): i for i, f in
                         enumerate((*gwmp.EU868_DEFAULT_CHANNELS, *cflist))}
        rx2_dr = gwmp.eu868_dr(self.rx2_datr)
        self.joins = JoinServer(
            self.devices, net_id=net_id, addr_range=addr_range,
            rx1_dr_offset=self.rx1_dr_offset, rx2_dr=rx2_dr if rx2_dr is not None else 0,
            rx_delay=self.rx1_delay, cflist=cflist_bytes(cflist, f"{where}.cflist"),
            dev_nonce_check=options["dev_nonce_check"])
        self.join_enabled = options["join"]
        self.table = SessionTable(max_gap=options["max_gap"])
        self._queues: dict[str, deque] = {}
        self._restore_sessions({})
        # The city's state database (hromada.state), given by the kernel in run(); a
        # source built without a kernel (tests, tools) keeps no state.
        self.state = None
        # Before the state database, this source kept a msgpack file: imported once.
        self._legacy = (city.state_dir / f"{name}.semtech-udp.msgpack"
                        if city is not None and getattr(city, "state_dir", None) else None)

        self.gateways: dict[str, Gateway] = {}
        self.stats = Counter()
        self.address = None
        self.ready = asyncio.Event()
        self.ctx = None
        self.sock = None
        self._pending: dict[bytes, _Uplink] = {}
        # Uplinks already processed, by PHYPayload, in the order they came.  A copy from
        # another gateway, later than dedup_window but before RX2 opens, is a slow
        # gateway's: a device retransmits only after its receive windows, and a gateway
        # reports a packet once, so it is no replay (and must not be answered twice).
        self._recent: dict[bytes, _Uplink] = {}
        # Receive windows: the source's, or an ABP device's own (RX_FIELDS).
        self._rx_default = _RxSettings(self.rx1_delay, self.rx1_dr_offset, self.rx2_frequency,
                                       self.rx2_datr)
        self._rx_own = {d: attrs.evolve(self._rx_default, **dev.rx)
                        for d, dev in self.devices.items() if dev.rx}
        self._late = max(r.rx1_delay for r in (self._rx_default, *self._rx_own.values())) + 1.0
        self._wake = asyncio.Event()
        self._windows: dict[str, _Window] = {}
        self._tx = collections.OrderedDict()   # PULL_RESP token -> what it carried
        self._token = random.randrange(1 << 16)
        self._events = Counter()
        self._dirty: set[str] = set()  # devices whose state changed since the last write
        self._save_now = asyncio.Event()
        self._state_lock = threading.Lock()
        self._state_seq = 0       # changes taken (numbered)
        self._state_written = 0   # the newest written
        self._unwritten: dict[str, bytes] = {}   # taken, not yet written

    def _adr(self, dev, frame, heard, room=15):
        """Track a device's ADR; the LinkADRReq to send now, or b"" (see :mod:`.adr`).
        ``room``: FOpts bytes left after the other answers (a request that does not fit
        waits for the next uplink)."""
        if not self.adr_enabled:
            return b""
        st = self._adr_state.get(dev)
        for cmd in frame.mac_commands or ():
            if cmd.get("name") == "LinkADRAns" and st is not None:
                asked = st.pending
                refused = st.answered(cmd)
                self._dirty.add(dev)
                if refused and asked is not None:
                    self._report("adr", f"device {dev} refused LinkADRReq (DR{asked[0]}, "
                                        f"TXPower {asked[1]}): {', '.join(refused)} not "
                                        "accepted", dev, data_rate=asked[0], tx_power=asked[1])
        if not (frame.fctrl or {}).get("adr"):
            return b""
        if st is None:
            st = self._adr_state[dev] = DeviceAdr()
        best = heard[0][1]
        snrs = [r.lsnr for _, r in heard if r.lsnr is not None]
        st.heard(gwmp.eu868_dr(best.datr), max(snrs) if snrs else None)
        # ChMask: the channels the device has. An OTAA device got the CFList's in its
        # join-accept; an ABP device has only the three default ones (a mask naming a
        # channel it lacks makes it refuse the whole request).
        dev_keys = self.devices.get(dev)
        joined = dev_keys is not None and dev_keys.otaa and self.joins.records.get(dev)
        if room < 5:
            return b""
        req = st.decide(self.adr_margin,
                        len(self.channels) if joined else len(gwmp.EU868_DEFAULT_CHANNELS))
        if req:
            self.stats["adr_requests"] += 1
            self._dirty.add(dev)
        return req

    def _rx_settings(self, device):
        return self._rx_own.get(device, self._rx_default)

    @staticmethod
    def _eui(text, where):
        t = str(text).strip().lower().replace("-", "").replace(":", "")
        if len(t) != 16 or any(c not in "0123456789abcdef" for c in t):
            raise ValueError(f"{where}: {text!r} is not a gateway EUI (16 hex digits)")
        return t

    # -- sessions and their state between runs -----------------------------------------

    def _abp_session(self, dev, state=None):
        keys = {k: v for k, v in dev.session_keys.items()}
        if state is not None:
            s = DeviceSession.from_dict(state, **keys)
        else:
            s = DeviceSession.create(dev.id, dev.dev_addr, version=dev.version, **keys)
        s.allow_reset = dev.allow_reset
        s.max_gap = dev.max_gap
        return s

    def load_state(self, scope):
        """Take the state of earlier runs from the city's state database and keep writing
        it there (``scope``: this source's :class:`hromada.state.StateScope`)."""
        rows = scope.load()
        if not rows and self._legacy is not None and self._legacy.exists():
            rows = self._import_legacy(scope)
        stored = {}
        key = None
        try:
            meta = rows.pop("meta", None)
            if meta is not None:
                key = "meta"
                meta = msgpack.unpackb(meta, raw=False, strict_map_key=False)
                if not isinstance(meta, dict) or meta.get("format") != STATE_FORMAT:
                    raise ValueError(f"not semtech-udp state of format {STATE_FORMAT}")
                self.table.counters.update(meta.get("counters") or {})
            joins = {}
            for key, value in rows.items():
                dev = key.removeprefix("device/")
                if dev == key or dev not in self.devices:
                    continue  # a device no longer in the city: kept, not used
                data = msgpack.unpackb(value, raw=False, strict_map_key=False)
                if data.get("session") is not None:
                    stored[dev] = data["session"]
                if data.get("join") is not None:
                    joins[dev] = data["join"]
                if data.get("adr") is not None:
                    self._adr_state[dev] = DeviceAdr.from_dict(data["adr"])
                if data.get("queue"):
                    self._queues[dev] = deque((fport, bytes(payload), bool(confirmed))
                                              for fport, payload, confirmed in data["queue"])
            key = None
            self.joins.load_state({"next_addr": (meta or {}).get("next_addr",
                                                                 self.joins.next_addr),
                                   "devices": joins})
        except Exception as exc:  # noqa: BLE001 - any damage: refuse, do not guess
            what = f"key {key!r} of {scope.owner}" if key else scope.owner
            raise ValueError(
                f"{self.where}: saved state ({what} in {scope.db.path}) is unreadable "
                f"({type(exc).__name__}: {exc}); the frame counters in it protect against "
                f"replays. `hromada state CITY --forget {scope.owner}` starts with fresh "
                "counters "
                "(replayed frames older than now would then be accepted once)") from None
        self._restore_sessions(stored)
        self.state = scope

    def _import_legacy(self, scope):
        """Rows from the state file of earlier versions (one msgpack file holding the
        whole table), written to the state database; the file is then renamed."""
        path = self._legacy
        try:
            data = msgpack.unpackb(path.read_bytes(), raw=False, strict_map_key=False)
            if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
                raise ValueError(f"not a semtech-udp state file of format {STATE_FORMAT}")
            table, joins = data.get("table") or {}, data.get("joins") or {}
            devices = {}
            for sd in table.get("sessions", ()):
                devices.setdefault(sd["device"], {})["session"] = sd
            for dev, rec in (joins.get("devices") or {}).items():
                devices.setdefault(dev, {})["join"] = rec
            for dev, items in (data.get("queues") or {}).items():
                devices.setdefault(dev, {})["queue"] = items
        except Exception as exc:  # noqa: BLE001 - any damage: refuse, do not guess
            raise ValueError(
                f"{self.where}: state file {path} of an earlier version is unreadable "
                f"({type(exc).__name__}: {exc}); the frame counters in it protect against "
                "replays. Remove the file to start with fresh counters (replayed frames "
                "older than now would then be accepted once)") from None
        meta = {"format": STATE_FORMAT, "source": "semtech-udp", "saved": data.get("saved"),
                "next_addr": joins.get("next_addr", self.joins.next_addr),
                "counters": table.get("counters") or {}}
        rows = {"meta": msgpack.packb(meta, use_bin_type=True)}
        for dev, d in devices.items():
            rows[f"device/{dev}"] = msgpack.packb(
                {"session": d.get("session"), "adr": None, "join": d.get("join"),
                 "queue": d.get("queue") or []}, use_bin_type=True)
        scope.write(rows)
        path.rename(path.with_name(path.name + ".imported"))
        log.info("semtech-udp %s: imported %s into the city's state database (%d devices)",
                 self.name, path, len(devices))
        return rows

    def _restore_sessions(self, stored):
        for dev_eui, dev in self.devices.items():
            sd = stored.get(dev_eui)
            joined = self.joins.restore_session(dev_eui) if dev.otaa else None
            if joined is not None:
                if sd is not None and sd["dev_addr"] == joined.dev_addr:
                    keys = joined.to_dict(include_keys=True)["keys"]
                    joined = DeviceSession.from_dict(sd, **keys)
                    joined.allow_reset, joined.max_gap = dev.allow_reset, dev.max_gap
                self.table.add(joined)
            elif dev.abp:
                # Counters belong to one session: a new DevAddr or version starts afresh.
                same = (sd is not None and sd["dev_addr"] == dev.dev_addr
                        and sd.get("version") == dev.version)
                self.table.add(self._abp_session(dev, sd if same else None))

    def device_state(self, dev):
        """One device's saved state (msgpack; counters, join record, queue, no keys)."""
        s = self.table.get(dev)
        q = self._queues.get(dev)
        adr = self._adr_state.get(dev)
        return msgpack.packb({"session": s.to_dict(include_keys=False) if s else None,
                              "adr": adr.to_dict() if adr is not None else None,
                              "join": self.joins.record_state(dev),
                              "queue": [list(item) for item in q] if q else []},
                             use_bin_type=True)

    def _take_changes(self):
        """Serialise what changed since the last write (on the event loop, which owns the
        sessions) and number it; the write itself may run in a worker thread."""
        changes = {"meta": msgpack.packb({"format": STATE_FORMAT, "source": "semtech-udp",
                                          "saved": time.time(),
                                          "next_addr": self.joins.next_addr,
                                          "counters": dict(self.table.counters)},
                                         use_bin_type=True)}
        for dev in self._dirty:
            changes[f"device/{dev}"] = self.device_state(dev)
        self._dirty = set()
        with self._state_lock:
            self._state_seq += 1
            self._unwritten.update(changes)   # newest wins: one value per key, bounded
            return self._state_seq

    def _write(self, seq):
        # Everything taken up to now and not yet written goes in one transaction.  The
        # periodic write runs in a worker thread that a stop cannot interrupt; under the
        # lock the stop's final write includes whatever that one had not written, and a
        # late-finishing older write finds nothing left to write.  A failed write leaves
        # its changes for the next one (at most one value per device, however long the
        # database stays unwritable).
        with self._state_lock:
            if seq <= self._state_written:
                return
            if self._unwritten:
                self.state.write(self._unwritten)
                self._unwritten = {}
            self._state_written = self._state_seq

    def save_state(self):
        """Write what changed now (the source does this periodically, after each join and
        downlink, and at stop)."""
        if self.state is not None:
            self._write(self._take_changes())

    async def _saver(self):
        while True:
            try:
                await asyncio.wait_for(self._save_now.wait(), self.state_interval)
            except TimeoutError:
                pass
            self._save_now.clear()
            if self._dirty and self.state is not None:
                try:
                    await asyncio.to_thread(self._write, self._take_changes())
                except Exception as exc:  # noqa: BLE001 - kept, retried with the next write
                    self._report("state", f"cannot write the source's state: {exc}")

    # -- errors and events ---------------------------------------------------------------

    def _report(self, kind, message, device=None, severity="warning", **data):
        """Count an error kind; the first ``max_events`` of each also become events."""
        self.stats[kind] += 1
        ctx = self.ctx
        if ctx is None:
            return
        ctx.count_error(kind, device=device)
        if self._events[kind] < self.max_events:
            self._events[kind] += 1
            ctx.emit(Event(f"lorawan.{kind}", severity, device, time.time(),
                           {"message": message, **data}, self.name))

    def _malformed(self, message):
        self.stats["gwmp"] += 1
        if self._events["gwmp"] < self.max_events:
            self._events["gwmp"] += 1
            self.ctx.count_error("gwmp", f"{self.name}: {message}")
        else:
            self.ctx.count_error("gwmp")

    # -- receiving -----------------------------------------------------------------------

    def _gateway(self, eui, addr):
        gw = self.gateways.get(eui)
        if gw is None:
            gw = self.gateways[eui] = Gateway(eui)
            if self.ctx is not None:
                self.ctx.emit(Event("lorawan.gateway", "info", None, gw.first_seen,
                                    {"message": f"gateway {eui} connected from "
                                                f"{format_address(addr)}", "gateway": eui},
                                    self.name))
        gw.last_seen = time.time()
        return gw

    def datagram(self, data, addr):
        """Handle one datagram (called by the protocol; public for embedding and tests)."""
        self.stats["datagrams"] += 1
        try:
            dg = gwmp.parse(data)
        except gwmp.GwmpError as exc:
            self._malformed(f"datagram from {format_address(addr)}: {exc}")
            return
        kind = dg.kind
        if kind not in gwmp.WITH_EUI:
            self._malformed(f"datagram from {format_address(addr)}: {dg.name} is sent by a "
                            "server, not a gateway")
            return
        if self.allowed and dg.eui not in self.allowed:
            self._report("unknown_gateway", f"{dg.name} from gateway {dg.eui} at "
                                    f"{format_address(addr)}, which is not in the "
                                    "source's gateways list", gateway=dg.eui)
            return
        gw = self._gateway(dg.eui, addr)
        gw.version = dg.version
        if kind == gwmp.PUSH_DATA:
            # The protocol acknowledges at once and processes after.
            self._send(gwmp.push_ack(dg.version, dg.token), addr)
            gw.address = addr
            gw.pushes += 1
            self._push_data(dg, gw)
        elif kind == gwmp.PULL_DATA:
            gw.pull_address = addr
            gw.last_pull = gw.last_seen
            gw.pulled = time.monotonic()
            self._send(gwmp.pull_ack(dg.version, dg.token), addr)
        else:
            self._tx_ack(dg, gw)

    def _send(self, data, addr):
        if self.sock is not None:
            try:
                self.sock.sendto(data, addr)
            except (BlockingIOError, InterruptedError):
                self.stats["send_dropped"] += 1  # UDP: the gateway copes with a lost ack
            except OSError as exc:
                log.warning("semtech-udp %s: sending to %s: %s", self.name,
                            format_address(addr), exc)

    def _readable(self):
        # Drain what the socket holds (bounded, so other tasks get their turn): one
        # event-loop wake-up per burst instead of one per datagram.
        sock = self.sock
        for _ in range(512):
            try:
                data, addr = sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("semtech-udp %s: %s", self.name, exc)
                return
            try:
                self.datagram(data, addr)
            except Exception as exc:  # noqa: BLE001 - one datagram must not stop the source
                self._malformed(f"datagram from {format_address(addr)}: "
                                f"{type(exc).__name__}: {exc}")

    def _push_data(self, dg, gw):
        body = dg.body
        stat = body.get("stat")
        if stat is not None:
            if isinstance(stat, dict):
                gw.stat = stat
                lat, lon = stat.get("lati"), stat.get("long")
                if isinstance(lat, int | float) and isinstance(lon, int | float) and (lat or lon):
                    gw.location = (lat, lon, stat.get("alti"))
                self.stats["stat"] += 1
            else:
                self._malformed(f"PUSH_DATA from gateway {gw.eui}: stat must be an object")
        rxpk = body.get("rxpk")
        if rxpk is None:
            return
        if not isinstance(rxpk, list):
            self._malformed(f"PUSH_DATA from gateway {gw.eui}: rxpk must be an array")
            return
        now = time.monotonic()
        for i, obj in enumerate(rxpk):
            try:
                rx = gwmp.parse_rxpk(obj, f"rxpk[{i}]")
            except gwmp.GwmpError as exc:
                self._malformed(f"PUSH_DATA from gateway {gw.eui}: {exc}")
                continue
            gw.rxpk += 1
            if rx.stat != 1:
                # CRC failed (or absent): the bytes cannot be trusted; LoRaWAN uplinks
                # always carry a CRC.
                self.stats["crc"] += 1
                self.ctx.count_error("crc")
                continue
            pend = self._pending.get(rx.phy)
            if pend is None:
                seen = self._recent.get(rx.phy)
                if (seen is not None and now - seen.first < self._late
                        and all(eui != gw.eui for eui, _ in seen.heard)):
                    seen.heard.append((gw.eui, rx))
                    self.stats["late_copies"] += 1
                    continue
                pend = self._pending[rx.phy] = _Uplink(rx.phy, now, now + self.dedup_window,
                                                       time.time())
                self._wake.set()
            elif any(eui == gw.eui for eui, _ in pend.heard):
                self.stats["repeated"] += 1  # the same gateway forwarded it twice
                continue
            pend.heard.append((gw.eui, rx))

    # -- the uplink path -----------------------------------------------------------------

    async def _flusher(self):
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            first = next(iter(self._pending.values()))
            delay = first.deadline - time.monotonic()
            if delay > 0:
                # A little slack gathers the uplinks due together into one batch.
                await asyncio.sleep(delay + min(0.005, self.dedup_window / 10))
            await self.flush()

    async def flush(self, final=False):
        """Process the uplinks whose dedup window ended (all of them when ``final``)."""
        now = time.monotonic()
        records = []
        pending, recent = self._pending, self._recent
        while recent:
            key = next(iter(recent))
            if now - recent[key].first < self._late:
                break
            del recent[key]
        while pending:
            key = next(iter(pending))
            pend = pending[key]
            if not final and pend.deadline > now:
                break
            del pending[key]
            recent.pop(key, None)  # re-inserted last: the dict stays in time order
            recent[key] = pend
            try:
                rec = self._uplink(pend)
            except Exception as exc:  # noqa: BLE001 - one bad uplink must not stop the source
                self._report("frame", f"uplink {pend.phy[:1].hex()}...: "
                                      f"{type(exc).__name__}: {exc}")
                continue
            if rec is not None:
                records.append(rec)
        if records:
            await self.ctx.put(records)

    def _uplink(self, pend):
        heard = sorted(pend.heard, key=lambda h: h[1].signal, reverse=True)
        phy = pend.phy
        mtype = phy[0] >> 5 if phy else -1
        if mtype == 0:
            self._join(pend, heard)
            return None
        best_eui, best = heard[0]
        if mtype not in (2, 4):
            what = lorawan.MTYPES[mtype] if 0 <= mtype < len(lorawan.MTYPES) else "empty frame"
            self._report("frame", f"{what} heard by gateway {best_eui} is not a data uplink "
                                  "or join-request", gateway=best_eui)
            return None
        dr = gwmp.eu868_dr(best.datr)
        ch = self.channels.get(round(best.freq * 10000)) if best.freq is not None else None
        v = self.table.check_uplink(phy, tx_dr=dr or 0, tx_ch=ch or 0)
        gateways = [eui for eui, _ in heard]
        if not v.accepted:
            kind = _REJECTED.get(v.reason, "frame")
            dev = v.session.device if v.session is not None else None
            data = {"reason": v.reason, "gateways": gateways}
            if v.frame is not None and v.frame.fcnt is not None:
                data["fcnt"] = v.frame.fcnt
            if len(phy) >= 5 and kind != "frame":
                data["dev_addr"] = phy[1:5][::-1].hex()
            self._report(kind, v.detail, dev, **data)
            if v.reason == "duplicate" and v.frame.mtype == "ConfirmedDataUp":
                # The device missed our ACK and sent the frame again: acknowledge it
                # again (its payload was delivered the first time).
                self._class_a_window(v.session, pend, heard, v.frame)
            return None
        s, frame = v.session, v.frame
        self._dirty.add(s.device)
        self.stats["uplinks"] += 1
        if v.reason == "counter_reset":
            self._report("counter_reset", v.detail, s.device, fcnt=frame.fcnt)
        answers = mac_answers(frame.mac_commands or (), heard, pend.time)
        if answers:
            self.stats["mac_answers"] += 1
        answers += self._adr(s.device, frame, heard, room=15 - len(answers))
        # ADRACKReq: the device has heard nothing for ADR_ACK_LIMIT uplinks and lowers its
        # data rate soon unless a downlink comes now.
        must = bool((frame.fctrl or {}).get("adr_ack_req"))
        self._class_a_window(s, pend, heard, frame, answers, must)
        fport = frame.fport
        if not fport:
            self.stats["mac_only"] += 1  # MAC commands only: nothing for the device model
            return None
        # "snr" repeats "lsnr" under the name the chirpstack and tts sources use.
        rx = {"gateway": best_eui, "rssi": best.rssi, "lsnr": best.lsnr, "snr": best.lsnr,
              "freq": best.freq, "datr": best.datr, "codr": best.codr,
              "dev_addr": s.dev_addr, "mtype": frame.mtype,
              "gateways": [{"eui": eui, "rssi": r.rssi, "lsnr": r.lsnr, "tmst": r.tmst,
                            "chan": r.chan, "rfch": r.rfch, "time": r.time}
                           for eui, r in heard]}
        return self.ctx.pack(frame.frm_payload, network="lorawan", device=s.device,
                             fport=fport, fcnt=frame.fcnt, time=pend.time, rx=rx)

    # -- OTAA --------------------------------------------------------------------------

    def _join(self, pend, heard):
        best_eui = heard[0][0]
        if not self.join_enabled:
            self._report("join_refused", "join-request ignored: the source answers no joins "
                                 "(join = false)", gateway=best_eui)
            return
        used = {s.dev_addr for s in self.table}
        try:
            joined = self.joins.handle(pend.phy, used)
        except JoinRefused as exc:
            self._report(exc.kind, str(exc), exc.device, gateway=best_eui)
            return
        dev = joined.device
        self.table.add(joined.session)
        self._windows.pop(dev, None)
        self._adr_state.pop(dev, None)   # a new session starts at the device's defaults
        self._dirty.add(dev)
        self._save_now.set()  # a session a device now uses must survive a crash
        self.stats["joins"] += 1
        sent = self._schedule(dev, joined.join_accept, pend.first, heard,
                              gwmp.JOIN_ACCEPT_DELAY1, "join-accept", join=True)
        self.ctx.emit(Event("lorawan.join", "info", dev, time.time(),
                            {"message": f"device {dev} joined as DevAddr {joined.dev_addr}",
                             "dev_addr": joined.dev_addr, "dev_nonce": joined.dev_nonce,
                             "gateway": sent}, self.name))

    # -- downlinks -----------------------------------------------------------------------

    def _next_token(self):
        self._token = (self._token + 1) & 0xFFFF
        return self._token

    def _pull_gateway(self, euis):
        """The first of ``euis`` (best signal first) that can transmit: its PULL_DATA came
        within ``pull_timeout``.  A gateway that stopped pulling is off line, or its NAT
        mapping (where PULL_RESP go) may have lapsed."""
        oldest = time.monotonic() - self.pull_timeout
        for eui in euis:
            gw = self.gateways.get(eui)
            if gw is not None and gw.pulled is not None and gw.pulled >= oldest:
                return gw
        return None

    @staticmethod
    def _rx1_datr(datr, offset):
        # EU868 RX1 data rate: the uplink's DR minus RX1DROffset, DR0 at least (RP002).
        dr = gwmp.eu868_dr(datr)
        if dr is None:
            return datr  # not an EU868 rate: answer on the same one
        return gwmp.eu868_datr(max(0, dr - offset))

    def _transmit(self, gw, phy, txpk, device, what, fcnt=None):
        token = self._next_token()
        self._send(gwmp.pull_resp(txpk, token, version=gw.version), gw.pull_address)
        gw.downlinks += 1
        self.stats["downlinks"] += 1
        self._tx[token] = {"device": device, "gateway": gw.eui, "what": what, "fcnt": fcnt,
                           "time": time.time()}
        while len(self._tx) > MAX_PENDING_TX:
            self._tx.popitem(last=False)

    def _schedule(self, device, phy, first, heard, delay, what, fcnt=None, join=False):
        """Send ``phy`` in the RX1 (``delay`` after the uplink) or RX2 window (a second
        later) through the best gateway that can transmit; the gateway's EUI or None.

        A join-accept (``join``) goes on the regional defaults (RX1DROffset 0, RX2 on
        869.525 MHz DR0): the device takes the source's settings from the accept itself."""
        euis = [eui for eui, _ in heard]
        gw = self._pull_gateway(euis)
        if gw is None:
            self._report("downlink", f"{what} for device {device}: none of the gateways that "
                                     f"heard it ({', '.join(euis)}) has sent PULL_DATA in "
                                     f"the last {self.pull_timeout:g} s, so none can "
                                     "transmit", device)
            return None
        rx = next(r for eui, r in heard if eui == gw.eui)
        if rx.tmst is None:
            self._report("downlink", f"{what} for device {device}: gateway {gw.eui} gave no "
                                     "tmst to schedule the receive window", device)
            return None
        late = time.monotonic() + self.tx_lead
        settings = self._rx_settings(device)
        if late <= first + delay and rx.freq is not None and rx.datr is not None:
            pk = gwmp.txpk(phy, tmst=rx.tmst + round(delay * 1e6), freq=rx.freq,
                           datr=self._rx1_datr(rx.datr, 0 if join else settings.rx1_dr_offset),
                           power=self.tx_power)
        elif late <= first + delay + 1:
            freq, datr = ((gwmp.EU868_RX2_FREQUENCY, gwmp.eu868_datr(gwmp.EU868_RX2_DR))
                          if join else (settings.rx2_frequency, settings.rx2_datr))
            pk = gwmp.txpk(phy, tmst=rx.tmst + round((delay + 1) * 1e6), freq=freq,
                           datr=datr, power=self.tx_power)
        else:
            self._report("downlink", f"{what} for device {device}: both receive windows "
                                     "passed before it could be sent", device)
            return None
        self._transmit(gw, phy, pk, device, what, fcnt)
        return gw.eui

    def _class_a_window(self, s, pend, heard, frame, answers=b"", must=False):
        win = self._windows[s.device] = _Window(pend.first, heard, frame.fcnt)
        ack = frame.mtype == "ConfirmedDataUp"
        queue = self._queues.get(s.device)
        if not queue and not ack and not answers and not must:
            return
        item = queue.popleft() if queue else None
        if not self._in_window(s, win, item, ack, answers) and item is not None:
            queue.appendleft(item)
        if s.device in self.class_c:
            # Commands that waited for a class C device's first uplink: all go now.
            while queue:
                item = queue.popleft()
                try:
                    sent = self._class_c(s, item)
                except (EncodeError, ValueError) as exc:
                    self._report("downlink", f"downlink for device {s.device}: {exc}",
                                 s.device)
                    continue
                if not sent:
                    queue.appendleft(item)
                    break

    def _in_window(self, s, win, item, ack, answers=b""):
        """Build and send one downlink into the window of the device's last uplink, with
        ``answers`` (MAC commands, in FOpts) if any."""
        try:
            phy, fcnt = self._build(s, item, ack, fpending=bool(self._queues.get(s.device)),
                                    conf_fcnt=win.fcnt, fopts=answers)
        except (EncodeError, ValueError) as exc:
            self._report("downlink", f"downlink for device {s.device}: {exc}", s.device)
            return True  # it can never be sent: do not queue it again
        what = "downlink" if item is not None else "ack" if ack else "MAC answer"
        sent = self._schedule(s.device, phy, win.first, win.heard,
                              self._rx_settings(s.device).rx1_delay, what, fcnt)
        if sent is None:
            self._undo_fcnt(s, item)
            return False
        win.used = True
        return True

    def _build(self, s, item, ack, fpending=False, conf_fcnt=0, fopts=b""):
        fport, payload, confirmed = item if item is not None else (None, b"", False)
        fcnt = s.next_fcnt_down(fport)
        keys = s.to_dict(include_keys=True)["keys"]
        try:
            phy = lorawan.encode_data(dev_addr=s.dev_addr, fcnt=fcnt, fport=fport,
                                      payload=payload, fopts=fopts, uplink=False,
                                      confirmed=confirmed, ack=ack, fpending=fpending,
                                      version=s.version,
                                      fopts_scheme=s.fopts_scheme,
                                      conf_fcnt=(conf_fcnt or 0) & 0xFFFF if ack else 0, **keys)
        except Exception:
            self._undo_fcnt(s, item)
            raise
        self._dirty.add(s.device)
        # A used FCntDown must outlive a crash: a 1.0 device drops a reused counter.
        self._save_now.set()
        if confirmed:
            s.conf_fcnt_down = fcnt
        return phy, fcnt

    @staticmethod
    def _undo_fcnt(s, item):
        # The frame never left: give its counter back so the device sees no gap.
        fport = item[0] if item is not None else None
        if s.version == "1.1" and fport:
            s.afcnt_down = (s.afcnt_down - 1) & 0xFFFFFFFF
        else:
            s.fcnt_down = (s.fcnt_down - 1) & 0xFFFFFFFF

    def _class_c(self, s, item):
        win = self._windows.get(s.device)
        gw = self._pull_gateway([e for e, _ in win.heard]) if win is not None else None
        if gw is None:
            return False  # no gateway heard it yet: sent after its first uplink
        phy, fcnt = self._build(s, item, False)
        settings = self._rx_settings(s.device)
        pk = gwmp.txpk(phy, immediately=True, freq=settings.rx2_frequency,
                       datr=settings.rx2_datr, power=self.tx_power)
        self._transmit(gw, phy, pk, s.device, "downlink", fcnt)
        return True

    async def send(self, command):
        """Send a command's payload to its device: class C now, class A in the window of
        its last uplink if that is still open, else after its next uplink."""
        dev = command.device
        if command.payload is None:
            raise ValueError(f"command for {dev} has no payload")
        if dev not in self.devices:
            self._report("downlink", f"command for device {dev}, which has no LoRaWAN keys "
                                     f"in source {self.name}", dev)
            return
        problem = lorawan.app_fport_problem(dev, command.fport)
        if problem is not None:
            self._report("downlink", problem, dev)
            return
        item = (command.fport, bytes(command.payload), bool(command.confirmed))
        s = self.table.get(dev)
        stopped = self.sock is None and self.ctx is not None
        if s is not None and not stopped:
            try:
                if dev in self.class_c:
                    if self._class_c(s, item):
                        return
                else:
                    win = self._windows.get(dev)
                    rx2 = self._rx_settings(dev).rx1_delay + 1
                    if (win is not None and not win.used
                            and time.monotonic() + self.tx_lead <= win.first + rx2
                            and self._in_window(s, win, item, False)):
                        return
            except (EncodeError, ValueError) as exc:
                self._report("downlink", f"downlink for device {dev}: {exc}", dev)
                return
        queue = self._queues.setdefault(dev, deque())
        if len(queue) >= self.queue_limit:
            queue.popleft()
            self._report("downlink", f"downlink queue of device {dev} is full "
                                     f"({self.queue_limit}): the oldest command was dropped",
                         dev)
        queue.append(item)
        self.stats["downlinks_queued"] += 1
        self._dirty.add(dev)
        if stopped:
            # A service's last command, sent after the source stopped (its stop()):
            # nothing can transmit now, so it waits in the saved queue for the device's
            # first uplink of the next run.
            self.save_state()

    def last_uplink(self, device):
        """``{"monotonic", "fcnt", "gateways", "window_used"}`` of the device's last
        accepted uplink (its receive windows are timed from ``monotonic``), or None."""
        win = self._windows.get(device)
        if win is None:
            return None
        return {"monotonic": win.first, "fcnt": win.fcnt,
                "gateways": [eui for eui, _ in win.heard], "window_used": win.used}

    def pending(self, device):
        """How many downlinks wait for ``device``'s next uplink."""
        return len(self._queues.get(device, ()))

    def _tx_ack(self, dg, gw):
        entry = self._tx.pop(dg.token, None)
        error = None
        if dg.body is not None:
            ack = dg.body.get("txpk_ack")
            if isinstance(ack, dict):
                error = ack.get("error")
        if error in (None, "", "NONE"):
            self.stats["tx_ok"] += 1
            return
        gw.tx_errors += 1
        device = entry["device"] if entry else None
        what = f"the {entry['what']} for device {device}" if entry else "a downlink"
        self._report("tx_error", f"gateway {gw.eui} could not transmit {what}: {error} "
                                 f"({gwmp.TX_ERRORS.get(error, 'unknown error')})", device,
                     gateway=gw.eui, error=str(error),
                     fcnt=entry["fcnt"] if entry else None, token=dg.token)

    # -- running -------------------------------------------------------------------------

    def _socket(self):
        family = socket.AF_INET6 if ":" in self.bind[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        except OSError:
            pass  # the kernel's limit applies
        sock.bind(self.bind)
        sock.setblocking(False)
        return sock

    async def run(self, ctx):
        self.ctx = ctx
        self.load_state(ctx.state)
        loop = asyncio.get_running_loop()
        self.sock = sock = self._socket()
        self.address = sock.getsockname()[:2]
        loop.add_reader(sock.fileno(), self._readable)
        log.info("semtech-udp %s: listening on %s (%d devices with keys)", self.name,
                 format_address(self.address), len(self.devices))
        tasks = [asyncio.create_task(self._flusher()), asyncio.create_task(self._saver())]
        self.ready.set()
        try:
            await ctx.stopping.wait()
        finally:
            loop.remove_reader(sock.fileno())
            sock.close()
            self.sock = None
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            try:
                await self.flush(final=True)  # every uplink received is still processed
            finally:
                self.save_state()


def _validate(name, options, devices):
    """For ``hromada check``: the keys table and file load, and name city devices."""
    where = f"sources.{name}"
    found = []
    try:
        load_devices(options["keys"], options["keys_file"], devices, where, problems=found)
    except ValueError as exc:     # the keys file itself cannot be read
        found.append(str(exc))
    out = []
    for text in found:
        key, sep, message = text.partition(": ")
        out.append((key, message) if sep else (where, text))
    return out


_KEY_HELP = "may be env:VARIABLE; overridden by keys_file and the keys table"
# The device-list columns this source reads (Device.network); devices.DEVICE_COLUMNS maps
# them to the fields of the keys table.
_DEVICE_OPTIONS = (
    Option("dev_addr", "str", default=None, help="DevAddr of an ABP session (8 hex digits)"),
    Option("nwkskey", "str", default=None, secret=True,
           help=f"LoRaWAN 1.0 NwkSKey (ABP); {_KEY_HELP}"),
    Option("appskey", "str", default=None, secret=True, help=f"AppSKey (ABP); {_KEY_HELP}"),
    Option("fnwksintkey", "str", default=None, secret=True,
           help=f"LoRaWAN 1.1 FNwkSIntKey (ABP); {_KEY_HELP}"),
    Option("snwksintkey", "str", default=None, secret=True,
           help=f"LoRaWAN 1.1 SNwkSIntKey (ABP); {_KEY_HELP}"),
    Option("nwksenckey", "str", default=None, secret=True,
           help=f"LoRaWAN 1.1 NwkSEncKey (ABP); {_KEY_HELP}"),
    Option("appkey", "str", default=None, secret=True, help=f"AppKey (OTAA); {_KEY_HELP}"),
    Option("nwkkey", "str", default=None, secret=True,
           help=f"LoRaWAN 1.1 NwkKey (OTAA); {_KEY_HELP}"),
    Option("join_eui", "str", default=None, help="JoinEUI / AppEUI of an OTAA device"),
    Option("lorawan_version", "str", default=None, help="\"1.0.x\" or \"1.1\""),
    Option("lorawan_class", "str", default=None, help="\"A\" or \"C\""),
    Option("rx1_delay", "int", default=None, min=1, max=15,
           help="an ABP device's own RX1 delay in seconds (else the source's)"),
    Option("rx1_dr_offset", "int", default=None, min=0, max=5,
           help="an ABP device's own RX1 data-rate offset (else the source's)"),
    Option("rx2_frequency", "float", default=None,
           help="an ABP device's own RX2 frequency in MHz (else the source's)"),
    Option("rx2_datr", "str", default=None,
           help="an ABP device's own RX2 data rate, e.g. SF9BW125 (else the source's)"),
)


@hromada.hookimpl
def hromada_sources():
    return [
        SourceType(
            name="semtech-udp",
            factory=SemtechUdpSource,
            downlinks=True,
            validate=_validate,
            device_options=_DEVICE_OPTIONS,
            help="LoRaWAN gateways over the Semtech UDP packet forwarder protocol: "
                 "uplinks deduplicated, MIC and frame counters checked, decrypted; OTAA "
                 "joins; class A/C downlinks.",
            options=(
                Option("bind", "str", default="0.0.0.0:1700",
                       help="host:port to listen on (port 0: any free port)"),
                Option("keys", "table", default={}, secret=True,
                       help="DevEUI -> {dev_addr, nwkskey, appskey | appkey, join_eui, "
                            "version, class ...}; keys may be env:VARIABLE; overrides "
                            "keys_file and the device list's columns field by field"),
                Option("keys_file", "path", default=None,
                       help="CSV (dev_eui,dev_addr,nwkskey,...) or TOML file of device "
                            "keys; overrides the device list's columns, keys overrides it"),
                Option("dedup_window", "duration", default=0.2,
                       help="how long copies of an uplink from other gateways are awaited"),
                Option("max_gap", "int", default=DEFAULT_MAX_GAP, min=1,
                       help="largest jump of a device's frame counter accepted"),
                Option("rx1_delay", "int", default=int(gwmp.RECEIVE_DELAY1), min=1, max=15,
                       help="seconds from an uplink to its RX1 window (RX2: one more)"),
                Option("rx1_dr_offset", "int", default=0, min=0, max=5,
                       help="RX1 data rate = uplink DR minus this (EU868)"),
                Option("rx2_frequency", "float", default=gwmp.EU868_RX2_FREQUENCY,
                       help="RX2 and class C frequency in MHz (EU868: 869.525)"),
                Option("rx2_datr", "str", default=gwmp.eu868_datr(gwmp.EU868_RX2_DR),
                       help="RX2 and class C data rate (EU868 DR0: SF12BW125)"),
                Option("tx_power", "int", default=14, min=0, max=30,
                       help="downlink TX power in dBm"),
                Option("adr", "bool", default=True,
                       help="adaptive data rate: send LinkADRReq to devices that set the ADR "
                            "bit, from the SNR of their last 20 uplinks"),
                Option("adr_margin", "float", default=10.0, min=0, max=30,
                       help="installation margin in dB kept above the data rate's SNR floor"),
                Option("pull_timeout", "duration", default=60.0, min=1,
                       help="a gateway whose last PULL_DATA is older than this is not used "
                            "for downlinks (packet forwarders pull every 10 s by default)"),
                Option("tx_lead", "duration", default=0.1,
                       help="how long before a receive window a downlink must leave"),
                Option("class_c", "list", default=[],
                       help="devices (DevEUIs) in class C: downlinks go out at once"),
                Option("join", "bool", default=True,
                       help="answer join-requests of OTAA devices"),
                Option("net_id", "str", default="000000",
                       help="the network's NetID (6 hex digits); OTAA DevAddrs come from it"),
                Option("dev_addr_range", "str", default=None,
                       help="DevAddrs to give joining devices, e.g. \"26011000-260113ff\" "
                            "(default: the NetID's whole range)"),
                Option("cflist", "list", default=[],
                       help="extra EU868 channels (MHz, up to 5) sent in join-accepts"),
                Option("dev_nonce_check", "str", default="unique",
                       choices=("unique", "increasing"),
                       help="refuse join-requests whose DevNonce was used (unique) or is "
                            "not above the last (increasing, LoRaWAN 1.0.4/1.1)"),
                Option("gateways", "list", default=[],
                       help="gateway EUIs allowed to connect (default: any)"),
                Option("downlink_queue", "int", default=16, min=1,
                       help="downlinks kept per device until its next uplink"),
                Option("state_interval", "duration", default=10.0,
                       help="how often changed frame counters are written to the city's state "
                            "database"),
                Option("max_events", "int", default=20, min=0,
                       help="events per error kind (after that they are only counted)"),
                Option("rcvbuf", "int", default=4 * 1024 * 1024, min=65536,
                       help="UDP receive buffer in bytes (bursts from many gateways)"),
            ),
        )
    ]
