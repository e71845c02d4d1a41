"""AsyncRing on a real asyncio loop, over both ring implementations."""

import asyncio
import time

import pytest

from conftest import implementations
from hromada.errors import RingFullError
from hromada.ring import AsyncRing

IMPLS = implementations("ring")
FOREVER = 3600.0


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=10))


@pytest.mark.parametrize("impl", IMPLS)
def test_wakes_at_the_record_watermark_not_per_record(impl):
    async def main():
        aring = AsyncRing(impl.Ring(10_000), wake_records=10, max_latency=FOREVER)
        waiter = asyncio.create_task(aring.wait_data())
        await asyncio.sleep(0)
        for i in range(9):
            assert aring.push(bytes([i]))
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            assert not waiter.done(), f"woke after {i + 1} records"
        aring.push_many([b"9", b"10"])
        assert await waiter == 11
        assert aring.pop_many(100) == [bytes([i]) for i in range(9)] + [b"9", b"10"]

    run(main())


@pytest.mark.parametrize("impl", IMPLS)
def test_returns_at_once_when_enough_is_held(impl):
    async def main():
        aring = AsyncRing(impl.Ring(1000), wake_records=2, max_latency=FOREVER)
        aring.push_many([b"a", b"b", b"c"])
        assert await aring.wait_data() == 3

    run(main())


@pytest.mark.parametrize("impl", IMPLS)
def test_wakes_after_max_latency_with_one_record(impl):
    async def main():
        aring = AsyncRing(impl.Ring(1000), wake_records=1000, max_latency=0.05)
        waiter = asyncio.create_task(aring.wait_data())
        await asyncio.sleep(0.08)
        assert not waiter.done()  # an empty ring never times out
        start = time.monotonic()
        aring.push(b"lonely")
        await asyncio.sleep(0)
        assert not waiter.done()
        assert await waiter == 1
        assert time.monotonic() - start >= 0.045
        assert aring.pop() == b"lonely"

    run(main())


@pytest.mark.parametrize("impl", IMPLS)
def test_late_records_return_at_once(impl):
    async def main():
        aring = AsyncRing(impl.Ring(1000), wake_records=1000, max_latency=0.02)
        aring.push(b"old")
        await asyncio.sleep(0.04)
        start = time.monotonic()
        assert await aring.wait_data() == 1
        assert time.monotonic() - start < 0.02

    run(main())


@pytest.mark.parametrize("impl", IMPLS)
def test_latency_counts_from_when_the_ring_last_became_non_empty(impl):
    async def main():
        aring = AsyncRing(impl.Ring(1000), wake_records=1000, max_latency=0.05)
        aring.push(b"first")
        await asyncio.sleep(0.06)
        assert aring.pop_many(10) == [b"first"]  # empty again: the clock stops
        aring.push(b"second")
        waiter = asyncio.create_task(aring.wait_data())
        await asyncio.sleep(0.01)
        assert not waiter.done()
        assert await waiter == 1

    run(main())


@pytest.mark.parametrize("impl", IMPLS)
def test_wakes_when_more_than_half_full_in_bytes(impl):
    async def main():
        aring = AsyncRing(impl.Ring(100), wake_records=1000, max_latency=FOREVER)
        waiter = asyncio.create_task(aring.wait_data())
        await asyncio.sleep(0)
        aring.push_many([b"x" * 21, b"y" * 21])  # 50 bytes: exactly half
        await asyncio.sleep(0)
        assert not waiter.done()
        aring.push(b"")  # 54
        assert await waiter == 3

    run(main())


@pytest.mark.parametrize("impl", IMPLS)
def test_close_wakes_an_empty_consumer_and_refuses_pushes(impl):
    async def main():
        aring = AsyncRing(impl.Ring(100), wake_records=10, max_latency=FOREVER)
        waiter = asyncio.create_task(aring.wait_data())
        await asyncio.sleep(0)
        assert not waiter.done()
        aring.close()
        assert await waiter == 0
        assert aring.closed
        with pytest.raises(RuntimeError, match="cannot push to a closed AsyncRing"):
            aring.push(b"late")
        with pytest.raises(RuntimeError, match="cannot push to a closed AsyncRing"):
            aring.push_many([b"late"])
        assert await aring.wait_data() == 0  # returns at once once closed
        assert await aring.wait_space() == 100

    run(main())


@pytest.mark.parametrize("impl", IMPLS)
def test_consumer_drains_after_close(impl):
    async def main():
        aring = AsyncRing(impl.Ring(100), wake_records=10, max_latency=FOREVER)
        aring.push_many([b"a", b"b"])
        aring.close()
        assert await aring.wait_data() == 2
        assert aring.pop_many(10) == [b"a", b"b"]

    run(main())


@pytest.mark.parametrize("impl", IMPLS)
def test_wait_space_wakes_at_half_capacity(impl):
    async def main():
        aring = AsyncRing(impl.Ring(100), wake_records=1000, max_latency=FOREVER)
        rec = b"r" * 16  # 20 bytes
        assert aring.push_many([rec] * 6) == 5
        assert aring.ring.rejected == 1
        producer = asyncio.create_task(aring.wait_space())
        await asyncio.sleep(0)
        assert not producer.done()
        aring.pop_many(2)  # 60 bytes left: still over half
        await asyncio.sleep(0)
        assert not producer.done()
        assert aring.pop() == rec  # 40 bytes
        assert await producer == 60
        assert await aring.wait_space() == 60  # under the low watermark: no wait

    run(main())


@pytest.mark.parametrize("impl", IMPLS)
def test_clear_wakes_producers(impl):
    async def main():
        aring = AsyncRing(impl.Ring(40), wake_records=1000, max_latency=FOREVER)
        aring.push(b"z" * 30)
        producer = asyncio.create_task(aring.wait_space())
        await asyncio.sleep(0)
        assert not producer.done()
        aring.clear()
        assert await producer == 40

    run(main())


@pytest.mark.parametrize("impl", IMPLS)
def test_oversized_record_still_wakes_for_the_records_taken(impl):
    async def main():
        aring = AsyncRing(impl.Ring(64), wake_records=2, max_latency=FOREVER)
        waiter = asyncio.create_task(aring.wait_data())
        await asyncio.sleep(0)
        with pytest.raises(RingFullError):
            aring.push_many([b"a", b"b", b"c" * 61])
        assert await waiter == 2

    run(main())


@pytest.mark.parametrize("impl", IMPLS)
def test_cancelled_waiter_leaves_no_timer(impl):
    async def main():
        aring = AsyncRing(impl.Ring(64), wake_records=100, max_latency=FOREVER)
        aring.push(b"a")
        waiter = asyncio.create_task(aring.wait_data())
        await asyncio.sleep(0)
        assert aring._timer is not None
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert aring._timer is None and aring._data_waiters == []

    run(main())


@pytest.mark.parametrize("impl", IMPLS)
def test_producer_consumer_end_to_end(impl):
    """Reject ring smaller than the stream: nothing lost, order kept, wakes per batch."""
    total, wake = 2000, 50

    async def main():
        aring = AsyncRing(impl.Ring(4096), wake_records=wake, max_latency=FOREVER)
        received, wakes = [], 0

        async def producer():
            for i in range(total):
                rec = i.to_bytes(4, "big") * 3
                while not aring.push(rec):
                    await aring.wait_space()
                await asyncio.sleep(0)  # one record per loop turn: worst case for wakes
            aring.close()

        async def consumer():
            nonlocal wakes
            while True:
                await aring.wait_data()
                wakes += 1
                batch = aring.pop_many(1000)
                received.extend(batch)
                if not batch and aring.closed:
                    return

        await asyncio.gather(producer(), consumer())
        assert received == [i.to_bytes(4, "big") * 3 for i in range(total)]
        # One wake per `wake` records plus the last one after close.
        assert wakes <= total // wake + 2
        stats = aring.stats()
        assert (stats["pushed"], stats["popped"], stats["dropped"]) == (total, total, 0)

    run(main())


@pytest.mark.parametrize("impl", IMPLS)
def test_many_producers_with_backpressure(impl):
    async def main():
        aring = AsyncRing(impl.Ring(200), wake_records=8, max_latency=0.001)
        done = 0

        async def producer(tag):
            nonlocal done
            for i in range(300):
                rec = bytes([tag, i % 256]) * 4
                while not aring.push(rec):
                    await aring.wait_space()
                if i % 7 == 0:
                    await asyncio.sleep(0)
            done += 1
            if done == 3:
                aring.close()

        async def consumer():
            got = []
            while True:
                await aring.wait_data()
                batch = aring.pop_many(5)
                got.extend(batch)
                if not batch and aring.closed:
                    return got
                await asyncio.sleep(0)

        *_, got = await asyncio.gather(producer(1), producer(2), producer(3), consumer())
        assert len(got) == 900
        for tag in (1, 2, 3):  # each producer's records arrive in its own order
            assert [r for r in got if r[0] == tag] == [bytes([tag, i % 256]) * 4
                                                       for i in range(300)]
        assert aring.ring.rejected > 0  # backpressure really happened

    run(main())


@pytest.mark.parametrize("impl", IMPLS)
def test_bad_arguments(impl):
    ring = impl.Ring(10)
    with pytest.raises(ValueError, match=r"wake_records must be an integer >= 1, got 0"):
        AsyncRing(ring, wake_records=0)
    with pytest.raises(ValueError, match=r"max_latency must be a number of seconds >= 0, got -1"):
        AsyncRing(ring, max_latency=-1)
    aring = AsyncRing(ring)
    assert aring.ring is ring and len(aring) == 0 and not aring.closed
    assert repr(aring) == (
        "AsyncRing(Ring(capacity=10, overflow='reject', records=0, bytes_used=0), open)"
    )
