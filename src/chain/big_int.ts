/**
 * Filecoin's BigInt wire form (go-state-types `big.Int` CBOR): a byte string, empty for zero,
 * else a sign byte (0x00 positive, 0x01 negative) followed by the big-endian magnitude.
 */

/** Lotus refuses big ints over 128 bytes (`big.BigIntMaxSerializedLen`). */
export const MAX_BIG_INT_BYTES = 128;

export class InvalidBigIntError extends Error {
  override name = "InvalidBigIntError";
}

export function encodeBigInt(value: bigint): Uint8Array {
  if (value === 0n) return new Uint8Array(0);
  const negative = value < 0n;
  let magnitude = negative ? -value : value;
  const bytes: number[] = [];
  while (magnitude > 0n) {
    bytes.push(Number(magnitude & 0xffn));
    magnitude >>= 8n;
  }
  bytes.push(negative ? 1 : 0);
  const out = Uint8Array.from(bytes.reverse());
  if (out.length > MAX_BIG_INT_BYTES) throw new InvalidBigIntError("big int too large to encode");
  return out;
}

export function decodeBigInt(bytes: Uint8Array): bigint {
  if (!(bytes instanceof Uint8Array)) throw new InvalidBigIntError("big int must be a byte string");
  if (bytes.length === 0) return 0n;
  if (bytes.length > MAX_BIG_INT_BYTES) {
    throw new InvalidBigIntError(`big int of ${bytes.length} bytes exceeds ${MAX_BIG_INT_BYTES}`);
  }
  const sign = bytes[0];
  if (sign > 1) throw new InvalidBigIntError(`invalid big int sign byte ${sign}`);
  let magnitude = 0n;
  for (let i = 1; i < bytes.length; i++) magnitude = (magnitude << 8n) | BigInt(bytes[i]);
  return sign === 1 ? -magnitude : magnitude;
}
