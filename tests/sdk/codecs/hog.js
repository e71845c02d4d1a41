// Test codec: allocates without bound on fPort 3 (the memory limit must stop it).
var keep = [];
function decodeUplink(input) {
  if (input.fPort === 3) {
    var chunks = [];
    while (true) { chunks.push(new Array(100000).fill(input.bytes.length)); }
  }
  return { data: { port: input.fPort, kept: keep.length } };
}
