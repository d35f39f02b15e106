/**
 * Filecoin's gossip topics, `/fil/blocks/<network>` and `/fil/msgs/<network>`, with validators
 * that run before anything is forwarded: the size cap here, then the chain system's full checks
 * (which decode the bytes themselves), or, on a node without them, a structural check (one
 * DAG-CBOR tuple). A rejected message costs its sender reputation.
 */
import type { AbortOptions, Startable } from "../abort.ts";
import * as dagCbor from "@ipld/dag-cbor";
import { TopicValidatorResult } from "@libp2p/interface";
import type { Message, PeerId } from "@libp2p/interface";
import type { GossipsubMessage } from "@chainsafe/libp2p-gossipsub";
import { UserError } from "../errors.ts";
import type { Libp2pNode } from "./libp2p_host.ts";
import { filecoinMessageId } from "./libp2p_host.ts";
import { toHex } from "../hex.ts";

export type GossipKind = "blocks" | "msgs";

/**
 * Size caps before any decoding: a BlockMsg is a header plus message CIDs (Lotus caps blocks at
 * 1 MiB of messages by reference), a signed message is at most 64 KiB (Lotus `MaxMessageSize`).
 */
export const MAX_GOSSIP_BYTES: Readonly<Record<GossipKind, number>> = {
  blocks: 1 << 20,
  msgs: 64 << 10,
};

/** What a full validator says; "ignore" drops without penalty (duplicates, too old). */
export type Verdict = "accept" | "reject" | "ignore";

/** A validator's verdict, with why when it has one to give (shown to a user it refuses). */
export type ValidatorResult = Verdict | { readonly verdict: Verdict; readonly reason: string };

/**
 * A topic's full validator: it decodes `data` itself (with the topic type's own strict decoder:
 * decoding it twice would cost more than the rest of the checks) and must reject anything that
 * is not one well-formed object of that type.
 */
export type GossipValidator = (
  from: string,
  data: Uint8Array,
) => ValidatorResult | Promise<ValidatorResult>;

/** The verdict of a validator's result. */
export function verdictOf(result: ValidatorResult): Verdict {
  return typeof result === "string" ? result : result.verdict;
}

export interface GossipStats {
  received: Record<GossipKind, number>;
  rejected: Record<GossipKind, number>;
  /** Hex message IDs of the latest accepted messages, newest last. */
  recent: string[];
}

const RECENT_IDS = 64;

/**
 * Our own message failed the checks every peer runs on it. gossipsub (js) does not validate what
 * the node itself publishes, so without this check each peer would reject it and mark the node
 * down (-100 each, measured on a devnet); go-libp2p-pubsub refuses such a publish the same way.
 */
export class GossipRejectedError extends UserError {
  override name = "GossipRejectedError";
}

export function gossipTopic(kind: GossipKind, network: string): string {
  return `/fil/${kind}/${network}`;
}

export class GossipTopics implements Startable {
  readonly #libp2p: Libp2pNode;
  readonly #topics: Record<GossipKind, string>;
  readonly #onReject: (peerId: string) => void;
  readonly #validators: Partial<Record<GossipKind, GossipValidator>> = {};
  readonly #stats: GossipStats = {
    received: { blocks: 0, msgs: 0 },
    rejected: { blocks: 0, msgs: 0 },
    recent: [],
  };
  // gossipsub's own event carries the message ID it computed (hex: see `msgIdToStrFn` in
  // libp2p_host.ts), so delivered messages are not hashed a second time here.
  readonly #onMessage = (evt: CustomEvent<GossipsubMessage>) => {
    const kind = this.#kindOf(evt.detail.msg.topic);
    if (!kind) return;
    this.#stats.received[kind]++;
    this.#stats.recent.push(evt.detail.msgId);
    if (this.#stats.recent.length > RECENT_IDS) this.#stats.recent.shift();
  };

  constructor(libp2p: Libp2pNode, network: string, onReject: (peerId: string) => void) {
    this.#libp2p = libp2p;
    this.#topics = { blocks: gossipTopic("blocks", network), msgs: gossipTopic("msgs", network) };
    this.#onReject = onReject;
  }

  start(_options: AbortOptions = {}): Promise<void> {
    const pubsub = this.#libp2p.services.pubsub;
    for (const kind of ["blocks", "msgs"] as const) {
      pubsub.topicValidators.set(
        this.#topics[kind],
        (peer, msg) => this.#validate(kind, peer, msg),
      );
      pubsub.subscribe(this.#topics[kind]);
    }
    pubsub.addEventListener("gossipsub:message", this.#onMessage);
    return Promise.resolve();
  }

  stop(): Promise<void> {
    const pubsub = this.#libp2p.services.pubsub;
    pubsub.removeEventListener("gossipsub:message", this.#onMessage);
    for (const kind of ["blocks", "msgs"] as const) {
      pubsub.unsubscribe(this.#topics[kind]);
      pubsub.topicValidators.delete(this.#topics[kind]);
    }
    return Promise.resolve();
  }

  /** The chain system plugs its full validation in here. */
  setValidator(kind: GossipKind, validator: GossipValidator): void {
    this.#validators[kind] = validator;
  }

  /**
   * Publishes `data`; returns its message ID (hex). The message first goes through the same
   * validation a peer would run: one that fails it is not sent.
   *
   * @throws {RangeError} over the size cap.
   * @throws {GossipRejectedError} when validation rejects or ignores the message.
   */
  async publish(kind: GossipKind, data: Uint8Array): Promise<string> {
    if (data.length > MAX_GOSSIP_BYTES[kind]) {
      throw new RangeError(`gossip ${kind} message over the size cap`);
    }
    const check = await this.#check(kind, this.#libp2p.peerId.toString(), data);
    if (check.verdict !== "accept") {
      throw new GossipRejectedError(
        `gossip ${kind} message not published: ${
          check.reason ?? `validation said ${check.verdict}`
        }`,
      );
    }
    await this.#libp2p.services.pubsub.publish(this.#topics[kind], data);
    return toHex(filecoinMessageId({ data }));
  }

  get stats(): GossipStats {
    return structuredClone(this.#stats);
  }

  #kindOf(topic: string): GossipKind | undefined {
    return topic === this.#topics.blocks
      ? "blocks"
      : topic === this.#topics.msgs
      ? "msgs"
      : undefined;
  }

  async #validate(kind: GossipKind, peer: PeerId, msg: Message): Promise<TopicValidatorResult> {
    const from = peer.toString();
    const { verdict } = await this.#check(kind, from, msg.data);
    if (verdict === "reject") {
      this.#stats.rejected[kind]++;
      this.#onReject(from);
      return TopicValidatorResult.Reject;
    }
    return verdict === "ignore" ? TopicValidatorResult.Ignore : TopicValidatorResult.Accept;
  }

  /**
   * The size cap, then the chain system's validator, or without one the structural check (one
   * DAG-CBOR tuple: both BlockMsg and SignedMessage are tuples); `reason` says why a reject.
   */
  async #check(
    kind: GossipKind,
    from: string,
    data: Uint8Array,
  ): Promise<{ verdict: Verdict; reason?: string }> {
    if (data.length === 0 || data.length > MAX_GOSSIP_BYTES[kind]) {
      return {
        verdict: "reject",
        reason: `size ${data.length} outside 1..${MAX_GOSSIP_BYTES[kind]}`,
      };
    }
    const validator = this.#validators[kind];
    if (validator) {
      const result = await validator(from, data);
      if (typeof result !== "string") return result;
      return result === "reject" ? { verdict: result, reason: "rejected by the validator" } : {
        verdict: result,
      };
    }
    let decoded: unknown;
    try {
      decoded = dagCbor.decode(data);
    } catch {
      return { verdict: "reject", reason: "not DAG-CBOR" };
    }
    if (!Array.isArray(decoded)) return { verdict: "reject", reason: "not a CBOR tuple" };
    return { verdict: "accept" };
  }
}
