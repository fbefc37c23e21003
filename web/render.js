// An avatar pack drawn with WebGL: render_window/layered.py's renderer in the page.
//
// Every layer is a textured mesh; its transform and warps follow avatars/FORMAT.md exactly as
// avatars/compose.py (pose_layers, layer_state) and the Python window's vertex shader evaluate
// them: bindings summed per target, scale then rotate about the pivot then offset then the
// parent's transform, bones turned relative to the nearest ancestor bone and stretched by
// foreshortening (their children attached to the stretched point), warps displacing the mesh in
// image space. Textures are uploaded once (premultiplied alpha); per frame only a few uniforms
// change, so a pack of 60 layers draws at the display rate even on a software GL.

import { BONE_DRIVERS } from "./params.js";
import { WARP_TARGETS } from "./pack.js";
import { t } from "./i18n.js";

/** @typedef {[number, number, number, number, number, number]} Mat a, b, tx, c, d, ty */
/** @type {Mat} */
const IDENTITY = [1, 0, 0, 0, 1, 0];
const MIN_STRETCH = 0.2;
/** Fraction of the viewport the canvas fills (render_window.layered.FILL). */
export const FILL = 0.96;
const WARP_MIN_COLS = 16, WARP_MIN_ROWS = 2;

const VERTEX = `
attribute vec2 a_uv;
uniform vec3 u_m0;    // canvas.x = a*x + b*y + tx (the layer's position folded in)
uniform vec3 u_m1;    // canvas.y = c*x + d*y + ty
uniform vec4 u_geo;   // (width, height, warp_open, warp_smile) in image pixels
uniform float u_squash;
uniform vec4 u_view;  // canvas px -> clip space: ndc = canvas * xy + zw
varying vec2 v_uv;
void main() {
  float y = a_uv.y * u_geo.y;
  float k = max(0.02, 1.0 - u_squash);
  float dy = (y - 0.5 * u_geo.y) * (k - 1.0);
  dy += u_geo.z * sin(3.14159265 * a_uv.x) * clamp(2.0 * a_uv.y - 1.0, 0.0, 1.0);
  float e = 2.0 * a_uv.x - 1.0;
  dy -= u_geo.w * e * e;
  vec2 p = vec2(a_uv.x * u_geo.x, y + dy);
  vec2 c = vec2(dot(u_m0.xy, p) + u_m0.z, dot(u_m1.xy, p) + u_m1.z);
  gl_Position = vec4(c * u_view.xy + u_view.zw, 0.0, 1.0);
  v_uv = a_uv;
}`;
const FRAGMENT = `
precision mediump float;
uniform sampler2D u_tex;
uniform vec4 u_color;  // premultiplied tint * opacity
varying vec2 v_uv;
void main() { gl_FragColor = texture2D(u_tex, v_uv) * u_color; }`;

/**
 * A binding's amount: clamp the parameter, then (v + offset) * gain (avatars.model.binding_value).
 * @param {import("./pack.js").Binding} b @param {(name: string) => number} p
 */
export function bindingValue(b, p) {
  let v = p(b.param);
  if (b.min !== null && v < b.min) v = b.min;
  if (b.max !== null && v > b.max) v = b.max;
  return (v + b.offset) * b.gain;
}

/** The summed effect of a layer's bindings (avatars.compose.layer_state).
 * @param {import("./pack.js").Layer} layer @param {(name: string) => number} p */
export function layerState(layer, p) {
  /** @type {Record<string, number>} */ const sums = {};
  /** @type {string | null} */ let sprite = null;
  for (const b of layer.bindings) {
    if (b.target === "sprite") {
      const value = bindingValue(b, p);
      for (let i = b.sprites.length - 1; i >= 0; i--) {
        if (value >= b.sprites[i][0]) { sprite = b.sprites[i][1]; break; }
      }
      continue;
    }
    sums[b.target] = (sums[b.target] ?? 0) + bindingValue(b, p);
  }
  const s = 1 + (sums.scale ?? 0);
  return {
    offset: [sums.offset_x ?? 0, sums.offset_y ?? 0], rotate: sums.rotate ?? 0,
    scale: [s * (1 + (sums.scale_x ?? 0)), s * (1 + (sums.scale_y ?? 0))],
    opacity: Math.min(1, Math.max(0, 1 + (sums.opacity ?? 0))), sprite,
    warpOpen: sums.warp_open ?? 0, warpSmile: sums.warp_smile ?? 0, warpSquash: sums.warp_squash ?? 0,
  };
}

/** @param {[number, number]} pivot @param {number[]} offset @param {number} rotate @param {number[]} scale @returns {Mat} */
export function localMat(pivot, offset, rotate, scale) {
  const [px, py] = pivot;
  const cos = Math.cos(rotate), sin = Math.sin(rotate);
  const a = cos * scale[0], b = -sin * scale[1], c = sin * scale[0], d = cos * scale[1];
  return [a, b, px + offset[0] - (a * px + b * py), c, d, py + offset[1] - (c * px + d * py)];
}
/** @param {Mat} p @param {Mat} m @returns {Mat} */
export function mul(p, m) {
  return [p[0] * m[0] + p[1] * m[3], p[0] * m[1] + p[1] * m[4], p[0] * m[2] + p[1] * m[5] + p[2],
    p[3] * m[0] + p[4] * m[3], p[3] * m[1] + p[4] * m[4], p[3] * m[2] + p[4] * m[5] + p[5]];
}
/** @param {Mat} m @param {number} x @param {number} y */
const apply = (m, x, y) => [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];

/**
 * Each layer's canvas transform and state, in `layers` order (avatars.compose.pose_layers).
 * @param {import("./pack.js").Layer[]} layers @param {(name: string) => number} p
 */
export function poseLayers(layers, p) {
  /** @type {Map<string, number>} */ const index = new Map();
  /** @type {Mat[]} */ const plain = [];
  /** @type {number[]} */ const angles = [];
  /** @type {boolean[]} */ const stretched = [];
  /** @type {[Mat, ReturnType<typeof layerState>][]} */ const out = [];
  layers.forEach((layer, i) => {
    const st = layerState(layer, p);
    const parent = layer.parent !== null ? index.get(layer.parent) : undefined;
    const baseAngle = parent !== undefined ? angles[parent] : 0;
    let rotate = st.rotate, stretch = 1, angle = baseAngle;
    if (layer.bone) {
      const [angleName, forwardName] = BONE_DRIVERS[layer.bone.driver];
      angle = -p(angleName);
      rotate += angle - baseAngle;
      const f = Math.max(-1, Math.min(1, p(forwardName)));
      stretch = Math.max(MIN_STRETCH, 1 - layer.bone.foreshorten * (1 - Math.sqrt(1 - f * f)));
    }
    const own = localMat(layer.pivot, st.offset, rotate, st.scale);
    const full = stretch !== 1 ? localMat(layer.pivot, st.offset, rotate, [st.scale[0], st.scale[1] * stretch]) : own;
    /** @type {Mat} */ let frame = IDENTITY;
    if (parent !== undefined) {
      frame = plain[parent];
      if (stretched[parent]) { // attach to the stretched parent's point under our pivot
        const [x, y] = layer.pivot;
        const [fx, fy] = apply(out[parent][0], x, y);
        const [nx, ny] = apply(frame, x, y);
        frame = [frame[0], frame[1], frame[2] + fx - nx, frame[3], frame[4], frame[5] + fy - ny];
      }
    }
    const world = mul(frame, own);
    out.push([full === own ? world : mul(frame, full), st]);
    plain.push(world);
    angles.push(angle);
    stretched.push(full !== own);
    index.set(layer.id, i);
  });
  return out;
}

/** @param {WebGLRenderingContext} gl @param {number} type @param {string} src */
function shader(gl, type, src) {
  const s = /** @type {WebGLShader} */ (gl.createShader(type));
  gl.shaderSource(s, src);
  gl.compileShader(s);
  if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(`shader: ${gl.getShaderInfoLog(s)}`);
  return s;
}

/** The uv grid of one layer's mesh (warps need interior vertices: layered.py's rules).
 * @param {import("./pack.js").Layer} layer */
function meshOf(layer) {
  let [cols, rows] = layer.mesh;
  const targets = new Set(layer.bindings.map((b) => b.target).filter((t) => WARP_TARGETS.includes(t)));
  if (targets.has("warp_open") || targets.has("warp_smile")) cols = Math.max(cols, WARP_MIN_COLS);
  if (targets.has("warp_open")) rows = Math.max(rows, WARP_MIN_ROWS);
  let rowV = Array.from({ length: rows + 1 }, (_, r) => r / rows);
  if (targets.has("warp_open") && rowV.every((v) => Math.abs(v - 0.5) > 1e-6)) rowV = [...rowV, 0.5].sort((a, b) => a - b);
  const uv = [];
  for (const v of rowV) for (let c = 0; c <= cols; c++) uv.push(c / cols, v);
  const idx = [];
  for (let r = 0; r < rowV.length - 1; r++) {
    for (let c = 0; c < cols; c++) {
      const a = r * (cols + 1) + c, b = a + cols + 1;
      idx.push(a, a + 1, b, a + 1, b + 1, b);
    }
  }
  return { uv: new Float32Array(uv), idx: new Uint16Array(idx) };
}

export class PackRenderer {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.canvas = canvas;
    // No MSAA: every edge is a texture's own alpha, filtered; multisampling would only cost fill
    // (a software GL in headless browsers spent twice the time on it).
    const opts = { premultipliedAlpha: true, alpha: true, antialias: false, preserveDrawingBuffer: true };
    const gl = /** @type {WebGLRenderingContext | null} */ (canvas.getContext("webgl2", opts) ?? canvas.getContext("webgl", opts));
    if (!gl) throw new Error(t("WebGL is not available in this browser"));
    this.gl = gl;
    const prog = /** @type {WebGLProgram} */ (gl.createProgram());
    gl.attachShader(prog, shader(gl, gl.VERTEX_SHADER, VERTEX));
    gl.attachShader(prog, shader(gl, gl.FRAGMENT_SHADER, FRAGMENT));
    gl.linkProgram(prog);
    if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(`program: ${gl.getProgramInfoLog(prog)}`);
    this.prog = prog;
    /** @type {Record<string, WebGLUniformLocation | null>} */
    this.u = Object.fromEntries(["u_m0", "u_m1", "u_geo", "u_squash", "u_view", "u_tex", "u_color"]
      .map((n) => [n, gl.getUniformLocation(prog, n)]));
    this.aUv = gl.getAttribLocation(prog, "a_uv");
    /** @type {import("./pack.js").Pack | null} */ this.pack = null;
    /** The last draw's canvas placement and layer transforms (layerBox reads them). */
    /** @type {{x0: number, y0: number, scale: number, posed: ReturnType<typeof poseLayers>} | null} */
    this.view = null;
    /** @type {Map<string, WebGLTexture>} */ this.textures = new Map();
    /** @type {{vbo: WebGLBuffer, ibo: WebGLBuffer, count: number}[]} */ this.meshes = [];
    /** @type {number[]} */ this.order = [];
    /** Fraction of the canvas the pack fills (1: the pack's canvas maps onto ours exactly). */
    this.fill = FILL;
  }

  /** Upload a pack's images (each once) and meshes; replaces the one drawn. @param {import("./pack.js").Pack} pack */
  async setPack(pack) {
    const gl = this.gl;
    const paths = new Set(pack.layers.flatMap((l) => [pack.textures[l.id] ?? l.image, ...l.bindings.flatMap((b) => b.sprites.map((s) => s[1]))]));
    const bitmaps = await Promise.all([...paths].map(async (path) => {
      const blob = new Blob([/** @type {Uint8Array} */ (pack.files.get(path))], { type: "image/png" });
      return /** @type {[string, ImageBitmap]} */ ([path, await createImageBitmap(blob, { premultiplyAlpha: "premultiply", colorSpaceConversion: "none" })]);
    }));
    this.dispose();
    for (const [path, bmp] of bitmaps) {
      const tex = /** @type {WebGLTexture} */ (gl.createTexture());
      gl.bindTexture(gl.TEXTURE_2D, tex);
      // An ImageBitmap ignores the UNPACK_* flags: it was premultiplied when decoded.
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, bmp);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
      bmp.close();
      this.textures.set(path, tex);
    }
    this.meshes = pack.layers.map((layer) => {
      const { uv, idx } = meshOf(layer);
      const vbo = /** @type {WebGLBuffer} */ (gl.createBuffer());
      gl.bindBuffer(gl.ARRAY_BUFFER, vbo);
      gl.bufferData(gl.ARRAY_BUFFER, uv, gl.STATIC_DRAW);
      const ibo = /** @type {WebGLBuffer} */ (gl.createBuffer());
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, ibo);
      gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, idx, gl.STATIC_DRAW);
      return { vbo, ibo, count: idx.length };
    });
    // Draw order by z; equal z keeps pack order (a stable sort, as the Python renderer).
    this.order = pack.layers.map((_, i) => i).sort((a, b) => pack.layers[a].z - pack.layers[b].z || a - b);
    this.pack = pack;
  }

  /** A layer's bounding box on the canvas (pixels, y down) as last drawn, or null: where a
   * test looks for the mouth or the eyes of whatever pack is drawn. @param {string} id */
  layerBox(id) {
    const i = this.pack?.layers.findIndex((l) => l.id === id) ?? -1;
    if (!this.pack || !this.view || i < 0) return null;
    const layer = this.pack.layers[i];
    const [m] = this.view.posed[i];
    const { x0, y0, scale } = this.view;
    const [px, py] = layer.position, [w, h] = layer.size;
    const pts = [[0, 0], [w, 0], [0, h], [w, h]].map(([x, y]) => apply(m, px + x, py + y));
    const xs = pts.map((q) => x0 + q[0] * scale), ys = pts.map((q) => y0 + q[1] * scale);
    return { x: Math.min(...xs), y: Math.min(...ys), w: Math.max(...xs) - Math.min(...xs), h: Math.max(...ys) - Math.min(...ys) };
  }

  dispose() {
    const gl = this.gl;
    for (const t of this.textures.values()) gl.deleteTexture(t);
    for (const m of this.meshes) { gl.deleteBuffer(m.vbo); gl.deleteBuffer(m.ibo); }
    this.textures.clear(); this.meshes = []; this.pack = null;
  }

  /** Draw the pack at `params` (a name -> value lookup). @param {(name: string) => number} p */
  draw(p) {
    const { gl, canvas, pack } = this;
    const W = canvas.width, H = canvas.height;
    gl.viewport(0, 0, W, H);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);
    if (!pack) return;
    const [cw, ch] = pack.canvas;
    const scale = this.fill * Math.min(W / cw, H / ch);
    const x0 = (W - cw * scale) / 2, y0 = (H - ch * scale) / 2;
    gl.useProgram(this.prog);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    // canvas px -> clip: x' = (x0 + x*scale) / W * 2 - 1; y flips (canvas y grows down).
    gl.uniform4f(this.u.u_view, 2 * scale / W, -2 * scale / H, 2 * x0 / W - 1, 1 - 2 * y0 / H);
    gl.uniform1i(this.u.u_tex, 0);
    gl.activeTexture(gl.TEXTURE0);
    const posed = poseLayers(pack.layers, p);
    this.view = { x0, y0, scale, posed };
    for (const i of this.order) {
      const layer = pack.layers[i];
      const [m, st] = posed[i];
      const tint = pack.tint[layer.id] ?? [1, 1, 1, 1];
      const a = tint[3] * st.opacity;
      if (a <= 0) continue;
      const path = st.sprite ?? pack.textures[layer.id] ?? layer.image;
      const tex = this.textures.get(path);
      if (!tex) continue;
      const [px, py] = layer.position;
      // Fold the layer's position into its transform: canvas = m * (position + p).
      gl.uniform3f(this.u.u_m0, m[0], m[1], m[0] * px + m[1] * py + m[2]);
      gl.uniform3f(this.u.u_m1, m[3], m[4], m[3] * px + m[4] * py + m[5]);
      gl.uniform4f(this.u.u_geo, layer.size[0], layer.size[1], st.warpOpen, st.warpSmile);
      gl.uniform1f(this.u.u_squash, st.warpSquash);
      gl.uniform4f(this.u.u_color, tint[0] * a, tint[1] * a, tint[2] * a, a);
      gl.bindTexture(gl.TEXTURE_2D, tex);
      const mesh = this.meshes[i];
      gl.bindBuffer(gl.ARRAY_BUFFER, mesh.vbo);
      gl.enableVertexAttribArray(this.aUv);
      gl.vertexAttribPointer(this.aUv, 2, gl.FLOAT, false, 0, 0);
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, mesh.ibo);
      gl.drawElements(gl.TRIANGLES, mesh.count, gl.UNSIGNED_SHORT, 0);
    }
  }
}
