#!/usr/bin/env bash
# Benchmark: one `devauth agent --once` pass over N adopted profiles that all
# need a refresh, against the local refresh server (127.0.0.1 only).
#
#   bench/agent.sh                 # N=10000, --concurrency 10, mode own
#   N=1000 CONCURRENCY=32 MODE=follow bench/agent.sh
#
# Setup (not timed as the pass): N AWS SSO cache files whose access tokens
# expire in 60 s, imported with `devauth import aws-sso --all`. Then the pass
# is timed with /usr/bin/time; the server's counters confirm one request per
# profile and no refresh token used twice.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-10000}
CONCURRENCY=${CONCURRENCY:-10}
MODE=${MODE:-own}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}

cargo build --release -q -p devauth
cargo build --release -q -p devauth-import --example refresh_server
bin="$CARGO_TARGET_DIR/release/devauth"
server_bin="$CARGO_TARGET_DIR/release/examples/refresh_server"

work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$server_bin" >"$work/server.url" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 50); do [ -s "$work/server.url" ] && break; sleep 0.1; done
url=$(head -1 "$work/server.url")

cache="$work/sso-cache"
mkdir -p "$cache"
expires=$(date -u -d '+60 sec' +%Y-%m-%dT%H:%M:%SZ)
registration=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
for i in $(seq -w 1 "$N"); do
  printf '{"startUrl":"https://b%s.awsapps.com/start","region":"us-east-1","accessToken":"at.b%s.0","expiresAt":"%s","clientId":"client","clientSecret":"secret","registrationExpiresAt":"%s","refreshToken":"ok.b%s.0"}' \
    "$i" "$i" "$expires" "$registration" "$i" >"$cache/b$i.json"
done

export DEVAUTH_HOME="$work/devauth" AWS_ENDPOINT_URL_SSO_OIDC="$url"
start=$(date +%s.%N)
"$bin" import aws-sso --all --cache-dir "$cache" --mode "$MODE" 2>"$work/import.log"
import_s=$(echo "$(date +%s.%N) - $start" | bc)
echo "import of $N logins: ${import_s} s"

echo "+ devauth agent --once --concurrency $CONCURRENCY  ($N profiles, mode $MODE)"
/usr/bin/time -f 'wall %e s, max RSS %M KiB' \
  "$bin" agent --once --concurrency "$CONCURRENCY" || true
sleep 1.2
tail -1 "$work/server.log"
