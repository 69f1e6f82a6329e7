#!/usr/bin/env bash
# LiteLLM's proxy (PyPI litellm[proxy]) on 127.0.0.1, in front of the local llama.cpp server
# (scripts/server/server.sh), so the real-server tests and the examples also run through a
# proxy. See scripts/litellm/README.md.
#
#   scripts/litellm/proxy.sh install   # .venv-litellm at the repo root with the pinned package
#   scripts/litellm/proxy.sh start     # install and start llama.cpp if needed, start, wait for the routes
#   scripts/litellm/proxy.sh status    # exit 0 if running and answering (prints the base URL)
#   scripts/litellm/proxy.sh env       # export lines for: eval "$(scripts/litellm/proxy.sh env)"
#   scripts/litellm/proxy.sh stop      # TERM, then KILL after a few seconds (llama.cpp stays up)
#   scripts/litellm/proxy.sh logs      # tail of .litellm/proxy.log
#
# Environment (all optional):
#   LITELLM_MASTER_KEY          the proxy's master key, the one key it accepts (default sk-litellm-local-test)
#   LITELLM_PROXY_PORT          fixed port (default: a free one)
#   LITELLM_PROXY_START_TIMEOUT seconds to wait for the proxy to serve its routes (default 120)
#   LITELLM_PYTHON              interpreter that creates the venv (default python3)
set -euo pipefail

LITELLM_VERSION="1.108.7"

SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# scripts/litellm/ -> the repository root, where .venv-litellm and .litellm live.
ROOT="$(cd "$SCRIPTS_DIR/../.." && pwd)"
VENV="$ROOT/.venv-litellm"
STATE="$ROOT/.litellm"
UPSTREAM_FILE="$STATE/upstream"           # the llama.cpp URL the running proxy routes to
SCRIPTED_PORT_FILE="$STATE/scripted_port" # where the `scripted-upstream` route points
CONFIG="$STATE/config.yaml"
LOG_FILE="$STATE/proxy.log"
SERVER_SH="$ROOT/scripts/server/server.sh"
HOST_PY="${LITELLM_PYTHON:-python3}"

DAEMON=proxy
DAEMON_SCRIPT=scripts/litellm/proxy.sh
DAEMON_CMDLINE="--config $CONFIG"
DAEMON_PYTHON_VAR=LITELLM_PYTHON
DAEMON_STOP_ALSO=("$UPSTREAM_FILE")
# Sets VPY, PID_FILE, URL_FILE, KEY_FILE; defines stop, status, env, logs and the dispatch.
# shellcheck source=SCRIPTDIR/../lib/daemon.sh
. "$ROOT/scripts/lib/daemon.sh"

# --- install ---------------------------------------------------------------

installed() {
    [ -x "$VPY" ] || return 1
    # Metadata only (importing litellm takes seconds): the pinned version and the [proxy] extra.
    "$VPY" - "$LITELLM_VERSION" <<'EOF' >/dev/null 2>&1
import importlib.metadata as m, sys
assert m.version("litellm") == sys.argv[1], m.version("litellm")
for extra in ("fastapi", "uvicorn", "backoff", "PyYAML", "orjson"):
    m.version(extra)
EOF
}

cmd_install() {
    if installed; then
        return 0
    fi
    make_venv
    local t0=$SECONDS
    # One visible line: the install is quiet and takes about a minute (3 on a slow link).
    log "installing litellm[proxy]==$LITELLM_VERSION into $VENV (pip --quiet, about a minute)…"
    # (pip's output goes to stderr: start's only stdout line is the URL)
    pip_install install --disable-pip-version-check --quiet "litellm[proxy]==$LITELLM_VERSION" >&2
    installed || die "install finished but the version check fails"
    log "installed in $((SECONDS - t0)) s"
}

# --- process helpers -------------------------------------------------------

# GET {url}/models with the master key lists the `smollm2` route: the config is loaded and
# the router serves it (GET /health would make LiteLLM call every upstream).
routes_served() {
    "$HOST_PY" - "$1" "$2" <<'EOF' >/dev/null 2>&1
import json, sys, urllib.request
url, key = sys.argv[1], sys.argv[2]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # ignore *_proxy
req = urllib.request.Request(url + "/models", headers={"Authorization": "Bearer " + key})
with opener.open(req, timeout=3) as r:
    ids = [m["id"] for m in json.load(r)["data"]]
sys.exit(0 if "smollm2" in ids else 1)
EOF
}

is_running() {
    local pid
    pid="$(read_pid)"
    pid_alive "$pid" && [ -s "$URL_FILE" ] && [ -s "$KEY_FILE" ] \
        && routes_served "$(cat "$URL_FILE")" "$(cat "$KEY_FILE")"
}

# A free port on 127.0.0.1: bound, then released. The one for the scripted upstream is taken
# below 32768 (outside Linux's ephemeral range) so that no test's bind(0) lands on it.
free_port() {
    "$HOST_PY" - "${1:-0}" <<'EOF'
import random, socket, sys
low = int(sys.argv[1])
for _ in range(200):
    port = random.randint(low, 32000) if low else 0
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(s.getsockname()[1])
        sys.exit(0)
sys.exit("no free port")
EOF
}

# --- config ----------------------------------------------------------------

# Three routes: `smollm2` to the llama.cpp server; `dead-upstream` to a closed port (a dead
# upstream: LiteLLM answers 500); `scripted-upstream` to a port a test may listen on with
# its own scripted server (an upstream that misbehaves on purpose). Keys come from the
# environment (os.environ/…), so the file holds none.
write_config() {
    local upstream="$1" scripted_port="$2"
    cat >"$CONFIG" <<EOF
# Written by scripts/litellm/proxy.sh start; rewritten at every start.
model_list:
  - model_name: smollm2
    litellm_params:
      model: openai/smollm2
      api_base: $upstream
      api_key: os.environ/LITELLM_UPSTREAM_API_KEY
  - model_name: dead-upstream
    litellm_params:
      model: openai/smollm2
      api_base: http://127.0.0.1:1/v1
      api_key: os.environ/LITELLM_UPSTREAM_API_KEY
  - model_name: scripted-upstream
    litellm_params:
      model: openai/smollm2
      api_base: http://127.0.0.1:$scripted_port/v1
      api_key: os.environ/LITELLM_UPSTREAM_API_KEY
router_settings:
  # One upstream request per client request: the client's own retries are what the tests
  # count, and a dead upstream answers at once instead of after LiteLLM's 2 retries.
  num_retries: 0
  # A failing route stays routable (no "No deployments available" 429 after a failure).
  disable_cooldowns: true
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
EOF
}

# --- commands --------------------------------------------------------------

cmd_start() {
    mkdir -p "$STATE"
    if command -v flock >/dev/null 2>&1; then
        exec 8>"$STATE/lock"
        flock -w 600 8 || die "timed out waiting for $STATE/lock"
    fi
    # The upstream first (idempotent, locked itself); a proxy routing to an older llama.cpp
    # (restarted on another port) is restarted.
    local upstream
    upstream="$("$SERVER_SH" start 8>&-)" || die "scripts/server/server.sh start failed"
    if is_running && [ "$(cat "$UPSTREAM_FILE" 2>/dev/null)" = "$upstream" ]; then
        cat "$URL_FILE"
        return 0
    fi
    if pid_alive "$(read_pid)"; then
        log "stopping the running proxy (unhealthy, or routing to an old llama.cpp server)"
        cmd_stop
    fi
    rm -f "$PID_FILE" "$URL_FILE"

    cmd_install

    local key="${LITELLM_MASTER_KEY:-sk-litellm-local-test}"
    local port="${LITELLM_PROXY_PORT:-}"
    [ -n "$port" ] || port="$(free_port)"
    local scripted_port
    scripted_port="$(free_port 20000)"
    local timeout="${LITELLM_PROXY_START_TIMEOUT:-120}"
    (umask 077 && printf '%s\n' "$key" >"$KEY_FILE")
    printf '%s\n' "$upstream" >"$UPSTREAM_FILE"
    printf '%s\n' "$scripted_port" >"$SCRIPTED_PORT_FILE"
    (umask 077 && write_config "$upstream" "$scripted_port")

    # Nothing leaves 127.0.0.1 (checked with strace: every connect() of a start and of the
    # test suite is to the loopback). The LOCAL_* switches make LiteLLM read the cost map and
    # the other tables it would download from its own package; telemetry is vetoed;
    # PRODUCTION mode loads no .env file; *_proxy is ignored for the loopback. Keys go through
    # the environment, not argv. The process gets its own session (setsid, exec'd so the PID
    # stays) so a Ctrl-C or a killed test run does not take it down; 8>&-: it must not hold
    # the start lock.
    (
        cd "$STATE"
        export LITELLM_MASTER_KEY="$key"
        LITELLM_UPSTREAM_API_KEY="$(cat "$ROOT/.server/api_key")"
        export LITELLM_UPSTREAM_API_KEY
        export LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS=True \
            LITELLM_LOCAL_BLOG_POSTS=True LITELLM_LOCAL_AUTOROUTER_PRESETS=True \
            LITELLM_LOCAL_POLICY_TEMPLATES=True LITELLM_TELEMETRY_DISABLED=True \
            LITELLM_MODE=PRODUCTION LITELLM_DONT_SHOW_FEEDBACK_BOX=True \
            DISABLE_ADMIN_UI=True HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
            NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
        unset DATABASE_URL REDIS_HOST REDIS_URL
        exec nohup "$VPY" -c $'import os, sys\ntry:\n    os.setsid()\nexcept OSError:\n    pass\nos.execv(sys.argv[1], sys.argv[1:])' \
            "$VPY" "$VENV/bin/litellm" --config "$CONFIG" --host 127.0.0.1 --port "$port" \
            </dev/null >"$LOG_FILE" 2>&1 8>&-
    ) &
    local pid=$!
    echo "$pid" >"$PID_FILE"
    local url="http://127.0.0.1:$port/v1"

    daemon_wait "$pid" "$timeout" 0.3 "serving its routes" routes_served "$url" "$key"
    printf '%s\n' "$url" >"$URL_FILE"
    cat "$URL_FILE"
}

status_suffix() { printf ' -> %s' "$(cat "$UPSTREAM_FILE" 2>/dev/null)"; }

daemon_main "$@"
