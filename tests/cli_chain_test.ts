import { deepStrictEqual as assertEquals, equal, ok, rejects } from "node:assert/strict";
import { join } from "node:path";
import { ChainStore } from "../src/chain/chain_store.ts";
import { loadOrCreateGenesis } from "../src/chain/genesis.ts";
import { deserializeBlockHeader } from "../src/chain/types/mod.ts";
import { chainCommands } from "../src/cli/chain.ts";
import type { Command, ParsedArgs } from "../src/cli/command.ts";
import { genesisCommands, parseFil } from "../src/cli/genesis.ts";
import { initCommand } from "../src/cli/init.ts";
import { UsageError } from "../src/errors.ts";
import { KvIpldStore } from "../src/repo/kv_ipld_store.ts";
import { repoLayout } from "../src/repo/layout.ts";
import { chainOf, range, weightOf } from "./_chain.ts";
import { fakeCli } from "./_fake_cli.ts";
import { withTempDir } from "./_temp.ts";

const verb = (name: string): Command =>
  [...chainCommands.commands, ...genesisCommands.commands].find((c) => c.name === name)!;
const args = (
  positionals: string[],
  values: ParsedArgs["values"] = {},
): ParsedArgs => ({ positionals, values });

const vectors: { cbor_hex: string; cid: string }[] = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/chain/block_headers.json", import.meta.url)),
);

Deno.test("`chain decode-header` prints the CID and signing bytes, from an argument or stdin", async () => {
  const { ctx, out } = fakeCli("/nonexistent", true);
  await verb("decode-header").run(ctx, args([vectors[0].cbor_hex]));
  const result = JSON.parse(out[0]);
  equal(result.cid, vectors[0].cid);
  const signing = deserializeBlockHeader(
    Uint8Array.from(result.signingBytes.match(/../g), (b: string) => parseInt(b, 16)),
  );
  equal(signing.blockSig, null);
  equal(result.header.Height, 1);

  const stdin = fakeCli("/nonexistent");
  const withStdin = {
    ...stdin.ctx,
    readStdin: () => Promise.resolve(new TextEncoder().encode(`${vectors[1].cbor_hex}\n`)),
  };
  await verb("decode-header").run(withStdin, args(["-"]));
  ok(stdin.out[0].includes(vectors[1].cid));
  await rejects(verb("decode-header").run(ctx, args(["abc"])), UsageError);
});

Deno.test("`parseFil()` reads whole and fractional FIL", () => {
  equal(parseFil("1"), 10n ** 18n);
  equal(parseFil("0.5"), 5n * 10n ** 17n);
  equal(parseFil("0.000000000000000001"), 1n);
  for (const bad of ["", "-1", "1.", "1e3", "0.0000000000000000001"]) {
    let threw = false;
    try {
      parseFil(bad);
    } catch {
      threw = true;
    }
    ok(threw, bad);
  }
});

/** Opens a root's chain directly, as the daemon would. */
async function withRootChain(root: string, fn: (chain: ChainStore) => Promise<void>) {
  const kv = await Deno.openKv(repoLayout(root).kv);
  try {
    const ipld = new KvIpldStore(kv);
    const genesis = await loadOrCreateGenesis(kv, ipld, {
      networkName: "unused",
      timestamp: 0,
      blockDelay: 30,
    });
    await fn(await ChainStore.open(kv, ipld, genesis));
  } finally {
    kv.close();
  }
}

Deno.test("`genesis new` + `init --genesis` + `chain export` / `chain import` move a chain between roots", async () => {
  await withTempDir("filnode-cli-chain-", async (dir) => {
    const car = join(dir, "genesis.car");
    const made = fakeCli(dir, true);
    await verb("new").run(
      made.ctx,
      args([], {
        network: "cartest",
        timestamp: "1700000000",
        "block-delay": "4",
        account: ["f01234=1000"],
        miner: ["f01000"],
        out: car,
      }),
    );
    const genesisCid = JSON.parse(made.out[0]).genesis;

    const [a, b, c] = ["a", "b", "c"].map((n) => join(dir, n));
    for (const root of [a, b]) {
      await initCommand.run(fakeCli(root).ctx, args([], { devnet: true, genesis: car }));
    }
    await initCommand.run(fakeCli(c).ctx, args([], { devnet: true })); // another genesis

    let heights: string[] = [];
    await withRootChain(a, async (chain) => {
      equal(chain.genesis.toString(), genesisCid);
      equal(chain.networkName, "cartest");
      const tipsets = chainOf(chain.genesisTipSet, range(1, 6), { blocks: 2 });
      for (const t of tipsets) await chain.putTipSet(t);
      await chain.setHead(tipsets[5], weightOf(tipsets[5]));
      heights = tipsets.map((t) => t.key.toString());
    });

    const exported = join(dir, "chain.car");
    const ex = fakeCli(a, true);
    await verb("export").run(ex.ctx, args([exported]));
    equal(JSON.parse(ex.out[0]).height, 6);

    const im = fakeCli(b, true);
    await verb("import").run(im.ctx, args([exported]));
    const result = JSON.parse(im.out[0]);
    equal(result.headMoved, true, result.reason);
    equal(result.height, 6);
    await withRootChain(b, async (chain) => {
      equal(chain.head().height, 6);
      for (const [i, key] of heights.entries()) {
        equal((await chain.getTipSetByHeight(i + 1)).key.toString(), key);
      }
    });

    // A partial export (the top 2 tipsets) links only where the older part is already stored.
    const partial = join(dir, "partial.car");
    await verb("export").run(fakeCli(a).ctx, args([partial], { depth: "2" }));
    const other = fakeCli(c, true);
    await verb("import").run(other.ctx, args([partial]));
    const refused = JSON.parse(other.out[0]);
    equal(refused.headMoved, false);
    ok(refused.reason.includes("genesis"), refused.reason);
    await withRootChain(c, (chain) => {
      equal(chain.head().height, 0);
      assertEquals(chain.networkName, "devnet");
      return Promise.resolve();
    });
  });
});
