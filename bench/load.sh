#!/usr/bin/env bash
# Load benchmark of the server's two hot paths — polling a pending device code,
# and creating device authorizations — for devauth serve (durable SQLite store)
# and, as the reference, panva's oidc-provider (npm) on the same machine.
#
#   bash bench/load.sh            # release build, 10 s per run, 2 threads, 32 connections
#   DURATION=30s CONNS=64 bash bench/load.sh
#   DEVAUTH_DATABASE_URL=postgres://... DEVAUTH_REDIS_URL=redis://... bash bench/load.sh
#
# Needs wrk (Debian) and node with `npm ci` done. Prints a markdown table for
# docs/benchmarks.md. Only 127.0.0.1 is ever targeted.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
CODES=${CODES:-64}
DEVAUTH=${DEVAUTH:-}
if [ -z "$DEVAUTH" ]; then
  cargo build --release -q -p devauth
  DEVAUTH="${CARGO_TARGET_DIR:-target}/release/devauth"
fi
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "nothing listens on $1" >&2; return 1; }

# make_lua OUT PATH BODY_PREFIX [CODES_FILE]: a wrk script POSTing forms,
# rotating over the device codes in CODES_FILE when given.
make_lua() {
  local out=$1 path=$2 body=$3 codes=${4:-}
  {
    echo 'local codes = {'
    if [ -n "$codes" ]; then sed 's/.*/  "&",/' "$codes"; fi
    echo '}'
    echo 'local i = 0'
    echo 'request = function()'
    echo '  i = i + 1'
    echo "  local body = \"$body\""
    echo '  if #codes > 0 then body = body .. codes[(i % #codes) + 1] end'
    echo "  return wrk.format(\"POST\", \"$path\", {[\"Content-Type\"] = \"application/x-www-form-urlencoded\"}, body)"
    echo 'end'
  } > "$out"
}

# run_wrk NAME LUA URL: prints "NAME | req/s | p50 | p99"
run_wrk() {
  local name=$1 lua=$2 url=$3 out
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$lua" "$url")
  local rps p50 p99
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  if grep -q 'Non-2xx' <<<"$out"; then :; fi
  printf '| %s | %s | %s | %s |\n' "$name" "$rps" "$p50" "$p99"
}

# seed_codes URL CLIENT OUT: create $CODES pending device codes
seed_codes() {
  local url=$1 client=$2 out=$3
  for _ in $(seq 1 "$CODES"); do
    curl -sf -d "client_id=$client" "$url" | python3 -c 'import json,sys,urllib.parse; print(urllib.parse.quote(json.load(sys.stdin)["device_code"], safe=""))'
  done > "$out"
}

GRANT='grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code'

# --- devauth serve --------------------------------------------------------------
dport=$(free_port)
"$DEVAUTH" serve --listen "127.0.0.1:$dport" --data-dir "$work/devauth" --device-rate-limit 0 \
  >"$work/devauth.log" 2>&1 &
pids+=($!)
wait_port "$dport"
backend="sqlite"
[ -n "${DEVAUTH_DATABASE_URL:-}" ] && backend="postgres"
[ -n "${DEVAUTH_REDIS_URL:-}" ] && backend="$backend+redis"
seed_codes "http://127.0.0.1:$dport/oauth/device_authorization" devauth-cli "$work/dcodes"
make_lua "$work/d-poll.lua" /oauth/token "$GRANT&client_id=devauth-cli&device_code=" "$work/dcodes"
make_lua "$work/d-auth.lua" /oauth/device_authorization "client_id=devauth-cli"

# --- oidc-provider (reference) --------------------------------------------------
oport=$(free_port)
node bench/oidc-provider-ref.mjs "$oport" >"$work/op.log" 2>&1 &
pids+=($!)
wait_port "$oport"
seed_codes "http://127.0.0.1:$oport/device/auth" bench "$work/ocodes"
make_lua "$work/o-poll.lua" /token "$GRANT&client_id=bench&device_code=" "$work/ocodes"
make_lua "$work/o-auth.lua" /device/auth "client_id=bench"

echo "machine: $(nproc) cores, $(free -g | awk '/^Mem/ {print $2}') GiB, $(uname -sr); wrk -t$THREADS -c$CONNS -d$DURATION"
echo
echo '| server / path | requests/s | p50 | p99 |'
echo '|---|---|---|---|'
run_wrk "devauth ($backend) poll pending" "$work/d-poll.lua" "http://127.0.0.1:$dport"
run_wrk "oidc-provider poll pending" "$work/o-poll.lua" "http://127.0.0.1:$oport"
run_wrk "devauth ($backend) device authorization" "$work/d-auth.lua" "http://127.0.0.1:$dport"
run_wrk "oidc-provider device authorization" "$work/o-auth.lua" "http://127.0.0.1:$oport"
# Context: the HTTP stack alone (a GET of the discovery document, no store).
echo 'request = function() return wrk.format("GET", "/.well-known/openid-configuration") end' >"$work/d-disc.lua"
run_wrk "devauth discovery document (HTTP stack, no store)" "$work/d-disc.lua" "http://127.0.0.1:$dport"
