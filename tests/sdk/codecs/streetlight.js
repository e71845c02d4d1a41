// Test codec: a street-light controller with a downlink encoder (ES5).
// Downlink fPort 10: [0x01, on(0/1), dim level 0..100].
// Uplink fPort 2: [state(0/1), dim level, uint16 BE power (0.1 W)].
function decodeUplink(input) {
  var b = input.bytes;
  if (b.length !== 4) return { errors: ["expected 4 bytes, got " + b.length] };
  return { data: { on: b[0] === 1, dim: b[1], power: ((b[2] << 8) | b[3]) / 10 } };
}

function encodeDownlink(input) {
  var d = input.data;
  if (typeof d.dim !== "number" || d.dim < 0 || d.dim > 100) {
    return { errors: ["dim must be 0..100, got " + d.dim] };
  }
  return { bytes: [1, d.on ? 1 : 0, d.dim], fPort: 10, warnings: [], errors: [] };
}

function decodeDownlink(input) {
  var b = input.bytes;
  return { data: { on: b[1] === 1, dim: b[2] }, warnings: [], errors: [] };
}
