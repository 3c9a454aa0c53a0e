#!/bin/sh
# Redis memory per pending device authorization (issue 4 target: < 1 KiB).
# Starts a private, empty redis-server on a spare loopback port (the shared one
# on 6379 is never touched), runs the redis_memory example against it with
# 100,000 pending authorizations (or $1), prints the figures and stops the server.
#
# Usage: bench/redis-memory.sh [COUNT]
set -eu
cd "$(dirname "$0")/.."
COUNT="${1:-100000}"
REDIS_SERVER="${REDIS_SERVER:-/usr/bin/redis-server}"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"

cargo build --release -q -p devauth-server --example redis_memory

"$REDIS_SERVER" --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize no --loglevel warning >/dev/null 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true' EXIT INT TERM

i=0
until redis-cli -p "$PORT" ping >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -lt 100 ] || { echo "redis-server did not start" >&2; exit 1; }
    sleep 0.05
done

echo "redis-server $("$REDIS_SERVER" --version | sed 's/.*v=\([^ ]*\).*/\1/') on 127.0.0.1:$PORT"
"${CARGO_TARGET_DIR:-target}/release/examples/redis_memory" "redis://127.0.0.1:$PORT/" "$COUNT"
