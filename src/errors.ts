/**
 * Error classes shared by every system.
 *
 * A `UserError` is something the operator or a peer can fix (bad config, wrong passphrase, a
 * locked root): the CLI prints its one-line message and exits 1. Anything else that escapes is an
 * internal error: the CLI exits 2 and prints a stack trace only with `--debug`.
 */
export class UserError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number = 1;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A command line that does not parse: unknown verb, missing argument, bad flag. */
export class UsageError extends UserError {}

/** Stored bytes that do not decode or do not match their key: the repo needs `repo fsck`. */
export class CorruptRecordError extends UserError {}

/** Something was asked for that is not there (a block, a key, a file). */
export class NotFoundError extends UserError {}
