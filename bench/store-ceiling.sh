#!/usr/bin/env bash
# The ceiling the durable SQLite store puts on bench/load.sh: the store alone
# (no HTTP, no load generator, the machine to itself) serving the two hot
# paths with 32 requests in flight, as wrk's connections do.
#
#   bash bench/store-ceiling.sh            # release build, 10 s per mode
#   SECONDS_PER_MODE=5 bash bench/store-ceiling.sh
#
# Prints one line per mode (operations per second, CPU cores used, CPU time
# per operation); docs/benchmarks.md explains how to read them against the
# load benchmark. The database lives in a temp folder on the same disk as
# the repository (not tmpfs), as `devauth serve`'s data dir would.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_MODE=${SECONDS_PER_MODE:-10}
cargo build --release -q -p devauth-server --example store_ceiling
bin="${CARGO_TARGET_DIR:-target}/release/examples/store_ceiling"
work=$(mktemp -d -p "$PWD" .store-ceiling.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, $(free -g | awk '/^Mem/ {print $2}') GiB, $(uname -sr)"
for mode in create create-bare poll; do
  "$bin" "$mode" "$work/$mode" "$SECONDS_PER_MODE"
done
