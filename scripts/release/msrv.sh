#!/usr/bin/env bash
# Checks the MSRV we declare against the dependencies we ship with: fails when our
# `rust-version` is lower than the highest `rust-version` of a crate in the locked
# non-dev dependency tree (normal and build dependencies, all platforms), for the default
# features and for the async build. No old toolchain is needed; clippy's
# `incompatible_msrv` (Cargo.toml [lints]) covers our own use of std.
#
#   scripts/release/msrv.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

check() {
    local label="$1"; shift
    # --locked: the versions Cargo.lock pins, as the packaged crate's verification uses.
    cargo metadata --quiet --format-version 1 --locked "$@" \
        | python3 -c '
import json, sys

label = sys.argv[1]
meta = json.load(sys.stdin)
packages = {p["id"]: p for p in meta["packages"]}
root = next(p for p in meta["packages"] if p["name"] == "openai-compatible")
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}

def version_key(v):
    return tuple(int(x) for x in (v.split(".") + ["0", "0"])[:3])

# Walk normal and build edges only: dev-dependencies never reach a user of the crate.
seen, todo = set(), [root["id"]]
while todo:
    pid = todo.pop()
    if pid in seen:
        continue
    seen.add(pid)
    for dep in nodes[pid]["deps"]:
        if any(k["kind"] in (None, "build") for k in dep["dep_kinds"]):
            todo.append(dep["pkg"])
seen.discard(root["id"])

ours = root["rust_version"]
declared = sorted(
    ((packages[p]["rust_version"], packages[p]["name"], packages[p]["version"])
     for p in seen if packages[p].get("rust_version")),
    key=lambda t: (tuple(-x for x in version_key(t[0])), t[1]))
undeclared = len(seen) - len(declared)
top, name, version = declared[0]
others = ", ".join(f"{n} {v} ({r})" for r, n, v in declared[1:4])
print(f"msrv ({label}): ours {ours}; {len(seen)} crates, highest {top} ({name} {version}); "
      f"next {others}; {undeclared} declare none")
if version_key(ours) < version_key(top):
    print(f"msrv ({label}): FAIL: rust-version {ours} is lower than {name} {version} needs "
          f"({top}). Hold it back in Cargo.lock: CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback "
          f"cargo update -p {name} (and the crates it comes with), or raise rust-version, in a "
          f"minor release only", file=sys.stderr)
    sys.exit(1)
' "$label"
}

status=0
check "default features" || status=1
check "async" --features async || status=1
exit "$status"
