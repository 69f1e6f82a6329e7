"""Python baselines for benches/tokens.rs, on the same text and conversation.

    cargo bench --bench tokens
    python benches/tokens_baseline.py --criterion target/criterion

Measures, single-threaded:
  * tiktoken `encode_ordinary` on the ~1 MiB mixed text (o200k_base);
  * CAMEL's `OpenAITokenCounter.count_tokens_from_messages` (CAMEL's own code,
    loaded by scripts/gen/tokens_camel.py) on the 20,000-message conversation;
  * the first `tiktoken.get_encoding("o200k_base")` of a fresh interpreter.
With `--criterion DIR` it also reads the Rust medians from criterion's output and
prints Rust-vs-Python ratios. Needs the venv described in scripts/gen/tokens_fixture.py.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scripts", "gen"))

import tokens_camel  # noqa: E402

# Keep in sync with SNIPPETS in benches/tokens.rs.
SNIPPETS = [
    "The quick brown fox jumps over the lazy dog.",
    "In 2024, the committee approved 3,517 proposals totalling $12.5 million.",
    "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
    "{\"id\": 42, \"name\": \"widget\", \"tags\": [\"a\", \"b\"], \"price\": 9.99, \"ok\": true}",
    "機械学習は人工知能の一分野であり、データから学習するアルゴリズムを研究する。",
    "자연어 처리는 컴퓨터가 인간의 언어를 이해하도록 돕는 기술입니다.",
    "Emoji test: 😀🎉👍🏽 👨‍👩‍👧‍👦 🇫🇷",
    "I'm sure they'll say it's fine, but we've seen what you'd do.",
    "    indented line\n\ttabbed line\r\nwindows line\n\n",
    "SELECT id, name FROM users WHERE created_at > '2024-01-01' ORDER BY id DESC;",
    "Les élèves étudient la géométrie et l'algèbre à l'école.",
    "<|endoftext|> special-looking text <|im_start|>",
    "https://example.com/api/v1/items?page=2&limit=50#section",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.",
    "Математика — наука о структурах, порядке и отношениях.",
    "fn main() { println!(\"{}\", (1..=10).map(|x| x * x).sum::<u32>()); }",
]

MASK = (1 << 64) - 1


class Lcg:
    def __init__(self, seed: int):
        self.state = seed

    def next(self, n: int) -> int:
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) & MASK
        return (self.state >> 33) % n


def mixed_text(nbytes: int) -> str:
    rng = Lcg(1)
    parts, size = [], 0
    while size < nbytes:
        s = SNIPPETS[rng.next(len(SNIPPETS))] + " "
        parts.append(s)
        size += len(s.encode())
    return "".join(parts)


def conversation(n: int):
    rng = Lcg(2)
    out = []
    for i in range(n):
        content = " ".join(SNIPPETS[rng.next(len(SNIPPETS))] for _ in range(rng.next(3) + 1))
        if i == 0:
            m = {"role": "system", "content": content}
        elif i % 4 == 1:
            m = {"role": "user", "content": content}
        elif i % 4 == 2:
            m = {"role": "assistant", "content": content}
        elif i % 4 == 3:
            m = {"role": "tool", "content": content, "tool_call_id": f"call_{i}"}
        else:
            m = {"role": "user", "content": content}
        if i % 7 == 0:
            m["name"] = f"user_{i % 13}"
        if i % 4 == 2 and i % 3 == 0:
            m["tool_calls"] = [{"id": f"call_{i}", "type": "function",
                                "function": {"name": "lookup", "arguments": "{\"q\": \"x\"}"}}]
        out.append(m)
    return out


def timed(fn, repeat: int):
    times = []
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def first_load_seconds() -> float:
    code = (
        "import time, tiktoken; t = time.perf_counter(); "
        "tiktoken.get_encoding('o200k_base'); print(time.perf_counter() - t)"
    )
    runs = []
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, env=dict(os.environ))
        runs.append(float(out.stdout.strip()))
    return statistics.median(runs)


def criterion_median(root: str, *path: str):
    f = os.path.join(root, *path, "new", "estimates.json")
    if not os.path.exists(f):
        return None
    with open(f) as fh:
        return json.load(fh)["median"]["point_estimate"] / 1e9


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--criterion", help="criterion output dir (target/criterion)")
    args = ap.parse_args()

    token_counting, _ = tokens_camel.load()
    import tiktoken

    enc = tiktoken.get_encoding("o200k_base")
    camel = tokens_camel.counter(token_counting, "gpt-4o-mini")
    text = mixed_text(1 << 20)
    conv = conversation(20_000)

    t_encode, ids = timed(lambda: enc.encode_ordinary(text), 20)
    t_count, total = timed(lambda: camel.count_tokens_from_messages(conv), 5)
    t_load = first_load_seconds()
    mib = len(text.encode()) / (1 << 20)
    print(f"python {sys.version.split()[0]}, tiktoken {tiktoken.__version__}, "
          f"camel-ai {tokens_camel.CAMEL_VERSION}")
    print(f"text: {len(text.encode())} bytes, {len(ids)} tokens; "
          f"conversation: {len(conv)} messages, {total} tokens")
    print(f"python encode_ordinary 1 MiB:      {t_encode * 1e3:8.2f} ms  "
          f"({mib / t_encode:.1f} MiB/s, {len(ids) / t_encode / 1e6:.2f} M tokens/s)")
    print(f"python CAMEL count 20k messages:   {t_count * 1e3:8.2f} ms  "
          f"({len(conv) / t_count / 1e3:.0f} k messages/s)")
    print(f"python first get_encoding(o200k):  {t_load * 1e3:8.2f} ms")

    if args.criterion:
        rows = [
            ("encode 1 MiB", ("encode", "o200k_mixed_1MiB"), t_encode),
            ("count 20k (ChatMessage)", ("count", "20k_messages_chat_message"), t_count),
            ("count 20k (JSON values)", ("count", "20k_messages_json_values"), t_count),
            ("first-use table build", ("first_use", "o200k_table_build"), t_load),
        ]
        print()
        print(f"{'':26} {'rust':>10} {'python':>10} {'python/rust':>12}")
        for label, path, py in rows:
            rust = criterion_median(args.criterion, *path)
            if rust is None:
                print(f"{label:26} {'(missing)':>10}")
                continue
            print(f"{label:26} {rust * 1e3:8.2f}ms {py * 1e3:8.2f}ms {py / rust:11.2f}x")
        new = criterion_median(args.criterion, "first_use", "counter_new")
        if new is not None:
            print(f"{'counter_new':26} {new * 1e9:8.1f}ns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
