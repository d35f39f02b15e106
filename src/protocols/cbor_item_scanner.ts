/**
 * Finds where the first CBOR item in a growing buffer ends, without decoding it: what a
 * request/response stream needs to know after each chunk ("is the peer's message all here?").
 *
 * Why not just try to decode after each chunk: a failed decode of a partial item costs as much
 * as decoding what is there, so trying after every chunk is quadratic in the message size
 * (measured: a 10,000-tipset sync spent ~6 s of its client's CPU re-decoding partial
 * chain-exchange answers). The scanner reads only item heads (major type and length), skips
 * byte and text payloads by their length, and resumes where it stopped when more bytes arrive,
 * so finding the end of an N-byte message costs O(N) in all. The item is then decoded once.
 *
 * It checks structure only (every head well-formed, definite lengths as DAG-CBOR requires);
 * what the item means is for the decoder. A malformed head can never become valid by reading
 * more, so it is reported at once.
 *
 * @module
 */

/** A CBOR item head that no amount of further bytes can make valid. */
export class MalformedCborHeadError extends Error {
  override name = "MalformedCborHeadError";
}

/** A string head whose length alone is over the reader's byte cap. */
export class CborLengthOverCapError extends MalformedCborHeadError {
  override name = "CborLengthOverCapError";
}

/** Resumable scan state over one buffer that only ever grows at its end. */
export class CborItemScanner {
  /** Offset of the next item head to read. */
  #pos = 0;
  /** Items still to read in each open array/map/tag, innermost last. */
  readonly #open: number[] = [];

  /**
   * Scans `bytes` (the same buffer as before, possibly longer) from where the last call stopped.
   * Returns the length of the first complete top-level item, or undefined when it is not all
   * here yet. Throws MalformedCborHeadError for a reserved or indefinite-length head (DAG-CBOR
   * forbids indefinite lengths) and for a payload length over `maxBytes`.
   */
  scan(bytes: Uint8Array, maxBytes = Number.MAX_SAFE_INTEGER): number | undefined {
    while (this.#pos < bytes.length) {
      const head = readHead(bytes, this.#pos);
      if (head === undefined) return undefined; // the head itself is split across chunks
      const { major, value, size } = head;
      let end = this.#pos + size;
      let children = 0;
      if (major === 2 || major === 3) {
        if (value > maxBytes) {
          throw new CborLengthOverCapError(`a ${value}-byte string is over the ${maxBytes} cap`);
        }
        end += value;
        if (end > bytes.length) return undefined; // its payload is still coming
      } else if (major === 4) children = value;
      else if (major === 5) children = value * 2;
      else if (major === 6) children = 1;
      this.#pos = end;
      if (children > 0) {
        this.#open.push(children);
        continue;
      }
      // A complete leaf (or empty container): close every container it completes.
      while (this.#open.length > 0) {
        const last = this.#open.length - 1;
        if (--this.#open[last] > 0) break;
        this.#open.pop();
      }
      if (this.#open.length === 0) return this.#pos;
    }
    return undefined;
  }
}

/** An item head at `at`: major type, its argument, and the head's own size in bytes. */
function readHead(
  bytes: Uint8Array,
  at: number,
): { major: number; value: number; size: number } | undefined {
  const initial = bytes[at];
  const major = initial >> 5;
  const info = initial & 0x1f;
  if (info < 24) return { major, value: info, size: 1 };
  if (info > 27) {
    throw new MalformedCborHeadError(
      info === 31
        ? `indefinite-length item (major type ${major}) at byte ${at}`
        : `reserved additional info ${info} at byte ${at}`,
    );
  }
  const extra = 1 << (info - 24); // 1, 2, 4 or 8 bytes
  if (at + 1 + extra > bytes.length) return undefined;
  let value = 0;
  for (let i = 1; i <= extra; i++) value = value * 256 + bytes[at + i];
  // Only strings, arrays and maps carry a length or count here; integers, tags and floats may
  // use all 64 bits (a uint64 above 2^53 is valid CBOR, and only the decoder judges it).
  if (major >= 2 && major <= 5 && !Number.isSafeInteger(value)) {
    throw new MalformedCborHeadError(`length or count over 2^53 at byte ${at}`);
  }
  return { major, value, size: 1 + extra };
}
