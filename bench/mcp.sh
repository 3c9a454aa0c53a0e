#!/usr/bin/env bash
# `devauth mcp proxy` side by side with mcp-remote (npm), the stdio bridge
# most MCP clients are told to use, against the same MCP server with the same
# valid token:
#
#   - start to first answer: process start → initialize → tools/list answered;
#   - memory: peak RSS of the bridge (and its child processes) after the calls;
#   - per call: sequential tools/call through the bridge, and the same calls
#     sent directly to the server over one kept-alive connection; the
#     difference is what the bridge adds.
#
# The server is the official MCP SDK's (tests/interop/mcp_sdk.mjs server)
# behind `devauth guard`, the token a real `devauth serve` token for that
# resource. devauth reads it from its profile store (a `--with-token` login,
# as a cached login would be); mcp-remote gets it with `--header`, its way to
# use a token it did not fetch itself. Rounds alternate so both bridges see
# the same machine.
#
#   bash bench/mcp.sh                          # 3 rounds, 10 starts and 500 calls each
#   ROUNDS=5 STARTS=20 CALLS=1000 bash bench/mcp.sh
#   DEVAUTH_BIN=target/debug/devauth ROUNDS=1 bash bench/mcp.sh   # a quick try, no release build
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
STARTS=${STARTS:-10}
export CALLS=${CALLS:-500}
MCP_REMOTE_VERSION=0.15.1

[ -d node_modules/@modelcontextprotocol/sdk ] || { echo "run npm ci first (the MCP SDK server)" >&2; exit 1; }
if [ -z "${DEVAUTH_BIN:-}" ]; then cargo build --release -q -p devauth; fi
devauth="${DEVAUTH_BIN:-${CARGO_TARGET_DIR:-target}/release/devauth}"
remote_dir="${CARGO_TARGET_DIR:-target}/bench-node"
remote="$remote_dir/node_modules/mcp-remote/dist/proxy.js"
if [ ! -f "$remote" ]; then
  npm install --prefix "$remote_dir" --no-audit --no-fund --loglevel=error "mcp-remote@$MCP_REMOTE_VERSION" >&2
fi

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 1 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "timed out waiting for $2 in $1" >&2; cat "$1" >&2; exit 1; }

sp=$(free_port); up=$(free_port); gp=$(free_port)
url="http://127.0.0.1:$gp/mcp"
"$devauth" admin --data-dir "$work/srv" resource add "$url" --scope mcp:tools >/dev/null 2>&1
secret=$("$devauth" admin --data-dir "$work/srv" client add bench --name Bench --grant client_credentials 2>/dev/null)
DEVAUTH_LOG=warn "$devauth" serve --listen "127.0.0.1:$sp" --data-dir "$work/srv" --access-token-ttl 3600 2>"$work/serve.log" &
pids+=($!)
wait_for "$work/serve.log" "listening on"
node tests/interop/mcp_sdk.mjs server "$up" 2>"$work/mcp.log" &
pids+=($!)
wait_for "$work/mcp.log" "mcp server listening"
DEVAUTH_LOG=warn "$devauth" guard --listen "127.0.0.1:$gp" --upstream "http://127.0.0.1:$up/mcp" \
  --issuer "http://127.0.0.1:$sp" --resource "$url" --scope mcp:tools \
  --forward-user-header X-Auth-User 2>"$work/guard.log" &
pids+=($!)
wait_for "$work/guard.log" "listening on"
reply=$(curl -s -u "bench:$secret" -d grant_type=client_credentials -d scope=mcp:tools \
  --data-urlencode "resource=$url" "http://127.0.0.1:$sp/oauth/token")
token=$(printf '%s' "$reply" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# devauth's cached login for the server: the profile `devauth mcp proxy URL` looks up.
export DEVAUTH_HOME="$work/home"
printf '%s' "$reply" | "$devauth" login --with-token --profile "mcp-127.0.0.1-$gp" >/dev/null 2>&1
# mcp-remote keeps its state under this folder; a fresh one per run.
export MCP_REMOTE_CONFIG_DIR="$work/mcp-remote"

devauth_bridge=("$devauth" mcp proxy "$url")
remote_bridge=(node "$remote" "$url" --header "Authorization:Bearer $token" --transport http-only --silent)

echo "machine: $(nproc) cores, $(free -g | awk '/^Mem/ {print $2}') GiB, $(uname -sr); $("$devauth" --version); node $(node --version); mcp-remote $MCP_REMOTE_VERSION"
echo "$ROUNDS rounds; each: $STARTS starts per bridge, then $CALLS calls (after 50 warm-up) per bridge and direct"
results="$work/results.jsonl"
for r in $(seq 1 "$ROUNDS"); do
  for s in $(seq 1 "$STARTS"); do
    printf '{"round":%s,"who":"devauth","kind":"start","r":%s}\n' "$r" "$(python3 bench/mcp_bridge.py start "$url" -- "${devauth_bridge[@]}")" >>"$results"
    printf '{"round":%s,"who":"mcp-remote","kind":"start","r":%s}\n' "$r" "$(python3 bench/mcp_bridge.py start "$url" -- "${remote_bridge[@]}")" >>"$results"
  done
  printf '{"round":%s,"who":"direct","kind":"calls","r":%s}\n' "$r" "$(python3 bench/mcp_bridge.py direct "$url" "$token")" >>"$results"
  printf '{"round":%s,"who":"devauth","kind":"calls","r":%s}\n' "$r" "$(python3 bench/mcp_bridge.py calls "$url" -- "${devauth_bridge[@]}")" >>"$results"
  printf '{"round":%s,"who":"mcp-remote","kind":"calls","r":%s}\n' "$r" "$(python3 bench/mcp_bridge.py calls "$url" -- "${remote_bridge[@]}")" >>"$results"
done

python3 - "$results" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rounds = sorted({r["round"] for r in rows})
def pick(rnd, who, kind):
    return [x["r"] for x in rows if x["round"] == rnd and x["who"] == who and x["kind"] == kind]
print()
print("| round | start→tools/list devauth | mcp-remote | ratio | peak RSS (private) devauth | mcp-remote | per call direct | devauth (added) | mcp-remote (added) | bridge CPU per call devauth | mcp-remote |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for rnd in rounds:
    sd = statistics.median(x["start_to_tools_list_ms"] for x in pick(rnd, "devauth", "start"))
    sr = statistics.median(x["start_to_tools_list_ms"] for x in pick(rnd, "mcp-remote", "start"))
    d = pick(rnd, "direct", "calls")[0]["median_ms"]
    cd = pick(rnd, "devauth", "calls")[0]
    cr = pick(rnd, "mcp-remote", "calls")[0]
    print(f"| {rnd} | {sd:.1f} ms | {sr:.1f} ms | {sr / sd:.1f}× | {cd['peak_rss_mib']:.1f} ({cd['private_mib']:.1f}) MiB | {cr['peak_rss_mib']:.1f} ({cr['private_mib']:.1f}) MiB "
          f"| {d:.3f} ms | {cd['median_ms']:.3f} ms (+{cd['median_ms'] - d:.3f}) | {cr['median_ms']:.3f} ms (+{cr['median_ms'] - d:.3f}) "
          f"| {cd['bridge_cpu_ms_per_call']:.3f} ms | {cr['bridge_cpu_ms_per_call']:.3f} ms |")
print()
print("start: median of the round's starts; per call: median of the calls; RSS: peak")
print("(VmHWM) of the bridge's processes, in brackets what of it is private to them.")
EOF
