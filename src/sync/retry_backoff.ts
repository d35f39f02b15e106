/**
 * Exponential backoff with jitter for sync retries: a failed sync (a full disk, no peer
 * answering) is tried again on its own, without waiting for a peer to reconnect, but not so
 * often that a node with a full disk spins on it.
 *
 * @module
 */

/** First retry after a failure: soon enough that a blip costs little. */
export const RETRY_MIN_MS = 1_000;
/** Longest wait between retries: a freed disk or a returning peer is noticed within a minute. */
export const RETRY_MAX_MS = 60_000;
/**
 * Each delay is drawn from [delay * (1 - JITTER), delay]: nodes that failed together (a shared
 * peer went away) do not all come back in the same instant.
 */
export const RETRY_JITTER = 0.2;

/** Delay before the next try after `failures` consecutive failures: doubling, capped, jittered. */
export class RetryBackoff {
  #failures = 0;

  constructor(
    readonly minMs: number = RETRY_MIN_MS,
    readonly maxMs: number = RETRY_MAX_MS,
    readonly random: () => number = Math.random,
  ) {}

  get failures(): number {
    return this.#failures;
  }

  /** Counts a failure and returns how long to wait before the next try. */
  fail(): number {
    const base = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.#failures, 30));
    this.#failures++;
    return Math.round(base * (1 - RETRY_JITTER * this.random()));
  }

  reset(): void {
    this.#failures = 0;
  }
}
