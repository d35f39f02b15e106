/**
 * PoStProof: a proof of spacetime, go-state-types `proof.PoStProof`, CBOR
 * `[PoStProof int64 (RegisteredPoStProof), ProofBytes bytes]`. Blocks carry winning PoSt proofs.
 *
 * @module
 */
import { checkSafeInt, readBytes, readSafeInt, readTuple } from "./_cbor.ts";

/** A PoSt proof and the proof type it was made with. */
export interface PoStProof {
  /** `abi.RegisteredPoStProof` (e.g. 0 = StackedDrgWinning2KiBV1, 3 = Winning32GiBV1). */
  readonly postProof: number;
  /** The proof itself (192 bytes for a Groth16 winning PoSt). */
  readonly proofBytes: Uint8Array;
}

/** CBOR tuple form of a PoStProof. */
export type PoStProofTuple = [postProof: number, proofBytes: Uint8Array];

/** The tuple form of `proof`. */
export function encodePoStProof(proof: PoStProof): PoStProofTuple {
  return [checkSafeInt(proof.postProof, "PoSt proof.PoStProof"), proof.proofBytes];
}

/** Read a decoded CBOR value as a PoStProof; throws InvalidChainDataError. */
export function decodePoStProof(value: unknown, what = "PoSt proof"): PoStProof {
  const [postProof, proofBytes] = readTuple(value, what, 2);
  return {
    postProof: readSafeInt(postProof, `${what}.PoStProof`),
    proofBytes: readBytes(proofBytes, `${what}.ProofBytes`),
  };
}
