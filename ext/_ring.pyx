# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, infer_types=False
"""Compiled ring of variable-length byte records (``hromada._ring``).

Same API, counters and messages as the pure twin ``hromada._ring_py``, which documents
the layout: one preallocated buffer, a 4-byte length header in front of each record,
and records split across the end of the buffer instead of padding, so ``bytes_used``
is exactly the sum of ``4 + len(record)`` whatever the positions.

The speed comes from doing the batch calls in C: ``push_many`` walks the list with
the C API and memcpy's exact ``bytes`` without touching the buffer protocol, and
``pop_many`` fills a preallocated list with fresh bytes objects.  ``pop_many`` reads
with a local cursor and commits only at the end, so a failed allocation leaves the
ring as it was instead of losing records.
"""

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.number cimport PyNumber_Index
from cpython.object cimport PyObject
from libc.stdint cimport uint32_t
from libc.string cimport memcpy

from hromada.errors import RingFullError

cdef extern from "Python.h":
    # Declared by hand so that items can be stolen by lists without an extra
    # incref/decref pair per record.
    PyObject* PyBytes_FromStringAndSize(const char* v, Py_ssize_t n) except NULL
    char* PyBytes_AS_STRING(PyObject* o)
    Py_ssize_t PyBytes_GET_SIZE(PyObject* o)
    bint PyBytes_CheckExact(PyObject* o)
    object PyList_New(Py_ssize_t n)
    void PyList_SET_ITEM(object lst, Py_ssize_t i, PyObject* item)
    Py_ssize_t PySequence_Fast_GET_SIZE(object seq)
    PyObject* PySequence_Fast_GET_ITEM(object seq, Py_ssize_t i)
    int PyObject_GetBuffer(object obj, Py_buffer* view, int flags)
    void PyBuffer_Release(Py_buffer* view)
    int PyErr_ExceptionMatches(object exc)
    void PyErr_Clear()
    void Py_DECREF_raw "Py_DECREF"(PyObject* o)
    enum:
        PyBUF_SIMPLE

__all__ = ["HEADER_SIZE", "MAX_CAPACITY", "Ring", "RingFullError"]

#: Bytes of length header stored in front of every record.
HEADER_SIZE = 4
#: Largest capacity: every record that fits must have a length that fits the header.
MAX_CAPACITY = 1 << 32
_OVERFLOW_MODES = ("reject", "drop_oldest")

cdef enum:
    HDR = 4


cdef int _get_buffer(object rec, Py_buffer* view, Py_ssize_t index) except -1:
    """Fill ``view`` from ``rec``, or raise the twin's TypeError naming the record.

    ``index`` is the record's place in a push_many batch, -1 for a single push.
    """
    if PyObject_GetBuffer(rec, view, PyBUF_SIMPLE) == 0:
        return 0
    if (PyErr_ExceptionMatches(TypeError) or PyErr_ExceptionMatches(BufferError)
            or PyErr_ExceptionMatches(ValueError)):
        PyErr_Clear()
        where = "record" if index < 0 else f"records[{index}]"
        raise TypeError(
            f"{where} must be a contiguous bytes-like object, not {type(rec).__name__}"
        )
    return -1


@cython.final
@cython.no_gc
cdef class Ring:
    """A bounded FIFO of byte records held in one preallocated circular buffer."""

    cdef unsigned char* _buf
    cdef Py_ssize_t _cap
    cdef Py_ssize_t _head
    cdef Py_ssize_t _used
    cdef Py_ssize_t _count
    cdef Py_ssize_t _hwm
    cdef unsigned long long _pushed
    cdef unsigned long long _popped
    cdef unsigned long long _rejected
    cdef unsigned long long _dropped
    cdef bint _drop_oldest
    cdef str _overflow

    def __cinit__(self, capacity_bytes, overflow="reject"):
        capacity = PyNumber_Index(capacity_bytes)
        if not 0 < capacity <= MAX_CAPACITY:
            raise ValueError(
                f"capacity must be between 1 and {MAX_CAPACITY} bytes, got {capacity}"
            )
        if not isinstance(overflow, str) or overflow not in _OVERFLOW_MODES:
            raise ValueError(
                f"overflow must be one of 'reject', 'drop_oldest', got {overflow!r}"
            )
        self._cap = capacity
        self._buf = <unsigned char*>PyMem_Malloc(self._cap)
        if self._buf == NULL:
            raise MemoryError(f"cannot allocate a ring of {capacity} bytes")
        self._overflow = overflow
        self._drop_oldest = overflow == "drop_oldest"

    def __dealloc__(self):
        PyMem_Free(self._buf)

    # -- buffer access, wrap-aware -------------------------------------------------

    cdef inline Py_ssize_t _put(self, Py_ssize_t pos, const void* src,
                                Py_ssize_t n) noexcept nogil:
        cdef Py_ssize_t room = self._cap - pos
        if n <= room:
            memcpy(self._buf + pos, src, n)
        else:
            memcpy(self._buf + pos, src, room)
            memcpy(self._buf, <const char*>src + room, n - room)
        pos += n
        return pos - self._cap if pos >= self._cap else pos

    cdef inline Py_ssize_t _get(self, Py_ssize_t pos, void* dst,
                                Py_ssize_t n) noexcept nogil:
        cdef Py_ssize_t room = self._cap - pos
        if n <= room:
            memcpy(dst, self._buf + pos, n)
        else:
            memcpy(dst, self._buf + pos, room)
            memcpy(<char*>dst + room, self._buf, n - room)
        pos += n
        return pos - self._cap if pos >= self._cap else pos

    # -- core steps ------------------------------------------------------------------

    cdef inline int _store(self, const char* data, Py_ssize_t n) except -1:
        """1 if stored, 0 if refused ("reject" mode and full); raises if it never fits."""
        cdef Py_ssize_t cap = self._cap
        cdef Py_ssize_t need, tail
        cdef uint32_t header
        if n > cap - HDR:
            self._rejected += 1
            raise RingFullError(
                f"record of {n} bytes can never fit in a ring of {cap} bytes"
            )
        need = n + HDR
        if self._used + need > cap:
            if not self._drop_oldest:
                self._rejected += 1
                return 0
            while self._used + need > cap:
                self._discard()
                self._dropped += 1
        if self._count == 0:
            # An empty ring restarts at offset 0 so that records stay unsplit longer.
            self._head = 0
        tail = self._head + self._used
        if tail >= cap:
            tail -= cap
        header = <uint32_t>n
        if tail + need <= cap:
            memcpy(self._buf + tail, &header, HDR)
            memcpy(self._buf + tail + HDR, data, n)
        else:
            tail = self._put(tail, &header, HDR)
            self._put(tail, data, n)
        self._used += need
        self._count += 1
        self._pushed += 1
        if self._used > self._hwm:
            self._hwm = self._used
        return 1

    cdef inline void _discard(self) noexcept nogil:
        cdef uint32_t n
        cdef Py_ssize_t pos = self._get(self._head, &n, HDR) + n
        self._head = pos - self._cap if pos >= self._cap else pos
        self._used -= n + HDR
        self._count -= 1

    cdef inline PyObject* _read(self, Py_ssize_t* cursor, Py_ssize_t* freed) except NULL:
        """New bytes of the record at ``cursor[0]``; advances the cursor, not the ring."""
        cdef Py_ssize_t pos = cursor[0]
        cdef Py_ssize_t cap = self._cap
        cdef uint32_t n
        cdef PyObject* rec
        if pos + HDR <= cap:
            memcpy(&n, self._buf + pos, HDR)
            pos += HDR
            if pos == cap:
                pos = 0
        else:
            pos = self._get(pos, &n, HDR)
        if pos + <Py_ssize_t>n <= cap:
            rec = PyBytes_FromStringAndSize(<const char*>self._buf + pos, n)
            pos += n
            if pos == cap:
                pos = 0
        else:
            rec = PyBytes_FromStringAndSize(NULL, n)
            pos = self._get(pos, PyBytes_AS_STRING(rec), n)
        cursor[0] = pos
        freed[0] += n + HDR
        return rec

    # -- public API ------------------------------------------------------------------

    def push(self, rec):
        """Store one record; True if stored, False if refused because the ring is full."""
        cdef Py_buffer view
        cdef int stored
        if PyBytes_CheckExact(<PyObject*>rec):
            stored = self._store(PyBytes_AS_STRING(<PyObject*>rec),
                                 PyBytes_GET_SIZE(<PyObject*>rec))
        else:
            _get_buffer(rec, &view, -1)
            try:
                stored = self._store(<const char*>view.buf, view.len)
            finally:
                PyBuffer_Release(&view)
        return stored == 1

    def push_many(self, records):
        """Store records in order; return how many were taken.

        In "reject" mode it stops at the first record that does not fit; that one and
        every one after it count as rejected.  A record that can never fit raises
        RingFullError after the earlier ones were taken (it and the rest count as
        rejected, and the exception's ``taken`` says how many were stored).  A record
        that is not bytes-like raises TypeError after the earlier ones were taken; it is
        a caller's bug, not an overflow, so nothing is counted for it.
        """
        cdef Py_ssize_t i = 0
        cdef Py_ssize_t total
        cdef PyObject* item
        cdef Py_buffer view
        cdef int stored = 1
        if isinstance(records, (list, tuple)):
            seq = records
        else:
            try:
                seq = list(records)
            except TypeError:
                raise TypeError(
                    "push_many expects a sequence of bytes-like records, "
                    f"not {type(records).__name__}"
                ) from None
        try:
            # The size is read again each turn: a buffer exporter may run Python code.
            while i < PySequence_Fast_GET_SIZE(seq):
                item = PySequence_Fast_GET_ITEM(seq, i)
                if PyBytes_CheckExact(item):
                    stored = self._store(PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item))
                else:
                    rec = <object>item
                    _get_buffer(rec, &view, i)
                    try:
                        stored = self._store(<const char*>view.buf, view.len)
                    finally:
                        PyBuffer_Release(&view)
                if stored == 0:
                    total = PySequence_Fast_GET_SIZE(seq)
                    self._rejected += total - i - 1
                    return i
                i += 1
        except RingFullError as exc:
            # _store counted this one; the ones after it were not taken either.
            total = PySequence_Fast_GET_SIZE(seq)
            self._rejected += total - i - 1
            exc.taken = i
            raise
        return i

    def pop(self):
        """Remove and return the oldest record, or None when the ring is empty."""
        cdef Py_ssize_t cursor = self._head
        cdef Py_ssize_t freed = 0
        if self._count == 0:
            return None
        rec = <object>self._read(&cursor, &freed)
        # _read returned a new reference and the cast took another one.
        Py_DECREF_raw(<PyObject*>rec)
        self._head = cursor
        self._used -= freed
        self._count -= 1
        self._popped += 1
        return rec

    def pop_many(self, n):
        """Remove and return up to ``n`` records, oldest first."""
        cdef Py_ssize_t k, i
        cdef Py_ssize_t cursor = self._head
        cdef Py_ssize_t freed = 0
        n = PyNumber_Index(n)
        if n < 0:
            raise ValueError(f"pop_many: n must be >= 0, got {n}")
        k = self._count if n >= self._count else n
        out = PyList_New(k)
        for i in range(k):
            PyList_SET_ITEM(out, i, self._read(&cursor, &freed))
        self._head = cursor
        self._used -= freed
        self._count -= k
        self._popped += k
        return out

    def clear(self):
        """Remove every record; they are not counted as dropped (an operator's reset)."""
        self._head = 0
        self._used = 0
        self._count = 0

    def __len__(self):
        return self._count

    @property
    def capacity(self):
        """Size of the buffer in bytes (headers included)."""
        return self._cap

    @property
    def overflow(self):
        """"reject" or "drop_oldest"."""
        return self._overflow

    @property
    def bytes_used(self):
        """Bytes occupied by the records held, 4-byte headers included."""
        return self._used

    @property
    def high_watermark(self):
        """Largest ``bytes_used`` ever reached (``clear`` does not reset it)."""
        return self._hwm

    @property
    def pushed(self):
        """Records stored."""
        return self._pushed

    @property
    def popped(self):
        """Records handed out by pop / pop_many."""
        return self._popped

    @property
    def rejected(self):
        """Records refused: ring full in "reject" mode, or too large for any ring state."""
        return self._rejected

    @property
    def dropped(self):
        """Records removed by "drop_oldest" to make room (``clear`` does not count)."""
        return self._dropped

    def stats(self):
        """Every counter and size in one dict."""
        return {
            "capacity": self._cap,
            "overflow": self._overflow,
            "records": self._count,
            "bytes_used": self._used,
            "high_watermark": self._hwm,
            "pushed": self._pushed,
            "popped": self._popped,
            "rejected": self._rejected,
            "dropped": self._dropped,
        }

    def __repr__(self):
        return (
            f"Ring(capacity={self._cap}, overflow={self._overflow!r}, "
            f"records={self._count}, bytes_used={self._used})"
        )

    def __reduce__(self):
        raise TypeError("cannot pickle a Ring: it is a live buffer, not a value")

