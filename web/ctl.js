// Peer <-> peer control messages on the reliable `ctl` DataChannel (protocol/ctl.py): a CBOR
// map {0: type, 1: field1, 2: field2, ...} in each message's field order. cbor-x encodes them
// with records, tags and string-keyed objects all off, so the Python strict decoder accepts
// every byte; 64-bit clock values travel as BigInt (uint64), never as floats.

import { Encoder } from "./vendor/cbor-x@1.6.9/encode.js";
import { Decoder } from "./vendor/cbor-x@1.6.9/decode.js";

export const CTL_VERSION = 1;
export const MAX_CTL_BYTES = 16 * 1024 + 1024;
export const MAX_CHAT_CHARS = 2000;
export const MAX_NAME_CHARS = 64;

/** Field names per message type, in wire order (keys 1..n). */
export const CTL_FIELDS = Object.freeze({
  1: ["hello", ["name", "avatar_id", "avatar_version", "avatar_hash", "app_version", "protocol"]],
  2: ["ping", ["seq", "t1_us"]],
  3: ["pong", ["seq", "t1_us", "t2_us", "t3_us"]],
  4: ["chat", ["msg_id", "text"]],
  5: ["emotion", ["preset", "weight"]],
  6: ["avatar_request", ["hash"]],
  7: ["avatar_chunk", ["hash", "index", "total", "size", "data"]],
  8: ["avatar_switch", ["avatar_id", "avatar_version", "avatar_hash"]],
  9: ["bye", ["reason"]],
  10: ["avatar_unavailable", ["hash", "reason"]],
  11: ["gesture", ["name", "side"]],
});
/** @type {Record<string, number>} */
const TYPE_OF = Object.fromEntries(Object.entries(CTL_FIELDS).map(([t, [n]]) => [n, Number(t)]));
/** Integer fields that can exceed 2**32 (clock values): encoded as BigInt -> CBOR uint64. */
const WIDE = new Set(["t1_us", "t2_us", "t3_us"]);

const encoder = new Encoder({
  useRecords: false, mapsAsObjects: false, tagUint8Array: false, useTag259ForMaps: false,
  variableMapSize: true, pack: false,
});
const decoder = new Decoder({ useRecords: false, mapsAsObjects: false });

/**
 * @param {string} kind  "hello", "ping", ... (keys of CTL_FIELDS' names)
 * @param {Record<string, unknown>} values
 * @returns {Uint8Array}
 */
export function encodeCtl(kind, values) {
  const type = TYPE_OF[kind];
  if (type === undefined) throw new TypeError(`unknown ctl message ${kind}`);
  const names = CTL_FIELDS[/** @type {keyof typeof CTL_FIELDS} */ (type)][1];
  const map = new Map([[0, type]]);
  names.forEach((name, i) => {
    let v = values[name];
    if (v === undefined) return; // trailing defaults: the receiver fills them in
    if (WIDE.has(name)) v = BigInt(Math.max(0, Math.round(Number(v))));
    map.set(i + 1, v);
  });
  const data = encoder.encode(map);
  if (data.length > MAX_CTL_BYTES) throw new RangeError(`${kind} of ${data.length} bytes`);
  return Uint8Array.from(data);
}

/**
 * Decode one ctl message into {kind, ...fields}; throws on anything malformed.
 * @param {Uint8Array} data
 * @returns {{kind: string} & Record<string, unknown>}
 */
export function decodeCtl(data) {
  if (data.length > MAX_CTL_BYTES) throw new RangeError(`ctl message of ${data.length} bytes`);
  const raw = decoder.decode(data);
  if (!(raw instanceof Map)) throw new TypeError("ctl message must be a CBOR map");
  const type = raw.get(0);
  const spec = CTL_FIELDS[/** @type {keyof typeof CTL_FIELDS} */ (type)];
  if (!spec) throw new TypeError(`unknown ctl message type ${String(type)}`);
  /** @type {{kind: string} & Record<string, unknown>} */
  const out = { kind: spec[0] };
  spec[1].forEach((name, i) => {
    if (!raw.has(i + 1)) return;
    const v = raw.get(i + 1);
    out[name] = typeof v === "bigint" ? Number(v) : v;
  });
  return out;
}
