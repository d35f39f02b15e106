/**
 * BeaconEntry: one drand round a block commits to, Lotus `types.BeaconEntry`, CBOR
 * `[Round uint64, Data bytes]`. The data is drand's signature for that round; validation checks
 * it against the drand network's key.
 *
 * @module
 */
import { checkSafeUint, readBytes, readSafeUint, readTuple } from "./_cbor.ts";

/** A drand beacon entry. */
export interface BeaconEntry {
  /** drand round number (uint64 in Lotus; rounds are far below 2^53). */
  readonly round: number;
  /** drand's BLS signature for the round. */
  readonly data: Uint8Array;
}

/** CBOR tuple form of a BeaconEntry. */
export type BeaconEntryTuple = [round: number, data: Uint8Array];

/** The tuple form of `entry`. */
export function encodeBeaconEntry(entry: BeaconEntry): BeaconEntryTuple {
  return [checkSafeUint(entry.round, "beacon entry.Round"), entry.data];
}

/** Read a decoded CBOR value as a BeaconEntry; throws InvalidChainDataError. */
export function decodeBeaconEntry(value: unknown, what = "beacon entry"): BeaconEntry {
  const [round, data] = readTuple(value, what, 2);
  return { round: readSafeUint(round, `${what}.Round`), data: readBytes(data, `${what}.Data`) };
}
