# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Declarative payload layouts: the compiled engine (twin of ``hromada._layout_py``).

The spec is checked and normalized once by the pure module (``normalize``); this
module copies the normalized program into typed objects and runs it over the payload
bytes with no per-field Python dispatch.  Error messages come from the same builders
as the pure twin's, so both raise identical DecodeErrors.  Every read is bounds-checked
explicitly before the raw pointer is touched (boundscheck is off for those accesses).
"""

from cpython.ref cimport PyObject
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcpy

from hromada import _layout_py as _py
from hromada.errors import DecodeError

cdef int NUMBER = _py.NUMBER
cdef int BOOL = _py.BOOL
cdef int ENUM = _py.ENUM
cdef int FLAGS = _py.FLAGS
cdef int EXPECT = _py.EXPECT
cdef int SKIP = _py.SKIP

cdef int T_NONE = _py.T_NONE
cdef int T_RECORDS = _py.T_RECORDS
cdef int T_SWITCH = _py.T_SWITCH
cdef int T_FPORT = _py.T_FPORT
cdef int T_PYTHON = _py.T_PYTHON
cdef int T_PRESENT = _py.T_PRESENT

compile_spec = _py.normalize


cdef class _Field:
    cdef object op          # the pure FieldOp, for error messages and encoding
    cdef object quantity, unit, extra, add_obj
    cdef tuple invalid
    cdef tuple flags        # ((bit, quantity, invert, unit), ...)
    cdef Py_ssize_t offset, size
    cdef int kind, mode, shift
    cdef bint little, is_float, invert, has_invalid
    cdef uint64_t mask
    cdef double mul, div, add_f
    cdef int64_t add_i

    def __init__(self, op):
        self.op = op
        self.quantity = op.quantity
        self.unit = op.unit
        self.extra = op.extra
        self.offset = op.offset
        self.size = op.size
        self.kind = op.kind
        self.mode = op.mode
        self.shift = op.shift
        self.little = op.little
        self.is_float = op.is_float
        self.invert = op.invert
        self.mask = op.mask
        self.mul = op.mul
        self.div = op.div
        self.invalid = op.invalid
        self.has_invalid = len(op.invalid) > 0
        self.flags = op.extra if op.mode == FLAGS else ()
        if op.is_float:
            self.add_f = op.add
            self.add_i = 0
        else:
            self.add_f = 0.0
            self.add_i = op.add

    cdef inline int64_t raw_int(self, const unsigned char* p) noexcept:
        cdef uint64_t u = 0
        cdef Py_ssize_t i
        cdef int bits
        if self.little:
            i = self.size - 1
            while i >= 0:
                u = (u << 8) | p[i]
                i -= 1
        else:
            for i in range(self.size):
                u = (u << 8) | p[i]
        if self.kind == 1:
            bits = <int>(8 * self.size)
            if u & ((<uint64_t>1) << (bits - 1)):
                return <int64_t>u - ((<int64_t>1) << bits)
            return <int64_t>u
        if self.mask:
            u = (u & self.mask) >> self.shift
        return <int64_t>u

    cdef inline int64_t raw_bcd(self, const unsigned char* p) noexcept:
        """The BCD value, or -1 - index of the first byte that is not BCD."""
        cdef int64_t v = 0
        cdef Py_ssize_t i
        cdef unsigned char b
        for i in range(self.size):
            b = p[self.size - 1 - i] if self.little else p[i]
            if (b >> 4) > 9 or (b & 15) > 9:
                return -1 - (self.size - 1 - i if self.little else i)
            v = v * 100 + (b >> 4) * 10 + (b & 15)
        return v

    cdef inline double raw_float(self, const unsigned char* p) noexcept:
        cdef uint32_t u
        cdef float f
        if self.little:
            u = (<uint32_t>p[3] << 24) | (<uint32_t>p[2] << 16) | (<uint32_t>p[1] << 8) | p[0]
        else:
            u = (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]
        memcpy(&f, &u, 4)
        return <double>f

    cdef int emit(self, const unsigned char* buf, Py_ssize_t n, Py_ssize_t base,
                  list out) except -1:
        cdef Py_ssize_t off = base + self.offset
        cdef int64_t raw
        cdef double v
        cdef object key
        cdef tuple fl
        if off + self.size > n:
            raise _py.err_field_short(self.op, base, n)
        if self.mode == SKIP:
            return 0
        if self.kind == 2:
            v = self.raw_float(buf + off)
            if self.has_invalid and v in self.invalid:
                return 0
            out.append((self.quantity, v * self.mul / self.div + self.add_f, self.unit))
            return 0
        if self.kind == 3:
            raw = self.raw_bcd(buf + off)
            if raw < 0:
                raise _py.err_bcd(self.op, off + (-1 - raw), buf[off + (-1 - raw)])
        else:
            raw = self.raw_int(buf + off)
        if self.mode == NUMBER:
            if self.has_invalid and raw in self.invalid:
                return 0
            if self.is_float:
                v = <double>raw
                out.append((self.quantity, v * self.mul / self.div + self.add_f, self.unit))
            else:
                out.append((self.quantity, raw + self.add_i, self.unit))
        elif self.mode == FLAGS:
            for fl in self.flags:
                out.append((fl[1], (((raw >> <int>fl[0]) & 1) != 0) != (<bint>fl[2]), fl[3]))
        elif self.mode == BOOL:
            if self.has_invalid and raw in self.invalid:
                return 0
            out.append((self.quantity, (raw != 0) != self.invert, self.unit))
        elif self.mode == ENUM:
            if self.has_invalid and raw in self.invalid:
                return 0
            key = raw
            if key not in self.extra:
                raise _py.err_enum(self.op, base, raw)
            out.append((self.quantity, self.extra[key], self.unit))
        elif self.mode == EXPECT:
            if raw != <int64_t>self.extra:
                raise _py.err_expect(self.op, base, raw)
        return 0


cdef list _fields(ops):
    return [_Field(op) for op in ops]


cdef class _Record:
    cdef object op, fn, name
    cdef Py_ssize_t size
    cdef list fields

    def __init__(self, op):
        self.op = op
        self.fn = op.fn
        self.name = op.name
        self.size = op.size
        self.fields = _fields(op.fields)


cdef class _Block:
    cdef object op
    cdef int bit
    cdef Py_ssize_t size
    cdef list fields

    def __init__(self, op):
        self.op = op
        self.bit = op.bit
        self.size = op.size
        self.fields = _fields(op.fields)


cdef class _Node:
    cdef object op, fn, name
    cdef list fields, blocks
    cdef Py_ssize_t length, at
    cdef int tail, keysize, lenbyte
    cdef bint stop_unknown
    # 1-byte keys: direct lookup, no dict; the references are owned by self.types
    cdef PyObject* rec_table[256]
    cdef dict types, cases
    cdef _Field selector
    cdef _Node default

    def __init__(self, op):
        cdef int i
        for i in range(256):
            self.rec_table[i] = NULL
        self.op = op
        self.name = op.name
        self.fields = _fields(op.fields)
        self.length = op.length
        self.tail = op.tail
        self.at = op.at
        self.keysize = op.keysize
        self.lenbyte = op.lenbyte
        self.stop_unknown = op.stop_unknown
        self.fn = op.fn
        self.types = None
        self.cases = None
        self.default = None
        self.selector = None
        self.blocks = []
        if op.tail == T_RECORDS:
            self.types = {k: _Record(r) for k, r in op.types.items()}
            if self.keysize == 1:
                for i in range(256):
                    r = self.types.get(i)
                    self.rec_table[i] = <PyObject*>r if r is not None else NULL
        if op.tail in (T_SWITCH, T_FPORT):
            self.cases = {k: _Node(v) for k, v in op.cases.items()}
            if op.default is not None:
                self.default = _Node(op.default)
        if op.tail in (T_SWITCH, T_PRESENT):
            self.selector = _Field(op.selector)
        if op.tail == T_PRESENT:
            self.blocks = [_Block(b) for b in op.blocks]

    cdef int run(self, bytes payload, const unsigned char* buf, Py_ssize_t n,
                 Py_ssize_t base, object fport, list out) except -1:
        cdef _Field f
        cdef _Record rec
        cdef _Block blk
        cdef _Node sub
        cdef Py_ssize_t pos, start, size, off, hdr
        cdef int key, ks
        cdef int64_t raw
        if self.length >= 0 and n != self.length:
            raise _py.err_length(n, self.length)
        for f in self.fields:
            f.emit(buf, n, base, out)
        if self.tail == T_NONE:
            return 0
        if self.tail == T_RECORDS:
            pos = base + self.at
            ks = self.keysize
            hdr = ks + self.lenbyte
            while pos < n:
                if pos + hdr > n:
                    raise _py.err_header_short(pos, hdr, n)
                if ks == 1:
                    key = buf[pos]
                    rec = <_Record>self.rec_table[key] if self.rec_table[key] != NULL else None
                else:
                    key = (buf[pos] << 8) | buf[pos + 1]
                    rec = self.types.get(key)
                if rec is None:
                    if self.stop_unknown:
                        return 0
                    raise _py.err_unknown_record(key, ks, pos)
                start = pos + hdr
                if rec.fn is not None:
                    pos = self._python_record(rec, payload, start, pos, out)
                    continue
                size = buf[pos + ks] if self.lenbyte else rec.size
                if size < rec.size:
                    raise _py.err_record_length(rec.op, ks, pos, size)
                if start + size > n:
                    raise _py.err_record_short(rec.op, ks, pos, start + size, n)
                for f in rec.fields:
                    f.emit(buf, n, start, out)
                pos = start + size
        elif self.tail == T_SWITCH or self.tail == T_PRESENT:
            f = self.selector
            off = base + f.offset
            if off + f.size > n:
                raise _py.err_field_short(f.op, base, n)
            raw = f.raw_int(buf + off)
            if self.tail == T_SWITCH:
                sub = self.cases.get(raw, self.default)
                if sub is None:
                    raise _py.err_switch(f.op, base, raw)
                sub.run(payload, buf, n, base, fport, out)
            else:
                pos = base + self.at
                for blk in self.blocks:
                    if not ((raw >> blk.bit) & 1):
                        continue
                    if pos + blk.size > n:
                        raise _py.err_block_short(blk.op, pos, pos + blk.size, n)
                    for f in blk.fields:
                        f.emit(buf, n, pos, out)
                    pos += blk.size
        elif self.tail == T_FPORT:
            sub = self.cases.get(fport, self.default) if fport is not None else self.default
            if sub is None:
                raise _py.err_fport(fport, self.op.cases)
            sub.run(payload, buf, n, base, fport, out)
        else:
            try:
                readings = self.fn(payload, base, fport)
            except DecodeError:
                raise
            except Exception as exc:
                raise _py.err_python(self.name, base, exc) from exc
            out.extend(readings)
        return 0

    cdef Py_ssize_t _python_record(self, _Record rec, bytes payload, Py_ssize_t start,
                                   Py_ssize_t pos, list out) except -1:
        try:
            readings, end = rec.fn(payload, start)
        except DecodeError:
            raise
        except Exception as exc:
            raise _py.err_python(rec.name, start, exc) from exc
        out.extend(readings)
        if end <= pos:
            raise _py.err_python(rec.name, start, ValueError("did not advance"))
        return end


cdef class Layout:
    """A compiled layout: ``decode``, ``decode_many`` and ``encode``."""

    cdef _Node root
    cdef readonly object node
    cdef readonly object spec

    def __init__(self, node, spec=None):
        self.node = node
        self.spec = spec
        self.root = _Node(node)

    def decode(self, payload, fport=None):
        """Readings ``[(quantity, value, unit), ...]``; raises DecodeError."""
        cdef bytes b = payload if type(payload) is bytes else bytes(payload)
        cdef list out = []
        self.root.run(b, b, len(b), 0, fport, out)
        return out

    def decode_many(self, payloads, fports=None):
        """Decode a batch.  Each item is its readings, or the DecodeError it raised (one
        bad frame does not spoil the batch).  ``fports`` is one port for all or a list."""
        cdef list out = []
        cdef list readings
        cdef bytes b
        cdef Py_ssize_t i = 0
        cdef bint many = isinstance(fports, (list, tuple))
        for payload in payloads:
            b = payload if type(payload) is bytes else bytes(payload)
            readings = []
            try:
                self.root.run(b, b, len(b), 0, fports[i] if many else fports, readings)
            except DecodeError as exc:
                out.append(exc)
            else:
                out.append(readings)
            i += 1
        return out

    def encode(self, values, fport=None):
        """Bytes that decode to ``values`` (quantity -> value)."""
        return _py.encode_node(self.node, values, fport)

    def quantities(self):
        """quantity -> unit for every reading this layout can produce."""
        return _py.node_quantities(self.node)

    def __repr__(self):
        return f"<Layout {self.node.name!r} (compiled)>"


def compile(spec):
    """Check ``spec`` once and return a :class:`Layout` that runs it."""
    return Layout(_py.normalize(spec), spec)


TYPES = _py.TYPES
