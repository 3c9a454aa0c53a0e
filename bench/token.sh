#!/usr/bin/env bash
# `devauth token` with a valid cached token — the path scripts call in loops —
# against `gh auth token` (Debian's gh, GH_TOKEN set), whole-process wall time
# (hyperfine) and peak memory (GNU time, max RSS); in the same run, the git
# credential helper and the kubectl exec plugin (`devauth git-credential get`,
# `devauth kubectl-credential`) against `gh auth git-credential get`.
#
#   bash bench/token.sh           # release build, 300 runs each
#   RUNS=1000 bash bench/token.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-300}
DEVAUTH=${DEVAUTH:-}
if [ -z "$DEVAUTH" ]; then
  cargo build --release -q -p devauth
  DEVAUTH="$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)/devauth"
fi
for tool in hyperfine gh /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install hyperfine gh time)" >&2; exit 1; }
done

home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export DEVAUTH_HOME="$home" DEVAUTH_STORE=file
# A stored credential valid for a day, as `login --with-token` keeps it (CI path).
printf '{"access_token":"bench-%s","token_type":"Bearer","expires_in":86400}' "$RANDOM$RANDOM" \
  | "$DEVAUTH" login --with-token >/dev/null 2>&1
"$DEVAUTH" token >/dev/null

export GH_TOKEN="gho_bench$RANDOM$RANDOM" GH_CONFIG_DIR="$home/gh"
gh auth token >/dev/null

echo "machine: $(nproc) cores, $(free -g | awk '/^Mem/ {print $2}') GiB, $(uname -sr); $("$DEVAUTH" --version); $(gh --version | head -1)"
echo
# Every command reads the same git credential request on stdin (git sends
# one to a helper; the others ignore it). hyperfine 1.15 has no --input, so
# the commands run through sh, whose start-up hyperfine measures and
# subtracts; it is the same for every command.
req="$home/request"
printf 'protocol=https\nhost=github.com\n\n' >"$req"
hyperfine --warmup 20 --runs "$RUNS" --export-markdown "$home/h.md" \
  "$DEVAUTH token <$req" "gh auth token <$req" \
  "$DEVAUTH git-credential get <$req" "gh auth git-credential get <$req" \
  "$DEVAUTH kubectl-credential <$req" >/dev/null
cat "$home/h.md"
echo
peak() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }
echo "| command | peak RSS (KiB) |"
echo "|---|---|"
echo "| devauth token | $(peak "$DEVAUTH" token) |"
echo "| gh auth token | $(peak gh auth token) |"
