"""semtech-udp end to end: PUSH_DATA datagrams from a loopback sender to readings in SQLite.

    python bench/bench_semtech_udp.py                  # 20,000 uplinks, about 10 s in all
    python bench/bench_semtech_udp.py --frames 50000 --devices 2000

A city with ``--devices`` ABP devices (model cayenne/lpp, session keys in a keys CSV), a
``semtech-udp`` source on 127.0.0.1 and a SQLite sink runs in a fresh process.  Another
process (:func:`hromada.lorawan.gateway_sim.blast`) sends the uplinks as PUSH_DATA with a
window of datagrams in flight, paced by the PUSH_ACKs, so nothing is lost to a full
socket buffer.  The clock runs from the first datagram sent until the last reading is
committed to SQLite; every uplink's MIC is checked, its counter advanced, its payload
decrypted and decoded into two readings.

Rows, same run:
- compiled MAC layer, one gateway per uplink;
- the same uplinks heard by three gateways (3 datagrams each, deduplicated into one);
- the pure-Python MAC twin (``HROMADA_NO_EXTENSIONS=1``), one gateway: the ratio says
  what the compiled layer buys end to end, where UDP, JSON and SQLite costs are shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NWKSKEY = "44024241ed4ce9a68c6a8bc055233fd3"
APPSKEY = "ec925802ae430ca77fd3dd73cb2cc588"
PAYLOAD = bytes.fromhex("03670110056700ff")   # LPP: two temperatures
GATEWAYS = ("aa555a0000000001", "aa555a0000000002", "aa555a0000000003")


def _devices(n):
    return [(f"70b3d57e{i:08x}", f"2601{i:04x}") for i in range(n)]


def _write_city(root, n_devices, window):
    devs = _devices(n_devices)
    (root / "keys.csv").write_text("dev_eui,dev_addr,nwkskey,appskey\n" + "".join(
        f"{eui},{addr},{NWKSKEY},{APPSKEY}\n" for eui, addr in devs))
    (root / "devices.csv").write_text("id,model\n" + "".join(
        f"{eui},cayenne/lpp\n" for eui, _ in devs))
    (root / "city.toml").write_text(f"""
[city]
name = "Bench"
devices = "devices.csv"
state_dir = "state"

[kernel]
max_latency = 0.02

[sources.gw]
plugin = "semtech-udp"
bind = "127.0.0.1:0"
keys_file = "keys.csv"
dedup_window = {window}

[sinks.db]
plugin = "sqlite"
path = "bench.db"
""")
    return root / "city.toml"


def _frames(n_devices, n_frames):
    from hromada import lorawan

    devs = _devices(n_devices)
    return [lorawan.encode_data(dev_addr=devs[i % n_devices][1], fcnt=i // n_devices, fport=1,
                                payload=PAYLOAD, nwkskey=NWKSKEY, appskey=APPSKEY)
            for i in range(n_frames)]


def _sender(conn, datagrams, window):
    from hromada.lorawan.gateway_sim import blast

    port = conn.recv()
    conn.send(time.perf_counter())
    conn.send(blast(("127.0.0.1", port), datagrams, window=window))


async def _run_city(path, conn, expected, timeout):
    from hromada.city import load_city
    from hromada.runtime import Kernel

    kernel = Kernel(load_city(path))
    task = asyncio.create_task(kernel.run())
    deadline = time.monotonic() + timeout
    while "gw" not in kernel.sources and not task.done():
        await asyncio.sleep(0.005)
    src = kernel.sources["gw"][0]
    await asyncio.wait_for(src.ready.wait(), 10)
    conn.send(src.address[1])
    while not conn.poll():
        await asyncio.sleep(0.001)
    t0 = conn.recv()
    while kernel.sink_rows["db"] < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.002)
    t1 = time.perf_counter()
    while not conn.poll() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    sent = conn.recv() if conn.poll() else (0, 0, 0.0)
    kernel.stop()
    summary = await task
    return t1 - t0, sent, summary, dict(src.stats)


def child(args):
    """One measurement in this process; prints a JSON line."""
    import sqlite3

    from hromada import compiled
    from hromada.lorawan.gateway_sim import push_datagrams

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = _write_city(root, args.devices, args.dedup_window)
        phys = _frames(args.devices, args.frames)
        datagrams = push_datagrams(phys, GATEWAYS[:args.gateways])
        ctx = multiprocessing.get_context("fork")  # before any event loop exists
        ours, theirs = ctx.Pipe()
        sender = ctx.Process(target=_sender, args=(theirs, datagrams, args.window))
        sender.start()
        try:
            seconds, sent, summary, stats = asyncio.run(
                _run_city(path, ours, 2 * args.frames, args.timeout))
        finally:
            sender.join(5)
            if sender.is_alive():
                sender.terminate()
        with sqlite3.connect(root / "bench.db") as db:
            stored = db.execute("select count(*) from readings").fetchone()[0]
    print(json.dumps({
        "mac": compiled.modules.get("lorawan", "pure"), "gateways": args.gateways,
        "frames": args.frames, "datagrams": len(datagrams), "sent": sent[0], "acked": sent[1],
        "seconds": seconds, "readings_stored": stored, "uplinks": stats.get("uplinks", 0),
        "errors": summary["errors_by_kind"],
    }))


def _measure(args, gateways, pure=False):
    env = dict(os.environ)
    if pure:
        env["HROMADA_NO_EXTENSIONS"] = "1"
    else:
        env.pop("HROMADA_NO_EXTENSIONS", None)
    cmd = [sys.executable, __file__, "--child", "--frames", str(args.frames), "--devices",
           str(args.devices), "--gateways", str(gateways), "--window", str(args.window),
           "--dedup-window", str(args.dedup_window), "--timeout", str(args.timeout)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True,
                         timeout=args.timeout + 30)
    if out.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=20_000, help="uplinks sent")
    ap.add_argument("--devices", type=int, default=1000, help="ABP devices in the city")
    ap.add_argument("--window", type=int, default=256, help="PUSH_DATA in flight")
    ap.add_argument("--dedup-window", type=float, default=0.2, help="source dedup_window")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--gateways", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)
    if args.child:
        child(args)
        return 0
    rows = [("compiled MAC, 1 gateway", _measure(args, 1)),
            ("compiled MAC, 3 gateways", _measure(args, 3)),
            ("pure MAC twin, 1 gateway", _measure(args, 1, pure=True))]
    if args.json:
        print(json.dumps({name: r for name, r in rows}, indent=2))
        return 0
    print(f"semtech-udp end to end (loopback PUSH_DATA -> MIC/FCnt/decrypt -> cayenne/lpp -> "
          f"SQLite), {args.frames:,} uplinks from {args.devices:,} devices")
    base = rows[0][1]
    for name, r in rows:
        ok = r["readings_stored"] == 2 * r["frames"] and not r["errors"]
        rate = r["frames"] / r["seconds"]
        print(f"  {name:<26} [{r['mac']:>8}] {r['datagrams'] / r['seconds']:>9,.0f} datagrams/s "
              f"{rate:>9,.0f} uplinks/s  {2 * rate:>9,.0f} readings/s"
              f"{'' if ok else '  INCOMPLETE: ' + json.dumps(r)}")
    pure = rows[2][1]
    print(f"  compiled / pure (uplinks/s):            "
          f"{(base['frames'] / base['seconds']) / (pure['frames'] / pure['seconds']):6.2f}x")
    three = rows[1][1]
    print(f"  3 gateways / 1 gateway (uplinks/s):     "
          f"{(three['frames'] / three['seconds']) / (base['frames'] / base['seconds']):6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
