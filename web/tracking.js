// Face parameters from MediaPipe's FaceLandmarker result, exactly as the Python tracker makes
// them (tracking/pose.py, params.py, smoothing.py, pipeline.py), so a frame from the page means
// the same thing as one from the terminal client: same pose conventions and left/right, same
// One Euro settings, same face-lost handling, same quantisation (frame.js).
//
// Pure functions and small classes with no DOM: tests/web/test_tracking_units.py runs them in
// Node against the Python implementations. The camera and MediaPipe itself live in
// tracking_camera.js and tracking_worker.js.

import { BLENDSHAPE_NAMES, MIRROR_PERMUTATION, NUM_BLENDSHAPES } from "./blendshapes.js";
import { FLAGS, MAX_ROTATION_RAD, MAX_TRANSLATION_CM, quantizeUnit } from "./frame.js";

/**
 * @typedef {Object} RawParams  one image's parameters before smoothing (tracking/params.py)
 * @property {Float64Array} weights  52 blendshape weights, wire order, 0..1
 * @property {number[]} rotation  [pitch, yaw, roll] radians
 * @property {number[]} translation  [x, y, z] centimetres, camera space
 */

/**
 * (pitch, yaw, roll) from a 3x3 rotation given as `r(row, col)`, per tracking/pose.py:
 * R = Ry(yaw) Rx(pitch) Rz(-roll); pitch > 0 looks down, yaw > 0 turns to the subject's own
 * left, roll > 0 tilts toward the subject's own left shoulder.
 * @param {(row: number, col: number) => number} r
 * @returns {number[]}
 */
export function eulerFromRotation(r) {
  const pitch = Math.asin(Math.max(-1, Math.min(1, -r(1, 2))));
  const yaw = Math.atan2(r(0, 2), r(2, 2));
  const roll = -Math.atan2(r(1, 0), r(1, 1));
  return [pitch, yaw, roll];
}

/**
 * Pose from MediaPipe's 4x4 facial transformation matrix. The web API hands out the matrix's
 * 16 numbers column by column (MatrixData's default layout: element (row, col) is
 * data[col * 4 + row], the translation in 12, 13, 14); the Python API gives the same matrix as
 * a row-major numpy array. tests/web/test_browser_tracking.py holds this to the Python tracker
 * on the same image (read row by row, the angles come out negated and the translation zero).
 * @param {ArrayLike<number>} data 16 numbers, column-major
 * @returns {{rotation: number[], translation: number[]}}
 */
export function poseFromMatrix(data) {
  const at = (/** @type {number} */ row, /** @type {number} */ col) => Number(data[col * 4 + row]);
  return { rotation: eulerFromRotation(at), translation: [at(0, 3), at(1, 3), at(2, 3)] };
}

/**
 * As seen in a mirror (tracking/params.py RawParams.mirrored): left/right channels swap,
 * yaw, roll and x flip. For a camera that mirrors its image itself.
 * @param {RawParams} raw
 * @returns {RawParams}
 */
export function mirrorParams(raw) {
  const [pitch, yaw, roll] = raw.rotation;
  const [x, y, z] = raw.translation;
  return {
    weights: Float64Array.from(MIRROR_PERMUTATION, (i) => raw.weights[i]),
    rotation: [pitch, -yaw, -roll],
    translation: [-x, y, z],
  };
}

/**
 * The first face of a FaceLandmarkerResult as RawParams, or null when it holds none (or no
 * blendshapes / matrix). MediaPipe's category order is our wire order; if a model or API change
 * ever reorders them, they are mapped by name (as tracking/params.py does).
 * @param {{faceBlendshapes?: {categories: {score: number, categoryName: string}[]}[],
 *          facialTransformationMatrixes?: {data: ArrayLike<number>}[]}} result
 * @returns {RawParams | null}
 */
export function rawFromResult(result) {
  const shapes = result.faceBlendshapes?.[0]?.categories;
  const matrix = result.facialTransformationMatrixes?.[0]?.data;
  if (!shapes || shapes.length !== NUM_BLENDSHAPES || !matrix || matrix.length !== 16) return null;
  let weights;
  if (shapes[9].categoryName === BLENDSHAPE_NAMES[9]) {
    weights = Float64Array.from(shapes, (c) => c.score);
  } else {
    const byName = new Map(shapes.map((c) => [c.categoryName, c.score]));
    weights = Float64Array.from(BLENDSHAPE_NAMES, (n) => byName.get(n) ?? 0);
  }
  return { weights, ...poseFromMatrix(matrix) };
}

// -- One Euro smoothing (tracking/smoothing.py) ---------------------------------------------

/** @typedef {{minCutoff: number, beta: number, dCutoff: number}} FilterParams */

/** tracking/smoothing.py DEFAULT_GROUPS (tuned on d10 at 30 FPS). @type {Readonly<Record<string, FilterParams>>} */
export const DEFAULT_GROUPS = Object.freeze({
  eyes: { minCutoff: 8.0, beta: 20.0, dCutoff: 4.0 },
  brows: { minCutoff: 3.0, beta: 10.0, dCutoff: 4.0 },
  mouth: { minCutoff: 3.0, beta: 10.0, dCutoff: 4.0 },
  head_rotation: { minCutoff: 1.5, beta: 2.0, dCutoff: 1.0 },
  head_translation: { minCutoff: 1.5, beta: 0.3, dCutoff: 1.0 },
});

/** @param {string} name */
const groupOf = (name) => (name.startsWith("eye") ? "eyes" : name.startsWith("brow") ? "brows" : "mouth");

/** blendshape group -> channel indexes, wire order. @type {Readonly<Record<string, number[]>>} */
export const BLENDSHAPE_GROUPS = Object.freeze(Object.fromEntries(
  ["eyes", "brows", "mouth"].map((g) => [g, BLENDSHAPE_NAMES.flatMap((n, i) => (groupOf(n) === g ? [i] : []))]),
));

/** @param {number} te @param {number} cutoff */
function alpha(te, cutoff) {
  const tau = 1.0 / (2.0 * Math.PI * cutoff);
  return 1.0 / (1.0 + tau / te);
}

/** A One Euro filter over a vector of channels, stepped with real timestamps (seconds). */
export class OneEuroFilter {
  /** Used when two samples share a timestamp (a duplicated frame): assume 30 FPS. */
  static FALLBACK_DT_S = 1.0 / 30.0;

  /** @param {FilterParams} params */
  constructor(params) {
    this.params = params;
    /** @type {Float64Array | null} */ this.x = null;
    /** @type {Float64Array | null} */ this.dx = null;
    this.t = 0;
  }

  reset() { this.x = null; this.dx = null; }

  /** @param {ArrayLike<number>} x @param {number} tS @returns {Float64Array} */
  step(x, tS) {
    if (this.x === null || this.dx === null) {
      this.x = Float64Array.from(x);
      this.dx = new Float64Array(x.length);
      this.t = tS;
      return Float64Array.from(x);
    }
    let te = tS - this.t;
    if (te <= 0) te = OneEuroFilter.FALLBACK_DT_S;
    const p = this.params;
    const aD = alpha(te, p.dCutoff);
    const out = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const dx = (x[i] - this.x[i]) / te;
      const dxHat = this.dx[i] + aD * (dx - this.dx[i]);
      const cutoff = p.minCutoff + p.beta * Math.abs(dxHat);
      out[i] = this.x[i] + alpha(te, cutoff) * (x[i] - this.x[i]);
      this.dx[i] = dxHat;
    }
    this.x = out;
    this.t = tS;
    return Float64Array.from(out);
  }
}

/** The per-group filters over one frame's blendshapes and head pose (tracking.smoothing.Smoother). */
export class Smoother {
  /** @param {Record<string, FilterParams>} [groups] */
  constructor(groups = DEFAULT_GROUPS) {
    /** @type {Record<string, OneEuroFilter>} */
    this.filters = Object.fromEntries(Object.entries(groups).map(([g, p]) => [g, new OneEuroFilter(p)]));
  }

  reset() { for (const f of Object.values(this.filters)) f.reset(); }

  /** @param {RawParams} raw @param {number} tS @returns {RawParams} */
  apply(raw, tS) {
    const weights = new Float64Array(NUM_BLENDSHAPES);
    for (const [group, idx] of Object.entries(BLENDSHAPE_GROUPS)) {
      const out = this.filters[group].step(idx.map((i) => raw.weights[i]), tS);
      idx.forEach((i, k) => { weights[i] = out[k]; });
    }
    return {
      weights,
      rotation: Array.from(this.filters.head_rotation.step(raw.rotation, tS)),
      translation: Array.from(this.filters.head_translation.step(raw.translation, tS)),
    };
  }
}

// -- the pipeline after inference (tracking/pipeline.py Tracker._finish) -------------------------

/** Hold the last pose this long after the face is lost (tracking.pipeline.DEFAULT_GRACE_S). */
export const DEFAULT_GRACE_S = 0.5;

/** @param {number[]} values @param {number} limit */
function vec3(values, limit) {
  return values.map((v) => (Number.isNaN(v) ? 0 : Math.max(-limit, Math.min(limit, v))));
}

/**
 * Raw parameters (or null: no face) in, one frame's content out: smoothing, face-lost hold
 * (HELD for `graceS`, then neutral with the filters reset so a returning face starts afresh),
 * flags and quantisation. The caller stamps `seq` (the page numbers what it sends).
 */
export class FacePipeline {
  /** @param {{graceS?: number, smoothing?: boolean, cameraMirrored?: boolean}} [options] */
  constructor(options = {}) {
    this.graceS = options.graceS ?? DEFAULT_GRACE_S;
    this.smoothing = options.smoothing ?? true;
    /** The camera mirrors its own image: undo it on the parameters (Python's `flip`). */
    this.cameraMirrored = options.cameraMirrored ?? false;
    this.smoother = new Smoother();
    /** @type {RawParams | null} */ this.held = null;
    /** @type {number | null} */ this.lastFaceS = null;
  }

  /**
   * @param {RawParams | null} raw  this image's parameters, null when no face was found
   * @param {number} timestampUs  capture time on the page clock (wire.js nowUs), for the frame
   * @param {number} mediaS  the image's time in seconds, for smoothing and the hold
   * @returns {Omit<import("./frame.js").ParamFrame, "seq">}
   */
  process(raw, timestampUs, mediaS) {
    let flags = 0;
    let out;
    if (raw !== null) {
      const params = this.cameraMirrored ? mirrorParams(raw) : raw;
      out = this.smoothing ? this.smoother.apply(params, mediaS) : params;
      this.held = out;
      this.lastFaceS = mediaS;
      flags |= FLAGS.FACE_PRESENT;
    } else if (this.held !== null && this.lastFaceS !== null && mediaS - this.lastFaceS <= this.graceS) {
      out = this.held;
      flags |= FLAGS.HELD;
    } else {
      if (this.held !== null) {
        this.smoother.reset();
        this.held = null;
      }
      out = { weights: new Float64Array(NUM_BLENDSHAPES), rotation: [0, 0, 0], translation: [0, 0, 0] };
    }
    return {
      timestampUs: Math.max(0, Math.round(timestampUs)),
      flags,
      rotation: vec3(out.rotation, MAX_ROTATION_RAD),
      translation: vec3(out.translation, MAX_TRANSLATION_CM),
      blendshapes: Uint8Array.from(out.weights, quantizeUnit),
      emotion: null,
    };
  }
}
