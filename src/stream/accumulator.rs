//! Chunks in, the final `ChatCompletion` out (pure, shared by both modes).
//!
//! Tool-call deltas are merged by `index`; where servers break that rule the call `id`
//! decides: a delta without `index` (Gemini) extends the last call unless it brings a new
//! `id`, and a repeated `index` with a new `id` (Ollama) starts a new call.

use serde_json::{Map, Value};

use crate::types::{
    ChatCompletion, ChatCompletionChunk, ChatMessage, Choice, Content, FinishReason, Role,
    ToolCall, ToolCallDelta, Usage,
};

/// Builds a [`ChatCompletion`] from the chunks of a stream.
///
/// Feed every chunk with [`push`](Self::push), then call [`finish`](Self::finish). Every
/// choice of an `n > 1` request is assembled; `usage` comes from the chunk that carries it
/// (the `choices: []` chunk with `stream_options.include_usage`).
#[derive(Debug, Default, Clone)]
pub struct ChunkAccumulator {
    id: String,
    created: u64,
    model: String,
    system_fingerprint: Option<String>,
    usage: Option<Usage>,
    choices: Vec<ChoiceState>,
}

#[derive(Debug, Default, Clone)]
struct ChoiceState {
    index: u32,
    role: Option<Role>,
    content: Option<String>,
    reasoning: Option<String>,
    refusal: Option<String>,
    calls: Vec<CallState>,
    finish_reason: Option<FinishReason>,
    logprobs: Vec<Value>,
}

#[derive(Debug, Default, Clone)]
struct CallState {
    index: Option<u32>,
    id: String,
    kind: Option<String>,
    name: String,
    arguments: String,
}

fn append(slot: &mut Option<String>, piece: &str) {
    match slot {
        Some(s) => s.push_str(piece),
        None => *slot = Some(piece.to_owned()),
    }
}

impl ChunkAccumulator {
    /// An empty accumulator.
    pub fn new() -> ChunkAccumulator {
        ChunkAccumulator::default()
    }

    /// Adds one chunk.
    pub fn push(&mut self, chunk: &ChatCompletionChunk) {
        if self.id.is_empty() {
            self.id.clone_from(&chunk.id);
        }
        if self.model.is_empty() {
            self.model.clone_from(&chunk.model);
        }
        if self.created == 0 {
            self.created = chunk.created;
        }
        if self.system_fingerprint.is_none() {
            self.system_fingerprint
                .clone_from(&chunk.system_fingerprint);
        }
        if chunk.usage.is_some() {
            self.usage.clone_from(&chunk.usage);
        }
        for c in &chunk.choices {
            let state = self.choice(c.index);
            let d = &c.delta;
            if d.role.is_some() {
                state.role.clone_from(&d.role);
            }
            if let Some(t) = &d.content {
                append(&mut state.content, t);
            }
            if let Some(t) = d.reasoning_content.as_ref().or(d.reasoning.as_ref()) {
                append(&mut state.reasoning, t);
            }
            if let Some(t) = &d.refusal {
                append(&mut state.refusal, t);
            }
            for delta in d.tool_calls.iter().flatten() {
                merge_call(&mut state.calls, delta);
            }
            if c.finish_reason.is_some() {
                state.finish_reason.clone_from(&c.finish_reason);
            }
            if let Some(Value::Array(items)) = c.logprobs.as_ref().and_then(|l| l.get("content")) {
                state.logprobs.extend(items.iter().cloned());
            }
        }
    }

    fn choice(&mut self, index: u32) -> &mut ChoiceState {
        let pos = match self.choices.iter().position(|c| c.index == index) {
            Some(p) => p,
            None => {
                self.choices.push(ChoiceState {
                    index,
                    ..ChoiceState::default()
                });
                self.choices.len() - 1
            }
        };
        &mut self.choices[pos]
    }

    /// The text streamed so far for choice `index`.
    pub fn content(&self, index: u32) -> Option<&str> {
        self.choices
            .iter()
            .find(|c| c.index == index)
            .and_then(|c| c.content.as_deref())
    }

    /// The completion assembled from everything pushed.
    pub fn finish(self) -> ChatCompletion {
        let mut choices: Vec<Choice> = self
            .choices
            .into_iter()
            .map(|c| {
                let tool_calls = (!c.calls.is_empty()).then(|| {
                    c.calls
                        .into_iter()
                        .map(|call| {
                            let mut tc = ToolCall::function(call.id, call.name, call.arguments);
                            if let Some(kind) = call.kind {
                                tc.kind = kind;
                            }
                            tc
                        })
                        .collect()
                });
                let message = ChatMessage {
                    content: c.content.map(Content::Text),
                    tool_calls,
                    refusal: c.refusal,
                    reasoning_content: c.reasoning,
                    ..ChatMessage::empty(c.role.unwrap_or(Role::Assistant))
                };
                let logprobs = (!c.logprobs.is_empty()).then(|| {
                    let mut m = Map::new();
                    m.insert("content".into(), Value::Array(c.logprobs));
                    Value::Object(m)
                });
                Choice {
                    index: c.index,
                    message,
                    finish_reason: c.finish_reason,
                    logprobs,
                    extra: Map::new(),
                }
            })
            .collect();
        choices.sort_by_key(|c| c.index);
        ChatCompletion {
            id: self.id,
            object: "chat.completion".to_owned(),
            created: self.created,
            model: self.model,
            choices,
            usage: self.usage,
            system_fingerprint: self.system_fingerprint,
            service_tier: None,
            extra: Map::new(),
        }
    }
}

fn merge_call(calls: &mut Vec<CallState>, d: &ToolCallDelta) {
    let new_id = d.id.as_deref().filter(|id| !id.is_empty());
    let target = match d.index {
        Some(i) => calls.iter().rposition(|c| c.index == Some(i)),
        None => calls.len().checked_sub(1),
    };
    // A known slot that already has a different id means the server reused the index (or
    // sent none) for a new call.
    let target = target.filter(|&t| match new_id {
        Some(id) => calls[t].id.is_empty() || calls[t].id == id,
        None => true,
    });
    let call = match target {
        Some(t) => &mut calls[t],
        None => {
            calls.push(CallState {
                index: d.index,
                ..CallState::default()
            });
            let last = calls.len() - 1;
            &mut calls[last]
        }
    };
    if let Some(id) = new_id {
        if call.id.is_empty() {
            call.id = id.to_owned();
        }
    }
    if d.kind.is_some() {
        call.kind.clone_from(&d.kind);
    }
    if let Some(f) = &d.function {
        if let Some(name) = f.name.as_deref().filter(|n| !n.is_empty()) {
            // Some servers repeat the full name on every delta; others split it.
            if call.name.is_empty() {
                call.name = name.to_owned();
            } else if call.name != name {
                call.name.push_str(name);
            }
        }
        if let Some(args) = &f.arguments {
            call.arguments.push_str(args);
        }
    }
}

#[cfg(test)]
mod tests {
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
}
