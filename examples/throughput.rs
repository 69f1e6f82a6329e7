//! Requests per second and chunks per second of this client against a local server.
//!
//! ```text
//! throughput BASE_URL plain|stream N [CONCURRENCY]
//! ```
//!
//! Sends N requests (`complete` for `plain`, `stream` read to its end for `stream`) and prints
//! one line: `secs=… rps=… chunks=…`, where `chunks` counts the typed chunks received over all
//! streams. CONCURRENCY (default 1) is the number of threads sharing one model in the
//! blocking build, and the number of requests in flight on a tokio runtime in the async build
//! (`--features async`). Any failed request stops the run with exit code 1.
//!
//! `scripts/bench/bench.sh` runs it against the project's stub server (`benches/support/`) next to
//! bare-HTTP baselines; benches/README.md has the figures.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use openai_compatible::{ChatMessage, OpenAICompatibleModel};

const USAGE: &str = "usage: throughput BASE_URL plain|stream N [CONCURRENCY]";

#[derive(Clone, Copy)]
enum Mode {
    Plain,
    Stream,
}

struct Args {
    url: String,
    mode: Mode,
    requests: usize,
    concurrency: usize,
}

fn parse_args() -> Result<Args, String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if !(3..=4).contains(&argv.len()) {
        return Err(USAGE.into());
    }
    let mode = match argv[1].as_str() {
        "plain" => Mode::Plain,
        "stream" => Mode::Stream,
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
        mode,
        requests: number(&argv[2], "N")?,
        concurrency: match argv.get(3) {
            Some(c) => number(c, "CONCURRENCY")?,
            None => 1,
        },
    })
}

/// A short conversation, like a typical request.
fn messages() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("You are a helpful assistant. Answer in one sentence."),
        ChatMessage::user("Is seventeen a prime number?"),
    ]
}

fn model(url: &str) -> openai_compatible::Result<OpenAICompatibleModel> {
    OpenAICompatibleModel::builder("gpt-4o-mini")
        .url(url)
        .api_key("sk-bench")
        .model_config(serde_json::json!({"temperature": 0.0}))
        .build()
}

/// Hands out request numbers to the workers.
struct Work {
    next: AtomicUsize,
    total: usize,
    chunks: AtomicUsize,
}

impl Work {
    fn take(&self) -> bool {
        self.next.fetch_add(1, Ordering::Relaxed) < self.total
    }
}

#[cfg(not(feature = "async"))]
fn run(args: &Args) -> openai_compatible::Result<usize> {
    let model = model(&args.url)?;
    let messages = messages();
    let work = Work {
        next: AtomicUsize::new(0),
        total: args.requests,
        chunks: AtomicUsize::new(0),
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..args.concurrency)
            .map(|_| {
                scope.spawn(|| -> openai_compatible::Result<()> {
                    let mut chunks = 0;
                    while work.take() {
                        match args.mode {
                            Mode::Plain => {
                                std::hint::black_box(model.complete(&messages)?);
                            }
                            Mode::Stream => {
                                for chunk in model.stream(&messages)? {
                                    std::hint::black_box(chunk?);
                                    chunks += 1;
                                }
                            }
                        }
                    }
                    work.chunks.fetch_add(chunks, Ordering::Relaxed);
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("a worker panicked"))
    })?;
    Ok(work.chunks.into_inner())
}

#[cfg(feature = "async")]
fn run(args: &Args) -> openai_compatible::Result<usize> {
    use futures_util::StreamExt;
    use std::sync::Arc;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let model = model(&args.url)?;
        let messages = Arc::new(messages());
        let work = Arc::new(Work {
            next: AtomicUsize::new(0),
            total: args.requests,
            chunks: AtomicUsize::new(0),
        });
        let mode = args.mode;
        let tasks: Vec<_> = (0..args.concurrency)
            .map(|_| {
                let (model, messages, work) =
                    (model.clone(), Arc::clone(&messages), Arc::clone(&work));
                tokio::spawn(async move {
                    let mut chunks = 0;
                    while work.take() {
                        match mode {
                            Mode::Plain => {
                                std::hint::black_box(model.complete(&messages).await?);
                            }
                            Mode::Stream => {
                                let mut stream = model.stream(&messages).await?;
                                while let Some(chunk) = stream.next().await {
                                    std::hint::black_box(chunk?);
                                    chunks += 1;
                                }
                            }
                        }
                    }
                    work.chunks.fetch_add(chunks, Ordering::Relaxed);
                    Ok::<(), openai_compatible::Error>(())
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a task panicked")?;
        }
        Ok(work.chunks.load(Ordering::Relaxed))
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
            eprintln!("throughput: {e}");
            ExitCode::FAILURE
        }
    }
}
