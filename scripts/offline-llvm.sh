#!/usr/bin/env bash
# Lets `--features cuda` build without internet access (issue 18).
#
# burn's CUDA backend pulls in cubecl's LLVM crates, whose build script
# (tracel-llvm-bundler) downloads an LLVM bundle from GitHub unless its install directory
# already holds one: a `bin/llvm-config` and a sentinel file. This script installs Debian's
# LLVM (llvm-22-dev, libpolly-22-dev, libzstd-dev; from the distribution's mirror, not
# GitHub) and points the bundler's install directory at it with an `llvm-config` wrapper.
# The bundler then skips the download and links against Debian's static LLVM libraries.
#
# Online machines do not need this: without the sentinel the bundler downloads as usual.
# Caveat: the bundle is LLVM 23, Debian's is 22; cubecl's use of the LLVM C API links and
# builds with it (checked on this project's machines), which is all the CUDA backend needs
# LLVM for at build time.
#
# Usage: scripts/offline-llvm.sh            (idempotent; needs apt-get and root to install)
set -euo pipefail

LLVM_MAJOR=22
BUNDLE_VERSION=23.1.0-4 # tracel-llvm-bundler's TRACEL_LLVM_FULL_VERSION (Cargo.lock: 23.1.0-4)
LLVM_CONFIG="/usr/lib/llvm-${LLVM_MAJOR}/bin/llvm-config"

if [ ! -x "$LLVM_CONFIG" ]; then
  if ! command -v apt-get >/dev/null; then
    echo "error: $LLVM_CONFIG is missing and apt-get is not available" >&2
    exit 1
  fi
  apt-get update -qq
  apt-get install -y -qq "llvm-${LLVM_MAJOR}-dev" "libpolly-${LLVM_MAJOR}-dev" libzstd-dev >/dev/null
fi

# dirs::data_local_dir() on Linux: $XDG_DATA_HOME or ~/.local/share.
DATA_DIR="${XDG_DATA_HOME:-$HOME/.local/share}"
INSTALL_DIR="$DATA_DIR/tracel/tracel-llvm-${BUNDLE_VERSION}"
mkdir -p "$INSTALL_DIR/bin"
# Written beside, then installed only when it differs: the bundler's and llvm-sys's build
# scripts rerun when the sentinel or llvm-config changes, and with them every crate above
# them (all of burn's CUDA stack, ~30 min on 2 cores). An idempotent rerun must touch nothing.
WRAPPER_TMP=$(mktemp)
trap 'rm -f "$WRAPPER_TMP"' EXIT
cat > "$WRAPPER_TMP" <<'WRAPPER'
#!/bin/sh
# Debian's LLVM standing in for tracel's LLVM bundle (scripts/offline-llvm.sh). Debian's
# llvm-config lists some system libraries as absolute paths (`/usr/lib/.../libz3.so`), which
# the bundler would turn into `-llibz3`: rewrite them as `-lz3`.
out=$(LLVM_CONFIG_REAL "$@") || exit $?
printf '%s\n' "$out" | sed -E 's#(^| )/[^ ]*/lib([^ /]+)\.(so|a)(\.[0-9.]+)?( |$)#\1-l\2\5#g'
WRAPPER
sed -i "s#LLVM_CONFIG_REAL#$LLVM_CONFIG#" "$WRAPPER_TMP"
if ! cmp -s "$WRAPPER_TMP" "$INSTALL_DIR/bin/llvm-config"; then
  install -m 755 "$WRAPPER_TMP" "$INSTALL_DIR/bin/llvm-config.tmp"
  mv "$INSTALL_DIR/bin/llvm-config.tmp" "$INSTALL_DIR/bin/llvm-config"
fi
[ -e "$INSTALL_DIR/.tracel-llvm-installed" ] || touch "$INSTALL_DIR/.tracel-llvm-installed"
echo "LLVM for the cuda feature: $INSTALL_DIR -> $("$LLVM_CONFIG" --version)"
