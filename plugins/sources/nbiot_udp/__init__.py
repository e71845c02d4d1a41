"""The ``nbiot-udp`` source: NB-IoT devices sending binary datagrams to a UDP port.

NB-IoT modules (and their operators' UDP forwarders) deliver each uplink as one
datagram.  Which device sent it comes from, in this order:

1. ``addresses``: a map of sender address (``"10.0.0.7:40000"``, or ``"10.0.0.7"`` for
   any port) to device id, for devices on a private APN with fixed addresses;
2. ``identity``: an identity header at a fixed place of every datagram, e.g.
   ``{offset = 0, length = 8, format = "bcd", digits = 15}`` for an IMEI;
3. an identity header the device's model declares: a model option ``nbiot_identity``
   (and optionally ``nbiot_sequence``, ``nbiot_header_length``) whose default (or the
   device's own value) describes the header; the datagram belongs to a device of such
   a model whose id the header holds.

Formats of an identity field: ``bcd`` (digits, high nibble first, F nibbles are
filler where they pad the digits at either end), ``tbcd`` (3GPP: low nibble first),
``hex`` (lowercase hex), ``ascii`` (text, NUL and space padding removed, lowercased),
``uint`` (an unsigned integer in decimal); ``digits = N`` keeps the last N digits when
the rest are leading zeros (and pads a ``uint`` with zeros to N digits).
A ``sequence`` field (``{offset = 8, length = 2}``, an unsigned integer, ``byteorder``
"big" or "little") numbers the device's uplinks: a datagram whose device and sequence
were seen among the last ``duplicate_window`` is dropped and counted as
``duplicate`` (the run summary's ``errors_by_kind``).  The header (identity, sequence,
up to ``header_length`` bytes) is removed before the device's model decodes the rest.

Replies: when ``ack`` (hex) or ``ack_echo`` is set, each accepted datagram gets a reply
datagram: ``ack`` followed by the sequence field or the whole header as received.  A
command queued with :meth:`NbiotUdpSource.send` (the kernel does so for downlinks) is
sent instead, as the reply to the device's next datagram; a retransmitted (duplicate)
datagram gets the same reply again.  Datagrams that cannot be read are counted as
``malformed``, those from nobody the city knows as ``unidentified``.  A datagram whose
``identity`` header names a device the city does not list gets no reply (no ack, no
downlink) and is not decoded: it is counted as ``unknown_device`` and reported once per
device with a ``device.unknown`` event, as the kernel does for frames of unknown devices.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque

import attrs

import hromada
from hromada import Event, Option, SourceType

log = logging.getLogger("hromada.nbiot")

FORMATS = ("bcd", "tbcd", "hex", "ascii", "uint")
#: Events with a message per error kind and source; after that errors are only counted.
MAX_EVENTS = 20
#: Unknown devices reported with a ``device.unknown`` event; after that only counted.
MAX_UNKNOWN_REPORTED = 1000


def parse_bind(text, where):
    """``"host:port"`` (``"[::1]:5683"`` for IPv6) -> (host, port)."""
    host, sep, port = str(text).rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{where}: {text!r} is not host:port (e.g. \"0.0.0.0:9000\")")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def format_address(addr):
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class HeaderError(ValueError):
    """A datagram's header could not be read."""


@attrs.frozen(slots=True)
class Field:
    """One header field: where it is and how it reads."""

    offset: int
    length: int
    format: str = "uint"
    digits: int | None = None
    byteorder: str = "big"

    @property
    def end(self):
        return self.offset + self.length

    @classmethod
    def from_table(cls, table, where, default_format):
        if not isinstance(table, dict):
            raise ValueError(f"{where}: must be a table like {{offset = 0, length = 8}}")
        unknown = set(table) - {"offset", "length", "format", "digits", "byteorder"}
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: "
                             "offset, length, format, digits, byteorder")
        for key in ("offset", "length"):
            v = table.get(key)
            if isinstance(v, bool) or not isinstance(v, int) or v < (key == "length"):
                raise ValueError(f"{where}.{key}: must be an integer "
                                 f"{'>= 1' if key == 'length' else '>= 0'}, not {v!r}")
        fmt = table.get("format", default_format)
        if fmt not in FORMATS:
            raise ValueError(f"{where}.format: {fmt!r} is not one of {', '.join(FORMATS)}")
        digits = table.get("digits")
        if digits is not None and (isinstance(digits, bool) or not isinstance(digits, int)
                                   or digits < 1):
            raise ValueError(f"{where}.digits: must be a positive integer, not {digits!r}")
        if digits is not None and fmt in ("hex", "ascii"):
            raise ValueError(f"{where}.digits: applies to bcd, tbcd and uint fields, not {fmt}")
        order = table.get("byteorder", "big")
        if order not in ("big", "little"):
            raise ValueError(f"{where}.byteorder: must be \"big\" or \"little\", not {order!r}")
        return cls(table["offset"], table["length"], fmt, digits, order)

    def read(self, data, what):
        if len(data) < self.end:
            raise HeaderError(f"datagram of {len(data)} bytes is too short for the {what} "
                              f"field (bytes {self.offset}-{self.end - 1})")
        raw = data[self.offset:self.end]
        fmt = self.format
        if fmt == "uint":
            text = str(int.from_bytes(raw, self.byteorder))
        elif fmt == "hex":
            text = raw.hex()
        elif fmt == "ascii":
            try:
                text = raw.decode("ascii").strip("\x00 ")
            except UnicodeDecodeError:
                raise HeaderError(f"{what} field (bytes {self.offset}-{self.end - 1}) is not "
                                  "ASCII text") from None
            if not text.isprintable():
                raise HeaderError(f"{what} field (bytes {self.offset}-{self.end - 1}) holds "
                                  "control characters")
            text = text.lower()
        else:
            nibbles = []  # (nibble, index of its byte)
            for i, b in enumerate(raw):
                pair = (b >> 4, b & 15) if fmt == "bcd" else (b & 15, b >> 4)
                for n in pair:
                    if 9 < n < 15:
                        raise HeaderError(f"{what} field: byte {self.offset + i} (0x{b:02x}) "
                                          f"is not {fmt.upper()}")
                    nibbles.append((n, i))
            # F is filler only where it pads the digits, at either end
            while nibbles and nibbles[-1][0] == 15:
                nibbles.pop()
            start = 0
            while start < len(nibbles) and nibbles[start][0] == 15:
                start += 1
            for n, i in nibbles[start:]:
                if n == 15:
                    raise HeaderError(f"{what} field: byte {self.offset + i} "
                                      f"(0x{raw[i]:02x}) has a filler nibble F between "
                                      "digits")
            text = "".join(str(n) for n, _i in nibbles[start:])
        if self.digits is not None:
            if fmt == "uint":
                text = text.zfill(self.digits)  # a serial number printed with leading zeros
            extra = len(text) - self.digits
            if extra < 0 or text[:extra].strip("0"):
                raise HeaderError(f"{what} field holds {text!r}, not {self.digits} digits")
            text = text[extra:]
        if not text:
            raise HeaderError(f"{what} field (bytes {self.offset}-{self.end - 1}) is empty")
        return text


@attrs.frozen(slots=True)
class Header:
    """An uplink header: identity and sequence fields, and how many bytes to remove."""

    identity: Field | None = None
    sequence: Field | None = None
    length: int = 0

    @classmethod
    def from_options(cls, identity, sequence, length, where, names):
        ident = (Field.from_table(identity, f"{where}.{names[0]}", "hex")
                 if identity is not None else None)
        seq = (Field.from_table(sequence, f"{where}.{names[1]}", "uint")
               if sequence is not None else None)
        if seq is not None and seq.format != "uint":
            raise ValueError(f"{where}.{names[1]}.format: a sequence number is \"uint\"")
        ends = [f.end for f in (ident, seq) if f is not None]
        if length is None:
            length = max(ends, default=0)
        elif isinstance(length, bool) or not isinstance(length, int) or length < max(
                ends, default=0):
            raise ValueError(f"{where}.{names[2]}: must be an integer covering the header "
                             f"fields (>= {max(ends, default=0)}), not {length!r}")
        return cls(ident, seq, length)

    def split(self, data):
        """(identity or None, sequence or None, payload) of one datagram."""
        ident = self.identity.read(data, "identity") if self.identity else None
        seq = int(self.sequence.read(data, "sequence")) if self.sequence else None
        if len(data) < self.length:
            raise HeaderError(f"datagram of {len(data)} bytes is shorter than its "
                              f"{self.length}-byte header")
        return ident, seq, data[self.length:]


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, source):
        self.source = source

    def datagram_received(self, data, addr):
        self.source.datagram(data, addr)

    def error_received(self, exc):
        log.warning("nbiot-udp: %s", exc)


class NbiotUdpSource:
    """One UDP endpoint for NB-IoT devices; see the module documentation."""

    def __init__(self, name, options, city):
        self.name = name
        where = f"sources.{name}"
        self.bind = parse_bind(options["bind"], f"{where}.bind")
        devices = city.devices if city is not None else {}
        self.devices = devices
        self.check_devices = city is not None
        has_header = any(options.get(k) is not None
                         for k in ("identity", "sequence", "header_length"))
        self.header = (Header.from_options(options.get("identity"), options.get("sequence"),
                                           options.get("header_length"), where,
                                           ("identity", "sequence", "header_length"))
                       if has_header else None)
        self.addresses = {}
        for addr, dev in (options.get("addresses") or {}).items():
            if not isinstance(dev, str):
                raise ValueError(f"{where}.addresses.{addr}: a device id (string), not {dev!r}")
            dev = dev.strip().lower()
            if devices and dev not in devices:
                raise ValueError(f"{where}.addresses: device {dev!r} (for {addr}) is not in "
                                 "the city's device list")
            self.addresses[addr.strip().lower()] = dev
        # Headers declared by device models: (header, ids of the devices using it).
        self.model_headers = []
        self.device_headers = {}
        by_header = {}
        for dev in devices.values():
            opts = dev.options
            if opts.get("nbiot_identity") is None and opts.get("nbiot_sequence") is None:
                continue
            hdr = Header.from_options(opts.get("nbiot_identity"), opts.get("nbiot_sequence"),
                                      opts.get("nbiot_header_length"),
                                      f"device {dev.id} (model {dev.model})",
                                      ("nbiot_identity", "nbiot_sequence",
                                       "nbiot_header_length"))
            self.device_headers[dev.id] = hdr
            if hdr.identity is not None:
                by_header.setdefault(hdr, set()).add(dev.id)
        self.model_headers = list(by_header.items())
        if self.header is None and not self.model_headers and not self.addresses:
            raise ValueError(f"{where}: no way to tell devices apart: set identity (a header "
                             "field), addresses, or use device models that declare "
                             "nbiot_identity")
        self.fport = options.get("fport")
        try:
            self.ack = bytes.fromhex(options.get("ack") or "")
        except ValueError:
            raise ValueError(f"{where}.ack: {options.get('ack')!r} is not hex bytes") from None
        self.ack_echo = options.get("ack_echo", "none")
        self.window = options.get("duplicate_window", 32)
        self.queue_limit = options.get("downlink_queue", 16)
        self.stats = Counter()
        self.address = None
        self.ready = asyncio.Event()
        self.ctx = None
        self.transport = None
        self._seen = {}       # device -> (deque of recent sequence numbers, set of them)
        self._last_reply = {}  # device -> (sequence, reply bytes)
        self._downlinks = {}  # device -> deque of payloads
        self._events = Counter()
        self._unknown_reported = set()

    # -- errors ----------------------------------------------------------------------

    def _count(self, kind, message=None, device=None):
        self.stats[kind] += 1
        if message is not None and self._events[kind] < MAX_EVENTS:
            self._events[kind] += 1
            self.ctx.count_error(kind, message, device=device)
        else:
            self.ctx.count_error(kind, device=device)

    # -- identification ------------------------------------------------------------

    def identify(self, data, addr):
        """(device id, sequence, payload) of a datagram, or raise HeaderError / LookupError."""
        host = str(addr[0]).lower()
        if host.startswith("::ffff:") and "." in host:
            host = host[7:]  # an IPv4 sender on a dual-stack IPv6 socket
        text = format_address((host, addr[1]))
        dev = self.addresses.get(text) or self.addresses.get(host)
        if dev is not None:
            hdr = self.header or self.device_headers.get(dev)
            if hdr is None:
                return dev, None, data
            _ident, seq, payload = hdr.split(data)
            return dev, seq, payload
        if self.header is not None and self.header.identity is not None:
            return self.header.split(data)
        problems = []
        for hdr, ids in self.model_headers:
            try:
                ident, seq, payload = hdr.split(data)
            except HeaderError as exc:
                problems.append(str(exc))
                continue
            if ident in ids:
                return ident, seq, payload
        if problems and len(problems) == len(self.model_headers):
            raise HeaderError(problems[0])
        raise LookupError(f"datagram from {format_address(addr)}: no device of the city "
                          "matches its address or identity header")

    # -- receiving -----------------------------------------------------------------

    def _duplicate(self, dev, seq):
        if seq is None or self.window <= 0:
            return False
        entry = self._seen.get(dev)
        return entry is not None and seq in entry[1]

    def _remember(self, dev, seq):
        if seq is None or self.window <= 0:
            return
        entry = self._seen.get(dev)
        if entry is None:
            entry = self._seen[dev] = (deque(), set())
        order, seen = entry
        order.append(seq)
        seen.add(seq)
        if len(order) > self.window:
            seen.discard(order.popleft())

    def _reply_for(self, dev, seq, data, hdr_len):
        queue = self._downlinks.get(dev)
        if queue:
            self.stats["downlinks_sent"] += 1
            return queue.popleft()
        if not self.ack and self.ack_echo == "none":
            return None
        echo = b""
        if self.ack_echo == "header":
            echo = data[:hdr_len]
        elif self.ack_echo == "sequence" and seq is not None:
            field = (self.header or self.device_headers.get(dev)).sequence
            echo = data[field.offset:field.end]
        return self.ack + echo

    def datagram(self, data, addr):
        """Handle one datagram (called by the protocol; public for embedding and tests)."""
        ctx = self.ctx
        self.stats["datagrams"] += 1
        try:
            dev, seq, payload = self.identify(data, addr)
        except HeaderError as exc:
            self._count("malformed", f"{self.name}: datagram from {format_address(addr)}: {exc}")
            return
        except LookupError as exc:
            self._count("unidentified", f"{self.name}: {exc}")
            return
        if self.check_devices and dev not in self.devices:
            # An identity header naming a device the city does not list: not decoded and
            # nothing sent back, so that an unknown device is never told it was heard.
            self._unknown(dev, addr)
            return
        if self._duplicate(dev, seq):
            self._count("duplicate", device=dev)
            last = self._last_reply.get(dev)
            if last is not None and last[0] == seq and self.transport is not None:
                self.transport.sendto(last[1], addr)
                self.stats["replies"] += 1
            return
        ok = ctx.submit(payload, network="nbiot", device=dev, fport=self.fport, fcnt=seq,
                        time=time.time(), rx={"address": format_address(addr)})
        if not ok:
            # The ring is full: no reply, so that the device sends it again.
            self.stats["refused"] += 1
            return
        self.stats["frames"] += 1
        self._remember(dev, seq)
        hdr = self.header if self.header is not None else self.device_headers.get(dev)
        reply = self._reply_for(dev, seq, data, hdr.length if hdr else 0)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)
            self.stats["replies"] += 1
            self._last_reply[dev] = (seq, reply)

    def _unknown(self, dev, addr):
        self.stats["unknown_device"] += 1
        self.ctx.count_error("unknown_device", device=dev)
        if (dev not in self._unknown_reported
                and len(self._unknown_reported) < MAX_UNKNOWN_REPORTED):
            self._unknown_reported.add(dev)
            self.ctx.emit(Event("device.unknown", "warning", dev, time.time(),
                                {"message": f"{self.name}: datagram from "
                                            f"{format_address(addr)} names device {dev!r}, "
                                            "which is not in the city's device list: no "
                                            "reply sent",
                                 "network": "nbiot"}, self.name))

    # -- downlinks -----------------------------------------------------------------

    async def send(self, command):
        """Queue a command's payload; it goes out as the reply to the device's next uplink."""
        if command.payload is None:
            raise ValueError(f"command for {command.device} has no payload")
        queue = self._downlinks.setdefault(command.device, deque())
        if len(queue) >= self.queue_limit:
            queue.popleft()
            if self.ctx is not None:
                self._count("downlink_dropped",
                            f"{self.name}: downlink queue of {command.device} is full "
                            f"({self.queue_limit}); the oldest command was dropped",
                            device=command.device)
        queue.append(bytes(command.payload))
        self.stats["downlinks_queued"] += 1

    def pending(self, device):
        """How many downlinks wait for ``device``'s next uplink."""
        return len(self._downlinks.get(device, ()))

    # -- running -------------------------------------------------------------------

    async def run(self, ctx):
        self.ctx = ctx
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self),
                                                           local_addr=self.bind)
        self.transport = transport
        self.address = transport.get_extra_info("sockname")[:2]
        self.ready.set()
        try:
            await ctx.stopping.wait()
        finally:
            transport.close()
            self.transport = None


@hromada.hookimpl
def hromada_sources():
    return [
        SourceType(
            name="nbiot-udp",
            factory=NbiotUdpSource,
            downlinks=True,
            help="NB-IoT devices sending binary UDP datagrams: identity from a header or "
                 "the sender address, duplicates dropped, acks and queued downlinks as "
                 "replies.",
            options=(
                Option("bind", "str", default="127.0.0.1:9000",
                       help="host:port to listen on (port 0: any free port)"),
                Option("identity", "table", default=None,
                       help="identity header field: {offset, length, format = "
                            "bcd|tbcd|hex|ascii|uint, digits}"),
                Option("sequence", "table", default=None,
                       help="sequence number field: {offset, length, byteorder}"),
                Option("header_length", "int", default=None, min=0,
                       help="bytes removed before decoding (default: up to the end of "
                            "the identity and sequence fields)"),
                Option("addresses", "table", default={},
                       help="sender \"ip:port\" or \"ip\" -> device id"),
                Option("fport", "int", default=None, min=0, max=255,
                       help="fport handed to the device models' decoders"),
                Option("ack", "str", default="",
                       help="hex bytes replied to every accepted datagram"),
                Option("ack_echo", "str", default="none",
                       choices=("none", "sequence", "header"),
                       help="append the sequence field or the whole header to the ack"),
                Option("duplicate_window", "int", default=32, min=0,
                       help="sequence numbers remembered per device to drop duplicates"),
                Option("downlink_queue", "int", default=16, min=1,
                       help="downlinks kept per device until its next uplink"),
            ),
        )
    ]
