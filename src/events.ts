/**
 * An EventTarget whose events are typed by a map of names to CustomEvent types, as js-libp2p's
 * `TypedEventEmitter`: systems announce through it ("events, not reach-ins").
 */
// deno-lint-ignore no-explicit-any
export class TypedEventTarget<M extends { [K in keyof M]: CustomEvent<any> }> extends EventTarget {
  override addEventListener<K extends keyof M & string>(
    type: K,
    listener: (event: M[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    // deno-lint-ignore no-explicit-any
    listener: any,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener, options);
  }

  override removeEventListener<K extends keyof M & string>(
    type: K,
    listener: (event: M[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    // deno-lint-ignore no-explicit-any
    listener: any,
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(type, listener, options);
  }

  /** Dispatches `type` with `detail`. */
  emit<K extends keyof M & string>(type: K, detail: M[K]["detail"]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
