// The parameter frame (protocol/frame.py), version 1: a CBOR map with small integer keys.
//
// Why a hand-written encoder: the Python side encodes with cbor2's canonical form, where a
// float that is exact in float16 goes out as 3 bytes. cbor-x writes float32/float64, which the
// Python decoder accepts but which makes frames ~20 bytes bigger and not byte-identical. The
// frame's layout is fixed, so writing it directly is short, and tests/web checks the bytes
// against protocol.frame.ParamFrame.encode for the same values. Decoding uses cbor-x.
//
// The body keys (8-12: torso, arms, hands; protocol/body.py) are decoded, with the Python
// decoder's checks, so a Python peer's raised arm is drawn; the page never encodes them: it
// tracks the face only (web/README.md).

import { Decoder } from "./vendor/cbor-x@1.6.9/decode.js";
import { NUM_BLENDSHAPES } from "./blendshapes.js";

export const FRAME_VERSION = 1;
export const MAX_FRAME_BYTES = 1024;
export const MAX_ROTATION_RAD = Math.PI;
export const MAX_TRANSLATION_CM = 1000.0;
export const FLAGS = Object.freeze({
  FACE_PRESENT: 1, CALIBRATED: 2, MIRRORED: 4, PAUSED: 8, HELD: 16, VOICE_MOUTH: 32,
});

/**
 * @typedef {Object} ParamFrame
 * @property {number} seq
 * @property {number} timestampUs  sender's monotonic clock at capture, microseconds
 * @property {number} flags
 * @property {number[]} rotation  [pitch, yaw, roll] radians
 * @property {number[]} translation  [x, y, z] centimetres
 * @property {Uint8Array} blendshapes  52 bytes, round(w * 255)
 * @property {[number, number] | null} emotion  [preset, weight byte] or null
 * @property {BodyPose | null} [body]  keys 8-12 (protocol/body.py); null when the sender
 *   tracks no body (the page itself never sends one: it tracks the face only)
 */

/**
 * One arm as unit directions in the user's body frame (+x the user's own left, +y up, +z
 * forward); hanging at rest is upperArm = forearm = hand = [0, -1, 0].
 * @typedef {{upperArm: number[], forearm: number[], hand: number[], palmNormal: number[]}} ArmPose
 */
/** @typedef {{curls: number[], spread: number}} HandShape  curls thumb..pinky and spread, 0..1 */
/**
 * protocol.body.BodyPose: arms[0]/hands[0] are the user's anatomical left; null = not seen in
 * this frame (the receiver eases that side back to rest).
 * @typedef {Object} BodyPose
 * @property {[number, number]} shrug  left, right: 0 rest .. 1 raised
 * @property {number} torsoRoll  radians, + toward the user's left
 * @property {[ArmPose | null, ArmPose | null]} arms
 * @property {[HandShape | null, HandShape | null]} hands
 */

/** @param {number} v */
function roundHalfEven(v) {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * IEEE half-precision bits of `x`, rounded to nearest-even straight from float64 (what
 * Python's struct "e" does; going through float32 would round twice).
 * @param {number} x finite
 */
export function halfBits(x) {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  if (a === 0) return sign;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1;
  if (2 ** (e + 1) <= a) e += 1;
  if (e < -14) return sign | roundHalfEven(a / 2 ** -24); // subnormal (1024 = smallest normal)
  let m = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) { m = 0; e += 1; }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

/** @param {number} value @param {number} limit */
function clampFinite(value, limit) {
  if (!Number.isFinite(value)) throw new RangeError(`non-finite value ${value}`);
  return Math.max(-limit, Math.min(limit, value));
}

/** 0..1 weight -> one byte (NaN -> 0, clamped), as protocol.frame.quantize_unit. */
export function quantizeUnit(/** @type {number} */ value) {
  if (Number.isNaN(value)) return 0;
  return Math.max(0, Math.min(255, roundHalfEven(value * 255)));
}

class Writer {
  constructor() { /** @type {number[]} */ this.bytes = []; }
  /** CBOR head: major type and shortest argument. @param {number} major @param {number} n */
  head(major, n) {
    const b = this.bytes;
    const m = major << 5;
    if (n < 24) b.push(m | n);
    else if (n < 0x100) b.push(m | 24, n);
    else if (n < 0x10000) b.push(m | 25, n >> 8, n & 0xff);
    else if (n < 0x100000000) b.push(m | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
    else {
      const big = BigInt(n);
      b.push(m | 27);
      for (let shift = 56n; shift >= 0n; shift -= 8n) b.push(Number((big >> shift) & 0xffn));
    }
  }
  /** @param {number} x */
  half(x) { const h = halfBits(x); this.bytes.push(0xf9, h >> 8, h & 0xff); }
}

/**
 * Encode a frame exactly as protocol.frame.ParamFrame.encode does.
 * @param {ParamFrame} f
 * @returns {Uint8Array}
 */
export function encodeFrame(f) {
  if (f.blendshapes.length !== NUM_BLENDSHAPES) throw new RangeError("need 52 blendshape bytes");
  const w = new Writer();
  w.head(5, f.emotion ? 8 : 7);
  w.head(0, 0); w.head(0, FRAME_VERSION);
  w.head(0, 1); w.head(0, f.seq % 2 ** 32);
  w.head(0, 2); w.head(0, Math.max(0, Math.round(f.timestampUs)));
  w.head(0, 3); w.head(0, f.flags);
  w.head(0, 4); w.head(4, 3);
  for (const v of f.rotation) w.half(clampFinite(v, MAX_ROTATION_RAD));
  w.head(0, 5); w.head(4, 3);
  for (const v of f.translation) w.half(clampFinite(v, MAX_TRANSLATION_CM));
  w.head(0, 6); w.head(2, NUM_BLENDSHAPES);
  for (const b of f.blendshapes) w.bytes.push(b);
  if (f.emotion) {
    w.head(0, 7); w.head(4, 2); w.head(0, f.emotion[0]); w.head(0, f.emotion[1]);
  }
  return Uint8Array.from(w.bytes);
}

const decoder = new Decoder({ useRecords: false, mapsAsObjects: false });

/** @param {unknown} v @param {number} max */
function uint(v, max) {
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > max) {
    throw new TypeError(`expected an unsigned integer up to ${max}`);
  }
  return n;
}

/** @param {unknown} v @param {number} limit */
function vec3(v, limit) {
  if (!Array.isArray(v) || v.length !== 3) throw new TypeError("expected 3 numbers");
  return v.map((x) => {
    if (typeof x !== "number") throw new TypeError("expected a number");
    return clampFinite(x, limit);
  });
}

/** Torso roll is carried to +-90 degrees (protocol.body.MAX_TORSO_ROLL_RAD). */
export const MAX_TORSO_ROLL_RAD = Math.PI / 2;
const K_TORSO = 8, K_ARMS = [9, 10], K_HANDS = [11, 12];
/** A decoded int8 vector shorter than this (1/127 units) is no quantised unit vector. */
const MIN_VEC_NORM = 100.0;

/** @param {unknown} v @param {string} name @param {number} length @returns {Uint8Array} */
function byteString(v, name, length) {
  if (!(v instanceof Uint8Array)) throw new TypeError(`${name} must be a byte string`);
  if (v.length !== length) throw new TypeError(`${name}: expected ${length} bytes, got ${v.length}`);
  return v;
}

const int8 = (/** @type {number} */ b) => (b > 127 ? b - 256 : b);

/** Three int8 bytes -> a unit vector (protocol.body._vec_from). @param {Uint8Array} b @param {number} at */
function unitVec(b, at) {
  const x = int8(b[at]), y = int8(b[at + 1]), z = int8(b[at + 2]);
  const n = Math.sqrt(x * x + y * y + z * z);
  if (n < MIN_VEC_NORM) throw new TypeError(`direction (${x}, ${y}, ${z}) is not a unit vector`);
  return [x / n, y / n, z / n];
}

/**
 * The body a decoded frame map carries (protocol.body.BodyPose.from_wire_map, same checks),
 * or null when it carries none (no key 8).
 * @param {Map<unknown, unknown>} raw @returns {BodyPose | null}
 */
function decodeBody(raw) {
  if (!raw.has(K_TORSO)) {
    if ([...K_ARMS, ...K_HANDS].some((k) => raw.has(k))) {
      throw new TypeError("arm or hand keys without the torso key 8");
    }
    return null;
  }
  const torso = byteString(raw.get(K_TORSO), "torso", 3);
  const sides = ["left", "right"];
  const arms = K_ARMS.map((key, i) => {
    if (!raw.has(key)) return null;
    const b = byteString(raw.get(key), `${sides[i]} arm`, 12);
    const [upperArm, forearm, hand, palmNormal] = [0, 3, 6, 9].map((at) => unitVec(b, at));
    return { upperArm, forearm, hand, palmNormal };
  });
  const hands = K_HANDS.map((key, i) => {
    if (!raw.has(key)) return null;
    const b = byteString(raw.get(key), `${sides[i]} hand`, 6);
    return { curls: Array.from(b.subarray(0, 5), (c) => c / 255), spread: b[5] / 255 };
  });
  return {
    shrug: [torso[0] / 255, torso[1] / 255],
    torsoRoll: (int8(torso[2]) / 127) * MAX_TORSO_ROLL_RAD,
    arms: [arms[0], arms[1]],
    hands: [hands[0], hands[1]],
  };
}

/**
 * Decode and validate a frame (the checks of ParamFrame.decode); throws on bad input.
 * @param {Uint8Array} data
 * @returns {ParamFrame}
 */
export function decodeFrame(data) {
  if (data.length > MAX_FRAME_BYTES) throw new RangeError(`frame of ${data.length} bytes`);
  const raw = decoder.decode(data);
  if (!(raw instanceof Map)) throw new TypeError("frame must be a CBOR map");
  for (const key of [0, 1, 2, 3, 4, 5, 6]) {
    if (!raw.has(key)) throw new TypeError(`frame is missing key ${key}`);
  }
  if (uint(raw.get(0), 255) !== FRAME_VERSION) throw new TypeError("unsupported frame version");
  const blend = raw.get(6);
  if (!(blend instanceof Uint8Array) || blend.length !== NUM_BLENDSHAPES) {
    throw new TypeError("blendshapes must be 52 bytes");
  }
  let emotion = null;
  const em = raw.get(7);
  if (em !== undefined) {
    if (!Array.isArray(em) || em.length !== 2) throw new TypeError("bad emotion");
    emotion = /** @type {[number, number]} */ ([uint(em[0], 4), uint(em[1], 255)]);
  }
  return {
    seq: uint(raw.get(1), 2 ** 32 - 1),
    timestampUs: uint(raw.get(2), Number.MAX_SAFE_INTEGER),
    flags: uint(raw.get(3), 0xffff),
    rotation: vec3(raw.get(4), MAX_ROTATION_RAD),
    translation: vec3(raw.get(5), MAX_TRANSLATION_CM),
    blendshapes: Uint8Array.from(blend),
    emotion,
    body: decodeBody(raw),
  };
}
