/**
 * The node's Clock: network time, epoch <-> timestamp math and the drift bound validation uses.
 *
 * Filecoin time is in epochs: epoch `e` starts at `genesisTime + e * blockDelay` (Unix seconds;
 * 30 s on mainnet). Network time is the system clock plus a configured offset, for operators whose
 * host clock is known to be off and who cannot fix NTP.
 */
import type { AbortOptions } from "../abort.ts";
import { UserError } from "../errors.ts";
import { systemTime, type TimeSource } from "./time_source.ts";

/** Mainnet's block delay (spec: "Filecoin Network" > epoch duration). */
export const MAINNET_BLOCK_DELAY_MS = 30_000;

export interface ClockOptions {
  /** Genesis timestamp, Unix seconds. */
  genesisTime: number;
  /** Epoch length in milliseconds; a whole number of seconds, as block timestamps are seconds. */
  blockDelayMs?: number;
  /** Added to the time source: network time = source time + offset. */
  offsetMs?: number;
  /** How far in the future a timestamp may be before `isTooFarInFuture` says so. */
  maxDriftMs?: number;
  /** Defaults to the system clock. */
  timeSource?: TimeSource;
}

export class InvalidClockError extends UserError {}

export class Clock {
  readonly genesisTime: number;
  readonly blockDelayMs: number;
  readonly offsetMs: number;
  readonly maxDriftMs: number;
  readonly #time: TimeSource;

  constructor(options: ClockOptions) {
    const blockDelayMs = options.blockDelayMs ?? MAINNET_BLOCK_DELAY_MS;
    if (!Number.isSafeInteger(options.genesisTime) || options.genesisTime < 0) {
      throw new InvalidClockError(
        `genesis time must be whole Unix seconds, got ${options.genesisTime}`,
      );
    }
    if (!Number.isSafeInteger(blockDelayMs) || blockDelayMs < 1000 || blockDelayMs % 1000 !== 0) {
      throw new InvalidClockError(
        `block delay must be a whole number of seconds, got ${blockDelayMs} ms`,
      );
    }
    this.genesisTime = options.genesisTime;
    this.blockDelayMs = blockDelayMs;
    this.offsetMs = options.offsetMs ?? 0;
    this.maxDriftMs = options.maxDriftMs ?? 1000;
    this.#time = options.timeSource ?? systemTime;
  }

  /** Network time in milliseconds since the Unix epoch. */
  now(): number {
    return this.#time.now() + this.offsetMs;
  }

  /** The epoch running at `timeMs` (network time); epochs before genesis are negative. */
  epochAt(timeMs: number): number {
    return Math.floor((timeMs - this.genesisTime * 1000) / this.blockDelayMs);
  }

  /** The epoch running now. */
  currentEpoch(): number {
    return this.epochAt(this.now());
  }

  /** Unix seconds at which `epoch` starts: the timestamp a block of that epoch carries. */
  epochStart(epoch: number): number {
    return this.genesisTime + (epoch * this.blockDelayMs) / 1000;
  }

  /**
   * True when a block timestamp (Unix seconds) lies further ahead of network time than the drift
   * bound allows: validation must not accept it yet.
   */
  isTooFarInFuture(timestampSeconds: number): boolean {
    return timestampSeconds * 1000 > this.now() + this.maxDriftMs;
  }

  /** Waits until `epoch` has started (at once when it already has). */
  async waitForEpoch(epoch: number, options?: AbortOptions): Promise<void> {
    const wait = this.epochStart(epoch) * 1000 - this.now();
    if (wait > 0) await this.#time.sleep(wait, options);
  }
}
