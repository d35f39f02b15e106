/**
 * Lotus's `wallet export` format: the hex of a JSON `KeyInfo` (`{"Type":"secp256k1",
 * "PrivateKey":"<base64>"}`), which `lotus wallet import` and `filnode wallet import` read.
 *
 * @module
 */
import { hexToBytes } from "@noble/hashes/utils";
import { base64pad } from "multiformats/bases/base64";
import {
  checkPrivateKey,
  InvalidKeyError,
  type KeyType,
  UnsupportedKeyTypeError,
} from "./keystore_crypto.ts";

/** Parse Lotus's `wallet export` format into a key type and private key bytes. */
export function parseLotusExport(hexExport: string): { type: KeyType; privateKey: Uint8Array } {
  const text = hexExport.trim();
  let json: unknown;
  let raw: Uint8Array | undefined;
  try {
    raw = hexToBytes(text);
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
  } catch {
    throw new InvalidKeyError("not a Lotus key export (expected hex of a JSON KeyInfo)");
  } finally {
    raw?.fill(0);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new InvalidKeyError("not a Lotus key export (expected a JSON object)");
  }
  const { Type, PrivateKey } = json as Record<string, unknown>;
  if (typeof Type !== "string") throw new InvalidKeyError("Lotus key export has no Type");
  if (Type === "bls" || Type === "delegated") {
    throw new UnsupportedKeyTypeError(`${Type} keys are not supported yet (only secp256k1)`);
  }
  if (Type !== "secp256k1") {
    throw new UnsupportedKeyTypeError(`unknown Lotus key type ${JSON.stringify(Type)}`);
  }
  if (typeof PrivateKey !== "string") {
    throw new InvalidKeyError("Lotus key export has no PrivateKey");
  }
  let privateKey: Uint8Array;
  try {
    privateKey = base64pad.baseDecode(PrivateKey);
  } catch {
    throw new InvalidKeyError("Lotus key export PrivateKey is not valid base64");
  }
  checkPrivateKey("secp256k1", privateKey);
  return { type: "secp256k1", privateKey };
}
