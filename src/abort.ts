/** Options every async call of a system accepts, as js-libp2p's `AbortOptions`. */
export interface AbortOptions {
  signal?: AbortSignal;
}

/** Something with an explicit lifecycle. `stop()` is idempotent and leaves no live handle. */
export interface Startable {
  start(options?: AbortOptions): Promise<void>;
  stop(): Promise<void>;
}
