#!/usr/bin/env bash
# Runs each fuzz target (fuzz/fuzz_targets/) for a bounded time with cargo
# fuzz (libFuzzer, nightly toolchain) and prints a summary line per target.
# Not part of CI. Usage: bash bench/fuzz.sh [SECONDS_PER_TARGET]   (default 120)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-120}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q nightly || { echo "needs a nightly toolchain" >&2; exit 2; }
echo "machine: $(nproc) cores, $(uname -sr); $(date -u +%F); $secs s per target"
for target in oauth_form page_form user_code bearer; do
  log=$(mktemp)
  if cargo +nightly fuzz run "$target" -- -max_total_time="$secs" -max_len=4096 >"$log" 2>&1; then
    runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | tail -1 || true)
    echo "$target: ok (${runs:-see $log}), no crash"
  else
    echo "$target: FAILED, see $log and fuzz/artifacts/$target/" >&2
    tail -30 "$log" >&2
    exit 1
  fi
  rm -f "$log"
done
