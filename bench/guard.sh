#!/usr/bin/env bash
# What `devauth guard` costs: requests per second and latency to a trivial
# upstream (crates/guard/examples/upstream.rs), directly and through the
# guard with a valid bearer token (RS256, from a real `devauth serve`),
# alternating in the same run so both see the same machine.
#
#   bash bench/guard.sh                 # release build; 3 rounds of 10 s each way
#   ROUNDS=5 DURATION=20 bash bench/guard.sh
#
# wrk, the guard and the upstream share the machine's cores. A second pass
# with one connection (no queueing) gives the latency the guard adds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
cargo build --release -q -p devauth
cargo build --release -q -p devauth-guard --example upstream
bin="${CARGO_TARGET_DIR:-target}/release"
devauth="$bin/devauth"
upstream="$bin/examples/upstream"

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 1 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "timed out waiting for $2 in $1" >&2; cat "$1" >&2; exit 1; }

sp=$(free_port); up=$(free_port); gp=$(free_port)
resource="http://127.0.0.1:$gp/mcp"
"$devauth" admin --data-dir "$work/srv" resource add "$resource" --scope mcp:tools >/dev/null 2>&1
secret=$("$devauth" admin --data-dir "$work/srv" client add bench --name Bench --grant client_credentials 2>/dev/null)
DEVAUTH_LOG=warn "$devauth" serve --listen "127.0.0.1:$sp" --data-dir "$work/srv" --access-token-ttl 3600 2>"$work/serve.log" &
pids+=($!)
wait_for "$work/serve.log" "listening on"
"$upstream" "127.0.0.1:$up" 2>"$work/upstream.log" &
pids+=($!)
wait_for "$work/upstream.log" "listening"
DEVAUTH_LOG=warn "$devauth" guard --listen "127.0.0.1:$gp" --upstream "http://127.0.0.1:$up/mcp" \
  --issuer "http://127.0.0.1:$sp" --resource "$resource" --scope mcp:tools \
  --forward-user-header X-Auth-User 2>"$work/guard.log" &
pids+=($!)
wait_for "$work/guard.log" "listening on"
token=$(curl -s -u "bench:$secret" -d grant_type=client_credentials -d scope=mcp:tools \
  --data-urlencode "resource=$resource" "http://127.0.0.1:$sp/oauth/token" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$gp/mcp")
[ "$code" = 200 ] || { echo "the guard answered $code to a valid token" >&2; cat "$work/guard.log" >&2; exit 1; }

echo "machine: $(nproc) cores, $(free -g | awk '/^Mem/ {print $2}') GiB, $(uname -sr); $("$devauth" --version)"
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency, $ROUNDS rounds alternating"
echo
run() { wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" 2>&1; }
summary() {
  awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {printf "%s req/s, p50 %s, p99 %s", rps, p50, p99}'
}
echo "| round | direct | through the guard |"
echo "|---|---|---|"
for r in $(seq 1 "$ROUNDS"); do
  d=$(run "http://127.0.0.1:$up/mcp" | summary)
  g=$(run -H "Authorization: Bearer $token" "http://127.0.0.1:$gp/mcp" | summary)
  echo "| $r | $d | $g |"
done

echo
echo "One connection (wrk -t1 -c1), latency the guard adds:"
echo
echo "| round | direct | through the guard |"
echo "|---|---|---|"
for r in $(seq 1 "$ROUNDS"); do
  d=$(wrk -t1 -c1 -d"${DURATION}s" --latency "http://127.0.0.1:$up/mcp" 2>&1 | summary)
  g=$(wrk -t1 -c1 -d"${DURATION}s" --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$gp/mcp" 2>&1 | summary)
  echo "| $r | $d | $g |"
done
