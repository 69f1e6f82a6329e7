//! Plain-request CPU work without I/O: completion deserialization and request-body assembly.
//!
//! `cargo bench -p openai-compatible-benches --bench completion`; figures in benches/README.md.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use openai_compatible::__private::prepare;
use openai_compatible::{ChatCompletion, ChatMessage, Tool, ToolCall};
use openai_compatible_benches::{captures, stub};
use serde_json::{json, Map, Value};

/// Every recorded non-streamed completion (captures that are completions with choices).
fn captured_completions() -> Vec<Vec<u8>> {
    captures("json")
        .into_iter()
        .filter(|b| {
            serde_json::from_slice::<ChatCompletion>(b).is_ok_and(|c| !c.choices.is_empty())
        })
        .collect()
}

/// A long answer with two tool calls and the usual unknown fields.
fn long_completion() -> Vec<u8> {
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(100);
    serde_json::to_vec(&json!({
        "id": "chatcmpl-long", "object": "chat.completion", "created": 1745000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "logprobs": null, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": text, "refusal": null, "annotations": [],
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{\"tz\":\"Europe/Paris\"}"}}
                ]}}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 900, "total_tokens": 1020,
            "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}},
        "service_tier": "default", "system_fingerprint": "fp_x"
    }))
    .unwrap()
}

fn conversation(turns: usize) -> Vec<ChatMessage> {
    let mut m = vec![ChatMessage::system(
        "You are a helpful assistant. Answer in one sentence.",
    )];
    for i in 0..turns {
        m.push(ChatMessage::user(format!(
            "Question {i}: is {} a prime number?",
            i * 7 + 3
        )));
        m.push(ChatMessage::assistant_tool_calls(vec![ToolCall::function(
            format!("call_{i}"),
            "is_prime",
            format!("{{\"n\":{}}}", i * 7 + 3),
        )]));
        m.push(ChatMessage::tool(format!("call_{i}"), "true"));
        m.push(ChatMessage::assistant("Yes, it is a prime number."));
    }
    m
}

fn bench_completion(c: &mut Criterion) {
    let mut g = c.benchmark_group("completion_decode");
    let stub = stub::COMPLETION.as_bytes();
    g.throughput(Throughput::Bytes(stub.len() as u64));
    g.bench_function("openai_shape", |b| {
        b.iter(|| serde_json::from_slice::<ChatCompletion>(black_box(stub)).unwrap())
    });
    let long = long_completion();
    g.throughput(Throughput::Bytes(long.len() as u64));
    g.bench_function("long_with_tool_calls", |b| {
        b.iter(|| serde_json::from_slice::<ChatCompletion>(black_box(&long)).unwrap())
    });
    let captured = captured_completions();
    g.throughput(Throughput::Bytes(
        captured.iter().map(Vec::len).sum::<usize>() as u64,
    ));
    g.bench_function(format!("captures_{}", captured.len()), |b| {
        b.iter(|| {
            for body in &captured {
                black_box(serde_json::from_slice::<ChatCompletion>(black_box(body)).unwrap());
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("request_body");
    let config: Map<String, Value> = json!({"temperature": 0.0, "max_tokens": 256})
        .as_object()
        .cloned()
        .unwrap();
    let short = conversation(0);
    g.bench_function("2_messages", |b| {
        b.iter(|| prepare("gpt-4o-mini", black_box(&short), &config, None, None).unwrap())
    });
    let long = conversation(10);
    let tools: Vec<Tool> = (0..5)
        .map(|i| {
            Tool::function(
                format!("tool_{i}"),
                "Does something useful with a number.",
                json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}),
            )
        })
        .collect();
    g.bench_function("41_messages_5_tools", |b| {
        b.iter(|| prepare("gpt-4o-mini", black_box(&long), &config, Some(&tools), None).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench_completion);
criterion_main!(benches);
