"""Benchmark: a native device model against the same format run as a JavaScript codec.

The format is Cayenne LPP.  Native: ``hromada.lpp.decode_many`` (compiled when built,
else the pure twin; both are timed when available).  JavaScript: an LPP decoder
written to The Things Stack contract (below, in ``LPP_JS``), run by
:class:`hromada.codecs.JSCodec` in its embedded engine, once as the raw
``decode_uplink`` call and once as a device model (``js_device_model``: the script's
``data`` mapped to readings), which is what the kernel runs.  The payloads are 1000
11-byte uplinks of three records (temperature, humidity, pressure), as in
bench_lpp.py.  Prints payloads/s, records/s and ratios measured in the same run;
the target is native >= 20x the JS model.

    python bench/bench_jscodec.py [--json] [--seconds 0.6] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
from pathlib import Path

from _harness import measure

RECORDS_PER_PAYLOAD = 3
TARGET = 20.0

# An LPP decoder as a vendor would publish it (ES5, no helpers from outside).  Types,
# sizes, resolutions and quantity names follow hromada.lpp so that both give the same
# readings.
LPP_JS = r"""
var TYPES = {
  0: ["digital_input", 1, [1], false], 1: ["digital_output", 1, [1], false],
  2: ["analog_input", 2, [100], true], 3: ["analog_output", 2, [100], true],
  100: ["generic_sensor", 4, [1], false], 101: ["illuminance", 2, [1], false],
  102: ["presence", 1, [1], false], 103: ["temperature", 2, [10], true],
  104: ["relative_humidity", 1, [2], false], 113: ["accelerometer", 2, [1000, 1000, 1000], true, ["x", "y", "z"]],
  115: ["barometric_pressure", 2, [10], false], 116: ["voltage", 2, [100], false],
  117: ["current", 2, [1000], false], 118: ["frequency", 4, [1], false],
  120: ["percentage", 1, [1], false], 121: ["altitude", 2, [1], true],
  122: ["load", 3, [1000], true], 125: ["concentration", 2, [1], false],
  128: ["power", 2, [1], false], 130: ["distance", 4, [1000], false],
  131: ["energy", 4, [1000], false], 132: ["direction", 2, [1], false],
  133: ["unixtime", 4, [1], false], 134: ["gyrometer", 2, [100, 100, 100], true, ["x", "y", "z"]],
  135: ["colour", 1, [1, 1, 1], false, ["r", "g", "b"]],
  136: ["gps", 3, [10000, 10000, 100], true, ["latitude", "longitude", "altitude"]],
  142: ["switch", 1, [1], false]
};

function readInt(b, pos, size, signed) {
  var v = 0;
  for (var i = 0; i < size; i++) v = v * 256 + b[pos + i];
  if (signed && v >= Math.pow(2, 8 * size - 1)) v -= Math.pow(2, 8 * size);
  return v;
}

function decodeUplink(input) {
  var b = input.bytes, data = {}, off = 0;
  while (off < b.length) {
    var ch = b[off];
    if (off + 1 >= b.length) return { errors: ["channel " + ch + " at byte " + off + " has no type"] };
    var t = TYPES[b[off + 1]];
    if (!t) return { errors: ["unknown LPP type " + b[off + 1] + " at byte " + (off + 1)] };
    var pos = off + 2, n = t[2].length;
    if (pos + t[1] * n > b.length) return { errors: ["truncated " + t[0] + " at byte " + pos] };
    for (var i = 0; i < n; i++) {
      var raw = readInt(b, pos, t[1], t[3]);
      var name = t[0] + "_" + ch + (t[4] ? "_" + t[4][i] : "");
      data[name] = t[2][i] === 1 ? raw : raw / t[2][i];
      pos += t[1];
    }
    off = pos;
  }
  return { data: data, warnings: [], errors: [] };
}
"""

MAPPING = {
    "temperature_3": ("temperature_3", "Cel"),
    "relative_humidity_4": ("relative_humidity_4", "%RH"),
    "barometric_pressure_5": ("barometric_pressure_5", "hPa"),
}


def make_batch(n, seed=1):
    """n payloads like a street climate sensor's (the same as bench_lpp.py)."""
    from hromada import compiled

    _, pure = compiled.both("lpp")
    rng = random.Random(seed)
    return [pure.encode({
        "temperature_3": round(rng.uniform(-20, 35), 1),
        "relative_humidity_4": round(rng.uniform(20, 100) * 2) / 2,
        "barometric_pressure_5": round(rng.uniform(960, 1050), 1),
    }) for _ in range(n)]




def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--seconds", type=float, default=0.6,
                    help="time budget per contender in seconds (default 0.6)")
    ap.add_argument("--batch", type=int, default=1000, help="payloads per batch")
    args = ap.parse_args(argv)

    from hromada import compiled
    from hromada.codecs import JSCodec, js_device_model
    from hromada.testing import assert_readings

    batch = make_batch(args.batch)
    comp, pure = compiled.both("lpp")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cayenne_lpp.js"
        path.write_text(LPP_JS)
        codec = JSCodec.from_file(path)
        model = js_device_model("bench/lpp-js", "generic", path, MAPPING)

    contenders = {}
    if comp is not None:
        contenders["native compiled"] = comp.decode_many
    contenders["native pure"] = pure.decode_many

    def js_model(payloads):
        decode = model.decode
        return [decode(p, 1, {}) for p in payloads]

    def js_raw(payloads):
        decode = codec.decode_uplink
        return [decode(p, 1) for p in payloads]

    contenders["js model"] = js_model
    contenders["js decode_uplink"] = js_raw

    # Same answers before any timing: the benchmark compares equal work.
    want = pure.decode_many(batch)
    if comp is not None:
        assert comp.decode_many(batch) == want
    for got, ref in zip(js_model(batch), want, strict=True):
        assert_readings(got, ref)

    results = {}
    for name, (rate, runs) in measure(contenders, batch, args.seconds).items():
        results[name] = {"payloads_per_s": rate,
                         "records_per_s": rate * RECORDS_PER_PAYLOAD, "runs": runs}
    native = "native compiled" if "native compiled" in results else "native pure"
    ratios = {}
    for a, b in ((native, "js model"), (native, "js decode_uplink"),
                 ("native pure", "js model")):
        key = f"{a}/{b}"
        if key not in ratios:
            ratios[key] = results[a]["payloads_per_s"] / results[b]["payloads_per_s"]

    report = {
        "benchmark": "Cayenne LPP, native device model vs the same format as a JS codec",
        "engine": codec.engine,
        "batch": args.batch,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "results": results,
        "ratios": ratios,
        "target": {f"{native}/js model": TARGET},
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(report["benchmark"])
    print(f"batch of {args.batch}, JS engine {codec.engine}, Python {report['python']} on "
          f"{report['machine']}")
    print(f"{'':18}{'payloads/s':>14}{'records/s':>14}{'us/payload':>12}{'runs':>7}")
    for name, r in results.items():
        print(f"{name:18}{r['payloads_per_s']:14,.0f}{r['records_per_s']:14,.0f}"
              f"{1e6 / r['payloads_per_s']:12.2f}{r['runs']:7}")
    for k, v in ratios.items():
        print(f"{k:34}{v:8.1f}x")
    ok = ratios[f"{native}/js model"] >= TARGET
    print(f"target {native}/js model >= {TARGET:g}x: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
