#!/usr/bin/env bash
# Regenerates include/inventory_sync.h with a pinned cbindgen and fails when it differs from
# the committed header. `.ci/header.sh --write` rewrites the committed header instead.
set -euo pipefail
cd "$(dirname "$0")/.."

CBINDGEN_VERSION=0.28.0
if ! command -v cbindgen >/dev/null 2>&1 || [ "$(cbindgen --version)" != "cbindgen $CBINDGEN_VERSION" ]; then
    echo "header: installing cbindgen $CBINDGEN_VERSION"
    cargo install cbindgen --version "$CBINDGEN_VERSION" --locked -j "${CARGO_BUILD_JOBS:-1}" --quiet
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# Source-file mode: only src/ffi and its modules are read, so nothing else of the crate leaks
# into the header.
cbindgen --quiet --config cbindgen.toml --output "$tmp" src/ffi/mod.rs
# The calling convention, between each function's return type and its name (continuation
# lines moved to stay aligned) and inside the callback typedef's parentheses.
perl -i -pe '
    if (/^(int32_t|void) (invsync_\w+\()/) { s//$1 INVSYNC_CALL $2/; $cont = !/;\s*$/; next }
    if ($cont) { s/^(\s+)/$1 . (" " x 13)/e; $cont = !/;\s*$/; next }
    s/^typedef (\w+) \(\*(invsync_\w+)\)/typedef $1 (INVSYNC_CALL *$2)/;
' "$tmp"

if [ "${1:-}" = "--write" ]; then
    cp "$tmp" include/inventory_sync.h
    echo "header: include/inventory_sync.h written"
    exit 0
fi
if ! diff -u include/inventory_sync.h "$tmp"; then
    echo "header: FAILED: include/inventory_sync.h is stale; run .ci/header.sh --write and commit it"
    exit 1
fi
echo "header: include/inventory_sync.h matches cbindgen $CBINDGEN_VERSION"
