// MediaPipe's FaceLandmarker in a module worker: one camera image in (an ImageBitmap), the raw
// result's blendshapes and transformation matrix out. The settings are the Python tracker's
// (tracking/model.py create_landmarker): VIDEO mode, one face, blendshapes and matrix, CPU.
//
// Why a worker: one inference takes ~10-30 ms of CPU; on the page's main thread that would
// stall the avatar's drawing and the DataChannel every frame.
//
// Everything it loads comes from the page's own origin: the bundle and the WASM runtime from
// vendor/tasks-vision@1.1.0/ (the ES-module SIMD build, named here, so the library's own file
// picking never runs; the version in the path lets the relay serve it as immutable) and the
// face model from /models/face_landmarker.task (the Python tracker's own file, served by the
// relay). tasks-vision 1.1.0 also carries a usage logger that POSTs to a Google endpoint every
// 60 s and on close; the page's CSP (connect-src 'self') would block it,
// and this worker's fetch refuses any other origin before a request is even attempted, so the
// logger gives up after its first try and nothing leaves the machine.

/* global self */

const own = self.location.origin;
const realFetch = self.fetch.bind(self);
/** @type {typeof fetch} */
self.fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input), self.location.href);
  if (url.origin !== own) {
    self.postMessage({ kind: "refused", url: `${url.origin}${url.pathname}` });
    return Promise.reject(new TypeError(`refusing a request outside this origin (${url.origin})`));
  }
  return realFetch(input, init);
};

const { FaceLandmarker } = await import("./vendor/tasks-vision@1.1.0/vision_bundle.mjs");

const base = new URL("./vendor/tasks-vision@1.1.0/", import.meta.url).href;
/** @type {any} */
let landmarker = null;
let lastTsMs = -1;

async function load() {
  landmarker = await FaceLandmarker.createFromOptions(
    {
      wasmLoaderPath: `${base}vision_wasm_module_internal.js`,
      wasmBinaryPath: `${base}vision_wasm_module_internal.wasm`,
    },
    {
      baseOptions: { modelAssetPath: new URL("/models/face_landmarker.task", own).href, delegate: "CPU" },
      runningMode: "VIDEO",
      numFaces: 1,
      outputFaceBlendshapes: true,
      outputFacialTransformationMatrixes: true,
    },
  );
}

/**
 * @param {ImageBitmap} image
 * @param {number} tsMs
 */
function detect(image, tsMs) {
  const ts = Math.max(Math.round(tsMs), lastTsMs + 1); // must strictly increase
  lastTsMs = ts;
  const t0 = performance.now();
  const result = landmarker.detectForVideo(image, ts);
  const inferenceMs = performance.now() - t0;
  const shapes = result.faceBlendshapes?.[0]?.categories ?? null;
  const matrix = result.facialTransformationMatrixes?.[0]?.data ?? null;
  return {
    // Plain copies: the result's arrays may point into the WASM heap.
    faceBlendshapes: shapes
      ? [{ categories: shapes.map((/** @type {any} */ c) => ({ score: c.score, categoryName: c.categoryName })) }]
      : [],
    facialTransformationMatrixes: matrix ? [{ data: Array.from(matrix) }] : [],
    inferenceMs,
  };
}

self.onmessage = async (/** @type {MessageEvent} */ event) => {
  const msg = event.data;
  try {
    if (msg.kind === "load") {
      await load();
      self.postMessage({ kind: "ready" });
    } else if (msg.kind === "image") {
      const image = /** @type {ImageBitmap} */ (msg.image);
      try {
        self.postMessage({ kind: "result", id: msg.id, result: detect(image, msg.tsMs) });
      } finally {
        image.close();
      }
    } else if (msg.kind === "close") {
      landmarker?.close();
      landmarker = null;
    }
  } catch (e) {
    self.postMessage({ kind: "error", id: msg.id, message: String(/** @type {Error} */ (e)?.message ?? e) });
  }
};
self.postMessage({ kind: "loaded" });
