//! Chunks in, the final `ChatCompletion` out (pure, shared by both modes).
//!
//! Tool-call deltas are merged by `index`; where servers break that rule the call `id`
//! decides: a delta without `index` (Gemini) extends the last call unless it brings a new
//! `id`, and a repeated `index` with a new `id` (Ollama) starts a new call.
//!
//! Everything a plain answer would carry is kept: every list of the choice's `logprobs`
//! (`content`, `refusal`, …) is concatenated under its own key, and the legacy
//! `function_call` (llama-cpp-python) is merged into the message beside `tool_calls`.
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
    service_tier: Option<String>,
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
    /// The `logprobs` object so far: `None` until a chunk brings an object.
    logprobs: Option<Map<String, Value>>,
    /// The legacy `function_call` so far: `None` until a delta brings one.
    function_call: Option<FunctionCallState>,
}

/// The legacy `function_call` as assembled so far.
#[derive(Debug, Default, Clone)]
struct FunctionCallState {
    name: String,
    arguments: String,
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

/// Adds a name piece: some servers repeat the full name on every delta, others split it.
fn merge_name(name: &mut String, piece: &str) {
    if piece.is_empty() || name == piece {
        return;
    }
    if name.is_empty() {
        piece.clone_into(name);
    } else {
        name.push_str(piece);
    }
}

/// Adds one chunk's `logprobs` to what arrived before, as openai-python does for `content`
/// and `refusal` but for every key: lists are concatenated in order, `null` adds nothing
/// (a key sent only as `null` stays, as `null`), any other value replaces the one before.
/// `null` (or anything but an object) in place of the whole object adds nothing.
fn merge_logprobs(slot: &mut Option<Map<String, Value>>, logprobs: Option<&Value>) {
    let Some(Value::Object(piece)) = logprobs else {
        return;
    };
    let have = slot.get_or_insert_with(Map::new);
    for (key, value) in piece {
        match (have.get_mut(key), value) {
            (Some(Value::Array(list)), Value::Array(more)) => list.extend(more.iter().cloned()),
            (Some(_), Value::Null) => {}
            _ => {
                have.insert(key.clone(), value.clone());
            }
        }
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
        if self.service_tier.is_none() {
            self.service_tier.clone_from(&chunk.service_tier);
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
            merge_logprobs(&mut state.logprobs, c.logprobs.as_ref());
            if let Some(f) = &d.function_call {
                let call = state.function_call.get_or_insert_with(Default::default);
                if let Some(name) = &f.name {
                    merge_name(&mut call.name, name);
                }
                if let Some(args) = &f.arguments {
                    call.arguments.push_str(args);
                }
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
                let mut message = ChatMessage {
                    content: c.content.map(Content::Text),
                    tool_calls,
                    refusal: c.refusal,
                    reasoning_content: c.reasoning,
                    ..ChatMessage::empty(c.role.unwrap_or(Role::Assistant))
                };
                // `ChatMessage` does not model the legacy field; a plain answer keeps it in
                // `extra` too, so both read the same.
                if let Some(f) = c.function_call {
                    let mut call = Map::new();
                    call.insert("name".into(), Value::String(f.name));
                    call.insert("arguments".into(), Value::String(f.arguments));
                    message
                        .extra
                        .insert("function_call".into(), Value::Object(call));
                }
                Choice {
                    index: c.index,
                    message,
                    finish_reason: c.finish_reason,
                    logprobs: c.logprobs.map(Value::Object),
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
            service_tier: self.service_tier,
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
        if let Some(name) = &f.name {
            merge_name(&mut call.name, name);
        }
        if let Some(args) = &f.arguments {
            call.arguments.push_str(args);
        }
    }
    (pos, started)
}

#[cfg(test)]
mod tests;
