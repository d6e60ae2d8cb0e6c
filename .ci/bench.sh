#!/usr/bin/env bash
# CI builds the benches but does not time them: timings on a shared CI machine are noise. The
# report is `cargo bench --bench ratios`, which builds them again in the bench profile.
# They are built here in the dev profile, on the dependencies the Rust tests just built (the
# bench profile would compile every dependency again: two and a half minutes of a CI run), and
# the effectum peer bench, a crate of its own, is checked (its release build took 90 s more).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --benches
# The same SQLite flags (libsqlite3-sys's own) the ratios report builds the peer with.
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/peer" LIBSQLITE3_FLAGS="" \
  cargo check --locked --manifest-path benches/peer/Cargo.toml
