// The lora-packet side of bench/bench_lorawan.py: the same full decode (parse, MIC check,
// FRMPayload decryption) of the same frames, timed in batches; prints one JSON object.
//
//   node bench_lora_packet.js frames.json
//
// frames.json: {"frames": [hex...], "nwkskey": hex, "appskey": hex, "seconds": s}
"use strict";

const fs = require("fs");
const lora = require("lora-packet");

const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const frames = spec.frames.map((h) => Buffer.from(h, "hex"));
const nwk = Buffer.from(spec.nwkskey, "hex");
const app = Buffer.from(spec.appskey, "hex");

function decodeBatch() {
  let ok = 0;
  const payloads = [];
  for (const buf of frames) {
    const packet = lora.fromWire(buf);
    if (lora.verifyMIC(packet, nwk)) ok += 1;
    payloads.push(lora.decrypt(packet, app, nwk));
  }
  return { ok, payloads };
}

const first = decodeBatch(); // warm-up, and the results Python checks
const rates = [];
const deadline = process.hrtime.bigint() + BigInt(Math.round(spec.seconds * 1e9));
do {
  const t0 = process.hrtime.bigint();
  decodeBatch();
  const t1 = process.hrtime.bigint();
  rates.push(frames.length / (Number(t1 - t0) / 1e9));
} while (process.hrtime.bigint() < deadline);
rates.sort((a, b) => a - b);

console.log(JSON.stringify({
  frames_per_s: rates[Math.floor(rates.length / 2)],
  runs: rates.length,
  mic_ok: first.ok,
  payloads: first.payloads.map((p) => p.toString("hex")),
  node: process.version,
  lora_packet: require("lora-packet/package.json").version,
}));
