//! A tool round trip: the model asks for `get_weather`, we run it, and send the result back
//! for the final answer. Small local models call tools reliably only with a few worked
//! examples in the history, so the conversation starts with three.
//!
//! ```text
//! cargo run --example tools [-- CITY]        # blocking
//! cargo run --features async --example tools [-- CITY]
//! ```
//!
//! Key and URL come from the environment (`OPENAI_COMPATIBILITY_API_KEY`,
//! `OPENAI_COMPATIBILITY_API_BASE_URL`); `scripts/server.sh env` prints them for the local
//! llama.cpp server. The model name comes from `MODEL` (default `smollm2`).

use openai_compatible::{ChatMessage, FinishReason, OpenAICompatibleModel, Tool, ToolCall};
use serde_json::{json, Value};

fn weather_tool() -> Tool {
    Tool::function(
        "get_weather",
        "Get the current weather for a city",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    )
}

/// The tool itself: a stand-in that always reports mild weather.
fn get_weather(args: &Value) -> Value {
    json!({"city": args["city"], "temp_c": 18, "sky": "clear"})
}

fn conversation(city: &str) -> Vec<ChatMessage> {
    let mut m = vec![ChatMessage::system(
        "Always call get_weather for weather questions.",
    )];
    for known in ["London", "Tokyo", "Berlin"] {
        let id = format!("call_{known}");
        m.push(ChatMessage::user(format!(
            "What is the weather in {known}?"
        )));
        m.push(ChatMessage::assistant_tool_calls(vec![ToolCall::function(
            id.clone(),
            "get_weather",
            json!({"city": known}).to_string(),
        )]));
        m.push(ChatMessage::tool(id, r#"{"temp_c": 20}"#));
        m.push(ChatMessage::assistant(format!("It is 20 C in {known}.")));
    }
    m.push(ChatMessage::user(format!("What is the weather in {city}?")));
    m
}

#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
async fn run(city: &str) -> Result<(), Box<dyn std::error::Error>> {
    let model =
        OpenAICompatibleModel::builder(std::env::var("MODEL").unwrap_or_else(|_| "smollm2".into()))
            .model_config(json!({"temperature": 0, "max_tokens": 60}))
            .build()?;
    let tools = [weather_tool()];
    let mut messages = conversation(city);

    let first = model
        .run(&messages, None, Some(&tools))
        .await?
        .into_completion()
        .await?;
    let choice = first.choices.first().ok_or("no choices")?;
    if choice.finish_reason != Some(FinishReason::ToolCalls) {
        return Err(format!(
            "the model answered without calling the tool: {:?}",
            first.content()
        )
        .into());
    }
    let assistant = choice.message.clone();
    let calls = assistant.tool_calls.clone().unwrap_or_default();
    messages.push(assistant);
    for call in &calls {
        let args: Value = call.function.parse_arguments()?;
        let result = get_weather(&args);
        println!(
            "tool call: {}({})",
            call.function.name, call.function.arguments
        );
        messages.push(ChatMessage::tool(call.id.clone(), result.to_string()));
    }

    let last = model
        .run(&messages, None, Some(&tools))
        .await?
        .into_completion()
        .await?;
    println!("answer: {}", last.content().unwrap_or_default());
    Ok(())
}

#[cfg(not(feature = "async"))]
fn main() {
    let city = std::env::args().nth(1).unwrap_or_else(|| "Paris".into());
    if let Err(e) = run(&city) {
        eprintln!("tools: {e}");
        std::process::exit(1);
    }
}

#[cfg(feature = "async")]
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let city = std::env::args().nth(1).unwrap_or_else(|| "Paris".into());
    if let Err(e) = run(&city).await {
        eprintln!("tools: {e}");
        std::process::exit(1);
    }
}
