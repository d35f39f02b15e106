/**
 * The spec's seam: only `repo/`, `filestore/`, `net/` and the control API's HTTP endpoint in `api/`
 * touch the OS disk or sockets; every other system reaches them through the FilecoinNode. This test scans `src/` and fails on a direct call.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));
/**
 * `api/` is a room of its own, not a system: the control API is a local HTTP endpoint that the
 * operator's CLI reaches, so its server (`Deno.serve` on the loopback port `API.ListenAddress`
 * names), its client (an HTTP client pinned to that address) and its token and endpoint files
 * (owner-only files in the root, checked before they are read) are OS access by nature. Handing
 * it a socket from `net/` would put an HTTP server's lifecycle in the libp2p network system.
 */
const ALLOWED_DIRS = ["repo", "filestore", "net", "api"];

/** Calls and imports that reach the disk or the network directly. */
const FORBIDDEN: readonly RegExp[] = [
  /\bDeno\.(open|openSync|create|createSync|readFile|readFileSync|readTextFile|readTextFileSync|writeFile|writeFileSync|writeTextFile|writeTextFileSync|readDir|readDirSync|remove|removeSync|rename|renameSync|mkdir|mkdirSync|makeTempDir|makeTempFile|stat|lstat|realPath|truncate|chmod|chown|symlink|link|copyFile|openKv|connect|connectTls|listen|listenTls|listenDatagram|startTls|serveHttp|serve|resolveDns|watchFs|Command|run)\b/,
  /from\s+["']node:(fs|fs\/promises|net|tls|dgram|http|https|http2|child_process)["']/,
  /\bfetch\s*\(/,
  /\bnew\s+WebSocket\b/,
];

/** Files outside the allowed folders that may touch the OS, each with the reason. */
const EXCEPTIONS: Record<string, string> = {};

async function* sourceFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

/** Violations in `text`: line numbers and the offending line. */
export function findDirectOsAccess(text: string): string[] {
  const hits: string[] = [];
  text.split("\n").forEach((line, i) => {
    const code = line.replace(/\/\/.*$/, "");
    if (/^\s*(\*|\/\*)/.test(code)) return; // JSDoc and block comments
    if (FORBIDDEN.some((re) => re.test(code))) hits.push(`${i + 1}: ${line.trim()}`);
  });
  return hits;
}

Deno.test("only repo/, filestore/, net/ and api/ touch the disk or sockets directly", async () => {
  const violations: string[] = [];
  for await (const path of sourceFiles(SRC)) {
    const rel = relative(SRC, path);
    if (ALLOWED_DIRS.includes(rel.split("/")[0]) || rel in EXCEPTIONS) continue;
    for (const hit of findDirectOsAccess(await Deno.readTextFile(path))) {
      violations.push(`src/${rel}:${hit}`);
    }
  }
  assertEquals(violations, []);
});

Deno.test("the isolation scan catches direct disk, socket and fetch calls", () => {
  assertEquals(findDirectOsAccess(`const f = await Deno.open("/etc/passwd");`).length, 1);
  assertEquals(findDirectOsAccess(`import { readFile } from "node:fs/promises";`).length, 1);
  assertEquals(findDirectOsAccess(`const c = await Deno.connect({ port: 1 });`).length, 1);
  assertEquals(findDirectOsAccess(`await fetch("http://x")`).length, 1);
  assertEquals(findDirectOsAccess(`// Deno.open is not used here`).length, 0);
  assertEquals(findDirectOsAccess(`const store = node.ipld;`).length, 0);
});
