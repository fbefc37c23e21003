// A placeholder avatar drawn on a 2D canvas from the peer's parameters: head rotation (pitch
// moves the face up and down, yaw sideways, roll tilts it), blinks and jaw opening, smile.
// The built-in packs' layered PNGs (avatars/FORMAT.md) and WebGL come later; this shows the
// wire works. Values are eased towards the latest frame each display frame, so 30 Hz
// parameters draw smoothly at the display rate.

import { BLENDSHAPE_INDEX } from "./blendshapes.js";

const EASE = 0.35;

export class AvatarView {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
    this.target = { pitch: 0, yaw: 0, roll: 0, blinkL: 0, blinkR: 0, jaw: 0, smile: 0 };
    this.shown = { ...this.target };
    this.present = false;
    this.frames = 0;
    this.running = false;
  }

  /** @param {import("./frame.js").ParamFrame} f */
  update(f) {
    const w = (/** @type {string} */ name) => f.blendshapes[BLENDSHAPE_INDEX[name]] / 255;
    this.target = {
      pitch: f.rotation[0], yaw: f.rotation[1], roll: f.rotation[2],
      blinkL: w("eyeBlinkLeft"), blinkR: w("eyeBlinkRight"), jaw: w("jawOpen"),
      smile: (w("mouthSmileLeft") + w("mouthSmileRight")) / 2,
    };
    this.present = true;
  }

  start() {
    if (this.running) return;
    this.running = true;
    const loop = () => {
      if (!this.running) return;
      this.draw();
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  }

  stop() { this.running = false; }

  draw() {
    const { ctx, canvas } = this;
    const s = this.shown;
    for (const k of /** @type {(keyof typeof s)[]} */ (Object.keys(s))) {
      s[k] += (this.target[k] - s[k]) * EASE;
    }
    this.frames += 1;
    const W = canvas.width, H = canvas.height, R = Math.min(W, H) * 0.32;
    ctx.fillStyle = "#20242c";
    ctx.fillRect(0, 0, W, H);
    ctx.save();
    ctx.translate(W / 2 + Math.sin(s.yaw) * R * 0.8, H / 2 + Math.sin(s.pitch) * R * 0.8);
    ctx.rotate(-s.roll);
    ctx.fillStyle = this.present ? "#f2c9a0" : "#8a8f99";
    ctx.beginPath(); ctx.ellipse(0, 0, R * 0.85, R, 0, 0, Math.PI * 2); ctx.fill();
    const eye = (/** @type {number} */ x, /** @type {number} */ blink) => {
      const open = Math.max(0.06, 1 - blink);
      ctx.fillStyle = "#1b1b1b";
      ctx.beginPath(); ctx.ellipse(x + Math.sin(s.yaw) * R * 0.15, -R * 0.2, R * 0.12, R * 0.14 * open, 0, 0, Math.PI * 2); ctx.fill();
    };
    // The peer's left eye is on the viewer's right.
    eye(R * 0.35, s.blinkL);
    eye(-R * 0.35, s.blinkR);
    ctx.fillStyle = "#7a2630";
    const mouthH = R * (0.04 + 0.4 * s.jaw);
    ctx.beginPath(); ctx.ellipse(0, R * 0.42, R * (0.3 + 0.12 * s.smile), mouthH, 0, 0, Math.PI * 2); ctx.fill();
    ctx.restore();
  }
}
