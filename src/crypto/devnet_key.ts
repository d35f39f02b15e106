/**
 * Deterministic devnet keys: the same seed gives the same secp256k1 key and f1 address in every
 * process, so that genesis, tests and benches agree on the devnet's miners without sharing files.
 * Test and devnet use only: real keys live in the KeyStore.
 *
 * @module
 */
import { secp256k1 } from "@noble/curves/secp256k1";
import { Address, type Network } from "./address.ts";
import { blake2b256Digest } from "./blake2b.ts";

/** A devnet miner: its f1 address and the key that signs its blocks. */
export interface DevnetMiner {
  readonly address: Address;
  /** 32-byte secp256k1 private key. Test and devnet use only: real keys live in the KeyStore. */
  readonly privateKey: Uint8Array;
}

/** A deterministic devnet miner from a seed (tests and benches agree on it across processes). */
export function devnetMinerFromSeed(seed: string, network: Network = "t"): DevnetMiner {
  const privateKey = blake2b256Digest(new TextEncoder().encode(`filnode devnet miner ${seed}`));
  const publicKey = secp256k1.getPublicKey(privateKey, false);
  return { address: Address.fromSecp256k1PublicKey(publicKey, network), privateKey };
}
