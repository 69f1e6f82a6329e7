#!/usr/bin/env bash
# The main job: bring the local llama.cpp server up if needed, then run the `chat` example
# against it, streamed, and print the model's reply.
#
#   scripts/chat.sh ["PROMPT"] [more chat flags...]
#
# Extra arguments go to the chat example before the prompt (e.g. --json, --async is not a
# flag: set CHAT_FEATURES=async to build the async flavour).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

prompt="${1:-Write one sentence about the sea.}"
shift || true

scripts/server/server.sh start >/dev/null
eval "$(scripts/server/server.sh env)"
features=()
[ -n "${CHAT_FEATURES:-}" ] && features=(--features "$CHAT_FEATURES")
exec cargo run --quiet "${features[@]}" --example chat -- \
    --model smollm2 --stream \
    --config '{"max_tokens": 96, "temperature": 0}' \
    "$@" "$prompt"
