/**
 * The keystore's error classes: what a caller of `KeyStore` can catch, each a `UserError` the
 * CLI reports in one line.
 *
 * @module
 */
import { NotFoundError, UsageError, UserError } from "../errors.ts";

/** The passphrase does not open this keystore. */
export class WrongPassphraseError extends UserError {
  constructor(options?: ErrorOptions) {
    super("wrong keystore passphrase", options);
  }
}

/** The keystore is encrypted (or being created encrypted) and no passphrase was given. */
export class PassphraseRequiredError extends UserError {}

/** There is no keystore at the given directory. */
export class KeyStoreNotFoundError extends NotFoundError {}

/** `create()` found an existing keystore (or stray key files) and refused to touch it. */
export class KeyStoreExistsError extends UserError {}

/** No key has the given name or address. */
export class KeyNotFoundError extends NotFoundError {}

/** A key with this name already exists; keys are never overwritten. */
export class KeyExistsError extends UserError {}

/** A key was to be used (or stored) in a keystore opened with `inspectOnly`. */
export class KeyStoreLockedError extends UserError {}

/** A key name that is empty, too long or has control characters. */
export class InvalidKeyNameError extends UsageError {}

/** The keystore directory or a key file is readable or writable by other users. */
export class InsecurePermissionsError extends UserError {}
