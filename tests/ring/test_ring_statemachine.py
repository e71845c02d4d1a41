"""Random operation sequences: compiled ring against the pure twin, both against a model.

``CompiledVsPure`` drives the two implementations op by op and compares every result,
every exception and every counter.  ``ModelCheck`` drives one implementation against a
reference written the obvious way (a deque of records and a byte count), so the pure
twin, the oracle of the first machine, is checked too.
"""

import collections

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from hromada import compiled
from hromada.errors import RingFullError

COMPILED, PURE = compiled.both("ring")

SETTINGS = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

capacities = st.one_of(st.integers(1, 24), st.integers(25, 300))
overflows = st.sampled_from(["reject", "drop_oldest"])
payloads = st.binary(max_size=80)
wrappers = st.sampled_from([bytes, bytearray, memoryview])
records = st.tuples(payloads, wrappers).map(lambda pw: pw[1](pw[0]))
batches = st.lists(records, max_size=12)
counts = st.integers(0, 15)


def outcome(call):
    """Result of ``call()``, or the exception's type, message and ``taken``."""
    try:
        return ("ok", call())
    except (RingFullError, TypeError, ValueError) as exc:
        return ("raised", type(exc), str(exc), getattr(exc, "taken", None))


class ModelRing:
    """The reference: what a ring must do, without any buffer arithmetic."""

    def __init__(self, capacity, overflow):
        self.capacity = capacity
        self.overflow = overflow
        self.records = collections.deque()
        self.bytes_used = 0
        self.high_watermark = 0
        self.pushed = self.popped = self.rejected = self.dropped = 0

    def push(self, rec):
        rec = bytes(rec)
        need = len(rec) + 4
        if need > self.capacity:
            self.rejected += 1
            raise RingFullError(
                f"record of {len(rec)} bytes can never fit in a ring of {self.capacity} bytes"
            )
        if self.bytes_used + need > self.capacity:
            if self.overflow == "reject":
                self.rejected += 1
                return False
            while self.bytes_used + need > self.capacity:
                self.bytes_used -= len(self.records.popleft()) + 4
                self.dropped += 1
        self.records.append(rec)
        self.bytes_used += need
        self.pushed += 1
        self.high_watermark = max(self.high_watermark, self.bytes_used)
        return True

    def push_many(self, recs):
        for i, rec in enumerate(recs):
            try:
                stored = self.push(rec)
            except RingFullError as exc:
                self.rejected += len(recs) - i - 1
                exc.taken = i
                raise
            if not stored:
                self.rejected += len(recs) - i - 1
                return i
        return len(recs)

    def pop(self):
        if not self.records:
            return None
        return self.pop_many(1)[0]

    def pop_many(self, n):
        out = [self.records.popleft() for _ in range(min(n, len(self.records)))]
        self.bytes_used -= sum(len(r) + 4 for r in out)
        self.popped += len(out)
        return out

    def clear(self):
        self.records.clear()
        self.bytes_used = 0

    def __len__(self):
        return len(self.records)

    def stats(self):
        return {
            "capacity": self.capacity, "overflow": self.overflow, "records": len(self),
            "bytes_used": self.bytes_used, "high_watermark": self.high_watermark,
            "pushed": self.pushed, "popped": self.popped, "rejected": self.rejected,
            "dropped": self.dropped,
        }


class PairedRings(RuleBasedStateMachine):
    """Runs every operation on ``self.a`` and ``self.b`` and demands the same answers."""

    make_a = make_b = None

    @initialize(capacity=capacities, overflow=overflows)
    def make(self, capacity, overflow):
        self.a = type(self).make_a(capacity, overflow)
        self.b = type(self).make_b(capacity, overflow)

    def both(self, op, *args):
        got_a = outcome(lambda: getattr(self.a, op)(*args))
        got_b = outcome(lambda: getattr(self.b, op)(*args))
        assert got_a == got_b, (op, args)
        return got_a

    @rule(rec=records)
    def push(self, rec):
        self.both("push", rec)

    @rule(recs=batches)
    def push_many(self, recs):
        self.both("push_many", recs)

    @rule()
    def pop(self):
        self.both("pop")

    @rule(n=counts)
    def pop_many(self, n):
        result = self.both("pop_many", n)
        assert all(type(rec) is bytes for rec in result[1])

    @rule()
    def clear(self):
        self.both("clear")

    @invariant()
    def same_state(self):
        if not hasattr(self, "a"):
            return
        assert self.a.stats() == self.b.stats()
        assert len(self.a) == len(self.b)
        assert self.a.stats()["bytes_used"] <= self.a.stats()["capacity"]


class CompiledVsPure(PairedRings):
    make_a = COMPILED.Ring if COMPILED else None
    make_b = PURE.Ring

    @invariant()
    def same_properties(self):
        if not hasattr(self, "a"):
            return
        for name in ("capacity", "overflow", "bytes_used", "high_watermark",
                     "pushed", "popped", "rejected", "dropped"):
            assert getattr(self.a, name) == getattr(self.b, name), name


    @rule(recs=batches, bad=st.sampled_from(["text", 7, None, memoryview(b"abcdef")[::2]]),
          where=st.integers(0, 12))
    def push_not_bytes_like(self, recs, bad, where):
        self.both("push", bad)
        self.both("push_many", recs[:where] + [bad] + recs[where:])


class PureVsModel(PairedRings):
    make_a = PURE.Ring
    make_b = ModelRing


class CompiledVsModel(PairedRings):
    make_a = COMPILED.Ring if COMPILED else None
    make_b = ModelRing


_no_compiled = pytest.mark.skipif(
    compiled.NO_EXTENSIONS or COMPILED is None,
    reason="HROMADA_NO_EXTENSIONS is set: only the pure twin is tested"
    if compiled.NO_EXTENSIONS else "hromada._ring is not compiled",
)

TestCompiledVsPure = _no_compiled(CompiledVsPure.TestCase)
TestCompiledVsPure.settings = SETTINGS
TestPureVsModel = PureVsModel.TestCase
TestPureVsModel.settings = SETTINGS
TestCompiledVsModel = _no_compiled(CompiledVsModel.TestCase)
TestCompiledVsModel.settings = SETTINGS
