//! Against a real OpenAI-compatible server: llama.cpp's own C++ server with SmolLM2-135M,
//! started on 127.0.0.1 by scripts/server/server.sh, either directly or through LiteLLM's
//! proxy (scripts/litellm/proxy.sh), as `OPENAI_COMPATIBLE_REAL_SERVER` (`llamacpp`, the
//! default, or `litellm`) says. Both builds. These tests assert structure, never the model's
//! wording. Where the proxy answers differently (error statuses and shapes, stream framing)
//! each test asserts what that target was recorded doing (scripts/litellm/README.md lists
//! the differences), so a change in either shows.
//!
//! Opt-in: the server needs Python, packages and a 98 MB model, so every test here is
//! `#[ignore = "needs scripts/server/server.sh"]` and a plain `cargo test` is hermetic. scripts/test.sh
//! runs them (`cargo test --test suite -- --ignored real_server::`, in both builds, for both
//! targets); so can you. The replay of a recorded LiteLLM stream at the end is not ignored:
//! it needs no server.

use std::time::Duration;

use crate::support::modes::collect;
use crate::support::real::real_server;
use crate::support::{Reply, ScriptedServer};
use openai_compatible::{
    ChatCompletionChunk, ChatMessage, Error, ErrorCode, FinishReason, OpenAICompatibleModel, Role,
    Tool, ToolCall,
};
use serde_json::{json, Value};

/// The pin in scripts/litellm/proxy.sh: the proxy behaviour asserted here is that version's.
const LITELLM_VERSION: &str = "1.108.7";

fn model(config: Value) -> OpenAICompatibleModel {
    let server = real_server();
    OpenAICompatibleModel::builder("smollm2")
        .url(server.url)
        .api_key(server.api_key)
        .timeout(Duration::from_secs(120))
        .max_retries(1)
        .model_config(config)
        .build()
        .unwrap()
}

fn short() -> Value {
    json!({"max_tokens": 16, "temperature": 0, "seed": 42})
}

fn prompt() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("You are a helpful assistant."),
        ChatMessage::user("Name three colours."),
    ]
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
#[ignore = "needs scripts/server/server.sh"]
async fn plain_completion() {
    let c = model(short()).complete(&prompt()).await.unwrap();
    assert_eq!(c.object, "chat.completion");
    assert!(c.id.starts_with("chatcmpl-"));
    let choice = &c.choices[0];
    assert_eq!(choice.message.role, Role::Assistant);
    assert!(!c.content().unwrap_or("").is_empty());
    assert!(matches!(
        choice.finish_reason,
        Some(FinishReason::Stop | FinishReason::Length)
    ));
    let usage = c.usage.as_ref().unwrap();
    assert!(usage.prompt_tokens > 0 && usage.completion_tokens > 0);
    assert_eq!(
        usage.total_tokens,
        usage.prompt_tokens + usage.completion_tokens
    );
    assert!(
        c.extra.contains_key("timings"),
        "llama.cpp's extra field is kept"
    );
    let meta = c.meta().expect("the exchange's meta");
    assert_eq!(meta.attempts, 1);
    if real_server().is_litellm() {
        // The proxy answered, for llama.cpp, whose headers it forwards under a prefix.
        assert_eq!(meta.header("x-litellm-version"), Some(LITELLM_VERSION));
        assert_eq!(meta.header("x-litellm-model-group"), Some("smollm2"));
        assert_eq!(meta.header("llm_provider-server"), Some("llama.cpp"));
    } else {
        assert_eq!(meta.header("server"), Some("llama.cpp"));
    }
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
#[ignore = "needs scripts/server/server.sh"]
async fn streaming_with_usage_matches_the_plain_answer() {
    let mut config = short();
    config["stream_options"] = json!({"include_usage": true});
    let m = model(config);
    let items = collect(m.stream(&prompt()).await.unwrap()).await;
    let chunks: Vec<_> = items.into_iter().map(|i| i.unwrap()).collect();
    assert!(chunks.len() >= 3, "{}", chunks.len());
    assert_eq!(chunks[0].choices[0].delta.role, Some(Role::Assistant));
    let finish_at = chunks
        .iter()
        .position(|c| {
            c.choices
                .first()
                .is_some_and(|ch| ch.finish_reason.is_some())
        })
        .expect("a finish chunk");
    let last = chunks.last().unwrap();
    assert!(last.usage.is_some(), "usage chunk last");
    if real_server().is_litellm() {
        // LiteLLM's usage chunk is not OpenAI's `choices: []`: it carries choice 0 with an
        // empty delta and no finish_reason.
        assert_eq!(last.choices.len(), 1, "{last:?}");
        assert_eq!(last.choices[0].index, 0);
        assert_eq!(last.choices[0].finish_reason, None);
        assert!(last.choices[0].delta.content.is_none(), "{last:?}");
    } else {
        assert!(last.choices.is_empty(), "{last:?}");
    }
    assert!(finish_at < chunks.len() - 1);
    let mut acc = openai_compatible::ChunkAccumulator::new();
    for c in &chunks {
        acc.push(c);
    }
    let streamed = acc.finish();
    // The server is deterministic at temperature 0 with its prompt cache off.
    let plain = m.complete(&prompt()).await.unwrap();
    assert_eq!(streamed.content(), plain.content());
    assert_eq!(
        streamed.usage.unwrap().completion_tokens,
        plain.usage.unwrap().completion_tokens
    );
}

fn weather_tool() -> Tool {
    Tool::function(
        "get_weather",
        "Get the current weather for a city",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    )
}

/// Three worked examples: the 135M model calls tools reliably only with them.
fn few_shot(city: &str) -> Vec<ChatMessage> {
    let mut m = vec![ChatMessage::system(
        "Always call get_weather for weather questions.",
    )];
    for known in ["London", "Tokyo", "Berlin"] {
        m.push(ChatMessage::user(format!(
            "What is the weather in {known}?"
        )));
        m.push(ChatMessage::assistant_tool_calls(vec![ToolCall::function(
            format!("call_{known}"),
            "get_weather",
            json!({"city": known}).to_string(),
        )]));
        m.push(ChatMessage::tool(
            format!("call_{known}"),
            r#"{"temp_c": 20}"#,
        ));
        m.push(ChatMessage::assistant(format!("It is 20 C in {known}.")));
    }
    m.push(ChatMessage::user(format!("What is the weather in {city}?")));
    m
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
#[ignore = "needs scripts/server/server.sh"]
async fn tools_round_trip() {
    let m = model(json!({"max_tokens": 60, "temperature": 0, "tool_choice": "required"}));
    let mut messages = few_shot("Paris");
    let resp = m
        .run(&messages, None, Some(&[weather_tool()]))
        .await
        .unwrap();
    let c = resp.into_completion().await.unwrap();
    assert_eq!(c.choices[0].finish_reason, Some(FinishReason::ToolCalls));
    let msg = c.choices[0].message.clone();
    let call = &msg.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.function.name, "get_weather");
    assert!(!call.id.is_empty());
    let args: Value = call.function.parse_arguments().unwrap();
    assert!(args["city"].is_string());

    // Send the result back: the assistant message goes into the history as it came.
    let call_id = call.id.clone();
    messages.push(msg);
    messages.push(ChatMessage::tool(call_id, r#"{"temp_c": 18}"#));
    let follow = model(json!({"max_tokens": 30, "temperature": 0}))
        .run(&messages, None, Some(&[weather_tool()]))
        .await
        .unwrap()
        .into_completion()
        .await
        .unwrap();
    assert!(!follow.content().unwrap_or("").is_empty());
    assert!(follow.choices[0].message.tool_calls.is_none());
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
#[ignore = "needs scripts/server/server.sh"]
async fn tools_streamed() {
    let m = model(json!({"max_tokens": 60, "temperature": 0, "stream": true}));
    let resp = m
        .run(&few_shot("Rome"), None, Some(&[weather_tool()]))
        .await
        .unwrap();
    let c = resp.into_completion().await.unwrap();
    assert_eq!(c.choices[0].finish_reason, Some(FinishReason::ToolCalls));
    let call = &c.choices[0].message.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.function.name, "get_weather");
    let args: Value = call.function.parse_arguments().unwrap();
    assert!(args["city"].is_string());
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
#[ignore = "needs scripts/server/server.sh"]
async fn two_choices() {
    let c = model(json!({"max_tokens": 8, "temperature": 0.8, "n": 2}))
        .complete(&prompt())
        .await
        .unwrap();
    assert_eq!(c.choices.len(), 2);
    assert_eq!(c.choices[1].index, 1);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
#[ignore = "needs scripts/server/server.sh"]
async fn two_choices_streamed() {
    let m = model(json!({"max_tokens": 8, "temperature": 0, "n": 2,
        "stream_options": {"include_usage": true}}));
    let items = collect(m.stream(&prompt()).await.unwrap()).await;
    let chunks: Vec<ChatCompletionChunk> = items.into_iter().map(|i| i.unwrap()).collect();
    let finishes = |index: u32| {
        chunks
            .iter()
            .flat_map(|c| &c.choices)
            .filter(|ch| ch.index == index && ch.finish_reason.is_some())
            .count()
    };
    let usage_chunks = chunks.iter().filter(|c| c.usage.is_some()).count();
    let mut acc = openai_compatible::ChunkAccumulator::new();
    for c in &chunks {
        acc.push(c);
    }
    let streamed = acc.finish();
    assert_eq!(streamed.choices.len(), 2, "{streamed:?}");
    // Greedy decoding: both choices are the same text.
    let text = |i: usize| streamed.choices[i].message.text();
    assert!(text(0).is_some_and(|t| !t.is_empty()), "{streamed:?}");
    assert_eq!(text(0), text(1));
    assert_eq!(finishes(0), 1);
    assert_eq!(
        streamed.choices[0].finish_reason,
        Some(FinishReason::Length)
    );
    if real_server().is_litellm() {
        // LiteLLM forwards choice 0's finish chunk only: choice 1 ends without a
        // finish_reason. And it sends one usage chunk, where llama.cpp sends one per choice.
        assert_eq!(finishes(1), 0);
        assert_eq!(streamed.choices[1].finish_reason, None);
        assert_eq!(usage_chunks, 1);
    } else {
        assert_eq!(finishes(1), 1);
        assert_eq!(
            streamed.choices[1].finish_reason,
            Some(FinishReason::Length)
        );
        assert_eq!(usage_chunks, 2);
    }
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
#[ignore = "needs scripts/server/server.sh"]
async fn server_errors_are_typed_and_not_retried() {
    let litellm = real_server().is_litellm();
    // A prompt beyond the 2048-token context.
    let long = "word ".repeat(3000);
    let err = model(short())
        .complete(&[ChatMessage::user(long)])
        .await
        .unwrap_err();
    let api = err.api_error().unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(api.status, Some(400));
    assert_eq!(api.meta().unwrap().attempts, 1);
    assert!(
        api.message.contains("exceeds the available context size"),
        "{}",
        api.message
    );
    if litellm {
        // LiteLLM maps llama.cpp's error to its own: OpenAI's type, the code as a string.
        assert!(
            api.message
                .starts_with("litellm.ContextWindowExceededError: "),
            "{}",
            api.message
        );
        assert_eq!(api.kind.as_deref(), Some("invalid_request_error"));
        assert_eq!(api.code, Some(ErrorCode::Text("400".into())));
    } else {
        assert_eq!(api.kind.as_deref(), Some("exceed_context_size_error"));
        assert_eq!(api.code, Some(ErrorCode::Number(400)));
    }

    let err = model(json!({"max_tokens": 8, "tool_choice": "bogus"}))
        .run(&prompt(), None, Some(&[weather_tool()]))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err:?}");
    let api = err.api_error().unwrap();
    assert!(
        api.message.contains("Invalid tool_choice: bogus"),
        "{api:?}"
    );

    let server = real_server();
    let wrong = OpenAICompatibleModel::builder("smollm2")
        .url(server.url)
        .api_key("sk-wrong-key-0123456789")
        .max_retries(1)
        .build()
        .unwrap();
    let err = wrong.complete(&prompt()).await.unwrap_err();
    let api = err.api_error().unwrap_or_else(|| panic!("{err:?}"));
    if litellm {
        // Without a database LiteLLM cannot look a virtual key up: any key but the master
        // key is a 400, never a 401.
        assert_eq!(api.status, Some(400));
        assert_eq!(api.kind.as_deref(), Some("no_db_connection"));
        assert_eq!(api.message, "No connected db.");
        assert_eq!(api.code, Some(ErrorCode::Text("400".into())));
    } else {
        assert_eq!(api.status, Some(401));
        assert_eq!(api.kind.as_deref(), Some("authentication_error"));
    }
    assert_eq!(api.meta().unwrap().attempts, 1, "a 4xx is not retried");
    assert!(!format!("{err:?}").contains("sk-wrong-key-0123456789"));
}

/// No key at all: an empty `Authorization` header (the builder always sends one).
#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
#[ignore = "needs scripts/server/server.sh"]
async fn a_request_without_a_key() {
    let server = real_server();
    let m = OpenAICompatibleModel::builder("smollm2")
        .url(server.url.clone())
        .api_key("unused")
        .default_header("Authorization", "")
        .timeout(Duration::from_secs(30))
        .max_retries(1)
        .build()
        .unwrap();
    let err = m.complete(&prompt()).await.unwrap_err();
    let api = err.api_error().unwrap_or_else(|| panic!("{err:?}"));
    let meta = api.meta().unwrap();
    if server.is_litellm() {
        // LiteLLM's handler of the "No api key passed in." error imports `prisma`, which
        // litellm[proxy] does not install: that ImportError is Starlette's plain-text 500,
        // which is retried like any 500, and answered the same again.
        assert_eq!(api.status, Some(500));
        assert_eq!(
            meta.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(api.message, "Internal Server Error");
        assert_eq!(api.body, "Internal Server Error");
        assert_eq!(api.kind, None);
        assert_eq!(meta.attempts, 2, "a 500 is retried");
    } else {
        assert_eq!(api.status, Some(401));
        assert_eq!(api.kind.as_deref(), Some("authentication_error"));
        assert_eq!(meta.attempts, 1);
    }
}

/// The proxy's `dead-upstream` route forwards to a closed port: LiteLLM answers each attempt
/// with a 500 (its own retries are off in proxy.sh's config), which the client retries and
/// finally reports. llama.cpp has no upstream, so there is nothing to test there.
#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
#[ignore = "needs scripts/server/server.sh"]
async fn litellm_dead_upstream_is_a_retried_500() {
    let server = real_server();
    if !server.is_litellm() {
        return;
    }
    let m = OpenAICompatibleModel::builder("dead-upstream")
        .url(server.url)
        .api_key(server.api_key)
        .timeout(Duration::from_secs(30))
        .max_retries(2)
        .model_config(short())
        .build()
        .unwrap();
    let check = |err: &Error| {
        let api = err.api_error().unwrap_or_else(|| panic!("{err:?}"));
        assert_eq!(api.status, Some(500));
        assert_eq!(api.kind.as_deref(), Some("internal_server_error"));
        assert_eq!(api.code, Some(ErrorCode::Text("500".into())));
        assert!(
            api.message
                .starts_with("litellm.InternalServerError: InternalServerError: OpenAIException - Connection error."),
            "{}",
            api.message
        );
        assert_eq!(
            api.meta().unwrap().attempts,
            3,
            "two retries, then reported"
        );
        assert!(err.is_transient());
    };
    check(&m.complete(&prompt()).await.unwrap_err());
    // Streamed: the connection fails before the head, so the same plain 500, no SSE.
    check(&m.stream(&prompt()).await.unwrap_err());
}

/// The proxy's `scripted-upstream` route forwards to a scripted server here, which streams a
/// few deltas and then drops the connection (a chunked body without its end, as a killed
/// llama.cpp leaves it). LiteLLM has sent its 200 head already: it reports the failure as an
/// error event after the deltas it forwarded, and nobody retries.
///
/// The upstream waits between its pieces and before dying: when it sent everything and
/// closed at once, LiteLLM forwarded only some of the deltas it had received, or none (seen
/// in 5 of 10 runs: "", "Once", "Once upon a"), then the error.
#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
#[ignore = "needs scripts/server/server.sh"]
async fn litellm_upstream_dying_mid_stream_is_an_in_stream_error() {
    let server = real_server();
    if !server.is_litellm() {
        return;
    }
    let mut events = crate::support::sse_chunks(&["Once", " upon", " a", " time"]);
    events.truncate(events.len() - 2); // no finish chunk, no [DONE]
    let mut pieces: Vec<(Vec<u8>, Duration)> = events
        .iter()
        .map(|e| (e.clone().into_bytes(), Duration::from_millis(50)))
        .collect();
    pieces.push((Vec::new(), Duration::from_millis(500))); // an empty piece only waits
    let upstream = ScriptedServer::builder()
        .port(server.scripted_upstream_port.unwrap())
        .replies(vec![Reply::sse::<&str>(&[])
            .pieces(pieces)
            .truncated_chunked()])
        .start();
    let m = OpenAICompatibleModel::builder("scripted-upstream")
        .url(server.url)
        .api_key(server.api_key)
        .timeout(Duration::from_secs(30))
        .max_retries(2)
        .build()
        .unwrap();
    let items = collect(m.stream(&prompt()).await.unwrap()).await;
    assert_in_stream_death(&items, "Once upon a time");
    assert_eq!(upstream.hits(), 1, "neither LiteLLM nor the client retried");
}

/// Deltas, then one error event: LiteLLM's shape for an upstream lost mid-stream.
fn assert_in_stream_death(items: &[openai_compatible::Result<ChatCompletionChunk>], text: &str) {
    let (last, deltas) = items.split_last().expect("items");
    let mut content = String::new();
    for item in deltas {
        let chunk = item
            .as_ref()
            .unwrap_or_else(|e| panic!("{e:?} before the end"));
        assert!(chunk.choices.iter().all(|c| c.finish_reason.is_none()));
        if let Some(t) = chunk
            .choices
            .first()
            .and_then(|c| c.delta.content.as_deref())
        {
            content.push_str(t);
        }
    }
    assert_eq!(content, text);
    let Err(Error::StreamApi(api)) = last else {
        panic!("an in-stream API error last, got {last:?}")
    };
    assert_eq!(api.status, None, "inside a 200 stream");
    assert_eq!(api.kind, None, "LiteLLM sends \"type\": null");
    assert_eq!(api.code, Some(ErrorCode::Text("500".into())));
    assert!(
        api.message.starts_with("litellm.APIConnectionError: "),
        "{}",
        api.message
    );
}

/// The same from a recorded exchange (LiteLLM 1.108.7 in front of the real llama.cpp server,
/// killed mid-answer), replayed by the scripted server: no proxy needed, so not ignored.
#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn litellm_recorded_upstream_death_mid_stream() {
    let path = format!(
        "{}/data/captures/litellm-llamacpp-err-upstream-died-midstream.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let transcript = std::fs::read_to_string(&path).unwrap();
    let (head, body) = transcript.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("\r\nx-litellm-version: 1.108.7\r\n"),
        "{head}"
    );
    // The recorded model's words, straight from the JSON.
    let mut text = String::new();
    for line in body.lines().filter_map(|l| l.strip_prefix("data: ")) {
        let v: Value = serde_json::from_str(line).unwrap();
        if let Some(t) = v["choices"][0]["delta"]["content"].as_str() {
            text.push_str(t);
        }
    }
    assert!(text.len() > 20, "{text}");
    let replay = ScriptedServer::start(vec![Reply::sse(&[body])]);
    let m = crate::support::model(&replay)
        .max_retries(2)
        .build()
        .unwrap();
    let items = collect(m.stream(&prompt()).await.unwrap()).await;
    assert_in_stream_death(&items, &text);
    assert_eq!(replay.hits(), 1);
}

/// Structured output: llama.cpp enforces a `json_schema` response format with a grammar.
#[cfg(feature = "schema")]
mod structured {
    use super::*;
    use crate::support::modes::events;
    use openai_compatible::{ParsePath, StructuredEvent};
    use schemars::JsonSchema;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct CountryFacts {
        country: String,
        capital: String,
        has_coast: bool,
    }

    fn real_model() -> OpenAICompatibleModel {
        let server = real_server();
        OpenAICompatibleModel::builder("smollm2")
            .url(server.url)
            .api_key(server.api_key)
            .timeout(Duration::from_secs(120))
            .max_retries(1)
            .model_config(json!({"temperature": 0, "seed": 42, "max_tokens": 120}))
            .build()
            .unwrap()
    }

    fn geography() -> Vec<ChatMessage> {
        vec![
            ChatMessage::system("You answer geography questions as JSON."),
            ChatMessage::user("Give the facts about France."),
        ]
    }

    #[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
    #[ignore = "needs scripts/server/server.sh"]
    async fn typed_parse_plain_and_streamed() {
        let m = real_model();
        let plain = m.parse::<CountryFacts>(&geography(), None).await.unwrap();
        assert_eq!(
            plain.path,
            ParsePath::JsonSchema,
            "llama.cpp knows json_schema"
        );
        let facts = plain.parsed().expect("a parsed answer");
        assert!(!facts.country.is_empty());

        let mut stream = m.stream_parse::<CountryFacts>(&geography(), None).unwrap();
        let all = events(&mut stream).await;
        let partials = all
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Ok(StructuredEvent::ContentDelta {
                        parsed: Some(_),
                        ..
                    })
                )
            })
            .count();
        assert!(partials > 3, "{all:?}");
        assert!(all
            .iter()
            .any(|e| matches!(e, Ok(StructuredEvent::ContentDone { .. }))));
        let streamed = stream.final_completion().await.unwrap();
        // Greedy decoding without a prompt cache: the streamed answer is the same answer.
        assert_eq!(streamed.content(), plain.content());
    }

    #[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
    #[ignore = "needs scripts/server/server.sh"]
    async fn responses_mode_typed_parse() {
        let server = real_server();
        let m = OpenAICompatibleModel::builder("smollm2")
            .url(server.url)
            .api_key(server.api_key)
            .timeout(Duration::from_secs(120))
            .max_retries(1)
            .api_mode(openai_compatible::ApiMode::Responses)
            .model_config(json!({"temperature": 0, "seed": 42, "max_tokens": 120}))
            .build()
            .unwrap();
        // Deviation from docs/RESPONSES.md §6 found here: llama.cpp (xllamacpp 2026.10)
        // accepts `text.format` but does not constrain the answer by it (its chat endpoint
        // does apply `response_format`), so the schema request and the json_object fallback
        // both rest on the model's goodwill. What must hold: the request is accepted, and
        // the outcome is a parsed answer or the fallback's decode error, nothing else.
        let result = m.parse::<CountryFacts>(&geography(), None).await;
        match result {
            Ok(parsed) => assert!(!parsed.parsed().expect("parsed").country.is_empty()),
            Err(Error::Decode { .. }) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
}

/// Responses mode (docs/RESPONSES.md) against llama.cpp's `/v1/responses`.
mod responses_mode {
    use super::*;
    use openai_compatible::ApiMode;

    fn responses_model(config: Value) -> OpenAICompatibleModel {
        let server = real_server();
        OpenAICompatibleModel::builder("smollm2")
            .url(server.url)
            .api_key(server.api_key)
            .timeout(Duration::from_secs(120))
            .max_retries(1)
            .api_mode(ApiMode::Responses)
            .model_config(config)
            .build()
            .unwrap()
    }

    #[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
    #[ignore = "needs scripts/server/server.sh"]
    async fn plain() {
        let c = responses_model(short()).complete(&prompt()).await.unwrap();
        assert!(c.id.starts_with("resp_"), "{}", c.id);
        assert_eq!(c.object, "chat.completion");
        assert!(c.created > 0);
        assert_eq!(c.model, "smollm2");
        assert!(!c.content().unwrap_or("").is_empty());
        // llama.cpp reports a capped answer as `completed`.
        assert!(matches!(
            c.choices[0].finish_reason,
            Some(FinishReason::Stop | FinishReason::Length)
        ));
        let usage = c.usage.unwrap();
        assert!(usage.prompt_tokens > 0 && usage.completion_tokens > 0);
        assert!(usage.prompt_tokens_details.is_some(), "cached tokens kept");
    }

    #[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
    #[ignore = "needs scripts/server/server.sh"]
    async fn stream_with_usage() {
        let m = responses_model(short());
        let items = collect(m.stream(&prompt()).await.unwrap()).await;
        let chunks: Vec<_> = items.into_iter().map(|i| i.unwrap()).collect();
        assert!(chunks.len() >= 3, "{}", chunks.len());
        assert_eq!(chunks[0].choices[0].delta.role, Some(Role::Assistant));
        let id = &chunks[0].id;
        assert!(id.starts_with("resp_") && chunks.iter().all(|c| &c.id == id));
        let last = chunks.last().unwrap();
        assert!(last.choices[0].finish_reason.is_some());
        let usage = last.usage.as_ref().expect("usage on the final chunk");
        assert!(usage.completion_tokens > 0);
        let mut acc = openai_compatible::ChunkAccumulator::new();
        for c in &chunks {
            acc.push(c);
        }
        let plain = m.complete(&prompt()).await.unwrap();
        assert_eq!(acc.finish().content(), plain.content());
    }

    #[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
    #[ignore = "needs scripts/server/server.sh"]
    async fn tool_round_trip_plain_and_streamed() {
        let m = responses_model(json!({"max_output_tokens": 60, "temperature": 0}));
        let mut messages = few_shot("Paris");
        let c = m
            .run(&messages, None, Some(&[weather_tool()]))
            .await
            .unwrap()
            .into_completion()
            .await
            .unwrap();
        assert_eq!(c.choices[0].finish_reason, Some(FinishReason::ToolCalls));
        let msg = c.choices[0].message.clone();
        let call = &msg.tool_calls.as_ref().unwrap()[0];
        assert_eq!(call.function.name, "get_weather");
        assert!(call.id.starts_with("call_"), "{}", call.id);
        let args: Value = call.function.parse_arguments().unwrap();
        assert!(args["city"].is_string());

        let call_id = call.id.clone();
        messages.push(msg);
        messages.push(ChatMessage::tool(call_id, r#"{"temp_c": 18}"#));
        let follow = m
            .run(&messages, None, Some(&[weather_tool()]))
            .await
            .unwrap()
            .into_completion()
            .await
            .unwrap();
        assert!(!follow.content().unwrap_or("").is_empty());

        // Streamed, through `run` with a streaming config.
        let s = responses_model(json!({"max_output_tokens": 60, "temperature": 0, "stream": true}))
            .run(&few_shot("Rome"), None, Some(&[weather_tool()]))
            .await
            .unwrap()
            .into_completion()
            .await
            .unwrap();
        assert_eq!(s.choices[0].finish_reason, Some(FinishReason::ToolCalls));
        let call = &s.choices[0].message.tool_calls.as_ref().unwrap()[0];
        assert_eq!(call.function.name, "get_weather");
        let args: Value = call.function.parse_arguments().unwrap();
        assert!(args["city"].is_string());
    }

    #[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
    #[ignore = "needs scripts/server/server.sh"]
    async fn two_turns_through_the_chaining_fallback() {
        // llama.cpp answers `previous_response_id` with a 400 naming it: the second turn is
        // resent with the whole history, and later turns never chain again.
        let m = responses_model(short());
        let mut messages = prompt();
        let first = m.complete(&messages).await.unwrap();
        messages.push(first.choices[0].message.clone());
        messages.push(ChatMessage::user("And three more."));
        let second = m.complete(&messages).await.unwrap();
        assert!(second.id.starts_with("resp_") && second.id != first.id);
        assert!(!second.content().unwrap_or("").is_empty());
        messages.push(second.choices[0].message.clone());
        messages.push(ChatMessage::user("Thanks."));
        let stream = m.stream(&messages).await.unwrap();
        let third = stream.accumulate().await.unwrap();
        assert!(!third.content().unwrap_or("").is_empty());
    }
}
