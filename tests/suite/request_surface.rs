//! Per-call options and response metadata, on the wire, in both builds: one shared model,
//! differently configured calls, and the status / request id / rate limits / attempts of
//! every answer and every API error.

use std::time::Duration;

use crate::support::modes::collect;
use crate::support::{chat_completion, sse_chunks, Reply, ScriptedServer};
use openai_compatible::{
    ChatMessage, Error, OpenAICompatibleModel, RequestOptions, ResponseFormat, Tool, ToolChoice,
};
use serde_json::{json, Value};

const KEY: &str = "sk-test-surface-key-0123456789";

fn model(server: &ScriptedServer, config: Value) -> OpenAICompatibleModel {
    OpenAICompatibleModel::builder("test-model")
        .url(server.url())
        .api_key(KEY)
        .timeout(Duration::from_secs(5))
        .max_retries(2)
        .model_config(config)
        .build()
        .unwrap()
}

fn hi() -> Vec<ChatMessage> {
    vec![ChatMessage::user("hi")]
}

fn rate_limited(reply: Reply) -> Reply {
    reply
        .header("x-request-id", "req_abc123")
        .header("x-ratelimit-limit-requests", "500")
        .header("x-ratelimit-remaining-requests", "499")
        .header("x-ratelimit-reset-requests", "120ms")
        .header("x-ratelimit-limit-tokens", "30000")
        .header("x-ratelimit-remaining-tokens", "29870")
        .header("x-ratelimit-reset-tokens", "260ms")
}

fn weather() -> Tool {
    Tool::function("get_weather", "Weather", json!({"type": "object"}))
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn per_call_options_overlay_the_config_on_the_wire_only() {
    let server = ScriptedServer::always(Reply::json(200, chat_completion("ok")));
    let m = model(
        &server,
        json!({"temperature": 0.1, "top_k": 5, "extra_headers": {"x-model": "m"}}),
    );
    let options = RequestOptions::new()
        .temperature(0.9)
        .max_tokens(12)
        .set("seed", 7)
        .tools(vec![weather()])
        .tool_choice(ToolChoice::function("get_weather"))
        .header("x-call", "c1")
        .query("api-version", "2024-10-21")
        .extra_body("chat_template_kwargs", json!({"enable_thinking": false}));
    let answer = m.with_options(options).complete(&hi()).await.unwrap();
    assert_eq!(answer.content(), Some("ok"));

    let sent = &server.requests()[0];
    let body = sent.json();
    assert_eq!(body["temperature"], json!(0.9), "{body}");
    assert_eq!(
        body["top_k"],
        json!(5),
        "config keys the call does not set stay"
    );
    assert_eq!(body["max_tokens"], json!(12));
    assert_eq!(body["seed"], json!(7));
    assert_eq!(body["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(
        body["tool_choice"],
        json!({"type": "function", "function": {"name": "get_weather"}})
    );
    assert_eq!(
        body["chat_template_kwargs"],
        json!({"enable_thinking": false})
    );
    assert_eq!(sent.header("x-call"), Some("c1"));
    assert_eq!(sent.header("x-model"), Some("m"));
    assert!(sent
        .query()
        .contains(&("api-version".into(), "2024-10-21".into())));

    // The model's own config is untouched: the next plain call sends it as it was.
    assert_eq!(m.model_config()["temperature"], json!(0.1));
    m.complete(&hi()).await.unwrap();
    let body = server.requests()[1].json();
    assert_eq!(body["temperature"], json!(0.1));
    for key in [
        "max_tokens",
        "seed",
        "tools",
        "tool_choice",
        "chat_template_kwargs",
    ] {
        assert!(
            body.get(key).is_none(),
            "{key} leaked into a later call: {body}"
        );
    }
    assert_eq!(server.requests()[1].header("x-call"), None);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn run_arguments_win_over_the_options() {
    let server = ScriptedServer::always(Reply::json(200, chat_completion("ok")));
    let m = model(&server, json!({}));
    let call = m.with_options(RequestOptions::new().tools(vec![weather()]));
    // `Some(&[])` offers no tools even though the options have some.
    call.run(&hi(), None, Some(&[])).await.unwrap();
    assert!(server.requests()[0].json().get("tools").is_none());
    call.run(&hi(), Some(&ResponseFormat::JsonObject), None)
        .await
        .unwrap();
    let body = server.requests()[1].json();
    assert_eq!(body["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn per_call_retries_and_timeout() {
    // The model retries twice; this call not at all.
    let server = ScriptedServer::start(vec![
        Reply::json(503, json!({"error": {"message": "busy"}})),
        Reply::json(200, chat_completion("late")),
    ]);
    let m = model(&server, json!({}));
    let result = m
        .with_options(RequestOptions::new().max_retries(0))
        .complete(&hi())
        .await;
    let err = result.unwrap_err();
    assert!(
        matches!(&err, Error::Api(api) if api.status == Some(503)),
        "{err:?}"
    );
    assert_eq!(server.hits(), 1);

    // A per-call timeout shorter than the server's delay fails that call only.
    let slow = ScriptedServer::always(
        Reply::json(200, chat_completion("slow")).delay_head(Duration::from_millis(800)),
    );
    let m = model(&slow, json!({}));
    let result = m
        .with_options(
            RequestOptions::new()
                .timeout(Duration::from_millis(150))
                .max_retries(0),
        )
        .complete(&hi())
        .await;
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    let answer = m.complete(&hi()).await.unwrap();
    assert_eq!(answer.content(), Some("slow"));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn metadata_of_a_plain_answer_after_a_retry() {
    let server = ScriptedServer::start(vec![
        Reply::json(429, json!({"error": {"message": "slow down"}})).header("retry-after-ms", "10"),
        rate_limited(Reply::json(200, chat_completion("hello"))),
    ]);
    let m = model(&server, json!({}));
    let c = m.complete(&hi()).await.unwrap();
    let meta = c.meta().expect("a completion from HTTP has metadata");
    assert_eq!(meta.status, 200);
    assert_eq!(meta.attempts, 2);
    assert_eq!(meta.request_id.as_deref(), Some("req_abc123"));
    assert_eq!(meta.rate_limit.limit_requests, Some(500));
    assert_eq!(meta.rate_limit.remaining_requests, Some(499));
    assert_eq!(meta.rate_limit.reset_requests.as_deref(), Some("120ms"));
    assert_eq!(meta.rate_limit.limit_tokens, Some(30000));
    assert_eq!(meta.rate_limit.remaining_tokens, Some(29870));
    assert_eq!(meta.rate_limit.reset_tokens.as_deref(), Some("260ms"));
    assert!(meta.header("content-type").is_some());
    assert!(meta.elapsed > Duration::ZERO);

    // Never serialized, never part of equality.
    let json = serde_json::to_string(&c).unwrap();
    assert!(
        !json.contains("req_abc123") && !json.contains("ratelimit"),
        "{json}"
    );
    let same: openai_compatible::ChatCompletion = serde_json::from_str(&json).unwrap();
    assert!(same.meta().is_none());
    assert_eq!(same, c);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn metadata_of_a_stream_is_there_at_the_head() {
    let server = ScriptedServer::start(vec![rate_limited(Reply::sse(&sse_chunks(&["a", "b"])))]);
    let m = model(&server, json!({}));
    let stream = m.stream(&hi()).await.unwrap();
    let meta = stream
        .meta()
        .expect("known before any chunk is read")
        .clone();
    assert_eq!(meta.status, 200);
    assert_eq!(meta.attempts, 1);
    assert_eq!(meta.request_id.as_deref(), Some("req_abc123"));
    assert_eq!(meta.rate_limit.remaining_tokens, Some(29870));
    let chunks = collect(stream).await;
    assert!(chunks.iter().all(Result::is_ok));

    // The accumulated completion keeps it too.
    let server = ScriptedServer::start(vec![rate_limited(Reply::sse(&sse_chunks(&["x"])))]);
    let m = model(&server, json!({}));
    let stream = m.stream(&hi()).await.unwrap();
    let c = stream.accumulate().await.unwrap();
    assert_eq!(
        c.meta().and_then(|m| m.request_id.as_deref()),
        Some("req_abc123")
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn metadata_of_an_api_error_and_no_key_anywhere() {
    let server = ScriptedServer::start(vec![
        Reply::json(500, json!({"error": {"message": "boom"}})),
        Reply::json(500, json!({"error": {"message": "boom"}})),
        rate_limited(Reply::json(400, json!({"error": {"message": "bad"}})))
            .header("x-echo", &format!("Bearer {KEY}")),
    ]);
    let m = model(&server, json!({}));
    let err = m.complete(&hi()).await.unwrap_err();
    let Error::Api(api) = &err else {
        panic!("{err:?}")
    };
    let meta = api.meta().expect("an HTTP error has metadata");
    assert_eq!(meta.status, 400);
    assert_eq!(meta.attempts, 3);
    assert_eq!(meta.rate_limit.remaining_requests, Some(499));
    assert_eq!(meta.request_id.as_deref(), Some("req_abc123"));
    assert_eq!(meta.header("x-echo"), Some("Bearer [REDACTED]"));
    assert!(!format!("{err:?}").contains(KEY));
}

#[cfg(feature = "schema")]
#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn metadata_of_parsed_results_and_per_call_parse_options() {
    #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Answer {
        n: i64,
    }
    let server = ScriptedServer::start(vec![rate_limited(Reply::json(
        200,
        chat_completion(r#"{"n": 42}"#),
    ))]);
    let m = model(&server, json!({}));
    let parsed = m
        .with_options(RequestOptions::new().temperature(0.0))
        .parse::<Answer>(&hi(), None)
        .await
        .unwrap();
    assert_eq!(parsed.parsed().map(|a| a.n), Some(42));
    assert_eq!(
        parsed.meta().and_then(|m| m.request_id.as_deref()),
        Some("req_abc123")
    );
    assert_eq!(server.requests()[0].json()["temperature"], json!(0.0));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_header_that_is_not_http_fails_the_call_before_anything_is_sent() {
    let server = ScriptedServer::always(Reply::json(200, chat_completion("ok")));
    // A per-call header: that call fails, the model's next call is fine.
    let m = model(&server, json!({}));
    let result = m
        .with_options(RequestOptions::new().header("x-call", "line\nbreak"))
        .complete(&hi())
        .await;
    match &result {
        Err(Error::Config(msg)) => assert!(msg.contains("not valid HTTP"), "{msg}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
    assert_eq!(server.hits(), 0, "nothing was sent");
    let answer = m.complete(&hi()).await.unwrap();
    assert_eq!(answer.content(), Some("ok"));
    assert_eq!(server.hits(), 1);

    // A key that cannot be a header value is refused when the model is built, without
    // the key in the error.
    let bad_key = "sk-bad\r\nkey-0123456789";
    let built = OpenAICompatibleModel::builder("test-model")
        .url(server.url())
        .api_key(bad_key)
        .build();
    match built {
        Err(err @ Error::Config(_)) => {
            assert!(
                !format!("{err} {err:?}").contains("key-0123456789"),
                "{err}"
            )
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}
