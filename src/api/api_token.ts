/**
 * The two files through which the CLI finds and may use the running daemon's control API, as
 * Lotus keeps them in its repo:
 *
 * ```
 * <root>/token   the bearer token, 64 hex digits, owner-only (0600); kept across restarts
 * <root>/api     the API's multiaddr, e.g. /ip4/127.0.0.1/tcp/1234/http; present while it runs
 * ```
 *
 * Lotus's token is a JWT naming permissions (read, write, sign, admin) signed by a secret in its
 * keystore. Ours is an opaque random bearer token with full access: the API listens on loopback
 * only and every method is an operator's, so one secret is enough, and there is nothing to parse
 * or forge. Both files are written atomically (temp file + rename), so a reader never sees half.
 *
 * @example
 * ```ts ignore
 * const token = await loadOrCreateApiToken(root);
 * await writeApiFile(root, { hostname: "127.0.0.1", port: 1234 });
 * console.log(await readApiFile(root)); // { hostname: "127.0.0.1", port: 1234 }
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { timingSafeEqual } from "node:crypto";
import { sha256 } from "@noble/hashes/sha2";
import type { AbortOptions } from "../abort.ts";
import { UserError } from "../errors.ts";
import { readCappedFile, removeIfPresent, writeFileAtomic } from "../repo/fs_atomic.ts";
import { toHex } from "../hex.ts";

// ---------------------------------------------------------------------------------------------
// Constants

/** File names in the root, as Lotus names them. */
export const API_FILE_NAME = "api";
export const TOKEN_FILE_NAME = "token";

/** 32 random bytes: 256 bits, beyond guessing. */
const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^[0-9a-f]{64}$/;

/** Owner-only: whoever reads the token controls the node. */
const TOKEN_FILE_MODE = 0o600;
/** The api file holds no secret, but nobody else has business in the root either. */
const API_FILE_MODE = 0o600;

/** Both files are one short line; anything larger is not ours and is not read whole. */
const MAX_FILE_BYTES = 4096;

const IS_WINDOWS = Deno.build.os === "windows";

// ---------------------------------------------------------------------------------------------
// Errors

/** The `api` or `token` file is there but not in our format. */
export class ApiFileError extends UserError {}

// ---------------------------------------------------------------------------------------------
// Paths and the token

/** `<root>/api`. */
export function apiFilePath(root: string): string {
  return join(root, API_FILE_NAME);
}

/** `<root>/token`. */
export function tokenFilePath(root: string): string {
  return join(root, TOKEN_FILE_NAME);
}

/** A new token: 32 random bytes as 64 lower-case hex digits. */
export function generateApiToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(TOKEN_BYTES));
  return toHex(bytes);
}

/**
 * Compares a presented token with the real one in time that does not depend on where they
 * differ: both are hashed first, so even their lengths stay hidden.
 */
export function tokensEqual(presented: string, expected: string): boolean {
  const enc = new TextEncoder();
  return timingSafeEqual(sha256(enc.encode(presented)), sha256(enc.encode(expected)));
}

/** Options for {@link loadOrCreateApiToken}. */
export interface LoadTokenOptions extends AbortOptions {
  /** Write a new token even if a good one exists, cutting off every holder of the old one. */
  rotate?: boolean;
}

/**
 * The daemon's token: the one in `<root>/token` when it is well-formed and owner-only (so
 * scripts that read it keep working across restarts, as with Lotus), else a new one written
 * there with mode 0600. A token file others could read is replaced, not trusted.
 */
export async function loadOrCreateApiToken(
  root: string,
  options: LoadTokenOptions = {},
): Promise<string> {
  const path = tokenFilePath(root);
  if (!options.rotate) {
    const existing = await readSmallText(path, options);
    if (existing !== undefined && TOKEN_PATTERN.test(existing.trim())) {
      const info = await Deno.stat(path);
      const ownerOnly = IS_WINDOWS || info.mode === null || (info.mode & 0o077) === 0;
      if (ownerOnly && info.isFile) return existing.trim();
    }
  }
  const token = generateApiToken();
  await writeFileAtomic(path, token, { mode: TOKEN_FILE_MODE, signal: options.signal });
  return token;
}

/**
 * Reads `<root>/token` for a client.
 *
 * @returns undefined when there is no token file.
 * @throws ApiFileError when it is not a token.
 */
export async function readApiToken(
  root: string,
  options: AbortOptions = {},
): Promise<string | undefined> {
  const path = tokenFilePath(root);
  const text = await readSmallText(path, options);
  if (text === undefined) return undefined;
  const token = text.trim();
  if (!TOKEN_PATTERN.test(token)) {
    throw new ApiFileError(`${path} does not hold an API token (restart the daemon to renew it)`);
  }
  return token;
}

// ---------------------------------------------------------------------------------------------
// The api file

/** Where the API listens. */
export interface ApiEndpointAddress {
  hostname: string;
  port: number;
}

/** `/ip4/127.0.0.1/tcp/1234/http` (or `/ip6/::1/...`), as Lotus writes its `api` file. */
export function apiMultiaddr({ hostname, port }: ApiEndpointAddress): string {
  const host = hostname.replace(/^\[|\]$/g, "");
  if (host === "localhost") return `/dns/localhost/tcp/${port}/http`;
  return `/${host.includes(":") ? "ip6" : "ip4"}/${host}/tcp/${port}/http`;
}

/**
 * Parses the `api` file's multiaddr: `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>` with an
 * optional `/http` (Lotus writes it; older files lack it).
 *
 * @throws RangeError saying what is wrong.
 */
export function parseApiMultiaddr(text: string): ApiEndpointAddress {
  const m = /^\/(ip4|ip6|dns|dns4|dns6)\/([^/\s]+)\/tcp\/(\d{1,5})(\/http)?$/.exec(text.trim());
  if (!m) throw new RangeError(`not an API multiaddr: ${JSON.stringify(text.trim())}`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new RangeError(`port out of range: ${port}`);
  return { hostname: m[2], port };
}

/** Writes `<root>/api` atomically, once the server listens. */
export async function writeApiFile(
  root: string,
  address: ApiEndpointAddress,
  options: AbortOptions = {},
): Promise<void> {
  await writeFileAtomic(apiFilePath(root), apiMultiaddr(address), {
    mode: API_FILE_MODE,
    signal: options.signal,
  });
}

/**
 * Reads `<root>/api`.
 *
 * @returns undefined when there is no api file (no daemon has its API up).
 * @throws ApiFileError when the file is not an API multiaddr.
 */
export async function readApiFile(
  root: string,
  options: AbortOptions = {},
): Promise<ApiEndpointAddress | undefined> {
  const path = apiFilePath(root);
  const text = await readSmallText(path, options);
  if (text === undefined) return undefined;
  try {
    return parseApiMultiaddr(text);
  } catch (err) {
    throw new ApiFileError(
      `${path} is damaged: ${(err as Error).message} (delete it if no daemon is running)`,
    );
  }
}

/** Removes `<root>/api` at a clean stop; absent already is fine. */
export async function removeApiFile(root: string): Promise<void> {
  await removeIfPresent(apiFilePath(root));
}

/** A small UTF-8 file's text, undefined if absent; refuses files over MAX_FILE_BYTES. */
async function readSmallText(path: string, options: AbortOptions): Promise<string | undefined> {
  options.signal?.throwIfAborted();
  const bytes = await readCappedFile(path, MAX_FILE_BYTES);
  if (bytes === undefined) return undefined;
  if (bytes.length > MAX_FILE_BYTES) {
    throw new ApiFileError(`${path} is larger than ${MAX_FILE_BYTES} bytes: not ours`);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ApiFileError(`${path} is not text`);
  }
}
