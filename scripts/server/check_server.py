#!/usr/bin/env python3
"""Check the local llama.cpp test server against the behaviour documented in
scripts/server/README.md. Standard library only; run with any python3:

    scripts/server/server.sh start && python3 scripts/server/check_server.py

Base URL and key come from OPENAI_COMPATIBILITY_API_BASE_URL / _API_KEY, else from
.server/url and .server/api_key. Prints one line per check and a closing
"N passed, N failed" line; exits 1 if any check failed.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # scripts/server/ -> the repository root


def _state(name):
    p = ROOT / ".server" / name
    return p.read_text().strip() if p.exists() else None


BASE = (os.environ.get("OPENAI_COMPATIBILITY_API_BASE_URL") or _state("url") or "").rstrip("/")
KEY = os.environ.get("OPENAI_COMPATIBILITY_API_KEY") or _state("api_key") or "sk-local-test"
ROOT_URL = BASE[: -len("/v1")] if BASE.endswith("/v1") else BASE

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def fewshot():
    """Three worked get_weather examples, then 'What is the weather in Paris?'.
    Same body as tests/data/captures/xllamacpp-tools-fewshot.request.json minus tool_choice."""
    msgs = [{"role": "system", "content": "Always call get_weather for weather questions."}]
    for city in ("London", "Tokyo", "Berlin"):
        msgs += [
            {"role": "user", "content": f"What is the weather in {city}?"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": f"call_{city}", "type": "function",
             "function": {"name": "get_weather", "arguments": json.dumps({"city": city})}}]},
            {"role": "tool", "tool_call_id": f"call_{city}", "content": '{"temp_c": 20}'},
            {"role": "assistant", "content": f"It is 20 C in {city}."},
        ]
    msgs.append({"role": "user", "content": "What is the weather in Paris?"})
    return {"model": "smollm2", "messages": msgs, "tools": TOOLS, "max_tokens": 60, "temperature": 0}


def request(path, body=None, key=KEY, method=None, raw=None, base=BASE):
    """Returns (status, headers, text)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method=method or ("POST" if data is not None else "GET"))
    req.add_header("Content-Type", "application/json")
    if key is not None:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with OPENER.open(req, timeout=120) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def chat(body, **kw):
    body = {"model": "smollm2", **body}
    status, headers, text = request("/chat/completions", body, **kw)
    try:
        return status, headers, json.loads(text)
    except ValueError:
        return status, headers, text


def sse(body):
    """Returns (status, content-type, list of parsed chunks, saw_done)."""
    status, headers, text = request("/chat/completions", {"model": "smollm2", "stream": True, **body})
    chunks, done = [], False
    for line in text.splitlines():
        if not line.startswith("data: "):
            continue
        payload = line[len("data: "):]
        if payload == "[DONE]":
            done = True
        else:
            chunks.append(json.loads(payload))
    return status, headers.get("Content-Type", ""), chunks, done


RESULTS = []
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via *_proxy


def check(name):
    def deco(fn):
        t0 = time.monotonic()
        try:
            note = fn()
            RESULTS.append(True)
            print(f"PASS {name} ({time.monotonic() - t0:.2f}s){': ' + note if note else ''}", flush=True)
        except Exception as e:  # noqa: BLE001 - report and go on
            RESULTS.append(False)
            print(f"FAIL {name} ({time.monotonic() - t0:.2f}s): {type(e).__name__}: {e}", flush=True)
        return fn
    return deco


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def error_of(status, data, code, etype):
    expect(status == code, f"status {status}, body {data}")
    err = data["error"]
    expect(err["type"] == etype and err["code"] == code, f"error {err}")
    return err["message"]


HELLO = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8, "temperature": 0}


def main():
    if not BASE:
        sys.exit("no server URL: run scripts/server/server.sh start (or set OPENAI_COMPATIBILITY_API_BASE_URL)")
    print(f"checking {BASE}", flush=True)

    @check("GET /health needs no key -> 200 {status: ok}")
    def _():
        s, _, t = request("/health", key=None, base=ROOT_URL)
        expect(s == 200 and json.loads(t) == {"status": "ok"}, (s, t))

    @check("GET /v1/models -> data[0].id == smollm2; without key 401")
    def _():
        s, _, t = request("/models")
        expect(s == 200 and json.loads(t)["data"][0]["id"] == "smollm2", (s, t[:200]))
        expect(request("/models", key=None)[0] == 401, "models without key")

    @check("plain completion, max_tokens 8, temperature 0: deterministic")
    def _():
        s, h, a = chat(HELLO)
        expect(s == 200 and a["object"] == "chat.completion", (s, a))
        expect(h.get("Content-Type", "").startswith("application/json"), h)
        c = a["choices"][0]
        expect(c["finish_reason"] == "length" and c["message"]["role"] == "assistant", c)
        expect(a["usage"]["completion_tokens"] == 8 and a["model"] == "smollm2", a)
        expect(a["id"].startswith("chatcmpl-") and "timings" in a, a)
        s2, _, b = chat(HELLO)
        expect(b["choices"][0]["message"]["content"] == c["message"]["content"], "second answer differs")
        return repr(c["message"]["content"])

    @check("stream + include_usage: role chunk, content, finish chunk, usage chunk with choices [], [DONE]")
    def _():
        s, ctype, chunks, done = sse({**HELLO, "stream_options": {"include_usage": True}})
        expect(s == 200 and ctype.startswith("text/event-stream") and done, (s, ctype, done))
        expect(chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}, chunks[0])
        expect(all(c["object"] == "chat.completion.chunk" for c in chunks), "object")
        expect(len({c["id"] for c in chunks}) == 1, "one id for all chunks")
        fin = chunks[-2]["choices"][0]
        expect(fin["finish_reason"] == "length" and fin["delta"] == {}, fin)
        last = chunks[-1]
        expect(last["choices"] == [] and last["usage"]["completion_tokens"] == 8, last)
        expect(all("usage" not in c for c in chunks[:-1]), "usage only on the last chunk")
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
        expect(text == chat(HELLO)[2]["choices"][0]["message"]["content"], "streamed text != non-streamed")

    @check("stream without stream_options: no usage chunk, [DONE]")
    def _():
        s, _, chunks, done = sse(HELLO)
        expect(s == 200 and done and all("usage" not in c for c in chunks), chunks[-1])
        expect(chunks[-1]["choices"][0]["finish_reason"] == "length", chunks[-1])

    for choice in ("required", "auto", None):
        @check(f"few-shot tools, tool_choice={choice!r} -> finish_reason tool_calls, get_weather(Paris)")
        def _(choice=choice):
            body = fewshot()
            if choice:
                body["tool_choice"] = choice
            s, _, a = chat(body)
            c = a["choices"][0]
            expect(s == 200 and c["finish_reason"] == "tool_calls", (s, a))
            expect(c["message"]["content"] == "", f"content {c['message']['content']!r}")
            tc = c["message"]["tool_calls"]
            expect(len(tc) == 1 and tc[0]["type"] == "function" and tc[0]["function"]["name"] == "get_weather", tc)
            expect(isinstance(tc[0]["function"]["arguments"], str), "arguments is a JSON string")
            expect(json.loads(tc[0]["function"]["arguments"]) == {"city": "Paris"}, tc)
            expect(len(tc[0]["id"]) == 32 and tc[0]["id"].isalnum(), tc[0]["id"])

    @check("few-shot tools streamed (auto): tool_call deltas, finish_reason tool_calls, usage chunk")
    def _():
        s, _, chunks, done = sse({**fewshot(), "tool_choice": "auto", "stream_options": {"include_usage": True}})
        expect(s == 200 and done, s)
        deltas = [tc for c in chunks if c["choices"] for tc in c["choices"][0]["delta"].get("tool_calls", [])]
        first = deltas[0]
        expect(first["index"] == 0 and first["type"] == "function" and first["id"], first)
        expect(first["function"]["name"] == "get_weather", first)
        expect(all("id" not in d and "name" not in d["function"] for d in deltas[1:]), "later deltas: args only")
        args = "".join(d["function"]["arguments"] for d in deltas)
        expect(json.loads(args) == {"city": "Paris"}, args)
        expect(chunks[-2]["choices"][0]["finish_reason"] == "tool_calls", chunks[-2])
        expect(chunks[-1]["choices"] == [] and "usage" in chunks[-1], chunks[-1])
        return f"{len(deltas)} tool_call deltas"

    @check("tool result sent back -> plain answer, finish_reason stop")
    def _():
        body = fewshot()
        body["messages"] += [
            {"role": "assistant", "content": None, "tool_calls": [{"id": "call_Paris", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
            {"role": "tool", "tool_call_id": "call_Paris", "content": '{"temp_c": 20}'},
        ]
        s, _, a = chat(body)
        c = a["choices"][0]
        expect(s == 200 and c["finish_reason"] == "stop" and "tool_calls" not in c["message"], a)
        expect("Paris" in c["message"]["content"], c)
        return repr(c["message"]["content"])

    @check("tool_choice none: raw <tool_call> text in content, no tool_calls")
    def _():
        s, _, a = chat({**fewshot(), "tool_choice": "none"})
        c = a["choices"][0]
        expect(s == 200 and "tool_calls" not in c["message"] and "<tool_call>" in c["message"]["content"], a)

    @check("named tool_choice object: accepted, treated like auto")
    def _():
        s, _, a = chat({**fewshot(), "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})
        expect(s == 200 and a["choices"][0]["finish_reason"] == "tool_calls", a)

    @check("tool_choice required without examples: no forced call (content, finish_reason length)")
    def _():
        s, _, a = chat({"messages": [{"role": "user", "content": "Tell me a joke."}], "tools": TOOLS,
                        "tool_choice": "required", "max_tokens": 30, "temperature": 0})
        c = a["choices"][0]
        expect(s == 200 and "tool_calls" not in c["message"] and c["finish_reason"] == "length", a)

    @check("bad tool_choice value -> 400 invalid_request_error")
    def _():
        s, _, a = chat({**fewshot(), "tool_choice": "bogus"})
        return error_of(s, a, 400, "invalid_request_error")

    @check("n=2 -> two choices; n=3 -> 400 (n <= slots)")
    def _():
        s, _, a = chat({**HELLO, "n": 2})
        expect(s == 200 and [c["index"] for c in a["choices"]] == [0, 1], a)
        s, _, b = chat({**HELLO, "n": 3})
        return error_of(s, b, 400, "invalid_request_error")

    @check("n=2 streamed with include_usage: chunks of both indexes, one usage chunk per choice")
    def _():
        s, _, chunks, done = sse({**HELLO, "n": 2, "stream_options": {"include_usage": True}})
        idx = {c["choices"][0]["index"] for c in chunks if c["choices"]}
        usage = [c for c in chunks if not c["choices"]]
        expect(s == 200 and done and idx == {0, 1}, idx)
        expect(len(usage) == 2, f"{len(usage)} usage chunks")

    @check("response_format json_schema: grammar-enforced (schema holds even for an unrelated prompt)")
    def _():
        schema = {"type": "object", "properties": {"ok": {"type": "boolean"}, "color": {"enum": ["red", "green"]}},
                  "required": ["ok", "color"], "additionalProperties": False}
        s, _, a = chat({"messages": [{"role": "user", "content": "Tell me a joke."}], "max_tokens": 60,
                        "temperature": 0, "response_format": {"type": "json_schema",
                                                              "json_schema": {"name": "flag", "strict": True,
                                                                              "schema": schema}}})
        c = a["choices"][0]
        v = json.loads(c["message"]["content"])
        expect(s == 200 and c["finish_reason"] == "stop", a)
        expect(set(v) == {"ok", "color"} and isinstance(v["ok"], bool) and v["color"] in ("red", "green"), v)
        return repr(c["message"]["content"])

    @check("response_format json_object: content is JSON")
    def _():
        s, _, a = chat({"messages": [{"role": "user", "content": "Return a JSON object with key a = 1."}],
                        "max_tokens": 40, "temperature": 0, "response_format": {"type": "json_object"}})
        c = a["choices"][0]
        expect(s == 200 and isinstance(json.loads(c["message"]["content"]), dict), a)

    @check("oversized prompt -> 400 exceed_context_size_error (also with stream: true)")
    def _():
        big = {"messages": [{"role": "user", "content": "hello world " * 1500}], "max_tokens": 4}
        s, _, a = chat(big)
        msg = error_of(s, a, 400, "exceed_context_size_error")
        expect(a["error"]["n_ctx"] == 2048 and a["error"]["n_prompt_tokens"] > 2048, a)
        s, h, text = request("/chat/completions", {**big, "stream": True})
        expect(s == 400 and h.get("Content-Type", "").startswith("application/json"), (s, h))
        return msg

    @check("wrong key / no key -> 401 authentication_error 'Invalid API Key'")
    def _():
        for key in ("sk-wrong", None):
            s, _, a = chat(HELLO, key=key)
            expect(error_of(s, a, 401, "authentication_error") == "Invalid API Key", a)

    @check("unknown or missing model name accepted; response model is smollm2")
    def _():
        s, _, a = chat({**HELLO, "model": "gpt-4o-mini"})
        expect(s == 200 and a["model"] == "smollm2", a)
        body = dict(HELLO)
        s, _, t = request("/chat/completions", body)
        expect(s == 200 and json.loads(t)["model"] == "smollm2", t[:200])

    @check("malformed JSON / missing messages / messages not an array -> 400 invalid_request_error")
    def _():
        s, _, t = request("/chat/completions", raw=b'{"messages": [')
        error_of(s, json.loads(t), 400, "invalid_request_error")
        s, _, t = request("/chat/completions", {"model": "smollm2"})
        expect(error_of(s, json.loads(t), 400, "invalid_request_error") == "'messages' is required", t)
        s, _, t = request("/chat/completions", {"messages": "hi"})
        error_of(s, json.loads(t), 400, "invalid_request_error")

    @check("no max_tokens: generation stops at the server's default cap (256 tokens)")
    def _():
        s, _, a = chat({"messages": [{"role": "user", "content": "Write a very long essay about Rome."}],
                        "temperature": 0})
        expect(s == 200 and a["usage"]["completion_tokens"] <= 256, a["usage"])
        return f"{a['usage']['completion_tokens']} tokens, finish_reason {a['choices'][0]['finish_reason']}"

    n_pass, n_fail = RESULTS.count(True), RESULTS.count(False)
    print(f"{n_pass} passed, {n_fail} failed")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
