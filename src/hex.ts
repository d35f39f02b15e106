/**
 * Lower-case hex of bytes: token files, JSON output, map keys of byte strings.
 *
 * @module
 */

/** `bytes` as lower-case hex, two digits a byte. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}
