//! A tool round trip: the model asks for `get_weather`, we run the tool and send its result
//! back, and the model answers with it. Small local models call tools reliably only with a
//! few worked examples in the history, so the conversation starts with three.
//!
//! ```text
//! cargo run --example tools [-- CITY]
//! ```
//!
//! It prints `tool call: get_weather({"city": …})` for each call the model makes, then
//! `answer: …`. Key and URL come from the environment (`OPENAI_COMPATIBILITY_API_KEY`,
//! `OPENAI_COMPATIBILITY_API_BASE_URL`; `scripts/server/server.sh env` prints them for the local
//! llama.cpp server), the model name from `MODEL` (default `smollm2`).
//!
//! This is a blocking program, the crate's default mode. A build with `--features async`
//! makes the crate's whole API async, so there this example only points to `async_server`.

#[cfg(not(feature = "async"))]
fn main() -> std::process::ExitCode {
    let city = std::env::args().nth(1).unwrap_or_else(|| "Paris".into());
    match weather::ask(&city) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tools: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "async")]
fn main() {
    println!("this example is blocking; see async_server for the async API");
}

#[cfg(not(feature = "async"))]
mod weather {
    use openai_compatible::{ChatMessage, FinishReason, OpenAICompatibleModel, Tool, ToolCall};
    use serde_json::{json, Value};

    /// Asks about the weather in `city`, answering the model's tool calls on the way.
    pub fn ask(city: &str) -> Result<(), Box<dyn std::error::Error>> {
        let model = OpenAICompatibleModel::builder(
            std::env::var("MODEL").unwrap_or_else(|_| "smollm2".into()),
        )
        .model_config(json!({"temperature": 0, "max_tokens": 60}))
        .build()?;
        let tools = [weather_tool()];
        let mut messages = conversation(city);

        // First turn: the model should not answer yet but ask for the tool.
        let first = model
            .run(&messages, None, Some(&tools))?
            .into_completion()?;
        let choice = first
            .choices
            .first()
            .ok_or("the server returned no choices")?;
        if choice.finish_reason != Some(FinishReason::ToolCalls) {
            let text = first.content().unwrap_or_default();
            return Err(format!("the model answered without calling the tool: {text:?}").into());
        }

        // Keep the assistant's tool-call message in the history, then add one result per call.
        let assistant = choice.message.clone();
        let calls = assistant.tool_calls.clone().unwrap_or_default();
        messages.push(assistant);
        for call in &calls {
            println!(
                "tool call: {}({})",
                call.function.name, call.function.arguments
            );
            let args: Value = call.function.parse_arguments()?;
            messages.push(ChatMessage::tool(
                call.id.clone(),
                get_weather(&args).to_string(),
            ));
        }

        // Second turn: the model reads the results and answers in words.
        let last = model
            .run(&messages, None, Some(&tools))?
            .into_completion()?;
        println!("answer: {}", last.content().unwrap_or_default());
        Ok(())
    }

    /// The tool as the model sees it: a name, a description and a JSON schema of its arguments.
    fn weather_tool() -> Tool {
        Tool::function(
            "get_weather",
            "Get the current weather for a city",
            json!({
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"]
            }),
        )
    }

    /// The tool itself: a stand-in that always reports mild weather.
    fn get_weather(args: &Value) -> Value {
        json!({"city": args["city"], "temp_c": 18, "sky": "clear"})
    }

    /// A system prompt, three worked tool rounds, then the real question.
    fn conversation(city: &str) -> Vec<ChatMessage> {
        let mut messages = vec![ChatMessage::system(
            "Always call get_weather for weather questions.",
        )];
        for known in ["London", "Tokyo", "Berlin"] {
            let id = format!("call_{known}");
            messages.push(ChatMessage::user(format!(
                "What is the weather in {known}?"
            )));
            messages.push(ChatMessage::assistant_tool_calls(vec![ToolCall::function(
                id.clone(),
                "get_weather",
                json!({"city": known}).to_string(),
            )]));
            messages.push(ChatMessage::tool(id, r#"{"temp_c": 20}"#));
            messages.push(ChatMessage::assistant(format!("It is 20 C in {known}.")));
        }
        messages.push(ChatMessage::user(format!("What is the weather in {city}?")));
        messages
    }
}
