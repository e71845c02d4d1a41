# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, infer_types=True
"""Cayenne LPP decoder, compiled (hromada._lpp).

The twin of :mod:`hromada._lpp_py` (see there for the format, the type table and the
points where published sources disagree).  Decoding walks the payload through a char
pointer twice: the first pass checks every record's bounds (and raises the first
problem), the second reads only checked bytes; the only Python work is building the
result list and tuples.  The type table, the quantity names, the error messages and ``encode``
come from the pure twin, so both produce the very same strings.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.ref cimport PyObject, Py_INCREF
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_New, PyTuple_SET_ITEM
from libc.stdint cimport int64_t, uint64_t


cdef extern from "Python.h":
    void PyObject_GC_UnTrack(void* op)

from hromada._lpp_py import (
    TYPES,
    LppType,
    _as_bytes,
    _no_type_error,
    _template,
    _truncated_error,
    _unknown_type_error,
    encode,
)
from hromada.errors import DecodeError

__all__ = ["TYPES", "LppType", "decode", "decode_many", "encode"]


cdef struct TypeInfo:
    int size        # data bytes after channel and type; 0 = unknown type
    int slot        # 0 .. len(TYPES) - 1, row of the template cache
    int nvals       # values per record (1 or 3)
    int vsize       # bytes per value
    bint is_signed
    int64_t div[3]  # value = raw / div; 1 means an int value


cdef TypeInfo _info[256]

cdef enum:
    MAX_TYPES = 32

# (slot * 256 + channel) -> owned reference to a flat template tuple, or NULL.
cdef PyObject* _tpl_cache[MAX_TYPES * 256]


cdef void _load_table() except *:
    cdef int i
    for i in range(256):
        _info[i].size = 0
    if len(TYPES) > MAX_TYPES:
        raise RuntimeError("hromada._lpp: raise MAX_TYPES to the number of LPP types")
    for slot, (tid, t) in enumerate(TYPES.items()):
        _info[tid].size = t.size
        _info[tid].slot = slot
        _info[tid].nvals = len(t.divisor)
        _info[tid].vsize = t.value_size
        _info[tid].is_signed = t.signed
        for i in range(len(t.divisor)):
            _info[tid].div[i] = t.divisor[i]


_load_table()


cdef inline object _value(const unsigned char* q, int vsize, bint is_signed, int64_t div):
    cdef uint64_t u = 0
    cdef int64_t v
    cdef int i
    for i in range(vsize):
        u = (u << 8) | q[i]
    if is_signed and (u >> (8 * vsize - 1)) & 1:
        v = <int64_t>u - ((<int64_t>1) << (8 * vsize))
    else:
        v = <int64_t>u
    if div == 1:
        return v
    # Exact int -> double then one IEEE division: the same double Python's int / int
    # gives, i.e. the one nearest to the decimal value.
    return <double>v / <double>div


cdef inline tuple _reading(object quantity, object value, object unit):
    cdef tuple r = PyTuple_New(3)
    Py_INCREF(quantity)
    PyTuple_SET_ITEM(r, 0, quantity)
    Py_INCREF(value)
    PyTuple_SET_ITEM(r, 1, value)
    Py_INCREF(unit)
    PyTuple_SET_ITEM(r, 2, unit)
    # A tuple of str and numbers can never be part of a cycle; CPython's collector
    # untracks such tuples itself on its first pass, this only does it up front so
    # that large batches do not make every young-generation collection walk them.
    PyObject_GC_UnTrack(<void*>r)
    return r


cdef Py_ssize_t _check(const unsigned char* p, Py_ssize_t n) except -1:
    """Walk the records, checking every bound; return the number of readings."""
    cdef Py_ssize_t off = 0, pos, count = 0
    cdef unsigned int ch, tid
    while off < n:
        ch = p[off]
        if off + 1 >= n:
            raise _no_type_error(ch, off)
        tid = p[off + 1]
        if _info[tid].size == 0:
            raise _unknown_type_error(tid, ch, off + 1)
        pos = off + 2
        if _info[tid].size > n - pos:
            raise _truncated_error(tid, ch, pos, n - pos)
        count += _info[tid].nvals
        off = pos + _info[tid].size
    return count


cdef tuple _flat_template(unsigned int tid, unsigned int ch):
    # (quantity0, unit0, quantity1, unit1, ...) for one (type, channel), made once and
    # kept for the life of the module (at most one per type and channel).
    cdef unsigned int key = <unsigned int>_info[tid].slot * 256 + ch
    cdef PyObject* cached = _tpl_cache[key]
    if cached != NULL:
        return <tuple>cached
    flat = tuple([x for pair in _template(tid, ch) for x in pair])
    if _tpl_cache[key] != NULL:  # another thread got here while _template ran
        return <tuple>_tpl_cache[key]
    Py_INCREF(flat)
    _tpl_cache[key] = <PyObject*>flat
    return flat


cdef list _decode(const unsigned char* p, Py_ssize_t n):
    # Two passes: _check proves every record lies inside p[0:n] (raising the first
    # problem in payload order), so the second pass reads within checked bounds and
    # fills a list of the exact size.
    cdef Py_ssize_t count = _check(p, n)
    cdef list out = PyList_New(count)
    cdef Py_ssize_t off = 0, pos, i = 0
    cdef unsigned int tid
    cdef const TypeInfo* info
    cdef int k
    cdef tuple tpl
    while off < n:
        tid = p[off + 1]
        info = &_info[tid]
        tpl = _flat_template(tid, p[off])
        pos = off + 2
        for k in range(info.nvals):
            r = _reading(<object>PyTuple_GET_ITEM(tpl, 2 * k),
                         _value(p + pos, info.vsize, info.is_signed, info.div[k]),
                         <object>PyTuple_GET_ITEM(tpl, 2 * k + 1))
            Py_INCREF(r)
            PyList_SET_ITEM(out, i, r)
            i += 1
            pos += info.vsize
        off = pos
    return out


def decode(payload):
    """Decode one LPP payload into ``[(quantity, value, unit), ...]`` in payload order.

    Raises :class:`hromada.errors.DecodeError` naming channel, type and byte offset
    when a type is unknown or a record is cut short.  An empty payload gives ``[]``.
    """
    cdef bytes data = payload if type(payload) is bytes else _as_bytes(payload)
    return _decode(<const unsigned char*>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))


def decode_many(payloads):
    """Decode a batch: ``[decode(p) for p in payloads]``.

    The first bad payload raises its :class:`DecodeError` (same message as
    :func:`decode`) with an extra ``index`` attribute: its position in the batch.
    """
    cdef list batch = payloads if type(payloads) is list else list(payloads)
    cdef Py_ssize_t i = 0, n = len(batch)
    cdef list out = PyList_New(n)
    cdef bytes data
    # One try around the loop: entering a try block costs more than decoding a record.
    try:
        for i in range(n):
            p = batch[i]
            data = p if type(p) is bytes else _as_bytes(p)
            r = _decode(<const unsigned char*>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
            Py_INCREF(r)
            PyList_SET_ITEM(out, i, r)
    except DecodeError as exc:
        exc.index = i
        raise
    return out
