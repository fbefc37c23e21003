// The page's camera and face tracking: getUserMedia -> a <video> -> one ImageBitmap per new
// camera frame -> tracking_worker.js (MediaPipe) -> tracking.js (the Python tracker's
// parameters) -> a frame for the wire. The raw image never leaves this page (only parameters
// do), just as it never leaves the Python tracking process.
//
// One image is in the worker at a time: a frame that arrives while the worker is busy is
// skipped, so a slow machine tracks at a lower rate instead of building a queue (and lag).
//
// Capture time: Chromium gives a camera frame's capture time (`captureTime` in
// requestVideoFrameCallback's metadata, on performance.now()'s clock); where it is missing the
// callback's own time stands in (the frame was presented then, a few ms after capture). Frames
// carry it as their timestamp, so the peer's end-to-end figure runs from capture to receive.

import { nowUs } from "./wire.js";
import { FacePipeline, rawFromResult } from "./tracking.js";
import { t } from "./i18n.js";

/**
 * The cameras the page may use (labels only once the user has allowed one).
 * @returns {Promise<{deviceId: string, label: string}[]>}
 */
export async function listCameras() {
  if (!navigator.mediaDevices?.enumerateDevices) return [];
  const devices = await navigator.mediaDevices.enumerateDevices();
  return devices.filter((d) => d.kind === "videoinput").map((d) => ({ deviceId: d.deviceId, label: d.label }));
}

/**
 * @typedef {Object} TrackingOptions
 * @property {string} [deviceId]  a camera from listCameras(); the default camera if absent
 * @property {(frame: Omit<import("./frame.js").ParamFrame, "seq">) => void} onFrame  one per tracked image
 * @property {(message: string) => void} [onError]  tracking stopped for this reason
 * @property {boolean} [cameraMirrored]  the camera mirrors its image itself (undo it)
 * @property {URL | string} [workerUrl]
 */

/** A running camera + tracker; `stop()` ends both. */
export class Tracking {
  /** @param {HTMLVideoElement} video @param {MediaStream} stream @param {Worker} worker @param {TrackingOptions} options */
  constructor(video, stream, worker, options) {
    this.video = video;
    this.stream = stream;
    this.worker = worker;
    this.options = options;
    this.pipeline = new FacePipeline({ cameraMirrored: options.cameraMirrored });
    /** images tracked, and with a face found */
    this.frames = 0;
    this.faces = 0;
    /** ms the last inference took in the worker */
    this.inferenceMs = 0;
    this.stopped = false;
    this.busy = false;
    this.nextId = 0;
    /** @type {Map<number, {captureMs: number}>} */
    this.pending = new Map();
    /** The last raw results (capture ms, weights, rotation; null weights: no face), for tests
     * and debugging: they compare with the Python tracker's on the same images. */
    /** @type {{captureMs: number, weights: number[] | null, rotation: number[] | null,
     *   inferenceMs: number, latencyMs: number}[]} */
    this.history = [];
    /** Images whose capture time came from the camera (rVFC captureTime), and the others
     * (the callback's time stands in). */
    this.captureTimes = { camera: 0, callback: 0 };
    /** Requests the worker refused because they would leave this origin. */
    /** @type {string[]} */
    this.refused = [];
    worker.onmessage = (e) => this.onResult(e.data);
    worker.onerror = (e) => this.fail(`the tracking worker stopped: ${e.message}`);
    this.schedule();
  }

  schedule() {
    if (this.stopped) return;
    const v = /** @type {any} */ (this.video);
    if (typeof v.requestVideoFrameCallback === "function") {
      v.requestVideoFrameCallback((/** @type {number} */ now, /** @type {any} */ meta) => {
        const camera = typeof meta?.captureTime === "number" && meta.captureTime > 0;
        this.captureTimes[camera ? "camera" : "callback"] += 1;
        this.grab(camera ? meta.captureTime : now);
      });
    } else {
      requestAnimationFrame((now) => this.grab(now)); // no rVFC: poll at the display rate
    }
  }

  /** @param {number} captureMs */
  async grab(captureMs) {
    if (this.stopped) return;
    if (this.busy || this.video.readyState < 2) { this.schedule(); return; }
    this.busy = true;
    this.schedule();
    try {
      const image = await createImageBitmap(this.video);
      if (this.stopped) { image.close(); return; }
      const id = this.nextId++;
      this.pending.set(id, { captureMs });
      this.worker.postMessage({ kind: "image", id, image, tsMs: captureMs }, [image]);
    } catch (e) {
      this.busy = false;
    }
  }

  /** @param {any} msg */
  onResult(msg) {
    if (msg.kind === "refused") { this.refused.push(String(msg.url)); return; }
    if (msg.kind === "error") {
      this.busy = false;
      this.pending.delete(msg.id);
      this.fail(`face tracking failed: ${msg.message}`);
      return;
    }
    if (msg.kind !== "result") return;
    this.busy = false;
    const meta = this.pending.get(msg.id);
    this.pending.delete(msg.id);
    if (!meta || this.stopped) return;
    this.inferenceMs = msg.result.inferenceMs;
    const raw = rawFromResult(msg.result);
    this.frames += 1;
    if (raw) this.faces += 1;
    this.history.push({
      captureMs: meta.captureMs, weights: raw ? Array.from(raw.weights) : null, rotation: raw?.rotation ?? null,
      inferenceMs: this.inferenceMs, latencyMs: performance.now() - meta.captureMs,
    });
    if (this.history.length > 600) this.history.shift();
    // Page clock: nowUs() is performance.now() in µs, the clock captureTime is on.
    const captureUs = nowUs() - (performance.now() - meta.captureMs) * 1000;
    this.options.onFrame(this.pipeline.process(raw, captureUs, meta.captureMs / 1000));
  }

  /** @param {string} message */
  fail(message) {
    if (this.stopped) return;
    this.stop();
    this.options.onError?.(message);
  }

  stop() {
    if (this.stopped) return;
    this.stopped = true;
    for (const track of this.stream.getTracks()) track.stop();
    this.worker.postMessage({ kind: "close" });
    setTimeout(() => this.worker.terminate(), 1000);
  }
}

/** Whether this browser gives a WebGL context (the tracker needs one; see startTracking). */
function hasWebGL() {
  const canvas = document.createElement("canvas");
  const gl = /** @type {WebGLRenderingContext | null} */ (canvas.getContext("webgl2") ?? canvas.getContext("webgl"));
  gl?.getExtension("WEBGL_lose_context")?.loseContext(); // give the context back at once
  return gl !== null;
}

/**
 * Open the camera into `video` and track the face in it; resolves once the first image was
 * tracked (the model is loaded and running), rejects with a readable Error when there is no
 * camera, the user refuses it, or MediaPipe cannot start (the caller keeps its fallback then).
 * @param {HTMLVideoElement} video
 * @param {TrackingOptions} options
 * @returns {Promise<Tracking>}
 */
export async function startTracking(video, options) {
  if (!navigator.mediaDevices?.getUserMedia) throw new Error(t("this page cannot use a camera here (needs https or localhost)"));
  // tasks-vision puts every image through WebGL even on its CPU delegate. Without WebGL
  // (headless Firefox; Firefox with WebGL blocked; Chromium falls back to SwiftShader) it would
  // load 13 MB of WASM and the model and open the camera, then fail on the first image with
  // "GLctx is undefined": say the real reason before any of that.
  if (!hasWebGL()) throw new Error(t("WebGL is not available in this browser"));
  const stream = await navigator.mediaDevices.getUserMedia({
    video: {
      ...(options.deviceId ? { deviceId: { exact: options.deviceId } } : {}),
      width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 30 },
    },
    audio: false,
  });
  const worker = new Worker(options.workerUrl ?? new URL("./tracking_worker.js", import.meta.url), { type: "module" });
  try {
    video.muted = true;
    video.playsInline = true;
    video.srcObject = stream;
    await video.play();
    await new Promise((resolve, reject) => {
      worker.onerror = (e) => reject(new Error(`the tracking worker did not start: ${e.message}`));
      worker.onmessage = (e) => {
        if (e.data.kind === "loaded") worker.postMessage({ kind: "load" });
        else if (e.data.kind === "ready") resolve(undefined);
        else if (e.data.kind === "error") reject(new Error(`cannot load face tracking: ${e.data.message}`));
      };
    });
  } catch (e) {
    for (const track of stream.getTracks()) track.stop();
    worker.terminate();
    throw e;
  }
  worker.onerror = null;
  return new Tracking(video, stream, worker, options);
}

/**
 * What the page sends as its face: the tracked camera once it runs, a synthetic animation
 * until then, and for good when there is no camera, it is refused or tracking fails (the
 * status line says which). The UI makes one per call.
 */
export class FaceSource {
  /**
   * @param {{deviceId?: string, sendHz?: number,
   *   synthetic: (tS: number) => Omit<import("./frame.js").ParamFrame, "seq">,
   *   send: (frame: Omit<import("./frame.js").ParamFrame, "seq">) => void,
   *   onStatus?: (text: string, tracking: boolean) => void,
   *   onFps?: (fps: number | null) => void,
   *   video?: HTMLVideoElement}} options
   */
  constructor(options) {
    this.options = options;
    this.stopped = false;
    /** @type {Tracking | null} */ this.tracking = null;
    /** why the camera is not tracked ("" while it is, or while starting) */
    this.problem = "";
    this.video = options.video ?? document.createElement("video");
    const t0 = performance.now();
    /** @type {ReturnType<typeof setInterval> | null} */
    this.timer = null;
    const synthetic = () => {
      if (this.timer === null) {
        this.timer = setInterval(() => options.send(options.synthetic((performance.now() - t0) / 1000)),
          1000 / (options.sendHz ?? 30));
      }
    };
    const status = (/** @type {string} */ text, /** @type {boolean} */ on) => options.onStatus?.(text, on);
    synthetic();
    status(t("Your side sends a synthetic animation while the camera starts."), false);
    let last = { frames: 0, t: performance.now() };
    this.fpsTimer = setInterval(() => {
      const now = performance.now();
      const frames = this.tracking?.frames ?? 0;
      options.onFps?.(this.tracking ? ((frames - last.frames) * 1000) / (now - last.t) : null);
      last = { frames, t: now };
    }, 1000);
    const giveUp = (/** @type {unknown} */ e) => {
      this.problem = e instanceof Error ? e.message : String(e);
      this.tracking = null;
      synthetic();
      status(t("No face tracking ({problem}): your side sends a synthetic animation.", { problem: this.problem }), false);
    };
    this.ready = startTracking(this.video, {
      deviceId: options.deviceId, onFrame: options.send, onError: giveUp,
    }).then((tracking) => {
      if (this.stopped) { tracking.stop(); return; }
      this.tracking = tracking;
      if (this.timer !== null) clearInterval(this.timer);
      this.timer = null;
      status("", true);
    }, giveUp);
  }

  stop() {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    clearInterval(this.fpsTimer);
    this.tracking?.stop();
  }
}
