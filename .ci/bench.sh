#!/usr/bin/env bash
# CI compiles the benches (and the effectum peer bench, a crate of its own) but does not time
# them: timings on a shared CI machine are noise. The report is `cargo bench --bench ratios`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --no-run
# The same target directory and SQLite flags (libsqlite3-sys's own) the ratios report builds
# the peer with.
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/peer" LIBSQLITE3_FLAGS="" \
  cargo build --release --locked --manifest-path benches/peer/Cargo.toml
