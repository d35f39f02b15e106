/**
 * Ticket: the VRF output a block's miner drew for this epoch, Lotus `types.Ticket`, CBOR
 * `[VRFProof bytes]`. Tickets order the blocks of a tipset and seed the next epoch's randomness.
 *
 * @module
 */
import { blake2b256Digest } from "../../crypto/blake2b.ts";
import { compareBytes, readBytes, readTuple } from "./_cbor.ts";

/** A block's ticket. */
export interface Ticket {
  /** BLS signature over the ticket randomness by the miner's worker key (96 bytes when valid). */
  readonly vrfProof: Uint8Array;
}

/** CBOR tuple form of a Ticket. */
export type TicketTuple = [vrfProof: Uint8Array];

/** The tuple form of `ticket`. */
export function encodeTicket(ticket: Ticket): TicketTuple {
  return [ticket.vrfProof];
}

/** Read a decoded CBOR value as a Ticket; throws InvalidChainDataError naming `what`. */
export function decodeTicket(value: unknown, what = "ticket"): Ticket {
  const [vrfProof] = readTuple(value, what, 1);
  return { vrfProof: readBytes(vrfProof, `${what}.VRFProof`) };
}

/** blake2b-256 of the VRF proof: what tipset ordering compares (Lotus `Ticket.Less`). */
export function ticketDigest(ticket: Ticket): Uint8Array {
  return blake2b256Digest(ticket.vrfProof);
}

/** Negative when `a` sorts before `b` in a tipset, as Lotus `Ticket.Less`; 0 when equal. */
export function compareTickets(a: Ticket, b: Ticket): number {
  return compareBytes(ticketDigest(a), ticketDigest(b));
}
