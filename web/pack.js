// Avatar packs in the page (avatars/FORMAT.md): the built-ins the relay serves under /packs/,
// and a peer's custom pack received over ctl as the deterministic zip the Python peer sends.
//
// A pack's identity is its content hash (sha256 over, in UTF-8 byte order of the paths,
// `path + "\0" + sha256(file)`), computed here exactly as avatars.source.content_hash, so the
// hello carries the same hash as a Python peer's and a received pack is kept only when its
// hash is the one announced. A received pack is then checked against the format's limits
// (the ones that keep the page safe and the drawing well-defined: sizes, counts, paths, ids,
// parents, known parameters and targets, PNG images); any problem is a PackError whose message
// the page shows while it draws the peer with a built-in.

import { parse as parseToml } from "./vendor/smol-toml@1.9.1/index.js";
import { unzipSync } from "./vendor/fflate@0.8.3/browser.js";
import { sha256 } from "./sas.js";
import { PARAM_INDEX, BONE_DRIVERS } from "./params.js";

export const MAX_PACK_BYTES = 8 * 1024 * 1024;
export const MAX_FILES = 512;
export const MAX_LAYERS = 64;
export const MAX_IMAGE_SIDE = 2048;
export const TARGETS = Object.freeze(["offset_x", "offset_y", "rotate", "scale", "scale_x",
  "scale_y", "opacity", "sprite", "warp_open", "warp_smile", "warp_squash"]);
export const WARP_TARGETS = Object.freeze(["warp_open", "warp_smile", "warp_squash"]);
const ID_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;
const LAYER_ID_RE = /^[a-z0-9_]{1,32}$/;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const utf8 = new TextEncoder();

export class PackError extends Error {}

/**
 * @typedef {{param: string, target: string, gain: number, offset: number,
 *   min: number | null, max: number | null, sprites: [number, string][]}} Binding
 * @typedef {{id: string, image: string, parent: string | null, position: [number, number],
 *   pivot: [number, number], z: number, mesh: [number, number], bindings: Binding[],
 *   bone: {driver: string, foreshorten: number} | null, size: [number, number]}} Layer
 * @typedef {{id: string, name: string, version: string, canvas: [number, number], hash: string,
 *   layers: Layer[], textures: Record<string, string>, tint: Record<string, number[]>,
 *   files: Map<string, Uint8Array>}} Pack
 */

const hexOf = (/** @type {Uint8Array} */ b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** Compare two strings by their UTF-8 bytes (Python's sort of the paths). @param {string} a @param {string} b */
function utf8Order(a, b) {
  const x = utf8.encode(a), y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** The pack's content hash (FORMAT.md, "Identity"). @param {Map<string, Uint8Array>} files */
export async function contentHash(files) {
  const parts = [];
  for (const path of [...files.keys()].sort(utf8Order)) {
    const name = utf8.encode(path);
    const digest = await sha256(/** @type {Uint8Array} */ (files.get(path)));
    const part = new Uint8Array(name.length + 1 + 32);
    part.set(name, 0); part.set(digest, name.length + 1);
    parts.push(part);
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  return hexOf(await sha256(all));
}

/** Why a path from a zip or manifest is unsafe, or "". @param {string} rel */
export function unsafePath(rel) {
  if (!rel) return "is empty";
  if (rel.startsWith("/") || rel.includes("\\") || /^[A-Za-z]:/.test(rel)) return "is absolute";
  if (rel.split("/").some((p) => p === ".." )) return "leaves the pack (..)";
  if (rel.includes("\0")) return "holds a NUL";
  return "";
}
const hidden = (/** @type {string} */ rel) => rel.split("/").some((p) => p.startsWith("."));

/**
 * A received pack zip's files (avatars.source.read_zip_bytes' rules: size and count caps
 * checked before inflating, no unsafe paths, hidden files and __MACOSX skipped, one top folder
 * holding avatar.toml read as the pack).
 * @param {Uint8Array} data @returns {Map<string, Uint8Array>}
 */
export function unzipPack(data) {
  if (data.length > MAX_PACK_BYTES) throw new PackError(`zip is ${data.length} bytes, over the 8 MiB limit`);
  let total = 0, count = 0;
  /** @type {Record<string, Uint8Array>} */
  let raw;
  try {
    raw = unzipSync(data, {
      filter(f) {
        count += 1;
        if (count > MAX_FILES) throw new PackError(`zip has over ${MAX_FILES} entries`);
        const name = f.name.endsWith("/") ? f.name.slice(0, -1) : f.name;
        const why = unsafePath(name);
        if (why) throw new PackError(`zip entry ${JSON.stringify(f.name)} ${why}`);
        if (f.name.endsWith("/") || hidden(f.name) || f.name.startsWith("__MACOSX/")) return false;
        total += f.originalSize;
        if (total > MAX_PACK_BYTES) throw new PackError("pack is larger than 8 MiB unpacked");
        return true;
      },
    });
  } catch (e) {
    if (e instanceof PackError) throw e;
    throw new PackError(`not a valid zip file (${e instanceof Error ? e.message : e})`);
  }
  let files = new Map(Object.entries(raw));
  if (!files.has("avatar.toml") && files.size) {
    const tops = new Set([...files.keys()].map((k) => k.split("/", 1)[0]));
    const [top] = tops;
    if (tops.size === 1 && [...files.keys()].every((k) => k.includes("/")) && files.has(`${top}/avatar.toml`)) {
      files = new Map([...files].map(([k, v]) => [k.slice(top.length + 1), v]));
    }
  }
  return files;
}

/**
 * A pack a user brings as a zip (the join form's own pack): the received-zip rules (caps,
 * paths, one top folder), then every check of the format, as for a pack a peer sends.
 * @param {Uint8Array} data @returns {Promise<Pack>}
 */
export async function packFromZip(data) { return packFromFiles(unzipPack(data)); }

/** Width and height from a PNG's IHDR (after checking the signature). @param {Uint8Array} b @param {string} path */
function pngSize(b, path) {
  if (b.length < 24 || PNG_SIGNATURE.some((x, i) => b[i] !== x)) throw new PackError(`${path} is not a PNG`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return /** @type {[number, number]} */ ([dv.getUint32(16), dv.getUint32(20)]);
}

/** @param {unknown} v @returns {v is number} */
const num = (v) => typeof v === "number" && Number.isFinite(v);
/** @param {unknown} v @param {string} where @returns {[number, number]} */
function pair(v, where) {
  if (!Array.isArray(v) || v.length !== 2 || !v.every(num)) throw new PackError(`${where} must be two numbers`);
  return [Number(v[0]), Number(v[1])];
}

/**
 * Parse and check a pack from its files; the hash is computed here. `variant` picks a
 * [[variants]] entry's textures and tint (the default variant when absent or unknown).
 * @param {Map<string, Uint8Array>} files @param {string} [variant] @returns {Promise<Pack>}
 */
export async function packFromFiles(files, variant) {
  const manifestBytes = files.get("avatar.toml");
  if (!manifestBytes) throw new PackError("the pack has no avatar.toml");
  let total = 0;
  for (const [path, blob] of files) {
    const why = unsafePath(path);
    if (why) throw new PackError(`file ${JSON.stringify(path)} ${why}`);
    total += blob.length;
  }
  if (total > MAX_PACK_BYTES) throw new PackError("pack is larger than 8 MiB");
  /** @type {any} */
  let m;
  try { m = parseToml(new TextDecoder("utf-8", { fatal: true }).decode(manifestBytes)); } catch (e) {
    throw new PackError(`avatar.toml does not parse: ${e instanceof Error ? e.message.split("\n")[0] : e}`);
  }
  const p = m.pack;
  if (!p || typeof p !== "object") throw new PackError("avatar.toml has no [pack] table");
  if (p.format !== 1) throw new PackError(`unsupported pack format ${JSON.stringify(p.format)}`);
  if (typeof p.id !== "string" || !ID_RE.test(p.id)) throw new PackError(`bad pack id ${JSON.stringify(p.id)}`);
  const canvas = pair(p.canvas, "[pack] canvas");
  if (!(canvas[0] > 0 && canvas[1] > 0 && canvas[0] <= 8192 && canvas[1] <= 8192)) throw new PackError("[pack] canvas out of range");
  const rawLayers = m.layers;
  if (!Array.isArray(rawLayers) || !rawLayers.length) throw new PackError("the pack has no [[layers]]");
  if (rawLayers.length > MAX_LAYERS) throw new PackError(`${rawLayers.length} layers (limit ${MAX_LAYERS})`);
  /** @type {Map<string, [number, number]>} */
  const sizes = new Map();
  const image = (/** @type {unknown} */ path, /** @type {string} */ where) => {
    if (typeof path !== "string" || unsafePath(path)) throw new PackError(`${where}: bad image path ${JSON.stringify(path)}`);
    const blob = files.get(path);
    if (!blob) throw new PackError(`${where}: image ${path} is missing`);
    if (!sizes.has(path)) {
      const size = pngSize(blob, path);
      if (size[0] < 1 || size[1] < 1 || size[0] > MAX_IMAGE_SIDE || size[1] > MAX_IMAGE_SIDE) {
        throw new PackError(`${path} is ${size[0]}x${size[1]} (limit ${MAX_IMAGE_SIDE}x${MAX_IMAGE_SIDE})`);
      }
      sizes.set(path, size);
    }
    return path;
  };
  /** @type {Layer[]} */
  const layers = [];
  const ids = new Set();
  for (const [n, l] of rawLayers.entries()) {
    const where = `layer ${n + 1}`;
    if (typeof l.id !== "string" || !LAYER_ID_RE.test(l.id)) throw new PackError(`${where}: bad layer id ${JSON.stringify(l.id)}`);
    if (ids.has(l.id)) throw new PackError(`duplicate layer id ${l.id}`);
    ids.add(l.id);
    const img = image(l.image, `layer ${l.id}`);
    const bindings = (Array.isArray(l.bindings) ? l.bindings : []).map((/** @type {any} */ b) => {
      if (!(b.param in PARAM_INDEX)) throw new PackError(`layer ${l.id}: unknown parameter ${JSON.stringify(b.param)}`);
      if (!TARGETS.includes(b.target)) throw new PackError(`layer ${l.id}: unknown target ${JSON.stringify(b.target)}`);
      /** @type {[number, string][]} */
      const sprites = (Array.isArray(b.sprites) ? b.sprites : []).map((/** @type {any} */ s) => {
        if (!Array.isArray(s) || !num(s[0])) throw new PackError(`layer ${l.id}: bad sprite entry`);
        const sp = image(s[1], `layer ${l.id} sprite`);
        const [w, h] = /** @type {[number, number]} */ (sizes.get(sp));
        const [lw, lh] = /** @type {[number, number]} */ (sizes.get(img));
        if (w !== lw || h !== lh) throw new PackError(`layer ${l.id}: sprite ${sp} is not the layer image's size`);
        return [s[0], sp];
      });
      for (let i = 1; i < sprites.length; i++) {
        if (sprites[i][0] < sprites[i - 1][0]) throw new PackError(`layer ${l.id}: sprite thresholds not ascending`);
      }
      return {
        param: b.param, target: b.target, gain: num(b.gain) ? b.gain : 1, offset: num(b.offset) ? b.offset : 0,
        min: num(b.min) ? b.min : null, max: num(b.max) ? b.max : null, sprites,
      };
    });
    let bone = null;
    if (l.bone) {
      if (!(l.bone.driver in BONE_DRIVERS)) throw new PackError(`layer ${l.id}: unknown bone driver ${JSON.stringify(l.bone.driver)}`);
      const fs = l.bone.foreshorten ?? 1;
      if (!num(fs) || fs < 0 || fs > 1) throw new PackError(`layer ${l.id}: foreshorten must be in 0..1`);
      bone = { driver: l.bone.driver, foreshorten: fs };
    }
    const mesh = l.mesh === undefined ? [1, 1] : pair(l.mesh, `layer ${l.id} mesh`);
    if (!(mesh[0] >= 1 && mesh[1] >= 1 && mesh[0] <= 64 && mesh[1] <= 64)) throw new PackError(`layer ${l.id}: mesh out of range`);
    layers.push({
      id: l.id, image: img, parent: l.parent ? String(l.parent) : null,
      position: pair(l.position, `layer ${l.id} position`), pivot: pair(l.pivot, `layer ${l.id} pivot`),
      z: num(l.z) ? l.z : 0, mesh: [Math.round(mesh[0]), Math.round(mesh[1])], bindings, bone,
      size: /** @type {[number, number]} */ (sizes.get(img)),
    });
  }
  for (const l of layers) {
    if (l.parent !== null && !ids.has(l.parent)) throw new PackError(`layer ${l.id}: unknown parent ${JSON.stringify(l.parent)}`);
  }
  const variants = Array.isArray(m.variants) ? m.variants : [];
  const chosen = variants.find((/** @type {any} */ v) => v.id === variant)
    ?? variants.find((/** @type {any} */ v) => v.id === p.default_variant) ?? {};
  /** @type {Record<string, string>} */ const textures = {};
  for (const [lid, path] of Object.entries(chosen.textures ?? {})) {
    if (ids.has(lid)) textures[lid] = image(path, `variant texture of ${lid}`);
  }
  /** @type {Record<string, number[]>} */ const tint = {};
  for (const [lid, rgba] of Object.entries(chosen.tint ?? {})) {
    if (ids.has(lid) && Array.isArray(rgba) && rgba.length === 4 && rgba.every(num)) tint[lid] = rgba.map(Number);
  }
  return {
    id: p.id, name: typeof p.name === "string" ? p.name : p.id, version: String(p.version ?? ""),
    canvas, hash: await contentHash(files), layers: parentsFirst(layers), textures, tint, files,
  };
}

/** Layers ordered parents before children (refusing a cycle). @param {Layer[]} layers */
function parentsFirst(layers) {
  const byId = new Map(layers.map((l) => [l.id, l]));
  /** @type {Layer[]} */ const out = [];
  const state = new Map();
  const visit = (/** @type {Layer} */ l) => {
    if (state.get(l.id) === 2) return;
    if (state.get(l.id) === 1) throw new PackError(`parent cycle through layer ${l.id}`);
    state.set(l.id, 1);
    if (l.parent !== null) visit(/** @type {Layer} */ (byId.get(l.parent)));
    state.set(l.id, 2);
    out.push(l);
  };
  layers.forEach(visit);
  return out;
}

/** The relay's list of built-in packs: [{id, files}]. @returns {Promise<{id: string, files: string[]}[]>} */
export async function builtinIndex() {
  const r = await fetch("packs/index.json");
  if (!r.ok) throw new Error(`packs/index.json: HTTP ${r.status}`);
  return (await r.json()).packs;
}

/** Fetch a built-in's files from the relay and load it. @param {{id: string, files: string[]}} entry */
export async function loadBuiltin(entry) {
  const files = new Map(await Promise.all(entry.files.map(async (f) => {
    const r = await fetch(`packs/${entry.id}/${f}`);
    if (!r.ok) throw new Error(`packs/${entry.id}/${f}: HTTP ${r.status}`);
    return /** @type {[string, Uint8Array]} */ ([f, new Uint8Array(await r.arrayBuffer())]);
  })));
  return packFromFiles(files);
}
