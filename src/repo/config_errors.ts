/**
 * The errors the config raises, and how a bad value is shown in them: every message is one line
 * that names the key (or the file and line) so the operator never sees a stack trace.
 *
 * @module
 */
import { UsageError, UserError } from "../errors.ts";

/** Longest rendering of a bad value in an error message, so one line stays one line. */
const MAX_SHOWN_VALUE_CHARS = 60;

/** The config file or a value for it is wrong; the message is one line naming the key or line. */
export class ConfigError extends UserError {
  constructor(
    message: string,
    /** `Section.Key` the error is about, when it is about one key. */
    readonly key?: string,
    /** 1-based line in the file, when known. */
    readonly line?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A `Section.Key` that the schema does not know; the message lists close matches. */
export class UnknownConfigKeyError extends UsageError {
  constructor(readonly key: string, readonly suggestions: readonly string[]) {
    super(
      `unknown config key ${key}` +
        (suggestions.length > 0
          ? ` (did you mean ${suggestions.join(", ")}?)`
          : " (see `filnode config keys`)"),
    );
  }
}

/**
 * A value as an error message shows it: JSON where it can be, dates as ISO strings, cut to
 * {@link MAX_SHOWN_VALUE_CHARS} characters.
 */
export function showValue(v: unknown): string {
  let s: string;
  try {
    s = v instanceof Date ? v.toISOString() : JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > MAX_SHOWN_VALUE_CHARS ? `${s.slice(0, MAX_SHOWN_VALUE_CHARS - 3)}...` : s;
}
