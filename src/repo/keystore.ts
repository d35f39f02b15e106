/**
 * KeyStore: custody of the node's private keys (Filecoin wallet keys and the libp2p identity).
 *
 * On disk (`<root>/keystore/`, owner-only 0o700):
 *
 * ```
 * keystore.json          format, encryption ("aes-256-gcm" or "none"), PBKDF2 salt + iterations,
 *                        and a verifier (a known plaintext sealed with the master key)
 * <base32(name)>.key     one key per file, 0o600: type, public key, and the private key sealed
 *                        with AES-256-GCM under the master key (random 12-byte nonce)
 * ```
 *
 * The master key is derived from the passphrase with PBKDF2-SHA256 into a non-extractable
 * WebCrypto key. Each key file's additional authenticated data is its name, type and public key,
 * so a file renamed or copied over another one fails authentication instead of silently
 * answering for the wrong name. File names are the lowercase base32 of the key name: any name is
 * safe on any file system, and case-insensitive file systems cannot merge two names.
 *
 * Files are read on demand and written atomically (temp file in the same directory, fsync, then
 * link/rename, then fsync of the directory), so the store holds no open handle and a crash leaves
 * either the old or the new file. Private keys never leave this module through a public method:
 * callers ask the store to sign, verify, encrypt or decrypt.
 *
 * Key names follow Lotus: `wallet-<address>` for wallet keys, `libp2p-host` for the node identity.
 *
 * Files: the on-disk format is `keystore_file.ts`, key naming `key_name.ts`, the sealing and
 * signing primitives `keystore_crypto.ts`, Lotus's export format `lotus_key_export.ts`, the error
 * classes `keystore_errors.ts`; this module (re-exporting them) stays the keystore's one public
 * surface. Why over 600 lines: the `KeyStore` class alone is about 480 of them, one concept (key
 * custody: create, open, store, resolve, use and wipe), whose methods share the master key and
 * the read-authenticate-wipe path; splitting it would spread that invariant over files.
 *
 * @module
 */
import { join } from "node:path";
import type { AbortOptions } from "../abort.ts";
import { Address, InvalidAddressError, type Network, Protocol } from "../crypto/address.ts";
import { recoverSecp256k1PublicKey, UnsupportedSignatureError } from "../crypto/signature.ts";
import { CorruptRecordError, UsageError } from "../errors.ts";
import { exists, syncDir, writeFileAtomic } from "./fs_atomic.ts";
import {
  checkKeyName,
  decodeKeyFileName,
  encodeKeyFileName,
  isValidKeyName,
  KEY_FILE_SUFFIX,
  LIBP2P_HOST_KEY,
  MAX_KEY_NAME_BYTES,
  WALLET_KEY_PREFIX,
} from "./key_name.ts";
import {
  checkPrivateKey,
  DEFAULT_PBKDF2_ITERATIONS,
  deriveMasterKey,
  eciesDecrypt,
  eciesEncrypt,
  ed25519SignerFor,
  equalBytes,
  KEY_TYPES,
  type KeyType,
  MAX_PBKDF2_ITERATIONS,
  publicKeyOf,
  randomPrivateKey,
  SALT_LENGTH,
  seal,
  signWith,
  unseal,
  UnsupportedKeyTypeError,
  verifyWithPublicKey,
} from "./keystore_crypto.ts";
import {
  InvalidKeyNameError,
  KeyExistsError,
  KeyNotFoundError,
  KeyStoreExistsError,
  KeyStoreLockedError,
  KeyStoreNotFoundError,
  PassphraseRequiredError,
  WrongPassphraseError,
} from "./keystore_errors.ts";
import {
  checkMode,
  corrupt,
  decodeKeyFile,
  DIR_MODE,
  encodeKeyFile,
  encodeMetaFile,
  ENCRYPTED,
  IS_WINDOWS,
  keyAad,
  type KeyRecord,
  META_FILE,
  NEW_FILE,
  parseMeta,
  readPrivateFile,
  UNENCRYPTED,
  VERIFIER_AAD,
  VERIFIER_PLAINTEXT,
} from "./keystore_file.ts";
import { parseLotusExport } from "./lotus_key_export.ts";

// The keystore's public surface stays this module: what moved out (errors, the file format,
// key names, the Lotus export parser) is re-exported for its callers.
export {
  DecryptionError,
  DEFAULT_PBKDF2_ITERATIONS,
  InvalidKeyError,
  type KeyType,
  UnsupportedKeyTypeError,
} from "./keystore_crypto.ts";
export * from "./keystore_errors.ts";
export {
  encodeKeyFileName,
  KEY_FILE_SUFFIX,
  LIBP2P_HOST_KEY,
  MAX_KEY_NAME_BYTES,
  WALLET_KEY_PREFIX,
};
export { META_FILE } from "./keystore_file.ts";
export { parseLotusExport };

/** What the store tells about a key. Never carries private key bytes. */
export interface KeyInfo {
  readonly name: string;
  readonly type: KeyType;
  /** The f1/t1 address of a secp256k1 key, in the store's network. */
  readonly address?: string;
  /** 65-byte uncompressed secp256k1 key, or 32-byte ed25519 key. */
  readonly publicKey: Uint8Array;
}

export interface KeyStoreCreateOptions extends AbortOptions {
  /** Passphrase the master key is derived from. Required unless `insecure`. */
  passphrase?: string;
  /** Store keys unencrypted (throwaway devnets only); keystore.json says `"encryption": "none"`. */
  insecure?: boolean;
  /** Address prefix for `KeyInfo.address` and wallet key names. Default `f`. */
  network?: Network;
  /** PBKDF2 iterations; default DEFAULT_PBKDF2_ITERATIONS. Lower only in tests. */
  iterations?: number;
}

export interface KeyStoreOpenOptions extends AbortOptions {
  /** Needed for an encrypted store; ignored by an insecure one. */
  passphrase?: string;
  /**
   * Open without a passphrase to list keys and check their files' structure (`repo fsck`);
   * signing, decrypting and storing keys then throw KeyStoreLockedError.
   */
  inspectOnly?: boolean;
  /** Address prefix for `KeyInfo.address` and wallet key names. Default `f`. */
  network?: Network;
}

/** What `KeyStore.ed25519Signer()` hands out: a public key and a way to sign, no secret. */
export interface Ed25519Signer {
  /** 32-byte ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** 64-byte ed25519 signature of `data`. */
  sign(data: Uint8Array): Uint8Array;
}

export interface KeyOptions extends AbortOptions {
  /** Key name; default `wallet-<address>` for secp256k1 and `libp2p-host` for ed25519. */
  name?: string;
}

export interface ListOptions extends AbortOptions {
  /**
   * Called for each damaged key file, which is then skipped. Without it, `list()` throws the
   * first CorruptRecordError, so damage is never silently hidden.
   */
  onCorrupt?: (error: CorruptRecordError) => void;
}

/**
 * Secure custody of private keys. Every method that needs a private key reads and decrypts its
 * file, uses the key, and wipes the buffer; nothing secret is cached except the non-extractable
 * master CryptoKey.
 *
 * The libp2p host gets its identity through `ed25519Signer()`: a signing capability, not the seed.
 *
 * @example
 * ```ts ignore
 * const ks = await KeyStore.create(layout.keystore, { passphrase: "correct horse battery staple" });
 * const { address } = await ks.generate("secp256k1");
 * const sig = await ks.sign(address!, new TextEncoder().encode("hello"));
 * console.assert(KeyStore.verifySignature(sig, new TextEncoder().encode("hello"), address!));
 * ```
 */
export class KeyStore {
  /** Directory holding keystore.json and the key files. */
  readonly dir: string;
  /** Address prefix used for key names and `KeyInfo.address`. */
  readonly network: Network;
  /** Master key; `undefined` for an insecure (unencrypted) store or one opened to inspect. */
  readonly #key: CryptoKey | undefined;
  readonly #encrypted: boolean;

  private constructor(
    dir: string,
    network: Network,
    key: CryptoKey | undefined,
    encrypted = key !== undefined,
  ) {
    this.dir = dir;
    this.network = network;
    this.#key = key;
    this.#encrypted = encrypted;
  }

  /** True when keys are encrypted at rest. */
  get encrypted(): boolean {
    return this.#encrypted;
  }

  /** True when opened with `inspectOnly` on an encrypted store: keys are listed, never used. */
  get locked(): boolean {
    return this.#encrypted && this.#key === undefined;
  }

  #assertUnlocked(): void {
    if (this.locked) {
      throw new KeyStoreLockedError(
        "the keystore was opened to inspect only; its keys cannot be used",
      );
    }
  }

  /**
   * Create a new keystore in `dir` (made 0o700 if missing). Refuses with KeyStoreExistsError if
   * `dir` already holds a keystore or key files, and with PassphraseRequiredError if neither a
   * non-empty passphrase nor `insecure` is given.
   */
  static async create(dir: string, options: KeyStoreCreateOptions = {}): Promise<KeyStore> {
    const { passphrase, insecure = false, network = "f" } = options;
    const iterations = options.iterations ?? DEFAULT_PBKDF2_ITERATIONS;
    checkNetwork(network);
    if (insecure && passphrase !== undefined) {
      throw new UsageError("give either a keystore passphrase or insecure mode, not both");
    }
    if (!insecure && !passphrase) {
      throw new PassphraseRequiredError(
        "a passphrase is required to create an encrypted keystore (or choose insecure mode for a throwaway devnet)",
      );
    }
    if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) {
      throw new UsageError(`PBKDF2 iterations must be an integer in [1, ${MAX_PBKDF2_ITERATIONS}]`);
    }
    options.signal?.throwIfAborted();

    await Deno.mkdir(dir, { recursive: true, mode: DIR_MODE });
    if (!IS_WINDOWS) await Deno.chmod(dir, DIR_MODE);
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name === META_FILE || entry.name.endsWith(KEY_FILE_SUFFIX)) {
        throw new KeyStoreExistsError(`a keystore already exists in ${dir} (found ${entry.name})`);
      }
    }

    let key: CryptoKey | undefined;
    let meta: Uint8Array;
    if (insecure) {
      meta = encodeMetaFile({ encryption: UNENCRYPTED });
    } else {
      const salt = crypto.getRandomValues(new Uint8Array(SALT_LENGTH));
      key = await deriveMasterKey(passphrase!, { iterations, salt });
      const verifier = await seal(key, VERIFIER_PLAINTEXT, VERIFIER_AAD);
      meta = encodeMetaFile({ encryption: ENCRYPTED, iterations, salt, verifier });
    }
    options.signal?.throwIfAborted();
    const written = await writeFileAtomic(join(dir, META_FILE), meta, NEW_FILE);
    if (!written) throw new KeyStoreExistsError(`a keystore already exists in ${dir}`);
    return new KeyStore(dir, network, key);
  }

  /**
   * Open the keystore in `dir`. Throws KeyStoreNotFoundError when there is none,
   * PassphraseRequiredError / WrongPassphraseError for an encrypted store without / with the
   * wrong passphrase, CorruptRecordError for a damaged keystore.json, and
   * InsecurePermissionsError when the directory is open to other users.
   */
  static async open(dir: string, options: KeyStoreOpenOptions = {}): Promise<KeyStore> {
    const { passphrase, network = "f" } = options;
    checkNetwork(network);
    options.signal?.throwIfAborted();
    let dirInfo: Deno.FileInfo;
    try {
      dirInfo = await Deno.stat(dir);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new KeyStoreNotFoundError(`no keystore at ${dir}`);
      }
      throw err;
    }
    if (!dirInfo.isDirectory) {
      throw new KeyStoreNotFoundError(`no keystore at ${dir} (not a directory)`);
    }
    checkMode(dir, dirInfo.mode, "keystore directory", DIR_MODE);

    const metaPath = join(dir, META_FILE);
    const bytes = await readPrivateFile(metaPath);
    if (bytes === undefined) {
      throw new KeyStoreNotFoundError(`no keystore at ${dir} (${META_FILE} is missing)`);
    }
    const meta = parseMeta(metaPath, bytes);
    if (meta.encryption === UNENCRYPTED) return new KeyStore(dir, network, undefined);
    // Integrity checks list key files and parse their public parts: no passphrase needed.
    if (options.inspectOnly) return new KeyStore(dir, network, undefined, true);

    if (!passphrase) {
      throw new PassphraseRequiredError(
        `the keystore at ${dir} is encrypted: a passphrase is required`,
      );
    }
    const key = await deriveMasterKey(passphrase, meta);
    const check = await unseal(key, meta.verifier, VERIFIER_AAD);
    if (check === undefined) throw new WrongPassphraseError();
    if (!equalBytes(check, VERIFIER_PLAINTEXT)) {
      throw corrupt(metaPath, "the verifier decrypts to unexpected bytes");
    }
    return new KeyStore(dir, network, key);
  }

  /**
   * Generate a new key. secp256k1 keys are named `wallet-<address>` and ed25519 keys
   * `libp2p-host` unless `options.name` says otherwise. Throws KeyExistsError if the name is taken.
   */
  async generate(type: KeyType, options: KeyOptions = {}): Promise<KeyInfo> {
    checkKeyType(type);
    const privateKey = randomPrivateKey(type);
    try {
      return await this.#store(type, privateKey, options);
    } finally {
      privateKey.fill(0);
    }
  }

  /**
   * Import a raw 32-byte private key (a secp256k1 scalar or an ed25519 seed). The caller's buffer
   * is left as is; wiping it is the caller's business. Throws InvalidKeyError for bad bytes.
   */
  async import(type: KeyType, privateKey: Uint8Array, options: KeyOptions = {}): Promise<KeyInfo> {
    checkKeyType(type);
    const copy = privateKey.slice();
    try {
      return await this.#store(type, copy, options);
    } finally {
      copy.fill(0);
    }
  }

  /**
   * Import a key in Lotus `wallet export` format: the hex of the JSON
   * `{"Type":"secp256k1","PrivateKey":"<base64>"}`. Throws InvalidKeyError for malformed input
   * and UnsupportedKeyTypeError for BLS or delegated keys.
   */
  async importLotus(hexExport: string, options: KeyOptions = {}): Promise<KeyInfo> {
    const { type, privateKey } = parseLotusExport(hexExport);
    try {
      return await this.#store(type, privateKey, options);
    } finally {
      privateKey.fill(0);
    }
  }

  /**
   * All keys, sorted by name. Each file is authenticated (decrypted) on the way, except in an
   * `inspectOnly` store, where only its structure is checked.
   */
  async list(options: ListOptions = {}): Promise<KeyInfo[]> {
    const out: KeyInfo[] = [];
    for (const file of await this.#keyFiles()) {
      options.signal?.throwIfAborted();
      try {
        const name = decodeKeyFileName(join(this.dir, file));
        if (this.locked) {
          const record = await this.#readRecord(name);
          if (record) out.push(infoOf(record, this.network));
          continue;
        }
        out.push(await this.#withKey(name, (record) => infoOf(record, this.network)));
      } catch (err) {
        if (err instanceof CorruptRecordError && options.onCorrupt) {
          options.onCorrupt(err);
          continue;
        }
        throw err;
      }
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The key with this name, or the secp256k1 key with this f1/t1 address. */
  async info(nameOrAddress: string, options: AbortOptions = {}): Promise<KeyInfo> {
    const name = await this.#resolve(nameOrAddress, options);
    return await this.#withKey(name, (record) => infoOf(record, this.network));
  }

  /** True when a key has this name or address. Does not authenticate the file. */
  async has(nameOrAddress: string, options: AbortOptions = {}): Promise<boolean> {
    try {
      await this.#resolve(nameOrAddress, options);
      return true;
    } catch (err) {
      if (err instanceof KeyNotFoundError) return false;
      throw err;
    }
  }

  /** Delete a key file for good (there is no trash: back keys up first). */
  async delete(nameOrAddress: string, options: AbortOptions = {}): Promise<void> {
    const name = await this.#resolve(nameOrAddress, options);
    try {
      await Deno.remove(this.#pathOf(name));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) throw notFound(nameOrAddress);
      throw err;
    }
    await syncDir(this.dir);
  }

  /**
   * Sign `data` with a key. secp256k1: the 65-byte Filecoin signature `r || s || v` over
   * blake2b-256(data) (prefix the type byte 1 for Lotus's serialized form); ed25519: the 64-byte
   * signature over `data`.
   */
  async sign(
    nameOrAddress: string,
    data: Uint8Array,
    options: AbortOptions = {},
  ): Promise<Uint8Array> {
    const name = await this.#resolve(nameOrAddress, options);
    return await this.#withKey(
      name,
      (record, privateKey) => signWith(record.type, privateKey, data),
    );
  }

  /**
   * A signing capability for an ed25519 key, for the libp2p identity: it signs every Noise
   * handshake and gossip message, too often to read and decrypt its file each time, and libp2p
   * calls it synchronously. The decrypted seed goes into a runtime key object held only by the
   * returned `sign()` and is then wiped; the caller gets the public key and `sign()`, never the
   * seed.
   */
  async ed25519Signer(
    nameOrAddress: string = LIBP2P_HOST_KEY,
    options: AbortOptions = {},
  ): Promise<Ed25519Signer> {
    const name = await this.#resolve(nameOrAddress, options);
    const seed = await this.#withKey(name, (record, privateKey) => {
      if (record.type !== "ed25519") {
        throw new UnsupportedKeyTypeError(`key "${name}" is ${record.type}, not ed25519`);
      }
      return privateKey.slice();
    });
    const publicKey = publicKeyOf("ed25519", seed);
    const sign = ed25519SignerFor(seed, publicKey);
    seed.fill(0);
    return { publicKey, sign };
  }

  /** Check a signature made by one of this store's keys. See `KeyStore.verifySignature`. */
  async verify(
    nameOrAddress: string,
    signature: Uint8Array,
    data: Uint8Array,
    options: AbortOptions = {},
  ): Promise<boolean> {
    const info = await this.info(nameOrAddress, options);
    return verifyWithPublicKey(info.publicKey, signature, data);
  }

  /**
   * Check `signature` of `data` against a signer given as an f1/t1 address (Filecoin secp256k1
   * signature: recover the key, compare addresses, as Lotus) or as a public key (65/33-byte
   * secp256k1 or 32-byte ed25519). Returns false for anything that does not verify; throws
   * UnsupportedSignatureError for f3 (BLS) signers.
   */
  static verifySignature(
    signature: Uint8Array,
    data: Uint8Array,
    signer: string | Address | Uint8Array,
  ): boolean {
    return verifyKeySignature(signature, data, signer);
  }

  /**
   * ECIES-encrypt `plaintext` to a key's public key (layout documented on `eciesEncrypt` in
   * keystore_crypto.ts). Only the holder of the private key can decrypt.
   */
  async encrypt(
    nameOrAddress: string,
    plaintext: Uint8Array,
    options: AbortOptions = {},
  ): Promise<Uint8Array> {
    const info = await this.info(nameOrAddress, options);
    return await eciesEncrypt(info.type, info.publicKey, plaintext);
  }

  /** Decrypt an `encrypt()` ciphertext. Throws DecryptionError for tampered or foreign input. */
  async decrypt(
    nameOrAddress: string,
    ciphertext: Uint8Array,
    options: AbortOptions = {},
  ): Promise<Uint8Array> {
    const name = await this.#resolve(nameOrAddress, options);
    const { type, privateKey } = await this.#withKey(name, (record, privateKey) => ({
      type: record.type,
      privateKey: privateKey.slice(),
    }));
    try {
      return await eciesDecrypt(type, privateKey, ciphertext);
    } finally {
      privateKey.fill(0);
    }
  }

  // -- internals ------------------------------------------------------------------------------

  #pathOf(name: string): string {
    return join(this.dir, encodeKeyFileName(name));
  }

  /** Validate, seal and write a new key; `privateKey` stays the caller's to wipe. */
  async #store(type: KeyType, privateKey: Uint8Array, options: KeyOptions): Promise<KeyInfo> {
    checkPrivateKey(type, privateKey);
    this.#assertUnlocked();
    const publicKey = publicKeyOf(type, privateKey);
    const address = type === "secp256k1"
      ? Address.fromSecp256k1PublicKey(publicKey, this.network).toString()
      : undefined;
    const name = options.name ?? (address ? `${WALLET_KEY_PREFIX}${address}` : LIBP2P_HOST_KEY);
    checkKeyName(name);
    options.signal?.throwIfAborted();
    const file = encodeKeyFile({
      type,
      publicKey,
      encrypted: this.#key !== undefined,
      secret: this.#key
        ? await seal(this.#key, privateKey, keyAad(name, type, publicKey))
        : privateKey,
    });
    const written = await writeFileAtomic(this.#pathOf(name), file, NEW_FILE);
    if (!written) throw new KeyExistsError(`a key named "${name}" already exists`);
    return { name, type, ...(address ? { address } : {}), publicKey };
  }

  /**
   * Read and authenticate `name`'s key file, call `use` with its private key, then wipe the key.
   * Throws KeyNotFoundError, CorruptRecordError (naming the file) or InsecurePermissionsError.
   */
  async #withKey<T>(
    name: string,
    use: (record: KeyRecord, privateKey: Uint8Array) => T,
  ): Promise<T> {
    this.#assertUnlocked();
    const record = await this.#readRecord(name);
    if (record === undefined) throw notFound(name);
    let privateKey: Uint8Array;
    if (this.#key) {
      const opened = await unseal(
        this.#key,
        record.secret,
        keyAad(name, record.type, record.publicKey),
      );
      if (opened === undefined) {
        throw corrupt(record.path, "authentication failed (altered, or copied from another key)");
      }
      privateKey = opened;
    } else {
      privateKey = record.secret.slice();
    }
    try {
      try {
        checkPrivateKey(record.type, privateKey);
      } catch {
        throw corrupt(record.path, "the private key is invalid");
      }
      if (!equalBytes(publicKeyOf(record.type, privateKey), record.publicKey)) {
        throw corrupt(record.path, "the public key does not match the private key");
      }
      return use(record, privateKey);
    } finally {
      privateKey.fill(0);
    }
  }

  /** Parse a key file without authenticating it; `undefined` when there is no such file. */
  async #readRecord(name: string): Promise<KeyRecord | undefined> {
    const path = this.#pathOf(name);
    const bytes = await readPrivateFile(path);
    if (bytes === undefined) return undefined;
    return decodeKeyFile(path, name, bytes, this.#encrypted);
  }

  /** Key file names currently in the directory (not temp files, not the meta file). */
  async #keyFiles(): Promise<string[]> {
    const files: string[] = [];
    for await (const entry of Deno.readDir(this.dir)) {
      if (entry.name.startsWith(".") || !entry.name.endsWith(KEY_FILE_SUFFIX)) continue;
      files.push(entry.name);
    }
    return files.sort();
  }

  /**
   * Turn a name or an address into a key name: an existing key of that exact name wins;
   * otherwise an f1/t1 address maps to Lotus's `wallet-<address>` (either network prefix) or to
   * any secp256k1 key with that public key hash.
   */
  async #resolve(nameOrAddress: string, options: AbortOptions): Promise<string> {
    options.signal?.throwIfAborted();
    if (typeof nameOrAddress !== "string" || nameOrAddress.length === 0) {
      throw new InvalidKeyNameError("a key name or address is required");
    }
    if (isValidKeyName(nameOrAddress) && await exists(this.#pathOf(nameOrAddress))) {
      return nameOrAddress;
    }
    let address: Address;
    try {
      address = Address.fromString(nameOrAddress);
    } catch (err) {
      if (err instanceof InvalidAddressError) throw notFound(nameOrAddress);
      throw err;
    }
    if (address.protocol !== Protocol.SECP256K1) throw notFound(nameOrAddress);
    for (const net of [this.network, this.network === "f" ? "t" : "f"] as const) {
      const name = `${WALLET_KEY_PREFIX}${address.toString(net)}`;
      if (await exists(this.#pathOf(name))) return name;
    }
    for (const file of await this.#keyFiles()) {
      options.signal?.throwIfAborted();
      try {
        const name = decodeKeyFileName(join(this.dir, file));
        const record = await this.#readRecord(name);
        if (
          record?.type === "secp256k1" &&
          Address.fromSecp256k1PublicKey(record.publicKey).equals(address)
        ) return name;
      } catch (err) {
        // A damaged file elsewhere must not stop lookups of healthy keys.
        if (err instanceof CorruptRecordError || err instanceof InvalidAddressError) continue;
        throw err;
      }
    }
    throw notFound(nameOrAddress);
  }
}

/**
 * Standalone form of `KeyStore.verifySignature`: check `signature` of `data` against an f1/t1
 * address or a public key. Returns false when it does not verify.
 */
export function verifyKeySignature(
  signature: Uint8Array,
  data: Uint8Array,
  signer: string | Address | Uint8Array,
): boolean {
  if (signer instanceof Uint8Array) return verifyWithPublicKey(signer, signature, data);
  const address = typeof signer === "string" ? Address.fromString(signer) : signer;
  if (address.protocol === Protocol.BLS) {
    throw new UnsupportedSignatureError("BLS signature verification is not implemented yet");
  }
  // ID and actor addresses name no key by themselves (resolving them needs chain state): like
  // Lotus's sigs.Verify, the recovered f1 address simply does not match.
  if (address.protocol !== Protocol.SECP256K1) return false;
  const publicKey = recoverSecp256k1PublicKey(signature, data);
  return publicKey !== undefined && Address.fromSecp256k1PublicKey(publicKey).equals(address);
}

// -- helpers ----------------------------------------------------------------------------------

function infoOf(record: KeyRecord, network: Network): KeyInfo {
  const publicKey = record.publicKey.slice();
  if (record.type === "secp256k1") {
    const address = Address.fromSecp256k1PublicKey(publicKey, network).toString();
    return { name: record.name, type: record.type, address, publicKey };
  }
  return { name: record.name, type: record.type, publicKey };
}

function checkKeyType(type: string): asserts type is KeyType {
  if ((KEY_TYPES as readonly string[]).includes(type)) return;
  if (type === "bls") throw new UnsupportedKeyTypeError("BLS keys are not supported yet");
  throw new UnsupportedKeyTypeError(
    `unknown key type ${JSON.stringify(type)} (want ${KEY_TYPES.join(" or ")})`,
  );
}

function checkNetwork(network: string): void {
  if (network !== "f" && network !== "t") {
    throw new UsageError(`address network must be "f" or "t", got ${JSON.stringify(network)}`);
  }
}

function notFound(nameOrAddress: string): KeyNotFoundError {
  return new KeyNotFoundError(`no key named or addressed ${JSON.stringify(nameOrAddress)}`);
}
