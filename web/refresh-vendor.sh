#!/bin/sh
# Refresh web/vendor/ from the versions pinned in package-lock.json (maintainers only: users
# never run this; the vendored files are committed so the page needs no build step).
set -eu
cd "$(dirname "$0")"
# npm ci trips over the lockfile's omitted optional native addon; install honours the lock.
npm install --omit=optional --ignore-scripts --no-audit --no-fund
rm -rf vendor/cbor-x
mkdir -p vendor/cbor-x
# The ES-module sources the page imports (encode.js imports decode.js; nothing else).
for f in encode.js decode.js LICENSE; do
    cp "node_modules/cbor-x/$f" vendor/cbor-x/
done
# smol-toml parses avatar.toml (built-in and received packs); fflate unzips a received pack.
rm -rf vendor/smol-toml vendor/fflate
mkdir -p vendor/smol-toml vendor/fflate
for f in date.js error.js extract.js index.js parse.js primitive.js stringify.js struct.js util.js; do
    cp "node_modules/smol-toml/dist/$f" vendor/smol-toml/
done
cp node_modules/smol-toml/LICENSE vendor/smol-toml/
cp node_modules/fflate/esm/browser.js node_modules/fflate/LICENSE vendor/fflate/
# MediaPipe's face tracking (tracking_worker.js): the ES bundle and the ES-module build of the
# WASM runtime (SIMD; every browser the page supports has WASM SIMD), loaded in a module worker.
# The other variants (non-module, no-SIMD) are never fetched: the worker names its files itself.
# The face model is not copied: the relay serves tracking/models/face_landmarker.task.
rm -rf vendor/tasks-vision
mkdir -p vendor/tasks-vision
cp node_modules/@mediapipe/tasks-vision/vision_bundle.mjs \
    node_modules/@mediapipe/tasks-vision/wasm/vision_wasm_module_internal.js \
    node_modules/@mediapipe/tasks-vision/wasm/vision_wasm_module_internal.wasm vendor/tasks-vision/
# The package ships no LICENSE file; its package.json says Apache-2.0.
node -p "'@mediapipe/tasks-vision ' + require('./node_modules/@mediapipe/tasks-vision/package.json').license" \
    > vendor/tasks-vision/LICENSE
{
    for pkg in cbor-x smol-toml fflate @mediapipe/tasks-vision; do
        echo "$pkg $(node -p "require('./node_modules/$pkg/package.json').version")"
    done
} > vendor/VERSIONS
