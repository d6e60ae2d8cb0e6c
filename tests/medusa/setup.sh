#!/usr/bin/env bash
# A real Medusa v2 on loopback for `cargo test --features medusa-it --test medusa_it`.
#
#   tests/medusa/setup.sh up DIR > env.sh    # set up; prints `export …` lines for the tests
#   tests/medusa/setup.sh down DIR           # tear down what `up DIR` started (idempotent)
#
# `up`: PostgreSQL from Debian on 127.0.0.1 only (installed with apt-get when missing; run as
# the postgres user through pg_ctlcluster/runuser, never as root), a database and role of its
# own, @medusajs/medusa 2.21.x from the npm registry (the tree locked in package-lock.json
# beside this script) in a minimal project
# (create-medusa-app clones from the internet: not used), the schema migrated, an admin user,
# `medusa start` on 127.0.0.1:$MEDUSA_PORT in its own process group, and a seeded product with
# three variants stocked at a new stock location. Telemetry is off; nothing listens beyond
# 127.0.0.1 and nothing is fetched but npm and Debian packages. Step timings go to stderr.
# DIR holds the project, logs and the state `down` needs; it must exist and be private.
set -euo pipefail

action=${1:-}
DIR=${2:-}
if [[ $action != up && $action != down ]] || [[ -z $DIR || ! -d $DIR ]]; then
  echo "usage: $0 up|down DIR (an existing directory)" >&2
  exit 2
fi
DIR=$(cd "$DIR" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
t0=$(date +%s)
step() { echo "[medusa-setup] $(($(date +%s) - t0))s: $*" >&2; }

# Runs a command as the postgres user (CI is root; elsewhere sudo without a prompt).
as_pg() {
  if [[ $(id -u) == 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && sudo -n -u postgres -- "$@")
  fi
}
pg_ctl_() { if [[ $(id -u) == 0 ]]; then pg_ctlcluster "$@"; else sudo -n pg_ctlcluster "$@"; fi; }

if [[ $action == down ]]; then
  if [[ -f $DIR/medusa.pgid ]]; then
    pgid=$(cat "$DIR/medusa.pgid")
    kill -TERM -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
    rm -f "$DIR/medusa.pgid"
    step "medusa stopped"
  fi
  if [[ -f $DIR/pg.state ]]; then
    # shellcheck disable=SC1091
    . "$DIR/pg.state"
    as_pg psql -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB" >&2 2>/dev/null || true
    as_pg psql -q -v ON_ERROR_STOP=1 -c "DROP ROLE IF EXISTS $ROLE" >&2 2>/dev/null || true
    if [[ ${PG_STARTED:-0} == 1 ]]; then
      pg_ctl_ "$PGVER" main stop || true
      step "postgresql $PGVER stopped"
    fi
    rm -f "$DIR/pg.state"
  fi
  exit 0
fi

PORT=${MEDUSA_PORT:-9123}
EMAIL=admin@invsync.test
rand() { head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c "$1"; }
PASSWORD=$(rand 24)
DBPASS=$(rand 24)
DB=invsync_medusa_$$
ROLE=invsync_$$
export MEDUSA_DISABLE_TELEMETRY=true DO_NOT_TRACK=1 NPM_CONFIG_UPDATE_NOTIFIER=false
export NODE_ENV=development

# ---- tools ----
need_apt=()
command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql)
command -v curl >/dev/null || need_apt+=(curl)
command -v node >/dev/null || need_apt+=(nodejs npm)
if ((${#need_apt[@]})); then
  step "installing ${need_apt[*]} from Debian"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >&2
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
  echo "[medusa-setup] Medusa 2.21 needs Node 20 or later; this machine has $(node --version)" >&2
  exit 1
fi
command -v npm >/dev/null || { echo "[medusa-setup] npm is missing" >&2; exit 1; }
if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
  echo "[medusa-setup] something already listens on 127.0.0.1:$PORT (set MEDUSA_PORT)" >&2
  exit 1
fi

# ---- PostgreSQL on 127.0.0.1 ----
PGVER=${PGVER:-$(pg_lsclusters -h 2>/dev/null | awk '$2 == "main" {print $1}' | sort -V | tail -1)}
if [[ -z $PGVER ]]; then
  PGVER=$(ls /usr/lib/postgresql | sort -V | tail -1)
  step "creating cluster $PGVER/main"
  pg_createcluster "$PGVER" main >&2
fi
conf=/etc/postgresql/$PGVER/main/postgresql.conf
if ! grep -q "^listen_addresses = '127.0.0.1'" "$conf"; then
  sed -i "s/^#\?listen_addresses.*/listen_addresses = '127.0.0.1'/" "$conf"
fi
PG_STARTED=0
status=$(pg_lsclusters -h | awk -v v="$PGVER" '$1 == v && $2 == "main" {print $4}')
if [[ $status != online ]]; then
  pg_ctl_ "$PGVER" main start
  PG_STARTED=1
elif [[ $(as_pg psql -tAc "SHOW listen_addresses") != 127.0.0.1 ]]; then
  pg_ctl_ "$PGVER" main restart
fi
PGPORT=$(as_pg psql -tAc "SHOW port")
[[ $(as_pg psql -tAc "SHOW listen_addresses") == 127.0.0.1 ]] || {
  echo "[medusa-setup] postgresql does not listen on 127.0.0.1 only" >&2
  exit 1
}
printf 'PGVER=%s\nPG_STARTED=%s\nDB=%s\nROLE=%s\n' "$PGVER" "$PG_STARTED" "$DB" "$ROLE" >"$DIR/pg.state"
as_pg psql -q -v ON_ERROR_STOP=1 -c "CREATE ROLE $ROLE LOGIN PASSWORD '$DBPASS'" >&2
as_pg psql -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB OWNER $ROLE" >&2
step "postgresql $PGVER up on 127.0.0.1:$PGPORT, database $DB"

# ---- the Medusa project ----
# package.json and its lock file live beside this script: `npm ci` installs exactly the locked
# tree, so CI does not depend on what the registry resolves that day. (On 2026-12-01 the
# registry listed @babel/* 7.29.16 releases whose own 7.29.16 dependencies it did not serve,
# and every unlocked install failed; package.json's overrides hold those packages at their
# last complete 7.29 releases.) To move to a newer Medusa, edit package.json and run
# `npm install --package-lock-only` in this directory.
cp "$HERE/package.json" "$HERE/package-lock.json" "$DIR/"
cd "$DIR"
cat >medusa-config.ts <<'TS'
import { defineConfig } from "@medusajs/framework/utils"
module.exports = defineConfig({
  projectConfig: {
    databaseUrl: process.env.DATABASE_URL,
    http: { storeCors: "", adminCors: "", authCors: "",
            jwtSecret: process.env.JWT_SECRET, cookieSecret: process.env.COOKIE_SECRET },
  },
  admin: { disable: true },
})
TS
cat >tsconfig.json <<'JSON'
{ "compilerOptions": { "target": "ES2021", "module": "Node16", "moduleResolution": "Node16",
  "esModuleInterop": true, "skipLibCheck": true } }
JSON
export DATABASE_URL="postgres://$ROLE:$DBPASS@127.0.0.1:$PGPORT/$DB"
JWT_SECRET=$(rand 40)
COOKIE_SECRET=$(rand 40)
export JWT_SECRET COOKIE_SECRET
s=$(date +%s)
if [[ -d node_modules/@medusajs/medusa ]]; then
  step "npm ci skipped: $DIR/node_modules is there"
else
  step "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
step "npm ci took $(($(date +%s) - s))s"
MEDUSA=$DIR/node_modules/.bin/medusa
s=$(date +%s)
"$MEDUSA" db:migrate >"$DIR/migrate.log" 2>&1 || { tail -40 "$DIR/migrate.log" >&2; exit 1; }
step "db:migrate took $(($(date +%s) - s))s"
# The password goes on the command line of this local, short-lived process only.
"$MEDUSA" user -e "$EMAIL" -p "$PASSWORD" >"$DIR/user.log" 2>&1 || { tail -20 "$DIR/user.log" >&2; exit 1; }

# ---- start, in a process group of its own so `down` stops all of it ----
s=$(date +%s)
setsid "$MEDUSA" start -H 127.0.0.1 -p "$PORT" >"$DIR/medusa.log" 2>&1 </dev/null &
echo $! >"$DIR/medusa.pgid"
up=0
for _ in $(seq 1 240); do
  if curl -fs -o /dev/null "http://127.0.0.1:$PORT/health"; then up=1; break; fi
  kill -0 "$(cat "$DIR/medusa.pgid")" 2>/dev/null || break
  sleep 0.5
done
if ((up == 0)); then
  step "medusa did not answer /health; its log:"
  tail -50 "$DIR/medusa.log" >&2
  exit 1
fi
step "start to /health took $(($(date +%s) - s))s"

# ---- seed ----
B="http://127.0.0.1:$PORT"
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s);const r=eval("v"+process.argv[1]);if(r===undefined){process.exit(3)};console.log(r)})' "$1"; }
TOKEN=$(curl -sS --fail-with-body -X POST "$B/auth/user/emailpass" -H 'content-type: application/json' \
  -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" | json .token)
api() {
  curl -sS --fail-with-body -X "$1" "$B$2" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' ${3:+-d "$3"}
}
LOC=$(api POST /admin/stock-locations '{"name":"invsync IT"}' | json .stock_location.id)
variant() {
  printf '{"title":"%s","sku":"IT-TEE-%s","manage_inventory":true,"options":{"Size":"%s"},"prices":[{"currency_code":"usd","amount":10}]}' "$1" "$1" "$1"
}
api POST /admin/products "{\"title\":\"IT Tee\",\"status\":\"published\",
  \"options\":[{\"title\":\"Size\",\"values\":[\"S\",\"M\",\"L\"]}],
  \"variants\":[$(variant S),$(variant M),$(variant L)]}" >/dev/null
for sku in IT-TEE-S IT-TEE-M IT-TEE-L; do
  ID=$(api GET "/admin/inventory-items?sku=$sku&fields=id" | json '.inventory_items[0].id')
  api POST "/admin/inventory-items/$ID/location-levels" \
    "{\"location_id\":\"$LOC\",\"stocked_quantity\":10}" >/dev/null
done
step "seeded: 3 variants at $LOC"

# The password reaches the tests through the environment only ("env:MEDUSA_PASSWORD").
cat <<ENV
export MEDUSA_URL=$B/
export MEDUSA_EMAIL=$EMAIL
export MEDUSA_PASSWORD=$PASSWORD
export MEDUSA_LOCATION_ID=$LOC
export MEDUSA_SKUS=IT-TEE-S,IT-TEE-M,IT-TEE-L
ENV
