#!/usr/bin/env bash
# Runs the Medusa integration tests against a real Medusa v2 on loopback, then tears it all
# down, on success or failure. Fails (never passes silently) when Medusa cannot be set up,
# when no Medusa test ran, or when the admin password shows up in any output or log.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
DIR=$(mktemp -d /tmp/invsync-medusa.XXXXXX)
teardown() {
  status=$?
  bash tests/medusa/setup.sh down "$DIR" || true
  if ((status != 0)) && [[ -f $DIR/medusa.log ]]; then
    echo "== last lines of the Medusa log" >&2
    tail -30 "$DIR/medusa.log" >&2 || true
  fi
  rm -rf "$DIR"
  echo "== medusa: $((SECONDS - started))s in all, exit $status" >&2
  exit "$status"
}
trap teardown EXIT

bash tests/medusa/setup.sh up "$DIR" 2> >(tee "$DIR/setup.err" >&2) >"$DIR/env.sh"
set -a
# shellcheck disable=SC1091
. "$DIR/env.sh"
set +a

t=$SECONDS
cargo test --features medusa-it --test medusa_it 2>&1 | tee "$DIR/test.log"
echo "== medusa tests (build and run): $((SECONDS - t))s"

if grep -q SKIPPED "$DIR/test.log" || ! grep -Eq '^test result: ok\. [1-9][0-9]* passed' "$DIR/test.log"; then
  echo "== FAIL: no Medusa integration test ran" >&2
  exit 1
fi
for f in "$DIR/test.log" "$DIR/setup.err" "$DIR/medusa.log" "$DIR/migrate.log" "$DIR/user.log"; do
  if [[ -f $f ]] && grep -qF -- "$MEDUSA_PASSWORD" "$f"; then
    echo "== FAIL: the admin password appears in $(basename "$f")" >&2
    exit 1
  fi
done
echo "== medusa: OK"
