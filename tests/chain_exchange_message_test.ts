/**
 * Chain exchange wire messages (src/protocols/chain_exchange_message.ts): round trips, strict
 * decoding of malformed values, request checks, response validation against its request, and the
 * Lotus-style message compaction.
 */
import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import type { CID } from "multiformats/cid";
import { SigType } from "../src/crypto/signature.ts";
import type { SignedMessage, TipSet } from "../src/chain/types/mod.ts";
import { cidOf } from "../src/chain/types/cid.ts";
import { exchangeChain, exchangeMessage } from "./_exchange_chain.ts";
import {
  type BSTipSet,
  decodeRequest,
  decodeResponse,
  deserializeRequest,
  deserializeResponse,
  encodeRequest,
  encodeResponse,
  ExchangeOptions,
  type ExchangeRequest,
  type ExchangeResponse,
  ExchangeStatus,
  ExchangeStatusError,
  InvalidExchangeMessageError,
  InvalidExchangeResponseError,
  MAX_REQUEST_LENGTH,
  responseChunks,
} from "../src/protocols/chain_exchange_message.ts";
import {
  compactMessages,
  expandMessages,
  requestProblem,
  validateResponse,
} from "../src/protocols/chain_exchange_answer.ts";

const BOTH = ExchangeOptions.Headers | ExchangeOptions.Messages;
const ANY_CID = cidOf("any");

const makeChain = exchangeChain;

const message = exchangeMessage;

function signed(nonce: number): SignedMessage {
  return {
    message: message(nonce + 1000),
    signature: { type: SigType.SECP256K1, data: new Uint8Array(65).fill(nonce % 256) },
  };
}

/** The response a server holding `chain` would give for `length` tipsets from its top. */
function answer(chain: TipSet[], length: number, withMessages = false): ExchangeResponse {
  const tipsets = chain.slice(-length).reverse();
  return {
    status: length > chain.length ? ExchangeStatus.Partial : ExchangeStatus.Ok,
    errorMessage: "",
    chain: tipsets.map((ts) => ({
      blocks: ts.blocks,
      messages: withMessages
        ? compactMessages(ts.blocks.map((_, b) => ({
          bls: [message(ts.height), message(ts.height * 10 + b)],
          secpk: [signed(ts.height)],
        })))
        : null,
    })),
  };
}

function roundTrip(response: ExchangeResponse): ExchangeResponse {
  return decodeResponse(dagCbor.decode(dagCbor.encode(encodeResponse(response))));
}

function request(head: readonly CID[], length: number, options: number = BOTH): ExchangeRequest {
  return { head, length, options };
}

Deno.test("request encodes as Lotus's 3-tuple and round trips", () => {
  const head = [ANY_CID, cidOf("other")];
  const bytes = dagCbor.encode(encodeRequest(request(head, 900, ExchangeOptions.Headers)));
  equal(bytes[0], 0x83);
  deepStrictEqual(dagCbor.decode(bytes), [head, 900, 1]);
  const back = deserializeRequest(bytes);
  equal(back.length, 900);
  equal(back.options, 1);
  ok(back.head.every((c, i) => c.equals(head[i])));
});

Deno.test("decodeRequest() refuses wrong types and names the field", () => {
  const cases: [unknown, RegExp][] = [
    [{}, /^request: expected a 3-field array/],
    [[[ANY_CID], 1], /request: expected 3 fields, got 2/],
    [[ANY_CID, 1, 1], /request\.Head: expected an array/],
    [[[new Uint8Array(3)], 1, 1], /request\.Head\[0\]: expected a CID/],
    [[[ANY_CID], 1.5, 1], /request\.Length: expected an unsigned integer, got the float 1.5/],
    [[[ANY_CID], -1, 1], /request\.Length: must not be negative/],
    [[[ANY_CID], "1", 1], /request\.Length/],
    [[[ANY_CID], 1n << 60n, 1], /request\.Length: out of range/],
    [[[ANY_CID], 1, null], /request\.Options/],
    [[Array(8193).fill(ANY_CID), 1, 1], /request\.Head: too many items \(8193, max 8192\)/],
  ];
  for (const [value, message] of cases) {
    throws(() => decodeRequest(value), (err: Error) => {
      ok(err instanceof InvalidExchangeMessageError, String(err));
      ok(message.test(err.message), `${err.message} !~ ${message}`);
      return true;
    });
  }
});

Deno.test("deserializeRequest() refuses truncated, trailing and oversized bytes", () => {
  const bytes = dagCbor.encode(encodeRequest(request([ANY_CID], 5)));
  for (const bad of [bytes.subarray(0, bytes.length - 1), Uint8Array.of(...bytes, 0)]) {
    throws(() => deserializeRequest(bad), InvalidExchangeMessageError);
  }
  throws(() => deserializeRequest(new Uint8Array(65 * 1024)), /too large/);
  // An array header claiming 2^32 items, with nothing behind it.
  throws(
    () => deserializeRequest(Uint8Array.of(0x83, 0x9a, 0xff, 0xff, 0xff, 0xff)),
    InvalidExchangeMessageError,
  );
});

Deno.test("requestProblem() gives Lotus's BadRequest reasons: length 0, 901, no options, no head", () => {
  equal(requestProblem(request([ANY_CID], MAX_REQUEST_LENGTH)), undefined);
  equal(requestProblem(request([ANY_CID], 1, ExchangeOptions.Messages)), undefined);
  ok(/over maximum allowed \(900\)/.test(requestProblem(request([ANY_CID], 901))!));
  ok(/length of zero/.test(requestProblem(request([ANY_CID], 0))!));
  ok(/no options/.test(requestProblem(request([ANY_CID], 1, 0))!));
  ok(/no options/.test(requestProblem(request([ANY_CID], 1, 4))!));
  ok(/no cids/.test(requestProblem(request([], 1))!));
});

Deno.test("response with headers and compacted messages round trips byte for byte", () => {
  const chain = makeChain(6);
  const response = answer(chain, 5, true);
  const bytes = dagCbor.encode(encodeResponse(response));
  const back = deserializeResponse(bytes);
  deepStrictEqual(dagCbor.encode(encodeResponse(back)), bytes);
  equal(back.chain.length, 5);
  equal(back.chain[0].blocks.length, chain[5].blocks.length);
  // Lotus's shapes: [Status, ErrorMessage, [[Blocks, [Bls, BlsIncludes, Secpk, SecpkIncludes]]]]
  const raw = dagCbor.decode(bytes) as unknown[];
  equal(raw[0], 0);
  equal(raw[1], "");
  const first = (raw[2] as unknown[][])[0];
  equal((first[1] as unknown[]).length, 4);
  // A headers-only tipset carries null messages.
  const headersOnly = roundTrip(answer(chain, 2));
  equal(headersOnly.chain[0].messages, null);
});

Deno.test("responseChunks() equals encoding the whole response, for every array header size", () => {
  const chain = makeChain(3);
  const item: BSTipSet = { blocks: chain[2].blocks, messages: null };
  for (const n of [0, 1, 23, 24, 255, 256, 300]) {
    const tipsets = Array.from({ length: n }, () => item);
    const whole = dagCbor.encode(
      encodeResponse({ status: ExchangeStatus.Partial, errorMessage: "x", chain: tipsets }),
    );
    const encodedItem = dagCbor.encode(encodeResponse({
      status: 0,
      errorMessage: "",
      chain: [item],
    })).subarray(4); // after 0x83 0x00 0x60 0x81
    const chunks = responseChunks(ExchangeStatus.Partial, "x", tipsets.map(() => encodedItem));
    const joined = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
    let offset = 0;
    for (const c of chunks) {
      joined.set(c, offset);
      offset += c.length;
    }
    deepStrictEqual(joined, whole, `n=${n}`);
  }
});

Deno.test("decodeResponse() refuses malformed values, naming the field", () => {
  const chain = makeChain(3);
  const good = encodeResponse(answer(chain, 2, true)) as [number, string, unknown[][]];
  const tipset = good[2][0] as [unknown[], unknown[]];
  const withTipset = (t: unknown) => [0, "", [t]];
  const cases: [unknown, RegExp][] = [
    [[0, ""], /^response: expected 3 fields/],
    [["0", "", []], /response\.Status/],
    [[0, new Uint8Array(1), []], /response\.ErrorMessage: expected a string/],
    [[0, "x".repeat(8193), []], /response\.ErrorMessage: too long/],
    [[0, "", null], /response\.Chain: expected an array/],
    [[0, "", [null]], /response\.Chain\[0\]: expected a 2-field array, got null/],
    [withTipset([[[1, 2]], null]), /response\.Chain\[0\]\.Blocks\[0\]: block header/],
    [withTipset([tipset[0], [[], [], []]]), /response\.Chain\[0\]\.Messages: expected 4 fields/],
    [
      withTipset([tipset[0], [[[1]], [], [], []]]),
      /response\.Chain\[0\]\.Messages\.Bls\[0\]: message/,
    ],
    [
      withTipset([tipset[0], [[], [[0.5]], [], []]]),
      /response\.Chain\[0\]\.Messages\.BlsIncludes\[0\]\[0\]: expected an unsigned integer/,
    ],
    [
      withTipset([tipset[0], [[], [], [], [Array(10_001).fill(0)]]]),
      /SecpkIncludes\[0\]: too many items \(10001, max 10000\)/,
    ],
    [
      withTipset([tipset[0], [Array(150_001).fill(null), [], [], []]]),
      /Messages\.Bls: too many items \(150001, max 150000\)/,
    ],
  ];
  for (const [value, message] of cases) {
    throws(() => decodeResponse(value), (err: Error) => {
      ok(err instanceof InvalidExchangeMessageError, String(err));
      ok(message.test(err.message), `${err.message} !~ ${message}`);
      return true;
    });
  }
});

Deno.test("deserializeResponse() refuses truncated bytes and a length header with nothing behind", () => {
  const bytes = dagCbor.encode(encodeResponse(answer(makeChain(4), 3, true)));
  for (const cut of [1, 10, bytes.length / 2, bytes.length - 1]) {
    throws(() => deserializeResponse(bytes.subarray(0, cut)), InvalidExchangeMessageError);
  }
  throws(
    () => deserializeResponse(Uint8Array.of(0x83, 0x00, 0x60, 0x9b, 0, 0, 0, 1, 0, 0, 0, 0)),
    InvalidExchangeMessageError,
  );
  throws(() => deserializeResponse(bytes, { maxBytes: 100 }), /too large/);
});

Deno.test("validateResponse() accepts an answer that chains back from the requested head", () => {
  const chain = makeChain(10);
  const head = chain[9].cids;
  const valid = validateResponse(request(head, 4), roundTrip(answer(chain, 4, true)));
  equal(valid.tipsets.length, 4);
  ok(valid.tipsets[0].key.equals(chain[9].key));
  ok(valid.tipsets[3].key.equals(chain[6].key));
  equal(valid.messages!.length, 4);
  equal(valid.messages![1].length, 3);
  equal(valid.messages![1][2].bls[1].nonce, 82n);
  // Partial: fewer than asked (the server reached genesis).
  const partial = validateResponse(request(head, 20, 1), roundTrip(answer(chain, 20)));
  equal(partial.status, ExchangeStatus.Partial);
  equal(partial.tipsets.length, 10);
  equal(partial.messages, undefined);
});

Deno.test("validateResponse() refuses answers that do not answer the request", () => {
  const chain = makeChain(10);
  const other = makeChain(10, "fork");
  const head = chain[9].cids;
  const good = answer(chain, 4, true);
  const mutate = (f: (chain: BSTipSet[]) => void, patch: Partial<ExchangeResponse> = {}) => {
    const copy = [...good.chain];
    f(copy);
    return { ...good, ...patch, chain: copy };
  };
  const cases: [ExchangeRequest, ExchangeResponse, RegExp][] = [
    [request(head, 4), { ...good, chain: [] }, /no chain/],
    [request(head, 3), good, /longer response \(4\) than requested \(3\)/],
    [request(head, 5), good, /4 of 5 tipsets without status Partial/],
    [request(other[9].cids, 4), good, /head does not match/],
    // A tipset from another chain in the middle: the parents link breaks.
    [
      request(head, 4),
      mutate((c) => c[2] = { blocks: other[7].blocks, messages: c[2].messages }),
      /not connected at head - 1 \/ head - 2/,
    ],
    // Blocks of different heights cannot form a tipset.
    [
      request(head, 4),
      mutate((c) => c[1] = { blocks: [...chain[8].blocks, ...chain[7].blocks], messages: null }),
      /invalid tipset at head - 1/,
    ],
    [request(head, 4), mutate((c) => c[1] = { ...c[1], messages: null }), /no messages/],
    [
      request(head, 4),
      // chain[9] has one block: two includes lists do not match it.
      mutate((c) => c[0] = { ...c[0], messages: { ...c[0].messages!, blsIncludes: [[0], [0]] } }),
      /BlsIncludes \(2\) does not match the blocks \(1\)/,
    ],
    [
      request(head, 4),
      mutate((c) =>
        c[0] = {
          ...c[0],
          messages: {
            ...c[0].messages!,
            secpkIncludes: c[0].blocks.map(() => [5]),
          },
        }
      ),
      /SecpkIncludes\[0\]\[0\] = 5 is out of range \(1 messages\)/,
    ],
  ];
  for (const [req, res, message] of cases) {
    throws(() => validateResponse(req, res), (err: Error) => {
      ok(err instanceof InvalidExchangeResponseError, String(err));
      ok(message.test(err.message), `${err.message} !~ ${message}`);
      return true;
    });
  }
});

Deno.test("validateResponse() turns error statuses into ExchangeStatusError", () => {
  for (
    const status of [
      ExchangeStatus.NotFound,
      ExchangeStatus.GoAway,
      ExchangeStatus.InternalError,
      ExchangeStatus.BadRequest,
      7,
    ]
  ) {
    throws(
      () => validateResponse(request([ANY_CID], 1), { status, errorMessage: "why", chain: [] }),
      (err: Error) => err instanceof ExchangeStatusError && err.status === status,
    );
  }
});

Deno.test("validateResponse() checks a messages-only answer against tipsets the caller has", () => {
  const chain = makeChain(5);
  const head = chain[4].cids;
  const full = answer(chain, 3, true);
  const messagesOnly = {
    ...full,
    chain: full.chain.map((t) => ({ blocks: [], messages: t.messages })),
  };
  const req = request(head, 3, ExchangeOptions.Messages);
  throws(() => validateResponse(req, messagesOnly), /not enough tipsets/);
  const tipsets = chain.slice(2).reverse();
  const valid = validateResponse(req, messagesOnly, { tipsets });
  equal(valid.messages!.length, 3);
  equal(valid.tipsets.length, 0);
});

Deno.test("compactMessages() stores each message once, and expandMessages() undoes it", () => {
  const chain = makeChain(3);
  const blocks = chain[2].blocks; // 3 blocks
  const perBlock = [
    { bls: [message(1), message(2)], secpk: [signed(1)] },
    { bls: [message(2), message(3)], secpk: [signed(1), signed(2)] },
    { bls: [], secpk: [] },
  ];
  const compacted = compactMessages(perBlock);
  equal(compacted.bls.length, 3);
  equal(compacted.secpk.length, 2);
  deepStrictEqual(compacted.blsIncludes, [[0, 1], [1, 2], []]);
  deepStrictEqual(compacted.secpkIncludes, [[0], [0, 1]].concat([[]]));
  const expanded = expandMessages({ blocks, messages: compacted });
  deepStrictEqual(expanded, perBlock);
  throws(() => expandMessages({ blocks, messages: null }), InvalidExchangeResponseError);
});
