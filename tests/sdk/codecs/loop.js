// Test codec: loops forever on fPort 2 (the time limit must stop it).
function decodeUplink(input) {
  if (input.fPort === 2) {
    var n = 0;
    while (true) { n++; }
  }
  return { data: { port: input.fPort } };
}
