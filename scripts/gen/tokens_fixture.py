"""Generate tests/data/token_counts.json: token counts computed by CAMEL's own counter.

    python scripts/gen/tokens_fixture.py            # rewrite the fixture
    python scripts/gen/tokens_fixture.py --check    # exit 1 if it would change

Runs CAMEL-AI's real `OpenAITokenCounter` (camel/utils/token_counting.py, loaded
by tokens_camel.py) with Python tiktoken and Pillow on a seeded corpus of message
lists, and records for each the count or the exception CAMEL raises. The Rust
tests (tests/suite/tokens.rs and the unit tests in src/tokens/) read the file;
they need neither Python nor the network.

Setup (once): a venv with `pip install "tiktoken==0.12.0" pillow` (CAMEL pins
tiktoken<=0.12), `cargo fetch` (tiktoken's BPE files are taken from the
tiktoken-rs crate), and the CAMEL wheel (see tokens_camel.py). Use the Python
whose `repr()` the Rust side follows (see the NOT_PRINTABLE table's header in
src/tokens/pyrepr.rs); the file records the version.

Fixture layout:
  cases:  [{name, model, messages (a JSON *text*, so key order is kept),
            order_sensitive, expected | error}]
  reprs:  [[json_text, str(json.loads(json_text))]]  Python str() of values
  base64: [[text, hex of base64.b64decode(text) | null when it raises]]
"""

from __future__ import annotations

import base64
import io
import json
import os
import random
import re
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))  # scripts/gen/ -> the repository root
OUT = os.path.join(ROOT, "tests", "data", "token_counts.json")
sys.path.insert(0, HERE)

import tokens_camel  # noqa: E402

SEED = 20261125

TEXTS = [
    "Hello",
    "",
    " ",
    "What is 2+2?",
    "You are a helpful assistant.",
    "The quick brown fox jumps over the lazy dog. " * 3,
    "I'm sure they'll say it's fine; we've done it, you'd agree?",
    "Line one\nLine two\r\nLine three\n\n\n    indented\ttabbed",
    "   leading and trailing spaces   ",
    "1234567890 3.14159 -42 1e10 0x1F 1_000_000",
    "def f(x):\n    return {'a': [x, x ** 2]}  # comment\n",
    '{"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}}',
    "<|endoftext|>",
    "before <|endoftext|> after <|im_start|>user<|im_end|> <|fim_prefix|><|endofprompt|>",
    "漢字とかなカナ混じりの文章です。中文句子，标点符号！",
    "한국어 문장입니다. 안녕하세요!",
    "مرحبا بالعالم — שלום עולם",
    "emoji 😀🎉👍🏽 family 👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵 keycap 1️⃣",
    "combining: e\u0301 a\u0308 n\u0303 \u0915\u094d\u0937",
    "zero\u200bwidth\u200djoiner\ufeffbom\u00adshy",
    "quotes ' \" '' \"\" `` and backslash \\ \\n literal",
    "control \x01\x02\x07\x1b[31m red \x7f",
    "\u00a0nbsp\u3000ideographic\u2028line\u2029para",
    "a" * 300,
    "ab " * 200,
    "😀" * 50,
    "!!!???...,,,;;;:::" * 10,
    "MiXeD CaSe WoRdS AND UPPERCASE and lowercase",
    "https://example.com/path?query=1&x=%20#frag",
    "tab\tseparated\tvalues\n1\t2\t3",
    "\n",
    "\r\n\r\n",
    "    ",
    "¿Qué tal? Ça va très bien, merci. Größe Straße.",
    "Ελληνικά κείμενα και Кириллица текст",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕄𝕒𝕥𝕙 𝟙𝟚𝟛",
    "private use \ue000\uf8ff and noncharacter \ufdd0",
]

NAMES = ["alice", "bob_2", "Assistant-01", "", "x" * 40, "名前", "o'neil"]


def rand_text(rng: random.Random) -> str:
    parts = rng.sample(TEXTS, rng.randint(1, 3))
    return rng.choice([" ", "\n", "", " | "]).join(parts)


def rand_unicode(rng: random.Random, n: int) -> str:
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.3:
            cp = rng.randint(0x20, 0x7E)
        elif r < 0.4:
            cp = rng.choice([0x09, 0x0A, 0x0D, 0x00, 0x1F, 0x7F, 0x27, 0x22, 0x5C])
        elif r < 0.6:
            cp = rng.randint(0x80, 0x2FFF)
        elif r < 0.8:
            cp = rng.randint(0x3000, 0xFFFF)
        else:
            cp = rng.randint(0x10000, 0x10FFFF)
        if 0xD800 <= cp <= 0xDFFF:
            cp = 0xFFFD
        out.append(chr(cp))
    return "".join(out)


def rand_float(rng: random.Random) -> float:
    kind = rng.randint(0, 6)
    if kind == 0:
        return rng.uniform(-1, 1)
    if kind == 1:
        return float(rng.randint(-10**6, 10**6))
    if kind == 2:
        return rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30)
    if kind == 3:
        return rng.choice([0.0, -0.0, 0.1, 0.5, 1e-4, 1e-5, 1e15, 1e16, 1e22, 5e-324,
                           1.7976931348623157e308, 2.5, 100.0, 123456789.125])
    if kind == 4:
        return round(rng.uniform(0, 100), rng.randint(0, 4))
    if kind == 5:
        return rng.randint(1, 10**17) / 10 ** rng.randint(0, 20)
    return rng.uniform(1e15, 1e17)


def rand_value(rng: random.Random, depth: int = 0):
    kind = rng.randint(0, 8 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, 1, -1, 42, -(2**63), 2**63 - 1, 2**64 - 1, rng.randint(-10**12, 10**12)])
    if kind == 3:
        return rand_float(rng)
    if kind == 4:
        return rand_text(rng) if rng.random() < 0.5 else rand_unicode(rng, rng.randint(0, 12))
    if kind == 5:
        return rng.choice(["it's", 'say "hi"', "both ' and \"", "back\\slash", "", "tab\there"])
    if kind == 6:
        return [rand_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = rng.sample(["name", "arguments", "id", "type", "a", "b", "z", "it's", "k\"q", "ключ", "data"],
                      rng.randint(0, 4))
    return {k: rand_value(rng, depth + 1) for k in keys}


# ------------------------------------------------------------------ images

def image_b64(fmt: str, size, mode: str = "RGB", **save) -> str:
    from PIL import Image

    img = Image.new(mode, size, color=(30, 120, 200) if mode.startswith("RGB") else 7)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save)
    return base64.b64encode(buf.getvalue()).decode()


def build_images():
    images = {}
    specs = [
        ("png", "PNG", (1024, 1024), "1", {}),
        ("png", "PNG", (2048, 4096), "1", {"optimize": True}),
        ("png", "PNG", (4096, 2048), "1", {}),
        ("png", "PNG", (1, 1), "RGBA", {}),
        ("png", "PNG", (800, 600), "RGB", {}),
        ("png", "PNG", (3000, 100), "L", {}),
        ("png", "PNG", (100, 3000), "L", {}),
        ("png", "PNG", (2049, 2049), "1", {}),
        ("png", "PNG", (767, 769), "RGB", {}),
        ("png", "PNG", (10000, 1), "L", {}),
        ("jpeg", "JPEG", (1024, 576), "L", {"quality": 1}),
        ("jpeg", "JPEG", (640, 480), "RGB", {"progressive": True, "quality": 20}),
        ("jpg", "JPEG", (100, 2100), "L", {"quality": 1}),
        ("gif", "GIF", (513, 1025), "P", {}),
        ("gif", "GIF", (64, 64), "L", {}),
        ("webp", "WEBP", (1500, 700), "RGB", {"quality": 10}),
        ("webp", "WEBP", (256, 256), "RGBA", {"lossless": True}),
        ("webp", "WEBP", (4000, 3000), "RGB", {"lossless": True}),
        # The declared type need not match the bytes: CAMEL lets Pillow sniff them.
        ("png", "BMP", (120, 90), "1", {}),
        ("jpeg", "PNG", (1000, 2000), "1", {}),
        ("png", "TIFF", (333, 777), "1", {"compression": "tiff_deflate"}),
    ]
    for declared, fmt, size, mode, save in specs:
        key = f"{declared}:{fmt}:{size[0]}x{size[1]}:{mode}"
        images[key] = (declared, image_b64(fmt, size, mode, **save))
    return images


def image_part(declared: str, data: str, detail):
    image_url = {"url": f"data:image/{declared};base64,{data}"}
    if detail is not None:
        image_url["detail"] = detail
    return {"type": "image_url", "image_url": image_url}


# ------------------------------------------------------------------ cases

def reference_cases():
    return [
        ("empty", "gpt-4o-mini", []),
        ("hello", "gpt-4o-mini", [{"role": "user", "content": "Hello"}]),
        ("system+user", "gpt-4o-mini", [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is 2+2?"},
        ]),
        ("named user", "gpt-4o-mini", [{"role": "user", "name": "alice", "content": "hi"}]),
    ]


def image_cases(images):
    cases = []
    for key, (declared, data) in images.items():
        # Small images get a case per detail; big ones one case with the three details.
        details = [["high"], ["low"], ["auto"]] if len(data) < 4000 else [["high"]]
        for ds in details:
            msgs = [{"role": "user", "content": [
                {"type": "text", "text": "What is in this image?"},
                *[image_part(declared, data, detail) for detail in ds],
            ]}]
            cases.append((f"image {key} {'+'.join(ds)}", "gpt-4o-mini", msgs))
    # Several images, http URLs (count 0), whitespace and junk inside the base64.
    d = images["png:PNG:800x600:RGB"][1]
    cases.append(("two images and a url", "gpt-4o", [{"role": "user", "content": [
        image_part("png", d, "high"),
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "high"}},
        image_part("png", images["png:PNG:3000x100:L"][1], "auto"),
        {"type": "text", "text": "compare"},
    ]}]))
    wrapped = "\n".join(d[i:i + 76] for i in range(0, len(d), 76))
    cases.append(("base64 with newlines", "gpt-4o-mini", [{"role": "user", "content": [
        image_part("png", wrapped, "high")]}]))
    cases.append(("base64 with junk after padding", "gpt-4o-mini", [{"role": "user", "content": [
        image_part("png", d + "====garbage!!", "high")]}]))
    cases.append(("prefix not at start", "gpt-4o-mini", [{"role": "user", "content": [
        {"type": "image_url", "image_url": {
            "url": "data:image/x;data:image/png;base64," + d, "detail": "low"}}]}]))
    # Errors CAMEL raises (and so do we).
    cases.append(("error: bad padding", "gpt-4o-mini", [{"role": "user", "content": [
        image_part("png", d[:-3], "high")]}]))
    cases.append(("error: not an image", "gpt-4o-mini", [{"role": "user", "content": [
        image_part("png", base64.b64encode(b"hello, this is not an image at all").decode(), "high")]}]))
    cases.append(("error: svg data url", "gpt-4o-mini", [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/svg+xml;base64,PHN2Zy8+", "detail": "high"}}]}]))
    cases.append(("error: unknown detail", "gpt-4o-mini", [{"role": "user", "content": [
        image_part("png", d, "ultra")]}]))
    cases.append(("error: low detail still decodes", "gpt-4o-mini", [{"role": "user", "content": [
        image_part("png", "AAAA", "low")]}]))
    cases.append(("error: non-ascii base64", "gpt-4o-mini", [{"role": "user", "content": [
        image_part("png", d[:40] + "é" + d[40:], "high")]}]))
    return cases


def structural_cases():
    tool_call = {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}
    return [
        ("tool call round", "gpt-4o-mini", [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [tool_call]},
            {"role": "tool", "content": "{\"temp\": 21}", "tool_call_id": "call_1"},
            {"role": "assistant", "content": "It is 21 °C."},
        ]),
        ("null content", "gpt-4o-mini", [{"role": "assistant", "content": None}]),
        ("empty parts list", "gpt-4o-mini", [{"role": "user", "content": []}]),
        ("unknown parts", "gpt-4o-mini", [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
            {"type": "file", "file": {"file_id": "f_1"}},
            {"type": "text", "text": "and text"},
        ]}]),
        ("text part with non-string text", "gpt-4o-mini", [{"role": "user", "content": [
            {"type": "text", "text": {"nested": [1, 2.5, None, True]}},
            {"type": "text", "text": 12345},
            {"type": "text", "text": None},
        ]}]),
        ("refusal and reasoning", "gpt-4o-mini", [
            {"role": "assistant", "content": None, "refusal": "I can't help with that.",
             "reasoning_content": "The user asks for something disallowed."},
        ]),
        ("legacy function_call dict", "gpt-4o-mini", [
            {"role": "assistant", "content": None,
             "function_call": {"name": "f", "arguments": "{\"x\": 1}"}},
            {"role": "function", "name": "f", "content": "42"},
        ]),
        ("scalar extras", "gpt-4o-mini", [
            {"role": "user", "content": "x", "weight": 0.5, "n": 3, "flag": True, "none": None,
             "big": 1e16, "neg": -7, "tiny": 1e-7},
        ]),
        ("nested extras", "gpt-4o-mini", [
            {"role": "assistant", "content": "ok",
             "audio": {"id": "audio_1", "expires_at": 1700000000, "transcript": "it's \"quoted\""},
             "annotations": [{"type": "url_citation", "url_citation": {"url": "https://x"}}],
             "meta": {"z": 1, "a": {"deep": [1, {"k": "v"}]}, "it's": "ok"}},
        ]),
        ("special tokens", "gpt-4o-mini", [
            {"role": "user", "content": "<|endoftext|><|endoftext|>"},
            {"role": "user", "name": "<|im_start|>", "content": "<|fim_middle|>"},
        ]),
        ("tool calls as extra list", "gpt-4o-mini", [
            {"role": "assistant", "tool_calls": [tool_call, tool_call], "content": ""},
        ]),
        ("names on every role", "gpt-4o-mini", [
            {"role": r, "name": n, "content": "hi"}
            for r, n in [("system", "sys"), ("user", "alice"), ("assistant", "bot"), ("tool", "t")]
        ]),
        ("developer role", "o3-mini", [
            {"role": "developer", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]),
    ]


MODELS = ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o-mini", "gpt-4o", "gpt-4", "gpt-3.5-turbo",
          "gpt-3.5-turbo-0301", "o1", "o3-mini", "gpt-5-mini", "gpt-4.1"]


def random_cases(rng: random.Random, images, n: int):
    tool_call = lambda i: {"id": f"call_{i}", "type": "function",  # noqa: E731
                           "function": {"name": "f", "arguments": json.dumps({"i": i})}}
    image_keys = [k for k, (_, data) in images.items() if "10000x1" not in k and len(data) < 2000]
    cases = []
    for i in range(n):
        msgs = []
        for j in range(rng.randint(1, 6)):
            role = rng.choice(["system", "user", "user", "assistant", "assistant", "tool", "developer"])
            m = {"role": role}
            r = rng.random()
            if r < 0.55:
                m["content"] = rand_text(rng)
            elif r < 0.65:
                m["content"] = rand_unicode(rng, rng.randint(0, 40))
            elif r < 0.75:
                m["content"] = None
            else:
                parts = []
                for _ in range(rng.randint(0, 3)):
                    if rng.random() < 0.7 or not image_keys:
                        parts.append({"type": "text", "text": rand_text(rng)})
                    else:
                        declared, data = images[rng.choice(image_keys)]
                        parts.append(image_part(declared, data, rng.choice(["low", "high", "auto"])))
                m["content"] = parts
            if rng.random() < 0.25:
                m["name"] = rng.choice(NAMES)
            if role == "assistant" and rng.random() < 0.3:
                m["tool_calls"] = [tool_call(k) for k in range(rng.randint(1, 2))]
            if role == "tool":
                m["tool_call_id"] = f"call_{j}"
            if rng.random() < 0.1:
                m["reasoning_content"] = rand_text(rng)
            if rng.random() < 0.15:
                extra = rand_value(rng)
                if isinstance(extra, list):  # a list field is read as content parts
                    extra = {"items": extra}
                m[rng.choice(["meta", "extra", "audio", "score"])] = extra
            msgs.append(m)
        cases.append((f"random {i}", rng.choice(MODELS), msgs))
    return cases


def order_sensitive(messages) -> bool:
    """True if some dict that gets repr'd has keys out of sorted order."""

    def unsorted(v) -> bool:
        if isinstance(v, dict):
            keys = list(v)
            return keys != sorted(keys) or any(unsorted(x) for x in v.values())
        if isinstance(v, list):
            return any(unsorted(x) for x in v)
        return False

    for m in messages:
        for value in m.values():
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, dict) and item.get("type") == "text":
                        if unsorted(item.get("text")):
                            return True
            elif unsorted(value):
                return True
    return False


def run_case(token_counting, counters, name, model, messages):
    counter = counters.setdefault(model, tokens_camel.counter(token_counting, model))
    text = json.dumps(messages, ensure_ascii=False)
    # CAMEL sees what json.loads makes of the text we store.
    case = {"name": name, "model": model, "messages": text,
            "order_sensitive": order_sensitive(messages)}
    try:
        case["expected"] = counter.count_tokens_from_messages(json.loads(text))
    except Exception as e:  # noqa: BLE001 - record what CAMEL raises
        case["error"] = re.sub(r" at 0x[0-9a-f]+", "", f"{type(e).__name__}: {e}")[:200]
    return case


def reprs(rng: random.Random):
    values = [None, True, False, 0, -1, 2**64 - 1, -(2**63), "", "it's", 'a "b"', "both ' \"",
              {}, [], {"a": [1, {"b": None}]}]
    values += [rand_float(rng) for _ in range(300)]
    values += [rand_unicode(rng, rng.randint(1, 30)) for _ in range(300)]
    values += [rand_value(rng) for _ in range(200)]
    # Every character class boundary of isprintable in the BMP, once.
    edges = []
    prev = True
    for cp in range(0x80, 0x30000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        p = chr(cp).isprintable()
        if p != prev:
            edges.append(chr(cp - 1) if 0xD800 > cp - 1 or cp - 1 > 0xDFFF else "")
            edges.append(chr(cp))
        prev = p
    for i in range(0, len(edges), 40):
        values.append("".join(edges[i:i + 40]))
    out = []
    for v in values:
        text = json.dumps(v, ensure_ascii=False)
        out.append([text, str(json.loads(text))])
    return out


def base64_cases(rng: random.Random):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    noise = "= \n\r\t-_.!*~é"
    out = []
    fixed = ["", "=", "==", "a", "ab", "abc", "abcd", "ab=", "ab==", "abc=", "ab=c", "a=bc", "=abc",
             "abcd=", "abcd==efgh", "ab=\n=", "a b\tc\nd", "YQ", "YQ=", "YQ==", "YWI", "YWI=",
             "!!!!", "ab-_cd", "abcde", "abcdef", "abcdefg", "abcdefg=", "ab==cd=="]
    for t in fixed:
        out.append(t)
    for _ in range(300):
        n = rng.randint(0, 24)
        out.append("".join(rng.choice(alphabet) if rng.random() < 0.8 else rng.choice(noise)
                           for _ in range(n)))
    cases = []
    for t in out:
        try:
            cases.append([t, base64.b64decode(t).hex()])
        except Exception:  # noqa: BLE001
            cases.append([t, None])
    return cases


def main() -> int:
    check = "--check" in sys.argv
    token_counting, _ = tokens_camel.load()
    import tiktoken

    rng = random.Random(SEED)
    images = build_images()
    counters = {}
    raw = reference_cases() + image_cases(images) + structural_cases() + random_cases(rng, images, 160)
    cases = [run_case(token_counting, counters, *c) for c in raw]
    doc = {
        "generator": "scripts/gen/tokens_fixture.py",
        "camel": tokens_camel.CAMEL_VERSION,
        "tiktoken": tiktoken.__version__,
        "python": ".".join(map(str, sys.version_info[:3])),
        "unicode": unicodedata.unidata_version,
        "cases": cases,
        "reprs": reprs(rng),
        "base64": base64_cases(rng),
    }
    text = json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
    if check:
        with open(OUT) as f:
            if f.read() != text:
                print("tests/data/token_counts.json is out of date", file=sys.stderr)
                return 1
        return 0
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(text)
    errors = sum(1 for c in cases if "error" in c)
    print(f"{len(cases)} cases ({errors} errors), {len(doc['reprs'])} reprs, "
          f"{len(doc['base64'])} base64 cases, {len(text) // 1024} KiB -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
