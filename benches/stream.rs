//! The streaming hot path without I/O: SSE decoding, chunk parsing and the accumulator.
//!
//! Inputs: a 1000-chunk stream shaped like OpenAI's chunks of today (the stub server's,
//! `benches/support/stub.rs`), and every stream recorded from a real server in
//! `tests/data/captures/*.sse`. Throughput is reported in bytes and in chunks (elements).
//! `cargo bench -p openai-compatible-benches --bench stream`; figures in benches/README.md.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use openai_compatible::__private::{sse_events, stream_chunks};
use openai_compatible::{ChatCompletionChunk, ChunkAccumulator};
use openai_compatible_benches::{captures, stub};

/// What a ureq body read typically hands the decoder (the stream's read buffer is 16 KiB;
/// reads from a socket are often smaller).
const READ: usize = 4096;

/// The chunk JSON texts of a body (data lines other than `[DONE]`).
fn chunk_texts(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .filter(|d| *d != "[DONE]" && d.starts_with('{'))
        .map(str::to_owned)
        .collect()
}

fn bench_stream(c: &mut Criterion) {
    let openai = stub::sse_body(1000);
    let texts = chunk_texts(&openai);
    assert_eq!(texts.len(), 1000);
    assert_eq!(stream_chunks(&openai, READ).unwrap(), 1000);

    let mut g = c.benchmark_group("openai_1000");
    g.throughput(Throughput::Bytes(openai.len() as u64));
    g.bench_function("sse_decode_only/bytes", |b| {
        b.iter(|| sse_events(black_box(&openai), READ))
    });
    g.bench_function("sse_decode_and_parse/bytes", |b| {
        b.iter(|| stream_chunks(black_box(&openai), READ).unwrap())
    });
    g.throughput(Throughput::Elements(1000));
    g.bench_function("sse_decode_and_parse/chunks", |b| {
        b.iter(|| stream_chunks(black_box(&openai), READ).unwrap())
    });
    g.bench_function("serde_chunk/chunks", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(serde_json::from_str::<ChatCompletionChunk>(t).unwrap());
            }
        })
    });
    let parsed: Vec<ChatCompletionChunk> = texts
        .iter()
        .map(|t| serde_json::from_str(t).unwrap())
        .collect();
    g.bench_function("accumulate/chunks", |b| {
        b.iter(|| {
            let mut acc = ChunkAccumulator::new();
            for chunk in &parsed {
                acc.push(chunk);
            }
            black_box(acc.finish())
        })
    });
    g.finish();

    // Every recorded provider stream, one after the other.
    let bodies = captures("sse");
    let total_bytes: usize = bodies.iter().map(Vec::len).sum();
    let total_chunks: usize = bodies.iter().map(|b| chunk_texts(b).len()).sum();
    let mut g = c.benchmark_group("captures");
    g.throughput(Throughput::Bytes(total_bytes as u64));
    g.bench_function("sse_decode_and_parse/bytes", |b| {
        b.iter(|| {
            for body in &bodies {
                // Recorded error streams end in an error item: that is part of the work.
                let _ = black_box(stream_chunks(black_box(body), READ));
            }
        })
    });
    g.throughput(Throughput::Elements(total_chunks as u64));
    g.bench_function("sse_decode_and_parse/chunks", |b| {
        b.iter(|| {
            for body in &bodies {
                let _ = black_box(stream_chunks(black_box(body), READ));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench_stream);
criterion_main!(benches);
