// One avatar on one canvas: a pack drawn with WebGL (render.js) at the display rate
// (requestAnimationFrame), posed by the motion layer (motion.js) from the frames pushed in:
// the peer's received frames for the large view, our own sent frames for the self-view.
// With no frames (or stale ones) the avatar lives on in idle life, never a frozen mask.

import { Motion } from "./motion.js";
import { PackRenderer } from "./render.js";
import { frameToVector, PARAM_INDEX } from "./params.js";

export class AvatarView {
  /** @param {HTMLCanvasElement} canvas
   * @param {{maxFps?: number}} [options]  draw at most this often (the small self-view: our
   *   own frames come at most 30 times a second, and on a software GL every frame drawn is CPU
   *   the face tracker does not get) */
  constructor(canvas, { maxFps = 0 } = {}) {
    this.canvas = canvas;
    this.minIntervalMs = maxFps > 0 ? 1000 / maxFps : 0;
    this.lastDrawMs = -Infinity;
    /** Why nothing can be drawn (no WebGL in this browser), or "": the call goes on without. */
    this.error = "";
    /** @type {PackRenderer | null} */
    this.renderer = null;
    try { this.renderer = new PackRenderer(canvas); } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    }
    this.motion = new Motion();
    /** Frames drawn, and display frames (requestAnimationFrame) at which the canvas showed the
     * current pose: drawn, or unchanged because nothing moved by a quarter pixel. */
    this.frames = 0;
    this.shown = 0;
    this.running = false;
    /** The last pose drawn (Float64Array in PARAM_NAMES order), for tests and stats. */
    this.pose = this.motion.sample(performance.now() / 1000);
    /** @type {import("./pack.js").Pack | null} */ this.pack = null;
  }

  /** Draw `pack` from now on (motion carries over: an avatar switch keeps the pose).
   * @param {import("./pack.js").Pack} pack */
  async setPack(pack) {
    await this.renderer?.setPack(pack);
    this.pack = pack;
  }

  /** @param {import("./frame.js").ParamFrame} frame */
  update(frame) { this.motion.push(frame, frameToVector(frame), performance.now() / 1000); }

  /** A parameter of the last pose drawn. @param {string} name */
  param(name) { return this.pose[PARAM_INDEX[name]] ?? 0; }

  start() {
    if (this.running) return;
    this.running = true;
    const loop = (/** @type {number} */ now) => {
      if (!this.running) return;
      requestAnimationFrame(loop);
      // A 60 Hz display's ticks jitter by a millisecond or two: a 30 FPS cap keeps every other.
      if (now - this.lastDrawMs >= this.minIntervalMs - 4) {
        this.lastDrawMs = now;
        this.tick();
      }
    };
    requestAnimationFrame(loop);
  }

  stop() { this.running = false; }

  /** The drawing buffer follows the canvas's size on the page (times the pixel ratio, at most
   * 2): no more pixels to fill than the screen shows, sharp on a HiDPI screen, and a phone's 3x
   * screen does not cost 2.25 times the pixels of 2x for a soft-edged drawing. */
  fit() {
    const c = this.canvas;
    const ratio = Math.min(2, window.devicePixelRatio || 1);
    const w = Math.round(c.clientWidth * ratio), h = Math.round(c.clientHeight * ratio);
    if (w > 0 && h > 0 && (w !== c.width || h !== c.height)) { c.width = w; c.height = h; }
  }

  /** Draw the current pose. */
  draw() { this.render(false); }

  /** One display frame: draw the current pose unless it looks like the one on the canvas. */
  tick() { this.render(true); }

  /** @param {boolean} ifMoved */
  render(ifMoved) {
    this.fit();
    const pose = this.motion.sample(performance.now() / 1000);
    this.pose = pose;
    const drawn = this.renderer?.draw((name) => pose[PARAM_INDEX[name]] ?? 0, { ifMoved }) ?? true;
    if (drawn) this.frames += 1;
    this.shown += 1;
  }
}
