//! End to end over loopback HTTP against the stub server (started in-process): one plain
//! request, and one 1000-chunk stream read to its end — ours, next to the bare ureq round
//! trip (no JSON) in the same run, in both builds.
//!
//! `cargo bench -p openai-compatible-benches --bench roundtrip` (blocking; add
//! `--features async` for the async build). `scripts/bench/bench.sh` measures the same with
//! separate processes; figures in benches/README.md.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use openai_compatible::{ChatMessage, OpenAICompatibleModel};
use openai_compatible_benches::stub;

const CHUNKS: u64 = 1000;

fn messages() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("You are a helpful assistant. Answer in one sentence."),
        ChatMessage::user("Is seventeen a prime number?"),
    ]
}

fn model(url: &str) -> OpenAICompatibleModel {
    OpenAICompatibleModel::builder("gpt-4o-mini")
        .url(url)
        .api_key("sk-bench")
        .model_config(serde_json::json!({"temperature": 0.0}))
        .build()
        .unwrap()
}

#[cfg(not(feature = "async"))]
fn bench_ours(c: &mut Criterion, url: &str) {
    let model = model(url);
    let messages = messages();
    let mut g = c.benchmark_group("roundtrip");
    g.bench_function("plain/ours", |b| {
        b.iter(|| black_box(model.complete(&messages).unwrap()))
    });
    g.throughput(Throughput::Elements(CHUNKS));
    g.bench_function("stream_1000/ours", |b| {
        b.iter(|| {
            let mut n = 0;
            for chunk in model.stream(&messages).unwrap() {
                black_box(chunk.unwrap());
                n += 1;
            }
            assert_eq!(n, CHUNKS);
        })
    });
    g.finish();
}

#[cfg(feature = "async")]
fn bench_ours(c: &mut Criterion, url: &str) {
    use futures_util::StreamExt;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let model = runtime.block_on(async { model(url) });
    let messages = messages();
    let mut g = c.benchmark_group("roundtrip");
    g.bench_function("plain/ours_async", |b| {
        b.iter(|| runtime.block_on(async { black_box(model.complete(&messages).await.unwrap()) }))
    });
    g.throughput(Throughput::Elements(CHUNKS));
    g.bench_function("stream_1000/ours_async", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut stream = model.stream(&messages).await.unwrap();
                let mut n = 0;
                while let Some(chunk) = stream.next().await {
                    black_box(chunk.unwrap());
                    n += 1;
                }
                assert_eq!(n, CHUNKS);
            })
        })
    });
    g.finish();
}

/// The bare HTTP round trip with ureq: fixed body, bytes read (plain) or lines read (stream).
fn bench_bare_ureq(c: &mut Criterion, url: &str) {
    use std::io::BufRead;
    let url = format!("{url}/chat/completions");
    let body = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant. Answer in one sentence."},{"role":"user","content":"Is seventeen a prime number?"}],"temperature":0.0"#;
    let (plain, stream) = (format!("{body}}}"), format!("{body},\"stream\":true}}"));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let post = |body: &str| {
        agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("Authorization", "Bearer sk-bench")
            .send(body)
            .unwrap()
    };
    let mut g = c.benchmark_group("roundtrip");
    g.bench_function("plain/bare_ureq", |b| {
        b.iter(|| black_box(post(&plain).into_body().read_to_vec().unwrap()))
    });
    g.throughput(Throughput::Elements(CHUNKS));
    g.bench_function("stream_1000/bare_ureq_lines", |b| {
        b.iter(|| {
            let mut reader = std::io::BufReader::new(post(&stream).into_body().into_reader());
            let (mut line, mut n) = (String::new(), 0);
            while reader.read_line(&mut line).unwrap() > 0 {
                if line.starts_with("data:") && !line.contains("[DONE]") {
                    n += 1;
                }
                line.clear();
            }
            assert_eq!(n, CHUNKS);
        })
    });
    g.finish();
}

fn bench_roundtrip(c: &mut Criterion) {
    let url = stub::spawn("127.0.0.1:0").expect("the stub server");
    bench_ours(c, &url);
    bench_bare_ureq(c, &url);
}

criterion_group!(benches, bench_roundtrip);
criterion_main!(benches);
