/**
 * A test-only protocol whose handler fails on purpose, on the first byte a peer sends: the way
 * e2e tests inject "a peer's input raised an error nobody handled" through a real connection into
 * a real daemon. No real protocol has such a path today (they are tested not to), so this one
 * stands in for the next bug. The daemon registers it only when `FILNODE_TEST_FAULT_PROBE=1` is set
 * *and* granted (`--allow-env=...,FILNODE_TEST_FAULT_PROBE`); the documented grants never give it.
 *
 * First byte sent on the stream, and what the handler does:
 * - {@link FaultProbeMode.Reject}: the handler's promise rejects (caught by the stream handler guard);
 * - {@link FaultProbeMode.TimerThrow}: a timer it set throws (an uncaught exception);
 * - {@link FaultProbeMode.FloatingReject}: a task it started without awaiting rejects (an
 *   unhandled rejection, still in the peer's async scope).
 *
 * @module
 */
import type { Stream } from "@libp2p/interface";
import type { ProtocolRegistrar } from "./protocol_host.ts";

export const FAULT_PROBE_PROTOCOL = "/filnode-test/fault-probe/1.0.0";
/** The environment variable that enables the probe in a daemon. */
export const FAULT_PROBE_ENV = "FILNODE_TEST_FAULT_PROBE";

export const FaultProbeMode = { Reject: 1, TimerThrow: 2, FloatingReject: 3 } as const;

/** The error the probe raises, so logs show it was injected. */
export class FaultProbeError extends Error {
  override name = "FaultProbeError";
}

/** Registers the probe's handler on `libp2p`. */
export async function registerFaultProbe(libp2p: ProtocolRegistrar): Promise<void> {
  await libp2p.handle(FAULT_PROBE_PROTOCOL, async ({ stream }) => {
    const mode = await firstByte(stream);
    if (mode === FaultProbeMode.Reject) throw new FaultProbeError("probe: the handler rejected");
    if (mode === FaultProbeMode.TimerThrow) {
      setTimeout(() => {
        throw new FaultProbeError("probe: a timer threw");
      }, 0);
    } else if (mode === FaultProbeMode.FloatingReject) {
      void Promise.reject(new FaultProbeError("probe: a task nobody awaited rejected"));
    }
    await stream.close();
  });
}

async function firstByte(stream: Stream): Promise<number | undefined> {
  for await (const chunk of stream.source) {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray();
    if (bytes.length > 0) return bytes[0];
  }
  return undefined;
}
