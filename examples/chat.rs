//! A small chat CLI over any OpenAI-compatible server — and the crate's acceptance interface.
//!
//! ```text
//! chat [--model NAME] [--system TEXT] [--stream] [--json] [--max-retries N]
//!      [--timeout SECS] [--config JSON] [--tools FILE] [--schema FILE] PROMPT
//! ```
//!
//! The key, URL and timeout come from the environment (`OPENAI_COMPATIBILITY_API_KEY` /
//! `OPENAI_API_KEY`, `OPENAI_COMPATIBILITY_API_BASE_URL` / `OPENAI_BASE_URL`,
//! `MODEL_TIMEOUT`) unless a flag overrides them. On success it prints the assistant's
//! content (with `--json`, the whole completion as JSON) and exits 0; on failure it prints
//! one line on stderr and exits 1 (2 for a usage error).
//!
//! Runs in both builds: `cargo run --example chat -- …` or
//! `cargo run --features async --example chat -- …`. To do that from one file it is written
//! the way the crate itself is: the functions that make requests are `async fn`s marked for
//! `maybe_async`, which strips the `async` and `.await` in the blocking build. Your own code
//! targets one mode and needs none of that: `tools` and `structured` show blocking code as
//! you would write it, `async_server` async code.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use openai_compatible::{ChatMessage, OpenAICompatibleModel, ResponseFormat, Tool};
use serde_json::{Map, Value};

const USAGE: &str = "usage: chat [--model NAME] [--system TEXT] [--stream] [--json] \
[--max-retries N] [--timeout SECS] [--config JSON] [--tools FILE] [--schema FILE] PROMPT";

#[derive(Debug, Default)]
struct Args {
    model: Option<String>,
    system: Option<String>,
    stream: bool,
    json: bool,
    max_retries: Option<u32>,
    timeout: Option<f64>,
    config: Option<String>,
    tools: Option<String>,
    schema: Option<String>,
    prompt: String,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args::default();
    let mut prompt: Option<String> = None;
    while let Some(arg) = argv.next() {
        let mut value = |name: &str| argv.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--model" => args.model = Some(value("--model")?),
            "--system" => args.system = Some(value("--system")?),
            "--stream" => args.stream = true,
            "--json" => args.json = true,
            "--max-retries" => {
                let v = value("--max-retries")?;
                args.max_retries = Some(
                    v.parse()
                        .map_err(|_| format!("--max-retries: {v:?} is not a whole number"))?,
                );
            }
            "--timeout" => {
                let v = value("--timeout")?;
                let secs: f64 = v
                    .parse()
                    .map_err(|_| format!("--timeout: {v:?} is not a number of seconds"))?;
                if !secs.is_finite() || secs <= 0.0 {
                    return Err(format!("--timeout: {v:?} must be positive"));
                }
                args.timeout = Some(secs);
            }
            "--config" => args.config = Some(value("--config")?),
            "--tools" => args.tools = Some(value("--tools")?),
            "--schema" => args.schema = Some(value("--schema")?),
            "-h" | "--help" => return Err(String::new()),
            "--" => {
                let rest: Vec<String> = argv.by_ref().collect();
                prompt = Some(rest.join(" "));
            }
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            text => {
                if prompt.is_some() {
                    return Err("give the prompt as one argument (quote it)".into());
                }
                prompt = Some(text.to_owned());
            }
        }
    }
    args.prompt = prompt
        .filter(|p| !p.trim().is_empty())
        .ok_or("no prompt given")?;
    Ok(args)
}

fn read_json(path: &str, what: &str) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {what} file {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{what} file {path} is not JSON: {e}"))
}

/// What a run needs: the model, the conversation and the tools offered.
struct Setup {
    model: OpenAICompatibleModel,
    messages: Vec<ChatMessage>,
    tools: Option<Vec<Tool>>,
}

/// Everything up to the request: builds the model and the messages.
fn setup(args: &Args) -> Result<Setup, String> {
    let mut config = match &args.config {
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err("--config must be a JSON object".into()),
            Err(e) => return Err(format!("--config is not JSON: {e}")),
        },
        None => Map::new(),
    };
    if args.stream {
        config.insert("stream".into(), Value::Bool(true));
    }
    let tools = match &args.tools {
        Some(path) => {
            let v = read_json(path, "tools")?;
            let tools: Vec<Tool> = serde_json::from_value(v)
                .map_err(|e| format!("tools file {path} is not a list of tools: {e}"))?;
            Some(tools)
        }
        None => None,
    };
    let mut builder =
        OpenAICompatibleModel::builder(args.model.clone().unwrap_or_else(|| "gpt-4o-mini".into()))
            .model_config(Value::Object(config));
    if let Some(n) = args.max_retries {
        builder = builder.max_retries(n);
    }
    if let Some(secs) = args.timeout {
        builder = builder.timeout(Duration::from_secs_f64(secs));
    }
    let model = builder.build().map_err(|e| e.to_string())?;
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(ChatMessage::system(system.clone()));
    }
    messages.push(ChatMessage::user(args.prompt.clone()));
    Ok(Setup {
        model,
        messages,
        tools,
    })
}

/// A strict JSON-schema format from a schema file, named after the file. A file that
/// already holds a `{"name", "schema"}` wrapper (the API's own shape) is accepted too.
fn schema_format(path: &str) -> Result<ResponseFormat, String> {
    let raw = read_json(path, "schema")?;
    if !raw.is_object() {
        return Err(format!("schema file {path} must hold a JSON object"));
    }
    let (name, schema) = match (raw.get("name").and_then(Value::as_str), raw.get("schema")) {
        (Some(name), Some(schema)) if schema.is_object() => (name.to_owned(), schema.clone()),
        _ => {
            let stem = std::path::Path::new(path)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "response".into());
            (stem, raw)
        }
    };
    Ok(ResponseFormat::json_schema_strict(&name, &schema))
}

fn print_completion(c: &openai_compatible::ChatCompletion, json: bool) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    if json {
        let text = serde_json::to_string_pretty(c).map_err(|e| e.to_string())?;
        writeln!(out, "{text}").map_err(|e| e.to_string())?;
        return Ok(());
    }
    let message = c.message().ok_or("the server returned no choices")?;
    if let Some(text) = message.text() {
        writeln!(out, "{text}").map_err(|e| e.to_string())?;
    }
    for call in message.tool_calls.iter().flatten() {
        writeln!(out, "{}({})", call.function.name, call.function.arguments)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
async fn run(args: Args) -> Result<(), String> {
    let Setup {
        model,
        messages,
        tools,
    } = setup(&args)?;
    if let Some(path) = &args.schema {
        let format = schema_format(path)?;
        let parsed = if args.stream {
            // Streamed: the answer arrives in pieces; print the object parsed at the end.
            model
                .stream_parse_with::<Value>(&messages, &format, tools.as_deref())
                .map_err(|e| e.to_string())?
                .final_completion()
                .await
        } else {
            model
                .parse_with::<Value>(&messages, &format, tools.as_deref())
                .await
        };
        let value = parsed
            .and_then(|p| p.into_parsed())
            .map_err(|e| e.to_string())?;
        let text = serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?;
        println!("{text}");
        return Ok(());
    }
    let response = model
        .run(&messages, None, tools.as_deref())
        .await
        .map_err(|e| e.to_string())?;
    match response {
        openai_compatible::ModelResponse::Stream(stream) if !args.json => {
            print_stream(stream).await?;
            Ok(())
        }
        other => {
            let completion = other.into_completion().await.map_err(|e| e.to_string())?;
            print_completion(&completion, args.json)
        }
    }
}

/// Prints each delta of choice 0 as it arrives, flushed, then a newline, then choice 0's
/// tool calls. Other choices (`n` > 1) are not printed.
#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
async fn print_stream(mut stream: openai_compatible::ChatCompletionStream) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    let mut calls = openai_compatible::ChunkAccumulator::new();
    while let Some(chunk) = next(&mut stream).await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            if let Some(text) = choice.delta.content.as_deref() {
                out.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
                out.flush().map_err(|e| e.to_string())?;
            }
        }
        calls.push(&chunk);
    }
    writeln!(out).map_err(|e| e.to_string())?;
    let done = calls.finish();
    for call in done
        .choices
        .iter()
        .find(|c| c.index == 0)
        .and_then(|c| c.message.tool_calls.as_ref())
        .into_iter()
        .flatten()
    {
        writeln!(out, "{}({})", call.function.name, call.function.arguments)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(not(feature = "async"))]
fn next(
    s: &mut openai_compatible::ChatCompletionStream,
) -> Option<openai_compatible::Result<openai_compatible::ChatCompletionChunk>> {
    s.next()
}

#[cfg(feature = "async")]
async fn next(
    s: &mut openai_compatible::ChatCompletionStream,
) -> Option<openai_compatible::Result<openai_compatible::ChatCompletionChunk>> {
    futures_util::StreamExt::next(s).await
}

fn finish(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            let line = msg.replace('\n', " ");
            eprintln!("chat: {line}");
            ExitCode::FAILURE
        }
    }
}

fn args_or_exit() -> Result<Args, ExitCode> {
    parse_args(std::env::args().skip(1)).map_err(|msg| {
        if msg.is_empty() {
            println!("{USAGE}");
            ExitCode::SUCCESS
        } else {
            eprintln!("chat: {msg}\n{USAGE}");
            ExitCode::from(2)
        }
    })
}

#[cfg(not(feature = "async"))]
fn main() -> ExitCode {
    match args_or_exit() {
        Ok(args) => finish(run(args)),
        Err(code) => code,
    }
}

#[cfg(feature = "async")]
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match args_or_exit() {
        Ok(args) => finish(run(args).await),
        Err(code) => code,
    }
}
