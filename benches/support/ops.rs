//! Runs one CPU-only operation of the client N times, for instruction counts under
//! `valgrind --tool=callgrind` (deterministic where wall time on a shared machine is not).
//!
//! ```text
//! ops chunks|sse|completion|floor|scan|body|accumulate N
//! ```
//!
//! * `chunks`: the 1000-chunk stub stream through the stream pipeline (SSE + parse), N times;
//! * `sse`: the same body through the SSE decoder only;
//! * `completion`: the stub's completion parsed N times;
//! * `floor`: the same text into a plain `#[derive(Deserialize)]` struct with the same
//!   fields and no leniency, unknown-field map or metadata: what any typed client pays
//!   serde_json for this answer, at least;
//! * `scan`: the same text read and thrown away (`serde::de::IgnoredAny`), the parser alone;
//! * `body`: the request body of the 2-message conversation assembled N times;
//! * `accumulate`: 1000 parsed chunks accumulated N times.
//!
//! Divide the instruction count (minus a run with N = 0) by N (times 1000 for per-chunk
//! figures of `chunks`, `sse` and `accumulate`).

use std::hint::black_box;

use openai_compatible::__private::{prepare, sse_events, stream_chunks};
use openai_compatible::{ChatCompletion, ChatCompletionChunk, ChatMessage, ChunkAccumulator};
use openai_compatible_benches::stub;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (op, n) = match argv.as_slice() {
        [op, n] => (op.as_str(), n.parse::<usize>().expect("N")),
        _ => {
            eprintln!("usage: ops chunks|sse|completion|floor|scan|body|accumulate N");
            std::process::exit(2);
        }
    };
    let body = stub::sse_body(1000);
    match op {
        "chunks" => {
            for _ in 0..n {
                assert_eq!(stream_chunks(black_box(&body), 4096).unwrap(), 1000);
            }
        }
        "sse" => {
            for _ in 0..n {
                assert_eq!(sse_events(black_box(&body), 4096), 1001);
            }
        }
        "completion" => {
            for _ in 0..n {
                black_box(
                    serde_json::from_slice::<ChatCompletion>(black_box(
                        stub::COMPLETION.as_bytes(),
                    ))
                    .unwrap(),
                );
            }
        }
        "floor" => {
            for _ in 0..n {
                black_box(
                    serde_json::from_str::<floor::Completion>(black_box(stub::COMPLETION)).unwrap(),
                );
            }
        }
        "scan" => {
            for _ in 0..n {
                black_box(
                    serde_json::from_str::<serde::de::IgnoredAny>(black_box(stub::COMPLETION))
                        .unwrap(),
                );
            }
        }
        "body" => {
            let messages = vec![
                ChatMessage::system("You are a helpful assistant. Answer in one sentence."),
                ChatMessage::user("Is seventeen a prime number?"),
            ];
            let config = serde_json::json!({"temperature": 0.0});
            let config = config.as_object().expect("an object");
            for _ in 0..n {
                black_box(
                    prepare("gpt-4o-mini", black_box(&messages), config, None, None).unwrap(),
                );
            }
        }
        "accumulate" => {
            let chunks: Vec<ChatCompletionChunk> = (0..1000)
                .map(|i| serde_json::from_str(&stub::chunk_json(i, 1000)).unwrap())
                .collect();
            for _ in 0..n {
                let mut acc = ChunkAccumulator::new();
                for c in &chunks {
                    acc.push(c);
                }
                black_box(acc.finish());
            }
        }
        other => {
            eprintln!("unknown op {other:?}");
            std::process::exit(2);
        }
    }
}

/// The stub completion's fields as the simplest typed client would read them.
#[allow(dead_code)] // read only by the parser
mod floor {
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct Completion {
        id: String,
        object: String,
        created: u64,
        model: String,
        choices: Vec<Choice>,
        usage: Option<Usage>,
        service_tier: Option<String>,
        system_fingerprint: Option<String>,
    }

    #[derive(Deserialize)]
    struct Choice {
        index: u32,
        message: Message,
        logprobs: Option<serde_json::Value>,
        finish_reason: Option<String>,
    }

    #[derive(Deserialize)]
    struct Message {
        role: String,
        content: Option<String>,
        refusal: Option<String>,
        annotations: Option<Vec<serde_json::Value>>,
    }

    #[derive(Deserialize)]
    struct Usage {
        prompt_tokens: u64,
        completion_tokens: u64,
        total_tokens: u64,
        prompt_tokens_details: Option<PromptDetails>,
        completion_tokens_details: Option<CompletionDetails>,
    }

    #[derive(Deserialize)]
    struct PromptDetails {
        cached_tokens: Option<u64>,
        audio_tokens: Option<u64>,
    }

    #[derive(Deserialize)]
    struct CompletionDetails {
        reasoning_tokens: Option<u64>,
        audio_tokens: Option<u64>,
        accepted_prediction_tokens: Option<u64>,
        rejected_prediction_tokens: Option<u64>,
    }
}
