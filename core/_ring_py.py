"""Pure-Python twin of ``hromada._ring``: a bounded ring of variable-length byte records.

This is the readable reference of the ring the sources push raw frames into and the
decoder pops batches from.  The compiled module (``ext/_ring.pyx``) has the same API,
the same counters and the same error messages; differential tests hold them together.

Layout: one preallocated buffer of ``capacity`` bytes.  Each record is a 4-byte
length header followed by its bytes.  A record that reaches the end of the buffer
continues at its start (header and body may both be split), so no byte is wasted at
the wrap and ``bytes_used`` is exactly the sum of ``4 + len(record)`` over the records
held, whatever their positions.  That makes every observable number independent of
where the records happen to sit, which is what lets two implementations agree.

Overflow is chosen explicitly:

* ``"reject"``: a record that does not fit now is refused (``push`` returns False)
  and counted in ``rejected``;
* ``"drop_oldest"``: the oldest records are dropped (counted in ``dropped``) until
  the new one fits.

A record that could never fit (``4 + len > capacity``) raises ``RingFullError`` in
both modes and counts as rejected.  ``clear()`` empties the ring without counting the
records it removes as dropped: it is an operator's reset, not an overflow.

Not thread-safe: use one ring from one thread (an asyncio loop, see ``hromada.ring``).
"""

import operator
import struct

from hromada.errors import RingFullError

__all__ = ["HEADER_SIZE", "MAX_CAPACITY", "Ring", "RingFullError"]

#: Bytes of length header stored in front of every record.
HEADER_SIZE = 4
#: Largest capacity: every record that fits must have a length that fits the header.
MAX_CAPACITY = 1 << 32
_OVERFLOW_MODES = ("reject", "drop_oldest")
_header = struct.Struct("<I")


def _record_bytes(rec, where):
    """``rec`` as bytes, or TypeError naming ``where`` (same message as the compiled one)."""
    if type(rec) is bytes:
        return rec
    try:
        view = memoryview(rec)
    except TypeError:
        view = None
    if view is None or not view.c_contiguous:
        raise TypeError(
            f"{where} must be a contiguous bytes-like object, not {type(rec).__name__}"
        )
    return view.tobytes()


def _never_fits(n, capacity):
    return RingFullError(f"record of {n} bytes can never fit in a ring of {capacity} bytes")


class Ring:
    """A bounded FIFO of byte records held in one preallocated circular buffer."""

    __slots__ = (
        "_buf", "_capacity", "_overflow", "_drop_oldest", "_head", "_used", "_count",
        "_high_watermark", "_pushed", "_popped", "_rejected", "_dropped",
    )

    def __init__(self, capacity_bytes, overflow="reject"):
        capacity = operator.index(capacity_bytes)
        if not 0 < capacity <= MAX_CAPACITY:
            raise ValueError(
                f"capacity must be between 1 and {MAX_CAPACITY} bytes, got {capacity}"
            )
        if not isinstance(overflow, str) or overflow not in _OVERFLOW_MODES:
            raise ValueError(
                f"overflow must be one of 'reject', 'drop_oldest', got {overflow!r}"
            )
        self._buf = bytearray(capacity)
        self._capacity = capacity
        self._overflow = overflow
        self._drop_oldest = overflow == "drop_oldest"
        self._head = 0
        self._used = 0
        self._count = 0
        self._high_watermark = 0
        self._pushed = 0
        self._popped = 0
        self._rejected = 0
        self._dropped = 0

    # -- buffer access, wrap-aware -------------------------------------------------

    def _write(self, pos, data):
        """Copy ``data`` to ``pos``, continuing at offset 0 past the end; new position."""
        n = len(data)
        room = self._capacity - pos
        if n <= room:
            self._buf[pos:pos + n] = data
        else:
            self._buf[pos:] = data[:room]
            self._buf[:n - room] = data[room:]
        pos += n
        return pos - self._capacity if pos >= self._capacity else pos

    def _read(self, pos, n):
        """``n`` bytes from ``pos``, continuing at offset 0 past the end; (bytes, new pos)."""
        end = pos + n
        if end <= self._capacity:
            data = bytes(self._buf[pos:end])
        else:
            end -= self._capacity
            data = bytes(self._buf[pos:]) + bytes(self._buf[:end])
        return data, end if end < self._capacity else end - self._capacity

    # -- core steps ------------------------------------------------------------------

    def _store(self, data):
        """Store one record (bytes); True if stored, False if refused (reject mode)."""
        n = len(data)
        need = n + HEADER_SIZE
        capacity = self._capacity
        if need > capacity:
            self._rejected += 1
            raise _never_fits(n, capacity)
        if self._used + need > capacity:
            if not self._drop_oldest:
                self._rejected += 1
                return False
            while self._used + need > capacity:
                self._discard()
                self._dropped += 1
        if self._count == 0:
            # An empty ring restarts at offset 0 so that records stay unsplit longer.
            self._head = 0
        tail = self._head + self._used
        if tail >= capacity:
            tail -= capacity
        self._write(tail, _header.pack(n) + data)
        self._used += need
        self._count += 1
        self._pushed += 1
        if self._used > self._high_watermark:
            self._high_watermark = self._used
        return True

    def _discard(self):
        """Remove the oldest record without copying it out (the ring must not be empty)."""
        header, pos = self._read(self._head, HEADER_SIZE)
        (n,) = _header.unpack(header)
        pos += n
        self._head = pos - self._capacity if pos >= self._capacity else pos
        self._used -= n + HEADER_SIZE
        self._count -= 1

    def _take(self):
        """Remove and return the oldest record (the ring must not be empty)."""
        pos = self._head
        if pos + HEADER_SIZE <= self._capacity:
            (n,) = _header.unpack_from(self._buf, pos)
            pos += HEADER_SIZE
            if pos == self._capacity:
                pos = 0
        else:
            header, pos = self._read(pos, HEADER_SIZE)
            (n,) = _header.unpack(header)
        data, self._head = self._read(pos, n)
        self._used -= n + HEADER_SIZE
        self._count -= 1
        return data

    # -- public API ------------------------------------------------------------------

    def push(self, rec):
        """Store one record; True if stored, False if refused because the ring is full."""
        return self._store(_record_bytes(rec, "record"))

    def push_many(self, records):
        """Store records in order; return how many were taken.

        In "reject" mode it stops at the first record that does not fit; that one and
        every one after it count as rejected.  A record that can never fit raises
        RingFullError after the earlier ones were taken (it and the rest count as
        rejected, and the exception's ``taken`` says how many were stored).  A record
        that is not bytes-like raises TypeError after the earlier ones were taken; it is
        a caller's bug, not an overflow, so nothing is counted for it.
        """
        if not isinstance(records, (list, tuple)):
            try:
                records = list(records)
            except TypeError:
                raise TypeError(
                    "push_many expects a sequence of bytes-like records, "
                    f"not {type(records).__name__}"
                ) from None
        total = len(records)
        for i, rec in enumerate(records):
            data = _record_bytes(rec, f"records[{i}]")
            try:
                stored = self._store(data)
            except RingFullError as exc:
                # _store counted this one; the ones after it were not taken either.
                self._rejected += total - i - 1
                exc.taken = i
                raise
            if not stored:
                self._rejected += total - i - 1
                return i
        return total

    def pop(self):
        """Remove and return the oldest record, or None when the ring is empty."""
        if self._count == 0:
            return None
        self._popped += 1
        return self._take()

    def pop_many(self, n):
        """Remove and return up to ``n`` records, oldest first."""
        n = operator.index(n)
        if n < 0:
            raise ValueError(f"pop_many: n must be >= 0, got {n}")
        k = min(n, self._count)
        out = [self._take() for _ in range(k)]
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
        return self._capacity

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
        return self._high_watermark

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
            "capacity": self._capacity,
            "overflow": self._overflow,
            "records": self._count,
            "bytes_used": self._used,
            "high_watermark": self._high_watermark,
            "pushed": self._pushed,
            "popped": self._popped,
            "rejected": self._rejected,
            "dropped": self._dropped,
        }

    def __repr__(self):
        return (
            f"Ring(capacity={self._capacity}, overflow={self._overflow!r}, "
            f"records={self._count}, bytes_used={self._used})"
        )

    def __reduce__(self):
        raise TypeError("cannot pickle a Ring: it is a live buffer, not a value")
