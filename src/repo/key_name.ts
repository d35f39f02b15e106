/**
 * Key names and the file names they are stored under. Names follow Lotus: `wallet-<address>` for
 * wallet keys, `libp2p-host` for the node identity; any other name of 1 to
 * {@link MAX_KEY_NAME_BYTES} UTF-8 bytes without control characters is allowed. A file name is
 * the lowercase base32 of the name: safe on any file system, and case-insensitive file systems
 * cannot merge two names.
 *
 * @module
 */
import { base32 } from "multiformats/bases/base32";
import { InvalidKeyNameError } from "./keystore_errors.ts";
import { corrupt, IS_WINDOWS } from "./keystore_file.ts";

/** Suffix of key files; anything else in the directory is ignored by `list()`. */
export const KEY_FILE_SUFFIX = ".key";
/**
 * Longest key name in UTF-8 bytes: base32 makes 128 bytes into 205 characters, which with the
 * suffix stays under the 255-byte file-name limit of ext4, APFS and NTFS.
 */
export const MAX_KEY_NAME_BYTES = 128;
/** Lotus's name prefix for wallet keys: `wallet-<address>`. */
export const WALLET_KEY_PREFIX = "wallet-";
/** Lotus's name for the libp2p host identity; the default name of a generated ed25519 key. */
export const LIBP2P_HOST_KEY = "libp2p-host";

export function isValidKeyName(name: string): boolean {
  return name.length > 0 &&
    new TextEncoder().encode(name).length <= MAX_KEY_NAME_BYTES &&
    // deno-lint-ignore no-control-regex
    !/[\u0000-\u001f\u007f]/.test(name);
}

export function checkKeyName(name: string): void {
  if (typeof name !== "string" || !isValidKeyName(name)) {
    throw new InvalidKeyNameError(
      `invalid key name ${
        JSON.stringify(name)
      }: 1 to ${MAX_KEY_NAME_BYTES} bytes, no control characters`,
    );
  }
}

/** File name of a key: lowercase base32 of the UTF-8 name (any name, any file system). */
export function encodeKeyFileName(name: string): string {
  return base32.baseEncode(new TextEncoder().encode(name)) + KEY_FILE_SUFFIX;
}

export function decodeKeyFileName(path: string): string {
  const file = path.slice(path.lastIndexOf(IS_WINDOWS ? "\\" : "/") + 1);
  try {
    const name = new TextDecoder("utf-8", { fatal: true }).decode(
      base32.baseDecode(file.slice(0, -KEY_FILE_SUFFIX.length)),
    );
    if (isValidKeyName(name)) return name;
  } catch {
    // fall through
  }
  throw corrupt(path, "the file name does not encode a key name");
}
