#!/bin/sh
# Refresh web/vendor/ from the versions pinned in package-lock.json (maintainers only: users
# never run this; the vendored files are committed so the page needs no build step).
# Each package lands in vendor/NAME@VERSION/: the version in the path is what lets the relay
# serve these files as immutable (relay/static.py), so a new version is a new URL. After a
# version change, update the import paths the script prints (tests/web fails until then).
set -eu
cd "$(dirname "$0")"
# npm ci trips over the lockfile's omitted optional native addon; install honours the lock.
npm install --omit=optional --ignore-scripts --no-audit --no-fund
version() { node -p "require('./node_modules/$1/package.json').version"; }
rm -rf vendor/cbor-x@* vendor/smol-toml@* vendor/fflate@* vendor/tasks-vision@*
CBOR="vendor/cbor-x@$(version cbor-x)"
TOML="vendor/smol-toml@$(version smol-toml)"
ZIP="vendor/fflate@$(version fflate)"
VISION="vendor/tasks-vision@$(version @mediapipe/tasks-vision)"
mkdir -p "$CBOR" "$TOML" "$ZIP" "$VISION"
# The ES-module sources the page imports (encode.js imports decode.js; nothing else).
for f in encode.js decode.js LICENSE; do
    cp "node_modules/cbor-x/$f" "$CBOR/"
done
# smol-toml parses avatar.toml (built-in and received packs); fflate unzips a received pack.
for f in date.js error.js extract.js index.js parse.js primitive.js stringify.js struct.js util.js; do
    cp "node_modules/smol-toml/dist/$f" "$TOML/"
done
cp node_modules/smol-toml/LICENSE "$TOML/"
cp node_modules/fflate/esm/browser.js node_modules/fflate/LICENSE "$ZIP/"
# MediaPipe's face tracking (tracking_worker.js): the ES bundle and the ES-module build of the
# WASM runtime (SIMD; every browser the page supports has WASM SIMD), loaded in a module worker.
# The other variants (non-module, no-SIMD) are never fetched: the worker names its files itself.
# The face model is not copied: the relay serves tracking/models/face_landmarker.task.
cp node_modules/@mediapipe/tasks-vision/vision_bundle.mjs \
    node_modules/@mediapipe/tasks-vision/wasm/vision_wasm_module_internal.js \
    node_modules/@mediapipe/tasks-vision/wasm/vision_wasm_module_internal.wasm "$VISION/"
# The package ships no LICENSE file; its package.json says Apache-2.0.
node -p "'@mediapipe/tasks-vision ' + require('./node_modules/@mediapipe/tasks-vision/package.json').license" \
    > "$VISION/LICENSE"
{
    for pkg in cbor-x smol-toml fflate @mediapipe/tasks-vision; do
        echo "$pkg $(version "$pkg")"
    done
} > vendor/VERSIONS
echo "vendored: $CBOR $TOML $ZIP $VISION"
echo "the page imports:"
grep -n "vendor/" ctl.js frame.js pack.js tracking_worker.js
