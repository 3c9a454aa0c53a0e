#!/usr/bin/env bash
# Instructions per device authorization, counted by valgrind's callgrind:
# repeatable where wall-clock load runs (bench/load.sh) are not on a shared
# 2-core machine, so two builds can be compared for a regression.
#
#   bash bench/instructions.sh /tmp/devauth-before /tmp/devauth-after
#   N=2000 RUNS=3 bash bench/instructions.sh BIN...
#
# Each binary serves from a copy of a data folder it initialised once (keys
# made, so no key generation is counted); 100 requests warm it up with
# counting off, then callgrind counts N sequential `POST
# /oauth/device_authorization` over one keep-alive connection, every thread
# included (the SQLite writer, the checkpointer). Runs alternate between the
# binaries. Needs valgrind (Debian) and python3. Only 127.0.0.1 is targeted.
set -euo pipefail
N=${N:-2000}
RUNS=${RUNS:-2}
(($#)) || { echo "usage: bash bench/instructions.sh BIN [BIN...]" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }

work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cat >"$work/post.py" <<'PY'
import http.client, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
for _ in range(600):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120); c.connect(); break
    except OSError:
        time.sleep(0.1)
ok = 0
for _ in range(n):
    c.request("POST", "/oauth/device_authorization", body="client_id=devauth-cli",
              headers={"Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse(); r.read(); ok += r.status == 200
if ok != n:
    sys.exit(f"only {ok} of {n} requests answered 200")
PY

# One initialised data folder per binary (its own schema and keys).
i=0
for bin in "$@"; do
  i=$((i + 1))
  port=$(free_port)
  "$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/seed$i" --device-rate-limit 0 >/dev/null 2>&1 &
  pid=$!
  python3 "$work/post.py" "$port" 1
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
done

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr); valgrind $(valgrind --version); N=$N"
echo
echo '| run | binary | instructions per device authorization |'
echo '|---|---|---|'
for run in $(seq 1 "$RUNS"); do
  i=0
  for bin in "$@"; do
    i=$((i + 1))
    rm -rf "$work/data"; cp -r "$work/seed$i" "$work/data"
    port=$(free_port)
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/cg.out" \
      "$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/data" --device-rate-limit 0 \
      >"$work/serve.log" 2>&1 &
    pid=$!
    python3 "$work/post.py" "$port" 100
    callgrind_control -i on "$pid" >/dev/null 2>&1
    python3 "$work/post.py" "$port" "$N"
    callgrind_control -i off "$pid" >/dev/null 2>&1
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    total=$(awk '/^totals:/ {print $2; exit}' "$work/cg.out")
    printf '| %s | %s | %s |\n' "$run" "$bin" "$((total / N))"
  done
done
