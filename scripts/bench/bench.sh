#!/usr/bin/env bash
# The performance targets of issue 9 (and the streaming one of issue 3), measured in one go:
# this client next to a bare-HTTP baseline against the project's loopback stub server, with
# the ratios. Release builds of both modes. Figures and their reading: benches/README.md.
#
#   scripts/bench/bench.sh           # about 2 minutes once built
#   ROUNDS=9 scripts/bench/bench.sh        # more rounds, steadier medians
#
# Every figure is the median of ROUNDS rounds in which ours and the baseline run back to back,
# so both see the same machine load; ratios are medians of the per-round ratios.
#
# Knobs (environment): ROUNDS (5), PLAIN_N requests per plain round (20000), STREAMS streams
# of 1000 chunks per stream round (200), ASYNC_N requests per async round (40000),
# FRESH_N fresh processes of each kind (200), REUSE_N sequential 10-chunk streams whose
# connections are counted (200), TLS_N 10-chunk streams per TLS round (200).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

ROUNDS=${ROUNDS:-5}
PLAIN_N=${PLAIN_N:-20000}
STREAMS=${STREAMS:-200}
ASYNC_N=${ASYNC_N:-40000}
FRESH_N=${FRESH_N:-200}
REUSE_N=${REUSE_N:-200}
TLS_N=${TLS_N:-200}
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET/bench-bin"
mkdir -p "$BIN"

step() { printf '\n==> %s\n' "$*" >&2; }

# --- builds (the examples of each mode share a file name: copy each right after its build).
# Ours are the library's examples; the stub and the baselines are binaries of the
# `openai-compatible-benches` package (benches/), built in their own cargo call so that
# its dependencies do not change the library the examples are built with.
BENCHES=(-p openai-compatible-benches)
step "building (release, blocking)"
cargo build --release --quiet --example throughput --example chat
for b in throughput chat; do cp "$TARGET/release/examples/$b" "$BIN/$b-blocking"; done
cargo build --release --quiet "${BENCHES[@]}" --bin bare_ureq --bin stub_server
for b in bare_ureq stub_server; do cp "$TARGET/release/$b" "$BIN/$b"; done
cargo build --release --quiet "${BENCHES[@]}" --features tls-stub --bin reuse
cp "$TARGET/release/reuse" "$BIN/reuse-blocking"
step "building (release, async)"
cargo build --release --quiet --features async --example throughput
cp "$TARGET/release/examples/throughput" "$BIN/throughput-async"
cargo build --release --quiet "${BENCHES[@]}" --features async --bin bare_reqwest
cp "$TARGET/release/bare_reqwest" "$BIN/bare_reqwest"
cargo build --release --quiet "${BENCHES[@]}" --features vs-async-openai --bin reuse
cp "$TARGET/release/reuse" "$BIN/reuse-async"

# --- the stub server
"$BIN/stub_server" 127.0.0.1:0 >"$BIN/stub.url" &
STUB_PID=$!
trap 'kill "$STUB_PID" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$BIN/stub.url" ] && break; sleep 0.1; done
URL="$(head -1 "$BIN/stub.url")"
HOSTPORT="${URL#http://}"
HOSTPORT="${HOSTPORT%/v1}"
chunks_url() { echo "http://$HOSTPORT/chunks/$1/v1"; }

# --- helpers
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }   # field NAME < "secs=… rps=… chunks=…"
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a/b}'; }
fmt() { awk -v x="$1" 'BEGIN {printf "%.0f", x}'; }

# run_pair NAME OURS_CMD BASE_CMD KEY: ROUNDS rounds of ours then baseline; prints medians.
# KEY is rps (requests/s) or cps (chunks/s).
run_pair() {
    local name=$1 ours=$2 base=$3 key=$4 o b
    local -a os=() bs=() rs=()
    for r in $(seq "$ROUNDS"); do
        o=$($ours); b=$($base)
        if [ "$key" = cps ]; then
            o=$(awk -v c="$(field chunks <<<"$o")" -v s="$(field secs <<<"$o")" 'BEGIN {print c/s}')
            b=$(awk -v c="$(field chunks <<<"$b")" -v s="$(field secs <<<"$b")" 'BEGIN {print c/s}')
        else
            o=$(field rps <<<"$o"); b=$(field rps <<<"$b")
        fi
        os+=("$o"); bs+=("$b"); rs+=("$(ratio "$o" "$b")")
        printf '   round %d: ours %s  baseline %s\n' "$r" "$(fmt "$o")" "$(fmt "$b")" >&2
    done
    local mo mb mr
    mo=$(printf '%s\n' "${os[@]}" | median)
    mb=$(printf '%s\n' "${bs[@]}" | median)
    mr=$(printf '%s\n' "${rs[@]}" | median)
    printf '%-34s ours %10s  baseline %10s  ours/baseline %s\n' "$name" "$(fmt "$mo")" "$(fmt "$mb")" "$mr"
}

# Wall time of one fresh process, alternating ours and the baseline FRESH_N times.
fresh_pair() {
    local name=$1 ours=$2 base=$3 t0 t1
    local -a os=() bs=() rs=()
    for _ in $(seq "$FRESH_N"); do
        t0=$EPOCHREALTIME; $ours >/dev/null; t1=$EPOCHREALTIME
        local o; o=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b-a)*1000}')
        t0=$EPOCHREALTIME; $base >/dev/null; t1=$EPOCHREALTIME
        local b; b=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b-a)*1000}')
        os+=("$o"); bs+=("$b"); rs+=("$(ratio "$o" "$b")")
    done
    local mo mb mr
    mo=$(printf '%s\n' "${os[@]}" | median)
    mb=$(printf '%s\n' "${bs[@]}" | median)
    mr=$(printf '%s\n' "${rs[@]}" | median)
    printf '%-34s ours %8.2f ms  baseline %8.2f ms  ours/baseline %s\n' "$name" "$mo" "$mb" "$mr"
}

maxrss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }   # kB

echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rustc: $(rustc --version)"
echo "rounds: $ROUNDS (medians); stub: $URL"
echo

step "plain requests, sequential ($PLAIN_N per round)"
run_pair "plain sequential (req/s)" \
    "$BIN/throughput-blocking $URL plain $PLAIN_N" "$BIN/bare_ureq $URL plain $PLAIN_N" rps

step "streams of 1000 chunks ($STREAMS per round)"
run_pair "stream blocking (chunks/s)" \
    "$BIN/throughput-blocking $URL stream $STREAMS" "$BIN/bare_ureq $URL stream $STREAMS" cps
run_pair "stream async (chunks/s)" \
    "$BIN/throughput-async $URL stream $STREAMS" "$BIN/bare_reqwest $URL stream $STREAMS" cps

step "async, 32 in flight ($ASYNC_N per round)"
run_pair "async 32 in flight (req/s)" \
    "$BIN/throughput-async $URL plain $ASYNC_N 32" "$BIN/bare_reqwest $URL plain $ASYNC_N 32" rps
run_pair "blocking 32 threads (req/s)" \
    "$BIN/throughput-blocking $URL plain $ASYNC_N 32" "$BIN/bare_ureq $URL plain $ASYNC_N 32" rps

step "fresh process, one request ($FRESH_N of each)"
fresh_pair "fresh process (ms)" \
    "$BIN/throughput-blocking $URL plain 1" "$BIN/bare_ureq $URL plain 1"
export OPENAI_COMPATIBILITY_API_BASE_URL="$URL" OPENAI_COMPATIBILITY_API_KEY=sk-bench
fresh_pair "chat CLI vs bare ureq (ms)" \
    "$BIN/chat-blocking Is_17_prime" "$BIN/bare_ureq $URL plain 1"

step "connection reuse ($REUSE_N sequential 10-chunk streams, in-process stub)"
for mode in blocking async; do
    printf '%-34s %s\n' "connections, $mode" \
        "$("$BIN/reuse-$mode" connections "$REUSE_N" 10 | field connections)"
done

step "10-chunk streams over TLS on loopback ($TLS_N per round, in-process TLS stub)"
line=$("$BIN/reuse-blocking" tls "$TLS_N" 10 "$ROUNDS")
printf '%-34s ours %10s  connections %s\n' "TLS streams, blocking (streams/s)" \
    "$(field ours_sps <<<"$line")" "$(field connections <<<"$line")"
line=$("$BIN/reuse-async" tls "$TLS_N" 10 "$ROUNDS")
printf '%-34s ours %10s  async-openai %10s  ours/async-openai %s  connections %s\n' \
    "TLS streams, async (streams/s)" "$(field ours_sps <<<"$line")" \
    "$(field async_openai_sps <<<"$line")" "$(field ratio <<<"$line")" \
    "$(field connections <<<"$line")"

step "memory"
echo
printf '%-34s %8s %8s\n' "peak RSS (kB)" "1k" "100k"
for who in throughput-blocking throughput-async bare_ureq; do
    printf '%-34s %8s %8s\n' "stream, $who" \
        "$(maxrss "$BIN/$who" "$(chunks_url 1000)" stream 1)" \
        "$(maxrss "$BIN/$who" "$(chunks_url 100000)" stream 1)"
done
printf '%-34s %8s\n' "chat CLI, plain" "$(maxrss "$BIN/chat-blocking" "Is 17 prime?")"
printf '%-34s %8s\n' "chat CLI, --stream (1000 chunks)" \
    "$(maxrss "$BIN/chat-blocking" --stream "Is 17 prime?")"
