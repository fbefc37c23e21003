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
{
    for pkg in cbor-x smol-toml fflate; do
        echo "$pkg $(node -p "require('./node_modules/$pkg/package.json').version")"
    done
} > vendor/VERSIONS
