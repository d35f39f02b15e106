import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { join } from "node:path";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils";
import { base64pad } from "multiformats/bases/base64";
import { Address } from "../src/crypto/address.ts";
import { decodeSignature, SigType, verifySignature } from "../src/crypto/signature.ts";
import type { CommandContext, CommandGroup } from "../src/cli/command.ts";
import { SignatureInvalidError, walletCommands } from "../src/cli/wallet.ts";
import { CorruptRecordError, UsageError, UserError } from "../src/errors.ts";
import {
  DecryptionError,
  DEFAULT_PBKDF2_ITERATIONS,
  encodeKeyFileName,
  InsecurePermissionsError,
  InvalidKeyError,
  InvalidKeyNameError,
  KeyExistsError,
  KeyNotFoundError,
  KeyStore,
  KeyStoreExistsError,
  KeyStoreLockedError,
  KeyStoreNotFoundError,
  META_FILE,
  PassphraseRequiredError,
  UnsupportedKeyTypeError,
  verifyKeySignature,
  WrongPassphraseError,
} from "../src/repo/keystore.ts";
import { withTempDir } from "./_temp.ts";

/** Low PBKDF2 count so tests stay fast; one test checks the real default separately. */
const TEST_ITERATIONS = 1_000;
const PASS = "correct horse battery staple";
const IS_WINDOWS = Deno.build.os === "windows";
const enc = new TextEncoder();

// Published key from Zondax filecoin-signing-tools test vectors (Lotus export format uses the
// same base64 in {"Type":"secp256k1","PrivateKey":...}).
const VECTOR_KEY_B64 = "8VcW07ADswS4BV2cxi5rnIadVsyTDDhY1NfDH19T8Uo=";
const VECTOR_ADDRESS = "f1d2xrzcslx7xlbbylc5c3d5lvandqw4iwl6epxba";
// From the same project's key_derive test: private key hex -> public key -> mainnet address.
const DERIVED_PRIVATE_HEX = "80c56e752ffdd06e3e0d9516e662e7ba883982404045a2c2d4cbe7c87e6c66fe";
const DERIVED_PUBLIC_HEX =
  "04fc016f3d88dc7070cdd95b5754d32fd5290f850b7c2208fca0f715d35861de1841d9a342a487692a63810a6c906b443a18aa804d9d508d69facc5b06789a01b4";
const DERIVED_ADDRESS = "f1rovwtiuo5ncslpmpjftzu5akswbgsgighjazxoi";

function lotusExport(type: string, privateKeyB64: string): string {
  return bytesToHex(enc.encode(JSON.stringify({ Type: type, PrivateKey: privateKeyB64 })));
}

/** A fresh temp dir holding `keystore/`, removed after `fn`. */
function withKeystoreDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("filnode-keystore-test-", (root) => fn(join(root, "keystore")));
}

async function rejects<E extends Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (err) {
    assert(err instanceof type, `expected ${type.name}, got ${(err as Error)?.stack ?? err}`);
    if (includes) assert(err.message.includes(includes), `message: ${err.message}`);
    return err;
  }
  throw new Error(`expected ${type.name} to be thrown`);
}

function createStore(dir: string, network: "f" | "t" = "f"): Promise<KeyStore> {
  return KeyStore.create(dir, { passphrase: PASS, iterations: TEST_ITERATIONS, network });
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(path));
}

function includesBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

async function dirEntries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

// -- create / open ---------------------------------------------------------------------------

Deno.test("KeyStore.create() then open() with the passphrase sees the same keys", async () => {
  await withKeystoreDir(async (dir) => {
    const ks = await createStore(dir);
    assert(ks.encrypted);
    const a = await ks.generate("secp256k1");
    const b = await ks.generate("ed25519");
    const meta = await readJson(join(dir, META_FILE));
    assertEquals(meta.encryption, "aes-256-gcm");
    assertEquals((meta.kdf as Record<string, unknown>).name, "pbkdf2-sha256");
    assertEquals((meta.kdf as Record<string, unknown>).iterations, TEST_ITERATIONS);

    const again = await KeyStore.open(dir, { passphrase: PASS });
    const listed = await again.list();
    assertEquals(listed.map((k) => k.name), [a.name, b.name].sort());
    assertEquals((await again.info(a.address!)).publicKey, a.publicKey);
    assertEquals(
      await dirEntries(dir),
      [
        META_FILE,
        encodeKeyFileName(a.name),
        encodeKeyFileName(b.name),
      ].sort(),
    );
  });
});

Deno.test("KeyStore.create() defaults to a PBKDF2 count of at least 210000", async () => {
  assert(DEFAULT_PBKDF2_ITERATIONS >= 210_000);
  await withKeystoreDir(async (dir) => {
    await KeyStore.create(dir, { passphrase: PASS });
    const kdf = (await readJson(join(dir, META_FILE))).kdf as Record<string, unknown>;
    assertEquals(kdf.iterations, DEFAULT_PBKDF2_ITERATIONS);
    assertEquals(base64pad.baseDecode(kdf.salt as string).length, 16);
  });
});

Deno.test("KeyStore.open() throws WrongPassphraseError for a wrong passphrase", async () => {
  await withKeystoreDir(async (dir) => {
    await createStore(dir);
    const err = await rejects(
      () => KeyStore.open(dir, { passphrase: PASS + "!" }),
      WrongPassphraseError,
    );
    assertEquals(err.message, "wrong keystore passphrase");
    assert(err instanceof UserError);
  });
});

Deno.test("KeyStore.open() needs a passphrase for an encrypted store and a keystore to open", async () => {
  await withKeystoreDir(async (dir) => {
    await rejects(() => KeyStore.open(dir, {}), KeyStoreNotFoundError);
    await Deno.mkdir(dir, { mode: 0o700 });
    await rejects(() => KeyStore.open(dir, { passphrase: PASS }), KeyStoreNotFoundError);
    await Deno.remove(dir);
    await createStore(dir);
    await rejects(() => KeyStore.open(dir), PassphraseRequiredError);
    await rejects(() => KeyStore.open(dir, { passphrase: "" }), PassphraseRequiredError);
  });
});

Deno.test("KeyStore.create() refuses an existing store, a missing passphrase and mixed options", async () => {
  await withKeystoreDir(async (dir) => {
    await rejects(() => KeyStore.create(dir, {}), PassphraseRequiredError);
    await rejects(() => KeyStore.create(dir, { passphrase: "" }), PassphraseRequiredError);
    await rejects(() => KeyStore.create(dir, { passphrase: PASS, insecure: true }), UsageError);
    await rejects(() => KeyStore.create(dir, { passphrase: PASS, iterations: 0 }), UsageError);
    const ks = await createStore(dir);
    const key = await ks.generate("secp256k1");
    await rejects(() => createStore(dir), KeyStoreExistsError);
    await rejects(() => KeyStore.create(dir, { insecure: true }), KeyStoreExistsError);
    // The existing store is untouched.
    const again = await KeyStore.open(dir, { passphrase: PASS });
    assertEquals((await again.info(key.name)).address, key.address);
  });
});

Deno.test("KeyStore.open() throws CorruptRecordError for a damaged keystore.json", async () => {
  await withKeystoreDir(async (dir) => {
    await createStore(dir);
    const meta = join(dir, META_FILE);
    await Deno.writeTextFile(meta, "{not json");
    const err = await rejects(() => KeyStore.open(dir, { passphrase: PASS }), CorruptRecordError);
    assert(err.message.includes(META_FILE));
    await Deno.writeTextFile(meta, JSON.stringify({ format: "filnode-keystore", version: 1 }));
    await rejects(() => KeyStore.open(dir, { passphrase: PASS }), CorruptRecordError);
  });
});

Deno.test("insecure KeyStore stores keys unencrypted, says so, and opens without a passphrase", async () => {
  await withKeystoreDir(async (dir) => {
    const ks = await KeyStore.create(dir, { insecure: true });
    assert(!ks.encrypted);
    const key = await ks.import("secp256k1", base64pad.baseDecode(VECTOR_KEY_B64));
    assertEquals(key.address, VECTOR_ADDRESS);
    assertEquals((await readJson(join(dir, META_FILE))).encryption, "none");
    const opened = await KeyStore.open(dir);
    const sig = await opened.sign(VECTOR_ADDRESS, enc.encode("hi"));
    assert(KeyStore.verifySignature(sig, enc.encode("hi"), VECTOR_ADDRESS));
    // Proof that the plaintext scan in the next test can see a key when one is there.
    const file = await Deno.readFile(join(dir, encodeKeyFileName(key.name)));
    assert(includesBytes(file, enc.encode(VECTOR_KEY_B64)));
  });
});

Deno.test("encrypted key files hold neither the raw key, its hex nor its base64", async () => {
  await withKeystoreDir(async (dir) => {
    const ks = await createStore(dir);
    const raw = base64pad.baseDecode(VECTOR_KEY_B64);
    await ks.import("secp256k1", raw);
    const ed = crypto.getRandomValues(new Uint8Array(32));
    await ks.import("ed25519", ed, { name: "libp2p-host" });
    for (const name of await dirEntries(dir)) {
      const bytes = await Deno.readFile(join(dir, name));
      for (const secret of [raw, ed]) {
        assert(!includesBytes(bytes, secret), `${name} contains raw key bytes`);
        for (const text of [bytesToHex(secret), bytesToHex(secret).toUpperCase()]) {
          assert(!includesBytes(bytes, enc.encode(text)), `${name} contains the key as hex`);
        }
        assert(!includesBytes(bytes, enc.encode(base64pad.baseEncode(secret))), `${name} base64`);
      }
    }
  });
});

Deno.test({
  name: "KeyStore keeps its directory 0o700 and every file 0o600",
  ignore: IS_WINDOWS,
  fn: async () => {
    await withKeystoreDir(async (dir) => {
      const ks = await createStore(dir);
      await ks.generate("secp256k1");
      await ks.generate("ed25519");
      assertEquals((await Deno.stat(dir)).mode! & 0o777, 0o700);
      for (const name of await dirEntries(dir)) {
        assertEquals((await Deno.stat(join(dir, name))).mode! & 0o777, 0o600, name);
      }
    });
  },
});

Deno.test({
  name: "KeyStore refuses key files and directories other users can read",
  ignore: IS_WINDOWS,
  fn: async () => {
    await withKeystoreDir(async (dir) => {
      const ks = await createStore(dir);
      const key = await ks.generate("secp256k1");
      const file = join(dir, encodeKeyFileName(key.name));
      await Deno.chmod(file, 0o644);
      const err = await rejects(() => ks.sign(key.name, enc.encode("x")), InsecurePermissionsError);
      assert(err.message.includes(file) && err.message.includes("chmod 600"));
      await Deno.chmod(file, 0o600);
      await Deno.chmod(dir, 0o755);
      await rejects(() => KeyStore.open(dir, { passphrase: PASS }), InsecurePermissionsError);
      await Deno.chmod(dir, 0o700);
      await KeyStore.open(dir, { passphrase: PASS });
    });
  },
});

// -- keys ------------------------------------------------------------------------------------

Deno.test("KeyStore.sign() works by name and by f/t address; signatures verify", async () => {
  await withKeystoreDir(async (dir) => {
    const ks = await createStore(dir);
    const key = await ks.generate("secp256k1");
    assert(key.address!.startsWith("f1"));
    assertEquals(key.name, `wallet-${key.address}`);
    assertEquals(key.publicKey.length, 65);
    assertEquals(Object.keys(key).sort(), ["address", "name", "publicKey", "type"]);
    const data = enc.encode("message bytes");
    const byName = await ks.sign(key.name, data);
    const byAddress = await ks.sign(key.address!, data);
    const byTestnet = await ks.sign("t" + key.address!.slice(1), data);
    assertEquals(byName.length, 65);
    assertEquals(bytesToHex(byName), bytesToHex(byAddress)); // RFC 6979: deterministic
    assertEquals(bytesToHex(byName), bytesToHex(byTestnet));
    assert(KeyStore.verifySignature(byName, data, key.address!));
    assert(KeyStore.verifySignature(byName, data, key.publicKey));
    assert(verifySignature({ type: SigType.SECP256K1, data: byName }, data, key.address!));
    assert(await ks.verify(key.name, byName, data));
    const tampered = data.slice();
    tampered[0] ^= 1;
    assert(!KeyStore.verifySignature(byName, tampered, key.address!));
    const other = await ks.generate("secp256k1");
    assert(!KeyStore.verifySignature(byName, data, other.address!));
    assert(!KeyStore.verifySignature(byName, data, other.publicKey));
  });
});

Deno.test("KeyStore ed25519 keys: default name libp2p-host, 64-byte signatures, no address", async () => {
  await withKeystoreDir(async (dir) => {
    const ks = await createStore(dir);
    const key = await ks.generate("ed25519");
    assertEquals(key.name, "libp2p-host");
    assertEquals(key.address, undefined);
    assertEquals(key.publicKey.length, 32);
    const data = enc.encode("libp2p record");
    const sig = await ks.sign("libp2p-host", data);
    assertEquals(sig.length, 64);
    assert(verifyKeySignature(sig, data, key.publicKey));
    assert(!verifyKeySignature(sig, enc.encode("other"), key.publicKey));
    await rejects(() => ks.generate("ed25519"), KeyExistsError);
  });
});

Deno.test("KeyStore.import() derives the published public key and address of a raw key", async () => {
  await withKeystoreDir(async (dir) => {
    const ks = await createStore(dir);
    const raw = hexToBytes(DERIVED_PRIVATE_HEX);
    const key = await ks.import("secp256k1", raw);
    assertEquals(key.address, DERIVED_ADDRESS);
    assertEquals(bytesToHex(key.publicKey), DERIVED_PUBLIC_HEX);
    assertEquals(bytesToHex(raw), DERIVED_PRIVATE_HEX, "caller's buffer is left intact");
    await rejects(() => ks.import("secp256k1", raw), KeyExistsError);
    await rejects(() => ks.import("secp256k1", new Uint8Array(32)), InvalidKeyError);
    await rejects(() => ks.import("secp256k1", new Uint8Array(31).fill(1)), InvalidKeyError);
    await rejects(
      () => ks.import("secp256k1", hexToBytes("ff".repeat(32))),
      InvalidKeyError,
      "out of range",
    );
    // deno-lint-ignore no-explicit-any
    await rejects(() => ks.generate("bls" as any), UnsupportedKeyTypeError);
  });
});

Deno.test("KeyStore.importLotus() reads Lotus `wallet export` hex and rejects malformed input", async () => {
  await withKeystoreDir(async (dir) => {
    const ks = await createStore(dir);
    const key = await ks.importLotus(lotusExport("secp256k1", VECTOR_KEY_B64));
    assertEquals(key.address, VECTOR_ADDRESS);
    assertEquals(key.name, `wallet-${VECTOR_ADDRESS}`);
    await rejects(() => ks.importLotus(lotusExport("secp256k1", VECTOR_KEY_B64)), KeyExistsError);
    await rejects(() => ks.importLotus("zz"), InvalidKeyError);
    await rejects(() => ks.importLotus("abc"), InvalidKeyError);
    await rejects(() => ks.importLotus(bytesToHex(enc.encode("[1,2]"))), InvalidKeyError);
    await rejects(() => ks.importLotus(bytesToHex(enc.encode("not json"))), InvalidKeyError);
    await rejects(
      () => ks.importLotus(lotusExport("bls", VECTOR_KEY_B64)),
      UnsupportedKeyTypeError,
    );
    await rejects(() => ks.importLotus(lotusExport("secp256k1", "!!!")), InvalidKeyError);
    await rejects(
      () => ks.importLotus(lotusExport("secp256k1", base64pad.baseEncode(new Uint8Array(16)))),
      InvalidKeyError,
    );
    assertEquals((await ks.list()).length, 1);
  });
});

Deno.test("KeyStore with network t names keys t1... and still finds them by f1 address", async () => {
  await withKeystoreDir(async (dir) => {
    const ks = await createStore(dir, "t");
    const key = await ks.importLotus(lotusExport("secp256k1", VECTOR_KEY_B64));
    assertEquals(key.address, "t" + VECTOR_ADDRESS.slice(1));
    assertEquals(key.name, `wallet-t${VECTOR_ADDRESS.slice(1)}`);
    assert(await ks.has(VECTOR_ADDRESS));
    const reopened = await KeyStore.open(dir, { passphrase: PASS, network: "f" });
    assertEquals((await reopened.info(key.address!)).address, VECTOR_ADDRESS);
  });
});

Deno.test("KeyStore finds a custom-named secp256k1 key by its address", async () => {
  await withKeystoreDir(async (dir) => {
    const ks = await createStore(dir);
    const key = await ks.generate("secp256k1", { name: "hot wallet / ../../etc" });
    assertEquals((await ks.info(key.address!)).name, "hot wallet / ../../etc");
    assertEquals((await dirEntries(dir)).length, 2, "the name never escapes the directory");
    await rejects(() => ks.generate("secp256k1", { name: "" }), InvalidKeyNameError);
    await rejects(() => ks.generate("secp256k1", { name: "a\nb" }), InvalidKeyNameError);
    await rejects(() => ks.generate("secp256k1", { name: "x".repeat(129) }), InvalidKeyNameError);
    await rejects(() => ks.info("f01234"), KeyNotFoundError);
    await rejects(() => ks.info("no such key"), KeyNotFoundError);
    assert(!(await ks.has("f1d2xrzcslx7xlbbylc5c3d5lvandqw4iwl6epxba")));
  });
});

Deno.test("KeyStore.delete() removes a key for good", async () => {
  await withKeystoreDir(async (dir) => {
    const ks = await createStore(dir);
    const key = await ks.generate("secp256k1");
    const keep = await ks.generate("secp256k1");
    assert(await ks.has(key.address!));
    await ks.delete(key.address!);
    assert(!(await ks.has(key.address!)));
    await rejects(() => ks.info(key.name), KeyNotFoundError);
    await rejects(() => ks.delete(key.name), KeyNotFoundError);
    assertEquals((await ks.list()).map((k) => k.name), [keep.name]);
  });
});

Deno.test("a corrupt key file throws CorruptRecordError naming it; other keys keep working", async () => {
  await withKeystoreDir(async (dir) => {
    const ks = await createStore(dir);
    const bad = await ks.generate("secp256k1");
    const good = await ks.generate("secp256k1");
    const badPath = join(dir, encodeKeyFileName(bad.name));
    const record = await readJson(badPath);
    const sealed = base64pad.baseDecode(record.sealed as string);
    sealed[20] ^= 1;
    record.sealed = base64pad.baseEncode(sealed);
    await Deno.writeTextFile(badPath, JSON.stringify(record));

    const err = await rejects(() => ks.sign(bad.name, enc.encode("x")), CorruptRecordError);
    assert(err.message.includes(badPath), err.message);
    const sig = await ks.sign(good.address!, enc.encode("x"));
    assert(KeyStore.verifySignature(sig, enc.encode("x"), good.address!));
    await rejects(() => ks.list(), CorruptRecordError);
    const reported: string[] = [];
    const listed = await ks.list({ onCorrupt: (e) => reported.push(e.message) });
    assertEquals(listed.map((k) => k.name), [good.name]);
    assertEquals(reported.length, 1);
    assert(reported[0].includes(badPath));

    await Deno.writeTextFile(badPath, "garbage");
    await rejects(() => ks.info(bad.name), CorruptRecordError, badPath);
  });
});

Deno.test("a key file copied over another key's name fails authentication", async () => {
  await withKeystoreDir(async (dir) => {
    const ks = await createStore(dir);
    const a = await ks.generate("secp256k1");
    const b = await ks.generate("secp256k1");
    const pathB = join(dir, encodeKeyFileName(b.name));
    await Deno.writeFile(pathB, await Deno.readFile(join(dir, encodeKeyFileName(a.name))));
    await rejects(() => ks.sign(b.name, enc.encode("x")), CorruptRecordError, pathB);
    // An unencrypted record planted in an encrypted store is refused too.
    await Deno.writeTextFile(
      pathB,
      JSON.stringify({
        format: "filnode-key",
        version: 1,
        type: "secp256k1",
        publicKey: base64pad.baseEncode(b.publicKey),
        encryption: "none",
        privateKey: VECTOR_KEY_B64,
      }),
    );
    await rejects(() => ks.sign(b.name, enc.encode("x")), CorruptRecordError);
  });
});

Deno.test("KeyStore.encrypt()/decrypt() round-trip for both key types and reject tampering", async () => {
  await withKeystoreDir(async (dir) => {
    const ks = await createStore(dir);
    const secp = await ks.generate("secp256k1");
    const ed = await ks.generate("ed25519");
    const other = await ks.generate("secp256k1");
    for (const key of [secp, ed]) {
      const plaintext = enc.encode(`secret for ${key.name}`);
      const ct = await ks.encrypt(key.name, plaintext);
      assert(!includesBytes(ct, plaintext));
      assertEquals(await ks.decrypt(key.name, ct), plaintext);
      const again = await ks.encrypt(key.name, plaintext);
      assert(bytesToHex(again) !== bytesToHex(ct), "fresh ephemeral key per message");
      for (const index of [0, 1, ct.length - 30, ct.length - 1]) {
        const bad = ct.slice();
        bad[index] ^= 1;
        await rejects(() => ks.decrypt(key.name, bad), DecryptionError);
      }
      await rejects(() => ks.decrypt(key.name, ct.subarray(0, 20)), DecryptionError);
      await rejects(() => ks.decrypt(key.name, new Uint8Array(0)), DecryptionError);
      assertEquals(
        await ks.decrypt(key.name, await ks.encrypt(key.name, new Uint8Array(0))),
        new Uint8Array(0),
      );
    }
    const ct = await ks.encrypt(secp.address!, enc.encode("for secp only"));
    await rejects(() => ks.decrypt(other.address!, ct), DecryptionError);
    await rejects(() => ks.decrypt(ed.name, ct), DecryptionError);
  });
});

Deno.test("KeyStore leaves no temp files behind", async () => {
  await withKeystoreDir(async (dir) => {
    const ks = await createStore(dir);
    await ks.generate("secp256k1");
    await rejects(
      () => ks.generate("ed25519", { name: "x" }).then(() => ks.generate("ed25519", { name: "x" })),
      KeyExistsError,
    );
    assert((await dirEntries(dir)).every((n) => !n.startsWith(".")));
  });
});

// -- wallet CLI ------------------------------------------------------------------------------

interface FakeContext extends CommandContext {
  out: string[];
  logs: string[];
}

function fakeContext(root: string, options: { json?: boolean; stdin?: string } = {}): FakeContext {
  const out: string[] = [];
  const logs: string[] = [];
  return {
    root,
    json: options.json ?? false,
    debug: false,
    signal: new AbortController().signal,
    env: () => undefined,
    print(data, human) {
      out.push(this.json ? JSON.stringify(data) : human());
    },
    log(line) {
      logs.push(line);
    },
    readStdin: () => Promise.resolve(enc.encode(options.stdin ?? "")),
    out,
    logs,
  };
}

async function run(
  group: CommandGroup,
  ctx: CommandContext,
  verb: string,
  ...positionals: string[]
): Promise<void> {
  const cmd = group.commands.find((c) => c.name === verb);
  assert(cmd, `no command ${verb}`);
  const [min, max] = cmd.arity ?? [0, Infinity];
  assert(positionals.length >= min && positionals.length <= max, `${verb} arity`);
  await cmd.run(ctx, { positionals, values: {} });
}

async function withWallet(
  fn: (group: CommandGroup, root: string, ks: KeyStore) => Promise<void>,
): Promise<void> {
  await withKeystoreDir(async (dir) => {
    const ks = await createStore(dir);
    let opens = 0;
    const group = walletCommands(() => {
      opens++;
      return KeyStore.open(dir, { passphrase: PASS });
    });
    await fn(group, dir, ks);
    assert(opens > 0);
  });
}

Deno.test("wallet new/list print addresses as text and JSON", async () => {
  await withWallet(async (wallet, root, ks) => {
    const ctx = fakeContext(root);
    await run(wallet, ctx, "new");
    await run(wallet, ctx, "new", "secp256k1");
    const [a, b] = ctx.out;
    Address.fromString(a);
    assert(a.startsWith("f1") && b.startsWith("f1") && a !== b);
    await ks.generate("ed25519"); // not a wallet key: not listed

    const text = fakeContext(root);
    await run(wallet, text, "list");
    assertEquals(text.out[0].split("\n").sort(), [`${a}  secp256k1`, `${b}  secp256k1`].sort());

    const json = fakeContext(root, { json: true });
    await run(wallet, json, "list");
    const rows = JSON.parse(json.out[0]) as { address: string; type: string }[];
    assertEquals(rows.map((r) => r.address).sort(), [a, b].sort());
    assert(rows.every((r) => r.type === "secp256k1"));

    const jsonNew = fakeContext(root, { json: true });
    await run(wallet, jsonNew, "new");
    assertEquals(JSON.parse(jsonNew.out[0]).type, "secp256k1");
    await rejects(() => run(wallet, ctx, "new", "bls"), UsageError);
    await rejects(() => run(wallet, ctx, "new", "ed25519"), UsageError);
  });
});

Deno.test("wallet sign prints Lotus type-prefixed hex and wallet verify accepts it", async () => {
  await withWallet(async (wallet, root, ks) => {
    const key = await ks.importLotus(lotusExport("secp256k1", VECTOR_KEY_B64));
    const ctx = fakeContext(root);
    await run(wallet, ctx, "sign", key.address!, "deadbeef");
    const sigHex = ctx.out[0];
    assertEquals(sigHex.length, 132);
    assert(sigHex.startsWith("01"));
    const sig = decodeSignature(hexToBytes(sigHex));
    assert(verifySignature(sig, hexToBytes("deadbeef"), key.address!));

    await run(wallet, ctx, "verify", key.address!, "deadbeef", sigHex);
    assertEquals(ctx.out[1], "valid");
    const json = fakeContext(root, { json: true });
    await run(wallet, json, "verify", key.address!, "deadbeef", sigHex);
    assertEquals(JSON.parse(json.out[0]), { valid: true });

    const err = await rejects(
      () => run(wallet, ctx, "verify", key.address!, "deadbeee", sigHex),
      SignatureInvalidError,
    );
    assertEquals(err.message, "signature invalid");
    assert(err instanceof UserError);
    const other = await ks.generate("secp256k1");
    await rejects(() => run(wallet, ctx, "verify", other.address!, "deadbeef", sigHex), UserError);
  });
});

Deno.test("wallet sign/verify name the malformed argument in a UsageError", async () => {
  await withWallet(async (wallet, root, ks) => {
    const key = await ks.generate("secp256k1");
    const ctx = fakeContext(root);
    await rejects(() => run(wallet, ctx, "sign", key.address!, "xyz"), UsageError, "HEXDATA");
    await rejects(() => run(wallet, ctx, "sign", key.address!, "abc"), UsageError, "HEXDATA");
    await rejects(() => run(wallet, ctx, "sign", "f1nope", "00"), UsageError, "ADDRESS");
    await rejects(() => run(wallet, ctx, "sign", "f01234", "00"), UsageError, "ADDRESS");
    await rejects(() => run(wallet, ctx, "verify", key.address!, "00", "zz"), UsageError, "HEXSIG");
    await rejects(
      () => run(wallet, ctx, "verify", key.address!, "0g", "01"),
      UsageError,
      "HEXDATA",
    );
    await rejects(() => run(wallet, ctx, "verify", key.address!, "00", ""), UsageError, "HEXSIG");
    // A well-formed address with no key in the store.
    await rejects(() => run(wallet, ctx, "sign", VECTOR_ADDRESS, "00"), KeyNotFoundError);
  });
});

Deno.test("wallet import takes a Lotus export as argument or on stdin", async () => {
  await withWallet(async (wallet, root) => {
    const ctx = fakeContext(root);
    await run(wallet, ctx, "import", lotusExport("secp256k1", VECTOR_KEY_B64));
    assertEquals(ctx.out[0], VECTOR_ADDRESS);

    const stdin = fakeContext(root, {
      json: true,
      stdin: lotusExport("secp256k1", base64pad.baseEncode(hexToBytes(DERIVED_PRIVATE_HEX))) + "\n",
    });
    await run(wallet, stdin, "import");
    assertEquals(JSON.parse(stdin.out[0]), { address: DERIVED_ADDRESS, type: "secp256k1" });

    await rejects(() => run(wallet, ctx, "import", "not hex"), UsageError, "HEX");
    await rejects(() => run(wallet, fakeContext(root, { stdin: "" }), "import", "-"), UsageError);
    await rejects(() => run(wallet, ctx, "import", lotusExport("bls", VECTOR_KEY_B64)), UserError);
  });
});

Deno.test("wallet list reports damaged key files on stderr and lists the rest", async () => {
  await withWallet(async (wallet, root, ks) => {
    const good = await ks.generate("secp256k1");
    const bad = await ks.generate("secp256k1");
    await Deno.writeTextFile(join(root, encodeKeyFileName(bad.name)), "{}");
    const ctx = fakeContext(root);
    await run(wallet, ctx, "list");
    assertEquals(ctx.out[0], `${good.address}  secp256k1`);
    assertEquals(ctx.logs.length, 1);
    assert(ctx.logs[0].startsWith("warning: damaged keystore file"));
  });
});

Deno.test("`KeyStore.open({ inspectOnly })` lists an encrypted store without a passphrase but cannot use keys", async () => {
  await withTempDir("filnode-ks-inspect-", async (dir) => {
    const ksDir = `${dir}/keystore`;
    const ks = await KeyStore.create(ksDir, { passphrase: "inspect me", iterations: 1000 });
    const { address } = await ks.generate("secp256k1");
    const inspected = await KeyStore.open(ksDir, { inspectOnly: true });
    assertEquals(inspected.locked, true);
    assertEquals((await inspected.list())[0].address, address);
    await rejects(() => inspected.sign(address!, new Uint8Array([1])), KeyStoreLockedError);
    await rejects(() => inspected.generate("secp256k1"), KeyStoreLockedError);
  });
});
