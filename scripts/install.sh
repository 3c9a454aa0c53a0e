#!/usr/bin/env bash
# Builds devauth from this checkout, installs the binary, prepares the
# credential folder (mode 0700) and checks the result with `devauth --version`.
#
#   scripts/install.sh [--prefix DIR] [--debug]
#
#   --prefix DIR   install DIR/bin/devauth (default: $PREFIX or ~/.local)
#   --debug        a debug build (faster to compile, slower to run)
#
# The credential folder is $DEVAUTH_HOME when set, else
# ${XDG_DATA_HOME:-~/.local/share}/devauth — the same rule devauth follows.
# Nothing is downloaded except crates by cargo; nothing runs as root unless
# you run this script as root.
set -euo pipefail

prefix="${PREFIX:-$HOME/.local}"
profile=release
while (($#)); do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --debug) profile=debug; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "install.sh: cargo is not installed; get Rust from https://rustup.rs" >&2; exit 1; }

echo "== building devauth ($profile)"
if [ "$profile" = release ]; then
  cargo build --locked --release -p devauth
else
  cargo build --locked -p devauth
fi
target="${CARGO_TARGET_DIR:-target}"
bin="$target/$profile/devauth"
[ -x "$bin" ] || { echo "install.sh: build produced no $bin" >&2; exit 1; }

echo "== installing $prefix/bin/devauth"
install -d -m 0755 "$prefix/bin"
install -m 0755 "$bin" "$prefix/bin/devauth"

home="${DEVAUTH_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/devauth}"
echo "== preparing $home (0700)"
install -d -m 0700 "$home" "$home/profiles"
chmod 0700 "$home" "$home/profiles"

echo "== checking"
"$prefix/bin/devauth" --version
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "note: $prefix/bin is not on your PATH; add it, e.g. echo 'export PATH=\"$prefix/bin:\$PATH\"' >> ~/.profile" ;;
esac
echo "done: run 'devauth login --issuer https://your-issuer' to log in."
