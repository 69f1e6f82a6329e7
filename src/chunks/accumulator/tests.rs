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

#[test]
fn every_logprobs_list_is_joined_under_its_own_key() {
    let lp =
        |token: &str| json!({"token": token, "logprob": -0.5, "bytes": [], "top_logprobs": []});
    // OpenAI's refusal shape: `content` is null on every chunk, the tokens are in `refusal`.
    let refusal = acc(&[
        json!({"choices":[{"index":0,"delta":{"role":"assistant","refusal":""},"logprobs":{"content":null,"refusal":[]}}]}),
        json!({"choices":[{"index":0,"delta":{"refusal":"I can't"},"logprobs":{"content":null,"refusal":[lp("I"), lp(" can't")]}}]}),
        json!({"choices":[{"index":0,"delta":{"refusal":"."},"logprobs":{"content":null,"refusal":[lp(".")]}}]}),
        json!({"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}),
    ]);
    let choice = &refusal.choices[0];
    assert_eq!(choice.message.refusal.as_deref(), Some("I can't."));
    assert_eq!(
        choice.logprobs,
        Some(json!({"content": null, "refusal": [lp("I"), lp(" can't"), lp(".")]}))
    );
    // Content tokens with `refusal: null` beside them, and a key some server adds: every
    // key that arrived is kept, in the order it first arrived, lists joined in order.
    let content = acc(&[
        json!({"choices":[{"index":0,"delta":{"content":"a"},"logprobs":{"content":[lp("a")],"refusal":null}}]}),
        json!({"choices":[{"index":0,"delta":{"content":"b"},"logprobs":{"content":[lp("b")],"refusal":null,"tokens":["b"]}}]}),
        json!({"choices":[{"index":0,"delta":{},"logprobs":{"content":[]},"finish_reason":"stop"}]}),
    ]);
    let got = content.choices[0].logprobs.as_ref().unwrap();
    assert_eq!(
        got,
        &json!({"content": [lp("a"), lp("b")], "refusal": null, "tokens": ["b"]})
    );
    let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["content", "refusal", "tokens"]);
    // A list after a null replaces the null; a null after a list takes nothing away.
    let late = acc(&[
        json!({"choices":[{"index":0,"delta":{"content":"a"},"logprobs":{"refusal":null}}]}),
        json!({"choices":[{"index":0,"delta":{"content":"b"},"logprobs":{"refusal":[lp("b")]}}]}),
        json!({"choices":[{"index":0,"delta":{},"logprobs":{"refusal":null},"finish_reason":"stop"}]}),
    ]);
    assert_eq!(
        late.choices[0].logprobs,
        Some(json!({"refusal": [lp("b")]}))
    );
}

#[test]
fn null_or_missing_logprobs_stay_none() {
    let c = acc(&[
        json!({"choices":[{"index":0,"delta":{"content":"a"},"logprobs":null}]}),
        json!({"choices":[{"index":0,"delta":{"content":"b"}}]}),
        json!({"choices":[{"index":0,"delta":{},"logprobs":"oops","finish_reason":"stop"}]}),
    ]);
    assert_eq!(c.choices[0].logprobs, None);
    // Choice 1's logprobs are its own.
    let n2 = acc(&[
        json!({"choices":[{"index":0,"delta":{"content":"a"},"logprobs":{"content":[1]}},{"index":1,"delta":{"content":"b"}}]}),
    ]);
    assert_eq!(n2.choices[0].logprobs, Some(json!({"content": [1]})));
    assert_eq!(n2.choices[1].logprobs, None);
}

#[test]
fn the_legacy_function_call_is_merged_beside_tool_calls() {
    // llama-cpp-python's shape: every delta repeats the name in both places.
    let piece = |args: &str| {
        json!({"choices":[{"index":0,"finish_reason":null,"logprobs":null,"delta":{"role":null,"content":null,
            "function_call":{"name":"get_weather","arguments":args},
            "tool_calls":[{"index":0,"id":"call_0","type":"function","function":{"name":"get_weather","arguments":args}}]}}]})
    };
    let c = acc(&[
        json!({"choices":[{"index":0,"finish_reason":null,"logprobs":null,"delta":{"role":"assistant","content":null,"function_call":null,"tool_calls":null}}]}),
        piece("{\""),
        piece("city\": "),
        piece("\"Paris\"}"),
        json!({"choices":[{"index":0,"finish_reason":"tool_calls","logprobs":null,"delta":{"role":null,"content":null,"function_call":null,"tool_calls":null}}]}),
    ]);
    let m = &c.choices[0].message;
    assert_eq!(
        m.extra["function_call"],
        json!({"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"})
    );
    let calls = m.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].function.name, "get_weather");
    assert_eq!(calls[0].function.arguments, "{\"city\": \"Paris\"}");
    // A split name is joined; arguments sent as an object are kept as their text; a
    // function_call of another shape is ignored.
    let split = acc(&[
        json!({"choices":[{"index":0,"delta":{"function_call":{"name":"get_"}}}]}),
        json!({"choices":[{"index":0,"delta":{"function_call":{"name":"weather","arguments":{"city":"Oslo"}}}}]}),
        json!({"choices":[{"index":0,"delta":{"function_call":"nonsense"},"finish_reason":"function_call"}]}),
    ]);
    assert_eq!(
        split.choices[0].message.extra["function_call"],
        json!({"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"})
    );
    // No function_call delta, no function_call key.
    let plain =
        acc(&[json!({"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]})]);
    assert!(!plain.choices[0].message.extra.contains_key("function_call"));
}

#[test]
fn the_accumulated_completion_serializes_every_required_key() {
    // LiteLLM with n: 2 dropped choice 1's finish chunk; this server also sends created 0.
    let c = acc(&[
        json!({"id":"x","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"A"}}]}),
        json!({"id":"x","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":1,"delta":{"content":"B"}}]}),
        json!({"id":"x","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"length"}]}),
    ]);
    let v = serde_json::to_value(&c).unwrap();
    for key in ["id", "object", "created", "model", "choices"] {
        assert!(v.get(key).is_some(), "no {key} in {v}");
    }
    assert_eq!(v["created"], 0);
    assert_eq!(v["object"], "chat.completion");
    let choices = v["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 2);
    for (i, choice) in choices.iter().enumerate() {
        for key in ["index", "message", "finish_reason", "logprobs"] {
            assert!(
                choice.get(key).is_some(),
                "choice {i} has no {key}: {choice}"
            );
        }
        assert_eq!(choice["index"], i);
        assert_eq!(choice["logprobs"], Value::Null);
    }
    assert_eq!(choices[0]["finish_reason"], "length");
    assert_eq!(choices[1]["finish_reason"], Value::Null);
    assert_eq!(
        choices[1]["message"],
        json!({"role": "assistant", "content": "B"})
    );
    // And it reads back as it was.
    let back: ChatCompletion = serde_json::from_value(v).unwrap();
    assert_eq!(back, c);
}

#[test]
fn openai_chunk_fields_are_typed_and_the_tier_is_kept() {
    let first = chunk(json!({
        "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "service_tier": "default", "system_fingerprint": "fp", "obfuscation": "Qx3T",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}],
        "x_unknown": 1
    }));
    assert_eq!(first.service_tier.as_deref(), Some("default"));
    assert_eq!(first.obfuscation.as_deref(), Some("Qx3T"));
    assert_eq!(first.extra.keys().collect::<Vec<_>>(), ["x_unknown"]);
    let mut a = ChunkAccumulator::new();
    a.push(&first);
    a.push(&chunk(json!({"service_tier": "flex", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})));
    let c = a.finish();
    // As a plain answer reports it.
    assert_eq!(c.service_tier.as_deref(), Some("default"));
    assert_eq!(c.content(), Some("hi"));
    // An odd value is kept as its JSON text rather than failing the chunk.
    let odd = chunk(json!({"service_tier": 5, "obfuscation": {"x": 1}, "choices": []}));
    assert_eq!(odd.service_tier.as_deref(), Some("5"));
    assert_eq!(odd.obfuscation.as_deref(), Some("{\"x\":1}"));
}
