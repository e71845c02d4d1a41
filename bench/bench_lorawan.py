"""Benchmark: LoRaWAN full decode of 24-byte uplinks, compiled vs pure twin vs lora-packet.

Full decode = parse the PHYPayload, check the MIC and decrypt the FRMPayload, for
batches of 1000 uplinks of one ABP device (11-byte payloads, FCnt 0..999).  Contenders,
measured in the same run and taking turns so that machine noise falls on all alike:

* ``hromada.lorawan.decode_many`` on the compiled module (AES-NI, and the portable C
  AES for reference) and on the pure twin (``cryptography``);
* lora-packet on Node (``bench/node``; ``npm install`` runs there if ``node_modules`` is
  missing), doing ``fromWire`` + ``verifyMIC`` + ``decrypt`` per frame.

Every contender's results are checked (all MICs good, payloads as encoded) before they
count.  Prints frames/s and the ratios the project asks for (compiled >= 2 M frames/s,
>= 100x lora-packet, >= 10x pure).  Takes a few seconds; ``--json`` prints one object.

    python bench/bench_lorawan.py [--json] [--seconds 0.6] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _harness import measure as _measure

import hromada.lorawan as lw
from hromada import compiled

NODE_DIR = Path(__file__).parent / "node"
DEV_ADDR = "26011bda"


def make_batch(n, seed=1):
    """n uplinks of one device: 24 bytes each (11-byte payload), keys from ``seed``."""
    rng = random.Random(seed)
    nwk = bytes(rng.getrandbits(8) for _ in range(16))
    app = bytes(rng.getrandbits(8) for _ in range(16))
    payloads = [bytes(rng.getrandbits(8) for _ in range(11)) for _ in range(n)]
    frames = [lw.encode_data(dev_addr=DEV_ADDR, fcnt=i, fport=1 + i % 200, payload=p,
                             nwkskey=nwk, appskey=app) for i, p in enumerate(payloads)]
    assert all(len(f) == 24 for f in frames)
    return frames, payloads, nwk, app


def hromada_decoder(impl, nwk, app, backend=None):
    """``hromada.lorawan.decode_many`` running on ``impl`` (and AES ``backend``)."""

    def run(batch):
        saved = lw._impl
        lw._impl = impl
        previous = impl.backend()
        if backend:
            impl.set_backend(backend)
        try:
            return lw.decode_many(batch, nwkskey=nwk, appskey=app)
        finally:
            impl.set_backend(previous)
            lw._impl = saved

    return run


def check(frames, payloads):
    assert all(f.mic_ok is True for f in frames), "a MIC did not verify"
    assert [f.frm_payload for f in frames] == payloads, "payloads differ"



def measure(contenders, batch, seconds, rounds=5):
    return _measure(contenders, batch, seconds, rounds, warm=False)


def run_node(frames, payloads, nwk, app, seconds):
    """lora-packet's frames/s and details, or (None, reason) when Node cannot run it."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None:
        return None, "node not available (no node executable)"
    if not (NODE_DIR / "node_modules" / "lora-packet").exists():
        if npm is None:
            return None, "node not available (no npm to install lora-packet)"
        try:
            proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
                                  cwd=NODE_DIR, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"node not available (npm install failed: {exc})"
        if proc.returncode != 0:
            return None, f"node not available (npm install failed: {proc.stderr.strip()[-300:]})"
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump({"frames": [f.hex() for f in frames], "nwkskey": nwk.hex(),
                   "appskey": app.hex(), "seconds": seconds}, fh)
        spec = fh.name
    try:
        proc = subprocess.run([node, str(NODE_DIR / "bench_lora_packet.js"), spec],
                              capture_output=True, text=True, timeout=120 + 4 * seconds)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"node not available ({exc})"
    finally:
        os.unlink(spec)
    if proc.returncode != 0:
        return None, f"node not available (lora-packet run failed: {proc.stderr.strip()[-300:]})"
    out = json.loads(proc.stdout)
    if out["mic_ok"] != len(frames) or out["payloads"] != [p.hex() for p in payloads]:
        return None, "lora-packet decoded the frames differently (results not counted)"
    return out, None


def fmt_rate(r):
    return f"{r / 1e6:.2f} M" if r >= 1e6 else f"{r / 1e3:.1f} k"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--seconds", type=float, default=0.6,
                    help="time budget per contender in seconds (default 0.6)")
    ap.add_argument("--batch", type=int, default=1000, help="frames per batch")
    args = ap.parse_args(argv)

    frames, payloads, nwk, app = make_batch(args.batch)
    comp, pure = compiled.both("lorawan")
    contenders = {}
    if comp is not None and not compiled.NO_EXTENSIONS:
        contenders[f"compiled ({comp.backend()})"] = hromada_decoder(comp, nwk, app)
        if comp.backend() != "portable":
            contenders["compiled (portable C AES)"] = hromada_decoder(comp, nwk, app, "portable")
    contenders["pure (cryptography)"] = hromada_decoder(pure, nwk, app)
    for fn in contenders.values():
        check(fn(frames), payloads)

    node, node_note = run_node(frames, payloads, nwk, app, args.seconds)
    results = measure(contenders, frames, args.seconds)
    if node is not None:
        results[f"lora-packet {node['lora_packet']} (node {node['node']})"] = (
            node["frames_per_s"], node["runs"])

    names = list(results)
    best_compiled = next((results[n][0] for n in names if n.startswith("compiled")), None)
    pure_rate = results["pure (cryptography)"][0]
    peer_rate = node["frames_per_s"] if node else None
    ratios = {}
    if best_compiled:
        if peer_rate:
            ratios["compiled/lora-packet"] = best_compiled / peer_rate
        ratios["compiled/pure"] = best_compiled / pure_rate
    if peer_rate:
        ratios["pure/lora-packet"] = pure_rate / peer_rate
    targets = {"compiled >= 2 M frames/s": best_compiled is not None and best_compiled >= 2e6,
               "compiled/lora-packet >= 100x": ratios.get("compiled/lora-packet", 0) >= 100,
               "compiled/pure >= 10x": ratios.get("compiled/pure", 0) >= 10}

    if args.json:
        print(json.dumps({
            "benchmark": "lorawan full decode, 24-byte uplinks",
            "batch": len(frames), "python": platform.python_version(),
            "frames_per_s": {n: r for n, (r, _) in results.items()},
            "runs": {n: k for n, (_, k) in results.items()},
            "ratios": ratios, "targets_met": targets, "node": node_note or "ok"}, indent=2))
        return 0
    print(f"LoRaWAN full decode (parse + MIC check + FRMPayload decrypt), batches of "
          f"{len(frames)} x 24-byte uplinks, Python {platform.python_version()}")
    for name in names:
        rate, runs = results[name]
        print(f"  {name:38s} {fmt_rate(rate):>9s} frames/s  (median of {runs} batches)")
    if node_note:
        print(f"  lora-packet: {node_note}")
    print("ratios:")
    for name, value in ratios.items():
        print(f"  {name:24s} {value:10.1f}x")
    print("targets:")
    for name, met in targets.items():
        print(f"  {name:30s} {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
