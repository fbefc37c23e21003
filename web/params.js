// The named parameters avatar bindings read (avatars/FORMAT.md, "Parameters"), and a received
// frame as a vector of them: render_window/params.py's frame_to_vector, so a pack moves in the
// page exactly as in the Python window. The order equals avatars.params.PARAM_NAMES
// (tests/web/test_page_units.py checks it), so vectors can be interpolated index by index.
// A received frame's body (keys 8-12) fills the upper-body parameters as the Python window's.

import { BLENDSHAPE_NAMES, BLENDSHAPE_INDEX } from "./blendshapes.js";
import { FLAGS } from "./frame.js";

export const POSE_PARAMS = Object.freeze([
  "headPitch", "headYaw", "headRoll", "headX", "headY", "headZ", "gazeX", "gazeY",
]);
const DERIVED = [
  ...POSE_PARAMS, "mouthOpen", "smile", "breath",
  "emotionHappy", "emotionSad", "emotionAngry", "emotionSurprised",
];
export const SIDES = Object.freeze(["Left", "Right"]);
export const BONES = Object.freeze(["upperArm", "forearm", "hand"]);
export const FINGERS = Object.freeze(["thumb", "index", "middle", "ring", "pinky"]);
/** Bone driver ("forearmLeft") -> [angle parameter, forward parameter]. */
/** @type {Readonly<Record<string, [string, string]>>} */
export const BONE_DRIVERS = Object.freeze(Object.fromEntries(SIDES.flatMap((side) => BONES.map(
  (bone) => [`${bone}${side}`, [`${bone}Angle${side}`, `${bone}Forward${side}`]]))));
/** @param {string} side */
const armParams = (side) => [
  ...BONES.flatMap((bone) => BONE_DRIVERS[`${bone}${side}`]), `palmFacing${side}`];
/** @param {string} side */
const handParams = (side) => [...FINGERS.map((f) => `${f}Curl${side}`), `fingerSpread${side}`];
/** Upper-body groups (avatars.params.BODY_GROUPS): each eases to rest on its own. */
export const BODY_GROUPS = Object.freeze({
  torso: ["shoulderShrugLeft", "shoulderShrugRight", "torsoRoll"],
  armLeft: armParams("Left"), armRight: armParams("Right"),
  handLeft: handParams("Left"), handRight: handParams("Right"),
});
const BODY_PARAMS = Object.values(BODY_GROUPS).flat();
const SIGNED_BODY = BODY_PARAMS.filter((n) => /Angle|Forward|Facing/.test(n) || n === "torsoRoll");

/** @type {readonly string[]} */
export const PARAM_NAMES = Object.freeze([
  ...BLENDSHAPE_NAMES.filter((n) => n !== "_neutral"), ...DERIVED, ...BODY_PARAMS,
]);
/** @type {Readonly<Record<string, number>>} */
export const PARAM_INDEX = Object.freeze(Object.fromEntries(PARAM_NAMES.map((n, i) => [n, i])));
export const NUM_PARAMS = PARAM_NAMES.length;
/** Which parameters stay within 0..1 after extrapolation (weights, not angles). */
export const UNIT = Uint8Array.from(PARAM_NAMES, (n) =>
  (POSE_PARAMS.includes(n) || n === "breath" || SIGNED_BODY.includes(n) ? 0 : 1));
/** Body groups in a fixed order (render_window.params.GROUP_NAMES) and their indices: what
 * bodyPresence reports on and the motion layer eases one by one. */
export const GROUP_NAMES = Object.freeze(Object.keys(BODY_GROUPS));
export const GROUP_INDEX = Object.freeze(GROUP_NAMES.map((g) =>
  Uint16Array.from(BODY_GROUPS[/** @type {keyof typeof BODY_GROUPS} */ (g)], (n) => PARAM_INDEX[n])));

/** Head translation (cm from the calibrated rest) that maps to +-1 (render_window/params.py). */
export const HEAD_TRANSLATION_RANGE_CM = 10.0;
const EMOTION_PARAM = ["", "emotionHappy", "emotionSad", "emotionAngry", "emotionSurprised"];
const clamp = (/** @type {number} */ v, /** @type {number} */ lo, /** @type {number} */ hi) =>
  (v < lo ? lo : v > hi ? hi : v);

/**
 * The frame's parameters in PARAM_NAMES order (render_window.params.frame_to_vector; breath 0,
 * the renderer's idle life makes it).
 * @param {import("./frame.js").ParamFrame} frame
 * @returns {Float64Array}
 */
export function frameToVector(frame) {
  const vec = new Float64Array(NUM_PARAMS);
  const b = frame.blendshapes;
  const w = (/** @type {string} */ name) => b[BLENDSHAPE_INDEX[name]] / 255;
  for (let i = 1; i < BLENDSHAPE_NAMES.length; i++) vec[i - 1] = b[i] / 255;
  const [pitch, yaw, roll] = frame.rotation;
  vec[PARAM_INDEX.headPitch] = pitch;
  vec[PARAM_INDEX.headYaw] = yaw;
  vec[PARAM_INDEX.headRoll] = roll;
  if (frame.flags & FLAGS.CALIBRATED) {
    ["headX", "headY", "headZ"].forEach((axis, k) => {
      vec[PARAM_INDEX[axis]] = clamp(frame.translation[k] / HEAD_TRANSLATION_RANGE_CM, -1, 1);
    });
  }
  vec[PARAM_INDEX.gazeX] = clamp((w("eyeLookOutLeft") + w("eyeLookInRight")
    - w("eyeLookInLeft") - w("eyeLookOutRight")) / 2, -1, 1);
  vec[PARAM_INDEX.gazeY] = clamp((w("eyeLookUpLeft") + w("eyeLookUpRight")
    - w("eyeLookDownLeft") - w("eyeLookDownRight")) / 2, -1, 1);
  vec[PARAM_INDEX.mouthOpen] = w("jawOpen");
  vec[PARAM_INDEX.smile] = (w("mouthSmileLeft") + w("mouthSmileRight")) / 2;
  if (frame.emotion && EMOTION_PARAM[frame.emotion[0]]) {
    vec[PARAM_INDEX[EMOTION_PARAM[frame.emotion[0]]]] = clamp(frame.emotion[1] / 255, 0, 1);
  }
  if (frame.body) putBody(vec, frame.body); // sides not seen stay 0: the motion layer holds them
  return vec;
}

/** An arm pointing this close to straight across the chest is where its angle wraps
 * (render_window.params._WRAP): interpolation never sweeps the long way round. */
const WRAP = 0.75 * Math.PI;

/**
 * The direction `v` projected on the frontal plane, as an angle from hanging down, + toward
 * the subject's left (render_window.params.segment_angle). @param {number[]} v @param {number} side 0 left, 1 right
 */
export function segmentAngle(v, side) {
  let a = Math.atan2(v[0], -v[1]);
  if (side === 0 && a < -WRAP) a += 2 * Math.PI;
  else if (side === 1 && a > WRAP) a -= 2 * Math.PI;
  return a;
}

/**
 * Write `body`'s parameters into `vec` (render_window.params.put_body); a side not seen is left
 * as it is. @param {Float64Array} vec @param {import("./frame.js").BodyPose} body
 */
export function putBody(vec, body) {
  vec[PARAM_INDEX.shoulderShrugLeft] = clamp(body.shrug[0], 0, 1);
  vec[PARAM_INDEX.shoulderShrugRight] = clamp(body.shrug[1], 0, 1);
  vec[PARAM_INDEX.torsoRoll] = clamp(body.torsoRoll, -Math.PI / 2, Math.PI / 2);
  SIDES.forEach((s, side) => {
    const arm = body.arms[side], hand = body.hands[side];
    if (arm) {
      for (const [bone, v] of /** @type {[string, number[]][]} */ (
        [["upperArm", arm.upperArm], ["forearm", arm.forearm], ["hand", arm.hand]])) {
        const [angle, forward] = BONE_DRIVERS[`${bone}${s}`];
        vec[PARAM_INDEX[angle]] = segmentAngle(v, side);
        vec[PARAM_INDEX[forward]] = clamp(v[2], -1, 1);
      }
      vec[PARAM_INDEX[`palmFacing${s}`]] = clamp(arm.palmNormal[2], -1, 1);
    }
    if (hand) {
      FINGERS.forEach((f, i) => { vec[PARAM_INDEX[`${f}Curl${s}`]] = clamp(hand.curls[i], 0, 1); });
      vec[PARAM_INDEX[`fingerSpread${s}`]] = clamp(hand.spread, 0, 1);
    }
  });
}

/**
 * Which GROUP_NAMES the frame carries (render_window.params.body_presence; all false without
 * a body). @param {import("./frame.js").ParamFrame} frame @returns {boolean[]}
 */
export function bodyPresence(frame) {
  const body = frame.body;
  if (!body) return GROUP_NAMES.map(() => false);
  /** @type {Record<string, boolean>} */
  const seen = {
    torso: true, armLeft: body.arms[0] !== null, armRight: body.arms[1] !== null,
    handLeft: body.hands[0] !== null, handRight: body.hands[1] !== null,
  };
  return GROUP_NAMES.map((g) => seen[g]);
}
