//! Observability: CAMEL's model I/O log files (plain, tools and stream runs, non-ASCII
//! text, the config flag, agent folders, failures that must not fail the request) and the
//! `tracing` output of a request with a retry. Every test runs in both builds.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openai_compatible::{
    ChatMessage, ModelResponse, OpenAICompatibleModel, OpenAICompatibleModelBuilder, Tool,
};
use serde_json::{json, Value};

use crate::support::{self, chat_completion, sse_chunks, Reply, ScriptedServer, TempDir, KEY};

/// The preset model, logging its I/O into `dir`.
fn builder(server: &ScriptedServer, dir: &Path) -> OpenAICompatibleModelBuilder {
    support::model(server).log_model_io(true).log_dir(dir)
}

/// Every log file under `dir`, as (path, raw text), sorted by name.
fn log_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let text = std::fs::read_to_string(&p).unwrap();
                out.push((p, text));
            }
        }
    }
    out.sort();
    out
}

/// The one log file the test wrote: its path relative to `dir`, its JSON and its text.
fn only_log(dir: &Path) -> (PathBuf, Value, String) {
    let files = log_files(dir);
    assert_eq!(files.len(), 1, "expected one log file: {files:?}");
    let (path, text) = files.into_iter().next().unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    (path.strip_prefix(dir).unwrap().to_path_buf(), json, text)
}

fn is_timestamp(v: &Value) -> bool {
    // 2024-01-02T03:04:05.123456+00:00
    v.as_str()
        .is_some_and(|s| s.len() == 32 && s.as_bytes()[10] == b'T' && s.ends_with("+00:00"))
}

fn file_name_is_camels(path: &Path) -> bool {
    // conv_YYYYmmdd_HHMMSS_micros.json
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let stem = name
        .strip_prefix("conv_")
        .and_then(|n| n.strip_suffix(".json"));
    stem.is_some_and(|s| {
        let parts: Vec<&str> = s.split('_').collect();
        parts.len() == 3
            && [8, 6, 6] == [parts[0].len(), parts[1].len(), parts[2].len()]
            && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    })
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_plain_run_writes_camels_log_file() {
    let dir = TempDir::new("logs-plain");
    let server = ScriptedServer::start(vec![Reply::json(
        200,
        chat_completion("<think>hm</think>hello"),
    )]);
    let m = builder(&server, dir.path())
        .model_config(json!({"temperature": 0.2, "extra_headers": {"X-Trace": "1"}}))
        .build()
        .unwrap();
    let messages = [
        ChatMessage::system("Be brief."),
        ChatMessage::user("hi <think>x</think>"),
    ];
    m.complete(&messages).await.unwrap();

    let (path, log, text) = only_log(dir.path());
    assert_eq!(path.parent(), Some(Path::new("none")));
    assert!(file_name_is_camels(&path), "{path:?}");
    let keys: Vec<&str> = log
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "request_timestamp",
            "model",
            "agent_id",
            "request",
            "response_timestamp",
            "response"
        ]
    );
    assert!(
        is_timestamp(&log["request_timestamp"]),
        "{}",
        log["request_timestamp"]
    );
    assert!(is_timestamp(&log["response_timestamp"]));
    assert_eq!(log["model"], "test-model");
    assert_eq!(log["agent_id"], Value::Null);
    // The payload actually sent: preprocessed messages, merged config, request options out.
    let sent = server.requests()[0].json();
    assert_eq!(log["request"]["messages"], sent["messages"]);
    assert_eq!(log["request"]["messages"][1]["content"], "hi");
    assert_eq!(
        log["request"]["model_config_dict"],
        json!({"temperature": 0.2})
    );
    // The answer as the caller got it (think block moved to reasoning_content).
    assert_eq!(log["response"]["choices"][0]["message"]["content"], "hello");
    assert_eq!(
        log["response"]["choices"][0]["message"]["reasoning_content"],
        "hm"
    );
    assert_eq!(log["response"]["usage"]["total_tokens"], 12);
    // CAMEL's layout: 4-space indent; and never the key.
    assert!(text.contains("\n    \"model\": \"test-model\""), "{text}");
    assert!(!text.contains(KEY));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_tools_run_logs_the_resolved_tools() {
    let dir = TempDir::new("logs-tools");
    let reply = {
        let mut c = chat_completion("");
        c["choices"][0]["message"] = json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "weather_lookup", "arguments": "{\"city\":\"北京\"}"}}
        ]});
        c["choices"][0]["finish_reason"] = json!("tool_calls");
        c
    };
    let server = ScriptedServer::start(vec![Reply::json(200, reply)]);
    let config_tool = Tool::function("default_tool", "unused", json!({"type": "object"}));
    let m = builder(&server, dir.path())
        .model_config(
            json!({"temperature": 0.1, "tools": [config_tool], "parallel_tool_calls": false}),
        )
        .build()
        .unwrap();
    let runtime = Tool::function(
        "weather_lookup",
        "查询天气信息",
        json!({"type": "object", "properties": {"city": {"type": "string"}}}),
    );
    let out = m
        .run(
            &[ChatMessage::user("帮我查北京天气")],
            None,
            Some(std::slice::from_ref(&runtime)),
        )
        .await
        .unwrap();
    assert!(matches!(out, ModelResponse::Completion(_)));

    let (_, log, text) = only_log(dir.path());
    let config = &log["request"]["model_config_dict"];
    assert_eq!(config["tools"], json!([runtime]));
    assert_eq!(config["temperature"], 0.1);
    assert_eq!(config["parallel_tool_calls"], false);
    let call = &log["response"]["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "weather_lookup");
    assert_eq!(log["response"]["choices"][0]["finish_reason"], "tool_calls");
    assert!(text.contains("查询天气信息") && text.contains("帮我查北京天气"));
}

fn sse(delta: Value, finish: Value) -> String {
    let chunk = json!({"id": "s1", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    format!("data: {chunk}\n\n")
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_stream_is_logged_when_it_ends() {
    let dir = TempDir::new("logs-stream");
    let usage = json!({"id": "s1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}});
    let events = vec![
        sse(json!({"role": "assistant", "content": ""}), Value::Null),
        sse(json!({"content": "Hel"}), Value::Null),
        sse(json!({"content": "lo, 世界"}), Value::Null),
        sse(json!({}), json!("stop")),
        format!("data: {usage}\n\n"),
        "data: [DONE]\n\n".to_owned(),
    ];
    let server = ScriptedServer::start(vec![Reply::sse(&events)]);
    let m = builder(&server, dir.path())
        .model_config(json!({"stream": true, "stream_options": {"include_usage": true}}))
        .build()
        .unwrap();
    let ModelResponse::Stream(stream) =
        m.run(&[ChatMessage::user("hi")], None, None).await.unwrap()
    else {
        panic!("expected a stream");
    };
    // Until the stream ends, the file holds the request only.
    let (_, log, _) = only_log(dir.path());
    assert_eq!(log["request"]["model_config_dict"]["stream"], true);
    assert!(log.get("response").is_none());

    let c = stream.accumulate().await.unwrap();
    assert_eq!(c.content(), Some("Hello, 世界"));
    let (_, log, text) = only_log(dir.path());
    assert_eq!(log["stream_end"], "done");
    assert_eq!(
        log["response"]["choices"][0]["message"]["content"],
        "Hello, 世界"
    );
    assert_eq!(log["response"]["choices"][0]["finish_reason"], "stop");
    assert_eq!(log["response"]["usage"]["total_tokens"], 7);
    assert!(is_timestamp(&log["response_timestamp"]));
    assert!(text.contains("世界"));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_dropped_stream_logs_what_was_read() {
    let dir = TempDir::new("logs-dropped");
    let server = ScriptedServer::start(vec![Reply::sse(&support::sse_chunks(&["one", " two"]))]);
    let m = builder(&server, dir.path()).build().unwrap();
    let mut stream = m.stream(&[ChatMessage::user("hi")]).await.unwrap();
    #[cfg(not(feature = "async"))]
    let _ = (stream.next(), stream.next());
    #[cfg(feature = "async")]
    {
        use futures_util::StreamExt;
        let _ = (stream.next().await, stream.next().await);
    }
    drop(stream);
    let (_, log, _) = only_log(dir.path());
    assert_eq!(log["stream_end"], "dropped");
    assert_eq!(log["response"]["choices"][0]["message"]["content"], "one");
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn non_ascii_text_stays_readable() {
    let dir = TempDir::new("logs-unicode");
    let server = ScriptedServer::start(vec![Reply::json(
        200,
        chat_completion("回复:你好,مرحبا,こんにちは Русский текст"),
    )]);
    let m = builder(&server, dir.path())
        .model_config(json!({"temperature": 0.3, "user": "多语言"}))
        .build()
        .unwrap();
    m.complete(&[ChatMessage::user("你好,مرحبا,こんにちは")])
        .await
        .unwrap();
    let (_, _, text) = only_log(dir.path());
    for s in [
        "你好,مرحبا,こんにちは",
        "回复:你好,مرحبا,こんにちは",
        "Русский текст",
        "多语言",
    ] {
        assert!(text.contains(s), "{s} missing from {text}");
    }
    assert!(!text.contains("\\u"), "escaped text in {text}");
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn the_config_flag_decides_whether_parameters_are_logged() {
    let dir = TempDir::new("logs-config-flag");
    let server = ScriptedServer::start(vec![Reply::json(200, chat_completion("ok"))]);
    let m = builder(&server, dir.path())
        .model_config(json!({"temperature": 0.1, "lang": "中文"}))
        .log_model_config(false)
        .build()
        .unwrap();
    m.complete(&[ChatMessage::user("test message")])
        .await
        .unwrap();
    let (_, log, _) = only_log(dir.path());
    let request = log["request"].as_object().unwrap();
    assert_eq!(request.keys().collect::<Vec<_>>(), ["messages"]);
    assert_eq!(
        log["request"]["messages"],
        json!([{"role": "user", "content": "test message"}])
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn agent_ids_get_their_own_folder_and_runs_their_own_files() {
    let dir = TempDir::new("logs-agent");
    let server = ScriptedServer::always(Reply::json(200, chat_completion("ok")));
    let m = builder(&server, dir.path())
        .agent_id("researcher-1")
        .build()
        .unwrap();
    for _ in 0..3 {
        m.complete(&[ChatMessage::user("hi")]).await.unwrap();
    }
    let files = log_files(dir.path());
    assert_eq!(files.len(), 3, "{files:?}");
    for (path, text) in &files {
        assert_eq!(path.parent().unwrap(), dir.path().join("researcher-1"));
        let log: Value = serde_json::from_str(text).unwrap();
        assert_eq!(log["agent_id"], "researcher-1");
    }
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_failed_request_is_logged_with_its_error() {
    let dir = TempDir::new("logs-error");
    let server = ScriptedServer::start(vec![Reply::json(
        400,
        json!({"error": {"message": "bad things", "type": "invalid_request_error"}}),
    )]);
    let m = builder(&server, dir.path()).build().unwrap();
    let err = m.complete(&[ChatMessage::user("hi")]).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    let (_, log, text) = only_log(dir.path());
    assert_eq!(log["response"], Value::Null);
    assert!(
        log["error"].as_str().unwrap().contains("bad things"),
        "{log}"
    );
    assert!(!text.contains(KEY));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn logging_failures_never_fail_the_request() {
    // The log "folder" is a file: nothing can be written under it.
    let blocker = TempDir::new("logs-blocked");
    std::fs::write(blocker.path(), b"not a folder").unwrap();
    let server = ScriptedServer::start(vec![
        Reply::json(200, chat_completion("fine")),
        Reply::sse(&support::sse_chunks(&["also fine"])),
    ]);
    let m = builder(&server, blocker.path()).build().unwrap();
    let c = m.complete(&[ChatMessage::user("hi")]).await.unwrap();
    assert_eq!(c.content(), Some("fine"));
    let s = m.stream(&[ChatMessage::user("hi")]).await.unwrap();
    let streamed = s.accumulate().await.unwrap();
    assert_eq!(streamed.content(), Some("also fine"));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn switched_off_nothing_is_written() {
    let dir = TempDir::new("logs-off");
    let server = ScriptedServer::start(vec![Reply::json(200, chat_completion("ok"))]);
    let m = builder(&server, dir.path())
        .log_model_io(false)
        .build()
        .unwrap();
    m.complete(&[ChatMessage::user("hi")]).await.unwrap();
    assert!(!dir.path().exists());
}

// ---------------------------------------------------------------------------
// tracing
// ---------------------------------------------------------------------------

/// A minimal subscriber that writes `LEVEL target: message k=v … [span{k=v}]` lines at
/// DEBUG and above into a shared buffer.
struct Capture {
    out: Arc<Mutex<String>>,
    spans: Mutex<HashMap<u64, (String, &'static tracing::Metadata<'static>)>>,
    stack: Mutex<Vec<u64>>,
    next: AtomicU64,
    /// Open handles per span; a span is written out as `CLOSED name{fields}` at its close.
    refs: Mutex<HashMap<u64, usize>>,
}

#[derive(Default)]
struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl tracing::Subscriber for Capture {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::DEBUG
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = Fields::default();
        span.record(&mut fields);
        let text = format!("{}{{{}}}", span.metadata().name(), fields.0.trim());
        lock(&self.spans).insert(id, (text, span.metadata()));
        lock(&self.refs).insert(id, 1);
        tracing::span::Id::from_u64(id)
    }
    fn clone_span(&self, id: &tracing::span::Id) -> tracing::span::Id {
        *lock(&self.refs).entry(id.into_u64()).or_insert(0) += 1;
        id.clone()
    }
    fn try_close(&self, id: tracing::span::Id) -> bool {
        let mut refs = lock(&self.refs);
        let Some(n) = refs.get_mut(&id.into_u64()) else {
            return false;
        };
        *n -= 1;
        if *n > 0 {
            return false;
        }
        refs.remove(&id.into_u64());
        if let Some((text, _)) = lock(&self.spans).get(&id.into_u64()) {
            let _ = writeln!(lock(&self.out), "CLOSED {text}");
        }
        true
    }
    fn record(&self, span: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut fields = Fields::default();
        values.record(&mut fields);
        if let Some((s, _)) = lock(&self.spans).get_mut(&span.into_u64()) {
            s.pop();
            let _ = write!(s, "{}}}", fields.0);
        }
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let spans = lock(&self.spans);
        let context: Vec<&str> = lock(&self.stack)
            .iter()
            .filter_map(|id| spans.get(id).map(|(s, _)| s.as_str()))
            .collect();
        let m = event.metadata();
        let _ = writeln!(
            lock(&self.out),
            "{} {}:{} [{}]",
            m.level(),
            m.target(),
            fields.0,
            context.join(" > ")
        );
    }
    // `Span::current()` (used to record a run's mode) asks the subscriber.
    fn current_span(&self) -> tracing_core::span::Current {
        let spans = lock(&self.spans);
        let current = lock(&self.stack).last().copied();
        match current.and_then(|id| spans.get(&id).map(|(_, m)| (id, *m))) {
            Some((id, metadata)) => {
                tracing_core::span::Current::new(tracing::span::Id::from_u64(id), metadata)
            }
            None => tracing_core::span::Current::none(),
        }
    }
    fn enter(&self, span: &tracing::span::Id) {
        lock(&self.stack).push(span.into_u64());
    }
    fn exit(&self, span: &tracing::span::Id) {
        let mut stack = lock(&self.stack);
        if let Some(pos) = stack.iter().rposition(|s| *s == span.into_u64()) {
            stack.remove(pos);
        }
    }
}

fn capture() -> (Arc<Mutex<String>>, tracing::subscriber::DefaultGuard) {
    let out = Arc::new(Mutex::new(String::new()));
    let subscriber = Capture {
        out: out.clone(),
        spans: Mutex::default(),
        stack: Mutex::default(),
        next: AtomicU64::new(0),
        refs: Mutex::default(),
    };
    let guard = tracing::subscriber::set_default(subscriber);
    (out, guard)
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn tracing_shows_each_attempt_and_retry_without_secrets_or_content() {
    let (out, _guard) = capture();
    let server = ScriptedServer::start(vec![
        Reply::json(503, json!({"error": {"message": "busy"}})).header("retry-after-ms", "20"),
        Reply::json(200, chat_completion("private answer text")),
    ]);
    let m = OpenAICompatibleModel::builder("traced-model")
        .url(server.url())
        .api_key(KEY)
        .timeout(Duration::from_secs(5))
        .max_retries(2)
        .log_model_io(false)
        .build()
        .unwrap();
    let c = m
        .complete(&[ChatMessage::user("private question text")])
        .await
        .unwrap();
    assert_eq!(c.content(), Some("private answer text"));
    assert_eq!(server.hits(), 2);

    let text = lock(&out).clone();
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.split(' ')
                .nth(1)
                .is_some_and(|t| t.starts_with("openai_compatible"))
        })
        .collect();
    assert_eq!(ours.len(), 3, "{text}");
    assert!(
        ours[0].starts_with("DEBUG")
            && ours[0].contains("attempt=0")
            && ours[0].contains("status=503"),
        "{text}"
    );
    assert!(
        ours[1].starts_with("WARN")
            && ours[1].contains("retrying")
            && ours[1].contains("delay_ms=20"),
        "{text}"
    );
    assert!(
        ours[2].starts_with("DEBUG")
            && ours[2].contains("attempt=1")
            && ours[2].contains("status=200"),
        "{text}"
    );
    for line in &ours {
        assert!(
            line.contains("chat{") && line.contains("model=traced-model mode=completion"),
            "{line}"
        );
    }
    assert!(!text.contains(KEY), "the key leaked: {text}");
    assert!(!text.contains("private"), "message content leaked: {text}");
}

/// The closed `chat` spans' field texts.
fn closed_chat_spans(out: &Mutex<String>) -> Vec<String> {
    lock(out)
        .lines()
        .filter_map(|l| l.strip_prefix("CLOSED chat{"))
        .map(str::to_owned)
        .collect()
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn the_request_span_carries_the_genai_fields_and_no_content() {
    let (out, _guard) = capture();
    let usage = json!({"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16,
        "prompt_tokens_details": {"cached_tokens": 3},
        "completion_tokens_details": {"reasoning_tokens": 2}});
    let mut answer = chat_completion("private answer");
    answer["id"] = json!("chatcmpl-77");
    answer["model"] = json!("served-model");
    answer["usage"] = usage.clone();
    let mut last = sse_chunks(&["private", " streamed"]);
    let done = last.pop().unwrap();
    last.push(format!(
        "data: {}\n\n",
        json!({"id": "chatcmpl-88", "model": "served-model", "choices": [], "usage": usage})
    ));
    last.push(done);
    let server = ScriptedServer::start(vec![
        Reply::json(200, answer),
        Reply::sse(&last),
        Reply::json(429, json!({"error": {"message": "no"}})),
    ]);
    let m = OpenAICompatibleModel::builder("traced-model")
        .url(server.url())
        .api_key(KEY)
        .max_retries(0)
        .log_model_io(false)
        .model_config(json!({"temperature": 0.3, "max_tokens": 50, "seed": 9, "stop": ["END"]}))
        .build()
        .unwrap();
    m.complete(&[ChatMessage::user("private question")])
        .await
        .unwrap();
    let stream = m
        .stream(&[ChatMessage::user("private question")])
        .await
        .unwrap();
    let chunks = crate::support::modes::collect(stream).await;
    assert!(chunks.iter().all(Result::is_ok));
    let err = m.complete(&[ChatMessage::user("private")]).await;
    assert!(err.is_err());

    // A span closes when its last handle goes; a stream's may go a moment after the stream
    // (with the connection's drain), so wait for the third close rather than race it.
    let closed = crate::support::modes::wait_until(Duration::from_secs(5), || {
        closed_chat_spans(&out).len() >= 3
    })
    .await;
    let spans = closed_chat_spans(&out);
    assert!(closed && spans.len() == 3, "{spans:?}");
    let port = server.addr().port().to_string();
    for span in &spans {
        for field in [
            "gen_ai.operation.name=chat",
            "gen_ai.provider.name=openai_compatible",
            "gen_ai.request.model=traced-model",
            "server.address=127.0.0.1",
            &format!("server.port={port}"),
            "gen_ai.request.temperature=0.3",
            "gen_ai.request.max_tokens=50",
            "gen_ai.request.seed=9",
            "gen_ai.request.stop_sequences=[\"END\"]",
        ] {
            assert!(span.contains(field), "{field} missing in {span}");
        }
        assert!(!span.contains("private") && !span.contains(KEY), "{span}");
    }
    let find = |what: &str| {
        spans
            .iter()
            .find(|s| s.contains(what))
            .unwrap_or_else(|| panic!("no span with {what}: {spans:?}"))
    };
    let (plain, stream, failed) = (
        find("gen_ai.response.id=chatcmpl-77"),
        find("gen_ai.request.stream=true"),
        find("error.type="),
    );
    for field in [
        "gen_ai.response.id=chatcmpl-77",
        "gen_ai.response.model=served-model",
        "gen_ai.response.finish_reasons=[\"stop\"]",
        "gen_ai.usage.input_tokens=11",
        "gen_ai.usage.output_tokens=5",
        "gen_ai.usage.cache_read.input_tokens=3",
        "gen_ai.usage.reasoning.output_tokens=2",
    ] {
        assert!(plain.contains(field), "{field} missing in {plain}");
    }
    assert!(!plain.contains("gen_ai.request.stream"), "{plain}");
    for field in [
        "gen_ai.request.stream=true",
        "gen_ai.response.id=chatcmpl-",
        "gen_ai.usage.input_tokens=11",
        "gen_ai.response.time_to_first_chunk=",
    ] {
        assert!(stream.contains(field), "{field} missing in {stream}");
    }
    assert!(failed.contains("error.type=429"), "{failed}");
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn tracing_records_the_mode_of_a_run_and_connection_retries() {
    let (out, _guard) = capture();
    // Nothing listens on this port: every attempt fails to connect.
    let m = OpenAICompatibleModel::builder("traced-model")
        .url(support::refused_url())
        .api_key(KEY)
        .timeout(Duration::from_secs(5))
        .max_retries(1)
        .log_model_io(false)
        .model_config(json!({"stream": true}))
        .build()
        .unwrap();
    let err = m
        .run(&[ChatMessage::user("private")], None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, openai_compatible::Error::Connection(_)),
        "{err:?}"
    );
    let text = lock(&out).clone();
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.split(' ')
                .nth(1)
                .is_some_and(|t| t.starts_with("openai_compatible"))
        })
        .collect();
    assert_eq!(ours.len(), 3, "{text}");
    assert!(
        ours[1].starts_with("WARN") && ours[1].contains("retrying") && ours[1].contains("reason="),
        "{text}"
    );
    assert!(
        ours[2].contains("attempt=1") && ours[2].contains("retryable=true"),
        "{text}"
    );
    assert!(
        ours.iter()
            .all(|l| l.contains("chat{") && l.contains("model=traced-model mode=stream")),
        "{text}"
    );
    assert!(!text.contains(KEY) && !text.contains("private"), "{text}");
}

/// A config key one or two edits away from a known parameter gets one warning naming both,
/// and is still sent; a server's own key (`top_k`) gets none.
#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_likely_typo_in_the_config_is_warned_about_once_and_still_sent() {
    let (out, _guard) = capture();
    let server = ScriptedServer::always(Reply::json(200, chat_completion("ok")));
    let m = support::model(&server)
        .log_model_io(false)
        .model_config(json!({"max_token": 20, "top_k": 5}))
        .build()
        .unwrap();
    m.complete(&[ChatMessage::user("hi")]).await.unwrap();
    let text = lock(&out).clone();
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("WARN") && l.contains("did you mean"))
        .collect();
    assert_eq!(warnings.len(), 1, "{text}");
    assert!(
        warnings[0].contains("max_token") && warnings[0].contains("max_tokens"),
        "{text}"
    );
    assert!(!text.contains("\"top_k\""), "{text}");
    assert_eq!(server.requests()[0].json()["max_token"], 20);

    // A per-call option with a typo is warned about at that call.
    m.with_options(openai_compatible::RequestOptions::new().set("temprature", 0.1))
        .complete(&[ChatMessage::user("hi")])
        .await
        .unwrap();
    let text = lock(&out).clone();
    assert!(
        text.lines().any(|l| l.starts_with("WARN")
            && l.contains("temprature")
            && l.contains("temperature")),
        "{text}"
    );
}
