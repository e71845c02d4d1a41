"""Declarative payload layouts: the pure-Python engine (twin of ``hromada._layout``).

A device plugin describes its payload as data and the engine executes it, so vendors get
compiled speed without writing Cython.  A *spec* is a dict:

``fields``
    fixed-offset fields, offsets counted from the start of the node (a record's value
    for fields inside a tag-length-value record).  Each field is a dict::

        {"offset": 1, "type": "u16", "endian": "little", "quantity": "distance",
         "unit": "mm", "scale": 0.1, "add": -40, "mask": 0x3FFF, "invalid": [0xFFFF]}

    ``type`` is one of u8 u16 u24 u32 s8 s16 s24 s32 float32, or bcd2 bcd4 bcd6 bcd8
    (packed BCD of that many digits, as M-Bus meters send them).  ``scale`` and ``add``
    turn the raw number into the value (``raw * scale + add``; a scale of ``1/n`` divides
    by ``n`` so that 234 * 0.1 reads 23.4, not 23.400000000000002).  ``mask`` selects
    bits of an unsigned field (shifted down).  ``invalid`` raw values produce no reading.
    Instead of a number a field can give ``"bool": True`` (raw != 0), ``"enum": {raw:
    value}``, ``"flags": {bit: quantity}`` (one boolean reading per bit, ``{"quantity":
    q, "invert": True}`` for active-low bits) or ``"expect": raw`` (a check, e.g. a
    protocol version: no reading).  A field without a quantity is skipped.
``endian``
    "big" (default) or "little", for fields that do not say.
``length``
    the exact payload length, if the format has one.

and at most one of these tails, decoded after the fields:

``records``
    tag-length-value records: ``{"at": 0, "key": 2, "length": False, "types": {key:
    record}, "unknown": "error"}``.  ``key`` is the number of key bytes (Milesight: 2,
    channel id and type, given as ``(0x03, 0x67)`` or ``0x0367``; Elsys: 1), ``length``
    True when a length byte follows the key.  A record is ``{"name": ..., "size": n,
    "fields": [...]}`` or ``{"name": ..., "python": fn}`` with ``fn(payload, pos) ->
    (readings, end)`` for the odd ones.  ``unknown`` "stop" ends decoding quietly at an
    unknown key instead of raising.
``switch``
    a message-type selector: ``{"offset": 0, "type": "u8", "name": "message type",
    "cases": {1: spec, 2: spec}, "default": spec}``; the case's spec is decoded at the same
    base.
``fport``
    selection by LoRaWAN port: ``{"cases": {2: spec}, "default": spec}``.
``present``
    blocks announced by a bitmap (Decentlab): ``{"offset": 3, "type": "u16", "at": 5,
    "blocks": [{"bit": 0, "size": 4, "name": "...", "fields": [...]}, ...]}``; the
    blocks whose bit is set follow each other from ``at``, in list order.
``python``
    ``fn(payload, base, fport) -> readings``: a plain Python decoder for the rest.

``compile(spec)`` checks the spec once and returns a :class:`Layout` with
``decode(payload, fport=None) -> [(quantity, value, unit), ...]``, ``decode_many``
and ``encode(values, fport=None) -> bytes`` (the inverse, for simulators and tests).
Errors in a payload raise :class:`hromada.errors.DecodeError` naming the field and the
byte offset; both twins raise the very same messages (the message builders live here).
"""

from __future__ import annotations

import math
import struct

from .errors import DecodeError, EncodeError
from .units import check_unit

TYPES = {
    # name: (size, kind) with kind 0 unsigned, 1 signed, 2 float32
    "u8": (1, 0), "u16": (2, 0), "u24": (3, 0), "u32": (4, 0),
    "s8": (1, 1), "s16": (2, 1), "s24": (3, 1), "s32": (4, 1),
    "float32": (4, 2),
    # packed BCD (M-Bus meters): two decimal digits a byte, endianness as for integers
    "bcd2": (1, 3), "bcd4": (2, 3), "bcd6": (3, 3), "bcd8": (4, 3),
}

# Field modes (shared with the compiled twin).
NUMBER, BOOL, ENUM, FLAGS, EXPECT, SKIP = range(6)

# Tail kinds.
T_NONE, T_RECORDS, T_SWITCH, T_FPORT, T_PYTHON, T_PRESENT = range(6)

_FIELD_KEYS = {"name", "offset", "type", "endian", "quantity", "unit", "scale", "divide",
               "add", "mask", "invalid", "bool", "invert", "enum", "flags", "expect"}
_SPEC_KEYS = {"fields", "endian", "length", "records", "switch", "fport", "present",
              "python", "name"}


class FieldOp:
    """One normalized field: everything the engines need, nothing to look up."""

    __slots__ = ("name", "offset", "type", "kind", "size", "little", "mask", "shift",
                 "mode", "quantity", "unit", "mul", "div", "add", "is_float", "invalid",
                 "extra", "invert")

    def end(self):
        return self.offset + self.size


class Record:
    __slots__ = ("key", "name", "size", "fields", "fn", "encodable")


class Block:
    __slots__ = ("bit", "name", "size", "fields")


class Node:
    """A normalized spec: fields, then an optional tail."""

    __slots__ = ("name", "fields", "length", "tail", "at", "keysize", "lenbyte", "types",
                 "stop_unknown", "selector", "cases", "default", "fn", "blocks")


# -- messages (shared by both twins so that they match to the letter) -------------------


def err_field_short(f, base, n):
    off = base + f.offset
    return DecodeError(
        f"payload too short for field {f.name!r} ({f.type} at byte {off}): "
        f"{n} bytes given, {off + f.size} needed", offset=off, field=f.name)


def err_enum(f, base, raw):
    off = base + f.offset
    return DecodeError(f"unknown value {raw} of field {f.name!r} at byte {off}",
                       offset=off, field=f.name)


def err_expect(f, base, raw):
    off = base + f.offset
    return DecodeError(f"field {f.name!r} at byte {off} is {raw}, expected {f.extra}",
                       offset=off, field=f.name)


def err_bcd(f, off, byte):
    return DecodeError(f"field {f.name!r} at byte {off} is not BCD (byte 0x{byte:02x})",
                       offset=off, field=f.name)


def err_length(n, length):
    return DecodeError(f"payload has {n} bytes, the layout needs exactly {length}",
                       offset=min(n, length), field=None)


def err_header_short(pos, keysize, n):
    return DecodeError(
        f"payload too short for a record header at byte {pos}: "
        f"{n} bytes given, {pos + keysize} needed", offset=pos, field="record")


def _key_hex(key, keysize):
    return f"0x{key:0{2 * keysize}x}"


def err_unknown_record(key, keysize, pos):
    return DecodeError(f"unknown record {_key_hex(key, keysize)} at byte {pos}",
                       offset=pos, field="record")


def err_record_short(rec, keysize, pos, end, n):
    return DecodeError(
        f"payload too short for record {rec.name!r} ({_key_hex(rec.key, keysize)}) at byte "
        f"{pos}: {n} bytes given, {end} needed", offset=pos, field=rec.name)


def err_record_length(rec, keysize, pos, size):
    return DecodeError(
        f"record {rec.name!r} ({_key_hex(rec.key, keysize)}) at byte {pos} has length "
        f"{size}, needs at least {rec.size}", offset=pos, field=rec.name)


def err_switch(sel, base, raw):
    off = base + sel.offset
    return DecodeError(f"unknown {sel.name} {raw} at byte {off}", offset=off, field=sel.name)


def err_fport(fport, cases):
    ports = ", ".join(str(p) for p in sorted(cases))
    return DecodeError(f"unexpected fport {fport}; this layout decodes fport {ports}",
                       offset=None, field="fport")


def err_block_short(block, pos, end, n):
    return DecodeError(
        f"payload too short for block {block.name!r} at byte {pos}: "
        f"{n} bytes given, {end} needed", offset=pos, field=block.name)


def err_python(name, pos, exc):
    return DecodeError(f"{name} at byte {pos}: {type(exc).__name__}: {exc}",
                       offset=pos, field=name)


# -- normalizing a spec -------------------------------------------------------------------


def _int(v, what):
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"{what} must be an integer, not {v!r}")
    return v


def _endian(v, what):
    if v in ("big", "be", ">"):
        return False
    if v in ("little", "le", "<"):
        return True
    raise ValueError(f"{what}: endian must be 'big' or 'little', not {v!r}")


def _scale(spec, what):
    """(mul, div) for ``raw * scale``: a scale of 1/n becomes a division by n."""
    if "divide" in spec:
        d = spec["divide"]
        if not isinstance(d, int | float) or d == 0:
            raise ValueError(f"{what}: divide must be a non-zero number")
        return float(spec.get("scale", 1.0)), float(d)
    s = spec.get("scale", 1)
    if isinstance(s, bool) or not isinstance(s, int | float) or s == 0 or not math.isfinite(s):
        raise ValueError(f"{what}: scale must be a finite non-zero number, not {s!r}")
    if s == 1:
        return 1.0, 1.0
    r = 1.0 / s
    if abs(r) >= 2 and abs(r - round(r)) < 1e-9 * abs(r):
        return 1.0, float(round(r))
    return float(s), 1.0


def normalize_field(spec, default_little, where="field"):
    if not isinstance(spec, dict):
        raise ValueError(f"{where} must be a dict, not {spec!r}")
    unknown = set(spec) - _FIELD_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    f = FieldOp()
    f.type = spec.get("type", "u8")
    if f.type not in TYPES:
        raise ValueError(f"{where}: type must be one of {sorted(TYPES)}, not {f.type!r}")
    f.size, f.kind = TYPES[f.type]
    f.offset = _int(spec.get("offset", 0), f"{where}: offset")
    if f.offset < 0:
        raise ValueError(f"{where}: offset must not be negative")
    f.little = _endian(spec["endian"], where) if "endian" in spec else default_little
    f.quantity = spec.get("quantity")
    flags = spec.get("flags")
    f.name = spec.get("name") or f.quantity or (
        "flags" if flags is not None else f"byte {f.offset}")
    where = f"field {f.name!r}"
    f.unit = check_unit(spec.get("unit", "bool" if (spec.get("bool") or flags) else ""))
    f.mask = 0
    f.shift = 0
    if "mask" in spec:
        if f.kind != 0:
            raise ValueError(f"{where}: masks apply to unsigned integer fields only")
        m = _int(spec["mask"], f"{where}: mask")
        if m <= 0 or m >= 1 << (8 * f.size):
            raise ValueError(f"{where}: mask 0x{m:x} does not fit a {f.type}")
        f.mask = m
        f.shift = (m & -m).bit_length() - 1
    f.mul, f.div = _scale(spec, where)
    add = spec.get("add", 0)
    if isinstance(add, bool) or not isinstance(add, int | float):
        raise ValueError(f"{where}: add must be a number")
    if not -(1 << 53) < add < 1 << 53:
        raise ValueError(f"{where}: add {add!r} is out of range")
    f.is_float = f.kind == 2 or f.mul != 1.0 or f.div != 1.0 or isinstance(add, float)
    f.add = float(add) if f.is_float else add
    inv = spec.get("invalid", ())
    if isinstance(inv, int):
        inv = (inv,)
    f.invalid = tuple(_int(v, f"{where}: invalid") for v in inv)
    f.invert = bool(spec.get("invert", False))
    f.extra = None
    modes = [k for k in ("bool", "enum", "flags", "expect") if spec.get(k) is not None
             and spec.get(k) is not False]
    if len(modes) > 1:
        raise ValueError(f"{where}: only one of bool/enum/flags/expect, not {modes}")
    if modes and f.kind == 2:
        raise ValueError(f"{where}: {modes[0]} needs an integer type, not float32")
    if f.kind == 3 and modes and modes != ["expect"]:
        raise ValueError(f"{where}: {modes[0]} does not apply to BCD fields")
    if "flags" in modes:
        f.mode = FLAGS
        if f.quantity is not None:
            raise ValueError(f"{where}: a flags field has no quantity of its own")
        out = []
        for bit, q in flags.items():
            bit = _int(bit, f"{where}: flag bit")
            if isinstance(q, str):
                q = {"quantity": q}
            if not 0 <= bit < 8 * f.size:
                raise ValueError(f"{where}: flag bit {bit} outside a {f.type}")
            out.append((bit, q["quantity"], bool(q.get("invert", False)),
                        check_unit(q.get("unit", "bool"))))
        f.extra = tuple(sorted(out))
    elif "expect" in modes:
        f.mode = EXPECT
        f.extra = _int(spec["expect"], f"{where}: expect")
        if not -(1 << 31) <= f.extra < 1 << 32:
            raise ValueError(f"{where}: expect {f.extra} does not fit a {f.type}")
    elif f.quantity is None:
        f.mode = SKIP
    elif "enum" in modes:
        f.mode = ENUM
        f.extra = {_int(k, f"{where}: enum key"): v for k, v in spec["enum"].items()}
    elif "bool" in modes:
        f.mode = BOOL
    else:
        f.mode = NUMBER
    return f


def _key(k, keysize, where):
    if isinstance(k, tuple):
        if len(k) != keysize:
            raise ValueError(f"{where}: key {k!r} does not have {keysize} bytes")
        v = 0
        for b in k:
            v = (v << 8) | _int(b, where)
        k = v
    k = _int(k, f"{where}: key")
    if not 0 <= k < 1 << (8 * keysize):
        raise ValueError(f"{where}: key {k} does not fit {keysize} bytes")
    return k


def _fields(specs, little, where, limit=None):
    out = []
    for i, s in enumerate(specs or ()):
        f = normalize_field(s, little, f"{where} field {i}")
        if limit is not None and f.end() > limit:
            raise ValueError(f"field {f.name!r} ({f.type} at {f.offset}) does not fit the "
                             f"{limit} bytes of {where}")
        out.append(f)
    return tuple(out)


def normalize(spec, _little=False, _where="layout"):
    """Check a spec and return its normalized :class:`Node` (shared by both twins)."""
    if not isinstance(spec, dict):
        raise ValueError(f"{_where} must be a dict, not {type(spec).__name__}")
    unknown = set(spec) - _SPEC_KEYS
    if unknown:
        raise ValueError(f"{_where}: unknown keys {sorted(unknown)}")
    little = _endian(spec["endian"], _where) if "endian" in spec else _little
    node = Node()
    node.name = spec.get("name", _where)
    node.fields = _fields(spec.get("fields"), little, _where)
    length = spec.get("length")
    node.length = -1 if length is None else _int(length, f"{_where}: length")
    tails = [k for k in ("records", "switch", "fport", "present", "python") if k in spec]
    if len(tails) > 1:
        raise ValueError(f"{_where}: only one of records/switch/fport/present/python, "
                         f"not {tails}")
    node.tail = T_NONE
    node.at = 0
    node.keysize = node.lenbyte = 0
    node.types = node.cases = node.default = node.fn = node.selector = None
    node.blocks = ()
    node.stop_unknown = False
    fixed_end = max((f.end() for f in node.fields), default=0)
    if not tails:
        return node
    kind = tails[0]
    t = spec[kind]
    if kind == "records":
        node.tail = T_RECORDS
        node.at = _int(t.get("at", fixed_end), f"{_where}: records at")
        node.keysize = _int(t.get("key", 1), f"{_where}: records key")
        if node.keysize not in (1, 2):
            raise ValueError(f"{_where}: records key must be 1 or 2 bytes")
        node.lenbyte = 1 if t.get("length") else 0
        unknown_mode = t.get("unknown", "error")
        if unknown_mode not in ("error", "stop"):
            raise ValueError(f"{_where}: records unknown must be 'error' or 'stop'")
        node.stop_unknown = unknown_mode == "stop"
        node.types = {}
        for k, r in t["types"].items():
            key = _key(k, node.keysize, f"{_where} record")
            rec = Record()
            rec.key = key
            named = [f.get("quantity") for f in r.get("fields", ()) if f.get("quantity")]
            rec.name = (r.get("name") or (named[0] if len(named) == 1 else None)
                        or f"record {_key_hex(key, node.keysize)}")
            rec.fn = r.get("python")
            rec.encodable = bool(r.get("encode", rec.fn is None))
            if rec.fn is not None:
                rec.size = 0
                rec.fields = ()
            else:
                rec.size = _int(r["size"], f"record {rec.name!r}: size")
                rec.fields = _fields(r.get("fields"), little, f"record {rec.name!r}",
                                     rec.size)
            node.types[key] = rec
    elif kind in ("switch", "present"):
        sel = {k: v for k, v in t.items() if k in ("offset", "type", "endian", "mask", "name")}
        sel.setdefault("name", "message type" if kind == "switch" else "bitmap")
        node.selector = normalize_field(sel, little, f"{_where} {kind}")
        node.selector.mode = SKIP
        if node.selector.kind >= 2:
            raise ValueError(f"{_where}: a {kind} selector must be an integer")
        if kind == "switch":
            node.tail = T_SWITCH
            node.cases = {_int(k, f"{_where}: case"): normalize(v, little, f"{_where} case {k}")
                          for k, v in t["cases"].items()}
            d = t.get("default")
            node.default = normalize(d, little, f"{_where} default") if d is not None else None
        else:
            node.tail = T_PRESENT
            node.at = _int(t.get("at", fixed_end), f"{_where}: present at")
            blocks = []
            for i, b in enumerate(t["blocks"]):
                blk = Block()
                blk.bit = _int(b["bit"], f"{_where} block {i}: bit")
                blk.name = b.get("name", f"block {blk.bit}")
                blk.size = _int(b["size"], f"block {blk.name!r}: size")
                blk.fields = _fields(b.get("fields"), little, f"block {blk.name!r}", blk.size)
                blocks.append(blk)
            node.blocks = tuple(blocks)
    elif kind == "fport":
        node.tail = T_FPORT
        node.cases = {_int(k, f"{_where}: fport"): normalize(v, little, f"{_where} fport {k}")
                      for k, v in t["cases"].items()}
        d = t.get("default")
        node.default = normalize(d, little, f"{_where} default") if d is not None else None
    else:
        node.tail = T_PYTHON
        if not callable(t):
            raise ValueError(f"{_where}: python must be a callable")
        node.fn = t
    return node


# -- the pure engine ----------------------------------------------------------------------

_F32 = (struct.Struct(">f"), struct.Struct("<f"))


def _bcd(f, payload, off):
    raw = 0
    order = range(off + f.size - 1, off - 1, -1) if f.little else range(off, off + f.size)
    for i in order:
        b = payload[i]
        if b >> 4 > 9 or b & 15 > 9:
            raise err_bcd(f, i, b)
        raw = raw * 100 + (b >> 4) * 10 + (b & 15)
    return raw


def _raw(f, payload, off):
    if f.kind == 2:
        return _F32[f.little].unpack_from(payload, off)[0]
    if f.kind == 3:
        return _bcd(f, payload, off)
    raw = int.from_bytes(payload[off:off + f.size], "little" if f.little else "big",
                         signed=f.kind == 1)
    if f.mask:
        raw = (raw & f.mask) >> f.shift
    return raw


def _emit(f, payload, base, n, out):
    off = base + f.offset
    if off + f.size > n:
        raise err_field_short(f, base, n)
    mode = f.mode
    if mode == SKIP:
        return
    raw = _raw(f, payload, off)
    if mode == NUMBER:
        if f.invalid and raw in f.invalid:
            return
        if f.is_float:
            out.append((f.quantity, float(raw) * f.mul / f.div + f.add, f.unit))
        else:
            out.append((f.quantity, raw + f.add, f.unit))
    elif mode == FLAGS:
        for bit, q, invert, unit in f.extra:
            out.append((q, bool((raw >> bit) & 1) != invert, unit))
    elif mode == BOOL:
        if f.invalid and raw in f.invalid:
            return
        out.append((f.quantity, (raw != 0) != f.invert, f.unit))
    elif mode == ENUM:
        if f.invalid and raw in f.invalid:
            return
        try:
            v = f.extra[raw]
        except KeyError:
            raise err_enum(f, base, raw) from None
        out.append((f.quantity, v, f.unit))
    elif mode == EXPECT:
        if raw != f.extra:
            raise err_expect(f, base, raw)


def _run(node, payload, n, base, fport, out):
    if node.length >= 0 and n != node.length:
        raise err_length(n, node.length)
    for f in node.fields:
        _emit(f, payload, base, n, out)
    tail = node.tail
    if tail == T_NONE:
        return
    if tail == T_RECORDS:
        pos = base + node.at
        ks = node.keysize
        hdr = ks + node.lenbyte
        while pos < n:
            if pos + hdr > n:
                raise err_header_short(pos, hdr, n)
            key = payload[pos] if ks == 1 else (payload[pos] << 8) | payload[pos + 1]
            rec = node.types.get(key)
            if rec is None:
                if node.stop_unknown:
                    return
                raise err_unknown_record(key, ks, pos)
            start = pos + hdr
            if rec.fn is not None:
                try:
                    readings, end = rec.fn(payload, start)
                except DecodeError:
                    raise
                except Exception as exc:  # noqa: BLE001 - vendor code: report, do not crash
                    raise err_python(rec.name, start, exc) from exc
                out.extend(readings)
                if end <= pos:
                    raise err_python(rec.name, start, ValueError("did not advance"))
                pos = end
                continue
            size = payload[pos + ks] if node.lenbyte else rec.size
            if size < rec.size:
                raise err_record_length(rec, ks, pos, size)
            if start + size > n:
                raise err_record_short(rec, ks, pos, start + size, n)
            for f in rec.fields:
                _emit(f, payload, start, n, out)
            pos = start + size
    elif tail == T_SWITCH:
        sel = node.selector
        off = base + sel.offset
        if off + sel.size > n:
            raise err_field_short(sel, base, n)
        raw = _raw(sel, payload, off)
        sub = node.cases.get(raw, node.default)
        if sub is None:
            raise err_switch(sel, base, raw)
        _run(sub, payload, n, base, fport, out)
    elif tail == T_FPORT:
        sub = node.cases.get(fport, node.default) if fport is not None else node.default
        if sub is None:
            raise err_fport(fport, node.cases)
        _run(sub, payload, n, base, fport, out)
    elif tail == T_PRESENT:
        sel = node.selector
        off = base + sel.offset
        if off + sel.size > n:
            raise err_field_short(sel, base, n)
        bits = _raw(sel, payload, off)
        pos = base + node.at
        for blk in node.blocks:
            if not (bits >> blk.bit) & 1:
                continue
            if pos + blk.size > n:
                raise err_block_short(blk, pos, pos + blk.size, n)
            for f in blk.fields:
                _emit(f, payload, pos, n, out)
            pos += blk.size
    else:
        try:
            readings = node.fn(payload, base, fport)
        except DecodeError:
            raise
        except Exception as exc:  # noqa: BLE001 - vendor code: report, do not crash
            raise err_python(node.name, base, exc) from exc
        out.extend(readings)


class Layout:
    """A compiled layout: ``decode``, ``decode_many`` and ``encode``."""

    __slots__ = ("node", "spec")

    def __init__(self, node, spec=None):
        self.node = node
        self.spec = spec

    def decode(self, payload, fport=None):
        """Readings ``[(quantity, value, unit), ...]``; raises DecodeError."""
        if not isinstance(payload, bytes):
            payload = bytes(payload)
        out = []
        _run(self.node, payload, len(payload), 0, fport, out)
        return out

    def decode_many(self, payloads, fports=None):
        """Decode a batch.  Each item is its readings, or the DecodeError it raised (one
        bad frame does not spoil the batch).  ``fports`` is one port for all or a list."""
        out = []
        node = self.node
        many = isinstance(fports, list | tuple)
        for i, payload in enumerate(payloads):
            if not isinstance(payload, bytes):
                payload = bytes(payload)
            readings = []
            try:
                _run(node, payload, len(payload), 0, fports[i] if many else fports, readings)
            except DecodeError as exc:
                out.append(exc)
            else:
                out.append(readings)
        return out

    def encode(self, values, fport=None):
        """Bytes that decode to ``values`` (quantity -> value); see :func:`encode_node`."""
        return encode_node(self.node, values, fport)

    def quantities(self):
        """quantity -> unit for every reading this layout can produce."""
        return node_quantities(self.node)

    def __repr__(self):
        return f"<Layout {self.node.name!r} (pure)>"


def compile(spec):  # noqa: A001 - the name users expect: layout.compile(spec)
    """Check ``spec`` once and return a :class:`Layout` that runs it."""
    return Layout(normalize(spec), spec)


# -- encoding (shared: the inverse of decode, used by simulators and round-trip tests) ----


def _field_quantities(f):
    if f.mode == FLAGS:
        return [q for _b, q, _i, _u in f.extra]
    if f.mode in (NUMBER, BOOL, ENUM):
        return [f.quantity]
    return []


def _fields_quantities(fields):
    return [q for f in fields for q in _field_quantities(f)]


def node_quantities(node, out=None):
    out = {} if out is None else out
    for f in node.fields:
        if f.mode == FLAGS:
            for _b, q, _i, unit in f.extra:
                out.setdefault(q, unit)
        elif f.mode in (NUMBER, BOOL, ENUM):
            out.setdefault(f.quantity, f.unit)
    if node.tail == T_RECORDS:
        for rec in node.types.values():
            for f in rec.fields:
                node_quantities(_only(f), out)
    elif node.tail in (T_SWITCH, T_FPORT):
        for sub in node.cases.values():
            node_quantities(sub, out)
        if node.default is not None:
            node_quantities(node.default, out)
    elif node.tail == T_PRESENT:
        for blk in node.blocks:
            for f in blk.fields:
                node_quantities(_only(f), out)
    return out


def _only(f):
    n = Node()
    n.fields = (f,)
    n.tail = T_NONE
    return n


def _raw_of(f, value):
    """The raw field bits for ``value`` (not yet shifted into place)."""
    q = f.quantity
    if f.mode == BOOL:
        return int(bool(value) != f.invert)
    if f.mode == ENUM:
        for k, v in f.extra.items():
            if v == value:
                return k
        raise EncodeError(f"{value!r} is not a value of {q!r} (one of {list(f.extra.values())})")
    if value is None:
        if not f.invalid:
            raise EncodeError(f"{q!r} has no 'invalid' marker to encode None")
        return f.invalid[0]
    if f.kind == 2:
        return float((value - f.add) * f.div / f.mul)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EncodeError(f"{q!r} must be a number, not {value!r}")
    raw = (value - f.add) * f.div / f.mul if f.is_float else value - f.add
    return int(round(raw))


def _put(buf, f, base, raw):
    off = base + f.offset
    if f.kind == 2:
        buf[off:off + 4] = _F32[f.little].pack(raw)
        return
    if f.kind == 3:
        if not 0 <= raw < 100 ** f.size:
            raise EncodeError(f"value {raw} does not fit field {f.name!r} ({f.type})")
        digits = f"{raw:0{2 * f.size}d}"
        data = bytes(int(digits[i:i + 2], 16) for i in range(0, len(digits), 2))
        buf[off:off + f.size] = data[::-1] if f.little else data
        return
    bits = 8 * f.size
    if f.mask:
        width = f.mask >> f.shift
        if not 0 <= raw <= width:
            raise EncodeError(f"value {raw} does not fit the bits of field {f.name!r}")
        cur = int.from_bytes(buf[off:off + f.size], "little" if f.little else "big")
        raw = (cur & ~f.mask) | (raw << f.shift)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if f.kind == 1 else (0, (1 << bits) - 1)
    if not lo <= raw <= hi:
        raise EncodeError(f"value {raw} does not fit field {f.name!r} ({f.type})")
    buf[off:off + f.size] = raw.to_bytes(f.size, "little" if f.little else "big",
                                         signed=f.kind == 1)


def _encode_fields(fields, values, buf, base):
    for f in fields:
        if f.mode == EXPECT:
            _put(buf, f, base, f.extra)
        elif f.mode == FLAGS:
            raw = 0
            for bit, q, invert, _unit in f.extra:
                if bool(values.get(q, False)) != invert:
                    raw |= 1 << bit
            _put(buf, f, base, raw)
        elif f.mode != SKIP and f.quantity in values:
            _put(buf, f, base, _raw_of(f, values[f.quantity]))
        elif f.mode != SKIP and f.invalid:
            _put(buf, f, base, f.invalid[0])


def _covered(fields, values):
    qs = _fields_quantities(fields)
    return bool(qs) and all(q in values for q in qs)


def encode_node(node, values, fport=None):
    """Encode ``values`` (quantity -> value) with a normalized node.

    Fixed fields take their quantity's value (missing ones stay zero); records and
    bitmap blocks are written, in declaration order, when every quantity they carry is
    in ``values`` (the first record of several carrying the same quantities wins); a
    switch writes the case that covers most of ``values``.
    """
    buf = bytearray(max((f.end() for f in node.fields), default=0))
    _encode_fields(node.fields, values, buf, 0)
    tail = node.tail
    if tail == T_RECORDS:
        if len(buf) < node.at:
            buf.extend(bytes(node.at - len(buf)))
        written = set()
        for rec in node.types.values():
            if not rec.encodable or not _covered(rec.fields, values):
                continue
            qs = set(_fields_quantities(rec.fields))
            if qs <= written:
                continue  # another record (another unit or resolution) carried these
            written |= qs
            body = bytearray(rec.size)
            _encode_fields(rec.fields, values, body, 0)
            key = rec.key.to_bytes(node.keysize, "big")
            buf += key + (bytes([rec.size]) if node.lenbyte else b"") + body
    elif tail == T_PRESENT:
        if len(buf) < node.at:
            buf.extend(bytes(node.at - len(buf)))
        bits = 0
        for blk in node.blocks:
            if _covered(blk.fields, values):
                bits |= 1 << blk.bit
                body = bytearray(blk.size)
                _encode_fields(blk.fields, values, body, 0)
                buf += body
        sel = node.selector
        if len(buf) < sel.end():
            buf.extend(bytes(sel.end() - len(buf)))
        _put(buf, sel, 0, bits)
    elif tail == T_SWITCH:
        best, best_n = None, -1
        for key, sub in node.cases.items():
            qs = node_quantities(sub)
            if all(q in values for q in qs) and len(qs) > best_n:
                best, best_n = key, len(qs)
        if best is None:
            raise EncodeError(f"no case of {node.selector.name!r} carries {sorted(values)}")
        sub_bytes = bytearray(encode_node(node.cases[best], values, fport))
        sel = node.selector
        size = max(len(buf), len(sub_bytes), sel.end())
        out = bytearray(size)
        out[:len(sub_bytes)] = sub_bytes
        for i, b in enumerate(buf):
            out[i] |= b
        _put(out, sel, 0, best)
        buf = out
    elif tail == T_FPORT:
        sub = node.cases.get(fport, node.default)
        if sub is None:
            raise EncodeError(f"this layout has no case for fport {fport}")
        sub_bytes = encode_node(sub, values, fport)
        size = max(len(buf), len(sub_bytes))
        out = bytearray(size)
        out[:len(sub_bytes)] = sub_bytes
        for i, b in enumerate(buf):
            out[i] |= b
        buf = out
    elif tail == T_PYTHON:
        raise EncodeError(f"{node.name}: a python tail cannot be encoded from the layout")
    if node.length >= 0 and len(buf) < node.length:
        buf.extend(bytes(node.length - len(buf)))
    return bytes(buf)
