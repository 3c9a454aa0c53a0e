#!/usr/bin/env bash
# What bounds bench/load.sh on this machine, measured without the network:
#  1. the durable SQLite store alone (no HTTP, no load generator, the machine
#     to itself) serving the two hot paths with 32 requests in flight, as
#     wrk's connections do (crates/server/examples/store_ceiling.rs);
#  2. the CPU time devauth's own code spends on one request (router, middleware,
#     form, client lookup, store read, answer), requests sent straight into the
#     router on one thread (crates/server/examples/router_cost.rs).
#
#   bash bench/ceiling.sh                  # release build, 10 s per store mode
#   SECONDS_PER_MODE=5 REQUESTS=50000 bash bench/ceiling.sh
#
# docs/benchmarks.md ("What bounds the load benchmark") explains how to read
# the lines against the load benchmark. The databases live in a temp folder on
# the same disk as the repository (not tmpfs), as `devauth serve`'s would.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_MODE=${SECONDS_PER_MODE:-10}
REQUESTS=${REQUESTS:-200000}
cargo build --release -q -p devauth-server --example store_ceiling --example router_cost
bin="${CARGO_TARGET_DIR:-target}/release/examples"
work=$(mktemp -d -p "$PWD" .ceiling.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, $(free -g | awk '/^Mem/ {print $2}') GiB, $(uname -sr)"
for mode in create create-bare poll; do
  "$bin/store_ceiling" "$mode" "$work/$mode" "$SECONDS_PER_MODE"
done
TMPDIR="$work" "$bin/router_cost" "$REQUESTS"
