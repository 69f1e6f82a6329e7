//! The accumulator's unit tests: merges, reported changes, and the shape of the result.

use super::*;
use serde_json::json;

fn chunk(v: Value) -> ChatCompletionChunk {
    serde_json::from_value(v).unwrap()
}

fn acc(chunks: &[Value]) -> ChatCompletion {
    let mut a = ChunkAccumulator::new();
    for c in chunks {
        a.push(&chunk(c.clone()));
    }
    a.finish()
}

#[test]
fn text_reasoning_usage_and_n2() {
    let c = acc(&[
        json!({"id":"x","model":"m","created":5,"choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"th"}},{"index":1,"delta":{"content":"B"}}]}),
        json!({"choices":[{"index":0,"delta":{"reasoning":"ink","content":"A"}}]}),
        json!({"choices":[{"index":1,"delta":{},"finish_reason":"length"},{"index":0,"delta":{"content":"!"},"finish_reason":"stop"}]}),
        json!({"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}),
    ]);
    assert_eq!((c.id.as_str(), c.model.as_str(), c.created), ("x", "m", 5));
    assert_eq!(c.choices.len(), 2);
    assert_eq!(c.content(), Some("A!"));
    assert_eq!(
        c.choices[0].message.reasoning_content.as_deref(),
        Some("think")
    );
    assert_eq!(c.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(c.choices[1].finish_reason, Some(FinishReason::Length));
    assert_eq!(c.usage.unwrap().total_tokens, 3);
}

#[test]
fn tool_calls_by_index_with_vllm_first_chunk() {
    let c = acc(&[
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","type":"function","function":{"name":"f"}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":"}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"b","function":{"name":"g","arguments":"{}"}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]}}],"finish_reason":null}),
        json!({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}),
    ]);
    let calls = c.choices[0].message.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (
            calls[0].id.as_str(),
            calls[0].function.name.as_str(),
            calls[0].function.arguments.as_str()
        ),
        ("a", "f", "{\"x\":1}")
    );
    assert_eq!(
        (calls[1].id.as_str(), calls[1].function.name.as_str()),
        ("b", "g")
    );
}

#[test]
fn gemini_without_index_and_ollama_repeated_index() {
    let gemini = acc(&[
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"id":"c1","function":{"name":"f","arguments":"{\"a\""}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":":1}"}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"id":"c2","function":{"name":"g","arguments":"{}"}}]}}]}),
    ]);
    let calls = gemini.choices[0].message.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].function.arguments, "{\"a\":1}");
    assert_eq!(calls[1].id, "c2");

    let ollama = acc(&[
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"o1","function":{"name":"f","arguments":{"a":1}}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"o2","function":{"name":"f","arguments":{"a":2}}}]}}]}),
    ]);
    let calls = ollama.choices[0].message.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].function.arguments, r#"{"a":2}"#);
}

/// Every change reported for these chunks, with the snapshot it comes with.
fn changes(chunks: &[Value]) -> Vec<String> {
    let mut a = ChunkAccumulator::new();
    let mut out = Vec::new();
    for c in chunks {
        let c = chunk(c.clone());
        a.push_observed(&c, |acc, change| {
            let state = acc.choice_at(change.choice()).unwrap();
            let i = state.index();
            out.push(match change {
                Change::Content { delta, .. } => {
                    format!("{i} content +{delta} = {}", state.content())
                }
                Change::Refusal { delta, .. } => {
                    format!("{i} refusal +{delta} = {}", state.refusal())
                }
                Change::CallStarted { call, .. } => {
                    format!("{i} call {call} started {}", state.calls()[call].name())
                }
                Change::Arguments { call, delta, .. } => {
                    let c = &state.calls()[call];
                    format!("{i} call {call} {} +{delta} = {}", c.name(), c.arguments())
                }
                Change::Finished { .. } => {
                    format!("{i} finished {:?}", state.finish_reason().unwrap())
                }
            });
        });
    }
    out
}

#[test]
fn changes_come_in_chunk_order_with_their_snapshot() {
    let got = changes(&[
        json!({"choices":[{"index":1,"delta":{"role":"assistant","content":""}},{"index":0,"delta":{"content":"A"}}]}),
        json!({"choices":[{"index":1,"delta":{"content":"B","refusal":"no"}},{"index":0,"delta":{"reasoning_content":"hm","content":"a"}}]}),
        json!({"choices":[{"index":1,"delta":{"refusal":"pe"},"finish_reason":"stop"}]}),
        json!({"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}),
    ]);
    assert_eq!(
        got,
        [
            "0 content +A = A",
            "1 content +B = B",
            "1 refusal +no = no",
            "0 content +a = Aa",
            "1 refusal +pe = nope",
            "1 finished Stop",
        ]
    );
    let mut a = ChunkAccumulator::new();
    a.push(&chunk(json!({"choices":[{"index":1,"delta":{}}]})));
    assert_eq!(a.choice_count(), 1);
    assert_eq!(a.choice_at(0).map(ChoiceState::index), Some(1));
    assert!(a.choice_at(1).is_none());
}

#[test]
fn tool_call_quirks_are_reported_as_merged() {
    // vLLM: the first chunk names the call and brings no arguments.
    let vllm = changes(&[
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","type":"function","function":{"name":"f"}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":""}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}),
    ]);
    assert_eq!(vllm, ["0 call 0 started f", "0 call 0 f +{} = {}"]);
    // Gemini: no index; a new id starts a new call.
    let gemini = changes(&[
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"id":"c1","function":{"name":"f","arguments":"{\"a\""}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":":1}"}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"id":"c2","function":{"name":"g","arguments":"{}"}}]}}]}),
    ]);
    assert_eq!(
        gemini,
        [
            "0 call 0 started f",
            "0 call 0 f +{\"a\" = {\"a\"",
            "0 call 0 f +:1} = {\"a\":1}",
            "0 call 1 started g",
            "0 call 1 g +{} = {}",
        ]
    );
    // Ollama: every call is index 0, each with its own id and whole arguments.
    let ollama = changes(&[
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"o1","function":{"name":"f","arguments":{"a":1}}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"o2","function":{"name":"f","arguments":{"a":2}}}]}}]}),
    ]);
    assert_eq!(
        ollama,
        [
            "0 call 0 started f",
            "0 call 0 f +{\"a\":1} = {\"a\":1}",
            "0 call 1 started f",
            "0 call 1 f +{\"a\":2} = {\"a\":2}",
        ]
    );
    // A repeated full name is not doubled; a split one is joined.
    let names = changes(&[
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{"}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"}"}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"b","function":{"name":"get_"}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"name":"weather","arguments":"{}"}}]}}]}),
    ]);
    assert_eq!(
        names,
        [
            "0 call 0 started f",
            "0 call 0 f +{ = {",
            "0 call 0 f +} = {}",
            "0 call 1 started get_",
            "0 call 1 get_weather +{} = {}",
        ]
    );
}

#[test]
fn one_chunk_extending_a_call_twice_reports_each_step() {
    let got = changes(&[json!({"choices":[{"index":0,"delta":{"tool_calls":[
        {"index":0,"id":"a","function":{"name":"f","arguments":"{"}},
        {"index":1,"id":"b","function":{"name":"g","arguments":"["}},
        {"index":0,"function":{"arguments":"}"}}
    ]}}]})]);
    assert_eq!(
        got,
        [
            "0 call 0 started f",
            "0 call 0 f +{ = {",
            "0 call 1 started g",
            "0 call 1 g +[ = [",
            "0 call 0 f +} = {}",
        ]
    );
}

#[test]
fn repeated_full_name_is_not_doubled() {
    let c = acc(&[
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{"}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"}"}}]}}]}),
    ]);
    let calls = c.choices[0].message.tool_calls.as_ref().unwrap();
    assert_eq!(
        (
            calls.len(),
            calls[0].function.name.as_str(),
            calls[0].function.arguments.as_str()
        ),
        (1, "f", "{}")
    );
}
