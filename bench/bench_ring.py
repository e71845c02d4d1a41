"""Batch transfer through the ring against the usual Python queues.

Each round pushes a batch of records and pops them all again, the way the kernel's
sources and decoder use the ring:

* compiled ``hromada._ring.Ring``: ``push_many(batch)`` + ``pop_many(n)``
* pure ``hromada._ring_py.Ring``: the same calls
* ``collections.deque``: ``extend(batch)`` + a ``popleft()`` comprehension
* ``queue.SimpleQueue``: a ``put`` loop + a ``get`` comprehension

The queues only move references to the caller's bytes objects; the ring copies the
bytes into its buffer and hands out new bytes objects (what a bounded ring of raw
frames must do), so it pays for an allocation per record that they do not.

Run: ``python bench/bench_ring.py [--json] [--repeats N] [--batch N]``.  Reports the
median records/s over the repeats and the ratios of the compiled ring to each peer
(median of the per-repeat ratios; the peers take turns within each repeat).  Bounded
to a few seconds: each peer's run lasts about ``--seconds`` (default 0.05).
"""

import argparse
import collections
import gc
import json
import platform
import queue
import statistics
import sys
import time

from hromada import compiled

SIZES = (24, 64)


def make_batch(size, batch):
    return [(i % 251).to_bytes(1, "little") * size for i in range(batch)]


def ring_round(ring_cls, batch):
    ring = ring_cls(len(batch) * (len(batch[0]) + 4) * 2)
    push_many, pop_many, n = ring.push_many, ring.pop_many, len(batch)

    def one():
        push_many(batch)
        return pop_many(n)

    return one


def deque_round(batch):
    d = collections.deque()
    extend, popleft, n = d.extend, d.popleft, len(batch)

    def one():
        extend(batch)
        return [popleft() for _ in range(n)]

    return one


def simplequeue_round(batch):
    q = queue.SimpleQueue()
    put, get, n = q.put, q.get, len(batch)

    def one():
        for rec in batch:
            put(rec)
        return [get() for _ in range(n)]

    return one


def calibrate(one, seconds):
    """Rounds of ``one()`` that take about ``seconds``."""
    start = time.perf_counter()
    one()
    single = max(time.perf_counter() - start, 1e-7)
    return max(1, int(seconds / single))


def measure(peers, batch_len, repeats, seconds):
    """Records/s of every peer per repeat.

    The peers take turns within each repeat, so that load from elsewhere on the
    machine hits all of them alike instead of whichever happened to be running.
    """
    rounds = {name: calibrate(one, seconds) for name, one in peers.items()}
    rates = {name: [] for name in peers}
    gc_was = gc.isenabled()
    gc.disable()  # as timeit does: no collector pauses inside a timed run
    try:
        for _ in range(repeats):
            for name, one in peers.items():
                n = rounds[name]
                start = time.perf_counter()
                for _ in range(n):
                    one()
                rates[name].append(n * batch_len / (time.perf_counter() - start))
    finally:
        if gc_was:
            gc.enable()
    return rates


def run(repeats, batch_len, seconds):
    comp, pure = compiled.both("ring")
    if compiled.NO_EXTENSIONS:
        comp = None
    results = {}
    for size in SIZES:
        batch = make_batch(size, batch_len)
        peers = {}
        if comp is not None:
            peers["compiled"] = ring_round(comp.Ring, batch)
        peers["pure"] = ring_round(pure.Ring, batch)
        peers["deque"] = deque_round(batch)
        peers["SimpleQueue"] = simplequeue_round(batch)
        for name, one in peers.items():
            assert one() == batch, f"{name} lost or reordered records"
        rates = measure(peers, batch_len, repeats, seconds)
        ratios = {}
        if "compiled" in rates:
            for peer in ("deque", "SimpleQueue", "pure"):
                # Median of the per-repeat ratios: both sides of each ratio ran
                # back to back, which cancels most of the machine's noise.
                ratios[f"compiled/{peer}"] = statistics.median(
                    c / p for c, p in zip(rates["compiled"], rates[peer], strict=True)
                )
        results[size] = {
            "records_per_s": {name: statistics.median(r) for name, r in rates.items()},
            "ratios": ratios,
        }
    return results


def print_table(results, repeats, batch_len):
    print(f"ring batch transfer (push + pop), batches of {batch_len} records, "
          f"median of {repeats}; Python {platform.python_version()}; records/s")
    names = ["compiled", "pure", "deque", "SimpleQueue"]
    header = f"{'record':>7}  " + "".join(f"{n:>13}" for n in names)
    print(header)
    print("-" * len(header))
    for size, res in results.items():
        row = res["records_per_s"]
        cells = "".join(
            f"{row[n] / 1e6:>11.2f} M" if n in row else f"{'n/a':>13}" for n in names
        )
        print(f"{size:>5} B  {cells}")
    print()
    print(f"{'record':>7}  {'compiled/deque':>16}{'compiled/SimpleQueue':>22}{'compiled/pure':>15}")
    for size, res in results.items():
        r = res["ratios"]
        if not r:
            print(f"{size:>5} B  {'n/a (no compiled ring)':>16}")
            continue
        print(f"{size:>5} B  {r['compiled/deque']:>15.2f}x{r['compiled/SimpleQueue']:>21.2f}x"
              f"{r['compiled/pure']:>14.2f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument("--repeats", type=int, default=7, help="runs per measurement (median)")
    parser.add_argument("--batch", type=int, default=1024, help="records per push_many batch")
    parser.add_argument("--seconds", type=float, default=0.05, help="length of one run")
    args = parser.parse_args(argv)
    results = run(args.repeats, args.batch, args.seconds)
    print_table(results, args.repeats, args.batch)
    if args.json:
        print(json.dumps({
            "benchmark": "ring_batch_transfer",
            "python": platform.python_version(),
            "batch": args.batch,
            "repeats": args.repeats,
            "results": {str(size): res for size, res in results.items()},
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
