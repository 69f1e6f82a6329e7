//! The bare-HTTP baseline of `scripts/bench/bench.sh`: the same requests as
//! `examples/throughput.rs` with ureq alone — a fixed body, the response read as bytes (plain)
//! or as lines (stream), no JSON parsed. Same arguments and output line as `throughput`:
//!
//! ```text
//! bare_ureq BASE_URL plain|stream N [CONCURRENCY]     # CONCURRENCY threads sharing one agent
//! ```
//!
//! `chunks` counts the `data:` lines other than `[DONE]`.

use std::io::{BufRead, BufReader};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const PLAIN: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant. Answer in one sentence."},{"role":"user","content":"Is seventeen a prime number?"}],"temperature":0.0}"#;
const STREAM: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant. Answer in one sentence."},{"role":"user","content":"Is seventeen a prime number?"}],"temperature":0.0,"stream":true}"#;

fn one(agent: &ureq::Agent, url: &str, stream: bool) -> Result<usize, ureq::Error> {
    let response = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header("Authorization", "Bearer sk-bench")
        .send(if stream { STREAM } else { PLAIN })?;
    if !stream {
        std::hint::black_box(response.into_body().read_to_vec()?);
        return Ok(0);
    }
    let mut reader = BufReader::new(response.into_body().into_reader());
    let mut line = String::new();
    let mut chunks = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(chunks);
        }
        if let Some(data) = line.strip_prefix("data:") {
            if data.trim() != "[DONE]" {
                chunks += 1;
            }
        }
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if !(3..=4).contains(&argv.len()) {
        eprintln!("usage: bare_ureq BASE_URL plain|stream N [CONCURRENCY]");
        std::process::exit(2);
    }
    let url = format!("{}/chat/completions", argv[0].trim_end_matches('/'));
    let stream = argv[1] == "stream";
    let total: usize = argv[2].parse().expect("N");
    let threads: usize = argv.get(3).map_or(1, |c| c.parse().expect("CONCURRENCY"));
    let start = Instant::now();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let next = AtomicUsize::new(0);
    let chunks = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut mine = 0;
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    match one(&agent, &url, stream) {
                        Ok(n) => mine += n,
                        Err(e) => {
                            eprintln!("bare_ureq: {e}");
                            std::process::exit(1);
                        }
                    }
                }
                chunks.fetch_add(mine, Ordering::Relaxed);
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    println!(
        "secs={secs:.4} rps={:.1} chunks={}",
        total as f64 / secs,
        chunks.into_inner()
    );
}
