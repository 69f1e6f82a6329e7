#!/usr/bin/env bash
# Runs the examples against the local llama.cpp server (started if needed) in both builds,
# checking each one's output. Called by scripts/test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/server/server.sh start >/dev/null
eval "$(scripts/server/server.sh env)"
export MODEL=smollm2
config='{"max_tokens": 24, "temperature": 0}'

fail() { echo "examples.sh: $*" >&2; exit 1; }

for features in "" "async"; do
    flags=()
    [ -n "$features" ] && flags=(--features "$features")
    mode="${features:-blocking}"

    out=$(cargo run -q "${flags[@]}" --example chat -- --model smollm2 --config "$config" "Say hello.")
    [ -n "$out" ] || fail "chat ($mode) printed nothing"
    out=$(cargo run -q "${flags[@]}" --example chat -- --model smollm2 --stream --config "$config" "Say hello.")
    [ -n "$out" ] || fail "chat --stream ($mode) printed nothing"
    cargo run -q "${flags[@]}" --example chat -- --model smollm2 --stream --json --config "$config" "Say hello." \
        | python3 -c 'import json,sys; c=json.load(sys.stdin); assert c["choices"][0]["message"]["content"], c' \
        || fail "chat --stream --json ($mode) did not print a completion"
    if cargo run -q "${flags[@]}" --example chat -- --timeout soon "x" 2>/dev/null; then
        fail "chat ($mode) accepted a bad --timeout"
    fi
    schema="$(mktemp)"
    printf '%s' '{"type":"object","properties":{"city":{"type":"string"},"temp_c":{"type":"integer"}}}' >"$schema"
    for stream in "" "--stream"; do
        cargo run -q "${flags[@]}" --example chat -- --model smollm2 $stream --schema "$schema" \
            --config '{"max_tokens": 60, "temperature": 0}' "The weather in Paris, as JSON." \
            | python3 -c 'import json,sys; v=json.load(sys.stdin); assert isinstance(v["city"], str) and isinstance(v["temp_c"], int), v' \
            || fail "chat $stream --schema ($mode) did not print the parsed object"
    done
    rm -f "$schema"
    out=$(echo '[{"role":"user","content":"Hello"}]' | cargo run -q "${flags[@]}" --example count_tokens)
    [ "$out" = 8 ] || fail "count_tokens ($mode) said $out, CAMEL says 8"
    if [ "$mode" = blocking ]; then
        # tools and structured are blocking programs.
        out=$(cargo run -q --example tools -- Paris)
        grep -q '^tool call: get_weather(' <<<"$out" || fail "tools ($mode): $out"
        out=$(cargo run -q --example structured)
        grep -q '^streamed: ' <<<"$out" || fail "structured ($mode): $out"
        ran="tools, count_tokens, structured"
    else
        # In the async build they only point to async_server, and exit 0.
        for example in tools structured; do
            out=$(cargo run -q "${flags[@]}" --example "$example")
            [ "$out" = "this example is blocking; see async_server for the async API" ] \
                || fail "$example ($mode) should say it is blocking: $out"
        done
        ran="count_tokens, tools and structured (blocking only: notice checked)"
    fi
    echo "examples ($mode): chat, chat --stream, chat --stream --json, chat --schema (plain and streamed), $ran: ok"
done

out=$(cargo run -q --features async --example async_server -- self-test 4)
[ "$(grep -c '^[0-9]: ' <<<"$out")" = 4 ] || fail "async_server self-test: $out"
echo "examples (async): async_server self-test 4: ok"
