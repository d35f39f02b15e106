/**
 * Where the clock gets "now" and how it waits: the system's wall clock in production, a
 * hand-advanced fake in tests (so epoch logic is tested without sleeping).
 */
import type { AbortOptions } from "../abort.ts";

export interface TimeSource {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Resolves after `ms`, or rejects with the signal's reason when aborted first. */
  sleep(ms: number, options?: AbortOptions): Promise<void>;
}

/** The system clock. Timers it makes are cleared on abort, so no handle outlives the caller. */
export const systemTime: TimeSource = {
  now: () => Date.now(),
  sleep(ms, options) {
    return new Promise((resolve, reject) => {
      const signal = options?.signal;
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};

/** A clock that only moves when told to; sleepers wake in deadline order as it passes them. */
export class FakeTimeSource implements TimeSource {
  #now: number;
  #sleepers: { at: number; resolve: () => void }[] = [];

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, options?: AbortOptions): Promise<void> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const sleeper = {
        at: this.#now + Math.max(0, ms),
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#sleepers.push(sleeper);
    });
  }

  /** Number of pending sleeps: lets a test wait until code under test is parked. */
  get pendingSleeps(): number {
    return this.#sleepers.length;
  }

  /** Move time forward, waking every sleeper whose deadline has passed. */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError("time only moves forward");
    this.#now += ms;
    const due = this.#sleepers.filter((s) => s.at <= this.#now).sort((a, b) => a.at - b.at);
    this.#sleepers = this.#sleepers.filter((s) => s.at > this.#now);
    for (const s of due) s.resolve();
  }
}
