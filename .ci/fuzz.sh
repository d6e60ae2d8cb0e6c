#!/usr/bin/env bash
# Short cargo-fuzz runs of every target in fuzz/ (string entry points of the C ABI, config
# JSON, cart answers as the http_json adapter reads them). cargo fuzz needs a nightly
# toolchain; without one this says SKIPPED loudly and fails nothing.
# FUZZ_SECONDS (default 20) is the time per target.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-20}"
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "fuzz: SKIPPED: no nightly toolchain on this machine (cargo fuzz needs one)"
  exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
cd fuzz
cargo +nightly fuzz build
failed=0
for target in $(cargo +nightly fuzz list); do
  corpus="$(mktemp -d)"
  if cargo +nightly fuzz run "$target" "$corpus" -- -max_total_time="$seconds" -print_final_stats=1 \
       > "$corpus.log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$corpus.log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz: $target: ${seconds}s, $runs runs, corpus $(ls "$corpus" | wc -l), no crash"
  else
    echo "fuzz: $target: FAILED"
    tail -40 "$corpus.log"
    failed=1
  fi
  rm -rf "$corpus" "$corpus.log"
done
exit "$failed"
