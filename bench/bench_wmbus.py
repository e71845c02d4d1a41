"""Benchmark: wM-Bus telegram decoding, compiled vs pure twin vs pyMeterBus.

Two workloads, each a batch of telegrams from 100 water/heat meters (built with
``hromada.wmbus.encode``), measured in the same run, contenders taking turns:

1. mode 5: AES-128-CBC encrypted telegrams (short header, 4 blocks, 10 records):
   ``hromada._wmbus.decode`` vs ``hromada._wmbus_py.decode`` (both use the
   ``cryptography`` package for AES; the compiled one parses in C);
2. unencrypted: the same records in the clear: the two twins vs pyMeterBus
   (``meterbus.load`` + ``.interpreted`` per telegram, i.e. records with values and
   units).  pyMeterBus is not a project dependency: ``pip install pymeterbus``; its
   column is left out when it is not importable.

Every contender's values are checked against the pure twin's before timing.  Prints
telegrams/s and ratios; ``--json`` prints one object.  Takes a few seconds.

    python bench/bench_wmbus.py [--json] [--seconds 0.5] [--batch 100]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time

from hromada import compiled
from hromada.wmbus.encode import record, telegram


def make_body(rng):
    """Ten records a heat meter sends: energy, volume, flow, power, temperatures..."""
    return b"".join([
        record("energy", rng.randrange(10**6), "kWh", coding="bcd8"),
        record("volume", rng.randrange(10**7) / 1000, "m3", coding="bcd8"),
        record("volume_flow", rng.randrange(5000) / 1000, "m3/h", coding="int16"),
        record("power", rng.randrange(30000), "W", coding="int24"),
        record("flow_temperature", rng.randrange(3000, 9000) / 100, "Cel", coding="int16"),
        record("return_temperature", rng.randrange(2000, 6000) / 100, "Cel", coding="int16"),
        record("temperature_difference", rng.randrange(0, 4000) / 100, "K", coding="int16"),
        record("datetime", f"2024-03-01T12:{rng.randrange(60):02d}:00"),
        record("energy", rng.randrange(10**6), "kWh", coding="bcd8", storage=1),
        record("error_flags", 0, "", coding="int16"),
    ])


def make_batches(n, seed=5):
    rng = random.Random(seed)
    keys = {}
    enc, plain = [], []
    for k in range(n):
        ident = f"{10000000 + k:08d}"
        key = bytes(rng.getrandbits(8) for _ in range(16))
        keys[ident] = key
        body = make_body(rng)
        common = dict(manufacturer="KAM", id=ident, version=0x1B, device_type=0x04,
                      access_number=k & 0xFF)
        enc.append(telegram(body, security_mode=5, key=key, **common))
        # 2F2F in front as encrypted OMS telegrams have it: pyMeterBus expects it after
        # a short header (it reads those two bytes as part of the header).
        plain.append(telegram(b"\x2f\x2f" + body, **common))
    return enc, plain, keys


def measure(contenders, batch, seconds, rounds=5):
    """name -> (median telegrams/s, runs); contenders take turns over ``rounds``."""
    rates = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            runs = 0
            t0 = time.perf_counter()
            deadline = t0 + seconds / rounds
            while True:
                fn(batch)
                runs += 1
                t = time.perf_counter()
                if t >= deadline:
                    break
            rates[name].append(runs * len(batch) / (t - t0))
    return {name: statistics.median(r) for name, r in rates.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--seconds", type=float, default=0.5, help="time per contender")
    ap.add_argument("--batch", type=int, default=100)
    args = ap.parse_args(argv)

    comp, pure = compiled.both("wmbus")
    enc, plain, keys = make_batches(args.batch)

    def key_for(manufacturer, ident):
        return keys.get(ident)

    def twin(impl, key):
        dec = impl.decode

        def run(batch):
            return [dec(t, key, "none") for t in batch]

        return run

    results = {}
    # 1. Mode 5.
    c5 = {"pure": twin(pure, key_for)}
    if comp is not None:
        c5 = {"compiled": twin(comp, key_for), **c5}
    want5 = c5["pure"](enc)
    for fn in c5.values():
        assert fn(enc) == want5
    results["mode5"] = measure(c5, enc, args.seconds)

    # 2. Unencrypted, against pyMeterBus.
    c0 = {"pure": twin(pure, None)}
    if comp is not None:
        c0 = {"compiled": twin(comp, None), **c0}
    want0 = c0["pure"](plain)
    for fn in c0.values():
        assert fn(plain) == want0
    assert [r for _, r in want0] == [r for _, r in want5]
    try:
        import meterbus
    except ImportError:
        meterbus = None
    if meterbus is not None:
        def peer(batch):
            return [meterbus.load(t).interpreted for t in batch]

        # Same numbers as the twins (pyMeterBus gives Decimals, energy in Wh, dates as
        # text), before any timing: the benchmark compares equal work.
        for mine, theirs in zip(want0, peer(plain), strict=True):
            values = [float(r["value"]) for r in theirs["records"]
                      if not isinstance(r["value"], str)]
            expect = [(float(r[1]), r[2]) for r in mine[1] if r[0] != "datetime"]
            assert len(values) == len(expect)
            for a, (b, unit) in zip(values, expect, strict=True):
                b = b * 1000 if unit == "kWh" else b
                assert abs(a - b) <= 1e-12 * max(1.0, abs(b)), (a, b)
        c0["pymeterbus"] = peer
    results["unencrypted"] = measure(c0, plain, args.seconds)

    ratios = {}
    for work, r in results.items():
        for a, b in (("compiled", "pure"), ("compiled", "pymeterbus"), ("pure", "pymeterbus")):
            if a in r and b in r:
                ratios[f"{work}: {a}/{b}"] = r[a] / r[b]

    report = {
        "benchmark": "wM-Bus telegram decode (10 records; mode 5 with 4 AES blocks)",
        "batch": args.batch,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "telegrams_per_s": results,
        "ratios": ratios,
        "pymeterbus": "measured" if meterbus is not None else "not installed (skipped)",
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(report["benchmark"])
    print(f"batch of {args.batch}, Python {report['python']} on {report['machine']}")
    for work, r in results.items():
        print(f"{work}:")
        for name, rate in r.items():
            print(f"  {name:12}{rate:14,.0f} telegrams/s")
    for k, v in ratios.items():
        print(f"{k:34}{v:8.1f}x")
    if meterbus is None:
        print("pyMeterBus not installed: its column is skipped (pip install pymeterbus)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
