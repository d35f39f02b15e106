/**
 * Runtime shims needed to run npm libp2p 2.x under Deno 2.9 (measured in a prototype: each one
 * removed makes `deno run` linger after stop() or `deno test` report a leak).
 *
 * Import this module BEFORE the first libp2p node is created (libp2p_host.ts imports it first).
 * It is idempotent.
 *
 * 1. mortice (the peer-store / helia lock library, node entry) creates ONE
 *    process-wide `BroadcastChannel("mortice")` the first time a mutex is
 *    made, adds "message" listeners to it (which keeps Deno's event loop
 *    alive) and then calls `channel.unref?.()`. Deno's BroadcastChannel has
 *    no `unref`, so the process never exits and `deno test` reports a leaked
 *    resource. We define `unref()` as `close()`: the channel exists only so
 *    that worker_threads/cluster workers can ask the main thread for locks;
 *    we never run libp2p in a worker, so nobody ever posts to it. If a future
 *    design runs libp2p in a Worker this shim must be revisited.
 *
 * 2. AbortSignal.timeout(): in Deno, a timeout signal that has an 'abort'
 *    listener attached REFS its timer (keeps the process alive until it
 *    fires); in Node it never does. libp2p leaves listeners on such signals
 *    routinely (e.g. @libp2p/ping handler: 10 s timeout per ping; kad-dht
 *    routing table verifyNewContact via AdaptiveTimeout + any-signal: 5 s;
 *    dial timeout 10 s), so `deno run` lingers up to ~10 s after stop().
 *    We bypass Deno's ref logic by making AbortSignal.prototype.addEventListener
 *    the plain EventTarget one: timeout signals get Node semantics (they still
 *    fire, they just never keep the event loop alive). The native timers are
 *    internal, so `deno test` sanitizers do not see them either way.
 *    Side effect: code that waits ONLY on a timeout signal with nothing else
 *    pending will see the process exit (as in Node).
 *
 * 3. process.env: npm libp2p's logger `weald` (via @libp2p/logger) runs
 *    Object.keys(process.env) at import time, which in Deno needs UNSCOPED
 *    --allow-env (a name list still fails with "Requires env access"). Other
 *    reads: DEBUG (weald), FORCE_COLOR/TF_BUILD/CI/TERM/... (supports-color,
 *    names vary with the environment), NODE_ENV, DUMP_SESSION_KEYS
 *    (@chainsafe/libp2p-noise), LIBP2P_FORCE_PNET (libp2p config).
 *    We replace process.env with a permission-aware view: a variable the
 *    process may not read looks unset (as if it were not defined) instead of
 *    throwing; enumeration lists only readable variables. With it no
 *    --allow-env is needed at all; `--allow-env=DEBUG` enables libp2p logs.
 */
const proto = globalThis.BroadcastChannel?.prototype as
  | (BroadcastChannel & { unref?: () => void; __filnodeUnrefShim?: true })
  | undefined;

if (proto != null && typeof proto.unref !== "function") {
  Object.defineProperty(proto, "unref", {
    configurable: true,
    writable: true,
    value: function unref(this: BroadcastChannel) {
      try {
        this.close();
      } catch {
        // already closed
      }
    },
  });
}

const etAdd = EventTarget.prototype.addEventListener;
const sigProto = globalThis.AbortSignal?.prototype as
  | (AbortSignal & { __filnodeNoRef?: true })
  | undefined;
if (sigProto != null && !Object.hasOwn(sigProto, "__filnodeNoRef")) {
  Object.defineProperty(sigProto, "addEventListener", {
    configurable: true,
    writable: true,
    value: function addEventListener(
      this: AbortSignal,
      ...args: Parameters<EventTarget["addEventListener"]>
    ) {
      return etAdd.apply(this, args);
    },
  });
  Object.defineProperty(sigProto, "__filnodeNoRef", { value: true });
}

import process from "node:process";

const ENV_VIEW = Symbol.for("filnode.envView");
const realEnv = process.env;
// deno-lint-ignore no-explicit-any
if (!(globalThis as any)[ENV_VIEW]) {
  // deno-lint-ignore no-explicit-any
  (globalThis as any)[ENV_VIEW] = true;
  const canRead = (name: string): boolean => {
    try {
      return Deno.permissions.querySync({ name: "env", variable: name })
        .state === "granted";
    } catch {
      return false;
    }
  };
  const canReadAll = (): boolean => {
    try {
      return Deno.permissions.querySync({ name: "env" }).state === "granted";
    } catch {
      return false;
    }
  };
  // names we may list when only some variables are allowed
  const KNOWN = [
    "DEBUG",
    "DEBUG_COLORS",
    "DEBUG_DEPTH",
    "DEBUG_HIDE_DATE",
    "DEBUG_SHOW_HIDDEN",
    "NODE_ENV",
    "DUMP_SESSION_KEYS",
    "LIBP2P_FORCE_PNET",
  ];
  // The proxy target is a dummy object: with the real env as target, the
  // engine's proxy invariant checks would read the real variable (and throw).
  process.env = new Proxy({} as typeof realEnv, {
    get(_t, key) {
      if (typeof key !== "string") return undefined;
      return canRead(key) ? Deno.env.get(key) : undefined;
    },
    has(_t, key) {
      return typeof key === "string" && canRead(key) &&
        Deno.env.get(key) !== undefined;
    },
    // Deno's env permission covers writes too: without it, writes are
    // dropped (weald does `delete process.env.DEBUG` at import).
    set(_t, key, value) {
      if (typeof key === "string" && canRead(key)) {
        Deno.env.set(key, String(value));
      }
      return true;
    },
    deleteProperty(_t, key) {
      if (typeof key === "string" && canRead(key)) Deno.env.delete(key);
      return true;
    },
    ownKeys() {
      if (canReadAll()) return Object.keys(Deno.env.toObject());
      return KNOWN.filter((k) => canRead(k) && Deno.env.get(k) !== undefined);
    },
    getOwnPropertyDescriptor(_t, key) {
      if (typeof key !== "string" || !canRead(key)) return undefined;
      const value = Deno.env.get(key);
      return value === undefined ? undefined : {
        value,
        writable: true,
        enumerable: true,
        configurable: true,
      };
    },
  });
}

export {};
