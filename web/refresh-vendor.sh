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
echo "cbor-x $(node -p 'require("./node_modules/cbor-x/package.json").version')" > vendor/VERSIONS
