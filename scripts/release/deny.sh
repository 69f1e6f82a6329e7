#!/usr/bin/env bash
# The dependency policy of deny.toml, checked by cargo-deny (built once per machine by
# tools.sh):
#
#   scripts/release/deny.sh
#
# bans, licenses and sources need only crates.io and fail on any violation. advisories
# needs the RustSec advisory database, a git repository on GitHub, which these machines
# cannot reach: it runs, offline, when a copy is already on the machine — cargo-deny's own
# ($CARGO_HOME/advisory-dbs/advisory-db-…), or a checkout named by ADVISORY_DB — and is
# otherwise skipped with one line saying so. A copy must be a git clone (cargo-deny reads
# its fetch time) and at most 90 days old.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

deny="$(scripts/release/tools.sh cargo-deny)"

"$deny" --locked check --hide-inclusion-graph bans licenses sources

# Where cargo-deny opens the database: it names the folder after a hash of the URL, so ask
# it (its debug log says) rather than guess.
config=()
if [ -n "${ADVISORY_DB:-}" ]; then
    if [ ! -d "$ADVISORY_DB/crates" ] || [ ! -e "$ADVISORY_DB/.git" ]; then
        echo "deny.sh: ADVISORY_DB=$ADVISORY_DB is not a git checkout of the RustSec advisory-db (no crates/ or .git)" >&2
        exit 1
    fi
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    sed "s|^db-path = .*|db-path = \"$tmp/advisory-dbs\"|" deny.toml >"$tmp/deny.toml"
    config=(--config "$tmp/deny.toml")
fi
db="$("$deny" -L debug --offline --locked "${config[@]}" check advisories 2>&1 \
    | sed -n "s/.*Opening advisory database at '\(.*\)'.*/\1/p" | head -n 1)" || true
if [ -z "$db" ]; then
    echo "deny.sh: could not tell where cargo-deny keeps its advisory database" >&2
    exit 1
fi
if [ -n "${ADVISORY_DB:-}" ]; then
    mkdir -p "$(dirname "$db")"
    ln -sfn "$(cd "$ADVISORY_DB" && pwd)" "$db"
fi

if [ -e "$db/.git" ]; then
    "$deny" --offline --locked "${config[@]}" check --hide-inclusion-graph advisories
else
    echo "advisories SKIPPED: no RustSec advisory database at $db (it comes from GitHub, which this machine cannot reach; set ADVISORY_DB to a git checkout of rustsec/advisory-db to run the check)"
fi
