#!/usr/bin/env bash
# Every check, as CI runs it: formatting, clippy and the tests in both builds (blocking and
# async, real llama.cpp server included), and the docs with warnings denied.
#
#   scripts/test.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

step() { printf '\n==> %s\n' "$*"; }

# Formatting and lints need these components; a fresh machine may lack one.
for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" \
        || rustup component add "$component"
done

# The real server for the integration tests (stopped again on exit if we started it).
started_server=0
if ! scripts/server/server.sh status >/dev/null 2>&1; then
    step "starting the local llama.cpp server"
    scripts/server/server.sh start >/dev/null
    started_server=1
fi
cleanup() { [ "$started_server" = 1 ] && scripts/server/server.sh stop >/dev/null 2>&1 || true; }
trap cleanup EXIT

step "rustfmt"
cargo fmt --all -- --check

step "clippy (blocking)"
cargo clippy --all-targets -- -D warnings
step "clippy (async)"
cargo clippy --all-targets --features async -- -D warnings
step "clippy (blocking, without the default features: no tokens, no schema)"
cargo clippy --no-default-features --features blocking --all-targets -- -D warnings

step "tests (blocking)"
cargo test
step "tests (async)"
cargo test --features async

# The real-server tests are #[ignore]d (a plain `cargo test` needs no Python): run them here.
step "real-server tests (both builds)"
cargo test --test suite -- --ignored real_server::
cargo test --test suite --features async -- --ignored real_server::

step "examples against the real server (both builds)"
scripts/examples.sh

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --features async

# Release checks (scripts/release/): the dependency policy, the MSRV against the locked
# dependencies, and the crate as it would be published, in both builds.
step "dependency policy (cargo-deny; its first build on a machine takes 3 to 5 minutes)"
scripts/release/deny.sh
step "MSRV against the locked dependency tree"
scripts/release/msrv.sh
step "the packaged crate: cargo package, then its doctests in both builds"
scripts/release/package.sh

step "all checks passed"
