//! Responses mode (docs/RESPONSES.md) against the scripted server speaking the Responses
//! wire format, in both builds: the request translation (§2), chaining (§3), the answer
//! conversion (§4), streamed events (§5) and structured output (§6). Recorded llama.cpp
//! answers come from tests/data/captures/xllamacpp-responses-*.

use openai_compatible::{
    ApiMode, ChatMessage, ContentPart, Error, FinishReason, OpenAICompatibleModel, RequestOptions,
    Role, Tool, ToolCall, ToolChoice,
};
use serde_json::{json, Value};

use crate::support::modes::collect;
use crate::support::{self, hi, Reply, ScriptedServer, KEY};

fn model(server: &ScriptedServer) -> OpenAICompatibleModel {
    responses(server, json!({}))
}

fn responses(server: &ScriptedServer, config: Value) -> OpenAICompatibleModel {
    support::model(server)
        .api_mode(ApiMode::Responses)
        .model_config(config)
        .build()
        .unwrap()
}

fn capture(name: &str) -> String {
    let path = format!("{}/data/captures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn capture_json(name: &str) -> Value {
    serde_json::from_str(&capture(name)).unwrap()
}

/// A completed response whose one message says `text`.
fn answer(id: &str, text: &str) -> Value {
    json!({
        "id": id, "object": "response", "created_at": 1_700_000_000, "status": "completed",
        "model": "srv-model",
        "output": [{"type": "message", "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": text, "annotations": []}]}],
        "usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}
    })
}

fn event(v: Value) -> String {
    format!("event: {}\ndata: {v}\n\n", v["type"].as_str().unwrap())
}

/// A stream saying `texts`, then `response.completed`.
fn stream_of(id: &str, texts: &[&str]) -> Vec<String> {
    let mut events = vec![event(
        json!({"type": "response.created", "response": {"id": id, "created_at": 9, "status": "in_progress"}}),
    )];
    for t in texts {
        events.push(event(
            json!({"type": "response.output_text.delta", "item_id": "m1", "delta": t}),
        ));
    }
    events.push(event(json!({"type": "response.completed", "response": {
        "id": id, "status": "completed", "output": [],
        "usage": {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4}}})));
    events
}

// --- §1 ---------------------------------------------------------------------------------

#[test]
fn the_mode_parses_from_exactly_two_names() {
    assert_eq!("responses".parse::<ApiMode>().unwrap(), ApiMode::Responses);
    assert_eq!(
        "chat_completions".parse::<ApiMode>().unwrap(),
        ApiMode::ChatCompletions
    );
    let err = "chat".parse::<ApiMode>().unwrap_err();
    assert!(matches!(&err, Error::Config(_)));
    assert!(err
        .to_string()
        .contains("api_mode must be 'chat_completions' or 'responses', got: chat"));
    let m = OpenAICompatibleModel::builder("m")
        .api_key("k")
        .build()
        .unwrap();
    assert_eq!(m.api_mode(), ApiMode::ChatCompletions);
}

// --- §2 ---------------------------------------------------------------------------------

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn the_request_goes_to_responses_translated_row_by_row() {
    let server = ScriptedServer::start(vec![Reply::json(200, answer("resp_1", "ok"))]);
    let m = responses(
        &server,
        json!({
            "max_tokens": 50, "reasoning_effort": "low", "temperature": 0.3, "top_k": 4,
            "n": 2, "stop": ["\n"], "logprobs": true, "top_logprobs": 2,
            "response_format": {"type": "json_object"}, "user": "u1",
            "metadata": {"a": "b"}, "parallel_tool_calls": false,
            "extra_body": {"min_p": 0.1}
        }),
    );
    let tool = Tool::function("get_weather", "weather", json!({"type": "object"})).strict(true);
    let options = RequestOptions::new()
        .tools(vec![
            tool,
            Tool {
                kind: "web_search".into(),
                ..Tool::function("x", "y", json!({}))
            },
        ])
        .tool_choice(ToolChoice::function("get_weather"));
    let c = m.with_options(options).complete(&hi()).await.unwrap();
    assert_eq!(c.content(), Some("ok"));
    let req = &server.requests()[0];
    assert_eq!(req.path_only(), "/v1/responses");
    let body = req.json();
    assert_eq!(body["model"], "test-model");
    assert_eq!(
        body["input"],
        json!([{"type": "message", "role": "user", "content": "hi"}])
    );
    assert_eq!(body["max_output_tokens"], 50);
    assert_eq!(body["reasoning"], json!({"effort": "low"}));
    assert_eq!(
        body["tools"][0],
        json!({
            "type": "function", "name": "get_weather", "description": "weather",
            "parameters": {"type": "object"}, "strict": true
        })
    );
    assert_eq!(body["tools"][1]["type"], "web_search");
    assert_eq!(
        body["tool_choice"],
        json!({"type": "function", "name": "get_weather"})
    );
    assert_eq!(body["text"], json!({"format": {"type": "json_object"}}));
    assert_eq!(body["parallel_tool_calls"], false);
    assert_eq!(
        (body["temperature"].clone(), body["top_k"].clone()),
        (json!(0.3), json!(4))
    );
    assert_eq!(
        (body["user"].clone(), body["metadata"].clone()),
        (json!("u1"), json!({"a": "b"}))
    );
    assert_eq!(body["min_p"], 0.1);
    assert_eq!(body["store"], true);
    for gone in [
        "messages",
        "max_tokens",
        "reasoning_effort",
        "response_format",
        "n",
        "stop",
        "logprobs",
        "top_logprobs",
        "stream",
        "stream_options",
        "previous_response_id",
    ] {
        assert!(body.get(gone).is_none(), "{gone} sent: {body}");
    }
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn max_completion_tokens_and_an_explicit_max_output_tokens() {
    let server = ScriptedServer::always(Reply::json(200, answer("r", "ok")));
    let m = responses(&server, json!({"max_completion_tokens": 9, "store": false}));
    m.complete(&hi()).await.unwrap();
    let m = responses(&server, json!({"max_tokens": 9, "max_output_tokens": 3}));
    m.complete(&hi()).await.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs[0].json()["max_output_tokens"], 9);
    assert_eq!(reqs[0].json()["store"], false);
    assert_eq!(reqs[1].json()["max_output_tokens"], 3);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn every_input_item_kind() {
    let server = ScriptedServer::start(vec![Reply::json(200, answer("r", "ok"))]);
    let mut assistant = ChatMessage::assistant("Let me check.");
    assistant.reasoning_content = Some("thinking".into());
    assistant.tool_calls = Some(vec![ToolCall::function(
        "c1",
        "get_weather",
        r#"{"city":"Oslo"}"#,
    )]);
    let messages = vec![
        ChatMessage::system("sys"),
        ChatMessage::developer("dev"),
        ChatMessage::user("hello").with_name("ann"),
        ChatMessage::assistant("earlier answer"),
        ChatMessage::user_parts(vec![
            ContentPart::text("what is this?"),
            ContentPart::image_url("https://x/cat.png", Some("low")),
        ]),
        assistant,
        ChatMessage::assistant_tool_calls(vec![ToolCall::function("c2", "f", "{}")]),
        ChatMessage::tool("c1", "sunny"),
        ChatMessage::tool("c2", "done"),
    ];
    model(&server).complete(&messages).await.unwrap();
    let input = server.requests()[0].json()["input"].clone();
    assert_eq!(
        input,
        json!([
            {"type": "message", "role": "system", "content": "sys"},
            {"type": "message", "role": "developer", "content": "dev"},
            {"type": "message", "role": "user", "content": "hello"},
            {"type": "message", "role": "assistant", "content": "earlier answer"},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "what is this?"},
                {"type": "input_image", "image_url": "https://x/cat.png", "detail": "low"}]},
            {"type": "message", "role": "assistant", "content": "Let me check."},
            // Each result right after its call: the chat mode's regrouping, shared.
            {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            {"type": "function_call", "call_id": "c2", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c2", "output": "done"}
        ])
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn stream_is_sent_only_when_streaming() {
    let server = ScriptedServer::start(vec![
        Reply::json(200, answer("r", "ok")),
        Reply::sse(&stream_of("r2", &["a"])),
    ]);
    let m = responses(
        &server,
        json!({"stream": true, "stream_options": {"include_usage": true}}),
    );
    m.complete(&hi()).await.unwrap();
    let s = m.stream(&[ChatMessage::user("other")]).await.unwrap();
    s.accumulate().await.unwrap();
    let reqs = server.requests();
    assert!(reqs[0].json().get("stream").is_none());
    assert_eq!(reqs[1].json()["stream"], true);
    assert!(reqs[1].json().get("stream_options").is_none());
}

// --- §4 ---------------------------------------------------------------------------------

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_recorded_llama_cpp_answer() {
    let recorded = capture_json("xllamacpp-responses-nonstream.json");
    let server = ScriptedServer::start(vec![Reply::json(200, recorded.clone())]);
    let c = model(&server).complete(&hi()).await.unwrap();
    assert_eq!(c.id, recorded["id"].as_str().unwrap());
    assert_eq!(c.object, "chat.completion");
    assert_eq!(c.created, recorded["created_at"].as_u64().unwrap());
    assert_eq!(c.model, "smollm2");
    assert_eq!(
        c.content(),
        recorded["output"][0]["content"][0]["text"].as_str()
    );
    assert_eq!(c.choices[0].message.role, Role::Assistant);
    assert_eq!(c.choices[0].finish_reason, Some(FinishReason::Stop));
    let u = c.usage.as_ref().unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (32, 16, 48)
    );
    assert_eq!(
        u.prompt_tokens_details.as_ref().unwrap().cached_tokens,
        Some(24)
    );
    // Unknown top-level fields are kept.
    assert_eq!(c.extra["completed_at"], recorded["completed_at"]);
    assert_eq!(c.extra["status"], "completed");
    assert_eq!(c.meta().unwrap().status, 200);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_recorded_tool_call() {
    let server = ScriptedServer::start(vec![Reply::json(
        200,
        capture_json("xllamacpp-responses-tools-tools.json"),
    )]);
    let c = model(&server).complete(&hi()).await.unwrap();
    assert_eq!(c.content(), None);
    assert_eq!(c.choices[0].finish_reason, Some(FinishReason::ToolCalls));
    let call = &c.choices[0].message.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.id, "call_B3cmNRr00XiultNLOgX4OiBW8n6yGwLk");
    assert_eq!(call.kind, "function");
    assert_eq!(call.function.name, "get_weather");
    assert_eq!(call.function.arguments, r#"{"city": "Paris"}"#);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn refusal_reasoning_calls_in_order_and_usage_details() {
    let server = ScriptedServer::start(vec![Reply::json(
        200,
        json!({
            "id": "resp_x", "created_at": 3, "status": "completed",
            "output": [
                {"type": "reasoning", "content": [{"type": "reasoning_text", "text": "step 1"},
                                                  {"type": "reasoning_text", "text": "step 2"}]},
                {"type": "message", "role": "assistant", "content": [
                    {"type": "output_text", "text": "A"}, {"type": "refusal", "refusal": "can't"},
                    {"type": "output_text", "text": "B"}]},
                {"type": "function_call", "call_id": "c1", "name": "one", "arguments": "{}"},
                {"type": "function_call", "call_id": "c2", "name": "two", "arguments": "{\"x\":1}"}
            ],
            "usage": {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30,
                      "input_tokens_details": {"cached_tokens": 4},
                      "output_tokens_details": {"reasoning_tokens": 12}}
        }),
    )]);
    let c = model(&server).complete(&hi()).await.unwrap();
    assert_eq!(
        c.model, "test-model",
        "the configured name when the response has none"
    );
    let m = &c.choices[0].message;
    assert_eq!(c.content(), Some("AB"));
    assert_eq!(m.refusal.as_deref(), Some("can't"));
    assert_eq!(m.reasoning_content.as_deref(), Some("step 1\nstep 2"));
    let names: Vec<_> = m
        .tool_calls
        .as_ref()
        .unwrap()
        .iter()
        .map(|t| t.function.name.as_str())
        .collect();
    assert_eq!(names, ["one", "two"]);
    assert_eq!(c.choices[0].finish_reason, Some(FinishReason::ToolCalls));
    let u = c.usage.unwrap();
    assert_eq!(
        u.completion_tokens_details.unwrap().reasoning_tokens,
        Some(12)
    );
    assert_eq!(u.prompt_tokens_details.unwrap().cached_tokens, Some(4));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn incomplete_answers_and_think_tags() {
    let incomplete = |reason: &str| {
        json!({"id": "r", "status": "incomplete", "incomplete_details": {"reason": reason},
               "output": [{"type": "message", "role": "assistant",
                           "content": [{"type": "output_text", "text": "<think>hm</think>Par"}]}]})
    };
    let server = ScriptedServer::start(vec![
        Reply::json(200, incomplete("max_output_tokens")),
        Reply::json(200, incomplete("content_filter")),
    ]);
    let m = model(&server);
    let c = m.complete(&hi()).await.unwrap();
    assert_eq!(c.choices[0].finish_reason, Some(FinishReason::Length));
    // Think tags are handled as in chat mode.
    assert_eq!(c.content(), Some("Par"));
    assert_eq!(
        c.choices[0].message.reasoning_content.as_deref(),
        Some("hm")
    );
    let c = m.complete(&hi()).await.unwrap();
    assert_eq!(
        c.choices[0].finish_reason,
        Some(FinishReason::ContentFilter)
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_failed_response_is_an_api_error() {
    let server = ScriptedServer::start(vec![Reply::json(
        200,
        json!({
            "id": "r", "status": "failed", "output": [],
            "error": {"code": "server_error", "message": "the model crashed"}
        }),
    )]);
    let err = model(&server).complete(&hi()).await.unwrap_err();
    match err {
        Error::Api(api) => {
            assert_eq!(api.message, "the model crashed");
            assert_eq!(api.code.unwrap().to_string(), "server_error");
        }
        other => panic!("{other:?}"),
    }
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn http_errors_and_retries_are_the_chat_modes() {
    let server = ScriptedServer::start(vec![
        Reply::json(503, json!({"error": {"message": "busy"}})),
        Reply::json(200, answer("r", "ok")),
        Reply::json(
            400,
            json!({"error": {"message": "bad input sk-test-secret-key-0123456789abcdef"}}),
        ),
    ]);
    let m = support::model(&server)
        .api_mode(ApiMode::Responses)
        .max_retries(1)
        .build()
        .unwrap();
    let c = m.complete(&hi()).await.unwrap();
    assert_eq!(c.meta().unwrap().attempts, 2);
    let err = m.complete(&hi()).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(!err.to_string().contains(KEY));
    assert!(server
        .requests()
        .iter()
        .all(|r| r.path_only() == "/v1/responses"));
}

// --- §5 ---------------------------------------------------------------------------------

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_recorded_llama_cpp_stream() {
    let server = ScriptedServer::start(vec![Reply::text(
        200,
        "text/event-stream",
        &capture("xllamacpp-responses-stream.sse"),
    )]);
    let items = collect(model(&server).stream(&hi()).await.unwrap()).await;
    let chunks: Vec<_> = items.into_iter().map(|i| i.unwrap()).collect();
    let id = "resp_HyIgvC4AvCePSNzCYpvY0lz8kXFrfQOP";
    assert!(chunks
        .iter()
        .all(|c| c.id == id && c.object == "chat.completion.chunk"));
    assert_eq!(chunks[0].choices[0].delta.role, Some(Role::Assistant));
    assert!(chunks[1..]
        .iter()
        .all(|c| c.choices[0].delta.role.is_none()));
    let text: String = chunks
        .iter()
        .filter_map(|c| c.choices[0].delta.content.clone())
        .collect();
    assert_eq!(text, "I'm glad you're here! I");
    let last = chunks.last().unwrap();
    assert_eq!(last.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(
        last.created, 1796113016,
        "created_at arrives with response.completed"
    );
    let u = last.usage.as_ref().unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (32, 8));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_recorded_streamed_tool_call() {
    let server = ScriptedServer::start(vec![Reply::text(
        200,
        "text/event-stream",
        &capture("xllamacpp-responses-tools-tools-stream.sse"),
    )]);
    let c = model(&server)
        .stream(&hi())
        .await
        .unwrap()
        .accumulate()
        .await
        .unwrap();
    assert_eq!(c.id, "resp_WwkVZ0fTZ9BCXLbXhPbEscWqBPylcFpb");
    assert_eq!(c.choices[0].finish_reason, Some(FinishReason::ToolCalls));
    let calls = c.choices[0].message.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].id, "call_NJtTAp986mYqX0IzFeCIo4AqPOS2nEJt");
    assert_eq!(calls[0].function.name, "get_weather");
    // The deltas, not the deltas plus `output_item.done`'s whole arguments.
    assert_eq!(calls[0].function.arguments, r#"{"city": "Paris"}"#);
    assert_eq!(c.usage.unwrap().total_tokens, 332);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn every_stream_event() {
    let events = vec![
        event(
            json!({"type": "response.created", "response": {"id": "resp_s", "created_at": 11, "model": "srv"}}),
        ),
        event(
            json!({"type": "response.reasoning_summary_text.delta", "item_id": "rs", "delta": "plan"}),
        ),
        event(json!({"type": "response.reasoning_text.delta", "item_id": "rs", "delta": "+"})),
        event(
            json!({"type": "response.output_text.delta", "item_id": "m", "output_index": 1, "delta": "Hi"}),
        ),
        event(json!({"type": "response.refusal.delta", "item_id": "m", "delta": "no"})),
        event(
            json!({"type": "response.output_item.added", "output_index": 2, "item": {
            "type": "function_call", "id": "fc_a", "call_id": "call_a", "name": "a", "arguments": ""}}),
        ),
        event(
            json!({"type": "response.output_item.added", "output_index": 3, "item": {
            "type": "function_call", "id": "fc_b", "call_id": "call_b", "name": "b", "arguments": ""}}),
        ),
        event(
            json!({"type": "response.function_call_arguments.delta", "item_id": "fc_a", "delta": "{\"x\""}),
        ),
        event(
            json!({"type": "response.function_call_arguments.delta", "output_index": 2, "delta": ":1}"}),
        ),
        // No delta came for b: its arguments arrive whole with `output_item.done`.
        event(
            json!({"type": "response.output_item.done", "output_index": 3, "item": {
            "type": "function_call", "id": "fc_b", "call_id": "call_b", "name": "b", "arguments": "{}"}}),
        ),
        event(
            json!({"type": "response.output_item.done", "output_index": 2, "item": {
            "type": "function_call", "id": "fc_a", "call_id": "call_a", "name": "a", "arguments": "{\"x\":1}"}}),
        ),
        event(json!({"type": "response.some_future_event", "x": 1})),
        event(
            json!({"type": "response.incomplete", "response": {"id": "resp_s", "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"},
            "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3,
                      "output_tokens_details": {"reasoning_tokens": 1}}}}),
        ),
        // Anything after the terminal event is not read.
        event(json!({"type": "response.output_text.delta", "delta": "late"})),
    ];
    let server = ScriptedServer::start(vec![Reply::sse(&events)]);
    let items = collect(model(&server).stream(&hi()).await.unwrap()).await;
    let chunks: Vec<_> = items.into_iter().map(|i| i.unwrap()).collect();
    assert!(chunks
        .iter()
        .all(|c| c.id == "resp_s" && c.created == 11 && c.model == "srv"));
    let mut acc = openai_compatible::ChunkAccumulator::new();
    for c in &chunks {
        acc.push(c);
    }
    let c = acc.finish();
    let m = &c.choices[0].message;
    assert_eq!(m.reasoning_content.as_deref(), Some("plan+"));
    assert_eq!(c.content(), Some("Hi"));
    assert_eq!(m.refusal.as_deref(), Some("no"));
    let calls = m.tool_calls.as_ref().unwrap();
    let got: Vec<_> = calls
        .iter()
        .map(|t| {
            (
                t.id.as_str(),
                t.function.name.as_str(),
                t.function.arguments.as_str(),
            )
        })
        .collect();
    assert_eq!(got, [("call_a", "a", "{\"x\":1}"), ("call_b", "b", "{}")]);
    assert_eq!(c.choices[0].finish_reason, Some(FinishReason::Length));
    assert_eq!(
        c.usage
            .unwrap()
            .completion_tokens_details
            .unwrap()
            .reasoning_tokens,
        Some(1)
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn failed_and_error_events_are_stream_api_errors() {
    let failed = vec![
        event(json!({"type": "response.created", "response": {"id": "r"}})),
        event(json!({"type": "response.output_text.delta", "delta": "a"})),
        event(
            json!({"type": "response.failed", "response": {"id": "r", "status": "failed",
            "error": {"code": "server_error", "message": "overloaded"}}}),
        ),
    ];
    let error = vec![event(
        json!({"type": "error", "code": "rate_limit", "message": "slow down"}),
    )];
    let server = ScriptedServer::start(vec![Reply::sse(&failed), Reply::sse(&error)]);
    let m = model(&server);
    let items = collect(m.stream(&hi()).await.unwrap()).await;
    assert!(items[0].is_ok());
    match items.last().unwrap() {
        Err(Error::StreamApi(e)) => assert_eq!(e.message, "overloaded"),
        other => panic!("{other:?}"),
    }
    let items = collect(m.stream(&hi()).await.unwrap()).await;
    match items.last().unwrap() {
        Err(Error::StreamApi(e)) => assert_eq!(e.message, "slow down"),
        other => panic!("{other:?}"),
    }
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_cut_stream_is_incomplete() {
    let mut events = stream_of("r", &["a", "b"]);
    events.pop();
    let server = ScriptedServer::start(vec![Reply::sse(&events)]);
    let items = collect(model(&server).stream(&hi()).await.unwrap()).await;
    assert_eq!(items.iter().filter(|i| i.is_ok()).count(), 2);
    assert!(matches!(
        items.last(),
        Some(Err(Error::IncompleteStream(_)))
    ));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn streams_retry_before_the_head_and_accept_a_json_answer() {
    let server = ScriptedServer::start(vec![
        Reply::json(429, json!({"error": {"message": "later"}})).header("retry-after", "0"),
        Reply::sse(&stream_of("r", &["x"])),
        Reply::json(200, answer("resp_json", "whole")),
    ]);
    let m = support::model(&server)
        .api_mode(ApiMode::Responses)
        .max_retries(2)
        .build()
        .unwrap();
    let s = m.stream(&hi()).await.unwrap();
    assert_eq!(s.meta().unwrap().attempts, 2);
    let c = s.accumulate().await.unwrap();
    assert_eq!(c.content(), Some("x"));
    // A server that ignores `stream` answers with a whole response.
    let c = m
        .stream(&[ChatMessage::user("b")])
        .await
        .unwrap()
        .accumulate()
        .await
        .unwrap();
    assert_eq!((c.id.as_str(), c.content()), ("resp_json", Some("whole")));
}

// --- §3 ---------------------------------------------------------------------------------

fn turn2(first: &[ChatMessage], reply: &str, next: &str) -> Vec<ChatMessage> {
    let mut m = first.to_vec();
    m.push(ChatMessage::assistant(reply));
    m.push(ChatMessage::user(next));
    m
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn chaining_extends_resets_and_keeps_sessions_apart() {
    let server = ScriptedServer::always(Reply::json(200, answer("resp_A", "a")));
    let m = model(&server);
    let first = vec![ChatMessage::system("s"), ChatMessage::user("one")];
    m.complete(&first).await.unwrap();
    let second = turn2(&first, "a", "two");
    // A clone shares the sessions.
    m.clone().complete(&second).await.unwrap();
    // Another session has no state.
    m.with_options(RequestOptions::new().session("user-42"))
        .complete(&second)
        .await
        .unwrap();
    // A history that is not an extension resets.
    m.complete(&[ChatMessage::user("fresh")]).await.unwrap();
    let reqs = server.requests();
    let b: Vec<Value> = reqs.iter().map(|r| r.json()).collect();
    assert!(b[0].get("previous_response_id").is_none());
    assert_eq!(b[0]["input"].as_array().unwrap().len(), 2);
    assert_eq!(b[1]["previous_response_id"], "resp_A");
    assert_eq!(
        b[1]["input"],
        json!([{"type": "message", "role": "user", "content": "two"}])
    );
    assert!(b[2].get("previous_response_id").is_none());
    assert_eq!(b[2]["input"].as_array().unwrap().len(), 4);
    assert!(b[3].get("previous_response_id").is_none());
    assert_eq!(b[3]["input"].as_array().unwrap().len(), 1);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_stream_saves_its_id_at_the_end_and_a_failure_saves_nothing() {
    let server = ScriptedServer::start(vec![
        Reply::sse(&stream_of("resp_S", &["a"])),
        Reply::json(
            200,
            json!({"id": "resp_F", "status": "failed", "output": [], "error": {"message": "x"}}),
        ),
        Reply::json(200, answer("resp_T", "t")),
    ]);
    let m = model(&server);
    let first = hi();
    m.stream(&first).await.unwrap().accumulate().await.unwrap();
    let second = turn2(&first, "a", "more");
    let failed = m.complete(&second).await;
    assert!(failed.is_err());
    m.complete(&second).await.unwrap();
    let b: Vec<Value> = server.requests().iter().map(|r| r.json()).collect();
    assert_eq!(b[1]["previous_response_id"], "resp_S");
    assert_eq!(
        b[2]["previous_response_id"], "resp_S",
        "the failed id was not saved"
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn store_false_turns_chaining_off_and_clears_the_session() {
    let server = ScriptedServer::always(Reply::json(200, answer("resp_A", "a")));
    let m = model(&server);
    let first = hi();
    m.complete(&first).await.unwrap();
    let second = turn2(&first, "a", "two");
    m.with_options(RequestOptions::new().set("store", false))
        .complete(&second)
        .await
        .unwrap();
    m.complete(&turn2(&second, "a", "three")).await.unwrap();
    let b: Vec<Value> = server.requests().iter().map(|r| r.json()).collect();
    assert!(b[1].get("previous_response_id").is_none());
    assert_eq!(b[1]["store"], false);
    assert_eq!(b[1]["input"].as_array().unwrap().len(), 3);
    assert!(
        b[2].get("previous_response_id").is_none(),
        "the session was cleared"
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_server_refusing_previous_response_id_gets_full_histories() {
    let refusal = capture_json("xllamacpp-responses-err-previous-response-id.json");
    let server = ScriptedServer::start(vec![
        Reply::json(200, answer("resp_1", "a")),
        Reply::json(400, refusal.clone()),
        Reply::json(200, answer("resp_2", "b")),
        Reply::sse(&stream_of("resp_3", &["c"])),
    ]);
    let m = model(&server);
    let first = hi();
    m.complete(&first).await.unwrap();
    let second = turn2(&first, "a", "two");
    let c = m.complete(&second).await.unwrap();
    assert_eq!(c.id, "resp_2");
    let third = turn2(&second, "b", "three");
    m.stream(&third).await.unwrap().accumulate().await.unwrap();
    let b: Vec<Value> = server.requests().iter().map(|r| r.json()).collect();
    assert_eq!(b.len(), 4);
    assert_eq!(b[1]["previous_response_id"], "resp_1");
    assert!(b[2].get("previous_response_id").is_none());
    assert_eq!(b[2]["input"].as_array().unwrap().len(), 3);
    assert!(
        b[3].get("previous_response_id").is_none(),
        "no chaining for the model's lifetime"
    );
    assert_eq!(b[3]["input"].as_array().unwrap().len(), 5);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_stream_refused_for_previous_response_id_is_resent() {
    let server = ScriptedServer::start(vec![
        Reply::sse(&stream_of("resp_1", &["a"])),
        Reply::json(
            400,
            capture_json("xllamacpp-responses-err-previous-response-id.json"),
        ),
        Reply::sse(&stream_of("resp_2", &["b"])),
    ]);
    let m = model(&server);
    m.stream(&hi()).await.unwrap().accumulate().await.unwrap();
    let c = m
        .stream(&turn2(&hi(), "a", "two"))
        .await
        .unwrap()
        .accumulate()
        .await
        .unwrap();
    assert_eq!(c.content(), Some("b"));
    let b: Vec<Value> = server.requests().iter().map(|r| r.json()).collect();
    assert_eq!(b[1]["previous_response_id"], "resp_1");
    assert!(b[2].get("previous_response_id").is_none());
    assert_eq!(b[2]["input"].as_array().unwrap().len(), 3);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn the_io_log_records_the_payload_sent() {
    let dir = support::TempDir::new("responses-log");
    let server = ScriptedServer::start(vec![Reply::json(200, answer("r", "logged"))]);
    let m = support::model(&server)
        .api_mode(ApiMode::Responses)
        .log_model_io(true)
        .log_dir(dir.path())
        .build()
        .unwrap();
    m.complete(&hi()).await.unwrap();
    let mut text = String::new();
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                text.push_str(&std::fs::read_to_string(path).unwrap_or_default());
            }
        }
    }
    assert!(text.contains("\"input\""), "{text}");
    assert!(text.contains("logged"), "{text}");
}

// --- §6 ---------------------------------------------------------------------------------

#[cfg(feature = "schema")]
mod structured {
    use super::*;
    use crate::support::modes::events;
    use openai_compatible::ParsePath;
    use schemars::JsonSchema;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, JsonSchema, PartialEq)]
    struct City {
        name: String,
    }

    #[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
    async fn parse_sends_text_format_and_parses() {
        let server =
            ScriptedServer::start(vec![Reply::json(200, answer("r", r#"{"name":"Oslo"}"#))]);
        let p = model(&server).parse::<City>(&hi(), None).await.unwrap();
        assert_eq!(p.path, ParsePath::JsonSchema);
        assert_eq!(
            p.parsed(),
            Some(&City {
                name: "Oslo".into()
            })
        );
        let format = server.requests()[0].json()["text"]["format"].clone();
        assert_eq!(format["type"], "json_schema");
        assert_eq!(format["name"], "City");
        assert_eq!(format["strict"], true);
        assert_eq!(format["schema"]["required"], json!(["name"]));
    }

    #[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
    async fn a_refused_text_format_falls_back_to_json_object() {
        let server = ScriptedServer::start(vec![
            Reply::json(
                400,
                json!({"error": {"message": "text.format json_schema is not supported"}}),
            ),
            Reply::json(200, answer("r", r#"{"name":"Rome"}"#)),
        ]);
        let p = model(&server).parse::<City>(&hi(), None).await.unwrap();
        assert_eq!(p.path, ParsePath::JsonObjectFallback);
        assert_eq!(p.parsed().unwrap().name, "Rome");
        let second = server.requests()[1].json();
        assert_eq!(second["text"], json!({"format": {"type": "json_object"}}));
        assert!(second["input"][0]["content"]
            .as_str()
            .unwrap()
            .contains("\"name\""));
    }

    #[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
    async fn refusals_and_length_as_in_chat_mode() {
        let refused = json!({"id": "r", "status": "completed", "output": [{"type": "message",
            "role": "assistant", "content": [{"type": "refusal", "refusal": "I can't"}]}]});
        let capped = json!({"id": "r", "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"},
            "output": [{"type": "message", "role": "assistant",
                        "content": [{"type": "output_text", "text": "{\"na"}]}]});
        let server =
            ScriptedServer::start(vec![Reply::json(200, refused), Reply::json(200, capped)]);
        let m = model(&server);
        let p = m.parse::<City>(&hi(), None).await.unwrap();
        assert_eq!(p.parsed(), None);
        assert_eq!(p.refusal(), Some("I can't"));
        let err = m.parse::<City>(&hi(), None).await.unwrap_err();
        assert!(matches!(err, Error::Length { .. }), "{err:?}");
    }

    #[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
    async fn stream_parse_in_responses_mode() {
        let server = ScriptedServer::start(vec![Reply::sse(&stream_of(
            "resp_p",
            &["{\"name\":", "\"Lima\"}"],
        ))]);
        let mut stream = model(&server).stream_parse::<City>(&hi(), None).unwrap();
        let all = events(&mut stream).await;
        assert!(all.iter().all(|e| e.is_ok()), "{all:?}");
        let done = stream.final_completion().await.unwrap();
        assert_eq!(done.parsed().unwrap().name, "Lima");
        let req = &server.requests()[0];
        assert_eq!(req.path_only(), "/v1/responses");
        assert_eq!(req.json()["text"]["format"]["type"], "json_schema");
        assert_eq!(req.json()["stream"], true);
    }
}
