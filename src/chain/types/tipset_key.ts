/**
 * TipSetKey, Lotus `types.TipSetKey`: the ordered CIDs of a tipset's blocks. Its byte form is
 * the concatenation of the CIDs' bytes (self-delimiting, so no separators); on the wire (CBOR) it
 * is that concatenation as one byte string, and its own CID (Lotus `TipSetKey.Cid`, used by F3
 * and the Ethereum API as the tipset's hash) is the dag-cbor CID of that byte string.
 *
 * @module
 */
import { CID } from "multiformats/cid";
import { bytesEqual, fail, readBytes } from "./_cbor.ts";
import { cidOf } from "./cid.ts";

/**
 * An ordered list of block CIDs naming a tipset. Immutable; two keys are equal when their byte
 * forms are (same CIDs, same order), as in Lotus.
 *
 * @example
 * ```ts
 * import { TipSetKey } from "./tipset_key.ts";
 * const key = TipSetKey.fromBytes(new Uint8Array(0));
 * if (!key.isEmpty || key.toString() !== "{}") throw new Error("unexpected");
 * ```
 */
export class TipSetKey {
  /** The CIDs, in the tipset's canonical block order. */
  readonly cids: readonly CID[];
  readonly #bytes: Uint8Array;

  private constructor(cids: readonly CID[], bytes: Uint8Array) {
    this.cids = cids;
    this.#bytes = bytes;
  }

  /** The key of `cids`, taken in the order given (Lotus `NewTipSetKey`). */
  static of(cids: Iterable<CID>): TipSetKey {
    const list = [...cids];
    const bytes = new Uint8Array(list.reduce((n, c) => n + c.bytes.length, 0));
    let offset = 0;
    for (const cid of list) {
      bytes.set(cid.bytes, offset);
      offset += cid.bytes.length;
    }
    return new TipSetKey(Object.freeze(list), bytes);
  }

  /**
   * Parse concatenated CID bytes (Lotus `TipSetKeyFromBytes`). Throws InvalidChainDataError for
   * bytes that are not a whole number of CIDs, or that name a CID non-canonically.
   */
  static fromBytes(bytes: Uint8Array): TipSetKey {
    const cids: CID[] = [];
    let rest = bytes;
    while (rest.length > 0) {
      let cid: CID;
      let remainder: Uint8Array;
      try {
        [cid, remainder] = CID.decodeFirst(rest);
      } catch (err) {
        fail("tipset key", `CID ${cids.length} does not parse (${(err as Error).message})`, err);
      }
      // go-cid refuses non-minimal varints; multiformats may not, so insist on canonical bytes.
      if (!bytesEqual(cid.bytes, rest.subarray(0, rest.length - remainder.length))) {
        fail("tipset key", `CID ${cids.length} is not canonically encoded`);
      }
      cids.push(cid);
      rest = remainder;
    }
    return new TipSetKey(Object.freeze(cids), bytes.slice());
  }

  /** The concatenated CID bytes (Lotus `TipSetKey.Bytes`). */
  get bytes(): Uint8Array {
    return this.#bytes.slice();
  }

  /** True for the empty key, which Lotus APIs read as "the current head". */
  get isEmpty(): boolean {
    return this.cids.length === 0;
  }

  /** Same CIDs in the same order. */
  equals(other: TipSetKey): boolean {
    return bytesEqual(this.#bytes, other.#bytes);
  }

  /** The key's own CID (Lotus `TipSetKey.Cid`): dag-cbor CID of the byte string. */
  cid(): CID {
    return cidOf(this.#bytes);
  }

  /** `{cid1,cid2,...}`, as Lotus prints keys. */
  toString(): string {
    return `{${this.cids.map((c) => c.toString()).join(",")}}`;
  }

  /** Lotus's JSON form: the list of CIDs. */
  toJSON(): readonly CID[] {
    return this.cids;
  }
}

/** The key with no CIDs. */
export const EMPTY_TIPSET_KEY: TipSetKey = TipSetKey.of([]);

/** The CBOR data-model form of a key: one byte string (Lotus `TipSetKey.MarshalCBOR`). */
export function encodeTipSetKey(key: TipSetKey): Uint8Array {
  return key.bytes;
}

/** Read a decoded CBOR value as a TipSetKey; throws InvalidChainDataError. */
export function decodeTipSetKey(value: unknown, what = "tipset key"): TipSetKey {
  return TipSetKey.fromBytes(readBytes(value, what));
}
