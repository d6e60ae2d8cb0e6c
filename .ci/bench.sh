#!/usr/bin/env bash
# CI compiles the benches (`cargo bench --no-run`) but does not time them: timings on a shared
# CI machine are noise. The report is `cargo bench --bench ratios`, which builds them optimised.
# Here nothing is optimised (CARGO_PROFILE_BENCH_*: the bench profile's opt-level 3 compiled
# every dependency for two and a half of CI's minutes, to check that the benches build), and
# the effectum peer bench, a crate of its own, is checked (its release build took 90 s more).
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_PROFILE_BENCH_OPT_LEVEL=0 CARGO_PROFILE_BENCH_DEBUG=false cargo bench --no-run
# The same SQLite flags (libsqlite3-sys's own) the ratios report builds the peer with.
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/peer" LIBSQLITE3_FLAGS="" \
  cargo check --locked --manifest-path benches/peer/Cargo.toml
