/**
 * A daemon survives what its peers' bytes make go wrong. A real daemon runs with the test-only
 * fault probe protocol (src/protocols/fault_probe.ts, enabled by an env var granted only here),
 * and peers in this process reach it over real libp2p connections to make its handler reject,
 * throw from a timer, and leave a rejection unhandled. Each must be logged (with the peer where
 * known) and counted, and the daemon must keep serving its API and new peers.
 */
import { equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { multiaddr } from "@multiformats/multiaddr";
import { ApiClient } from "../../src/api/api_client.ts";
import { DEVNET_CONFIG } from "../../src/cli/init.ts";
import { faultSummary, STOPPING_LINE } from "../../src/cli/daemon.ts";
import {
  FAULT_PROBE_ENV,
  FAULT_PROBE_PROTOCOL,
  FaultProbeMode,
} from "../../src/protocols/fault_probe.ts";
import { initRepo } from "../../src/repo/repo.ts";
import { withTempDir } from "../_temp.ts";
import { type TestHost, waitUntil, withHosts } from "../_net.ts";
import { LineProcess, MAIN, startTaskFlags } from "./harness.ts";

/** Sends the probe's mode byte from `peer` to the daemon at `addr` on a new connection. */
async function probe(peer: TestHost, addr: string, mode: number): Promise<void> {
  const stream = await peer.libp2p.dialProtocol(multiaddr(addr), FAULT_PROBE_PROTOCOL);
  // The daemon may reset the stream as soon as it has the byte: that is the point.
  await stream.sink([new Uint8Array([mode])]).catch(() => {});
}

Deno.test("errors a peer's stream raises never stop the daemon: each is logged with the peer and counted, and it keeps serving", async () => {
  await withTempDir("filnode-fault-", async (base) => {
    const root = join(base, "root");
    await initRepo(root, { insecureKeystore: true, config: DEVNET_CONFIG });
    // The start task's grants, plus the probe's variable (never granted outside tests).
    const flags = (await startTaskFlags(root)).map((f) =>
      f.startsWith("--allow-env=") ? `${f},${FAULT_PROBE_ENV}` : f
    );
    const daemon = LineProcess.spawn(MAIN, ["--root", root, "daemon"], {
      flags,
      env: { [FAULT_PROBE_ENV]: "1" },
    });
    try {
      await daemon.waitForLine("stdout", (l) => l.startsWith("control API "));
      await daemon.waitForLine("stderr", (l) => l.includes(FAULT_PROBE_PROTOCOL));
      const addr = daemon.text("stdout").find((l) => l.startsWith("listening on /ip4/127.0.0.1/"))!
        .slice("listening on ".length);
      const api = await ApiClient.fromRoot(root, { timeoutMs: 20_000 });
      try {
        // One peer per fault: a penalised peer may be dropped, and each line must name its own.
        await withHosts([{}, {}, {}, {}], async ([rejecter, thrower, floater, newcomer]) => {
          await probe(rejecter, addr, FaultProbeMode.Reject);
          const id1 = rejecter.peerId.toString();
          await daemon.waitForLine(
            "stderr",
            (l) => l.includes(id1) && l.includes("probe: the handler rejected"),
          );

          // Before the guard caught "error" events, this one ended the daemon.
          await probe(thrower, addr, FaultProbeMode.TimerThrow);
          await daemon.waitForLine(
            "stderr",
            (l) => l.startsWith("uncaught exception (#") && l.includes("probe: a timer threw"),
          );

          await probe(floater, addr, FaultProbeMode.FloatingReject);
          const id3 = floater.peerId.toString();
          await daemon.waitForLine(
            "stderr",
            (l) =>
              l.startsWith(
                `unhandled rejection serving peer ${id3} (${FAULT_PROBE_PROTOCOL}) (#`,
              ) &&
              l.includes("probe: a task nobody awaited rejected"),
          );

          // Still serving: the control API answers, and a new peer connects.
          equal(typeof (await api.call<string>("Filecoin.ID")), "string");
          await newcomer.libp2p.dial(multiaddr(addr));
          const id4 = newcomer.peerId.toString();
          let peers: string[] = [];
          const poll = setInterval(() => {
            api.call<{ ID: string }[]>("Filecoin.NetPeers").then((list) =>
              peers = list.map((p) => p.ID)
            ).catch(() => {});
          }, 100);
          try {
            await waitUntil(() => peers.includes(id4), "the daemon lists the new peer", 20_000);
          } finally {
            clearInterval(poll);
          }
        });
      } finally {
        api.close();
      }
      const status = await daemon.stop();
      const stderr = daemon.text("stderr");
      equal(status.code, 0, stderr.join("\n"));
      ok(stderr.includes(STOPPING_LINE), stderr.join("\n"));
      ok(stderr.includes(faultSummary(1, 2)), stderr.join("\n"));
    } finally {
      if (!daemon.exited) await daemon.stop("SIGKILL").catch(() => {});
    }
  });
});
