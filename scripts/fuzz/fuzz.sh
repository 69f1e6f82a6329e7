#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ (not part of CI: it needs nightly and takes minutes).
#
#   scripts/fuzz/fuzz.sh                 # every target, 600 s each, two at a time
#   scripts/fuzz/fuzz.sh 60 sse_decoder  # one target for 60 s
#   JOBS=1 scripts/fuzz/fuzz.sh 600      # one at a time
#
# Installs cargo-fuzz (~30 s) when it is missing; needs a nightly toolchain
# (`rustup toolchain install nightly`). New corpus entries go to fuzz/corpus/<target> and
# crashes to fuzz/artifacts/<target> (both git-ignored); the small committed seeds are in
# fuzz/seeds/<target>. Each run's log is fuzz/target/fuzz-logs/<target>.log; the summary prints the
# executions and the coverage reached. Exit status is non-zero when a target crashed.
set -euo pipefail

cd "$(dirname "$0")/../../fuzz"
SECS=${1:-600}
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=(sse_decoder stream_state deserialize partial_json retry_after)
    [ -f fuzz_targets/tokens.rs ] && TARGETS+=(tokens)
fi
JOBS=${JOBS:-2}
export CARGO_TARGET_DIR="$PWD/target"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
rustup run nightly rustc --version >/dev/null

for t in "${TARGETS[@]}"; do
    cargo +nightly fuzz build "$t" >/dev/null
done

LOGS="$CARGO_TARGET_DIR/fuzz-logs"
mkdir -p "$LOGS"
run() {
    local t=$1
    mkdir -p "corpus/$t" "artifacts/$t"
    local seeds=()
    [ -d "seeds/$t" ] && seeds=("seeds/$t")
    # -rss_limit_mb: a target must not need more than this on any input; -timeout: nor hang.
    if cargo +nightly fuzz run "$t" "corpus/$t" "${seeds[@]}" -- \
        -max_total_time="$SECS" -rss_limit_mb=1024 -timeout=10 -max_len=65536 \
        -print_final_stats=1 >"$LOGS/$t.log" 2>&1; then
        echo "ok" >"$LOGS/$t.status"
    else
        echo "FAILED" >"$LOGS/$t.status"
    fi
}

pids=()
for t in "${TARGETS[@]}"; do
    run "$t" &
    pids+=($!)
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 2; done
done
wait

status=0
printf '%-14s %-7s %12s %8s %8s  %s\n' target result execs cov ft "secs"
for t in "${TARGETS[@]}"; do
    r=$(cat "$LOGS/$t.status")
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$LOGS/$t.log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$LOGS/$t.log" | tail -n 1 | grep -o '[0-9]*' || echo '?')
    ft=$(grep -o 'ft: [0-9]*' "$LOGS/$t.log" | tail -n 1 | grep -o '[0-9]*' || echo '?')
    took=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$LOGS/$t.log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo '?')
    printf '%-14s %-7s %12s %8s %8s  %s\n' "$t" "$r" "$execs" "$cov" "$ft" "$took"
    if [ "$r" != ok ]; then
        status=1
        grep -m 5 -E 'panicked|ERROR|SUMMARY|Test unit written' "$LOGS/$t.log" || true
    fi
done
exit $status
