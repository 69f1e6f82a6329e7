#!/usr/bin/env bash
# Every check, as CI runs it: formatting, clippy and the tests in both builds (blocking and
# async), the real-server tests and the examples against the local llama.cpp server both
# directly and through LiteLLM's proxy, and the docs with warnings denied. Ends with the
# time each stage took.
#
#   scripts/test.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

stage_names=()
stage_times=()
stage_start=$SECONDS
step() {
    stage_end
    stage_names+=("$*")
    printf '\n==> %s\n' "$*"
}
stage_end() {
    local n=${#stage_names[@]}
    if [ "$n" -gt "${#stage_times[@]}" ]; then
        stage_times+=($((SECONDS - stage_start)))
    fi
    stage_start=$SECONDS
}
summary() {
    stage_end
    printf '\nstage times (total %d s):\n' "$SECONDS"
    local i
    for i in "${!stage_times[@]}"; do
        printf '  %4d s  %s\n' "${stage_times[$i]}" "${stage_names[$i]}"
    done
}

# Formatting and lints need these components; a fresh machine may lack one.
for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" \
        || rustup component add "$component"
done

# The real server for the integration tests, and LiteLLM's proxy in front of it: each
# stopped again on exit if we started it.
started_server=0
started_proxy=0
passed=0
cleanup() {
    local rc=$? n=${#stage_names[@]}
    summary
    if [ "$passed" = 1 ]; then
        printf '\n==> all checks passed\n'
    elif [ "$n" -gt 0 ]; then
        printf '\n==> FAILED in stage "%s" (exit %d)\n' "${stage_names[$((n - 1))]}" "$rc"
    fi
    if [ "$started_proxy" = 1 ]; then scripts/litellm/proxy.sh stop >/dev/null 2>&1 || true; fi
    if [ "$started_server" = 1 ]; then scripts/server/server.sh stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
if ! scripts/server/server.sh status >/dev/null 2>&1; then
    step "starting the local llama.cpp server"
    scripts/server/server.sh start >/dev/null
    started_server=1
fi
if ! scripts/litellm/proxy.sh status >/dev/null 2>&1; then
    step "starting LiteLLM's proxy in front of it"
    scripts/litellm/proxy.sh start >/dev/null
    started_proxy=1
fi

step "rustfmt"
cargo fmt --all -- --check

step "clippy (blocking)"
cargo clippy --all-targets -- -D warnings
step "clippy (async)"
cargo clippy --all-targets --features async -- -D warnings
step "clippy (blocking, without the default features: no tokens, no schema)"
cargo clippy --no-default-features --features blocking --all-targets -- -D warnings

# At the root, `cargo test` runs both default members: the library's unit tests and
# doctests, and the integration tests of tests/ (their own package, tests/Cargo.toml).
step "tests (blocking)"
cargo test
step "tests (async)"
cargo test --features async

# The real-server tests are #[ignore]d (a plain `cargo test` needs no Python): run them here,
# for each target (tests/support/real.rs reads OPENAI_COMPATIBLE_REAL_SERVER).
step "real-server tests, llama.cpp directly (both builds)"
cargo test --test suite -- --ignored real_server::
cargo test --test suite --features async -- --ignored real_server::
step "real-server tests through LiteLLM's proxy (both builds)"
OPENAI_COMPATIBLE_REAL_SERVER=litellm cargo test --test suite -- --ignored real_server::
OPENAI_COMPATIBLE_REAL_SERVER=litellm cargo test --test suite --features async -- --ignored real_server::

step "examples against llama.cpp (both builds)"
scripts/examples.sh
step "examples through LiteLLM's proxy (both builds)"
OPENAI_COMPATIBLE_REAL_SERVER=litellm scripts/examples.sh

# The library's docs, named with `-p`: the tests package is a default member too, and
# what it builds must never end up in (or warn in) the crate's documentation.
step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p openai-compatible
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p openai-compatible --features async

# Release checks (scripts/release/): the dependency policy, the MSRV against the locked
# dependencies, and the crate as it would be published, in both builds.
step "dependency policy (cargo-deny; its first build on a machine takes 3 to 5 minutes)"
scripts/release/deny.sh
step "MSRV against the locked dependency tree"
scripts/release/msrv.sh
step "the packaged crate: cargo package, then its doctests in both builds"
scripts/release/package.sh

passed=1
