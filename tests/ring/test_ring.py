"""Behaviour of the ring, one body over the compiled module and its pure twin."""

import array
import collections
import pickle

import pytest

import hromada.ring
from conftest import implementations, require_compiled
from hromada import compiled
from hromada.errors import RingFullError

IMPLS = implementations("ring")


def test_compiled_ring_loaded():
    require_compiled("ring")
    assert hromada.ring.IMPLEMENTATION == "compiled"
    assert hromada.ring.Ring is compiled.both("ring")[0].Ring


def test_public_module_follows_the_switch():
    expected = "pure" if compiled.NO_EXTENSIONS else "compiled"
    assert hromada.ring.IMPLEMENTATION == expected
    assert hromada.ring.RingFullError is RingFullError


@pytest.mark.parametrize("impl", IMPLS)
def test_constructor_defaults_and_properties(impl):
    ring = impl.Ring(100)
    assert ring.capacity == 100
    assert ring.overflow == "reject"
    assert len(ring) == 0
    assert not ring
    assert ring.stats() == {
        "capacity": 100, "overflow": "reject", "records": 0, "bytes_used": 0,
        "high_watermark": 0, "pushed": 0, "popped": 0, "rejected": 0, "dropped": 0,
    }
    assert impl.Ring(7, overflow="drop_oldest").overflow == "drop_oldest"
    assert impl.HEADER_SIZE == 4
    assert impl.MAX_CAPACITY == 1 << 32


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("capacity", [0, -1, (1 << 32) + 1])
def test_bad_capacity(impl, capacity):
    with pytest.raises(ValueError) as info:
        impl.Ring(capacity)
    assert str(info.value) == f"capacity must be between 1 and 4294967296 bytes, got {capacity}"


@pytest.mark.parametrize("impl", IMPLS)
def test_capacity_must_be_an_integer(impl):
    with pytest.raises(TypeError, match="'float' object cannot be interpreted as an integer"):
        impl.Ring(10.0)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("overflow", ["block", "DROP_OLDEST", "", None, 1])
def test_bad_overflow_names_the_allowed_values(impl, overflow):
    with pytest.raises(ValueError) as info:
        impl.Ring(10, overflow)
    assert str(info.value) == (
        f"overflow must be one of 'reject', 'drop_oldest', got {overflow!r}"
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_exact_counters_in_reject_mode(impl):
    ring = impl.Ring(64)
    rec = bytes(range(10))  # 14 bytes with its header
    assert [ring.push(rec) for _ in range(5)] == [True, True, True, True, False]
    assert ring.stats() == {
        "capacity": 64, "overflow": "reject", "records": 4, "bytes_used": 56,
        "high_watermark": 56, "pushed": 4, "popped": 0, "rejected": 1, "dropped": 0,
    }
    # 8 free bytes: a 4-byte record fits exactly, then even an empty one does not.
    assert ring.push(b"abcd") is True
    assert ring.bytes_used == 64
    assert ring.push(b"") is False
    assert ring.pop() == rec
    assert ring.pop_many(2) == [rec, rec]
    assert ring.stats() == {
        "capacity": 64, "overflow": "reject", "records": 2, "bytes_used": 22,
        "high_watermark": 64, "pushed": 5, "popped": 3, "rejected": 2, "dropped": 0,
    }
    assert ring.pop_many(10) == [rec, b"abcd"]
    assert ring.pop() is None
    assert ring.pop_many(3) == []
    assert (ring.pushed, ring.popped, ring.rejected, ring.dropped) == (5, 5, 2, 0)
    assert ring.bytes_used == 0 and len(ring) == 0


@pytest.mark.parametrize("impl", IMPLS)
def test_push_many_in_reject_mode_stops_at_the_first_that_does_not_fit(impl):
    ring = impl.Ring(40)
    recs = [b"a" * 6, b"b" * 6, b"c" * 6, b"d", b"e"]  # 10, 10, 10, 5, 5 bytes
    # 30 used after three; "d" fits (35) and "e" fits (40): all taken.
    assert ring.push_many(recs) == 5
    assert ring.bytes_used == 40
    ring.clear()
    recs = [b"a" * 10, b"b" * 10, b"c" * 10, b"d", b""]  # 14, 14, 14 -> third refused
    assert ring.push_many(recs) == 2
    # The small ones after the refused record would fit but are not taken (order kept).
    assert ring.rejected == 3
    assert ring.pop_many(5) == [b"a" * 10, b"b" * 10]
    assert ring.push_many([]) == 0
    assert ring.push_many((b"x", b"y")) == 2
    assert ring.push_many(bytes([i]) for i in range(3)) == 3
    assert ring.pop_many(10) == [b"x", b"y", b"\x00", b"\x01", b"\x02"]
    assert (ring.pushed, ring.popped, ring.rejected, ring.dropped) == (12, 7, 3, 0)


@pytest.mark.parametrize("impl", IMPLS)
def test_drop_oldest(impl):
    ring = impl.Ring(30, "drop_oldest")
    recs = [bytes([i]) * 6 for i in range(5)]  # 10 bytes each
    assert [ring.push(r) for r in recs] == [True] * 5
    assert ring.stats() == {
        "capacity": 30, "overflow": "drop_oldest", "records": 3, "bytes_used": 30,
        "high_watermark": 30, "pushed": 5, "popped": 0, "rejected": 0, "dropped": 2,
    }
    # A big record drops as many as it needs: here every one held.
    assert ring.push(b"z" * 22) is True
    assert ring.dropped == 5
    assert ring.pop_many(5) == [b"z" * 22]
    assert ring.push_many(recs) == 5
    assert ring.dropped == 7
    assert ring.pop_many(5) == recs[2:]
    assert ring.rejected == 0


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("overflow", ["reject", "drop_oldest"])
def test_record_that_can_never_fit(impl, overflow):
    ring = impl.Ring(30, overflow)
    assert ring.push(b"k")
    with pytest.raises(RingFullError) as info:
        ring.push(b"x" * 27)
    assert str(info.value) == "record of 27 bytes can never fit in a ring of 30 bytes"
    assert isinstance(info.value, BufferError)
    assert ring.rejected == 1 and ring.dropped == 0
    assert ring.pop_many(2) == [b"k"]  # nothing was dropped to make room for it
    assert ring.push(bytearray(26)) is True  # header + 26 == capacity: fits exactly
    assert ring.bytes_used == 30 == ring.high_watermark


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("overflow", ["reject", "drop_oldest"])
def test_push_many_oversized_takes_the_earlier_ones(impl, overflow):
    ring = impl.Ring(20, overflow)
    with pytest.raises(RingFullError) as info:
        ring.push_many([b"a", b"b", memoryview(b"c" * 17), b"d", b"e"])
    assert str(info.value) == "record of 17 bytes can never fit in a ring of 20 bytes"
    assert info.value.taken == 2
    # The oversized record and the two after it were not taken.
    assert (ring.pushed, ring.rejected) == (2, 3)
    assert ring.pop_many(10) == [b"a", b"b"]


@pytest.mark.parametrize("impl", IMPLS)
def test_zero_length_records(impl):
    ring = impl.Ring(12)
    assert ring.push(b"") and ring.push(bytearray()) and ring.push(memoryview(b""))
    assert ring.push(b"") is False
    assert len(ring) == 3 and ring.bytes_used == 12
    assert ring.pop_many(5) == [b"", b"", b""]
    with pytest.raises(RingFullError) as info:
        impl.Ring(3).push(b"")
    assert str(info.value) == "record of 0 bytes can never fit in a ring of 3 bytes"
    tiny = impl.Ring(4, "drop_oldest")
    assert tiny.push_many([b""] * 5) == 5
    assert (len(tiny), tiny.dropped, tiny.bytes_used) == (1, 4, 4)


@pytest.mark.parametrize("impl", IMPLS)
def test_bytes_like_inputs_and_bytes_out(impl):
    ring = impl.Ring(200)
    source = bytearray(b"mutable")
    words = array.array("H", [1, 2, 3])
    assert ring.push(source)
    source[0:1] = b"M"  # the ring holds a copy
    assert ring.push(memoryview(b"0123456789")[2:5])
    assert ring.push(words)  # any C-contiguous buffer: its raw bytes
    assert ring.push_many([bytearray(b"ba"), memoryview(bytearray(b"mv")), b"b"]) == 3
    out = ring.pop_many(10)
    assert out == [b"mutable", b"234", words.tobytes(), b"ba", b"mv", b"b"]
    assert all(type(rec) is bytes for rec in out)
    assert ring.push(b"q") and type(ring.pop()) is bytes


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    ("bad", "name"),
    [("text", "str"), (7, "int"), (None, "NoneType"), (memoryview(b"abcdef")[::2], "memoryview")],
)
def test_not_bytes_like(impl, bad, name):
    ring = impl.Ring(50)
    with pytest.raises(TypeError) as info:
        ring.push(bad)
    assert str(info.value) == f"record must be a contiguous bytes-like object, not {name}"
    with pytest.raises(TypeError) as info:
        ring.push_many([b"ok", bad, b"never"])
    assert str(info.value) == f"records[1] must be a contiguous bytes-like object, not {name}"
    # A caller's bug, not an overflow: the earlier record stays, nothing is counted.
    assert ring.pop_many(5) == [b"ok"]
    assert (ring.pushed, ring.rejected) == (1, 0)


@pytest.mark.parametrize("impl", IMPLS)
def test_push_many_needs_an_iterable(impl):
    ring = impl.Ring(50)
    with pytest.raises(TypeError) as info:
        ring.push_many(5)
    assert str(info.value) == "push_many expects a sequence of bytes-like records, not int"
    with pytest.raises(TypeError) as info:
        ring.push_many(b"ab")  # iterating bytes gives ints
    assert str(info.value) == "records[0] must be a contiguous bytes-like object, not int"


@pytest.mark.parametrize("impl", IMPLS)
def test_pop_many_arguments(impl):
    ring = impl.Ring(50)
    ring.push_many([b"1", b"2", b"3"])
    with pytest.raises(ValueError) as info:
        ring.pop_many(-1)
    assert str(info.value) == "pop_many: n must be >= 0, got -1"
    with pytest.raises(TypeError):
        ring.pop_many(1.5)
    assert ring.pop_many(0) == []
    assert ring.pop_many(1 << 80) == [b"1", b"2", b"3"]
    assert ring.popped == 3


@pytest.mark.parametrize("impl", IMPLS)
def test_wrap_around_keeps_order_and_content(impl):
    # Every capacity, with one record always held so that records start at every
    # offset and header and body are split at every possible place.
    for capacity in range(5, 48):
        ring = impl.Ring(capacity)
        model = collections.deque()
        used = 0
        for i in range(300):
            rec = bytes((i + j) % 256 for j in range((i * 7) % (capacity - 3)))
            need = len(rec) + 4
            while used + need > capacity and len(model) > 1:
                oldest = model.popleft()
                assert ring.pop() == oldest
                used -= len(oldest) + 4
            if used + need > capacity:
                assert ring.push(rec) is False
                continue
            assert ring.push(rec) is True
            model.append(rec)
            used += need
            assert ring.bytes_used == used and len(ring) == len(model)
        assert ring.pop_many(len(model) + 1) == list(model)
        assert ring.popped + len(ring) == ring.pushed


@pytest.mark.parametrize("impl", IMPLS)
def test_split_header_and_split_body(impl):
    # Hand-placed in a 16-byte ring; [a,b) are buffer offsets.
    ring = impl.Ring(16)
    assert ring.push(b"01") and ring.push(b"2345")  # [0,6) [6,14)
    assert ring.pop() == b"01"  # head 6
    assert ring.push(b"")  # header 14,15,0,1
    assert ring.pop() == b"2345"  # head 14
    assert ring.push(b"abcdefghi") is False  # 4 + 4 + 9 > 16
    assert ring.push(b"abcdefgh")  # [2,6) header, [6,14) body: exactly full
    assert ring.pop() == b""  # reads the split header
    assert ring.push(b"")  # header 14,15,0,1 again
    assert ring.pop_many(5) == [b"abcdefgh", b""]
    # Empty: the next record starts at 0 again.
    assert ring.push(b"ab") and ring.push(b"")  # [0,6) [6,10)
    assert ring.pop() == b"ab"  # head 6
    assert ring.push(b"body!!")  # header [10,14), body 14,15,0..3
    assert ring.bytes_used == 14
    assert ring.pop_many(5) == [b"", b"body!!"]

    dropping = impl.Ring(16, "drop_oldest")
    assert dropping.push(b"01") and dropping.push(b"2345")  # [0,6) [6,14)
    assert dropping.pop() == b"01"
    assert dropping.push(b"xyz")  # header 14,15,0,1, body [2,5)
    assert dropping.pop() == b"2345"  # head 14
    assert dropping.push(b"q" * 12)  # drops the split record to make room
    assert (dropping.dropped, len(dropping)) == (1, 1)
    assert dropping.pop() == b"q" * 12


@pytest.mark.parametrize("impl", IMPLS)
def test_high_watermark_and_clear(impl):
    ring = impl.Ring(100, "drop_oldest")
    ring.push_many([b"x" * 16] * 3)  # 60
    ring.pop_many(2)
    ring.push(b"y" * 6)  # 20 + 10
    assert ring.high_watermark == 60
    ring.push_many([b"z" * 16] * 4)  # the fourth drops the oldest x: 70 + 20
    assert (ring.high_watermark, ring.bytes_used, ring.dropped) == (90, 90, 1)
    ring.push(b"w" * 6)
    ring.push(b"v" * 6)  # drops y (10 bytes) to stay at 100
    assert (ring.high_watermark, ring.bytes_used, ring.dropped) == (100, 100, 2)
    dropped = ring.dropped
    ring.clear()
    assert len(ring) == 0 and ring.bytes_used == 0 and ring.pop() is None
    assert ring.dropped == dropped  # clear is a reset, not an overflow
    assert ring.high_watermark == 100  # the maximum ever, kept across clear
    assert ring.push(b"after") and ring.pop() == b"after"


@pytest.mark.parametrize("impl", IMPLS)
def test_repr_and_no_pickle(impl):
    ring = impl.Ring(64, "drop_oldest")
    ring.push(b"abc")
    assert repr(ring) == "Ring(capacity=64, overflow='drop_oldest', records=1, bytes_used=7)"
    with pytest.raises(TypeError, match="cannot pickle a Ring"):
        pickle.dumps(ring)


@pytest.mark.parametrize("impl", IMPLS)
def test_large_records_and_big_batches(impl):
    ring = impl.Ring(1 << 16)
    big = bytes(range(256)) * 100  # 25600 bytes
    assert ring.push_many([big, big]) == 2
    assert ring.push(big) is False
    assert ring.pop() == big
    assert ring.push(big)  # wraps around the end
    assert ring.pop_many(2) == [big, big]
    batch = [i.to_bytes(4, "little") * 6 for i in range(3000)]
    taken = ring.push_many(batch)
    assert taken == (1 << 16) // 28 == 2340
    assert ring.pop_many(taken) == batch[:taken]
    assert ring.rejected == 1 + 3000 - taken
