// An avatar pack drawn with WebGL: render_window/layered.py's renderer in the page.
//
// Every layer is a textured mesh; its transform and warps follow avatars/FORMAT.md exactly as
// avatars/compose.py (pose_layers, layer_state) and the Python window's vertex shader evaluate
// them: bindings summed per target, scale then rotate about the pivot then offset then the
// parent's transform, bones turned relative to the nearest ancestor bone and stretched by
// foreshortening (their children attached to the stretched point), warps displacing the mesh in
// image space (in pose(), on the CPU, as the Python window's vertex shader does it). Textures
// are uploaded once (premultiplied alpha, one atlas); a frame is one buffer upload and one draw.

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

// One draw call per frame for the whole pack: every layer's image sits in one atlas texture (a
// few pages if it does not fit) and every vertex is posed on the CPU (draw(): the same warp
// and transform arithmetic the per-layer vertex shader used to do), so a frame is one buffer
// upload and one drawElements instead of ~40 draws with their uniform updates. On a software
// GL (headless Chromium's SwiftShader) that took ~2 ms of CPU off every frame of each view,
// about half of what the small self-view cost (web/README.md, "Where the drawing time goes").
const VERTEX = `
attribute vec2 a_pos;    // clip space, posed in draw()
attribute vec2 a_uv;     // 0..1 over the layer's image
attribute vec4 a_box;    // that image's slot in the atlas: origin and size in texels
attribute vec4 a_color;  // premultiplied tint * opacity
varying vec2 v_uv;
varying vec4 v_box;
varying vec4 v_color;
void main() {
  gl_Position = vec4(a_pos, 0.0, 1.0);
  v_uv = a_uv; v_box = a_box; v_color = a_color;
}`;
const FRAGMENT = `
#ifdef GL_FRAGMENT_PRECISION_HIGH
precision highp float;
#else
precision mediump float;
#endif
uniform sampler2D u_tex;
uniform vec2 u_texel;  // 1 / the atlas page's size
varying vec2 v_uv;
varying vec4 v_box;
varying vec4 v_color;
void main() {
  // CLAMP_TO_EDGE inside the image's own slot: bilinear filtering never reads a neighbour.
  vec2 p = clamp(v_uv * v_box.zw, vec2(0.5), v_box.zw - 0.5);
  gl_FragColor = texture2D(u_tex, (v_box.xy + p) * u_texel) * v_color;
}`;
/** Floats per vertex: pos 2, uv 2, box 4, color 4. */
const STRIDE = 12;
/** A vertex moved less than this (canvas pixels) and no colour changed: the frame is the last. */
const STILL_PX = 0.25;

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

/** Shelf-pack images into pages of at most `max` texels a side.
 * @param {[string, {width: number, height: number}][]} sizes @param {number} max
 * @returns {{slots: Map<string, {page: number, x: number, y: number, w: number, h: number}>, pages: [number, number][]}} */
export function packAtlas(sizes, max) {
  const sorted = [...sizes].sort((a, b) => b[1].height - a[1].height || b[1].width - a[1].width);
  const widest = Math.max(1, ...sorted.map(([, s]) => s.width));
  const area = sorted.reduce((n, [, s]) => n + (s.width + 1) * (s.height + 1), 0);
  const W = Math.min(max, Math.max(widest, 2 ** Math.ceil(Math.log2(Math.sqrt(area) || 1))));
  /** @type {Map<string, {page: number, x: number, y: number, w: number, h: number}>} */ const slots = new Map();
  /** @type {[number, number][]} */ const pages = [];
  let page = 0, x = 0, y = 0, shelf = 0, used = 0;
  for (const [path, { width: w, height: h }] of sorted) {
    if (w > max || h > max) throw new Error(`image ${path} is larger than this GL's ${max} px textures`);
    if (x + w > W) { x = 0; y += shelf + 1; shelf = 0; }
    if (y + h > max) { pages.push([W, used]); page += 1; x = 0; y = 0; shelf = 0; used = 0; }
    slots.set(path, { page, x, y, w, h });
    x += w + 1; shelf = Math.max(shelf, h); used = Math.max(used, y + h);
  }
  pages.push([W, Math.max(1, used)]);
  return { slots, pages };
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
    this.uTex = gl.getUniformLocation(prog, "u_tex");
    this.uTexel = gl.getUniformLocation(prog, "u_texel");
    /** @type {Record<string, number>} */
    this.a = Object.fromEntries(["a_pos", "a_uv", "a_box", "a_color"].map((n) => [n, gl.getAttribLocation(prog, n)]));
    this.vbo = /** @type {WebGLBuffer} */ (gl.createBuffer());
    this.ibo = /** @type {WebGLBuffer} */ (gl.createBuffer());
    this.uint32 = "drawBuffers" in gl || gl.getExtension("OES_element_index_uint") !== null;
    /** @type {import("./pack.js").Pack | null} */ this.pack = null;
    /** The last draw's canvas placement and layer transforms (layerBox reads them). */
    /** @type {{x0: number, y0: number, scale: number, posed: ReturnType<typeof poseLayers>} | null} */
    this.view = null;
    /** Atlas pages (textures and sizes) and where each image is in them. */
    /** @type {{tex: WebGLTexture, w: number, h: number}[]} */ this.pages = [];
    /** @type {Map<string, {page: number, x: number, y: number, w: number, h: number}>} */ this.slots = new Map();
    /** Per layer (pack order): its uv grid and its vertices' and indices' place in the buffers. */
    /** @type {{uv: Float32Array, first: number, start: number, count: number}[]} */ this.meshes = [];
    /** @type {number[]} */ this.order = [];
    /** The vertex data drawn last (compared to skip a frame that would look the same). */
    this.verts = new Float32Array(0);
    this.drawn = new Float32Array(0);
    this.drawnSize = [0, 0];
    this.indexType = gl.UNSIGNED_SHORT;
    /** Fraction of the canvas the pack fills (1: the pack's canvas maps onto ours exactly). */
    this.fill = FILL;
    /** The largest atlas page side (the GL's own limit if lower; tests make it small). */
    this.atlasMax = 4096;
  }

  /** Upload a pack's images (each once, into an atlas) and meshes; replaces the one drawn.
   * @param {import("./pack.js").Pack} pack */
  async setPack(pack) {
    const gl = this.gl;
    const paths = new Set(pack.layers.flatMap((l) => [pack.textures[l.id] ?? l.image, ...l.bindings.flatMap((b) => b.sprites.map((s) => s[1]))]));
    const bitmaps = await Promise.all([...paths].map(async (path) => {
      const blob = new Blob([/** @type {Uint8Array} */ (pack.files.get(path))], { type: "image/png" });
      return /** @type {[string, ImageBitmap]} */ ([path, await createImageBitmap(blob, { premultiplyAlpha: "premultiply", colorSpaceConversion: "none" })]);
    }));
    let atlas;
    try {
      atlas = packAtlas(bitmaps, Math.min(this.atlasMax, gl.getParameter(gl.MAX_TEXTURE_SIZE)));
    } catch (e) {
      for (const [, bmp] of bitmaps) bmp.close();
      throw e;
    }
    this.dispose();
    this.pages = atlas.pages.map(([w, h]) => {
      const tex = /** @type {WebGLTexture} */ (gl.createTexture());
      gl.bindTexture(gl.TEXTURE_2D, tex);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, w, h, 0, gl.RGBA, gl.UNSIGNED_BYTE, null);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
      return { tex, w, h };
    });
    for (const [path, bmp] of bitmaps) {
      const slot = /** @type {{page: number, x: number, y: number}} */ (atlas.slots.get(path));
      gl.bindTexture(gl.TEXTURE_2D, this.pages[slot.page].tex);
      // An ImageBitmap ignores the UNPACK_* flags: it was premultiplied when decoded.
      gl.texSubImage2D(gl.TEXTURE_2D, 0, slot.x, slot.y, gl.RGBA, gl.UNSIGNED_BYTE, bmp);
      bmp.close();
    }
    this.slots = atlas.slots;
    // Draw order by z; equal z keeps pack order (a stable sort, as the Python renderer).
    this.order = pack.layers.map((_, i) => i).sort((a, b) => pack.layers[a].z - pack.layers[b].z || a - b);
    const grids = pack.layers.map(meshOf);
    let first = 0;
    /** @type {number[]} */ const idx = [];
    /** @type {{uv: Float32Array, first: number, start: number, count: number}[]} */ const meshes = new Array(grids.length);
    for (const i of this.order) {
      const g = grids[i];
      meshes[i] = { uv: g.uv, first, start: idx.length, count: g.idx.length };
      for (const k of g.idx) idx.push(first + k);
      first += g.uv.length / 2;
    }
    this.meshes = meshes;
    this.indexType = first > 65535 && this.uint32 ? gl.UNSIGNED_INT : gl.UNSIGNED_SHORT;
    if (first > 65535 && !this.uint32) throw new Error(`pack ${pack.id} has too many mesh vertices (${first}) for this GL`);
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.ibo);
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, this.indexType === gl.UNSIGNED_INT ? new Uint32Array(idx) : new Uint16Array(idx), gl.STATIC_DRAW);
    this.verts = new Float32Array(first * STRIDE);
    this.drawn = new Float32Array(first * STRIDE);
    for (let i = 0; i < grids.length; i++) { // the uv column never changes
      const { uv, first: f } = meshes[i];
      for (let v = 0; v < uv.length / 2; v++) {
        this.verts[(f + v) * STRIDE + 2] = uv[2 * v];
        this.verts[(f + v) * STRIDE + 3] = uv[2 * v + 1];
      }
    }
    gl.bindBuffer(gl.ARRAY_BUFFER, this.vbo);
    gl.bufferData(gl.ARRAY_BUFFER, this.verts.byteLength, gl.DYNAMIC_DRAW);
    this.drawnSize = [0, 0];
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
    for (const page of this.pages) gl.deleteTexture(page.tex);
    this.pages = []; this.slots = new Map(); this.meshes = []; this.pack = null;
  }

  /**
   * Pose every layer's vertices for `params` into this.verts (clip space, as the old per-layer
   * vertex shader did: warps in image space, then the layer's transform, then the view).
   * @param {(name: string) => number} p
   */
  pose(p) {
    const { canvas, pack } = this;
    if (!pack) return;
    const W = canvas.width, H = canvas.height;
    const [cw, ch] = pack.canvas;
    const scale = this.fill * Math.min(W / cw, H / ch);
    const x0 = (W - cw * scale) / 2, y0 = (H - ch * scale) / 2;
    // canvas px -> clip: x' = (x0 + x*scale) / W * 2 - 1; y flips (canvas y grows down).
    const sx = 2 * scale / W, sy = -2 * scale / H, tx = 2 * x0 / W - 1, ty = 1 - 2 * y0 / H;
    const posed = poseLayers(pack.layers, p);
    this.view = { x0, y0, scale, posed };
    const out = this.verts;
    for (let i = 0; i < pack.layers.length; i++) {
      const layer = pack.layers[i];
      const [m, st] = posed[i];
      const { uv, first } = this.meshes[i];
      const tint = pack.tint[layer.id] ?? [1, 1, 1, 1];
      const a = tint[3] * st.opacity;
      const slot = this.slots.get(st.sprite ?? pack.textures[layer.id] ?? layer.image);
      const n = uv.length / 2;
      if (a <= 0 || !slot) { // not drawn: zero-area triangles, no pixel touched
        for (let v = 0; v < n; v++) { const o = (first + v) * STRIDE; out[o] = 0; out[o + 1] = 0; out[o + 11] = 0; }
        continue;
      }
      const [px, py] = layer.position, [gw, gh] = layer.size;
      // Fold the layer's position into its transform: canvas = m * (position + p).
      const m0 = m[0], m1 = m[1], m2 = m[0] * px + m[1] * py + m[2];
      const m3 = m[3], m4 = m[4], m5 = m[3] * px + m[4] * py + m[5];
      const k = Math.max(0.02, 1 - st.warpSquash);
      const r = tint[0] * a, g = tint[1] * a, b = tint[2] * a;
      for (let v = 0; v < n; v++) {
        const u = uv[2 * v], w = uv[2 * v + 1];
        const y = w * gh;
        let dy = (y - 0.5 * gh) * (k - 1);
        dy += st.warpOpen * Math.sin(Math.PI * u) * Math.min(1, Math.max(0, 2 * w - 1));
        const e = 2 * u - 1;
        dy -= st.warpSmile * e * e;
        const qx = u * gw, qy = y + dy;
        const o = (first + v) * STRIDE;
        out[o] = (m0 * qx + m1 * qy + m2) * sx + tx;
        out[o + 1] = (m3 * qx + m4 * qy + m5) * sy + ty;
        out[o + 4] = slot.x; out[o + 5] = slot.y; out[o + 6] = slot.w; out[o + 7] = slot.h;
        out[o + 8] = r; out[o + 9] = g; out[o + 10] = b; out[o + 11] = a;
      }
    }
  }

  /** Whether this.verts would look like the frame drawn last (no vertex moved STILL_PX, no
   * colour or image changed, same canvas size). */
  still() {
    const W = this.canvas.width, H = this.canvas.height;
    if (W !== this.drawnSize[0] || H !== this.drawnSize[1]) return false;
    const a = this.verts, b = this.drawn;
    const dx = 2 * STILL_PX / W, dy = 2 * STILL_PX / H;
    for (let o = 0; o < a.length; o += STRIDE) {
      if (Math.abs(a[o] - b[o]) > dx || Math.abs(a[o + 1] - b[o + 1]) > dy) return false;
      for (let j = 4; j < STRIDE; j++) if (Math.abs(a[o + j] - b[o + j]) > 1 / 512) return false;
    }
    return true;
  }

  /** Draw the pack at `params` (a name -> value lookup). With `ifMoved`, a frame that would
   * look the same as the last one drawn (idle life moves a fraction of a pixel per frame) is
   * not drawn again. Returns whether it drew.
   * @param {(name: string) => number} p @param {{ifMoved?: boolean}} [options] */
  draw(p, { ifMoved = false } = {}) {
    const { gl, canvas, pack } = this;
    this.pose(p);
    if (ifMoved && pack && this.still()) return false;
    const W = canvas.width, H = canvas.height;
    gl.viewport(0, 0, W, H);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);
    this.drawnSize = [W, H];
    if (!pack) return true;
    this.drawn.set(this.verts);
    gl.useProgram(this.prog);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    gl.uniform1i(this.uTex, 0);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.vbo);
    gl.bufferSubData(gl.ARRAY_BUFFER, 0, this.verts);
    for (const [name, size, offset] of /** @type {const} */ ([["a_pos", 2, 0], ["a_uv", 2, 2], ["a_box", 4, 4], ["a_color", 4, 8]])) {
      gl.enableVertexAttribArray(this.a[name]);
      gl.vertexAttribPointer(this.a[name], size, gl.FLOAT, false, STRIDE * 4, offset * 4);
    }
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.ibo);
    const bytes = this.indexType === gl.UNSIGNED_INT ? 4 : 2;
    // One drawElements per run of layers (in z order) whose images share an atlas page: one in
    // all for a pack that fits in one page.
    let runPage = -1, runStart = 0, runCount = 0;
    const flush = () => {
      if (runCount === 0) return;
      const page = this.pages[runPage];
      gl.bindTexture(gl.TEXTURE_2D, page.tex);
      gl.uniform2f(this.uTexel, 1 / page.w, 1 / page.h);
      gl.drawElements(gl.TRIANGLES, runCount, this.indexType, runStart * bytes);
    };
    const posed = this.view ? this.view.posed : [];
    for (const i of this.order) {
      const layer = pack.layers[i];
      const slot = posed[i] && this.slots.get(posed[i][1].sprite ?? pack.textures[layer.id] ?? layer.image);
      const page = slot ? slot.page : runPage; // an undrawn layer's triangles are empty anyway
      const mesh = this.meshes[i];
      if (page !== runPage && runCount > 0) { flush(); runStart = mesh.start; runCount = 0; }
      if (runCount === 0) runStart = mesh.start;
      runPage = page === -1 ? 0 : page;
      runCount += mesh.count;
    }
    flush();
    return true;
  }
}
