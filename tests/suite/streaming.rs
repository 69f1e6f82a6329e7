//! Streams against the scripted loopback server, in both builds: recorded provider streams,
//! quirks, in-stream errors, stalls, long healthy streams, early drops.

use std::time::{Duration, Instant};

use openai_compatible::{
    ChatCompletion, ChatCompletionChunk, Error, FinishReason, OpenAICompatibleModel, TimeoutPhase,
};
use serde_json::{json, Value};

use crate::support::modes::{collect, next};
use crate::support::{self, assert_elapsed, assert_timeout, hi, sse_chunks, Reply, ScriptedServer};

fn model(server: &ScriptedServer, timeout: Duration, retries: u32) -> OpenAICompatibleModel {
    support::model(server)
        .timeout(timeout)
        .max_retries(retries)
        .build()
        .unwrap()
}

/// Every item of one stream from `server` (5 s timeout, no retries).
#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
async fn stream_items(
    server: &ScriptedServer,
) -> Vec<openai_compatible::Result<ChatCompletionChunk>> {
    let stream = model(server, Duration::from_secs(5), 0)
        .stream(&hi())
        .await
        .unwrap();
    collect(stream).await
}

/// The completion assembled from one stream from `server` (5 s timeout, no retries).
#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
async fn accumulated(server: &ScriptedServer) -> ChatCompletion {
    let stream = model(server, Duration::from_secs(5), 0)
        .stream(&hi())
        .await
        .unwrap();
    stream.accumulate().await.unwrap()
}

fn capture(name: &str) -> String {
    let path = format!("{}/data/captures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An independent reading of a recorded stream: the concatenated content of choice 0 and
/// the distinct tool-call ids, straight from the JSON.
fn expected(sse: &str) -> (String, Vec<String>) {
    let mut content = String::new();
    let mut ids: Vec<String> = Vec::new();
    for line in sse.lines() {
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(data.trim()) else {
            continue;
        };
        for choice in v["choices"].as_array().into_iter().flatten() {
            if choice["index"].as_u64().unwrap_or(0) != 0 {
                continue;
            }
            if let Some(t) = choice["delta"]["content"].as_str() {
                content.push_str(t);
            }
            for call in choice["delta"]["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if let Some(id) = call["id"].as_str().filter(|id| !id.is_empty()) {
                    if !ids.iter().any(|known| known == id) {
                        ids.push(id.to_owned());
                    }
                }
            }
        }
    }
    (content, ids)
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn every_recorded_provider_stream_accumulates() {
    let dir = format!("{}/data/captures", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        // Responses-mode streams (`*-responses-*`) are chat chunks only after conversion:
        // tests/suite/responses.rs reads them.
        .filter(|n| n.ends_with(".sse") && !n.contains("-responses-"))
        .collect();
    names.sort();
    let mut checked = 0;
    for name in names {
        let body = capture(&name);
        if body.starts_with("{\"error\"") {
            continue; // an error answer recorded under a stream name; covered elsewhere
        }
        let reply = if body.trim_start().starts_with("data:") {
            Reply::sse(&[body.as_str()])
        } else {
            // Recorded from a server that ignores `stream` and answers with plain JSON.
            Reply::text(200, "application/json", &body)
        };
        let server = ScriptedServer::start(vec![reply]);
        let stream = model(&server, Duration::from_secs(5), 0)
            .stream(&hi())
            .await
            .unwrap();
        let completion = stream
            .accumulate()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let choice = &completion.choices[0];
        assert!(choice.finish_reason.is_some(), "{name}");
        if body.trim_start().starts_with("data:") {
            let (content, ids) = expected(&body);
            assert_eq!(completion.content().unwrap_or(""), content, "{name}");
            let calls = choice.message.tool_calls.clone().unwrap_or_default();
            let got: Vec<String> = calls.iter().map(|c| c.id.clone()).collect();
            assert_eq!(got, ids, "{name}");
            for call in &calls {
                let args: Value = call
                    .function
                    .parse_arguments()
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(args.is_object(), "{name}");
            }
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} captures checked");
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn usage_chunk_and_the_request_says_stream() {
    let server = ScriptedServer::start(vec![Reply::sse(&[capture("xllamacpp-stream.sse")])]);
    let m = support::model(&server)
        .model_config(json!({"stream": true, "stream_options": {"include_usage": true}}))
        .build()
        .unwrap();
    let items = collect(m.stream(&hi()).await.unwrap()).await;
    let last = items.last().unwrap().as_ref().unwrap();
    assert!(last.choices.is_empty());
    assert!(last.usage.as_ref().unwrap().total_tokens > 0);
    let body = server.requests()[0].json();
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn wire_quirks_decode() {
    // CRLF endings, `data:` without a space, comments, event and id lines, a keep-alive, and
    // a final event without the blank line.
    let body = "data:{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"a\"}}]}\r\n\r\n\
                : keep-alive\r\n\r\n\
                event: message\r\nid: 7\r\nretry: 10\r\ndata: {\"choices\":[{\"index\":0,\r\ndata: \"delta\":{\"content\":\"b\"}}]}\r\n\r\n\
                data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"eos_token\"}]}";
    let server = ScriptedServer::start(vec![Reply::sse(&[body])]);
    let c = accumulated(&server).await;
    assert_eq!(c.content(), Some("ab"));
    assert_eq!(
        c.choices[0].finish_reason,
        Some(FinishReason::Other("eos_token".into()))
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn utf8_split_across_reads() {
    let event = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"h\u{e9}llo \u{1F600}\"},\"finish_reason\":\"stop\"}]}\n\n";
    let bytes = event.as_bytes();
    let split_at = event.find('\u{e9}').unwrap() + 1; // inside the two-byte é
    let emoji = event.find('\u{1F600}').unwrap() + 2; // inside the four-byte emoji
    let pieces = vec![
        (bytes[..split_at].to_vec(), Duration::ZERO),
        (bytes[split_at..emoji].to_vec(), Duration::from_millis(30)),
        (bytes[emoji..].to_vec(), Duration::from_millis(30)),
        (b"data: [DONE]\n\n".to_vec(), Duration::ZERO),
    ];
    let server = ScriptedServer::start(vec![Reply::sse::<&str>(&[]).pieces(pieces)]);
    let c = accumulated(&server).await;
    assert_eq!(c.content(), Some("h\u{e9}llo \u{1F600}"));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn an_error_inside_the_stream_is_typed() {
    let mut events = sse_chunks(&["par"]);
    events.truncate(2); // role + one content chunk
    events.push("data: {\"error\":{\"message\":\"model crashed\",\"type\":\"server_error\",\"code\":500}}\n\n".into());
    let server = ScriptedServer::start(vec![Reply::sse(&events)]);
    let items = collect(
        model(&server, Duration::from_secs(5), 3)
            .stream(&hi())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(items.len(), 3);
    assert!(items[0].is_ok() && items[1].is_ok());
    match &items[2] {
        Err(Error::StreamApi(e)) => {
            assert_eq!(e.message, "model crashed");
            assert_eq!(e.kind.as_deref(), Some("server_error"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.hits(), 1, "never retried once the body started");

    let server = ScriptedServer::start(vec![Reply::sse(&[
        "data: {\"object\":\"error\",\"message\":\"vllm engine died\",\"code\":500}\n\n",
    ])]);
    let items = stream_items(&server).await;
    assert!(
        matches!(&items[0], Err(Error::StreamApi(e)) if e.message == "vllm engine died"),
        "{items:?}"
    );

    let server = ScriptedServer::start(vec![Reply::sse(&[
        "event: error\ndata: {\"message\":\"overloaded\"}\n\n",
    ])]);
    let items = stream_items(&server).await;
    assert!(matches!(&items[0], Err(Error::StreamApi(e)) if e.message == "overloaded"));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_silent_stream_times_out_after_the_timeout() {
    let events = sse_chunks(&["one", "two", "three"]);
    let server = ScriptedServer::start(vec![Reply::sse(&events).stall_after(2)]);
    let mut stream = model(&server, Duration::from_millis(500), 3)
        .stream(&hi())
        .await
        .unwrap();
    let mut ok = 0;
    let t = Instant::now();
    let err = loop {
        match next(&mut stream).await {
            Some(Ok(_)) => ok += 1,
            Some(Err(e)) => break e,
            None => panic!("the stream ended instead of timing out"),
        }
    };
    assert_eq!(ok, 2);
    let after = assert_timeout(&err, TimeoutPhase::StreamIdle);
    assert_eq!(after, Duration::from_millis(500));
    assert_elapsed(t, Duration::from_millis(450)..Duration::from_secs(3));
    let after = next(&mut stream).await;
    assert!(after.is_none(), "nothing after the error");
    // Reading past the end keeps answering "nothing", in both builds.
    let again = next(&mut stream).await;
    assert!(again.is_none());
    assert_eq!(server.hits(), 1);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_long_lively_stream_is_never_cut() {
    let words: Vec<String> = (0..8).map(|i| format!("w{i} ")).collect();
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let events = sse_chunks(&refs);
    // 12 events 200 ms apart: 2.4 s in all, against a 600 ms timeout.
    let server = ScriptedServer::start(vec![
        Reply::sse(&events).piece_delay(Duration::from_millis(200))
    ]);
    let t = Instant::now();
    let c = model(&server, Duration::from_millis(600), 0)
        .stream(&hi())
        .await
        .unwrap()
        .accumulate()
        .await
        .unwrap();
    assert!(t.elapsed() > Duration::from_millis(1200));
    assert_eq!(c.content(), Some(words.concat().as_str()));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn the_head_wait_is_bounded_and_retried() {
    let server =
        ScriptedServer::always(Reply::sse(&sse_chunks(&["x"])).delay_head(Duration::from_secs(5)));
    let t = Instant::now();
    let err = model(&server, Duration::from_millis(300), 1)
        .stream(&hi())
        .await
        .unwrap_err();
    assert_timeout(&err, TimeoutPhase::ResponseHead);
    assert_elapsed(t, ..Duration::from_secs(3));
    assert_eq!(server.hits(), 2);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_stream_is_retried_until_its_head_arrives() {
    let server = ScriptedServer::start(vec![
        Reply::json(503, json!({"error": {"message": "loading"}})).header("retry-after-ms", "10"),
        Reply::sse(&sse_chunks(&["fine"])),
    ]);
    let c = model(&server, Duration::from_secs(5), 2)
        .stream(&hi())
        .await
        .unwrap()
        .accumulate()
        .await
        .unwrap();
    assert_eq!(c.content(), Some("fine"));
    assert_eq!(server.hits(), 2);

    let server = ScriptedServer::start(vec![Reply::text(
        400,
        "application/json; charset=utf-8",
        &capture("xllamacpp-err-ctx-overflow.json"),
    )]);
    let err = model(&server, Duration::from_secs(5), 2)
        .stream(&hi())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(
        err.api_error().unwrap().kind.as_deref(),
        Some("exceed_context_size_error")
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn ending_early_is_an_error_but_ending_after_finish_is_not() {
    let mut events = sse_chunks(&["cut"]);
    events.truncate(2); // no finish chunk, no [DONE]
    let server = ScriptedServer::start(vec![Reply::sse(&events)]);
    let items = stream_items(&server).await;
    assert!(
        matches!(items.last(), Some(Err(Error::IncompleteStream(_)))),
        "{items:?}"
    );

    let mut events = sse_chunks(&["whole"]);
    events.pop(); // finish chunk present, [DONE] missing
    let server = ScriptedServer::start(vec![Reply::sse(&events)]);
    let c = accumulated(&server).await;
    assert_eq!(c.content(), Some("whole"));

    let server = ScriptedServer::start(vec![
        Reply::sse(&sse_chunks(&["a", "b"])).truncated_chunked()
    ]);
    let items = stream_items(&server).await;
    assert!(items.iter().all(|i| i.is_ok()), "a complete event stream whose transport framing broke at the very end still counts: {items:?}");
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn dropping_a_stream_midway_frees_the_model() {
    let words: Vec<String> = (0..50).map(|i| format!("{i} ")).collect();
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let server = ScriptedServer::start(vec![
        Reply::sse(&sse_chunks(&refs)).piece_delay(Duration::from_millis(20)),
        Reply::json(200, support::chat_completion("after")),
    ]);
    let m = model(&server, Duration::from_secs(5), 0);
    let mut stream = m.stream(&hi()).await.unwrap();
    let first = next(&mut stream).await.unwrap().unwrap();
    assert_eq!(
        first.choices[0].delta.role.as_ref().map(|r| r.as_str()),
        Some("assistant")
    );
    drop(stream);
    let c = m.complete(&hi()).await.unwrap();
    assert_eq!(c.content(), Some("after"));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn n2_streams_assemble_every_choice() {
    let chunk = |i: u32, delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"choices": [{"index": i, "delta": delta, "finish_reason": finish}]})
        )
    };
    let events = vec![
        chunk(0, json!({"role": "assistant", "content": "A"}), Value::Null),
        chunk(1, json!({"role": "assistant", "content": "B"}), Value::Null),
        chunk(1, json!({"content": "b"}), json!("stop")),
        chunk(0, json!({"content": "a"}), json!("length")),
        "data: [DONE]\n\n".to_string(),
    ];
    let server = ScriptedServer::start(vec![Reply::sse(&events)]);
    let c = accumulated(&server).await;
    assert_eq!(c.choices.len(), 2);
    assert_eq!(c.content(), Some("Aa"));
    assert_eq!(c.choices[1].message.text().as_deref(), Some("Bb"));
    assert_eq!(c.choices[0].finish_reason, Some(FinishReason::Length));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_trickling_error_body_cannot_hold_the_caller() {
    // 60 one-byte pieces 100 ms apart: 6 s of error body against a 500 ms timeout.
    let pieces: Vec<(Vec<u8>, Duration)> =
        "{\"error\":{\"message\":\"slow and bad request\"}}   ......"
            .bytes()
            .take(60)
            .map(|b| (vec![b], Duration::from_millis(100)))
            .collect();
    let server =
        ScriptedServer::start(vec![Reply::text(400, "application/json", "").pieces(pieces)]);
    let t = Instant::now();
    let err = model(&server, Duration::from_millis(500), 0)
        .stream(&hi())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err:?}");
    assert_elapsed(t, ..Duration::from_millis(2500));
}

/// The plain answer to `hi` from `server` (5 s timeout, no retries).
#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
async fn plain(server: &ScriptedServer) -> ChatCompletion {
    model(server, Duration::from_secs(5), 0)
        .complete(&hi())
        .await
        .unwrap()
}

/// Per choice, the serialized fields on which a plain answer and the stream of the same
/// content must agree: the message's role, content, refusal, tool calls (their ids differ
/// between two requests, so only that they have one), function_call, and the choice's
/// finish_reason and logprobs. Read from the JSON, so a key left out shows as missing.
fn agreeing(c: &ChatCompletion) -> Vec<Value> {
    let v = serde_json::to_value(c).unwrap();
    v["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|choice| {
            let m = &choice["message"];
            let calls: Vec<Value> = m["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    json!({"has_id": t["id"].as_str().is_some_and(|id| !id.is_empty()),
                        "type": t["type"], "function": t["function"]})
                })
                .collect();
            let key = |k: &str| choice.get(k).cloned().unwrap_or(json!("<missing>"));
            // llama.cpp's plain answer to a tool call says `"content": ""` where its stream
            // sends no text at all: both mean "no text".
            let content = match &m["content"] {
                Value::String(t) if t.is_empty() => Value::Null,
                other => other.clone(),
            };
            json!({
                "index": key("index"),
                "role": m["role"],
                "content": content,
                "refusal": m["refusal"],
                "tool_calls": calls,
                "function_call": m["function_call"],
                "finish_reason": key("finish_reason"),
                "logprobs": key("logprobs"),
            })
        })
        .collect()
}

/// Asserts the serialized completion has every key a ChatCompletion requires.
#[track_caller]
fn assert_complete(c: &ChatCompletion, name: &str) {
    let v = serde_json::to_value(c).unwrap();
    for key in ["id", "object", "created", "model", "choices"] {
        assert!(v.get(key).is_some(), "{name}: no {key}");
    }
    assert_eq!(v["object"], "chat.completion", "{name}");
    for choice in v["choices"].as_array().unwrap() {
        for key in ["index", "message", "finish_reason", "logprobs"] {
            assert!(choice.get(key).is_some(), "{name}: a choice has no {key}");
        }
    }
}

/// Recorded pairs: a plain answer and a stream of the same content from the same server
/// (the synthetic pair is OpenAI's refusal-with-logprobs shape, which no recorded server
/// produces).
const PAIRS: &[(&str, &str)] = &[
    ("fakellm-nonstream.json", "fakellm-stream.sse"),
    ("fakellm-tools.json", "fakellm-tools-stream.sse"),
    ("litellm-nonstream.json", "litellm-stream.sse"),
    (
        "litellm-llamacpp-json-schema.json",
        "litellm-llamacpp-json-schema-stream.sse",
    ),
    ("litellm-llamacpp-n2.json", "litellm-llamacpp-n2-stream.sse"),
    (
        "litellm-llamacpp-tools.json",
        "litellm-llamacpp-tools-stream.sse",
    ),
    (
        "llama-cpp-python-server-tools-named.json",
        "llama-cpp-python-server-tools-named-stream.sse",
    ),
    ("mock-ai-api-nonstream.json", "mock-ai-api-stream.sse"),
    ("mockllm-nonstream.json", "mockllm-stream.sse"),
    (
        "openai-mock-api-nonstream.json",
        "openai-mock-api-stream.sse",
    ),
    (
        "transformers-serve-json-schema.json",
        "transformers-serve-json-schema-stream.sse",
    ),
    (
        "xllamacpp-json-schema.json",
        "xllamacpp-json-schema-stream.sse",
    ),
    (
        "xllamacpp-tools-json-schema.json",
        "xllamacpp-tools-json-schema-stream.sse",
    ),
    ("xllamacpp-tools-n2.json", "xllamacpp-tools-n2-stream.sse"),
    (
        "xllamacpp-tools-tools.json",
        "xllamacpp-tools-tools-stream.sse",
    ),
    (
        "synthetic-openai-refusal-logprobs.json",
        "synthetic-openai-refusal-logprobs-stream.sse",
    ),
];

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_recorded_stream_accumulates_to_its_plain_answer() {
    for &(answer, stream) in PAIRS {
        let server = ScriptedServer::start(vec![
            Reply::text(200, "application/json", &capture(answer)),
            Reply::sse(&[capture(stream)]),
        ]);
        let want = plain(&server).await;
        let got = accumulated(&server).await;
        assert_complete(&got, stream);
        let mut want = agreeing(&want);
        if stream == "litellm-llamacpp-n2-stream.sse" {
            // The proxy dropped choice 1's finish chunk: unknown, so null (the key stays).
            assert_eq!(want[1]["finish_reason"], "length");
            want[1]["finish_reason"] = Value::Null;
        }
        assert_eq!(agreeing(&got), want, "{stream} against {answer}");
    }
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn streamed_refusal_logprobs_and_function_call_reach_the_completion() {
    let server = ScriptedServer::start(vec![Reply::sse(&[capture(
        "synthetic-openai-refusal-logprobs-stream.sse",
    )])]);
    let c = accumulated(&server).await;
    let choice = &c.choices[0];
    assert_eq!(
        choice.message.refusal.as_deref(),
        Some("I'm sorry, but I can't help with that.")
    );
    let logprobs = choice.logprobs.as_ref().unwrap().as_object().unwrap();
    assert_eq!(logprobs.keys().collect::<Vec<_>>(), ["content", "refusal"]);
    assert_eq!(logprobs["content"], Value::Null);
    let tokens: String = logprobs["refusal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["token"].as_str().unwrap())
        .collect();
    assert_eq!(tokens, "I'm sorry, but I can't help with that.");

    let server = ScriptedServer::start(vec![Reply::sse(&[capture(
        "llama-cpp-python-server-tools-named-stream.sse",
    )])]);
    let c = accumulated(&server).await;
    let m = &c.choices[0].message;
    assert_eq!(
        m.extra["function_call"],
        json!({"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"})
    );
    assert_eq!(
        m.tool_calls.as_ref().unwrap()[0].function.name,
        "get_weather"
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_choice_without_a_finish_chunk_and_created_zero_stay_in_the_json() {
    // LiteLLM's proxy with n: 2 dropped choice 1's finish chunk.
    let server = ScriptedServer::start(vec![Reply::sse(&[capture(
        "litellm-llamacpp-n2-stream.sse",
    )])]);
    let c = accumulated(&server).await;
    assert_complete(&c, "litellm-llamacpp-n2-stream.sse");
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["choices"][1]["finish_reason"], Value::Null);
    assert_eq!(
        v["choices"][1]["message"]["content"],
        "I'm glad to make your acquaintance."
    );

    // Chunks that say `"created": 0`.
    let events: Vec<String> = sse_chunks(&["zero"])
        .into_iter()
        .map(|e| e.replace("\"created\":1700000000", "\"created\":0"))
        .collect();
    assert!(events[0].contains("\"created\":0"), "{}", events[0]);
    let server = ScriptedServer::start(vec![Reply::sse(&events)]);
    let c = accumulated(&server).await;
    assert_complete(&c, "created 0");
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(v["created"], 0);
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["choices"][0]["logprobs"], Value::Null);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_json_answer_to_a_stream_replays_function_call_and_logprobs() {
    // A server that ignores `stream` answers with the plain JSON; it is replayed as chunks.
    for answer in [
        "llama-cpp-python-server-tools-named.json",
        "synthetic-openai-refusal-logprobs.json",
    ] {
        let body = capture(answer);
        let server = ScriptedServer::start(vec![
            Reply::text(200, "application/json", &body),
            Reply::text(200, "application/json", &body),
        ]);
        let want = plain(&server).await;
        let got = accumulated(&server).await;
        assert_complete(&got, answer);
        assert_eq!(agreeing(&got), agreeing(&want), "{answer}");
    }
}
