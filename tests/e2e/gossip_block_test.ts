/**
 * The whole route of a gossiped block, between six real daemons on 127.0.0.1 on one devnet: one
 * of them publishes a valid block on top of the shared head (made here with the devnet block
 * maker and a well-known devnet miner key, published through the control API's
 * `Filnode.GossipPublish`), and each of the five others validates it on gossip, takes it (its
 * messages by CID, full validation on its parent), moves its head to it and logs the head change
 * (`head changed: height H (+1 -0) <cid>`, the chain store's head-changed event, `src/node.ts`);
 * `filnode chain head` on each names it.
 *
 * A block that fails validation (a signature that is not its miner's) is taken by no one: the
 * daemon refuses to publish it, and when a peer that does not validate (a raw gossipsub host,
 * `fixtures/raw_gossip_publisher.ts`) sends it to every daemon anyway, each rejects it, marks the
 * sender down, and keeps its head.
 *
 * Every wait polls state or waits for a log line, with bounds meant for a loaded 2-core machine.
 */
import { equal, match, ok, rejects } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { DEVNET_MINER_SEEDS } from "../../src/chain/genesis.ts";
import {
  type BlockHeader,
  blockHeaderCid,
  deserializeBlockHeader,
  serializeBlockMsg,
  serializeSignedMessage,
  TipSet,
} from "../../src/chain/types/mod.ts";
import { DevnetConsensus } from "../../src/consensus/devnet_consensus.ts";
import { makeDevnetTipSet, signDevnetTransfer } from "../../src/consensus/devnet_block_maker.ts";
import { devnetMinerFromSeed } from "../../src/crypto/devnet_key.ts";
import { grow, type Head, head, key, waitForHead } from "./chain_harness.ts";
import { filnode, LineProcess } from "./harness.ts";
import { base64, Devnet, type DevnetNode, poll, reputationOf } from "./network_harness.ts";

/** The shared chain under the gossiped block: grown in the first node, synced by the rest. */
const BASE_LENGTH = 20;
/** Daemons in the devnet: one publisher and five that must take its block. */
const NODES = 6;
/** Bound for start-up, discovery and a short sync on a loaded 2-core machine. */
const SETTLE_MS = 120_000;
/** Bound for a gossip message to reach and be handled by every node. */
const GOSSIP_MS = 60_000;
const FIXTURE = fileURLToPath(new URL("./fixtures/raw_gossip_publisher.ts", import.meta.url));

interface GossipStats {
  received: { blocks: number; msgs: number };
  rejected: { blocks: number; msgs: number };
  recent: string[];
}
const stats = (n: DevnetNode) => n.call<GossipStats>("Filnode.GossipStats");

/** The invalid-message penalty, less some decay. */
const INVALID_PENALTY_AT_LEAST = -90;

/** The tipset `h` names, rebuilt from its headers' raw bytes (`Filecoin.ChainReadObj`). */
async function tipsetOf(node: DevnetNode, h: Head): Promise<TipSet> {
  const headers: BlockHeader[] = [];
  for (const cid of h.Cids) {
    const b64 = await node.call<string>("Filecoin.ChainReadObj", [cid]);
    headers.push(deserializeBlockHeader(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))));
  }
  return TipSet.fromBlocks(headers);
}

/** The `head changed: ...` line the daemon logs when its head becomes the one-block tipset. */
function headChangedLine(height: number, cid: string): string {
  return `head changed: height ${height} (+1 -0) ${cid}`;
}

Deno.test("a gossiped block reaches five daemons: each validates it, moves its head, logs it", async (t) => {
  const net = await Devnet.create();
  const fixtures: LineProcess[] = [];
  try {
    const first = await net.addNode({ start: false });
    await grow(first, BASE_LENGTH);
    await first.start();
    const base = await head(first);
    equal(base.Height, BASE_LENGTH);
    const rest = await Promise.all(
      Array.from({ length: NODES - 1 }, () => net.addNode({ bootstrappers: [first.addr] })),
    );
    const nodes = [first, ...rest];
    // The publisher is not the bootnode: its block must travel through the mesh, not a star.
    const publisher = rest[rest.length - 1];
    const others = nodes.filter((n) => n !== publisher);

    await t.step("all six share the head and hear each other's gossip", async () => {
      await Promise.all(nodes.map((n) => waitForHead(n, base, SETTLE_MS)));
      // A signed message from the publisher, seen by every other node: the gossip routes the
      // block will take are up (both topics are joined together, at start).
      const sender = devnetMinerFromSeed("gossip block e2e sender");
      const probe = signDevnetTransfer(sender, BigInt(Date.now()));
      const id = await publisher.call<string>("Filnode.GossipPublish", [
        "msgs",
        base64(serializeSignedMessage(probe)),
      ]);
      let missing: string[] = [];
      await poll(async () => {
        const all = await Promise.all(others.map(stats));
        missing = others.filter((_, i) => !all[i].recent.includes(id)).map((n) => n.name);
        return missing.length === 0 ? true : undefined;
      }, { timeoutMs: SETTLE_MS, describe: () => `the probe never reached ${missing}` });
    });

    // The chain each node holds: the block is made on it as a devnet miner would make it.
    const parent = await tipsetOf(publisher, base);
    const miners = DEVNET_MINER_SEEDS.map((s) => devnetMinerFromSeed(s));
    const consensus = new DevnetConsensus(miners.map((m) => m.address));
    const parentWeight = consensus.weight(parent, parent.blocks[0].parentWeight);
    const { BlockDelay } = await publisher.call<{ BlockDelay: number }>("Filecoin.Version");

    await t.step(
      "a valid block published by one node becomes the head of the five others",
      async () => {
        const made = makeDevnetTipSet(parent, parentWeight, {
          miners: [miners[1]],
          blockDelay: BlockDelay,
          consensus,
          salt: "gossip block e2e",
        });
        const block = made.tipset.blocks[0];
        const cid = blockHeaderCid(block).toString();
        const height = BASE_LENGTH + 1;
        const bytes = serializeBlockMsg({ header: block, blsMessages: [], secpkMessages: [] });
        const started = Date.now();
        const id = await publisher.call<string>("Filnode.GossipPublish", ["blocks", base64(bytes)]);
        equal(id.length, 64, "a blake2b-256 message ID in hex");

        // Each of the five: the head-changed line with the block's CID, from its own chain store.
        const line = headChangedLine(height, cid);
        // ...and the syncer's own line, written once the head has moved: the block went the
        // gossip path (validated on its stored parent, messages by CID), not a chain exchange.
        const took = `sync: took gossip block ${cid} at height ${height} (0 messages by CID)`;
        await Promise.all(others.map(async (n) => {
          await n.process.waitForLine("stderr", (l) => l === line, GOSSIP_MS);
          await n.process.waitForLine("stderr", (l) => l === took, GOSSIP_MS);
        }));
        const ms = Date.now() - started;
        const want: Head = { Cids: [{ "/": cid }], Height: height };
        for (const n of others) {
          // Validated on gossip (accepted and forwarded), then fully by the syncer.
          const s = await stats(n);
          ok(s.recent.includes(id), `${n.name} accepted the block on gossip`);
          const log = n.process.text("stderr");
          equal(
            log.filter((l) => l.startsWith("head changed: ") && l.includes(cid)).length,
            1,
            `${n.name} moved its head to the block once; log:\n${log.join("\n")}`,
          );
          equal(key(await head(n)), key(want), `${n.name}'s head is the block`);
        }
        // The operator's view: `filnode chain head` on each names it.
        const heads = await Promise.all(others.map((n) => filnode(n.root, ["chain", "head"])));
        for (const [i, out] of heads.entries()) {
          equal(out.code, 0, `${others[i].name}: ${out.stderr}`);
          equal(out.stdout.trim(), `height ${height}\n${cid}`, `${others[i].name}'s chain head`);
        }
        // The publisher validated its own block too, and took it.
        await waitForHead(publisher, want, GOSSIP_MS);
        console.log(`block ${cid} at height ${height} was the head of all five in ${ms} ms`);
      },
    );

    await t.step("a block with a forged signature is taken by no one", async () => {
      const current = await head(publisher);
      const parentNow = await tipsetOf(publisher, current);
      const made = makeDevnetTipSet(
        parentNow,
        consensus.weight(parentNow, parentNow.blocks[0].parentWeight),
        { miners: [miners[2]], blockDelay: BlockDelay, consensus, salt: "forged" },
      );
      const good = made.tipset.blocks[0];
      // One bit of the miner's signature flipped: well formed, from a devnet miner, on the
      // head, and not signed by that miner.
      const data = Uint8Array.from(good.blockSig!.data);
      data[10] ^= 0x01;
      const header: BlockHeader = { ...good, blockSig: { ...good.blockSig!, data } };
      const cid = blockHeaderCid(header).toString();
      const bytes = serializeBlockMsg({ header, blsMessages: [], secpkMessages: [] });

      // The daemon's own validators refuse to publish it.
      await rejects(
        publisher.call("Filnode.GossipPublish", ["blocks", base64(bytes)]),
        (err: Error) => {
          match(err.message, /not published/);
          return true;
        },
      );

      // Sent anyway, by a peer that does not validate, straight to every daemon.
      const before = await Promise.all(nodes.map(stats));
      const sender = LineProcess.spawn(FIXTURE, [
        ...nodes.map((n) => n.addr),
        "--kind",
        "blocks",
        "--data",
        base64(bytes),
        "--seconds",
        String((SETTLE_MS + GOSSIP_MS) / 1000),
      ], { flags: ["--allow-net=127.0.0.1"] });
      fixtures.push(sender);
      const dump = () => sender.lines.map((l) => l.text).join("\n");
      await sender.waitForLine("stdout", (l) => l.includes('"published":true'), SETTLE_MS);
      const senderId = JSON.parse(
        sender.text("stdout").find((l) => l.includes('"peerId"'))!,
      ).peerId as string;
      // Each daemon rejects it on gossip (so it forwards it to no one) and marks the sender down.
      let pending: string[] = [];
      await poll(async () => {
        pending = [];
        for (const [i, n] of nodes.entries()) {
          const rejected = (await stats(n)).rejected.blocks > before[i].rejected.blocks;
          const score = await reputationOf(n, senderId);
          // invalid-message is -100 (not speaking hello costs only -1).
          if (!rejected || score === undefined || score > INVALID_PENALTY_AT_LEAST) {
            pending.push(n.name);
          }
        }
        return pending.length === 0 ? true : undefined;
      }, { timeoutMs: GOSSIP_MS, describe: () => `not rejected by ${pending}:\n${dump()}` });
      for (const [i, n] of nodes.entries()) {
        const s = await stats(n);
        equal(s.received.blocks, before[i].received.blocks, `${n.name} accepted no block`);
        // A gossip reject is final: the syncer never saw it, so the head cannot have moved.
        equal(key(await head(n)), key(current), `${n.name} kept its head`);
        ok(
          !n.process.text("stderr").some((l) => l.includes(cid)),
          `${n.name} never logged the forged block`,
        );
      }
      const status = await sender.stop("SIGTERM");
      equal(status.code, 0, dump());
      ok(sender.text("stdout").some((l) => l.includes('"done":true')), dump());
      equal(sender.text("stderr").length, 0, `the sender wrote to stderr:\n${dump()}`);
    });
  } finally {
    await Promise.allSettled(fixtures.map((f) => f.stop("SIGKILL")));
    await net.stop();
  }
});
