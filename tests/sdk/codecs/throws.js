// Test codec: throws on every payload whose first byte is not 0x01.
function decodeUplink(input) {
  if (input.bytes[0] !== 1) {
    throw new Error("unsupported frame type " + input.bytes[0]);
  }
  return { data: { ok: true } };
}
