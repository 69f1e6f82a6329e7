#!/usr/bin/env bash
# Runs the examples against the local llama.cpp server (started if needed) in both builds,
# checking each one's output. Called by scripts/test.sh, once per target.
#
#   scripts/examples.sh                                   # directly against llama.cpp
#   OPENAI_COMPATIBLE_REAL_SERVER=litellm scripts/examples.sh  # through LiteLLM's proxy
#
# Through the proxy only the checks that make requests run: the input errors, count_tokens
# and the async build's "this example is blocking" notices never reach a server, so they
# would only repeat.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

fail() { echo "examples.sh: $*" >&2; exit 1; }

target="${OPENAI_COMPATIBLE_REAL_SERVER:-llamacpp}"
case "$target" in
    llamacpp) script=scripts/server/server.sh ;;
    litellm) script=scripts/litellm/proxy.sh ;;
    *) fail "OPENAI_COMPATIBLE_REAL_SERVER=$target: expected llamacpp or litellm" ;;
esac
direct() { [ "$target" = llamacpp ]; }
"$script" start >/dev/null
eval "$("$script" env)"
export MODEL=smollm2
config='{"max_tokens": 24, "temperature": 0}'

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# A real history (system, user, assistant tool calls, tool results) for chat --messages.
python3 -c 'import json,sys; json.dump(json.load(open(sys.argv[1]))["messages"], open(sys.argv[2], "w"))' \
    tests/data/captures/xllamacpp-tools-fewshot.request.json "$tmp/history.json"
# chat --meta's one stderr line: `meta: {…}` with status $2 after one attempt.
check_meta() {
    python3 - "$1" "$2" <<'EOF' || fail "$3: no meta line with status $2 in: $(cat "$1")"
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("meta: ")]
assert len(lines) == 1, lines
m = json.loads(lines[0][len("meta: "):])
assert m["status"] == int(sys.argv[2]) and m["attempts"] == 1, m
assert set(m) == {"status", "request_id", "attempts", "rate_limit"}, m
assert isinstance(m["rate_limit"], dict), m
EOF
}

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
    if direct && cargo run -q "${flags[@]}" --example chat -- --timeout soon "x" 2>/dev/null; then
        fail "chat ($mode) accepted a bad --timeout"
    fi
    # --messages without PROMPT, --meta on a plain answer, a stream and an HTTP error.
    out=$(cargo run -q "${flags[@]}" --example chat -- --model smollm2 --meta --connect-timeout 5 \
        --messages "$tmp/history.json" --config "$config" 2>"$tmp/err") \
        || fail "chat --messages ($mode) failed: $(cat "$tmp/err")"
    [ -n "$out" ] || fail "chat --messages ($mode) printed nothing"
    check_meta "$tmp/err" 200 "chat --messages --meta ($mode)"
    n2='{"n": 2, "max_tokens": 24, "temperature": 0}'
    out=$(cargo run -q "${flags[@]}" --example chat -- --model smollm2 --stream --meta --config "$n2" "Say hello." 2>"$tmp/err") \
        || fail "chat --stream ($mode) with n=2 failed: $(cat "$tmp/err")"
    check_meta "$tmp/err" 200 "chat --stream --meta ($mode)"
    first=$(cargo run -q "${flags[@]}" --example chat -- --model smollm2 --stream --json --config "$n2" "Say hello." \
        | python3 -c 'import json,sys; c=json.load(sys.stdin); assert len(c["choices"]) == 2, c; print(c["choices"][0]["message"]["content"])') \
        || fail "chat --stream --json ($mode) with n=2 did not print both choices"
    [ "$out" = "$first" ] || fail "chat --stream ($mode) with n=2 printed $out, not choice 0: $first"
    if cargo run -q "${flags[@]}" --example chat -- --model smollm2 --meta --config '{"n": "bad"}' "x" 2>"$tmp/err"; then
        fail "chat ($mode) succeeded with n=\"bad\""
    fi
    check_meta "$tmp/err" 400 "chat --meta on an HTTP error ($mode)"
    # Input errors: one stderr line, before any request.
    if direct; then
        rc=0
        cargo run -q "${flags[@]}" --example chat -- --messages "$tmp/missing.json" 2>"$tmp/err" || rc=$?
        [ "$rc" = 1 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q "^chat: --messages $tmp/missing.json: " "$tmp/err" \
            || fail "chat --messages with a missing file ($mode): exit $rc, $(cat "$tmp/err")"
        # Responses mode: plain and streamed, same output shape.
        out=$(cargo run -q "${flags[@]}" --example chat -- --api-mode responses --model smollm2 --config "$config" "Say hello.") \
            || fail "chat --api-mode responses ($mode) failed"
        [ -n "$out" ] || fail "chat --api-mode responses ($mode) printed nothing"
        out=$(cargo run -q "${flags[@]}" --example chat -- --api-mode responses --model smollm2 --stream --config "$config" "Say hello.") \
            || fail "chat --api-mode responses --stream ($mode) failed"
        [ -n "$out" ] || fail "chat --api-mode responses --stream ($mode) printed nothing"
        cargo run -q "${flags[@]}" --example chat -- --api-mode responses --model smollm2 --stream --json --config "$config" "Say hello." \
            | python3 -c 'import json,sys; c=json.load(sys.stdin); assert c["id"].startswith("resp_") and c["choices"][0]["message"]["content"], c' \
            || fail "chat --api-mode responses --stream --json ($mode) did not print a converted completion"
        rc=0
        cargo run -q "${flags[@]}" --example chat -- --api-mode bogus "x" 2>"$tmp/err" || rc=$?
        [ "$rc" = 2 ] || fail "chat --api-mode bogus ($mode): exit $rc, $(cat "$tmp/err")"
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
    if direct; then
        out=$(echo '[{"role":"user","content":"Hello"}]' | cargo run -q "${flags[@]}" --example count_tokens)
        [ "$out" = 8 ] || fail "count_tokens ($mode) said $out, CAMEL says 8"
    fi
    if [ "$mode" = blocking ]; then
        # tools and structured are blocking programs.
        out=$(cargo run -q --example tools -- Paris)
        grep -q '^tool call: get_weather(' <<<"$out" || fail "tools ($mode): $out"
        out=$(cargo run -q --example structured)
        grep -q '^streamed: ' <<<"$out" || fail "structured ($mode): $out"
        ran="tools, count_tokens, structured"
        direct || ran="tools, structured"
    elif direct; then
        # In the async build they only point to async_server, and exit 0.
        for example in tools structured; do
            out=$(cargo run -q "${flags[@]}" --example "$example")
            [ "$out" = "this example is blocking; see async_server for the async API" ] \
                || fail "$example ($mode) should say it is blocking: $out"
        done
        ran="count_tokens, tools and structured (blocking only: notice checked)"
    else
        ran="tools and structured: blocking only"
    fi
    inputs=", chat input errors, chat --api-mode responses (plain, --stream, --stream --json)"
    direct || inputs=""
    echo "examples ($mode, $target): chat, chat --stream, chat --stream --json, chat --messages --meta," \
        "chat --stream --meta (n=2), chat --meta on an HTTP error$inputs," \
        "chat --schema (plain and streamed), $ran: ok"
done

out=$(cargo run -q --features async --example async_server -- self-test 4)
[ "$(grep -c '^[0-9]: ' <<<"$out")" = 4 ] || fail "async_server self-test ($target): $out"
echo "examples (async, $target): async_server self-test 4: ok"
