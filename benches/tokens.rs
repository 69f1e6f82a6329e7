//! Token-counting benchmarks.
//!
//! * `encode/o200k_mixed_1MiB`: raw `encode` throughput on ~1 MiB of mixed text (prose,
//!   code, JSON, CJK, Korean, emoji, numbers, whitespace).
//! * `count/20k_messages/*`: `count_tokens_from_messages` on a 20,000-message
//!   conversation (as `ChatMessage`s, and as JSON values with `count_json_messages`).
//! * `first_use/o200k_table_build`: building tiktoken's o200k_base table, the larger
//!   part of what the first count in a process pays once (the whole first count is
//!   printed before the benchmarks run), and `first_use/counter_new`: what creating a
//!   counter costs (nothing is loaded).
//!
//! `benches/tokens_baseline.py` builds the same text and conversation (same generator)
//! and measures Python tiktoken and CAMEL's counter on them; given the criterion output
//! directory it prints the ratios:
//!
//! ```text
//! cargo bench -p openai-compatible-benches --bench tokens
//! python benches/tokens_baseline.py --criterion target/criterion
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use openai_compatible::{ChatMessage, OpenAITokenCounter, TokenCounter};
use serde_json::{json, Value};

/// Keep in sync with `SNIPPETS` in benches/tokens_baseline.py.
const SNIPPETS: [&str; 16] = [
    "The quick brown fox jumps over the lazy dog.",
    "In 2024, the committee approved 3,517 proposals totalling $12.5 million.",
    "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
    "{\"id\": 42, \"name\": \"widget\", \"tags\": [\"a\", \"b\"], \"price\": 9.99, \"ok\": true}",
    "機械学習は人工知能の一分野であり、データから学習するアルゴリズムを研究する。",
    "자연어 처리는 컴퓨터가 인간의 언어를 이해하도록 돕는 기술입니다.",
    "Emoji test: 😀🎉👍🏽 👨‍👩‍👧‍👦 🇫🇷",
    "I'm sure they'll say it's fine, but we've seen what you'd do.",
    "    indented line\n\ttabbed line\r\nwindows line\n\n",
    "SELECT id, name FROM users WHERE created_at > '2024-01-01' ORDER BY id DESC;",
    "Les élèves étudient la géométrie et l'algèbre à l'école.",
    "<|endoftext|> special-looking text <|im_start|>",
    "https://example.com/api/v1/items?page=2&limit=50#section",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.",
    "Математика — наука о структурах, порядке и отношениях.",
    "fn main() { println!(\"{}\", (1..=10).map(|x| x * x).sum::<u32>()); }",
];

/// A 64-bit LCG (Knuth's MMIX constants); the Python script uses the same one.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

fn mixed_text(bytes: usize) -> String {
    let mut rng = Lcg(1);
    let mut text = String::with_capacity(bytes + 256);
    while text.len() < bytes {
        text.push_str(SNIPPETS[rng.next(SNIPPETS.len())]);
        text.push(' ');
    }
    text
}

fn conversation(n: usize) -> Vec<Value> {
    let mut rng = Lcg(2);
    let mut messages = Vec::with_capacity(n);
    for i in 0..n {
        let mut content = String::new();
        for k in 0..=rng.next(3) {
            if k > 0 {
                content.push(' ');
            }
            content.push_str(SNIPPETS[rng.next(SNIPPETS.len())]);
        }
        let mut m = match (i, i % 4) {
            (0, _) => json!({"role": "system", "content": content}),
            (_, 1) => json!({"role": "user", "content": content}),
            (_, 2) => json!({"role": "assistant", "content": content}),
            (_, 3) => {
                json!({"role": "tool", "content": content, "tool_call_id": format!("call_{i}")})
            }
            _ => json!({"role": "user", "content": content}),
        };
        if i % 7 == 0 {
            m["name"] = json!(format!("user_{}", i % 13));
        }
        if i % 4 == 2 && i % 3 == 0 {
            m["tool_calls"] = json!([{"id": format!("call_{i}"), "type": "function",
                "function": {"name": "lookup", "arguments": "{\"q\": \"x\"}"}}]);
        }
        messages.push(m);
    }
    messages
}

fn benches(c: &mut Criterion) {
    let counter = OpenAITokenCounter::default();
    // The first count in the process builds the tables (tiktoken's o200k_base `CoreBPE`,
    // then the fast encoder's rank map): what a program pays once.
    let start = Instant::now();
    let n = counter
        .count_tokens_from_messages(&[ChatMessage::user("warm up")])
        .expect("countable");
    eprintln!(
        "first use in this process (tables built): {:.1} ms (count {n})",
        start.elapsed().as_secs_f64() * 1e3
    );

    let text = mixed_text(1 << 20);
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sample_size(20);
    g.bench_function("o200k_mixed_1MiB", |b| {
        b.iter(|| counter.encode(black_box(&text)).len())
    });
    g.finish();

    let values = conversation(20_000);
    let messages: Vec<ChatMessage> = values
        .iter()
        .map(|v| serde_json::from_value(v.clone()).expect("a ChatMessage"))
        .collect();
    let total = counter.count_json_messages(&values).expect("countable");
    assert_eq!(
        counter
            .count_tokens_from_messages(&messages)
            .expect("countable"),
        total
    );
    eprintln!(
        "text: {} bytes, {} tokens; conversation: 20000 messages, {} tokens",
        text.len(),
        counter.encode(&text).len(),
        total
    );
    let mut g = c.benchmark_group("count");
    g.throughput(Throughput::Elements(messages.len() as u64));
    g.sample_size(20);
    g.bench_function("20k_messages/chat_message", |b| {
        b.iter(|| counter.count_tokens_from_messages(black_box(&messages)))
    });
    g.bench_function("20k_messages/json_values", |b| {
        b.iter(|| counter.count_json_messages(black_box(&values)))
    });
    g.finish();

    let mut g = c.benchmark_group("first_use");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("o200k_table_build", |b| {
        b.iter_batched(
            || (),
            |()| tiktoken_rs::o200k_base().expect("embedded table"),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("counter_new", |b| {
        b.iter(|| OpenAITokenCounter::new(black_box("gpt-4o-mini")))
    });
    g.finish();
}

criterion_group!(tokens, benches);
criterion_main!(tokens);
