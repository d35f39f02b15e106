/**
 * blake2b at the three lengths Filecoin uses: 256 bits (every CID, the gossip message ID, what a
 * secp256k1 key signs), 160 bits (f1/f2 address payloads) and 32 bits (address checksums).
 *
 * WebAssembly (hash-wasm) rather than pure JS (@noble/hashes), because a node hashes a few
 * hundred bytes at a time, several times per gossip message, with idle time between messages: in
 * that pattern the first call after a pause is what counts, and it measured ~12 µs here against
 * ~30 µs for noble's (~1.3 µs vs ~7 µs when called in a loop, 256 bytes). Same digests: a test
 * checks them against noble's on every length and on inputs across block boundaries.
 *
 * One hasher per length, made once at module load (WebAssembly compilation is asynchronous) and
 * used synchronously: init, update, digest run to completion with no await between, so calls
 * never interleave.
 *
 * @module
 */
// hash-wasm's blake2b-only build: its main entry bundles every algorithm it has, which cost each
// daemon ~6 MB of resident memory (idle devnet daemons: 139.7 MB against 133.6 MB with this one).
import hashWasmBlake2b from "hash-wasm/dist/blake2b.umd.min.js";

/** The part of hash-wasm's hasher used here. */
interface Blake2bHasher {
  init(): Blake2bHasher;
  update(data: Uint8Array): Blake2bHasher;
  digest(outputType: "binary"): Uint8Array;
}

const createBLAKE2b = (hashWasmBlake2b as { createBLAKE2b(bits: number): Promise<Blake2bHasher> })
  .createBLAKE2b;

const hasher256 = await createBLAKE2b(256);
const hasher160 = await createBLAKE2b(160);
const hasher32 = await createBLAKE2b(32);

/** blake2b-256 of `bytes` (a fresh array). */
export function blake2b256Digest(bytes: Uint8Array): Uint8Array {
  return hasher256.init().update(bytes).digest("binary");
}

/** blake2b-160 of `bytes`: an f1 or f2 address payload. */
export function blake2b160Digest(bytes: Uint8Array): Uint8Array {
  return hasher160.init().update(bytes).digest("binary");
}

/** blake2b-32 of `bytes`: an address string's checksum. */
export function blake2b32Digest(bytes: Uint8Array): Uint8Array {
  return hasher32.init().update(bytes).digest("binary");
}
