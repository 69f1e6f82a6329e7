//! The core client against the scripted loopback server: body, headers, retries, timeouts,
//! errors. Every test runs in both builds (`cargo test` and `cargo test --features async`).

mod support;

use std::time::{Duration, Instant};

use openai_compatible::{
    ChatMessage, Error, ErrorCode, ModelResponse, OpenAICompatibleModel, TimeoutPhase, Tool,
};
use serde_json::{json, Value};
use support::{chat_completion, Reply, ScriptedServer};

const KEY: &str = "sk-test-secret-key-0123456789";

fn model_with(server: &ScriptedServer, config: Value, retries: u32) -> OpenAICompatibleModel {
    OpenAICompatibleModel::builder("test-model")
        .url(server.url())
        .api_key(KEY)
        .timeout(Duration::from_secs(5))
        .max_retries(retries)
        .model_config(config)
        .build()
        .unwrap()
}

fn model(server: &ScriptedServer) -> OpenAICompatibleModel {
    model_with(server, json!({}), 3)
}

fn hi() -> Vec<ChatMessage> {
    vec![ChatMessage::user("hi")]
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn plain_completion_and_exact_body() {
    let server = ScriptedServer::start(vec![Reply::json(200, chat_completion("hello"))]);
    let m = model_with(&server, json!({"temperature": 0.5, "top_k": 3}), 3);
    let c = m.complete(&hi()).await.unwrap();
    assert_eq!(c.content(), Some("hello"));
    assert_eq!(c.usage.as_ref().unwrap().total_tokens, 12);
    let req = &server.requests()[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/v1/chat/completions");
    assert_eq!(
        req.json(),
        json!({"model":"test-model","messages":[{"role":"user","content":"hi"}],"temperature":0.5,"top_k":3})
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn headers_and_query() {
    let server = ScriptedServer::start(vec![Reply::json(200, chat_completion("x"))]);
    let m = OpenAICompatibleModel::builder("m")
        .url(format!("{}/", server.url()))
        .api_key(KEY)
        .organization("org-1")
        .project("proj-1")
        .default_header("X-Custom", "c")
        .default_query("api-version", "2024-01")
        .model_config(json!({"extra_headers": {"X-Call": "1"}, "extra_query": {"q": "a b"}}))
        .build()
        .unwrap();
    m.complete(&hi()).await.unwrap();
    let req = &server.requests()[0];
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert!(req
        .header("user-agent")
        .unwrap()
        .starts_with("openai-compatible/"));
    assert_eq!(req.header("x-stainless-retry-count"), Some("0"));
    assert_eq!(req.header("openai-organization"), Some("org-1"));
    assert_eq!(req.header("openai-project"), Some("proj-1"));
    assert_eq!(req.header("x-custom"), Some("c"));
    assert_eq!(req.header("x-call"), Some("1"));
    assert_eq!(req.path_only(), "/v1/chat/completions");
    assert_eq!(
        req.query(),
        vec![
            ("api-version".to_string(), "2024-01".to_string()),
            ("q".to_string(), "a b".to_string())
        ]
    );
    assert!(req.json().get("extra_headers").is_none());
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn tools_modes_on_the_wire() {
    let tool = Tool::function("f", "d", json!({"type": "object"}));
    let config = json!({"tools": [tool], "parallel_tool_calls": false, "tool_choice": "auto"});
    let server = ScriptedServer::always(Reply::json(200, chat_completion("x")));
    let m = model_with(&server, config, 0);
    let g = Tool::function("g", "d", json!({"type": "object"}));
    m.run(&hi(), None, None).await.unwrap();
    m.run(&hi(), None, Some(&[g])).await.unwrap();
    m.run(&hi(), None, Some(&[])).await.unwrap();
    let bodies: Vec<Value> = server.requests().iter().map(|r| r.json()).collect();
    assert_eq!(bodies[0]["tools"][0]["function"]["name"], "f");
    assert_eq!(bodies[0]["parallel_tool_calls"], false);
    assert_eq!(bodies[1]["tools"][0]["function"]["name"], "g");
    assert!(bodies[2].get("tools").is_none());
    assert!(bodies[2].get("parallel_tool_calls").is_none());
    assert_eq!(bodies[2]["tool_choice"], "auto");
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn tool_call_answers_parse() {
    let server = ScriptedServer::start(vec![Reply::json(
        200,
        json!({"choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":"",
            "tool_calls":[{"id":"Ab12","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}}]}}]}),
    )]);
    let c = model(&server).complete(&hi()).await.unwrap();
    let call = &c.message().unwrap().tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.id, "Ab12");
    let args: Value = call.function.parse_arguments().unwrap();
    assert_eq!(args["city"], "Paris");
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn retried_statuses_use_every_attempt() {
    for status in [408u16, 409, 429, 500, 502, 503] {
        let server = ScriptedServer::start(vec![
            Reply::json(status, json!({"error": {"message": "again"}}))
                .header("retry-after-ms", "10"),
            Reply::json(status, json!({"error": {"message": "again"}}))
                .header("retry-after-ms", "10"),
            Reply::json(200, chat_completion("ok")),
        ]);
        let c = model_with(&server, json!({}), 2)
            .complete(&hi())
            .await
            .unwrap();
        assert_eq!(c.content(), Some("ok"), "{status}");
        let counts: Vec<String> = server
            .requests()
            .iter()
            .map(|r| r.header("x-stainless-retry-count").unwrap().to_string())
            .collect();
        assert_eq!(counts, ["0", "1", "2"], "{status}");
    }
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn retries_are_bounded_by_max_retries() {
    let server = ScriptedServer::always(
        Reply::json(503, json!({"error": {"message": "down"}})).header("retry-after-ms", "5"),
    );
    let err = model_with(&server, json!({}), 3)
        .complete(&hi())
        .await
        .unwrap_err();
    assert_eq!(server.hits(), 4);
    assert_eq!(err.status(), Some(503));
    assert!(err.is_transient());
    let err = model_with(&server, json!({}), 0)
        .complete(&hi())
        .await
        .unwrap_err();
    assert_eq!(server.hits(), 5);
    assert_eq!(err.status(), Some(503));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn client_errors_are_not_retried() {
    for status in [400u16, 401, 403, 404, 422] {
        let server =
            ScriptedServer::always(Reply::json(status, json!({"error": {"message": "no"}})));
        let err = model(&server).complete(&hi()).await.unwrap_err();
        assert_eq!(server.hits(), 1, "{status}");
        assert_eq!(err.status(), Some(status));
        assert!(!err.is_transient());
    }
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn x_should_retry_overrides_both_ways() {
    let server = ScriptedServer::start(vec![
        Reply::json(400, json!({"error": {"message": "retry me"}}))
            .header("x-should-retry", "true")
            .header("retry-after-ms", "5"),
        Reply::json(200, chat_completion("ok")),
    ]);
    let ok = model(&server).complete(&hi()).await;
    assert!(ok.is_ok());
    assert_eq!(server.hits(), 2);

    let server =
        ScriptedServer::always(Reply::json(503, json!({})).header("x-should-retry", "false"));
    let err = model(&server).complete(&hi()).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(server.hits(), 1);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn retry_after_forms_are_honoured() {
    // retry-after-ms: far shorter than the 375 ms minimum backoff.
    let server = ScriptedServer::start(vec![
        Reply::json(429, json!({})).header("retry-after-ms", "20"),
        Reply::json(200, chat_completion("ok")),
    ]);
    let t = Instant::now();
    model(&server).complete(&hi()).await.unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(350),
        "{:?}",
        t.elapsed()
    );

    // retry-after in seconds: at least that long.
    let server = ScriptedServer::start(vec![
        Reply::json(429, json!({})).header("retry-after", "1"),
        Reply::json(200, chat_completion("ok")),
    ]);
    let t = Instant::now();
    model(&server).complete(&hi()).await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t.elapsed()
    );

    // An HTTP date two seconds ahead (whole seconds: at least one second of wait).
    let when = httpdate(std::time::SystemTime::now() + Duration::from_secs(2));
    let server = ScriptedServer::start(vec![
        Reply::json(503, json!({})).header("retry-after", &when),
        Reply::json(200, chat_completion("ok")),
    ]);
    let t = Instant::now();
    model(&server).complete(&hi()).await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(server.hits(), 2);

    // More than 120 s: not retried at all.
    let server = ScriptedServer::always(
        Reply::json(429, json!({"error": {"message": "later"}})).header("retry-after", "300"),
    );
    let t = Instant::now();
    let err = model(&server).complete(&hi()).await.unwrap_err();
    assert!(err.is_rate_limit());
    assert_eq!(server.hits(), 1);
    assert!(t.elapsed() < Duration::from_secs(2));
}

fn httpdate(t: std::time::SystemTime) -> String {
    let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil from days (Howard Hinnant).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    format!(
        "{wd}, {d:02} {} {y} {:02}:{:02}:{:02} GMT",
        months[(m - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn connection_refused_is_retried_then_reported() {
    let url = {
        let server = ScriptedServer::start(vec![]);
        server.url()
    }; // dropped: nothing listens there any more
    let m = OpenAICompatibleModel::builder("m")
        .url(url)
        .api_key(KEY)
        .max_retries(1)
        .build()
        .unwrap();
    let t = Instant::now();
    let err = m.complete(&hi()).await.unwrap_err();
    assert!(matches!(err, Error::Connection(_)), "{err:?}");
    // One backoff delay (0.375–0.5 s) between the two attempts.
    assert!(
        t.elapsed() >= Duration::from_millis(370),
        "{:?}",
        t.elapsed()
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_dropped_connection_is_retried() {
    let server = ScriptedServer::start(vec![
        Reply::close_before_head(),
        Reply::json(200, chat_completion("ok")),
    ]);
    let c = model(&server).complete(&hi()).await.unwrap();
    assert_eq!(c.content(), Some("ok"));
    assert_eq!(server.hits(), 2);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_stalled_server_times_out() {
    let server = ScriptedServer::always(
        Reply::json(200, chat_completion("late")).delay_head(Duration::from_secs(5)),
    );
    let m = OpenAICompatibleModel::builder("m")
        .url(server.url())
        .api_key(KEY)
        .timeout(Duration::from_millis(400))
        .max_retries(0)
        .build()
        .unwrap();
    let t = Instant::now();
    let err = m.complete(&hi()).await.unwrap_err();
    assert!(
        matches!(err, Error::Timeout { phase: TimeoutPhase::Total, after, .. } if after == Duration::from_millis(400)),
        "{err:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(err.to_string().contains("timed out"));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn per_call_timeout_in_config_overrides() {
    let server = ScriptedServer::always(
        Reply::json(200, chat_completion("late")).delay_head(Duration::from_secs(5)),
    );
    let m = model_with(&server, json!({"timeout": 0.3}), 0);
    let t = Instant::now();
    let err = m.complete(&hi()).await.unwrap_err();
    assert!(err.is_timeout());
    assert!(t.elapsed() < Duration::from_secs(2));
}

/// A reply and the status, message, code and type the error must carry.
type ErrorCase = (
    Reply,
    u16,
    &'static str,
    Option<ErrorCode>,
    Option<&'static str>,
);

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn error_shapes() {
    let cases: Vec<ErrorCase> = vec![
        (
            Reply::json(400, json!({"error": {"message": "bad param", "type": "invalid_request_error", "param": "messages", "code": "invalid_value"}})),
            400, "bad param", Some(ErrorCode::Text("invalid_value".into())), Some("invalid_request_error"),
        ),
        (
            Reply::json(400, json!({"object": "error", "message": "vllm says no", "type": "BadRequestError", "param": null, "code": 400})),
            400, "vllm says no", Some(ErrorCode::Number(400)), Some("BadRequestError"),
        ),
        (
            Reply::json(400, json!({"error": {"code": 400, "message": "request (3031 tokens) exceeds the available context size (2048 tokens), try increasing it", "type": "exceed_context_size_error", "n_prompt_tokens": 3031, "n_ctx": 2048}})),
            400, "request (3031 tokens) exceeds the available context size (2048 tokens), try increasing it", Some(ErrorCode::Number(400)), Some("exceed_context_size_error"),
        ),
        (Reply::text(403, "text/html", "<html><body>Forbidden by proxy</body></html>"), 403, "<html><body>Forbidden by proxy</body></html>", None, None),
        (Reply::text(404, "text/plain", ""), 404, "HTTP 404 with an empty body", None, None),
    ];
    for (reply, status, message, code, kind) in cases {
        let server = ScriptedServer::start(vec![reply.header("x-request-id", "req-42")]);
        let err = model(&server).complete(&hi()).await.unwrap_err();
        let api = err.api_error().unwrap_or_else(|| panic!("{err:?}"));
        assert_eq!(api.status, Some(status));
        assert_eq!(api.message, message);
        assert_eq!(api.code, code);
        assert_eq!(api.kind.as_deref(), kind);
        assert_eq!(api.request_id.as_deref(), Some("req-42"));
    }
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn invalid_json_on_200_is_a_decode_error_and_not_retried() {
    let server = ScriptedServer::always(Reply::text(
        200,
        "application/json",
        "{\"choices\": [ truncated",
    ));
    let err = model(&server).complete(&hi()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Decode { snippet, .. } if snippet.contains("truncated")),
        "{err:?}"
    );
    assert_eq!(server.hits(), 1);
    let server = ScriptedServer::always(Reply::json(200, json!({"error": {"message": "quota"}})));
    let err = model(&server).complete(&hi()).await.unwrap_err();
    assert_eq!(err.api_error().unwrap().message, "quota");
    // vLLM's top-level error object on a 200 is an error too, not an empty completion.
    let vllm = json!({"object": "error", "message": "engine dead", "type": "InternalServerError", "code": 500});
    let server = ScriptedServer::always(Reply::json(200, vllm));
    let err = model(&server).complete(&hi()).await.unwrap_err();
    assert_eq!(err.api_error().unwrap().message, "engine dead");
    assert_eq!(err.api_error().unwrap().code, Some(ErrorCode::Number(500)));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn the_key_never_leaks() {
    let server = ScriptedServer::always(Reply::json(
        401,
        json!({"error": {"message": format!("Incorrect API key provided: {KEY}"), "type": "invalid_request_error"}}),
    ));
    let m = model(&server);
    let err = m.complete(&hi()).await.unwrap_err();
    for text in [format!("{err}"), format!("{err:?}"), format!("{m:?}")] {
        assert!(!text.contains(KEY), "{text}");
    }
    assert!(err.api_error().unwrap().message.contains("[REDACTED]"));
    let builder = OpenAICompatibleModel::builder("m").api_key(KEY);
    assert!(!format!("{builder:?}").contains(KEY));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn run_returns_the_mode_the_config_asks_for() {
    let server = ScriptedServer::start(vec![
        Reply::json(200, chat_completion("plain")),
        Reply::sse(&support::sse_chunks(&["str", "eamed"])),
    ]);
    let m = model(&server);
    match m.run(&hi(), None, None).await.unwrap() {
        ModelResponse::Completion(c) => assert_eq!(c.content(), Some("plain")),
        other => panic!("{other:?}"),
    }
    let streaming = model_with(
        &server,
        json!({"stream": true, "stream_options": {"include_usage": true}}),
        0,
    );
    let resp = streaming.run(&hi(), None, None).await.unwrap();
    assert!(matches!(resp, ModelResponse::Stream(_)));
    let c = resp.into_completion().await.unwrap();
    assert_eq!(c.content(), Some("streamed"));
    assert_eq!(server.requests()[1].json()["stream"], true);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn bad_configuration_fails_build() {
    let base = || OpenAICompatibleModel::builder("m").api_key(KEY);
    for (b, needle) in [
        (base().url("localhost:1234"), "scheme"),
        (base().model_config(json!([1, 2])), "JSON object"),
        (base().model_config(json!({"model": "x"})), "\"model\""),
        (base().model_config(json!({"extra_body": 3})), "extra_body"),
        (base().default_header("bad header", "v"), "header name"),
        (OpenAICompatibleModel::builder(""), "empty"),
    ] {
        match b.build() {
            Err(Error::Config(msg)) => assert!(msg.contains(needle), "{msg}"),
            other => panic!("{other:?}"),
        }
    }
}

#[cfg(feature = "async")]
#[tokio::test]
async fn futures_are_send_and_spawnable() {
    let server = ScriptedServer::always(Reply::json(200, chat_completion("spawned")));
    let m = model(&server);
    let mut handles = Vec::new();
    for _ in 0..4 {
        let m = m.clone();
        handles.push(tokio::spawn(async move {
            m.complete(&[ChatMessage::user("x")]).await
        }));
    }
    let m2 = m.clone();
    let streamed = tokio::spawn(async move {
        let s = m2.stream(&[ChatMessage::user("x")]).await?;
        s.accumulate().await
    });
    for h in handles {
        assert_eq!(h.await.unwrap().unwrap().content(), Some("spawned"));
    }
    // The always-JSON server answers a stream request with a whole completion: replayed.
    assert_eq!(streamed.await.unwrap().unwrap().content(), Some("spawned"));
}
