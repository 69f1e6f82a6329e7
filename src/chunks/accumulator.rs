//! Chunks in, the final `ChatCompletion` out (pure, shared by both modes).
//!
//! Tool-call deltas are merged by `index`; where servers break that rule the call `id`
//! decides: a delta without `index` (Gemini) extends the last call unless it brings a new
//! `id`, and a repeated `index` with a new `id` (Ollama) starts a new call.
//!
//! This is the one place that reads chunk deltas. Whoever needs more than the final
//! completion (the structured-output events) watches the same merge through
//! [`ChunkAccumulator::push_observed`], so every server quirk is handled here once.

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

/// One choice as assembled so far.
#[derive(Debug, Default, Clone)]
pub(crate) struct ChoiceState {
    index: u32,
    role: Option<Role>,
    content: Option<String>,
    reasoning: Option<String>,
    refusal: Option<String>,
    calls: Vec<CallState>,
    finish_reason: Option<FinishReason>,
    logprobs: Vec<Value>,
}

/// One tool call as assembled so far.
#[derive(Debug, Default, Clone)]
pub(crate) struct CallState {
    index: Option<u32>,
    id: String,
    kind: Option<String>,
    name: String,
    arguments: String,
}

/// What one pushed chunk changed, reported by [`ChunkAccumulator::push_observed`] right
/// after it is applied: the accumulator's state at that moment is the snapshot that goes
/// with the change (text only ever grows by appending).
///
/// `choice` is the choice's slot, its position in arrival order
/// ([`ChunkAccumulator::choice_at`]), not its wire `index`; `call` is the call's position
/// in that choice's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change<'c> {
    /// Text appended to the content (never empty).
    Content { choice: usize, delta: &'c str },
    /// Text appended to the refusal (never empty).
    Refusal { choice: usize, delta: &'c str },
    /// A new tool call, already holding what its first delta brought (id, name, and any
    /// arguments, which follow as their own [`Change::Arguments`]).
    CallStarted { choice: usize, call: usize },
    /// Text appended to a call's arguments (never empty).
    Arguments {
        choice: usize,
        call: usize,
        delta: &'c str,
    },
    /// The choice got a `finish_reason`.
    Finished { choice: usize },
}

impl Change<'_> {
    /// The slot of the choice changed.
    pub(crate) fn choice(self) -> usize {
        match self {
            Change::Content { choice, .. }
            | Change::Refusal { choice, .. }
            | Change::CallStarted { choice, .. }
            | Change::Arguments { choice, .. }
            | Change::Finished { choice } => choice,
        }
    }
}

impl ChoiceState {
    /// The choice's wire `index`.
    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// The text so far (empty before any).
    pub(crate) fn content(&self) -> &str {
        self.content.as_deref().unwrap_or_default()
    }

    /// The refusal so far (empty before any).
    pub(crate) fn refusal(&self) -> &str {
        self.refusal.as_deref().unwrap_or_default()
    }

    /// The tool calls so far, in the order they started.
    pub(crate) fn calls(&self) -> &[CallState] {
        &self.calls
    }

    /// The last `finish_reason` received.
    pub(crate) fn finish_reason(&self) -> Option<&FinishReason> {
        self.finish_reason.as_ref()
    }
}

impl CallState {
    /// The function name, as far as received.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The arguments text so far.
    pub(crate) fn arguments(&self) -> &str {
        &self.arguments
    }
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
        self.push_observed(chunk, |_, _| {});
    }

    /// Adds one chunk, calling `observe` after each [`Change`] it makes, with the
    /// accumulator as it stands right then. Choices come in the chunk's order, and within
    /// one: content, refusal, each tool-call delta, finish.
    ///
    /// A callback rather than a returned list: the snapshot that belongs to a change is
    /// the state at that moment, which a list read after the whole chunk could not give
    /// when one chunk extends the same text twice. It also costs nothing per chunk.
    pub(crate) fn push_observed<'c>(
        &mut self,
        chunk: &'c ChatCompletionChunk,
        mut observe: impl FnMut(&ChunkAccumulator, Change<'c>),
    ) {
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
            let slot = self.slot(c.index);
            let d = &c.delta;
            let state = &mut self.choices[slot];
            if d.role.is_some() {
                state.role.clone_from(&d.role);
            }
            if let Some(t) = d.reasoning_content.as_ref().or(d.reasoning.as_ref()) {
                append(&mut state.reasoning, t);
            }
            if let Some(Value::Array(items)) = c.logprobs.as_ref().and_then(|l| l.get("content")) {
                state.logprobs.extend(items.iter().cloned());
            }
            // An empty piece still makes the text present (`Some("")`) in the completion,
            // but it changes nothing worth reporting.
            if let Some(t) = &d.content {
                append(&mut self.choices[slot].content, t);
                if !t.is_empty() {
                    observe(
                        self,
                        Change::Content {
                            choice: slot,
                            delta: t,
                        },
                    );
                }
            }
            if let Some(t) = &d.refusal {
                append(&mut self.choices[slot].refusal, t);
                if !t.is_empty() {
                    observe(
                        self,
                        Change::Refusal {
                            choice: slot,
                            delta: t,
                        },
                    );
                }
            }
            for delta in d.tool_calls.iter().flatten() {
                let (call, started) = merge_call(&mut self.choices[slot].calls, delta);
                if started {
                    observe(self, Change::CallStarted { choice: slot, call });
                }
                let arguments = delta.function.as_ref().and_then(|f| f.arguments.as_deref());
                if let Some(args) = arguments.filter(|a| !a.is_empty()) {
                    observe(
                        self,
                        Change::Arguments {
                            choice: slot,
                            call,
                            delta: args,
                        },
                    );
                }
            }
            if c.finish_reason.is_some() {
                self.choices[slot]
                    .finish_reason
                    .clone_from(&c.finish_reason);
                observe(self, Change::Finished { choice: slot });
            }
        }
    }

    /// The slot of the choice with wire `index`, made on its first chunk.
    fn slot(&mut self, index: u32) -> usize {
        match self.choices.iter().position(|c| c.index == index) {
            Some(p) => p,
            None => {
                self.choices.push(ChoiceState {
                    index,
                    ..ChoiceState::default()
                });
                self.choices.len() - 1
            }
        }
    }

    /// How many choices have been seen; their slots are `0..choice_count()`.
    pub(crate) fn choice_count(&self) -> usize {
        self.choices.len()
    }

    /// The choice in `slot` (see [`Change`]).
    pub(crate) fn choice_at(&self, slot: usize) -> Option<&ChoiceState> {
        self.choices.get(slot)
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
            meta: Default::default(),
        }
    }
}

/// Merges one tool-call delta; returns the call's position and whether the delta started
/// it.
fn merge_call(calls: &mut Vec<CallState>, d: &ToolCallDelta) -> (usize, bool) {
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
    let (pos, started) = match target {
        Some(t) => (t, false),
        None => {
            calls.push(CallState {
                index: d.index,
                ..CallState::default()
            });
            (calls.len() - 1, true)
        }
    };
    let call = &mut calls[pos];
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
    (pos, started)
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
}
