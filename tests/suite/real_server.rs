//! Against a real OpenAI-compatible server: llama.cpp's own C++ server with SmolLM2-135M,
//! started on 127.0.0.1 by scripts/server/server.sh. Both builds. These tests assert structure,
//! never the model's wording.
//!
//! Opt-in: the server needs Python, packages and a 98 MB model, so every test here is
//! `#[ignore = "needs scripts/server/server.sh"]` and a plain `cargo test` is hermetic. scripts/test.sh
//! runs them (`cargo test --test suite -- --ignored real_server::`, in both builds); so can you.

use std::time::Duration;

use crate::support::modes::collect;
use crate::support::real::real_server;
use openai_compatible::{
    ChatMessage, Error, FinishReason, OpenAICompatibleModel, Role, Tool, ToolCall,
};
use serde_json::{json, Value};

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
    assert!(
        last.choices.is_empty() && last.usage.is_some(),
        "usage chunk last"
    );
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
async fn server_errors_are_typed_and_not_retried() {
    // A prompt beyond the 2048-token context.
    let long = "word ".repeat(3000);
    let err = model(short())
        .complete(&[ChatMessage::user(long)])
        .await
        .unwrap_err();
    let api = err.api_error().unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(api.status, Some(400));
    assert_eq!(api.kind.as_deref(), Some("exceed_context_size_error"));
    assert_eq!(api.code, Some(openai_compatible::ErrorCode::Number(400)));

    let err = model(json!({"max_tokens": 8, "tool_choice": "bogus"}))
        .run(&prompt(), None, Some(&[weather_tool()]))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err:?}");

    let server = real_server();
    let wrong = OpenAICompatibleModel::builder("smollm2")
        .url(server.url)
        .api_key("sk-wrong-key-0123456789")
        .build()
        .unwrap();
    let err = wrong.complete(&prompt()).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(matches!(&err, Error::Api(e) if e.kind.as_deref() == Some("authentication_error")));
    assert!(!format!("{err:?}").contains("sk-wrong-key-0123456789"));
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
