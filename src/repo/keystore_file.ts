/**
 * The keystore's files on disk, as bytes: `keystore.json` (format, encryption, KDF parameters and
 * the passphrase verifier) and one `<base32(name)>.key` record per key (type, public key, and
 * the sealed or raw private key), with the owner-only permissions both must have. This is the
 * on-disk format; `KeyStore` decides what to seal and when to write.
 *
 * @module
 */
import { base64pad } from "multiformats/bases/base64";
import { CorruptRecordError } from "../errors.ts";
import { readCappedFile, type WriteFileAtomicOptions } from "./fs_atomic.ts";
import { KEY_TYPES, type KeyType, MAX_PBKDF2_ITERATIONS, SALT_LENGTH } from "./keystore_crypto.ts";
import { InsecurePermissionsError } from "./keystore_errors.ts";

/** The meta file; its presence is what makes a directory a keystore. */
export const META_FILE = "keystore.json";
/** Prefix of in-progress writes; dot-files are never listed as keys. */
const TEMP_PREFIX = ".tmp-";
/** Key and meta files are a few hundred bytes; refusing big files bounds what a planted file costs. */
const MAX_FILE_BYTES = 64 * 1024;
/** Owner-only permissions; anything looser is refused, as Lotus refuses loose key files. */
export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;
/**
 * How key and meta files are written: owner-only, and never over an existing file (a hard link
 * fails where a name is taken), so a second `create()` or a key of a taken name cannot clobber one.
 * The temp prefix is short because key file names may already be near the 255-byte limit.
 */
export const NEW_FILE: WriteFileAtomicOptions = {
  mode: FILE_MODE,
  overwrite: false,
  tempPrefix: TEMP_PREFIX,
};

const META_FORMAT = "filnode-keystore";
const KEY_FORMAT = "filnode-key";
const FORMAT_VERSION = 1;
export const ENCRYPTED = "aes-256-gcm";
export const UNENCRYPTED = "none";
const KDF_NAME = "pbkdf2-sha256";
export const VERIFIER_PLAINTEXT = new TextEncoder().encode("filnode keystore passphrase check v1");
export const VERIFIER_AAD = new TextEncoder().encode("filnode-keystore-verifier-v1");
export const IS_WINDOWS = Deno.build.os === "windows";

/** keystore.json, parsed. */
export type Meta =
  | {
    readonly encryption: typeof ENCRYPTED;
    readonly iterations: number;
    readonly salt: Uint8Array;
    readonly verifier: Uint8Array;
  }
  | { readonly encryption: typeof UNENCRYPTED };

/** A key file as read from disk: not yet authenticated. */
export interface KeyRecord {
  readonly name: string;
  readonly path: string;
  readonly type: KeyType;
  readonly publicKey: Uint8Array;
  /** Sealed private key (encrypted store) or the raw one (insecure store). */
  readonly secret: Uint8Array;
}

/** The bytes of `keystore.json` for `meta`. */
export function encodeMetaFile(meta: Meta): Uint8Array {
  if (meta.encryption === UNENCRYPTED) {
    return encodeJson({ format: META_FORMAT, version: FORMAT_VERSION, encryption: UNENCRYPTED });
  }
  return encodeJson({
    format: META_FORMAT,
    version: FORMAT_VERSION,
    encryption: ENCRYPTED,
    kdf: { name: KDF_NAME, iterations: meta.iterations, salt: b64(meta.salt) },
    verifier: b64(meta.verifier),
  });
}

/**
 * The bytes of a key file: `secret` is the sealed private key in an encrypted store, the raw one
 * in an insecure store.
 */
export function encodeKeyFile(
  key: { type: KeyType; publicKey: Uint8Array; encrypted: boolean; secret: Uint8Array },
): Uint8Array {
  const record: Record<string, unknown> = {
    format: KEY_FORMAT,
    version: FORMAT_VERSION,
    type: key.type,
    publicKey: b64(key.publicKey),
  };
  if (key.encrypted) {
    record.encryption = ENCRYPTED;
    record.sealed = b64(key.secret);
  } else {
    record.encryption = UNENCRYPTED;
    record.privateKey = b64(key.secret);
  }
  return encodeJson(record);
}

/**
 * Parses the key file `bytes` read from `path` for key `name`, without authenticating it; in an
 * `encrypted` store only sealed records are valid, in an insecure store only raw ones.
 */
export function decodeKeyFile(
  path: string,
  name: string,
  bytes: Uint8Array,
  encrypted: boolean,
): KeyRecord {
  const json = parseJson(path, bytes);
  if (json.format !== KEY_FORMAT || json.version !== FORMAT_VERSION) {
    throw corrupt(path, "not a filnode key file of a known version");
  }
  const type = json.type;
  if (typeof type !== "string" || !(KEY_TYPES as readonly string[]).includes(type)) {
    throw corrupt(path, "unknown key type");
  }
  const want = encrypted ? ENCRYPTED : UNENCRYPTED;
  if (json.encryption !== want) {
    // An unencrypted file in an encrypted store (or the reverse) was planted or misplaced.
    throw corrupt(path, `encryption is ${JSON.stringify(json.encryption)}, expected "${want}"`);
  }
  const publicKey = fromB64(path, json.publicKey, "publicKey");
  const secret = fromB64(path, encrypted ? json.sealed : json.privateKey, "private key");
  return { name, path, type: type as KeyType, publicKey, secret };
}

/** Additional data binding a sealed key to its name, type and public key. */
export function keyAad(name: string, type: KeyType, publicKey: Uint8Array): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify([KEY_FORMAT, FORMAT_VERSION, name, type, b64(publicKey)]),
  );
}

export function corrupt(path: string, reason: string): CorruptRecordError {
  return new CorruptRecordError(`damaged keystore file ${path}: ${reason}`);
}

export function checkMode(path: string, mode: number | null, what: string, want: number): void {
  if (IS_WINDOWS || mode === null) return;
  if ((mode & 0o077) !== 0) {
    throw new InsecurePermissionsError(
      `${what} ${path} is accessible to other users (mode ${(mode & 0o777).toString(8)}); ` +
        `run: chmod ${want.toString(8)} ${path}`,
    );
  }
}

export function parseMeta(path: string, bytes: Uint8Array): Meta {
  const json = parseJson(path, bytes);
  if (json.format !== META_FORMAT || json.version !== FORMAT_VERSION) {
    throw corrupt(path, "not a filnode keystore of a known version");
  }
  if (json.encryption === UNENCRYPTED) return { encryption: UNENCRYPTED };
  if (json.encryption !== ENCRYPTED) {
    throw corrupt(path, `unknown encryption ${JSON.stringify(json.encryption)}`);
  }
  const kdf = json.kdf as Record<string, unknown> | undefined;
  if (typeof kdf !== "object" || kdf === null || kdf.name !== KDF_NAME) {
    throw corrupt(path, "missing or unknown kdf");
  }
  const iterations = kdf.iterations;
  if (
    typeof iterations !== "number" || !Number.isSafeInteger(iterations) || iterations < 1 ||
    iterations > MAX_PBKDF2_ITERATIONS
  ) {
    throw corrupt(path, "kdf iterations out of range");
  }
  const salt = fromB64(path, kdf.salt, "kdf salt");
  if (salt.length < SALT_LENGTH) throw corrupt(path, "kdf salt too short");
  const verifier = fromB64(path, json.verifier, "verifier");
  return { encryption: ENCRYPTED, iterations, salt, verifier };
}

function parseJson(path: string, bytes: Uint8Array): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw corrupt(path, "not valid JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw corrupt(path, "not a JSON object");
  }
  return json as Record<string, unknown>;
}

function b64(bytes: Uint8Array): string {
  return base64pad.baseEncode(bytes);
}

function fromB64(path: string, value: unknown, field: string): Uint8Array {
  if (typeof value !== "string") throw corrupt(path, `${field} is missing`);
  try {
    return base64pad.baseDecode(value);
  } catch {
    throw corrupt(path, `${field} is not valid base64`);
  }
}

function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n");
}

/**
 * Read a small owner-only file through one handle (so the mode we check is the file we read).
 * `undefined` when it does not exist; InsecurePermissionsError when others can access it;
 * CorruptRecordError when it is not a regular file or is implausibly large.
 */
export async function readPrivateFile(path: string): Promise<Uint8Array | undefined> {
  let size = 0;
  const bytes = await readCappedFile(path, MAX_FILE_BYTES, (info) => {
    if (!info.isFile) throw corrupt(path, "not a regular file");
    checkMode(path, info.mode, "keystore file", FILE_MODE);
    if (info.size > MAX_FILE_BYTES) throw corrupt(path, `too large (${info.size} bytes)`);
    size = info.size;
  });
  if (bytes !== undefined && bytes.length > size) throw corrupt(path, "grew while being read");
  return bytes;
}
