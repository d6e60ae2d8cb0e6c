#!/usr/bin/env bash
# Sets up a real Medusa v2 on loopback for `cargo test --features medusa-it --test medusa_it`:
# PostgreSQL from Debian on 127.0.0.1 only, @medusajs/medusa 2.x from the npm registry in a
# minimal project written here (create-medusa-app clones from the internet: not used), the
# schema migrated, an admin user, `medusa start` on 127.0.0.1:$MEDUSA_PORT, and a seeded
# product with variants and a stock location. Prints `export …` lines for the test; timings go
# to stderr. Nothing listens beyond 127.0.0.1. Usage: eval "$(tests/medusa/setup.sh)"
set -euo pipefail
t0=$(date +%s)
step() { echo "[medusa-setup] $(( $(date +%s) - t0 ))s: $*" >&2; }

DIR=${MEDUSA_DIR:-$(mktemp -d /tmp/invsync-medusa.XXXXXX)}
PORT=${MEDUSA_PORT:-9123}
PGVER=${PGVER:-15}
EMAIL=admin@invsync.test
PASSWORD=${MEDUSA_ADMIN_PASSWORD:-$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')}
DBPASS=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')

if ! command -v pg_ctlcluster >/dev/null; then
  step "installing postgresql"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
conf=/etc/postgresql/$PGVER/main/postgresql.conf
sed -i "s/^#\?listen_addresses.*/listen_addresses = '127.0.0.1'/" "$conf"
pg_ctlcluster "$PGVER" main start 2>/dev/null || pg_ctlcluster "$PGVER" main restart
step "postgresql up"
su postgres -c "psql -qc \"DROP DATABASE IF EXISTS invsync_medusa\"" >&2
su postgres -c "psql -qc \"DROP ROLE IF EXISTS invsync\"" >&2
su postgres -c "psql -qc \"CREATE ROLE invsync LOGIN PASSWORD '$DBPASS'\"" >&2
su postgres -c "psql -qc \"CREATE DATABASE invsync_medusa OWNER invsync\"" >&2

cd "$DIR"
cat > package.json <<JSON
{ "name": "invsync-medusa-it", "private": true, "version": "0.0.0",
  "dependencies": {
    "@medusajs/medusa": "~2.21.0", "@medusajs/framework": "~2.21.0", "@medusajs/cli": "~2.21.0",
    "pg": "^8", "typescript": "^5", "ts-node": "^10", "@swc/core": "^1" } }
JSON
cat > medusa-config.ts <<TS
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
cat > tsconfig.json <<JSON
{ "compilerOptions": { "target": "ES2021", "module": "Node16", "moduleResolution": "Node16",
  "esModuleInterop": true, "skipLibCheck": true } }
JSON
export DATABASE_URL="postgres://invsync:$DBPASS@127.0.0.1:5432/invsync_medusa"
export JWT_SECRET=$(head -c 24 /dev/urandom | base64) COOKIE_SECRET=$(head -c 24 /dev/urandom | base64)
export NODE_ENV=development
step "npm install"
npm install --no-audit --no-fund --loglevel=error >&2
step "migrating"
npx medusa db:migrate >&2
npx medusa user -e "$EMAIL" -p "$PASSWORD" >&2
step "starting medusa on 127.0.0.1:$PORT"
nohup npx medusa start -H 127.0.0.1 -p "$PORT" > "$DIR/medusa.log" 2>&1 &
echo $! > "$DIR/medusa.pid"
for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break
  sleep 1
done
curl -fs "http://127.0.0.1:$PORT/health" >/dev/null || { step "medusa did not start"; tail -50 "$DIR/medusa.log" >&2; exit 1; }
step "medusa up; seeding"
B="http://127.0.0.1:$PORT"
TOKEN=$(curl -fs -X POST "$B/auth/user/emailpass" -H 'content-type: application/json' \
  -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" | node -pe 'JSON.parse(require("fs").readFileSync(0)).token')
api() { curl -fs -X "$1" "$B$2" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' ${3:+-d "$3"}; }
LOC=$(api POST /admin/stock-locations '{"name":"Main"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).stock_location.id')
api POST /admin/products '{"title":"IT Tee","status":"published","options":[{"title":"Size","values":["S","M","L"]}],
  "variants":[{"title":"S","sku":"IT-TEE-S","manage_inventory":true,"options":{"Size":"S"},"prices":[{"currency_code":"usd","amount":10}]},
              {"title":"M","sku":"IT-TEE-M","manage_inventory":true,"options":{"Size":"M"},"prices":[{"currency_code":"usd","amount":10}]},
              {"title":"L","sku":"IT-TEE-L","manage_inventory":true,"options":{"Size":"L"},"prices":[{"currency_code":"usd","amount":10}]}]}' >/dev/null
for sku in IT-TEE-S IT-TEE-M IT-TEE-L; do
  ID=$(api GET "/admin/inventory-items?sku=$sku&fields=id" | node -pe 'JSON.parse(require("fs").readFileSync(0)).inventory_items[0].id')
  api POST "/admin/inventory-items/$ID/location-levels" "{\"location_id\":\"$LOC\",\"stocked_quantity\":10}" >/dev/null
done
step "seeded"
# The password goes through the environment only; the test reads it with "env:MEDUSA_PASSWORD".
cat <<ENV
export MEDUSA_URL=$B/
export MEDUSA_EMAIL=$EMAIL
export MEDUSA_PASSWORD=$PASSWORD
export MEDUSA_LOCATION_ID=$LOC
export MEDUSA_SKUS=IT-TEE-S,IT-TEE-M,IT-TEE-L
export MEDUSA_DIR=$DIR
ENV
