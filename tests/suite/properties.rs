//! Property tests (proptest) over the public API, quick enough for every CI run (the fuzz
//! targets in `fuzz/` explore the same functions for minutes; this file runs in seconds).
//!
//! - Any split of a valid SSE body, sent through the real HTTP path (the scripted server,
//!   one write per piece, splits inside lines, CRLF pairs and UTF-8 sequences), yields the
//!   same chunks as the body in one piece, in both builds.
//! - `ChunkAccumulator` assembles the same completion whatever the interleaving of the choices'
//!   chunks (each choice's own order kept), with the usage chunk anywhere.
//! - Completions and chunks deserialize from arbitrary JSON (and from valid documents with one
//!   field replaced by anything) without panicking; what deserializes round-trips.
//! - Arbitrary error bodies, through HTTP, give a typed `Error::Api` with a message.
//!
//! Crate-private pure functions have their own `mod proptests` at the end of their file.

use std::time::Duration;

use openai_compatible::{ChatCompletion, ChatCompletionChunk, ChunkAccumulator, Error};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

use crate::support::modes::collect;
use crate::support::{self, hi, Reply, ScriptedServer};

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------
// SSE splits through HTTP
// ---------------------------------------------------------------------------------------

/// A valid stream body: deltas (any text, multi-byte characters included), comments, an
/// `event:` line, LF or CRLF line ends, a finish chunk and `[DONE]`.
fn sse_body() -> impl Strategy<Value = (Vec<u8>, Vec<String>)> {
    let text = prop::collection::vec(
        prop_oneof![
            Just("é".to_owned()),
            Just("日本".to_owned()),
            Just("🦀".to_owned()),
            Just("\n".to_owned()),
            "[a-z ]{1,6}",
        ],
        1..4,
    )
    .prop_map(|parts| parts.concat());
    (
        prop::collection::vec(text, 1..8),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(deltas, crlf, comments)| {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut body = String::new();
            for (i, d) in deltas.iter().enumerate() {
                if comments && i % 2 == 0 {
                    body.push_str(&format!(": keep-alive{nl}"));
                }
                if comments && i == 1 {
                    body.push_str(&format!("event: message{nl}"));
                }
                let chunk = json!({"id": "p", "choices": [{"index": 0, "delta": {"content": d}}]});
                body.push_str(&format!("data: {chunk}{nl}{nl}"));
            }
            let finish =
                json!({"id": "p", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
            body.push_str(&format!("data: {finish}{nl}{nl}data: [DONE]{nl}{nl}"));
            (body.into_bytes(), deltas)
        })
}

/// Cut points (as fractions of the body) for up to 12 pieces.
fn cuts() -> impl Strategy<Value = Vec<u16>> {
    prop::collection::vec(any::<u16>(), 0..12)
}

fn split(body: &[u8], cuts: &[u16]) -> Vec<(Vec<u8>, Duration)> {
    let mut at: Vec<usize> = cuts
        .iter()
        .map(|c| usize::from(*c) * body.len() / usize::from(u16::MAX))
        .collect();
    at.push(0);
    at.push(body.len());
    at.sort_unstable();
    at.dedup();
    at.windows(2)
        .map(|w| (body[w[0]..w[1]].to_vec(), Duration::from_millis(1)))
        .collect()
}

#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
async fn stream_chunks(server: &ScriptedServer) -> Vec<ChatCompletionChunk> {
    let m = support::model(server).build().unwrap();
    let s = m.stream(&hi()).await.unwrap();
    collect(s)
        .await
        .into_iter()
        .map(|item| item.unwrap_or_else(|e| panic!("{e:?}")))
        .collect()
}

#[cfg(not(feature = "async"))]
fn run_stream(server: &ScriptedServer) -> Vec<ChatCompletionChunk> {
    stream_chunks(server)
}

#[cfg(feature = "async")]
fn run_stream(server: &ScriptedServer) -> Vec<ChatCompletionChunk> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(stream_chunks(server))
}

#[test]
fn any_split_of_an_sse_body_gives_the_same_chunks_over_http() {
    let mut runner = TestRunner::new(config(12));
    runner
        .run(&(sse_body(), cuts()), |((body, deltas), cuts)| {
            let whole = ScriptedServer::start(vec![
                Reply::sse(&[""]).pieces(vec![(body.clone(), Duration::ZERO)])
            ]);
            let expected = run_stream(&whole);
            let pieces = split(&body, &cuts);
            let n = pieces.len();
            let split_server = ScriptedServer::start(vec![Reply::sse(&[""]).pieces(pieces)]);
            let got = run_stream(&split_server);
            prop_assert_eq!(&got, &expected, "{} pieces", n);
            let text: String = got
                .iter()
                .filter_map(|c| c.choices.first()?.delta.content.clone())
                .collect();
            prop_assert_eq!(text, deltas.concat());
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------------
// The accumulator on interleaved choices
// ---------------------------------------------------------------------------------------

/// The chunks of one choice: content pieces, then tool calls (id and name first, then
/// argument pieces), then the finish chunk.
fn choice_chunks(index: u32, content: &[String], calls: &[(String, Vec<String>)]) -> Vec<Value> {
    let mut out = Vec::new();
    out.push(json!({"choices": [{"index": index, "delta": {"role": "assistant"}}]}));
    for c in content {
        out.push(json!({"choices": [{"index": index, "delta": {"content": c}}]}));
    }
    for (i, (name, args)) in calls.iter().enumerate() {
        out.push(json!({"choices": [{"index": index, "delta": {"tool_calls": [
            {"index": i, "id": format!("call_{index}_{i}"), "type": "function", "function": {"name": name}}
        ]}}]}));
        for a in args {
            out.push(
                json!({"choices": [{"index": index, "delta": {"tool_calls": [
                    {"index": i, "function": {"arguments": a}}
                ]}}]}),
            );
        }
    }
    let finish = if calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    out.push(json!({"choices": [{"index": index, "delta": {}, "finish_reason": finish}]}));
    out
}

type Choice = (Vec<String>, Vec<(String, Vec<String>)>);

fn choices() -> impl Strategy<Value = Vec<Choice>> {
    let piece = "[a-zA-Z0-9 {}\":,é]{0,5}";
    let call = ("[a-z_]{1,8}", prop::collection::vec(piece, 0..4));
    let choice = (
        prop::collection::vec(piece, 0..5),
        prop::collection::vec(call, 0..3),
    );
    prop::collection::vec(choice, 1..4)
}

#[test]
fn the_accumulator_ignores_how_choices_interleave() {
    let mut runner = TestRunner::new(config(64));
    runner
        .run(
            &(choices(), prop::collection::vec(any::<u8>(), 64), any::<u8>()),
            |(choices, picks, usage_at)| {
                let mut queues: Vec<Vec<Value>> = choices
                    .iter()
                    .enumerate()
                    .map(|(i, (content, calls))| choice_chunks(i as u32, content, calls))
                    .collect();
                for q in &mut queues {
                    q.reverse();
                }
                // Interleave: pick a non-empty queue by the next random byte.
                let mut order = Vec::new();
                let mut p = picks.iter().cycle();
                while queues.iter().any(|q| !q.is_empty()) {
                    let live: Vec<usize> = (0..queues.len()).filter(|&i| !queues[i].is_empty()).collect();
                    let pick = live[usize::from(*p.next().unwrap()) % live.len()];
                    order.push(queues[pick].pop().unwrap());
                }
                let usage = json!({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}});
                let at = usize::from(usage_at) % (order.len() + 1);
                order.insert(at, usage);

                let mut acc = ChunkAccumulator::new();
                for v in &order {
                    let chunk: ChatCompletionChunk = serde_json::from_value(v.clone()).unwrap();
                    acc.push(&chunk);
                }
                let done = acc.finish();
                prop_assert_eq!(done.choices.len(), choices.len());
                prop_assert_eq!(done.usage.as_ref().map(|u| u.total_tokens), Some(3));
                for (i, (content, calls)) in choices.iter().enumerate() {
                    let c = &done.choices[i];
                    prop_assert_eq!(c.index, i as u32);
                    let text = c.message.text().map(|t| t.into_owned()).unwrap_or_default();
                    prop_assert_eq!(text, content.concat());
                    let got: Vec<(String, String, String)> = c
                        .message
                        .tool_calls
                        .iter()
                        .flatten()
                        .map(|t| (t.id.clone(), t.function.name.clone(), t.function.arguments.clone()))
                        .collect();
                    let want: Vec<(String, String, String)> = calls
                        .iter()
                        .enumerate()
                        .map(|(k, (name, args))| (format!("call_{i}_{k}"), name.clone(), args.concat()))
                        .collect();
                    prop_assert_eq!(got, want);
                    let finish = c.finish_reason.as_ref().map(|f| f.as_str().to_owned());
                    let want_finish = if calls.is_empty() { "stop" } else { "tool_calls" };
                    prop_assert_eq!(finish.as_deref(), Some(want_finish));
                }
                Ok(())
            },
        )
        .unwrap();
}

// ---------------------------------------------------------------------------------------
// Deserialization never panics
// ---------------------------------------------------------------------------------------

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Floats with few significant digits: serde_json (without its `float_roundtrip`
        // feature) may move a 17-digit float by one ulp on a parse, which is serde_json's
        // documented trade-off, not something this crate adds.
        (any::<i32>(), 0u32..6).prop_map(|(m, e)| Value::from(f64::from(m) / 10f64.powi(e as i32))),
        "[a-z_]{0,8}".prop_map(Value::String),
        Just(Value::String("stop".into())),
        Just(Value::String("assistant".into())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("choices".to_owned()),
                    Just("index".to_owned()),
                    Just("message".to_owned()),
                    Just("delta".to_owned()),
                    Just("content".to_owned()),
                    Just("role".to_owned()),
                    Just("tool_calls".to_owned()),
                    Just("function".to_owned()),
                    Just("arguments".to_owned()),
                    Just("usage".to_owned()),
                    Just("finish_reason".to_owned()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid completion and a valid chunk with the value at one path replaced.
fn mutated() -> impl Strategy<Value = Value> {
    let base = prop_oneof![
        Just(support::chat_completion("hello")),
        Just(
            json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "x",
                "tool_calls": [{"index": 0, "id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                "finish_reason": null, "logprobs": null}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
        ),
    ];
    (base, prop::collection::vec(any::<u8>(), 1..6), any_json()).prop_map(|(mut v, path, new)| {
        // Walk down by the random steps, building a JSON pointer, then replace that value.
        let mut pointer = String::new();
        let mut at = &v;
        for step in path {
            let next = match at {
                Value::Object(m) if !m.is_empty() => {
                    let k = m.keys().nth(usize::from(step) % m.len()).unwrap();
                    pointer.push('/');
                    pointer.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    &m[k]
                }
                Value::Array(a) if !a.is_empty() => {
                    let i = usize::from(step) % a.len();
                    pointer.push_str(&format!("/{i}"));
                    &a[i]
                }
                _ => break,
            };
            at = next;
        }
        if let Some(slot) = v.pointer_mut(&pointer) {
            *slot = new;
        }
        v
    })
}

#[test]
fn deserializing_any_json_never_panics_and_round_trips() {
    let mut runner = TestRunner::new(config(512));
    runner
        .run(&prop_oneof![any_json(), mutated()], |v| {
            let text = v.to_string();
            if let Ok(c) = serde_json::from_str::<ChatCompletion>(&text) {
                let again = serde_json::to_string(&c).unwrap();
                let back: ChatCompletion = serde_json::from_str(&again).unwrap();
                prop_assert_eq!(back, c);
            }
            if let Ok(c) = serde_json::from_str::<ChatCompletionChunk>(&text) {
                let again = serde_json::to_string(&c).unwrap();
                let back: ChatCompletionChunk = serde_json::from_str(&again).unwrap();
                prop_assert_eq!(&back, &c);
                let mut acc = ChunkAccumulator::new();
                acc.push(&c);
                let _ = acc.finish();
            }
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------------
// Error bodies through HTTP
// ---------------------------------------------------------------------------------------

#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
async fn error_of(server: &ScriptedServer) -> Error {
    let m = support::model(server).build().unwrap();
    m.complete(&hi()).await.unwrap_err()
}

#[test]
fn any_error_body_gives_a_typed_api_error() {
    let body = prop_oneof![
        any_json().prop_map(|v| v.to_string()),
        any_json().prop_map(|v| json!({"error": v}).to_string()),
        any_json().prop_map(|v| json!({"object": "error", "message": v, "code": v}).to_string()),
        ".{0,200}",
    ];
    let mut runner = TestRunner::new(config(24));
    runner
        .run(
            &(
                body,
                prop_oneof![Just(400u16), Just(404), Just(422), Just(401)],
            ),
            |(body, status)| {
                let server =
                    ScriptedServer::start(vec![Reply::text(status, "application/json", &body)]);
                #[cfg(not(feature = "async"))]
                let e = error_of(&server);
                #[cfg(feature = "async")]
                let e = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(error_of(&server));
                let api = e.api_error().expect("an API error");
                prop_assert_eq!(api.status, Some(status));
                prop_assert!(!api.message.is_empty());
                prop_assert!(!e.to_string().is_empty());
                Ok(())
            },
        )
        .unwrap();
}
