// Test codec: the older The Things Network v2 form, Decoder(bytes, port).
function Decoder(bytes, port) {
  return { port: port, first: bytes[0], count: bytes.length };
}
