#!/usr/bin/env bash
# Proves the crate as it would be published builds and passes its doctests in both modes:
# `cargo package` (the file list, then its own verification build of the default
# features), then, inside the unpacked .crate, the doctests of the blocking build and the
# async build's library and doctests. The tests, examples and benches are not shipped (see
# `include` in Cargo.toml), so the doctests, README's included, are what runs there.
#
#   scripts/release/package.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

# One target dir for the repository's builds and the unpacked crate's: the dependencies
# are built once.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

name=openai-compatible
version="$(cargo metadata --quiet --format-version 1 --no-deps --locked \
    | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "'"$name"'"))')"

# `-p`: the library is the only crate that ships; the tests package (tests/Cargo.toml,
# `publish = false`) is a default member too, and a bare `cargo package` would pack it.
pkg=(-p "$name")

# What would ship: the documents the code cites and the README its doctests compile, and
# none of the repository's test data, examples, benches, fuzz corpora or scripts.
list="$(cargo package "${pkg[@]}" --quiet --list --allow-dirty --locked)"
for required in Cargo.toml Cargo.lock README.md CHANGELOG.md LICENSE-MIT LICENSE-APACHE \
    docs/SPEC.md docs/RESPONSES.md src/lib.rs; do
    grep -qxF "$required" <<<"$list" || { echo "package.sh: $required is not in the package" >&2; exit 1; }
done
if unwanted="$(grep -E '^(tests|examples|benches|fuzz|scripts|target)/|^\.ci/' <<<"$list")"; then
    echo "package.sh: the package would ship files it must not:" >&2
    echo "$unwanted" >&2
    exit 1
fi
echo "package: $(wc -l <<<"$list") files"

# --allow-dirty: CI and developers run this on uncommitted trees too. Cargo's own
# verification builds the unpacked crate with the default features.
cargo package "${pkg[@]}" --quiet --allow-dirty --locked
crate="$CARGO_TARGET_DIR/package/$name-$version.crate"
echo "package: $(du -k "$crate" | cut -f1) KiB compressed"

# Unpacked outside the repository: inside it, cargo would take the repository's
# [workspace] for the crate's.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar -xzf "$crate" -C "$work"
cd "$work/$name-$version"

echo "package: doctests, blocking build"
cargo test --quiet --locked --doc
echo "package: build and doctests, async build"
cargo build --quiet --locked --features async
cargo test --quiet --locked --doc --features async
