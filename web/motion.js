// Smooth motion from irregular frames, and idle life: a port of render_window/motion.py and
// render_window/idle.py, so the peer's avatar moves in the page as in the Python window.
//
// Frames arrive at the tracker's rate (20-30 Hz) with jitter; the page draws at the display
// rate. The playout clock is `sample = now - offset - delay`: offset is the smallest transit
// (arrival - capture) seen lately (the clock offset plus the fastest path), delay one sender
// frame interval plus 3x RFC 3550 jitter, capped at 60 ms. Between frames the pose is
// interpolated; past the newest it is extrapolated for at most 100 ms, and the error is blended
// away when the late frame comes. When frames stop (0.5 s), the face is lost or tracking is
// paused, a critically damped spring carries the pose into idle life (blinks at a human rate,
// breathing, a slight sway, wandering gaze). The upper body eases on its own, group by group
// (torso, each arm, each hand), as motion.py's: a group missing from the frames for more than
// 150 ms (the arm left the picture, a sender without a body, the page's own face-only frames)
// goes back to hanging at rest on the same spring, while the face stays tracked; an unseen
// side holds its last pose in the stream, so interpolation never snaps a raised arm down.

import {
  NUM_PARAMS, PARAM_INDEX, UNIT, FINGERS, GROUP_NAMES, GROUP_INDEX, bodyPresence,
} from "./params.js";
import { FLAGS } from "./frame.js";

export const JITTER_K = 3.0;
export const MAX_DELAY_S = 0.060;
export const MAX_EXTRAPOLATE_S = 0.100;
export const STALE_AFTER_S = 0.5;
export const IDLE_OMEGA = 9.0;
export const CORRECTION_TAU_S = 0.05;
const OFFSET_CREEP = 0.002;
const OFFSET_RESET_S = 1.0;
const HISTORY = 128;
/** A body group missing for less than this keeps its pose (a hand model that runs every other
 * frame, one missed detection); longer, it eases to rest (motion.py's BODY_GRACE_S). */
export const BODY_GRACE_S = 0.15;

const BLINK_INTERVAL_S = [2.0, 6.0];
const BLINK_CLOSE_S = 0.06, BLINK_HOLD_S = 0.03, BLINK_OPEN_S = 0.08;
const DOUBLE_BLINK_CHANCE = 0.12;
export const BREATH_HZ = 0.25;
const SWAY_YAW = 0.07, SWAY_PITCH = 0.03, SWAY_ROLL = 0.04;
const ARM_REST_ANGLE = 0.08, ARM_SWAY = 0.035;
const GAZE_INTERVAL_S = [1.0, 4.0], GAZE_RANGE = 0.3, GAZE_MOVE_S = 0.06;
/** protocol.body.REST_HAND */
const REST_CURLS = [0.15, 0.2, 0.2, 0.2, 0.2], REST_SPREAD = 0.2;

/** A small seeded generator (mulberry32): idle life reproducible with a seed. @param {number} seed */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class IdleLife {
  /** @param {number} [seed] @param {number} [start] seconds */
  constructor(seed = Math.floor(Math.random() * 2 ** 31), start = 0) {
    this.random = rng(seed);
    const u = (/** @type {number} */ lo, /** @type {number} */ hi) => lo + (hi - lo) * this.random();
    this.uniform = u;
    this.phase = Array.from({ length: 6 }, () => u(0, 2 * Math.PI));
    this.nextBlink = start + u(0.8, 2.5);
    /** @type {number[]} */ this.blinks = [];
    this.gazeFrom = [0, 0]; this.gazeTo = [0, 0]; this.gazeAt = start;
    this.nextGaze = start + u(GAZE_INTERVAL_S[0], GAZE_INTERVAL_S[1]);
  }

  /** @param {number} t */
  schedule(t) {
    while (t >= this.nextBlink) {
      const start = this.nextBlink;
      this.blinks.push(start);
      if (this.random() < DOUBLE_BLINK_CHANCE) {
        this.blinks.push(start + BLINK_CLOSE_S + BLINK_HOLD_S + BLINK_OPEN_S + 0.08);
      }
      this.nextBlink = start + this.uniform(BLINK_INTERVAL_S[0], BLINK_INTERVAL_S[1]);
    }
    const length = BLINK_CLOSE_S + BLINK_HOLD_S + BLINK_OPEN_S;
    this.blinks = this.blinks.filter((b) => b + length > t - 1.0);
    while (t >= this.nextGaze) {
      this.gazeFrom = this.gazeAtTime(this.nextGaze);
      this.gazeTo = [this.uniform(-GAZE_RANGE, GAZE_RANGE), this.uniform(-GAZE_RANGE, GAZE_RANGE) * 0.6];
      this.gazeAt = this.nextGaze;
      this.nextGaze += this.uniform(GAZE_INTERVAL_S[0], GAZE_INTERVAL_S[1]);
    }
  }

  /** Lid closure 0..1 at `t`. @param {number} t */
  blink(t) {
    this.schedule(t);
    let value = 0;
    for (const start of this.blinks) {
      const dt = t - start;
      let v = 0;
      if (dt < 0) continue;
      if (dt < BLINK_CLOSE_S) v = dt / BLINK_CLOSE_S;
      else if (dt < BLINK_CLOSE_S + BLINK_HOLD_S) v = 1;
      else if (dt < BLINK_CLOSE_S + BLINK_HOLD_S + BLINK_OPEN_S) {
        v = 1 - (dt - BLINK_CLOSE_S - BLINK_HOLD_S) / BLINK_OPEN_S;
      } else continue;
      value = Math.max(value, v);
    }
    return value;
  }

  /** @param {number} t @returns {number[]} */
  gazeAtTime(t) {
    let k = Math.min(1, Math.max(0, (t - this.gazeAt) / GAZE_MOVE_S));
    k = k * k * (3 - 2 * k);
    return [0, 1].map((i) => this.gazeFrom[i] + (this.gazeTo[i] - this.gazeFrom[i]) * k);
  }

  /** @param {number} t */
  static breath(t) { return Math.sin(2 * Math.PI * BREATH_HZ * t); }

  /** The idle pose at `t` (render_window.idle.IdleLife.pose). @param {number} t */
  pose(t) {
    const vec = new Float64Array(NUM_PARAMS);
    this.schedule(t);
    const p = this.phase;
    const s = (/** @type {number} */ hz, /** @type {number} */ ph) => Math.sin(2 * Math.PI * hz * t + ph);
    const yaw = 0.7 * s(0.071, p[0]) + 0.3 * s(0.173, p[1]);
    const pitch = 0.6 * s(0.053, p[2]) + 0.4 * s(0.131, p[3]);
    const roll = 0.7 * s(0.061, p[4]) + 0.3 * s(0.157, p[5]);
    vec[PARAM_INDEX.headYaw] = SWAY_YAW * yaw;
    vec[PARAM_INDEX.headPitch] = SWAY_PITCH * pitch;
    vec[PARAM_INDEX.headRoll] = SWAY_ROLL * roll;
    const b = this.blink(t);
    vec[PARAM_INDEX.eyeBlinkLeft] = b;
    vec[PARAM_INDEX.eyeBlinkRight] = b;
    const [gx, gy] = this.gazeAtTime(t);
    vec[PARAM_INDEX.gazeX] = gx;
    vec[PARAM_INDEX.gazeY] = gy;
    vec[PARAM_INDEX.smile] = 0.08;
    vec[PARAM_INDEX.breath] = IdleLife.breath(t);
    const swing = 0.6 * roll + 0.4 * Math.sin(2 * Math.PI * 0.09 * t);
    for (const [side, out] of /** @type {[string, number][]} */ ([["Left", 1], ["Right", -1]])) {
      const base = out * ARM_REST_ANGLE + ARM_SWAY * swing;
      vec[PARAM_INDEX[`upperArmAngle${side}`]] = base;
      vec[PARAM_INDEX[`forearmAngle${side}`]] = base + out * 0.04;
      vec[PARAM_INDEX[`handAngle${side}`]] = base + out * 0.06;
      FINGERS.forEach((f, i) => { vec[PARAM_INDEX[`${f}Curl${side}`]] = REST_CURLS[i]; });
      vec[PARAM_INDEX[`fingerSpread${side}`]] = REST_SPREAD;
    }
    return vec;
  }
}

/** @typedef {{capture: number, arrival: number, seq: number, vec: Float64Array, flags: number}} Entry */

export class Motion {
  /** @param {IdleLife} [idle] */
  constructor(idle) {
    this.idle = idle ?? new IdleLife();
    /** @type {Entry[]} */ this.frames = [];
    /** @type {number | null} */ this.offset = null;
    this.offsetAt = 0;
    this.jitter = 0;
    this.interval = 1 / 30;
    this.lastArrival = -Infinity;
    this.idleW = 1; this.idleV = 0;
    /** @type {number | null} */ this.lastT = null;
    this.correction = new Float64Array(NUM_PARAMS);
    this.lastTracked = new Float64Array(NUM_PARAMS);
    /** @type {number | null} */ this.lastS = null;
    this.lastExtrapolating = false;
    this.framesReceived = 0;
    // One idle spring per body group (GROUP_NAMES): 1 = at rest, 0 = tracked.
    this.groupW = new Float64Array(GROUP_NAMES.length).fill(1);
    this.groupV = new Float64Array(GROUP_NAMES.length);
    this.groupSeen = new Float64Array(GROUP_NAMES.length).fill(-Infinity); // our clock
  }

  /** Current playout delay, seconds. */
  get delay() { return Math.min(MAX_DELAY_S, this.interval + JITTER_K * this.jitter); }

  /**
   * Add a received frame. `arrival` is our clock in seconds; the frame's capture time is on
   * the sender's clock, never compared with ours directly.
   * @param {import("./frame.js").ParamFrame} frame @param {Float64Array} vec @param {number} arrival
   */
  push(frame, vec, arrival) {
    const capture = frame.timestampUs / 1e6;
    const transit = arrival - capture;
    const frames = this.frames;
    if (frames.length) {
      const prev = frames[frames.length - 1];
      if (capture <= prev.capture) {
        if (capture < prev.capture - OFFSET_RESET_S) { frames.length = 0; this.lastS = null; this.lastExtrapolating = false; }
        else return; // duplicate or reordered: the newer one already won
      }
    }
    if (this.offset === null || transit < this.offset || transit > this.offset + OFFSET_RESET_S) {
      this.offset = transit;
    } else {
      this.offset = Math.min(transit, this.offset + OFFSET_CREEP * (arrival - this.offsetAt));
    }
    this.offsetAt = arrival;
    if (frames.length) {
      const prev = frames[frames.length - 1];
      const d = (arrival - prev.arrival) - (capture - prev.capture);
      this.jitter += (Math.abs(d) - this.jitter) / 16; // RFC 3550, section 6.4.1
      const gap = capture - prev.capture;
      if (gap > 0.004 && gap < 0.25) this.interval += (gap - this.interval) / 8;
    }
    const present = bodyPresence(frame);
    present.forEach((seen, g) => { if (seen) this.groupSeen[g] = arrival; });
    if (frames.length) {
      // A side not seen holds its last pose in the stream (its spring eases it to rest).
      const held = frames[frames.length - 1].vec;
      present.forEach((seen, g) => { if (!seen) for (const i of GROUP_INDEX[g]) vec[i] = held[i]; });
    }
    frames.push({ capture, arrival, seq: frame.seq, vec, flags: frame.flags });
    if (frames.length > HISTORY) frames.shift();
    if (this.lastS !== null && this.lastExtrapolating) {
      // The last pose drawn guessed past the newest frame: carry the error, let it decay.
      const [fixed] = this.trackedAt(this.lastS);
      for (let i = 0; i < NUM_PARAMS; i++) this.correction[i] += this.lastTracked[i] - fixed[i];
      this.lastExtrapolating = false;
    }
    this.lastArrival = arrival;
    this.framesReceived += 1;
  }

  /** Interpolated pose at sender time `s`: [vector, extrapolating]. @param {number} s
   * @returns {[Float64Array, boolean]} */
  trackedAt(s) {
    const frames = this.frames;
    const last = frames.length - 1;
    if (s <= frames[0].capture) return [frames[0].vec, false];
    const newest = frames[last];
    if (s >= newest.capture) {
      if (last === 0 || s === newest.capture) return [newest.vec, false];
      const prev = frames[last - 1];
      const span = newest.capture - prev.capture;
      const ahead = Math.min(s - newest.capture, MAX_EXTRAPOLATE_S, span * 3);
      const vec = new Float64Array(NUM_PARAMS);
      let moved = false;
      for (let i = 0; i < NUM_PARAMS; i++) {
        let v = newest.vec[i] + (newest.vec[i] - prev.vec[i]) * (ahead / span);
        if (UNIT[i]) v = Math.min(1, Math.max(0, v));
        vec[i] = v;
        if (v !== newest.vec[i]) moved = true;
      }
      return [vec, moved];
    }
    let hi = last;
    while (frames[hi - 1].capture > s) hi -= 1;
    const a = frames[hi - 1], b = frames[hi];
    const k = (s - a.capture) / (b.capture - a.capture);
    return [a.vec.map((v, i) => v + (b.vec[i] - v) * k), false];
  }

  /** @param {number} now */
  wantsIdle(now) {
    if (!this.frames.length || now - this.lastArrival > STALE_AFTER_S) return true;
    const flags = this.frames[this.frames.length - 1].flags;
    const tracked = flags & (FLAGS.FACE_PRESENT | FLAGS.HELD);
    return Boolean(flags & FLAGS.PAUSED) || !tracked;
  }

  /** The pose to draw at our time `now` (seconds). @param {number} now @returns {Float64Array} */
  sample(now) {
    const dt = this.lastT === null ? 0 : Math.max(0, Math.min(0.25, now - this.lastT));
    this.lastT = now;
    let tracked = this.lastTracked;
    if (this.frames.length && this.offset !== null) {
      const s = now - this.offset - this.delay;
      const [vec, extrapolating] = this.trackedAt(s);
      tracked = vec;
      this.lastTracked = vec;
      this.lastS = s;
      this.lastExtrapolating = extrapolating;
    }
    const decay = dt > 0 ? Math.exp(-dt / CORRECTION_TAU_S) : 1;
    for (let i = 0; i < NUM_PARAMS; i++) this.correction[i] *= decay;
    const target = this.wantsIdle(now) ? 1 : 0;
    let w = this.idleW, v = this.idleV;
    if (dt > 0) {
      const acc = -2 * IDLE_OMEGA * v - IDLE_OMEGA * IDLE_OMEGA * (w - target);
      v += acc * dt;
      w += v * dt;
      if ((w - target) * (this.idleW - target) < 0 || Math.abs(w - target) < 1e-4) { w = target; v = 0; }
    }
    this.idleW = Math.min(1, Math.max(0, w)); this.idleV = v;
    this.stepGroups(now, dt);
    const weights = new Float64Array(NUM_PARAMS).fill(this.idleW);
    GROUP_INDEX.forEach((idx, g) => { for (const i of idx) weights[i] = this.groupW[g]; });
    const idle = this.idle.pose(now);
    const pose = new Float64Array(NUM_PARAMS);
    for (let i = 0; i < NUM_PARAMS; i++) {
      const p = tracked[i] + this.correction[i];
      pose[i] = p + (idle[i] - p) * weights[i];
    }
    pose[PARAM_INDEX.breath] = IdleLife.breath(now);
    return pose;
  }

  /**
   * The body groups' springs (motion.py's _step_groups): toward rest when the group is not in
   * the newest frames (or the stream stopped or paused), toward tracking when it is;
   * independent of the face (hands can be seen while the face is not).
   * @param {number} now @param {number} dt
   */
  stepGroups(now, dt) {
    const frames = this.frames;
    const stopped = !frames.length || now - this.lastArrival > STALE_AFTER_S
      || Boolean(frames[frames.length - 1].flags & FLAGS.PAUSED);
    if (dt <= 0) return;
    for (let g = 0; g < GROUP_NAMES.length; g++) {
      const target = stopped || now - this.groupSeen[g] > BODY_GRACE_S ? 1 : 0;
      const w = this.groupW[g], v = this.groupV[g];
      const acc = -2 * IDLE_OMEGA * v - IDLE_OMEGA * IDLE_OMEGA * (w - target);
      let nv = v + acc * dt;
      let nw = w + nv * dt;
      if ((nw - target) * (w - target) < 0 || Math.abs(nw - target) < 1e-4) { nw = target; nv = 0; }
      this.groupW[g] = Math.min(1, Math.max(0, nw)); this.groupV[g] = nv;
    }
  }

  /** Each body group's idle weight (1 = at rest, 0 = tracked), for tests and stats. */
  get bodyWeights() {
    return Object.fromEntries(GROUP_NAMES.map((g, i) => [g, this.groupW[i]]));
  }
}
