//! The async baseline of `scripts/bench/bench.sh`: reqwest used directly, as most async Rust
//! code calls a chat server — a fixed body, the answer parsed with `serde_json` into a `Value`
//! (plain), or the body's lines counted (stream, no JSON). Same arguments and output line as
//! `throughput`:
//!
//! ```text
//! bare_reqwest BASE_URL plain|stream N [CONCURRENCY]   # CONCURRENCY requests in flight
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

const PLAIN: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant. Answer in one sentence."},{"role":"user","content":"Is seventeen a prime number?"}],"temperature":0.0}"#;
const STREAM: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant. Answer in one sentence."},{"role":"user","content":"Is seventeen a prime number?"}],"temperature":0.0,"stream":true}"#;

async fn one(client: &reqwest::Client, url: &str, stream: bool) -> Result<usize, reqwest::Error> {
    let mut response = client
        .post(url)
        .header("Content-Type", "application/json")
        .bearer_auth("sk-bench")
        .body(if stream { STREAM } else { PLAIN })
        .send()
        .await?;
    if !stream {
        let bytes = response.bytes().await?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).expect("a JSON answer");
        std::hint::black_box(value);
        return Ok(0);
    }
    // Count `data:` lines other than `[DONE]`, carrying a partial line across pieces.
    let (mut chunks, mut partial) = (0, Vec::new());
    while let Some(piece) = response.chunk().await? {
        partial.extend_from_slice(&piece);
        let mut start = 0;
        while let Some(end) = partial[start..].iter().position(|&b| b == b'\n') {
            let line = &partial[start..start + end];
            if line.starts_with(b"data:") && !line.ends_with(b"[DONE]") {
                chunks += 1;
            }
            start += end + 1;
        }
        partial.drain(..start);
    }
    Ok(chunks)
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if !(3..=4).contains(&argv.len()) {
        eprintln!("usage: bare_reqwest BASE_URL plain|stream N [CONCURRENCY]");
        std::process::exit(2);
    }
    let url = format!("{}/chat/completions", argv[0].trim_end_matches('/'));
    let stream = argv[1] == "stream";
    let total: usize = argv[2].parse().expect("N");
    let in_flight: usize = argv.get(3).map_or(1, |c| c.parse().expect("CONCURRENCY"));
    let start = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let chunks = runtime.block_on(async {
        // reqwest 0.13 without its default TLS needs a crypto provider even for http://.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let url = Arc::new(url);
        let next = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..in_flight)
            .map(|_| {
                let (client, url, next) = (client.clone(), Arc::clone(&url), Arc::clone(&next));
                tokio::spawn(async move {
                    let mut mine = 0;
                    while next.fetch_add(1, Ordering::Relaxed) < total {
                        match one(&client, &url, stream).await {
                            Ok(n) => mine += n,
                            Err(e) => {
                                eprintln!("bare_reqwest: {e}");
                                std::process::exit(1);
                            }
                        }
                    }
                    mine
                })
            })
            .collect();
        let mut chunks = 0;
        for task in tasks {
            chunks += task.await.expect("a task panicked");
        }
        chunks
    });
    let secs = start.elapsed().as_secs_f64();
    println!(
        "secs={secs:.4} rps={:.1} chunks={chunks}",
        total as f64 / secs
    );
}
