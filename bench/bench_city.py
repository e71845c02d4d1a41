"""A simulated city day through the whole kernel: decode, every city service, SQLite.

    python bench/bench_city.py                     # 10,000 devices, one uplink an hour
    python bench/bench_city.py --devices 100000    # the full figure: about 2.4 M uplinks

The city is the Mukachevo demo's (examples/mukachevo: real device codecs, all five
services, the traffic baseline) scaled to ``--devices``, with a SQLite sink.  The day's
uplinks are encoded first (by each model's simulate + encode, not timed) into a file; a
fresh process then runs the city with a source that replays that file, and reports its
wall time, peak memory (``resource.getrusage``) and readings per second.  The peer is
the storage ceiling on the same machine: plain ``sqlite3`` ``executemany`` of the same
reading rows into the same schema, in the same batches.  ``--no-services`` runs the
same city without services (decode and SQLite alone), to show what the services cost.

This file is also the replay source's plugin (loaded by the generated city.toml).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgpack

import hromada
from hromada import Option, SourceType

HERE = Path(__file__).resolve()
DEMO = HERE.parents[1] / "examples" / "mukachevo"
DEMO_DEVICES = 10_100


# -- the replay source (a plugin of the generated city) -----------------------------------


class Replay:
    def __init__(self, name, options, city):
        self.path = options["path"]
        self.batch = options["batch"]

    async def run(self, ctx):
        with open(self.path, "rb") as f:
            batch = []
            for record in msgpack.Unpacker(f, raw=False, max_buffer_size=1 << 30):
                batch.append(record)
                if len(batch) >= self.batch:
                    await ctx.put(batch)
                    batch = []
            if batch:
                await ctx.put(batch)


@hromada.hookimpl
def hromada_sources():
    return [SourceType("replay", Replay, (Option("path", "path"),
                                          Option("batch", "int", default=8192)),
                       help="bench: replays pre-encoded frames from a file")]


# -- building the city ---------------------------------------------------------------------


def _module(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}", DEMO / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CITY = """
[city]
name = "Bench"
timezone = "Europe/Kyiv"
lat = 48.4393
lon = 22.7178
devices = "devices.csv"
state_dir = "out/state"

[plugins]
modules = ["demo_models.py", "{bench}"]

[kernel]
batch = 8192

[sources.replay]
plugin = "replay"
path = "frames.msgpack"

[sinks.db]
plugin = "sqlite"
path = "city.db"
"""

SERVICES = """
[services.metering]
plugin = "metering"
leak_nights = 1
export_dir = "out/billing"

[services.waste]
plugin = "waste"
collection_days = ["fri"]
depot = [48.4262, 22.7541]

[services.lighting]
plugin = "lighting"
lamp_on = "lamp_on"
activity = ["vehicle_count", "people_in_line_1", "people_out_line_1"]
busy_rate = 150.0

[services.environment]
plugin = "environment"
lden_limit = 60.0

[services.traffic]
plugin = "traffic"
people = ["people_in_line_1", "people_out_line_1"]
baseline = "baseline.csv"
"""


def build(directory, devices, services=True):
    gen = _module("make_devices")
    rows = gen.generate(devices / DEMO_DEVICES)
    gen.write_devices(rows, directory / "devices.csv")
    gen.write_baseline(rows, directory / "baseline.csv")
    shutil.copy(DEMO / "demo_models.py", directory / "demo_models.py")
    text = CITY.format(bench=HERE) + (SERVICES if services else "")
    (directory / "city.toml").write_text(text)
    return len(rows)


def encode_day(directory, start, interval, span=86400.0, seed=1):
    """Every uplink of the day, as the simulator would make it, into frames.msgpack."""
    from hromada.city import load_city

    city = load_city(directory / "city.toml")
    models = city.host.device_models
    rng = random.Random(seed)
    gens = sorted((rng.uniform(0, interval), d.id, models[d.model], d)
                  for d in city.devices.values())
    packer = msgpack.Packer(use_bin_type=True, autoreset=True)
    outer = msgpack.Packer(use_bin_type=True, autoreset=True)
    frames = 0
    fcnt = {}
    with open(directory / "frames.msgpack", "wb") as f:
        period = 0
        while start + period * interval < start + span:
            base = start + period * interval
            chunk = []
            for offset, dev_id, model, dev in gens:
                t = base + offset
                if t >= start + span:
                    break
                fport, payload = model.encode(model.simulate(dev, t, rng), dev.options)
                fcnt[dev_id] = fcnt.get(dev_id, 0) + 1
                chunk.append(outer.pack(packer.pack(
                    ["sim", dev_id, fport, fcnt[dev_id], t, payload, {}, "replay"])))
            f.write(b"".join(chunk))
            frames += len(chunk)
            period += 1
    return frames


# -- the timed run (in a fresh process) ---------------------------------------------------


def run_child(directory):
    from hromada import compiled
    from hromada.city import load_city
    from hromada.runtime import run_city

    city = load_city(directory / "city.toml")
    t0 = time.perf_counter()
    summary = run_city(city)
    wall = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"wall": wall, "frames": summary["frames"],
                      "readings": summary["readings"], "errors": summary["errors"],
                      "sink_rows": summary["sinks"].get("db"), "peak_kb": peak_kb,
                      "compiled": compiled.status(),
                      "services": {k: v.get("counts", {}) for k, v in
                                   summary["services"].items()}}))


def timed_run(directory):
    out = subprocess.run([sys.executable, str(HERE), "--child", str(directory)],
                         check=True, capture_output=True, text=True, env=os.environ.copy())
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- the peer: plain sqlite executemany of the same rows ----------------------------------


def sqlite_ceiling(directory, batch=8192):
    """Rows/s of executemany of the decoded readings, same schema, same batches."""
    from hromada.city import load_city
    from hromada_plugins.sinks.sqlite import SCHEMA

    city = load_city(directory / "city.toml")
    decoders = {d.id: (city.host.device_models[d.model].decode, d.options)
                for d in city.devices.values()}
    path = directory / "ceiling.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    rows_total, spent = 0, 0.0

    def flush(records):
        nonlocal rows_total, spent
        rows = []
        for rec in records:
            _net, dev, fport, _fcnt, t, payload, _rx, _src = msgpack.unpackb(rec, raw=False)
            decode, options = decoders[dev]
            for q, v, unit in decode(payload, fport, options):
                rows.append((dev, t, q, int(v) if isinstance(v, bool) else v, unit))
        t0 = time.perf_counter()
        db.executemany("INSERT INTO readings VALUES (?, ?, ?, ?, ?)", rows)
        db.commit()
        spent += time.perf_counter() - t0
        rows_total += len(rows)

    with open(directory / "frames.msgpack", "rb") as f:
        records = []
        for rec in msgpack.Unpacker(f, raw=False, max_buffer_size=1 << 30):
            records.append(rec)
            if len(records) >= batch:
                flush(records)
                records = []
        if records:
            flush(records)
    db.close()
    return rows_total, spent


# -- main ----------------------------------------------------------------------------------


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--devices", type=int, default=10_000, help="devices in the city")
    p.add_argument("--interval", type=float, default=3600.0,
                   help="seconds between two uplinks of a device (default one hour)")
    p.add_argument("--no-services", action="store_true",
                   help="also run the city without services (decode + SQLite only)")
    p.add_argument("--keep", type=Path, help="build the city in this directory and keep it")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        run_child(args.child)
        return 0

    base = args.keep or Path(tempfile.mkdtemp(prefix="hromada-bench-city-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        city_dir = base / "city"
        if city_dir.exists():
            shutil.rmtree(city_dir)
        city_dir.mkdir()
        n = build(city_dir, args.devices)
        start = 1792011600.0  # 2026-10-15T00:00 Europe/Kyiv, a Thursday
        t0 = time.perf_counter()
        frames = encode_day(city_dir, start, args.interval)
        encode_s = time.perf_counter() - t0
        print(f"city: {n:,} devices, {frames:,} uplinks in a day "
              f"(encoded by the models in {encode_s:.1f} s, not timed)")

        run = timed_run(city_dir)
        rows, spent = sqlite_ceiling(city_dir)
        rate = run["readings"] / run["wall"]
        ceiling = rows / spent
        print(f"compiled modules: {', '.join(f'{k}={v}' for k, v in run['compiled'].items())}")
        print(f"hromada, decode + 5 services + SQLite: {run['wall']:.2f} s wall, "
              f"{run['readings']:,} readings ({rate:,.0f} readings/s, "
              f"{run['frames'] / run['wall']:,.0f} uplinks/s), "
              f"peak RSS {run['peak_kb'] / 1024:.0f} MB, errors {run['errors']}")
        if args.no_services:
            bare = base / "bare"
            if bare.exists():
                shutil.rmtree(bare)
            bare.mkdir()
            build(bare, args.devices, services=False)
            shutil.copy(city_dir / "frames.msgpack", bare / "frames.msgpack")
            plain = timed_run(bare)
            print(f"hromada, decode + SQLite (no services):  {plain['wall']:.2f} s wall, "
                  f"{plain['readings'] / plain['wall']:,.0f} readings/s, "
                  f"peak RSS {plain['peak_kb'] / 1024:.0f} MB")
        print(f"sqlite3 executemany of the same {rows:,} rows: {spent:.2f} s "
              f"({ceiling:,.0f} rows/s, the storage ceiling)")
        print(f"ratio: hromada at {rate / ceiling:.2f} of the storage ceiling "
              f"(target: at least 0.5)")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
