/**
 * The Hello protocol service: on every new connection each side sends its HelloMessage and the
 * other answers with a LatencyMessage (Lotus `node/hello/hello.go`). A foreign genesis closes the
 * whole connection at once; a heavier advertised head becomes a sync target. Until a peer's hello
 * has arrived and matched, its other Filecoin protocol streams are refused (see `gated`).
 */
import type { AbortOptions, Startable } from "../abort.ts";
import type { Connection, IncomingStreamData, Stream } from "@libp2p/interface";
import type { ChainView } from "../chain/chain_view.ts";
import { TypedEventTarget } from "../events.ts";
import type { Clock } from "../clock/clock.ts";
import type { ConnectionEvents, ProtocolConnections, ProtocolRegistrar } from "./protocol_host.ts";
import {
  EmptyStreamError,
  MalformedMessageError,
  readCborItem,
  type RpcStream,
  StreamTimeoutError,
  writeCborItem,
} from "./cbor_rpc.ts";
import {
  decodeHello,
  decodeLatency,
  encodeHello,
  encodeLatency,
  HELLO_PROTOCOL,
  HELLO_TIMEOUT_MS,
  type HelloMessage,
  MAX_HELLO_BYTES,
  unixNanos,
} from "./hello_message.ts";

/** A latency reply is two integers. */
const MAX_LATENCY_BYTES = 64;
/**
 * On a foreign genesis, how long to hold the connection open until the peer has read our own
 * hello: a peer that never gets it cannot tell it met another network (both sides send at once,
 * and closing as soon as theirs arrives left some peers unaware, measured on a devnet: waiting
 * only until ours was written was not enough, since closing a socket with unread data resets it
 * and the peer may lose what it had not read yet).
 */
const MISMATCH_SEND_GRACE_MS = 2_000;
/** How long a closing connection may take to show it: see `#blame`. */
const BLAME_SETTLE_MS = 500;

/** What hello reports about a peer, to the network system. */
export type HelloEvents = {
  /** The peer's hello matched our genesis. */
  greeted: CustomEvent<{ peerId: string; hello: HelloMessage }>;
  /** The peer advertised a heavier head than ours: a sync target. */
  target: CustomEvent<{ peerId: string; hello: HelloMessage }>;
  /** A foreign genesis: the connection was closed. */
  "genesis-mismatch": CustomEvent<{ peerId: string; remoteAddr: string; genesis: string }>;
  /** The peer sent bytes that are not a hello, or nothing in time. */
  misbehaved: CustomEvent<{ peerId: string; kind: "malformed" | "timeout"; message: string }>;
  /**
   * The peer does not speak hello (it refused the protocol): not a Filecoin node. Not a
   * misbehaviour, but the peer is of no use to the node.
   */
  unsupported: CustomEvent<{ peerId: string; message: string }>;
  /** Round-trip time measured by our hello. */
  latency: CustomEvent<{ peerId: string; ms: number }>;
};

export interface HelloServiceOptions {
  libp2p: ProtocolRegistrar & ConnectionEvents & ProtocolConnections;
  chain: ChainView;
  clock: Clock;
  timeoutMs?: number;
  /** How long a misbehaviour report waits for a closing connection to show it (`#blame`). */
  blameSettleMs?: number;
}

export class HelloService extends TypedEventTarget<HelloEvents> implements Startable {
  readonly #libp2p: ProtocolRegistrar & ConnectionEvents & ProtocolConnections;
  readonly #chain: ChainView;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #blameSettleMs: number;
  /** Peers whose hello matched our genesis, with what they said. */
  readonly #greeted = new Map<string, HelloMessage>();
  readonly #latency = new Map<string, number>();
  /** Timers of misbehaviour reports waiting for their connection to settle. */
  readonly #pendingBlame = new Set<ReturnType<typeof setTimeout>>();
  /**
   * Our hello exchange in flight, by connection ID: settles when it ends (a reply, a reset, a
   * failure). A peer that finds our genesis foreign resets our stream, so this settling is the
   * sign it has read our hello.
   */
  readonly #sending = new Map<string, Promise<void>>();
  #stopped = new AbortController();
  readonly #onOpen = (evt: CustomEvent<Connection>) => void this.#sayHello(evt.detail);
  readonly #onDisconnect = (evt: CustomEvent<{ toString(): string }>) => {
    const id = evt.detail.toString();
    this.#greeted.delete(id);
    this.#latency.delete(id);
  };

  constructor(options: HelloServiceOptions) {
    super();
    this.#libp2p = options.libp2p;
    this.#chain = options.chain;
    this.#clock = options.clock;
    this.#timeoutMs = options.timeoutMs ?? HELLO_TIMEOUT_MS;
    this.#blameSettleMs = options.blameSettleMs ?? BLAME_SETTLE_MS;
  }

  async start(_options: AbortOptions = {}): Promise<void> {
    this.#stopped = new AbortController();
    await this.#libp2p.handle(HELLO_PROTOCOL, (data) => void this.#onHello(data), {
      maxInboundStreams: 4,
      maxOutboundStreams: 4,
    });
    this.#libp2p.addEventListener("connection:open", this.#onOpen);
    this.#libp2p.addEventListener("peer:disconnect", this.#onDisconnect);
    // A connection that opened before this service listened (a peer dialled in while the host
    // was starting, between listen and here) was never greeted: our hello was not sent on it and
    // the peer's found no handler, so neither side greets on it again, and the node sat
    // connected, silent and never synced (seen once in 80 restarts of the SIGKILL sync test).
    // Hang it up; the peer or our discovery dials again, and Hello comes first.
    for (const connection of this.#libp2p.getConnections()) {
      connection.abort(new Error("opened before Hello was ready; dial again"));
    }
  }

  async stop(): Promise<void> {
    this.#stopped.abort(new DOMException("hello service stopped", "AbortError"));
    for (const timer of this.#pendingBlame) clearTimeout(timer);
    this.#pendingBlame.clear();
    this.#libp2p.removeEventListener("connection:open", this.#onOpen);
    this.#libp2p.removeEventListener("peer:disconnect", this.#onDisconnect);
    await this.#libp2p.unhandle(HELLO_PROTOCOL).catch(() => {});
  }

  /** True once the peer's hello has matched our genesis. */
  isGreeted(peerId: string): boolean {
    return this.#greeted.has(peerId);
  }

  /** What the peer said in its hello, once greeted. */
  helloOf(peerId: string): HelloMessage | undefined {
    return this.#greeted.get(peerId);
  }

  /** Latest hello round trip to the peer, in ms. */
  latencyOf(peerId: string): number | undefined {
    return this.#latency.get(peerId);
  }

  /**
   * Wraps a Filecoin protocol handler so that streams from peers not yet greeted are reset
   * instead of served: the spec's "hello first".
   */
  gated(handler: (data: IncomingStreamData) => void | Promise<void>) {
    return (data: IncomingStreamData) => {
      if (!this.isGreeted(data.connection.remotePeer.toString())) {
        data.stream.abort(new Error("hello has not completed on this connection"));
        return;
      }
      return handler(data);
    };
  }

  #ourHello(): HelloMessage {
    const head = this.#chain.head();
    return {
      heaviestTipSet: head.cids,
      heaviestTipSetHeight: head.height,
      heaviestTipSetWeight: head.weight,
      genesisHash: this.#chain.genesis,
    };
  }

  async #sayHello(connection: Connection): Promise<void> {
    const peerId = connection.remotePeer.toString();
    let stream: Stream | undefined;
    const done = Promise.withResolvers<void>();
    this.#sending.set(connection.id, done.promise);
    // Opening the stream is bounded too: a peer that never answers protocol negotiation would
    // otherwise hold this call (and its connection's bookkeeping) until the service stops.
    const opening = new AbortController();
    const openTimer = setTimeout(
      () => opening.abort(new StreamTimeoutError(`no hello stream within ${this.#timeoutMs} ms`)),
      this.#timeoutMs,
    );
    try {
      try {
        stream = await connection.newStream(HELLO_PROTOCOL, {
          signal: AbortSignal.any([this.#stopped.signal, opening.signal]),
        });
      } finally {
        clearTimeout(openTimer);
      }
      const sentAt = this.#clock.now();
      const reading = readCborItem(stream as unknown as RpcStream, {
        maxBytes: MAX_LATENCY_BYTES,
        timeoutMs: this.#timeoutMs,
        signal: this.#stopped.signal,
      });
      // If the write below fails, `reading` is never awaited: without a handler its rejection
      // would be unhandled, which ends a Deno process (measured: a peer closing the connection
      // during our hello crashed the daemon).
      reading.catch(() => {});
      await writeCborItem(stream as unknown as RpcStream, encodeHello(this.#ourHello()));
      decodeLatency(await reading);
      const ms = this.#clock.now() - sentAt;
      this.#latency.set(peerId, ms);
      this.emit("latency", { peerId, ms });
    } catch (err) {
      // A peer that closes on us for a foreign genesis ends here too; its own hello tells us.
      if (err instanceof MalformedMessageError) {
        this.#blame(
          connection,
          { peerId, kind: "malformed", message: err.message },
          err instanceof EmptyStreamError,
        );
      } else if ((err as Error).name === "UnsupportedProtocolError") {
        this.emit("unsupported", { peerId, message: (err as Error).message });
      }
      stream?.abort(err as Error);
    } finally {
      done.resolve();
      this.#sending.delete(connection.id);
    }
  }

  /**
   * Reports a misbehaving hello. One case is held back: a stream that ended before any byte. A
   * connection being closed (a simultaneous dial resolved, a prune) ends its streams that way
   * before it reports itself closing, and honest peers were marked down -100 for it (measured on
   * a devnet); so that verdict waits `blameSettleMs` and is dropped if the connection is gone by
   * then. Bytes that are wrong are reported at once: a flooder that hangs up right after its
   * garbage must not escape (measured: 60 malformed hellos in 200 ms, then gone).
   */
  #blame(
    connection: Connection,
    detail: HelloEvents["misbehaved"]["detail"],
    emptyStream = false,
  ): void {
    if (connection.status !== "open") return;
    if (!emptyStream) {
      this.emit("misbehaved", detail);
      return;
    }
    const timer = setTimeout(() => {
      this.#pendingBlame.delete(timer);
      if (connection.status === "open" && !this.#stopped.signal.aborted) {
        this.emit("misbehaved", detail);
      }
    }, this.#blameSettleMs);
    this.#pendingBlame.add(timer);
  }

  /**
   * Waits (at most MISMATCH_SEND_GRACE_MS) until our hello exchange on `connection` has ended.
   * Both sides of a mismatch reset the other's hello stream before waiting here, so neither
   * waits on the other.
   */
  async #ownHelloDone(connection: Connection): Promise<void> {
    const sending = this.#sending.get(connection.id);
    if (sending === undefined) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, MISMATCH_SEND_GRACE_MS);
    });
    try {
      await Promise.race([sending, grace]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #onHello({ stream, connection }: IncomingStreamData): Promise<void> {
    const peerId = connection.remotePeer.toString();
    let hello: HelloMessage;
    try {
      const item = await readCborItem(stream as unknown as RpcStream, {
        maxBytes: MAX_HELLO_BYTES,
        timeoutMs: this.#timeoutMs,
        signal: this.#stopped.signal,
      });
      hello = decodeHello(item);
    } catch (err) {
      const kind = err instanceof StreamTimeoutError ? "timeout" : "malformed";
      if (err instanceof MalformedMessageError || err instanceof StreamTimeoutError) {
        this.#blame(
          connection,
          { peerId, kind, message: (err as Error).message },
          err instanceof EmptyStreamError,
        );
      }
      stream.abort(err as Error);
      return;
    }
    const arrival = unixNanos(this.#clock.now());
    if (!hello.genesisHash.equals(this.#chain.genesis)) {
      // A MUST rule: a peer of another network shares nothing with us. Close at once, once the
      // peer has read our own hello, so that it learns of the mismatch too. The reset below is
      // what tells the peer's own wait that we have read its hello.
      stream.abort(new Error("genesis mismatch"));
      await this.#ownHelloDone(connection);
      await connection.close().catch((err) => connection.abort(err));
      this.emit("genesis-mismatch", {
        peerId,
        remoteAddr: connection.remoteAddr.toString(),
        genesis: hello.genesisHash.toString(),
      });
      return;
    }
    try {
      await writeCborItem(
        stream as unknown as RpcStream,
        encodeLatency({ tArrival: arrival, tSent: unixNanos(this.#clock.now()) }),
      );
    } catch {
      // The peer hung up after its hello: it still said hello.
    }
    this.#greeted.set(peerId, hello);
    this.emit("greeted", { peerId, hello });
    if (hello.heaviestTipSetWeight > this.#chain.head().weight) {
      this.emit("target", { peerId, hello });
    }
  }
}
