#!/usr/bin/env bash
# Installs the release tools the checks need, once per machine, and prints the path of the
# binary asked for:
#
#   scripts/release/tools.sh cargo-deny      # -> /root/.cache/openai-compatible/tools/bin/cargo-deny
#
# They go to a cache outside the work tree (TOOLS_ROOT, default
# ~/.cache/openai-compatible/tools) so that a fresh clone on the same machine, as CI's, finds
# them already built. Each tool is pinned: a cached binary of another version is rebuilt.
set -euo pipefail

TOOLS_ROOT="${TOOLS_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/openai-compatible/tools}"

tool="${1:?usage: tools.sh cargo-deny}"
case "$tool" in
    # 0.20.2 needs rustc 1.88; built from crates.io with its own lock file.
    cargo-deny) version=0.20.2 ;;
    *) echo "tools.sh: unknown tool '$tool'" >&2; exit 2 ;;
esac

bin="$TOOLS_ROOT/bin/$tool"
if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -qF " $version"; then
    echo "$bin"
    exit 0
fi

echo "==> building $tool $version into $TOOLS_ROOT (once per machine; 3 to 5 minutes on 2 cores)" >&2
build_dir="$(mktemp -d)"
trap 'rm -rf "$build_dir"' EXIT
# A target dir of its own: the caller's CARGO_TARGET_DIR holds the crate's builds.
cargo install --locked --quiet --root "$TOOLS_ROOT" --target-dir "$build_dir" \
    --version "=$version" "$tool" >&2
echo "$bin"
