//! Shared by every test binary: the scripted loopback server ([`ScriptedServer`], in
//! server.rs), TLS test certificates (tls.rs), what differs between the blocking and async
//! builds (modes.rs), the real llama.cpp server (real.rs), and the helpers below: a model
//! builder preset against a server, OpenAI-shaped bodies, timeout and timing assertions,
//! self-deleting temp dirs and a URL nothing listens on.

#![allow(dead_code)]

pub mod modes;
pub mod real;
mod server;
pub mod tls;

#[allow(unused_imports)] // not every binary uses every one
pub use server::{RecordedRequest, Reply, ScriptedServer, ServerBuilder};

use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use openai_compatible::{
    ChatMessage, Error, OpenAICompatibleModel, OpenAICompatibleModelBuilder, TimeoutPhase,
};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// A model against the scripted server
// ---------------------------------------------------------------------------

/// The API key of the scripted tests (long enough that a leaked piece of it shows).
pub const KEY: &str = "sk-test-secret-key-0123456789abcdef";

/// A builder preset against `server`: model `test-model`, [`KEY`], a 5 s timeout and no
/// retries (a test that wants retries says how many).
pub fn model(server: &ScriptedServer) -> OpenAICompatibleModelBuilder {
    model_at(&server.url())
}

/// [`model`], against any URL (one nothing listens on, a TLS server's).
pub fn model_at(url: &str) -> OpenAICompatibleModelBuilder {
    OpenAICompatibleModel::builder("test-model")
        .url(url)
        .api_key(KEY)
        .timeout(Duration::from_secs(5))
        .max_retries(0)
}

/// One user message, "hi".
pub fn hi() -> Vec<ChatMessage> {
    vec![ChatMessage::user("hi")]
}

/// A port on 127.0.0.1 that was free a moment ago (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A base URL nothing listens on: connecting is refused.
pub fn refused_url() -> String {
    format!("http://127.0.0.1:{}/v1", free_port())
}

// ---------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------

/// Asserts `err` is an [`Error::Timeout`] of `phase` and returns its `after` (to compare
/// with the configured timeout).
#[track_caller]
pub fn assert_timeout(err: &Error, phase: TimeoutPhase) -> Duration {
    match err {
        Error::Timeout {
            phase: got, after, ..
        } if *got == phase => *after,
        other => panic!("expected a {phase:?} timeout, got {other:?}"),
    }
}

/// Asserts the time since `since` lies in `range` (e.g. `ms(900)..ms(2500)` or `..secs(2)`).
#[track_caller]
pub fn assert_elapsed(since: Instant, range: impl RangeBounds<Duration> + std::fmt::Debug) {
    let took = since.elapsed();
    assert!(range.contains(&took), "took {took:?}, expected {range:?}");
}

// ---------------------------------------------------------------------------
// Temp dirs
// ---------------------------------------------------------------------------

/// A fresh path under the system temp dir, unique to this process and call, deleted
/// (folder or file) when dropped. Not created: the code under test creates it (or must
/// not, which a test can then check).
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "openai-compatible-test-{}-{label}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        remove(&path);
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        remove(&self.0);
    }
}

fn remove(path: &Path) {
    if path.is_dir() {
        let _ = std::fs::remove_dir_all(path);
    } else {
        let _ = std::fs::remove_file(path);
    }
}

// ---------------------------------------------------------------------------
// OpenAI-shaped bodies
// ---------------------------------------------------------------------------

/// A minimal valid `chat.completion` answering `content`.
pub fn chat_completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 1_700_000_000u64,
        "model": "scripted-model",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    })
}

fn chunk(delta: Value, finish_reason: Value) -> String {
    let c = json!({
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000u64,
        "model": "scripted-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    });
    format!("data: {c}\n\n")
}

/// SSE events for a streamed answer: a role delta, one content delta per item, a
/// `finish_reason: "stop"` chunk, then `data: [DONE]`. Each item is one event.
pub fn sse_chunks(contents: &[&str]) -> Vec<String> {
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    events.extend(
        contents
            .iter()
            .map(|c| chunk(json!({"content": c}), Value::Null)),
    );
    events.push(chunk(json!({}), json!("stop")));
    events.push("data: [DONE]\n\n".to_string());
    events
}
