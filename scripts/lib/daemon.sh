# shellcheck shell=bash
# The daemon plumbing server/server.sh and litellm/proxy.sh share: the venv, the PID, URL,
# key and log files in a state folder, the start-up wait, stop, status, env, logs, usage and
# the command dispatch. Sourced (not run) by each, after it has set:
#
#   DAEMON          the messages' noun: "server" ("server process 1 exited", "server not running")
#   DAEMON_SCRIPT   the script, from the repo root (scripts/server/server.sh): messages, usage
#   DAEMON_CMDLINE  grep pattern of the daemon's command line (tells it from a recycled PID)
#   DAEMON_PYTHON_VAR  the variable that picks HOST_PY (named when HOST_PY is missing)
#   ROOT HOST_PY VENV STATE LOG_FILE
#
# and optionally:
#
#   DAEMON_LOG_FILTER  grep pattern of log lines log_tail leaves out (default: none)
#   DAEMON_SAY_VENV    1: log a line when the venv is (re)created
#   DAEMON_STOP_ALSO   array of state files stop removes besides the PID and URL files
#
# The script then defines is_running (alive and ready), cmd_install and cmd_start, may
# redefine status_suffix (what status prints after the URL), and ends with: daemon_main "$@"

# What it sets for both: the venv's python and the state files of the running daemon.
VPY="$VENV/bin/python"
PID_FILE="$STATE/pid"
URL_FILE="$STATE/url"
KEY_FILE="$STATE/api_key"

log() { echo "${DAEMON_SCRIPT##*/}: $*" >&2; }
die() { log "$*"; exit 1; }

# --- venv ------------------------------------------------------------------

make_venv() {
    command -v "$HOST_PY" >/dev/null 2>&1 || die "$HOST_PY not found (set $DAEMON_PYTHON_VAR=/path/to/python3)"
    if [ -x "$VPY" ] && "$VPY" -m pip --version >/dev/null 2>&1; then
        return 0
    fi
    rm -rf "$VENV"
    if [ "${DAEMON_SAY_VENV:-0}" = 1 ]; then
        log "creating $VENV with $HOST_PY"
    fi
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

# --- process helpers -------------------------------------------------------

# shellcheck disable=SC2015 # `|| true` on purpose: no PID file reads as an empty PID
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

# Alive and really our daemon (guards against a recycled PID).
pid_alive() {
    local pid="$1"
    proc_running "$pid" || return 1
    [ -r "/proc/$pid/cmdline" ] || return 0
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$DAEMON_CMDLINE"
}

log_tail() {
    if [ -f "$LOG_FILE" ]; then
        log "last lines of $LOG_FILE:"
        if [ -n "${DAEMON_LOG_FILTER:-}" ]; then
            grep -v -- "$DAEMON_LOG_FILTER" "$LOG_FILE" | tail -n 40 >&2 || true
        else
            tail -n 40 "$LOG_FILE" >&2 || true
        fi
    fi
}

# daemon_wait PID TIMEOUT INTERVAL WHAT READY [ARG…]: polls the command READY ARG… every
# INTERVAL seconds until it succeeds. When PID exits first: the log's tail, exit 1; after
# TIMEOUT seconds: "not WHAT after …", the log's tail, stop, exit 1.
daemon_wait() {
    local pid="$1" timeout="$2" interval="$3" what="$4"
    shift 4
    local deadline=$((SECONDS + timeout))
    while :; do
        if ! proc_running "$pid"; then
            log "$DAEMON process $pid exited during startup"
            log_tail
            rm -f "$PID_FILE"
            exit 1
        fi
        if "$@"; then
            break
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "not $what after ${timeout}s"
            log_tail
            cmd_stop
            exit 1
        fi
        sleep "$interval"
    done
}

# --- commands --------------------------------------------------------------

cmd_stop() {
    local pid
    pid="$(read_pid)"
    if pid_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do          # up to 10 s for a clean exit
            proc_running "$pid" || break
            sleep 0.1
        done
        if proc_running "$pid"; then
            log "process $pid ignored TERM: sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$PID_FILE" "$URL_FILE" ${DAEMON_STOP_ALSO[@]+"${DAEMON_STOP_ALSO[@]}"}
}

cmd_status() {
    if is_running; then
        echo "running: pid $(read_pid), $(cat "$URL_FILE")$(status_suffix)"
        return 0
    fi
    echo "not running" >&2
    return 1
}

status_suffix() { :; }

cmd_env() {
    is_running || die "$DAEMON not running (start it with: $DAEMON_SCRIPT start)"
    printf 'export OPENAI_COMPATIBILITY_API_BASE_URL=%q\n' "$(cat "$URL_FILE")"
    printf 'export OPENAI_COMPATIBILITY_API_KEY=%q\n' "$(cat "$KEY_FILE")"
}

# Lines 2-18 of the script: its header comment.
usage() {
    sed -n '2,18p' "$ROOT/$DAEMON_SCRIPT" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

daemon_main() {
    case "${1:-}" in
        install) cmd_install ;;
        start) cmd_start ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        env) cmd_env ;;
        logs) [ -f "$LOG_FILE" ] && tail -n "${2:-50}" "$LOG_FILE" ;;
        *) usage ;;
    esac
}
