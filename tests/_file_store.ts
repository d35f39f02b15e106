/**
 * Assertions shared by the FileStore tests (file_store_test.ts, disk_file_store_test.ts), built on
 * `node:assert` so that the tests need no extra dependency.
 *
 * @module
 */
import { deepStrictEqual, ok } from "node:assert";

/** Throws unless `condition` is truthy; narrows its type like `node:assert`'s `ok`. */
export function assert(condition: unknown, message?: string): asserts condition {
  ok(condition, message);
}

/** Throws unless `actual` deep-equals `expected` (strict). */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  deepStrictEqual(actual, expected, message);
}

/**
 * Await `fn`, require it to reject (with an instance of `type`, whose message has `includes`).
 * `message` labels a failure, e.g. with the case a loop was checking. Returns the error.
 *
 * @example
 * ```ts ignore
 * await assertRejects(() => store.get("missing"), FileNotFoundError, undefined, "case 3");
 * ```
 */
export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type?: new (...args: any[]) => E,
  includes?: string,
  message = "",
): Promise<E> {
  const label = message ? `${message} ` : "";
  let result: unknown;
  try {
    result = await fn();
  } catch (err) {
    if (type) assert(err instanceof type, `${label}expected ${type.name}, got ${err}`);
    if (includes) {
      assert(
        String((err as Error).message).includes(includes),
        message ? `${message}: ${err}` : String(err),
      );
    }
    return err as E;
  }
  throw new Error(`${label}expected a rejection, got ${String(result)}`);
}
