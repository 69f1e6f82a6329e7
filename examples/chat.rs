//! A small chat CLI over any OpenAI-compatible server — and the crate's acceptance interface.
//!
//! ```text
//! chat [--model NAME] [--system TEXT] [--messages FILE] [--stream] [--json] [--meta]
//!      [--max-retries N] [--timeout SECS] [--connect-timeout SECS] [--config JSON]
//!      [--tools FILE] [--schema FILE] [--api-mode chat_completions|responses] [PROMPT]
//! ```
//!
//! The key, URL and timeout come from the environment (`OPENAI_COMPATIBILITY_API_KEY` /
//! `OPENAI_API_KEY`, `OPENAI_COMPATIBILITY_API_BASE_URL` / `OPENAI_BASE_URL`,
//! `MODEL_TIMEOUT`) unless a flag overrides them. On success it prints the assistant's
//! content (with `--json`, the whole completion as JSON) and exits 0; on failure it prints
//! one line on stderr and exits 1 (2 for a usage error).
//!
//! The conversation sent is the `--system` message, then the messages of the `--messages`
//! file (a JSON array of chat messages of any role: earlier turns, assistant tool calls,
//! tool results), then PROMPT as a user message; PROMPT may be left out when `--messages`
//! is given. With `--stream` and several choices (`n` in `--config`) only choice 0 is
//! printed; `--stream --json` prints the whole completion, every choice. `--meta` adds one
//! line on stderr when the run ends with an answer from the server (a success, or an HTTP
//! error): `meta: ` and a JSON object with the status, request id, attempts and rate
//! limits of the exchange. `--connect-timeout` bounds each attempt's connect (TCP, TLS).
//! `--api-mode` picks the wire protocol: `chat_completions` (the default) or `responses`
//! (`POST {base}/responses`, answers converted back); every other flag means the same in
//! both, and `--json` prints the converted completion.
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

use openai_compatible::{
    ApiMode, ChatMessage, Error, OpenAICompatibleModel, RequestOptions, ResponseFormat,
    ResponseMeta, Tool,
};
use serde_json::{json, Map, Value};

const USAGE: &str = "usage: chat [--model NAME] [--system TEXT] [--messages FILE] [--stream] \
[--json] [--meta] [--max-retries N] [--timeout SECS] [--connect-timeout SECS] [--config JSON] \
[--tools FILE] [--schema FILE] [--api-mode chat_completions|responses] [PROMPT]";

#[derive(Debug, Default)]
struct Args {
    model: Option<String>,
    system: Option<String>,
    messages: Option<String>,
    stream: bool,
    json: bool,
    meta: bool,
    max_retries: Option<u32>,
    timeout: Option<f64>,
    connect_timeout: Option<f64>,
    config: Option<String>,
    tools: Option<String>,
    schema: Option<String>,
    api_mode: ApiMode,
    /// `None` only with `--messages`.
    prompt: Option<String>,
}

/// A positive, finite number of seconds given to flag `name`.
fn seconds(name: &str, v: &str) -> Result<f64, String> {
    let secs: f64 = v
        .parse()
        .map_err(|_| format!("{name}: {v:?} is not a number of seconds"))?;
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("{name}: {v:?} must be positive"));
    }
    Ok(secs)
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args::default();
    let mut prompt: Option<String> = None;
    while let Some(arg) = argv.next() {
        let mut value = |name: &str| argv.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--model" => args.model = Some(value("--model")?),
            "--system" => args.system = Some(value("--system")?),
            "--messages" => args.messages = Some(value("--messages")?),
            "--stream" => args.stream = true,
            "--json" => args.json = true,
            "--meta" => args.meta = true,
            "--max-retries" => {
                let v = value("--max-retries")?;
                args.max_retries = Some(
                    v.parse()
                        .map_err(|_| format!("--max-retries: {v:?} is not a whole number"))?,
                );
            }
            "--timeout" => args.timeout = Some(seconds("--timeout", &value("--timeout")?)?),
            "--connect-timeout" => {
                let v = value("--connect-timeout")?;
                args.connect_timeout = Some(seconds("--connect-timeout", &v)?);
            }
            "--config" => args.config = Some(value("--config")?),
            "--tools" => args.tools = Some(value("--tools")?),
            "--schema" => args.schema = Some(value("--schema")?),
            "--api-mode" => {
                let v = value("--api-mode")?;
                args.api_mode = v.parse().map_err(|_| {
                    format!("--api-mode: {v:?} is not one of chat_completions, responses")
                })?
            }
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
    args.prompt = prompt.filter(|p| !p.trim().is_empty());
    if args.prompt.is_none() && args.messages.is_none() {
        return Err("no prompt given".into());
    }
    Ok(args)
}

fn read_json(path: &str, what: &str) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {what} file {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{what} file {path} is not JSON: {e}"))
}

/// The conversation of a `--messages` file: a JSON array of chat messages.
fn read_messages(path: &str) -> Result<Vec<ChatMessage>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--messages {path}: {e}"))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("--messages {path}: expected a JSON array of messages: {e}"))
}

/// What a run needs: the model, the conversation, the tools offered and the per-call
/// options.
struct Setup {
    model: OpenAICompatibleModel,
    messages: Vec<ChatMessage>,
    tools: Option<Vec<Tool>>,
    options: RequestOptions,
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
    let history = match &args.messages {
        Some(path) => {
            let history = read_messages(path)?;
            if history.is_empty() && args.prompt.is_none() {
                return Err(format!(
                    "--messages {path}: the array is empty and no PROMPT was given"
                ));
            }
            history
        }
        None => Vec::new(),
    };
    let mut builder =
        OpenAICompatibleModel::builder(args.model.clone().unwrap_or_else(|| "gpt-4o-mini".into()))
            .model_config(Value::Object(config))
            .api_mode(args.api_mode);
    if let Some(n) = args.max_retries {
        builder = builder.max_retries(n);
    }
    if let Some(secs) = args.timeout {
        builder = builder.timeout(Duration::from_secs_f64(secs));
    }
    let model = builder.build().map_err(|e| e.to_string())?;
    let mut options = RequestOptions::new();
    if let Some(secs) = args.connect_timeout {
        options = options.connect_timeout(Duration::from_secs_f64(secs));
    }
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(ChatMessage::system(system.clone()));
    }
    messages.extend(history);
    if let Some(prompt) = &args.prompt {
        messages.push(ChatMessage::user(prompt.clone()));
    }
    Ok(Setup {
        model,
        messages,
        tools,
        options,
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
    // A tool call often comes with `content: ""`: no empty line before it.
    let calls = message.tool_calls.as_ref().is_some_and(|c| !c.is_empty());
    if let Some(text) = message.text().filter(|t| !(calls && t.is_empty())) {
        writeln!(out, "{text}").map_err(|e| e.to_string())?;
    }
    for call in message.tool_calls.iter().flatten() {
        writeln!(out, "{}({})", call.function.name, call.function.arguments)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Keeps `meta` as the run's metadata (for `--meta`), if there is one.
fn keep(seen: &mut Option<ResponseMeta>, meta: Option<&ResponseMeta>) {
    if let Some(meta) = meta {
        *seen = Some(meta.clone());
    }
}

/// The message of a failed request; an error that came with a server answer (an HTTP error
/// status, a cut-off structured answer) leaves that answer's metadata in `seen`.
fn failed(seen: &mut Option<ResponseMeta>, e: Error) -> String {
    match &e {
        Error::Api(api) => keep(seen, api.meta()),
        Error::Length(c) | Error::ContentFilter(c) => keep(seen, c.meta()),
        _ => {}
    }
    e.to_string()
}

/// The `--meta` line's object: status, request id, attempts, and each rate-limit header
/// that came.
fn meta_json(meta: &ResponseMeta) -> Value {
    let limits = &meta.rate_limit;
    let mut rate_limit = Map::new();
    let counts = [
        ("limit_requests", limits.limit_requests),
        ("remaining_requests", limits.remaining_requests),
        ("limit_tokens", limits.limit_tokens),
        ("remaining_tokens", limits.remaining_tokens),
    ];
    for (key, count) in counts {
        if let Some(count) = count {
            rate_limit.insert(key.into(), json!(count));
        }
    }
    let resets = [
        ("reset_requests", &limits.reset_requests),
        ("reset_tokens", &limits.reset_tokens),
    ];
    for (key, reset) in resets {
        if let Some(reset) = reset {
            rate_limit.insert(key.into(), json!(reset));
        }
    }
    json!({
        "status": meta.status,
        "request_id": meta.request_id,
        "attempts": meta.attempts,
        "rate_limit": rate_limit,
    })
}

/// Runs the request and prints the answer. The metadata of the server's answer, once one
/// arrived, is left in `seen`, also when the run then fails.
#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
async fn run(args: Args, seen: &mut Option<ResponseMeta>) -> Result<(), String> {
    let Setup {
        model,
        messages,
        tools,
        options,
    } = setup(&args)?;
    let call = model.with_options(options);
    if let Some(path) = &args.schema {
        let format = schema_format(path)?;
        let parsed = if args.stream {
            // Streamed: the answer arrives in pieces; print the object parsed at the end.
            let mut manager = call
                .stream_parse_with::<Value>(&messages, &format, tools.as_deref())
                .map_err(|e| failed(seen, e))?;
            // The first read sends the request; its head's metadata stays known even if
            // the stream breaks later.
            let first = next_event(&mut manager).await;
            keep(seen, manager.meta());
            if let Some(Err(e)) = first {
                return Err(failed(seen, e));
            }
            manager.final_completion().await
        } else {
            call.parse_with::<Value>(&messages, &format, tools.as_deref())
                .await
        };
        let parsed = parsed.map_err(|e| failed(seen, e))?;
        keep(seen, parsed.meta());
        let value = parsed.into_parsed().map_err(|e| e.to_string())?;
        let text = serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?;
        println!("{text}");
        return Ok(());
    }
    let response = call
        .run(&messages, None, tools.as_deref())
        .await
        .map_err(|e| failed(seen, e))?;
    match response {
        openai_compatible::ModelResponse::Stream(stream) if !args.json => {
            print_stream(stream, seen).await?;
            Ok(())
        }
        other => {
            if let openai_compatible::ModelResponse::Stream(stream) = &other {
                keep(seen, stream.meta());
            }
            let completion = other.into_completion().await.map_err(|e| failed(seen, e))?;
            keep(seen, completion.meta());
            print_completion(&completion, args.json)
        }
    }
}

/// Prints each delta of choice 0 as it arrives, flushed, then a newline, then choice 0's
/// tool calls. Other choices (`n` > 1) are not printed.
#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
async fn print_stream(
    mut stream: openai_compatible::ChatCompletionStream,
    seen: &mut Option<ResponseMeta>,
) -> Result<(), String> {
    keep(seen, stream.meta());
    let mut out = std::io::stdout().lock();
    let mut calls = openai_compatible::ChunkAccumulator::new();
    let mut printed = false;
    while let Some(chunk) = next(&mut stream).await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            if let Some(text) = choice.delta.content.as_deref().filter(|t| !t.is_empty()) {
                out.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
                out.flush().map_err(|e| e.to_string())?;
                printed = true;
            }
        }
        calls.push(&chunk);
    }
    let done = calls.finish();
    let has_calls = done
        .choices
        .iter()
        .any(|c| c.index == 0 && c.message.tool_calls.as_ref().is_some_and(|t| !t.is_empty()));
    // No empty line before tool calls when no text came.
    if printed || !has_calls {
        writeln!(out).map_err(|e| e.to_string())?;
    }
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

type Manager = openai_compatible::ChatCompletionStreamManager<Value>;
type Event = openai_compatible::Result<openai_compatible::StructuredEvent<Value>>;

#[cfg(not(feature = "async"))]
fn next_event(m: &mut Manager) -> Option<Event> {
    m.next()
}

#[cfg(feature = "async")]
async fn next_event(m: &mut Manager) -> Option<Event> {
    futures_util::StreamExt::next(m).await
}

/// The exit code of a run; prints its error, then (with `--meta`) its metadata line.
fn finish(result: Result<(), String>, meta: Option<ResponseMeta>) -> ExitCode {
    let code = match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            let line = msg.replace('\n', " ");
            eprintln!("chat: {line}");
            ExitCode::FAILURE
        }
    };
    if let Some(meta) = meta {
        eprintln!("meta: {}", meta_json(&meta));
    }
    code
}

fn args_or_exit() -> Result<Args, ExitCode> {
    let args = parse_args(std::env::args().skip(1)).map_err(|msg| {
        if msg.is_empty() {
            println!("{USAGE}");
            ExitCode::SUCCESS
        } else {
            eprintln!("chat: {msg}\n{USAGE}");
            ExitCode::from(2)
        }
    })?;
    Ok(args)
}

#[cfg(not(feature = "async"))]
fn main() -> ExitCode {
    match args_or_exit() {
        Ok(args) => {
            let show_meta = args.meta;
            let mut seen = None;
            let result = run(args, &mut seen);
            finish(result, seen.filter(|_| show_meta))
        }
        Err(code) => code,
    }
}

#[cfg(feature = "async")]
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match args_or_exit() {
        Ok(args) => {
            let show_meta = args.meta;
            let mut seen = None;
            let result = run(args, &mut seen).await;
            finish(result, seen.filter(|_| show_meta))
        }
        Err(code) => code,
    }
}
