//! The peer baseline of `scripts/bench/bench.sh`: async-openai 0.43, the most used async Rust
//! OpenAI client, doing what `examples/throughput.rs` does in its async build. Same
//! arguments and output line:
//!
//! ```text
//! peer_async_openai BASE_URL plain|stream N [CONCURRENCY]   # CONCURRENCY requests in flight
//! ```
//!
//! `plain` is N `chat().create()` calls, `stream` N `chat().create_stream()` calls read to
//! their end; `chunks` counts the typed chunks received. The request is throughput's (model
//! `gpt-4o-mini`, its two messages, `temperature` 0.0, `stream` for streams), the runtime is
//! the same (multi-thread tokio, CONCURRENCY tasks sharing one client and taking request
//! numbers from one counter), and the reqwest client comes from the library's
//! `reqwest_client_builder`, so both sides run the same reqwest with the same rustls. Any
//! failed request stops the run with exit code 1.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
};
use futures_util::StreamExt;

const USAGE: &str = "usage: peer_async_openai BASE_URL plain|stream N [CONCURRENCY]";

struct Args {
    url: String,
    stream: bool,
    requests: usize,
    concurrency: usize,
}

fn parse_args() -> Result<Args, String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if !(3..=4).contains(&argv.len()) {
        return Err(USAGE.into());
    }
    let stream = match argv[1].as_str() {
        "plain" => false,
        "stream" => true,
        other => return Err(format!("unknown mode {other:?}\n{USAGE}")),
    };
    let number = |s: &str, what: &str| -> Result<usize, String> {
        match s.parse() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{what} must be a positive whole number, got {s:?}")),
        }
    };
    Ok(Args {
        url: argv[0].clone(),
        stream,
        requests: number(&argv[2], "N")?,
        concurrency: match argv.get(3) {
            Some(c) => number(c, "CONCURRENCY")?,
            None => 1,
        },
    })
}

/// Throughput's request: the same short conversation and config.
fn request(stream: bool) -> CreateChatCompletionRequest {
    let mut args = CreateChatCompletionRequestArgs::default();
    args.model("gpt-4o-mini")
        .messages([
            ChatCompletionRequestSystemMessage::from(
                "You are a helpful assistant. Answer in one sentence.",
            )
            .into(),
            ChatCompletionRequestUserMessage::from("Is seventeen a prime number?").into(),
        ])
        .temperature(0.0);
    if stream {
        args.stream(true);
    }
    args.build().expect("a request")
}

type Client = async_openai::Client<OpenAIConfig>;
type Failure = Box<dyn std::error::Error + Send + Sync>;

/// One call; the chunks received (0 for a plain call).
async fn one(client: &Client, request: &CreateChatCompletionRequest) -> Result<usize, Failure> {
    if request.stream != Some(true) {
        std::hint::black_box(client.chat().create(request.clone()).await?);
        return Ok(0);
    }
    let mut stream = client.chat().create_stream(request.clone()).await?;
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        std::hint::black_box(chunk?);
        chunks += 1;
    }
    Ok(chunks)
}

fn run(args: &Args) -> Result<usize, Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        // async-openai builds a default reqwest client before it takes ours: with reqwest's
        // `rustls-no-provider` (the library's setting) that needs a process default.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = openai_compatible::reqwest_client_builder(&[])?.build()?;
        let client = Client::with_config(
            OpenAIConfig::new()
                .with_api_base(&args.url)
                .with_api_key("sk-bench"),
        )
        .with_http_client(http);
        let request = Arc::new(request(args.stream));
        let next = Arc::new(AtomicUsize::new(0));
        let total = args.requests;
        let tasks: Vec<_> = (0..args.concurrency)
            .map(|_| {
                let (client, request, next) =
                    (client.clone(), Arc::clone(&request), Arc::clone(&next));
                tokio::spawn(async move {
                    let mut chunks = 0;
                    while next.fetch_add(1, Ordering::Relaxed) < total {
                        chunks += one(&client, &request).await?;
                    }
                    Ok::<usize, Failure>(chunks)
                })
            })
            .collect();
        let mut chunks = 0;
        for task in tasks {
            chunks += task.await.expect("a task panicked")?;
        }
        Ok(chunks)
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    match run(&args) {
        Ok(chunks) => {
            let secs = start.elapsed().as_secs_f64();
            println!(
                "secs={secs:.4} rps={:.1} chunks={chunks}",
                args.requests as f64 / secs
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("peer_async_openai: {e}");
            ExitCode::FAILURE
        }
    }
}
