"""Shared timing for the benchmarks: contenders take turns, medians are reported."""

import statistics
import time


def measure(contenders, batch, seconds, rounds=5, warm=True):
    """name -> (median items/s, runs) for callables ``fn(batch)``.

    The contenders take turns over ``rounds`` rounds of ``seconds / rounds`` each, so
    that noise from the rest of a busy machine falls on all of them alike.  ``warm``
    calls each once first (caches, imports, JIT-less engines' first-call costs).
    """
    rates = {name: [] for name in contenders}
    if warm:
        for fn in contenders.values():
            fn(batch)
    for _ in range(rounds):
        for name, fn in contenders.items():
            deadline = time.perf_counter() + seconds / rounds
            while True:
                t0 = time.perf_counter()
                fn(batch)
                t1 = time.perf_counter()
                rates[name].append(len(batch) / (t1 - t0))
                if t1 >= deadline:
                    break
    return {name: (statistics.median(r), len(r)) for name, r in rates.items()}
