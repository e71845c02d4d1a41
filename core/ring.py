"""The kernel's ring: bounded bytes records between sources and the decoder.

``Ring`` is the compiled ``hromada._ring.Ring`` when it is built, else the pure twin
``hromada._ring_py.Ring`` (``HROMADA_NO_EXTENSIONS=1`` forces the twin); both have the
same API, counters and messages.  ``IMPLEMENTATION`` says which one was loaded.

``AsyncRing`` wraps either one for asyncio.  Producers push through it; a consumer
awaits ``wait_data()``, which returns once a batch is worth taking, not per record:

* at least ``wake_records`` records are held, or
* the ring is more than half full in bytes (so a small ring is drained before
  producers start being refused), or
* at least one record is held and ``max_latency`` seconds have passed since the ring
  last went from empty to non-empty, or
* ``close()`` was called (then it returns even when the ring is empty).

Producers of a "reject" ring await ``wait_space()`` after a refused push; it returns
once a pop through the wrapper brings ``bytes_used`` to half the capacity or less
(or on close).  Pushes and pops that bypass the wrapper are not seen by it.  Like the
ring, the wrapper belongs to one thread: its event loop's.
"""

import asyncio
import time

from hromada import compiled
from hromada.errors import RingFullError

_impl = compiled.load("ring")

Ring = _impl.Ring
HEADER_SIZE = _impl.HEADER_SIZE
MAX_CAPACITY = _impl.MAX_CAPACITY
#: "compiled" or "pure": which implementation ``Ring`` is.
IMPLEMENTATION = compiled.modules["ring"]

__all__ = ["AsyncRing", "HEADER_SIZE", "IMPLEMENTATION", "MAX_CAPACITY", "Ring",
           "RingFullError"]


class AsyncRing:
    """Batch-wise wake-ups around a ``Ring`` for asyncio producers and consumers."""

    def __init__(self, ring, *, wake_records=256, max_latency=0.01):
        if not isinstance(wake_records, int) or wake_records < 1:
            raise ValueError(f"wake_records must be an integer >= 1, got {wake_records!r}")
        if not isinstance(max_latency, (int, float)) or not max_latency >= 0:
            raise ValueError(f"max_latency must be a number of seconds >= 0, got {max_latency!r}")
        self._ring = ring
        self._wake_records = wake_records
        self._max_latency = float(max_latency)
        self._half = ring.capacity // 2
        self._since = None  # time.monotonic() when the ring last became non-empty
        self._data_waiters = []
        self._space_waiters = []
        self._timer = None
        self._closed = False

    # -- producers -------------------------------------------------------------------

    def push(self, rec):
        """``ring.push`` that may wake the consumer; RuntimeError once closed."""
        self._check_open()
        try:
            return self._ring.push(rec)
        finally:
            self._after_push()

    def push_many(self, records):
        """``ring.push_many`` that may wake the consumer; RuntimeError once closed."""
        self._check_open()
        try:
            return self._ring.push_many(records)
        finally:
            # Also after RingFullError: the records before the oversized one were taken.
            self._after_push()

    async def wait_space(self):
        """Wait until ``bytes_used`` is at most half the capacity (or closed); free bytes."""
        while not (self._closed or self._ring.bytes_used <= self._half):
            await self._wait(self._space_waiters)
        return self._ring.capacity - self._ring.bytes_used

    # -- consumers -------------------------------------------------------------------

    async def wait_data(self):
        """Wait until a batch is worth taking (see the module doc); records held."""
        while not self._ready():
            if len(self._ring) and self._timer is None:
                self._arm_timer()
            await self._wait(self._data_waiters)
        return len(self._ring)

    def pop(self):
        """``ring.pop`` that may wake producers waiting for space."""
        rec = self._ring.pop()
        self._after_pop()
        return rec

    def pop_many(self, n):
        """``ring.pop_many`` that may wake producers waiting for space."""
        recs = self._ring.pop_many(n)
        self._after_pop()
        return recs

    def clear(self):
        """``ring.clear`` that wakes producers waiting for space."""
        self._ring.clear()
        self._after_pop()

    def close(self):
        """No more pushes; wake every waiter (consumers drain what is left)."""
        self._closed = True
        self._wake(self._data_waiters)
        self._wake(self._space_waiters)

    # -- state -----------------------------------------------------------------------

    @property
    def ring(self):
        return self._ring

    @property
    def closed(self):
        return self._closed

    def __len__(self):
        return len(self._ring)

    def stats(self):
        return self._ring.stats()

    def __repr__(self):
        state = "closed" if self._closed else "open"
        return f"AsyncRing({self._ring!r}, {state})"

    # -- internals -------------------------------------------------------------------

    def _check_open(self):
        if self._closed:
            raise RuntimeError("cannot push to a closed AsyncRing")

    def _ready(self):
        held = len(self._ring)
        if self._closed or held >= self._wake_records:
            return True
        if held == 0:
            return False
        if self._ring.bytes_used > self._half:
            return True
        if self._since is None:  # records pushed behind the wrapper's back
            self._since = time.monotonic()
        return time.monotonic() - self._since >= self._max_latency

    def _after_push(self):
        if not len(self._ring):
            return
        if self._since is None:
            self._since = time.monotonic()
        if not self._data_waiters:
            return
        if self._ready():
            self._wake(self._data_waiters)
        elif self._timer is None:
            self._arm_timer()

    def _after_pop(self):
        if not len(self._ring):
            self._since = None
        if self._space_waiters and self._ring.bytes_used <= self._half:
            self._wake(self._space_waiters)

    def _arm_timer(self):
        if self._since is None:
            self._since = time.monotonic()
        delay = max(0.0, self._since + self._max_latency - time.monotonic())
        # A push may come from a plain callback: use the loop the consumer waits in.
        if self._data_waiters:
            loop = self._data_waiters[0].get_loop()
        else:
            loop = asyncio.get_running_loop()
        self._timer = loop.call_later(delay, self._on_timer)

    def _on_timer(self):
        self._timer = None
        if not self._data_waiters or not len(self._ring):
            return  # the next push arms it again
        if self._ready():
            self._wake(self._data_waiters)
        else:  # the ring emptied and refilled since the timer was armed
            self._arm_timer()

    def _wake(self, waiters):
        if waiters is self._data_waiters and self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        waiters.clear()

    async def _wait(self, waiters):
        fut = asyncio.get_running_loop().create_future()
        waiters.append(fut)
        try:
            await fut
        finally:
            if fut in waiters:
                waiters.remove(fut)
            if waiters is self._data_waiters and not waiters and self._timer is not None:
                self._timer.cancel()
                self._timer = None
