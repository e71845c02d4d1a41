// Test codec: a climate sensor written to The Things Stack contract (ES5).
// Uplink on fPort 1:  int16 BE temperature (0.1 Cel), uint8 humidity (0.5 %RH),
//                     uint16 BE battery (mV), uint8 flags (bit 0: door open).
function readInt16BE(b, i) {
  var v = (b[i] << 8) | b[i + 1];
  return v & 0x8000 ? v - 0x10000 : v;
}

function decodeUplink(input) {
  var b = input.bytes;
  if (input.fPort !== 1) {
    return { errors: ["unknown fPort " + input.fPort] };
  }
  if (b.length < 6) {
    return { errors: ["payload too short: " + b.length + " bytes, need 6"] };
  }
  var data = {
    temperature: readInt16BE(b, 0) / 10,
    humidity: b[2] / 2,
    battery: { millivolts: (b[3] << 8) | b[4] },
    door_open: (b[5] & 1) === 1,
    received: input.recvTime ? input.recvTime.toISOString() : null
  };
  var warnings = [];
  if (data.battery.millivolts < 3000) warnings.push("battery low");
  return { data: data, warnings: warnings, errors: [] };
}
