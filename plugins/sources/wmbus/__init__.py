"""The ``wmbus`` source: raw wireless M-Bus telegrams, as hex text, from bridges or files.

wM-Bus receivers (USB sticks, rtl-wmbus, vendor gateways) forward each telegram they
hear as a line of hex.  This source takes those lines over UDP (``bind``: one telegram
per datagram or per line) or from a file read once (``file``; the source then ends,
which makes replays and tests simple).  A line is the telegram in hex (spaces, a
``0x`` prefix allowed; with or without the link-layer CRCs); a line with several
fields separated by ``;`` or ``,`` (as rtl-wmbus writes them) has the telegram as its
longest hex field, and a signal level after the telegram (``-72``, ``rssi=-72``,
``-72 dBm``) is ignored.  Empty lines and lines starting with ``#`` are skipped.

The device id is the meter's canonical id, ``<manufacturer>-<id>`` in lowercase: the
three-letter manufacturer code and the eight-digit meter id as printed on the meter,
e.g. ``kam-12345678``.  It comes from the link layer, or from the long transport
header (CI 0x72) when the telegram has one (a meter behind a radio converter or a
repeater: the header names the meter, the link layer the converter).  List meters in
the city's ``[[devices]]`` under that id with a ``wmbus/...`` model and their key.

Frames are pushed with ``network = "wmbus"`` and the access number as ``fcnt``; the
model (``wmbus/meter``...) decrypts and decodes.  The same telegram heard again within
``dedup_window`` (repeaters, several receivers) is dropped and counted as
``duplicate``; lines that are not telegrams are counted as ``malformed``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter

import hromada
from hromada import Option, SourceType
from hromada.errors import DecodeError
from hromada_plugins.sources.nbiot_udp import MAX_EVENTS, format_address, parse_bind

log = logging.getLogger("hromada.wmbus")

_SEPARATORS = re.compile(r"[;,]")
# A signal level a receiver writes after the telegram: "-72", "rssi=-72.5", "-81dBm".
_RSSI = re.compile(r"(?:rssi[=:]?)?[-+]\d+(?:\.\d+)?(?:dbm)?", re.IGNORECASE)


def manufacturer_code(m):
    """The three letters of a 16-bit M field (EN 13757-4: 5 bits each, 'A' = 1)."""
    return "".join(chr(((m >> shift) & 31) + 64) for shift in (10, 5, 0))


def device_id(manufacturer, ident):
    """The canonical device id of a meter: ``kam-12345678``."""
    return f"{manufacturer.lower()}-{ident.lower()}"


def meter_address(telegram, frame_format="auto", *, detected=None):
    """``(device id, access number or None)`` of a raw telegram, without its key.

    Raises :class:`hromada.errors.DecodeError` when the telegram is too short or its
    length and CRCs do not fit.  ``detected``: a list that gets the frame format found
    ("A", "B" or "none").
    """
    from hromada import wmbus

    frame, fmt = wmbus.strip_crc(telegram, frame_format)
    if detected is not None:
        detected.append(fmt)
    n = len(frame)
    if n < 11:
        raise DecodeError(f"truncated telegram: {n} bytes, the link layer and CI field "
                          "need 11", offset=n, field="ci")
    m = frame[2] | (frame[3] << 8)
    ident = frame[4:8]
    pos, acc = 10, None
    ci = frame[pos]
    if ci in (0x8C, 0x8E) and n >= pos + 3:
        acc = frame[pos + 2]
        pos += 3 if ci == 0x8C else 11
    elif ci == 0x8D and n >= pos + 3:
        # ELL with encryption: what follows cannot be read without the key.
        return device_id(manufacturer_code(m), ident[::-1].hex()), frame[pos + 2]
    if pos + 1 < n and frame[pos] == 0x90:  # AFL: skip it
        pos += 2 + frame[pos + 1]
    if pos < n:
        ci = frame[pos]
        if ci == 0x72 and n >= pos + 13:
            ident = frame[pos + 1:pos + 5]
            m = frame[pos + 5] | (frame[pos + 6] << 8)
            acc = frame[pos + 9]
        elif ci == 0x7A and n >= pos + 2:
            acc = frame[pos + 1]
    return device_id(manufacturer_code(m), ident[::-1].hex()), acc


def parse_line(line):
    """The telegram bytes of one text line, None for a blank or comment line.

    Raises ValueError when the line holds no hex telegram.
    """
    text = line.strip().lstrip("\ufeff")
    if not text or text.startswith("#"):
        return None
    best = None
    # Fields before or after the telegram (mode, time, RSSI, meter id) are short or not
    # hex at all: the telegram is the longest hex field, the last one of a tie.
    for field in _SEPARATORS.split(text):
        tokens = field.split()
        while tokens and _RSSI.fullmatch(tokens[-1]):
            tokens.pop()
        if tokens and tokens[-1].lower() == "dbm" and len(tokens) > 1 and _RSSI.fullmatch(
                tokens[-2]):
            del tokens[-2:]
        hexpart = "".join(tokens)
        if hexpart[:2].lower() == "0x":
            hexpart = hexpart[2:]
        try:
            data = bytes.fromhex(hexpart)
        except ValueError:
            continue
        if data and (best is None or len(data) >= len(best)):
            best = data
    if best is not None:
        return best
    raise ValueError("not a hex telegram")


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, source):
        self.source = source

    def datagram_received(self, data, addr):
        self.source.datagram(data, addr)


def _crc_failure(telegram):
    """Why a telegram of format B length fails as format B (the CRC error's text)."""
    from hromada import wmbus

    try:
        wmbus.strip_crc(telegram, "B")
    except (DecodeError, ValueError) as exc:
        return str(exc)
    return "no CRC error"  # not reached: auto would have found format B


class WmbusSource:
    """Raw wM-Bus telegrams from UDP or a file; see the module documentation."""

    def __init__(self, name, options, city):
        self.name = name
        where = f"sources.{name}"
        self.file = options.get("file")
        bind = options.get("bind")
        if (bind is None) == (self.file is None):
            raise ValueError(f"{where}: give either bind (UDP) or file, not "
                             f"{'both' if bind else 'neither'}")
        self.bind = parse_bind(bind, f"{where}.bind") if bind is not None else None
        self.frame_format = options.get("frame_format", "auto")
        # Receivers (bridges, by IP address) whose telegrams carried CRCs: a receiver
        # either keeps them or strips them, so for these a telegram that "auto" would
        # take as CRC-less (same length as format B) is a format B telegram whose CRC
        # failed: corrupted, refused rather than decoded to wrong values.  (Not for
        # files: a log may merge several receivers.)
        self._with_crcs = set()
        self.window = options.get("dedup_window", 60.0)
        self.stats = Counter()
        self.address = None
        self.ready = asyncio.Event()
        self.ctx = None
        self._recent = {}
        self._events = Counter()

    def _count(self, kind, message=None, device=None):
        self.stats[kind] += 1
        if message is not None and self._events[kind] < MAX_EVENTS:
            self._events[kind] += 1
            self.ctx.count_error(kind, message, device=device)
        else:
            self.ctx.count_error(kind, device=device)

    def _duplicate(self, telegram, now):
        if self.window <= 0:
            return False
        seen = self._recent.get(telegram)
        if seen is not None and now - seen <= self.window:
            # not refreshed: a meter repeating one telegram must still get through
            # once per window
            return True
        self._recent[telegram] = now
        if len(self._recent) > 4096:
            cutoff = now - self.window
            self._recent = {k: t for k, t in self._recent.items() if t >= cutoff}
        return False

    def frame(self, line, where, rx):
        """``(telegram, frame keywords)`` of one line, or None (counted) when there is none."""
        try:
            telegram = parse_line(line)
        except ValueError as exc:
            self._count("malformed", f"{self.name}: {where}: {exc}")
            return None
        if telegram is None:
            return None
        detected = []
        try:
            dev, acc = meter_address(telegram, self.frame_format, detected=detected)
        except DecodeError as exc:
            self._count("malformed", f"{self.name}: {where}: {exc}")
            return None
        receiver = rx.get("address", "").rsplit(":", 1)[0]
        if self.frame_format == "auto" and receiver:
            if detected[0] != "none":
                self._with_crcs.add(receiver)
            elif receiver in self._with_crcs:
                self._count("crc", f"{self.name}: {where}: meter {dev}: {_crc_failure(telegram)}"
                                   "; this receiver sends CRCs, so the telegram is corrupt",
                            device=dev)
                return None
        now = time.time()
        if self._duplicate(telegram, now):
            self._count("duplicate", device=dev)
            return None
        self.stats["frames"] += 1
        return telegram, {"network": "wmbus", "device": dev, "fcnt": acc, "time": now, "rx": rx}

    def datagram(self, data, addr):
        self.stats["datagrams"] += 1
        where = f"datagram from {format_address(addr)}"
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            self._count("malformed", f"{self.name}: {where}: not hex text")
            return
        for line in text.splitlines():
            got = self.frame(line, where, {"address": format_address(addr)})
            if got is not None and not self.ctx.submit(got[0], **got[1]):
                self.stats["refused"] += 1  # the ring is full; the kernel counted it

    async def _read_file(self, ctx, batch=1024):
        records = []
        with open(self.file, encoding="utf-8-sig", errors="replace") as f:
            for i, line in enumerate(f, 1):
                got = self.frame(line, f"{self.file.name} line {i}",
                                 {"file": self.file.name, "line": i})
                if got is not None:
                    records.append(ctx.pack(got[0], **got[1]))
                if len(records) >= batch:
                    await ctx.put(records)
                    records = []
                    if ctx.stopping.is_set():
                        return
        if records:
            await ctx.put(records)

    async def run(self, ctx):
        self.ctx = ctx
        if self.file is not None:
            self.ready.set()
            await self._read_file(ctx)
            return
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self),
                                                           local_addr=self.bind)
        self.address = transport.get_extra_info("sockname")[:2]
        self.ready.set()
        try:
            await ctx.stopping.wait()
        finally:
            transport.close()


@hromada.hookimpl
def hromada_sources():
    return [
        SourceType(
            name="wmbus",
            factory=WmbusSource,
            help="Raw wireless M-Bus telegrams as hex lines, over UDP or from a file; "
                 "devices are meters named <manufacturer>-<id> (kam-12345678).",
            options=(
                Option("bind", "str", default=None,
                       help="host:port to listen on for hex lines (UDP)"),
                Option("file", "path", default=None,
                       help="a file of hex lines, read once (the source then ends)"),
                Option("frame_format", "str", default="auto",
                       choices=("auto", "A", "B", "none"),
                       help="link-layer CRCs in the telegrams: A, B, none, or auto-detect"),
                Option("dedup_window", "duration", default=60.0, min=0,
                       help="the same telegram again within this time is a duplicate "
                            "(0: keep all)"),
            ),
        )
    ]
