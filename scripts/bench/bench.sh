#!/usr/bin/env bash
# The performance targets of issues 9 and 16 (and the streaming one of issue 3), measured in
# one go: this client next to a bare-HTTP baseline and next to async-openai 0.43 (the
# `peer_async_openai` binary) against the project's loopback stub server, with the ratios,
# then a summary table of every row against its target. Release builds of both modes.
# Figures and their reading: benches/README.md.
#
#   scripts/bench/bench.sh           # about 4 minutes once built
#   ROUNDS=9 scripts/bench/bench.sh        # more rounds, steadier medians
#
# Every figure is the median of ROUNDS rounds in which ours and the baseline run back to back,
# so both see the same machine load; ratios are medians of the per-round ratios. Instruction
# counts (callgrind, when `valgrind` is on PATH) are taken once: they do not follow the load.
#
# Knobs (environment): ROUNDS (5), PLAIN_N requests per plain round (20000), STREAMS streams
# of 1000 chunks per stream round (200), ASYNC_N requests per async round (40000),
# FRESH_N fresh processes of each kind (200), REUSE_N sequential 10-chunk streams whose
# connections are counted (200), TLS_N 10-chunk streams per TLS round (200),
# CALLGRIND_LOW and CALLGRIND_HIGH the plain requests of the two callgrind runs of each
# client (500 and 1500; per request = the difference of their totals over the difference of
# the counts, so process start-up cancels out), COLD=0 to skip the cold build of the chat
# example (a few minutes on 2 cores).
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
CALLGRIND_LOW=${CALLGRIND_LOW:-500}
CALLGRIND_HIGH=${CALLGRIND_HIGH:-1500}
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
cargo build --release --quiet "${BENCHES[@]}" --features vs-async-openai \
    --bin reuse --bin peer_async_openai
cp "$TARGET/release/reuse" "$BIN/reuse-async"
cp "$TARGET/release/peer_async_openai" "$BIN/peer_async_openai"
# The size row: the CLI with the blocking mode alone (no schema, no token counting).
step "building (release, chat with --no-default-features --features blocking)"
cargo build --release --quiet --no-default-features --features blocking --example chat
cp "$TARGET/release/examples/chat" "$BIN/chat-blocking-only"

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

# The summary table: one entry per row, printed at the end.
# record NAME OURS BASELINE RATIO TARGET [CHECKED]: TARGET is "-" (no target) or
# "<= X" / ">= X", compared with CHECKED (default: RATIO).
declare -a S_NAME=() S_OURS=() S_BASE=() S_RATIO=() S_TARGET=() S_MET=()
record() {
    local name=$1 ours=$2 base=$3 rat=$4 target=$5 checked=${6:-$4} met=""
    if [ "$checked" = skipped ]; then
        met=skipped
    elif [ "$target" != - ]; then
        met=$(awk -v v="$checked" -v op="${target% *}" -v t="${target#* }" \
            'BEGIN {ok = (op == "<=") ? v <= t : v >= t; print ok ? "met" : "missed"}')
    fi
    S_NAME+=("$name"); S_OURS+=("$ours"); S_BASE+=("$base"); S_RATIO+=("$rat")
    S_TARGET+=("$target"); S_MET+=("$met")
}

# run_pair NAME OURS_CMD BASE_CMD KEY [TARGET]: ROUNDS rounds of ours then baseline; prints
# medians and records them with TARGET (for the ratio; default none) in the summary.
# KEY is rps (requests/s) or cps (chunks/s).
run_pair() {
    local name=$1 ours=$2 base=$3 key=$4 target=${5:--} o b
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
    printf '%-50s ours %10s  baseline %10s  ours/baseline %s\n' "$name" "$(fmt "$mo")" "$(fmt "$mb")" "$mr"
    record "$name" "$(fmt "$mo")" "$(fmt "$mb")" "$mr" "$target"
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
    printf '%-50s ours %8.2f ms  baseline %8.2f ms  ours/baseline %s\n' "$name" "$mo" "$mb" "$mr"
    record "$name" "$(printf '%.2f' "$mo")" "$(printf '%.2f' "$mb")" "$mr" "-"
}

maxrss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }   # kB

# callgrind_ir NAME CMD…: the total instructions (Ir) of CMD under callgrind.
callgrind_ir() {
    local out="$BIN/callgrind.$1.out"
    shift
    valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>"$out.log" ||
        { echo "callgrind run failed, see $out.log" >&2; return 1; }
    sed -n 's/^\(summary\|totals\): *\([0-9][0-9]*\).*/\2/p' "$out" | head -1
}

mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN {printf "%.2f", b / 1e6}'; }   # MB (10^6 bytes)

echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rustc: $(rustc --version)"
echo "rounds: $ROUNDS (medians); stub: $URL"
echo

step "plain requests, sequential ($PLAIN_N per round)"
run_pair "plain sequential vs bare ureq (req/s)" \
    "$BIN/throughput-blocking $URL plain $PLAIN_N" "$BIN/bare_ureq $URL plain $PLAIN_N" rps ">= 0.9"

step "plain requests, instructions per request (callgrind, $CALLGRIND_LOW and $CALLGRIND_HIGH)"
if command -v valgrind >/dev/null; then
    declare -A IR=()
    for who in throughput-blocking bare_ureq; do
        for n in "$CALLGRIND_LOW" "$CALLGRIND_HIGH"; do
            IR[$who.$n]=$(callgrind_ir "$who.$n" "$BIN/$who" "$URL" plain "$n")
            printf '   %s, %d requests: %s instructions\n' "$who" "$n" "${IR[$who.$n]}" >&2
        done
    done
    per() { awk -v a="${IR[$1.$CALLGRIND_LOW]}" -v b="${IR[$1.$CALLGRIND_HIGH]}" \
        -v n="$((CALLGRIND_HIGH - CALLGRIND_LOW))" 'BEGIN {printf "%.0f", (b - a) / n}'; }
    o=$(per throughput-blocking); b=$(per bare_ureq); r=$(ratio "$o" "$b")
    printf '%-50s ours %10s  baseline %10s  ours/baseline %s\n' \
        "plain instructions/request vs bare ureq" "$o" "$b" "$r"
    record "plain instructions/request vs bare ureq" "$o" "$b" "$r" "<= 1.35"
else
    echo "valgrind is not on PATH: no instruction counts (apt-get install valgrind)" >&2
    printf '%-50s skipped: no valgrind on PATH\n' "plain instructions/request vs bare ureq"
    record "plain instructions/request vs bare ureq" "skipped" "skipped" "-" "<= 1.35" "skipped"
fi

step "streams of 1000 chunks ($STREAMS per round)"
run_pair "stream blocking vs ureq lines (chunks/s)" \
    "$BIN/throughput-blocking $URL stream $STREAMS" "$BIN/bare_ureq $URL stream $STREAMS" cps
run_pair "stream blocking vs async-openai (chunks/s)" \
    "$BIN/throughput-blocking $URL stream $STREAMS" \
    "$BIN/peer_async_openai $URL stream $STREAMS" cps ">= 10"
run_pair "stream async vs reqwest lines (chunks/s)" \
    "$BIN/throughput-async $URL stream $STREAMS" "$BIN/bare_reqwest $URL stream $STREAMS" cps
run_pair "stream async vs async-openai (chunks/s)" \
    "$BIN/throughput-async $URL stream $STREAMS" \
    "$BIN/peer_async_openai $URL stream $STREAMS" cps ">= 10"

step "async, 32 in flight ($ASYNC_N per round)"
run_pair "async 32 in flight vs reqwest+serde_json (req/s)" \
    "$BIN/throughput-async $URL plain $ASYNC_N 32" "$BIN/bare_reqwest $URL plain $ASYNC_N 32" rps
run_pair "async 32 in flight vs async-openai (req/s)" \
    "$BIN/throughput-async $URL plain $ASYNC_N 32" \
    "$BIN/peer_async_openai $URL plain $ASYNC_N 32" rps ">= 1.1"
run_pair "blocking 32 threads vs bare ureq (req/s)" \
    "$BIN/throughput-blocking $URL plain $ASYNC_N 32" "$BIN/bare_ureq $URL plain $ASYNC_N 32" rps

step "fresh process, one request ($FRESH_N of each)"
fresh_pair "fresh process (ms)" \
    "$BIN/throughput-blocking $URL plain 1" "$BIN/bare_ureq $URL plain 1"
export OPENAI_COMPATIBILITY_API_BASE_URL="$URL" OPENAI_COMPATIBILITY_API_KEY=sk-bench
fresh_pair "chat CLI vs bare ureq (ms)" \
    "$BIN/chat-blocking Is_17_prime" "$BIN/bare_ureq $URL plain 1"

step "connection reuse ($REUSE_N sequential 10-chunk streams, in-process stub)"
# The async build runs async-openai after ours, on its own client, and counts its own.
declare -A CONNS=()
CONNS[blocking]=$("$BIN/reuse-blocking" connections "$REUSE_N" 10 | field connections)
line=$("$BIN/reuse-async" connections "$REUSE_N" 10)
CONNS[async]=$(sed -n 's/.* connections=\([0-9]*\).*/\1/p' <<<"$line")
CONNS[async-openai]=$(field async_openai_connections <<<"$line")
for who in blocking async async-openai; do
    printf '%-50s %s\n' "connections, $who" "${CONNS[$who]}"
done
for who in blocking async; do
    record "TCP connections, $who (baseline: async-openai)" "${CONNS[$who]}" \
        "${CONNS[async-openai]}" "-" "<= 3" "${CONNS[$who]}"
done
record "TCP connections, async-openai 0.43 itself" "${CONNS[async-openai]}" "-" "-" "<= 3" \
    "${CONNS[async-openai]}"

step "10-chunk streams over TLS on loopback ($TLS_N per round, in-process TLS stub)"
line=$("$BIN/reuse-blocking" tls "$TLS_N" 10 "$ROUNDS")
printf '%-50s ours %10s  connections %s\n' "TLS streams, blocking (streams/s)" \
    "$(field ours_sps <<<"$line")" "$(field connections <<<"$line")"
record "TLS streams, blocking (streams/s)" "$(field ours_sps <<<"$line")" "-" "-" "-"
line=$("$BIN/reuse-async" tls "$TLS_N" 10 "$ROUNDS")
printf '%-50s ours %10s  async-openai %10s  ours/async-openai %s  connections %s\n' \
    "TLS streams, async (streams/s)" "$(field ours_sps <<<"$line")" \
    "$(field async_openai_sps <<<"$line")" "$(field ratio <<<"$line")" \
    "$(field connections <<<"$line")"
record "TLS streams, async vs async-openai (streams/s)" "$(field ours_sps <<<"$line")" \
    "$(field async_openai_sps <<<"$line")" "$(field ratio <<<"$line")" "-"

step "memory"
echo
printf '%-50s %8s %8s\n' "peak RSS (kB)" "1k" "100k"
for who in throughput-blocking throughput-async bare_ureq; do
    k1=$(maxrss "$BIN/$who" "$(chunks_url 1000)" stream 1)
    k100=$(maxrss "$BIN/$who" "$(chunks_url 100000)" stream 1)
    printf '%-50s %8s %8s\n' "stream, $who" "$k1" "$k100"
    record "peak RSS kB, 100k-chunk stream, $who (baseline: 1k)" "$k100" "$k1" \
        "$(ratio "$k100" "$k1")" "-"
done
k=$(maxrss "$BIN/chat-blocking" "Is 17 prime?")
printf '%-50s %8s\n' "chat CLI, plain" "$k"
record "peak RSS kB, chat CLI, plain" "$k" "-" "-" "-"
k=$(maxrss "$BIN/chat-blocking" --stream "Is 17 prime?")
printf '%-50s %8s\n' "chat CLI, --stream (1000 chunks)" "$k"
record "peak RSS kB, chat CLI, --stream" "$k" "-" "-" "-"

step "binary size (stripped copies)"
if command -v strip >/dev/null; then
    for b in chat-blocking chat-blocking-only bare_ureq; do
        strip -o "$BIN/$b.stripped" "$BIN/$b"
    done
    base=$(mb "$BIN/bare_ureq.stripped")
    for b in chat-blocking chat-blocking-only; do
        s=$(mb "$BIN/$b.stripped")
        printf '%-50s %8s MB  bare_ureq %8s MB  ratio %s\n' "stripped $b" "$s" "$base" \
            "$(ratio "$s" "$base")"
    done
    s=$(mb "$BIN/chat-blocking.stripped")
    record "stripped chat, default features (MB; baseline: bare_ureq)" "$s" "$base" \
        "$(ratio "$s" "$base")" "-"
    s=$(mb "$BIN/chat-blocking-only.stripped")
    record "stripped chat, blocking only (MB; baseline: bare_ureq)" "$s" "$base" \
        "$(ratio "$s" "$base")" "<= 6" "$s"
else
    printf '%-50s skipped: no strip on PATH\n' "stripped chat"
    record "stripped chat, blocking only (MB)" "skipped" "-" "-" "<= 6" "skipped"
fi

step "cold build of the chat example (fresh clone, empty target directory)"
# What a first `scripts/chat.sh` builds: the crates compiled, against the crates the
# library itself needs (normal and build dependencies, the crate included). The registry
# stays warm (no downloads are timed).
if [ "${COLD:-1}" = 1 ]; then
    cold=$(mktemp -d)
    git clone -q --no-hardlinks "$ROOT" "$cold/repo"
    t0=$EPOCHREALTIME
    (cd "$cold/repo" && CARGO_TARGET_DIR="$cold/target" cargo build --example chat 2>&1) \
        >"$cold/log"
    t1=$EPOCHREALTIME
    built=$(grep -c '^ *Compiling ' "$cold/log" || true)
    needed=$(cd "$cold/repo" && cargo tree -p openai-compatible -e normal,build --prefix none 2>/dev/null |
        sed 's/ (.*//' | sort -u | wc -l)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", b - a}')
    printf '%-50s %8s crates in %s s  the library needs %s\n' "cold chat build" \
        "$built" "$secs" "$needed"
    record "cold chat build: crates compiled (baseline: the library's)" "$built" "$needed" \
        "$(ratio "$built" "$needed")" "-"
    record "cold chat build: seconds" "$secs" "-" "-" "-"
    rm -rf "$cold"
else
    printf '%-50s skipped (COLD=0)\n' "cold chat build"
fi

# --- the summary: every row above, with its target.
w=7
for n in "${S_NAME[@]}"; do [ "${#n}" -gt "$w" ] && w=${#n}; done
dashes() { printf -- '-%.0s' $(seq "$1"); }
echo
echo "summary (ratio = ours/baseline, medians; targets of issue 16)"
printf "| %-${w}s | %12s | %12s | %7s | %7s | %-7s |\n" measure ours baseline ratio target result
printf '|%s|%s:|%s:|%s:|%s:|%s|\n' "$(dashes $((w + 2)))" "$(dashes 13)" "$(dashes 13)" \
    "$(dashes 8)" "$(dashes 8)" "$(dashes 9)"
for i in "${!S_NAME[@]}"; do
    printf "| %-${w}s | %12s | %12s | %7s | %7s | %-7s |\n" "${S_NAME[$i]}" "${S_OURS[$i]}" \
        "${S_BASE[$i]}" "${S_RATIO[$i]}" "${S_TARGET[$i]}" "${S_MET[$i]}"
done
