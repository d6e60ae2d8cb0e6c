#!/usr/bin/env bash
# Runs the Medusa integration tests against a real Medusa v2 on loopback, then tears it down.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(tests/medusa/setup.sh)"
teardown() {
  kill "$(cat "$MEDUSA_DIR/medusa.pid")" 2>/dev/null || true
  pg_ctlcluster "${PGVER:-15}" main stop || true
  rm -rf "$MEDUSA_DIR"
}
trap teardown EXIT
cargo test --features medusa-it --test medusa_it -- --nocapture
