//! Answers recorded from real OpenAI-compatible servers, replayed through the scripted
//! server in both builds: every completion decodes and keeps what it carried, every error
//! body becomes a typed API error. Also the custom-client path.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use openai_compatible::{ChatCompletion, ChatMessage, Error, ErrorCode, OpenAICompatibleModel};
use serde_json::{json, Value};

use crate::support::{self, Reply, ScriptedServer};

fn captures() -> Vec<(String, String)> {
    let dir = format!("{}/data/captures", env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "txt"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

fn model(server: &ScriptedServer) -> OpenAICompatibleModel {
    support::model(server).build().unwrap()
}

/// Every recorded completion, replayed through the scripted server and decoded by the
/// model: (file name, the JSON as recorded, the completion).
#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
async fn recorded_completions() -> Vec<(String, Value, ChatCompletion)> {
    let mut out = Vec::new();
    for (name, body) in captures() {
        let Ok(raw) = serde_json::from_str::<Value>(&body) else {
            continue;
        };
        if raw.get("choices").is_none() || name.ends_with(".request.json") {
            continue;
        }
        let server = ScriptedServer::start(vec![Reply::text(200, "application/json", &body)]);
        let c = model(&server)
            .complete(&[ChatMessage::user("hi")])
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        out.push((name, raw, c));
    }
    out
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn every_recorded_completion_decodes_and_keeps_its_fields() {
    let decoded = recorded_completions().await;
    assert!(decoded.len() >= 15, "only {} completions", decoded.len());
    for (name, raw, c) in decoded {
        let raw_choices = raw["choices"].as_array().unwrap();
        assert_eq!(c.choices.len(), raw_choices.len(), "{name}");
        for (got, want) in c.choices.iter().zip(raw_choices) {
            let want_msg = &want["message"];
            assert_eq!(
                got.message.content.is_some(),
                want_msg["content"].is_string(),
                "{name}"
            );
            if let Some(text) = want_msg["content"].as_str() {
                // Think blocks are moved to reasoning_content; everything else is verbatim.
                if !text.contains("<think>") {
                    assert_eq!(got.message.text().as_deref(), Some(text), "{name}");
                }
            }
            let calls = want_msg["tool_calls"].as_array().map(Vec::len).unwrap_or(0);
            assert_eq!(
                got.message.tool_calls.as_ref().map(Vec::len).unwrap_or(0),
                calls,
                "{name}"
            );
            assert_eq!(
                got.finish_reason.as_ref().map(|f| f.as_str().to_owned()),
                want["finish_reason"].as_str().map(str::to_owned),
                "{name}"
            );
        }
        // Fields this crate does not model survive a round trip (llama.cpp's `timings`, …).
        let back = serde_json::to_value(&c).unwrap();
        for key in raw.as_object().unwrap().keys() {
            if !raw[key].is_null() {
                assert!(back.get(key).is_some(), "{name}: lost {key}");
            }
        }
    }
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn every_recorded_completion_writes_its_required_keys_as_they_came() {
    let decoded = recorded_completions().await;
    assert!(decoded.len() >= 15, "only {} completions", decoded.len());
    for (name, raw, c) in decoded {
        let back = serde_json::to_value(&c).unwrap();
        for key in ["id", "object", "created", "model"] {
            assert_eq!(back[key], raw[key], "{name}: {key}");
        }
        let choices = back["choices"].as_array().unwrap();
        for (got, want) in choices.iter().zip(raw["choices"].as_array().unwrap()) {
            // Written even when null; a server that left logprobs out gets null.
            for key in ["index", "message", "finish_reason", "logprobs"] {
                assert!(got.get(key).is_some(), "{name}: no {key}");
            }
            assert_eq!(got["finish_reason"], want["finish_reason"], "{name}");
            assert_eq!(got["logprobs"], want["logprobs"], "{name}");
            assert_eq!(
                got["message"]["function_call"], want["message"]["function_call"],
                "{name}"
            );
        }
    }
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn every_recorded_error_becomes_a_typed_api_error() {
    let mut checked = 0;
    for (name, body) in captures() {
        if !name.contains("-err-") || body.starts_with("HTTP/") {
            continue; // raw HTTP transcripts are replayed by the streaming tests
        }
        let raw: Option<Value> = serde_json::from_str(&body).ok();
        let Some(raw) = raw
            .filter(|v| v.get("error").is_some())
            .or(if body.starts_with('{') {
                None
            } else {
                Some(Value::Null)
            })
        else {
            continue; // a completion recorded under an error name (the server accepted it)
        };
        let status = if name.contains("500") { 500 } else { 400 };
        let server = ScriptedServer::start(vec![Reply::text(status, "application/json", &body)]);
        let err = model(&server)
            .complete(&[ChatMessage::user("hi")])
            .await
            .unwrap_err();
        let api = err.api_error().unwrap_or_else(|| panic!("{name}: {err:?}"));
        assert_eq!(api.status, Some(status), "{name}");
        if raw.is_null() {
            assert_eq!(api.message, body.trim(), "{name}");
            assert_eq!(api.body, body, "{name}");
        } else {
            let e = &raw["error"];
            assert_eq!(Some(api.message.as_str()), e["message"].as_str(), "{name}");
            assert_eq!(api.kind.as_deref(), e["type"].as_str(), "{name}");
            let code = match &e["code"] {
                Value::String(s) => Some(ErrorCode::Text(s.clone())),
                Value::Number(n) => Some(ErrorCode::Number(n.as_i64().unwrap())),
                _ => None,
            };
            assert_eq!(api.code, code, "{name}");
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} errors checked");
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_loading_server_is_retried() {
    let loading = std::fs::read_to_string(format!(
        "{}/data/captures/xllamacpp-err-503-loading.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let server = ScriptedServer::start(vec![
        Reply::text(503, "application/json", &loading).header("retry-after-ms", "10"),
        Reply::json(200, support::chat_completion("ready")),
    ]);
    let m = OpenAICompatibleModel::builder("m")
        .url(server.url())
        .api_key("k")
        .build()
        .unwrap();
    let c = m.complete(&[ChatMessage::user("hi")]).await.unwrap();
    assert_eq!(c.content(), Some("ready"));
    assert_eq!(server.hits(), 2);
}

/// Records every request body and answers with a fixed completion.
struct Recorder {
    calls: AtomicUsize,
    last: std::sync::Mutex<Option<Value>>,
}

impl Recorder {
    fn answer(&self, request: &Value) -> anyhow::Result<ChatCompletion> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        *self.last.lock().unwrap() = Some(request.clone());
        if request["messages"][0]["content"] == "fail" {
            anyhow::bail!("trainer unavailable");
        }
        Ok(serde_json::from_value(json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "from the custom client"}, "finish_reason": "stop"}]
        }))?)
    }
}

#[cfg(not(feature = "async"))]
impl openai_compatible::ChatClient for Recorder {
    fn create(&self, request: &Value) -> anyhow::Result<ChatCompletion> {
        self.answer(request)
    }
}

#[cfg(feature = "async")]
#[openai_compatible::async_trait]
impl openai_compatible::ChatClient for Recorder {
    async fn create(&self, request: &Value) -> anyhow::Result<ChatCompletion> {
        self.answer(request)
    }
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_custom_client_replaces_http() {
    let recorder = Arc::new(Recorder {
        calls: AtomicUsize::new(0),
        last: std::sync::Mutex::new(None),
    });
    // No key and no URL are needed with a custom client.
    let m = OpenAICompatibleModel::builder("policy")
        .shared_client(recorder.clone())
        .model_config(json!({"temperature": 0.7, "logprobs": true}))
        .build()
        .unwrap();
    let c = m.complete(&[ChatMessage::user("hi")]).await.unwrap();
    assert_eq!(c.content(), Some("from the custom client"));
    let sent = recorder.last.lock().unwrap().clone().unwrap();
    assert_eq!(sent["model"], "policy");
    assert_eq!(sent["logprobs"], true);
    assert_eq!(sent["messages"][0]["content"], "hi");

    let err = m.complete(&[ChatMessage::user("fail")]).await.unwrap_err();
    assert!(
        matches!(&err, Error::Client(e) if e.to_string() == "trainer unavailable"),
        "{err:?}"
    );
    assert_eq!(recorder.calls.load(Ordering::SeqCst), 2, "never retried");

    let err = m.stream(&[ChatMessage::user("hi")]).await.unwrap_err();
    assert!(
        err.to_string().contains("does not support streaming"),
        "{err}"
    );
}
