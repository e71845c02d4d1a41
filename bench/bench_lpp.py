"""Benchmark: Cayenne LPP decoding, compiled vs pure twin vs pycayennelpp.

Decodes batches of 1000 typical 11-byte uplinks (temperature, relative humidity,
barometric pressure: three records each) with ``decode_many`` of the compiled module
and of the pure twin, and with pycayennelpp (``LppFrame().from_bytes`` per payload,
the way its users call it).  Prints payloads/s, records/s and the ratios, measured in
the same run.  Takes a few seconds; ``--json`` prints one JSON object instead.

    python bench/bench_lpp.py [--json] [--seconds 0.6] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys

from _harness import measure

from hromada import compiled

RECORDS_PER_PAYLOAD = 3


def make_batch(n, seed=1):
    """n payloads like a street climate sensor's: 03 67 .. .. 04 68 .. 05 73 .. .."""
    _, pure = compiled.both("lpp")
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        out.append(pure.encode({
            "temperature_3": round(rng.uniform(-20, 35), 1),
            "relative_humidity_4": round(rng.uniform(20, 100) * 2) / 2,
            "barometric_pressure_5": round(rng.uniform(960, 1050), 1),
        }))
    assert all(len(p) == 11 for p in out)
    return out




def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--seconds", type=float, default=0.6,
                    help="time budget per contender in seconds (default 0.6)")
    ap.add_argument("--batch", type=int, default=1000, help="payloads per batch")
    args = ap.parse_args(argv)

    batch = make_batch(args.batch)
    comp, pure = compiled.both("lpp")
    contenders = {}
    if comp is not None:
        contenders["compiled"] = comp.decode_many
    contenders["pure"] = pure.decode_many
    try:
        from cayennelpp import LppFrame
    except ImportError:
        LppFrame = None
    else:
        def peer(payloads):
            return [LppFrame().from_bytes(p) for p in payloads]

        contenders["pycayennelpp"] = peer

    # Same answers before any timing: the benchmark compares equal work.
    want = pure.decode_many(batch)
    if comp is not None:
        assert comp.decode_many(batch) == want
    if LppFrame is not None:
        got = [[v for d in f.data for v in d.value] for f in contenders["pycayennelpp"](batch)]
        assert got == [[v for _, v, _ in r] for r in want]

    results = {}
    for name, (rate, runs) in measure(contenders, batch, args.seconds).items():
        results[name] = {"payloads_per_s": rate,
                         "records_per_s": rate * RECORDS_PER_PAYLOAD, "runs": runs}

    ratios = {}
    for a, b in (("compiled", "pycayennelpp"), ("compiled", "pure"), ("pure", "pycayennelpp")):
        if a in results and b in results:
            ratios[f"{a}/{b}"] = results[a]["payloads_per_s"] / results[b]["payloads_per_s"]

    report = {
        "benchmark": "lpp decode_many, 11-byte payloads (temperature, humidity, pressure)",
        "batch": args.batch,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "results": results,
        "ratios": ratios,
        "target": {"compiled/pycayennelpp": 50.0},
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(report["benchmark"])
    print(f"batch of {args.batch}, Python {report['python']} on {report['machine']}")
    print(f"{'':14}{'payloads/s':>14}{'records/s':>14}{'runs':>7}")
    for name, r in results.items():
        print(f"{name:14}{r['payloads_per_s']:14,.0f}{r['records_per_s']:14,.0f}{r['runs']:7}")
    for k, v in ratios.items():
        print(f"{k:24}{v:8.1f}x")
    if "compiled/pycayennelpp" in ratios:
        ok = ratios["compiled/pycayennelpp"] >= 50
        print(f"target compiled/pycayennelpp >= 50x: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
