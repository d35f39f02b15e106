/**
 * ElectionProof: proof that a miner won the leader election, Lotus `types.ElectionProof`, CBOR
 * `[WinCount int64, VRFProof bytes]`. WinCount is how many times the miner won this epoch and
 * weighs the block; the VRF proof is checked against the miner's worker key in validation.
 *
 * @module
 */
import { checkSafeInt, readBytes, readSafeInt, readTuple } from "./_cbor.ts";

/** A block's election proof. */
export interface ElectionProof {
  /** Number of wins in this epoch (int64 in Lotus; at least 1 in a valid block). */
  readonly winCount: number;
  /** BLS signature over the election randomness (96 bytes when valid). */
  readonly vrfProof: Uint8Array;
}

/** CBOR tuple form of an ElectionProof. */
export type ElectionProofTuple = [winCount: number, vrfProof: Uint8Array];

/** The tuple form of `proof`. */
export function encodeElectionProof(proof: ElectionProof): ElectionProofTuple {
  return [checkSafeInt(proof.winCount, "election proof.WinCount"), proof.vrfProof];
}

/** Read a decoded CBOR value as an ElectionProof; throws InvalidChainDataError. */
export function decodeElectionProof(value: unknown, what = "election proof"): ElectionProof {
  const [winCount, vrfProof] = readTuple(value, what, 2);
  return {
    winCount: readSafeInt(winCount, `${what}.WinCount`),
    vrfProof: readBytes(vrfProof, `${what}.VRFProof`),
  };
}
