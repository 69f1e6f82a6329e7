//! Chunks in, structured-output events out (pure, shared by both modes).
//!
//! The events follow openai-python's `ChatCompletionStreamManager`: every chunk, each
//! content delta with the JSON parsed so far, the content when its choice finishes (parsed
//! into the type), refusal text, and tool-call arguments as they grow and when complete.
//!
//! Nothing here reads a chunk's deltas: the [`ChunkAccumulator`] merges them (with every
//! server quirk) and reports each change it makes; the events are that change plus the
//! accumulator's state at that moment. The final completion comes from the same
//! accumulator, so the events and the completion cannot disagree.

use std::collections::VecDeque;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::parsed::{check_finish, parse_completion, parse_content, Failure, ParsePath};
use super::partial_json::parse_partial;
use super::ParsedChatCompletion;
use crate::chunks::{Change, ChoiceState, ChunkAccumulator};
use crate::error::Result;
use crate::types::{ChatCompletionChunk, FinishReason};

/// One event of a [`ChatCompletionStreamManager`](crate::ChatCompletionStreamManager).
///
/// `choice` is the index of the answer an event belongs to (always 0 unless `n > 1`).
/// A choice's `*Done` events come when its chunk with a `finish_reason` arrives (or when
/// the stream ends, for a server that never sends one), in this order: the arguments of
/// each tool call still open, then the content, then the refusal.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StructuredEvent<T = Value> {
    /// A chunk as received, before the events derived from it.
    Chunk(Box<ChatCompletionChunk>),
    /// More answer text.
    ContentDelta {
        /// The choice it belongs to.
        choice: u32,
        /// The new text.
        delta: String,
        /// All the text so far.
        snapshot: String,
        /// The JSON the text so far describes: open strings, arrays and objects closed,
        /// unfinished keys and literals left out. `None` before the first value starts, or
        /// when the text can no longer become JSON.
        parsed: Option<Value>,
    },
    /// The answer text is complete.
    ContentDone {
        /// The choice it belongs to.
        choice: u32,
        /// The whole text.
        content: String,
        /// The text parsed into the type (a text that does not parse ends the stream with
        /// an error instead of this event).
        parsed: T,
    },
    /// More refusal text.
    RefusalDelta {
        /// The choice it belongs to.
        choice: u32,
        /// The new text.
        delta: String,
        /// All the refusal text so far.
        snapshot: String,
    },
    /// The model refused; this is its whole refusal.
    RefusalDone {
        /// The choice it belongs to.
        choice: u32,
        /// The whole refusal text.
        refusal: String,
    },
    /// More arguments of a tool call.
    ToolCallArgumentsDelta {
        /// The choice it belongs to.
        choice: u32,
        /// The call's position in the message's `tool_calls`.
        index: u32,
        /// The function called (as far as known).
        name: String,
        /// The new arguments text.
        delta: String,
        /// All the arguments text so far.
        snapshot: String,
    },
    /// A tool call's arguments are complete: the next call started or its choice finished.
    ToolCallArgumentsDone {
        /// The choice it belongs to.
        choice: u32,
        /// The call's position in the message's `tool_calls`.
        index: u32,
        /// The function called.
        name: String,
        /// The whole arguments text (JSON).
        arguments: String,
    },
}

/// The event state of one stream: feed chunks, take events.
pub(crate) struct EventState<T> {
    acc: ChunkAccumulator,
    /// Per accumulator choice slot, which events have been sent.
    sent: Vec<Sent>,
    queue: VecDeque<Result<StructuredEvent<T>>>,
    path: ParsePath,
    /// The API key, kept out of decode errors.
    secret: Option<String>,
    _type: PhantomData<fn() -> T>,
}

/// How far one choice's `*Done` events have got.
#[derive(Default, Clone, Copy)]
struct Sent {
    /// The choice's own done events (content, refusal) were sent.
    done: bool,
    /// Calls `0..closed` got their [`StructuredEvent::ToolCallArgumentsDone`].
    closed: usize,
}

impl<T: DeserializeOwned> EventState<T> {
    /// `path` is what the final completion reports (the request's format).
    /// The path the final completion reports: the fallback's, when the stream had to ask
    /// again with json_object.
    pub(crate) fn set_path(&mut self, path: ParsePath) {
        self.path = path;
    }

    pub(crate) fn new(path: ParsePath, secret: Option<String>) -> Self {
        EventState {
            acc: ChunkAccumulator::new(),
            sent: Vec::new(),
            queue: VecDeque::new(),
            path,
            secret,
            _type: PhantomData,
        }
    }

    /// The next event ready, if any.
    pub(crate) fn pop(&mut self) -> Option<Result<StructuredEvent<T>>> {
        self.queue.pop_front()
    }

    /// Adds a chunk; its events become available through [`pop`](Self::pop). After an
    /// error event (length, content filter, an answer that does not parse) the caller must
    /// stop feeding.
    pub(crate) fn push(&mut self, chunk: ChatCompletionChunk) {
        let mut derived = Vec::new();
        let mut finishing = Vec::new();
        let mut stop = false;
        let sent = &mut self.sent;
        self.acc.push_observed(&chunk, |acc, change| {
            let slot = change.choice();
            let Some(state) = acc.choice_at(slot) else {
                return;
            };
            match change {
                Change::Content { delta, .. } => derived.push(Ok(StructuredEvent::ContentDelta {
                    choice: state.index(),
                    delta: delta.to_owned(),
                    snapshot: state.content().to_owned(),
                    parsed: parse_partial(state.content()),
                })),
                Change::Refusal { delta, .. } => derived.push(Ok(StructuredEvent::RefusalDelta {
                    choice: state.index(),
                    delta: delta.to_owned(),
                    snapshot: state.refusal().to_owned(),
                })),
                // Calls stream one after the other: a new call completes the ones before.
                Change::CallStarted { call, .. } => {
                    close_calls(state, sent_for(sent, slot), call, &mut derived);
                }
                Change::Arguments { call, delta, .. } => {
                    if let Some(c) = state.calls().get(call) {
                        derived.push(Ok(StructuredEvent::ToolCallArgumentsDelta {
                            choice: state.index(),
                            index: u32::try_from(call).unwrap_or(u32::MAX),
                            name: c.name().to_owned(),
                            delta: delta.to_owned(),
                            snapshot: c.arguments().to_owned(),
                        }));
                    }
                }
                Change::Finished { .. } => match state.finish_reason() {
                    Some(FinishReason::Length | FinishReason::ContentFilter) => stop = true,
                    _ => finishing.push(slot),
                },
            }
        });
        // The chunk event leads the events derived from it.
        self.queue
            .push_back(Ok(StructuredEvent::Chunk(Box::new(chunk))));
        self.queue.extend(derived);
        if stop {
            if let Err(e) = check_finish(&self.acc.clone().finish()) {
                self.queue.push_back(Err(e));
                return;
            }
        }
        for slot in finishing {
            self.finish_choice(slot);
        }
    }

    /// The body ended: choices that never got a `finish_reason` are done now.
    pub(crate) fn end(&mut self) {
        for slot in 0..self.acc.choice_count() {
            self.finish_choice(slot);
        }
    }

    /// The completion assembled from every chunk, parsed into the type.
    pub(crate) fn final_completion(&self) -> Result<ParsedChatCompletion<T>> {
        parse_completion(self.acc.clone().finish(), self.path, self.secret.as_deref())
            .map_err(Failure::into_error)
    }

    fn finish_choice(&mut self, slot: usize) {
        let Some(state) = self.acc.choice_at(slot) else {
            return;
        };
        let sent = sent_for(&mut self.sent, slot);
        if sent.done {
            return;
        }
        sent.done = true;
        close_calls(state, sent, state.calls().len(), &mut self.queue);
        let choice = state.index();
        let (content, refusal) = (state.content(), state.refusal());
        if !content.trim().is_empty() && refusal.is_empty() {
            let item = parse_content::<T>(content, self.secret.as_deref()).map(|(_, parsed)| {
                StructuredEvent::ContentDone {
                    choice,
                    content: content.to_owned(),
                    parsed,
                }
            });
            self.queue.push_back(item);
        }
        if !refusal.is_empty() {
            self.queue.push_back(Ok(StructuredEvent::RefusalDone {
                choice,
                refusal: refusal.to_owned(),
            }));
        }
    }
}

/// What has been sent for choice `slot`, made on first use.
fn sent_for(sent: &mut Vec<Sent>, slot: usize) -> &mut Sent {
    if sent.len() <= slot {
        sent.resize(slot + 1, Sent::default());
    }
    &mut sent[slot]
}

/// Sends the done event of every call before `until` that has not had one.
fn close_calls<T>(
    state: &ChoiceState,
    sent: &mut Sent,
    until: usize,
    out: &mut impl Extend<Result<StructuredEvent<T>>>,
) {
    let calls = state.calls().get(sent.closed..until).unwrap_or_default();
    out.extend(calls.iter().zip(sent.closed..).map(|(call, pos)| {
        Ok(StructuredEvent::ToolCallArgumentsDone {
            choice: state.index(),
            index: u32::try_from(pos).unwrap_or(u32::MAX),
            name: call.name().to_owned(),
            arguments: call.arguments().to_owned(),
        })
    }));
    sent.closed = sent.closed.max(until);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Person {
        name: String,
        age: u32,
    }

    fn chunk(choices: Value) -> ChatCompletionChunk {
        serde_json::from_value(json!({"id": "s", "model": "m", "choices": choices})).unwrap()
    }

    fn content(text: &str) -> ChatCompletionChunk {
        chunk(json!([{"index": 0, "delta": {"content": text}}]))
    }

    fn finish(reason: &str) -> ChatCompletionChunk {
        chunk(json!([{"index": 0, "delta": {}, "finish_reason": reason}]))
    }

    fn drain<T: DeserializeOwned>(s: &mut EventState<T>) -> Vec<Result<StructuredEvent<T>>> {
        std::iter::from_fn(|| s.pop()).collect()
    }

    #[test]
    fn content_deltas_carry_the_partial_json_then_done_parses() {
        let mut s = EventState::<Person>::new(ParsePath::JsonSchema, None);
        let mut partials = Vec::new();
        for piece in ["{\"na", "me\": \"A", "da\", \"age\"", ": 36", "}"] {
            s.push(content(piece));
            let events = drain(&mut s);
            assert!(matches!(events[0], Ok(StructuredEvent::Chunk(_))));
            match &events[1] {
                Ok(StructuredEvent::ContentDelta {
                    choice: 0,
                    delta,
                    snapshot,
                    parsed,
                }) => {
                    assert_eq!(delta, piece);
                    assert!(snapshot.ends_with(piece));
                    partials.push(parsed.clone());
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            partials,
            vec![
                Some(json!({})),
                Some(json!({"name": "A"})),
                Some(json!({"name": "Ada"})),
                Some(json!({"name": "Ada", "age": 36})),
                Some(json!({"name": "Ada", "age": 36})),
            ]
        );
        s.push(finish("stop"));
        let events = drain(&mut s);
        assert_eq!(events.len(), 2);
        match &events[1] {
            Ok(StructuredEvent::ContentDone {
                content, parsed, ..
            }) => {
                assert_eq!(content, "{\"name\": \"Ada\", \"age\": 36}");
                assert_eq!(
                    parsed,
                    &Person {
                        name: "Ada".into(),
                        age: 36
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        let done = s.final_completion().unwrap();
        assert_eq!(done.parsed().unwrap().age, 36);
        assert_eq!(done.id, "s");
        // A second end does not repeat the done events.
        s.end();
        assert!(s.pop().is_none());
    }

    #[test]
    fn tool_call_arguments_and_refusal() {
        let mut s = EventState::<Value>::new(ParsePath::JsonSchema, None);
        s.push(chunk(json!([{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "a", "type": "function", "function": {"name": "f", "arguments": "{\"x\""}}
        ]}}])));
        s.push(chunk(json!([{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": ":1}"}}
        ]}}])));
        s.push(chunk(json!([{"index": 0, "delta": {"tool_calls": [
            {"index": 1, "id": "b", "function": {"name": "g", "arguments": "{}"}}
        ]}}])));
        s.push(finish("tool_calls"));
        let kinds: Vec<String> = drain(&mut s)
            .into_iter()
            .filter_map(|e| match e.unwrap() {
                StructuredEvent::ToolCallArgumentsDelta {
                    index,
                    name,
                    snapshot,
                    ..
                } => Some(format!("delta {index} {name} {snapshot}")),
                StructuredEvent::ToolCallArgumentsDone {
                    index,
                    name,
                    arguments,
                    ..
                } => Some(format!("done {index} {name} {arguments}")),
                StructuredEvent::Chunk(_) => None,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "delta 0 f {\"x\"",
                "delta 0 f {\"x\":1}",
                "done 0 f {\"x\":1}",
                "delta 1 g {}",
                "done 1 g {}",
            ]
        );

        let mut s = EventState::<Person>::new(ParsePath::JsonSchema, None);
        s.push(chunk(
            json!([{"index": 0, "delta": {"refusal": "I can't"}}]),
        ));
        s.push(chunk(
            json!([{"index": 0, "delta": {"refusal": " do that."}}]),
        ));
        s.push(finish("stop"));
        let events: Vec<_> = drain(&mut s).into_iter().map(Result::unwrap).collect();
        assert!(
            matches!(&events[3], StructuredEvent::RefusalDelta { snapshot, .. } if snapshot == "I can't do that.")
        );
        assert!(
            matches!(&events[5], StructuredEvent::RefusalDone { refusal, .. } if refusal == "I can't do that.")
        );
        let done = s.final_completion().unwrap();
        assert_eq!(done.refusal(), Some("I can't do that."));
        assert!(done.parsed().is_none());
    }

    #[test]
    fn length_content_filter_and_bad_content_are_errors() {
        let mut s = EventState::<Person>::new(ParsePath::JsonSchema, None);
        s.push(content("{\"name\": \"A"));
        s.push(finish("length"));
        let events = drain(&mut s);
        assert!(
            matches!(events.last(), Some(Err(Error::Length(c))) if c.content() == Some("{\"name\": \"A"))
        );
        assert!(matches!(s.final_completion(), Err(Error::Length(_))));

        let mut s = EventState::<Person>::new(ParsePath::JsonSchema, None);
        s.push(finish("content_filter"));
        assert!(matches!(
            drain(&mut s).last(),
            Some(Err(Error::ContentFilter(_)))
        ));

        let mut s = EventState::<Person>::new(ParsePath::JsonSchema, None);
        s.push(content("{\"name\": \"Ada\"}"));
        s.push(finish("stop"));
        assert!(matches!(
            drain(&mut s).last(),
            Some(Err(Error::Decode { .. }))
        ));
    }

    /// The tool-call events of a stream (`tool_calls` given per chunk, choice 0), ended
    /// with `finish_reason: tool_calls`; checks that every done event agrees with the
    /// final completion's call at that position.
    fn call_events(deltas: &[Value]) -> Vec<String> {
        let mut s = EventState::<Value>::new(ParsePath::JsonSchema, None);
        for calls in deltas {
            s.push(chunk(json!([{"index": 0, "delta": {"tool_calls": calls}}])));
        }
        s.push(finish("tool_calls"));
        let done = s.final_completion().unwrap();
        let calls = done.choices[0]
            .message
            .message
            .tool_calls
            .clone()
            .unwrap_or_default();
        let mut finished = 0;
        let events = drain(&mut s)
            .into_iter()
            .filter_map(|e| match e.unwrap() {
                StructuredEvent::ToolCallArgumentsDelta {
                    choice: 0,
                    index,
                    name,
                    delta,
                    snapshot,
                } => Some(format!("delta {index} {name} +{delta} = {snapshot}")),
                StructuredEvent::ToolCallArgumentsDone {
                    choice: 0,
                    index,
                    name,
                    arguments,
                } => {
                    let call = &calls[index as usize];
                    assert_eq!(
                        (&call.function.name, &call.function.arguments),
                        (&name, &arguments)
                    );
                    finished += 1;
                    Some(format!("done {index} {name} {arguments}"))
                }
                StructuredEvent::Chunk(_) => None,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(finished, calls.len(), "one done event per call");
        events
    }

    #[test]
    fn gemini_calls_without_index_become_separate_calls_by_id() {
        let events = call_events(&[
            json!([{"id": "c1", "function": {"name": "f", "arguments": "{\"a\""}}]),
            json!([{"function": {"arguments": ":1}"}}]),
            json!([{"id": "c2", "function": {"name": "g", "arguments": "{}"}}]),
        ]);
        assert_eq!(
            events,
            [
                "delta 0 f +{\"a\" = {\"a\"",
                "delta 0 f +:1} = {\"a\":1}",
                "done 0 f {\"a\":1}",
                "delta 1 g +{} = {}",
                "done 1 g {}",
            ]
        );
    }

    #[test]
    fn ollama_calls_reusing_index_zero_become_separate_calls_by_id() {
        let events = call_events(&[
            json!([{"index": 0, "id": "o1", "function": {"name": "f", "arguments": {"a": 1}}}]),
            json!([{"index": 0, "id": "o2", "function": {"name": "f", "arguments": {"a": 2}}}]),
        ]);
        assert_eq!(
            events,
            [
                "delta 0 f +{\"a\":1} = {\"a\":1}",
                "done 0 f {\"a\":1}",
                "delta 1 f +{\"a\":2} = {\"a\":2}",
                "done 1 f {\"a\":2}",
            ]
        );
    }

    #[test]
    fn names_are_merged_once_for_events_and_completion() {
        // vLLM names the call alone first; a repeated full name is not doubled; a name
        // split over deltas is joined before its arguments' event.
        let events = call_events(&[
            json!([{"index": 0, "id": "a", "type": "function", "function": {"name": "f"}}]),
            json!([{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{"}}]),
            json!([{"index": 0, "function": {"name": "f", "arguments": "}"}}]),
            json!([{"index": 1, "id": "b", "function": {"name": "get_"}}]),
            json!([{"index": 1, "function": {"name": "weather", "arguments": "{}"}}]),
        ]);
        assert_eq!(
            events,
            [
                "delta 0 f +{ = {",
                "delta 0 f +} = {}",
                "done 0 f {}",
                "delta 1 get_weather +{} = {}",
                "done 1 get_weather {}",
            ]
        );
    }

    #[test]
    fn a_call_extended_twice_in_one_chunk_gets_each_snapshot() {
        let events = call_events(&[json!([
            {"index": 0, "id": "a", "function": {"name": "f", "arguments": "{\"x\""}},
            {"index": 0, "function": {"arguments": ":1}"}},
            {"index": 1, "id": "b", "function": {"name": "g", "arguments": "{}"}}
        ])]);
        assert_eq!(
            events,
            [
                "delta 0 f +{\"x\" = {\"x\"",
                "delta 0 f +:1} = {\"x\":1}",
                "done 0 f {\"x\":1}",
                "delta 1 g +{} = {}",
                "done 1 g {}",
            ]
        );
    }

    #[test]
    fn choices_are_kept_apart_and_finished_at_the_end_without_a_finish_reason() {
        let mut s = EventState::<Value>::new(ParsePath::JsonSchema, None);
        s.push(chunk(json!([
            {"index": 0, "delta": {"content": "[1"}},
            {"index": 1, "delta": {"content": "[2"}}
        ])));
        s.push(chunk(json!([{"index": 1, "delta": {"content": "]"}}])));
        s.push(chunk(json!([{"index": 0, "delta": {"content": "]"}}])));
        drain(&mut s);
        s.end();
        let done: Vec<(u32, Value)> = drain(&mut s)
            .into_iter()
            .map(|e| match e.unwrap() {
                StructuredEvent::ContentDone { choice, parsed, .. } => (choice, parsed),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(done, vec![(0, json!([1])), (1, json!([2]))]);
    }
}

/// The cost of the partial parse per content delta. Run it with
/// `cargo test --release --lib -- --ignored --nocapture partial_json_cost`.
#[cfg(test)]
mod measure {
    use super::*;
    use serde_json::json;
    use std::time::Instant;

    /// A realistic structured answer of about 3 KB: a report with nested objects, arrays,
    /// numbers, escapes and non-ASCII text, pretty-printed as models write it.
    fn answer() -> String {
        let items: Vec<Value> = (0..12)
            .map(|i| {
                json!({
                    "id": i,
                    "title": format!("Étape {i}: vérifier la \"configuration\" du serveur"),
                    "done": i % 3 == 0,
                    "score": 0.125 * f64::from(i),
                    "tags": ["infra", "réseau", format!("t{i}")],
                    "owner": {"name": "Ada Lovelace", "email": "ada@example.com"}
                })
            })
            .collect();
        let doc = json!({"summary": "Checklist for the migration.\nTwelve steps.", "items": items});
        serde_json::to_string_pretty(&doc).unwrap()
    }

    /// Deltas of 1 to 7 bytes (cut on char boundaries), like tokens.
    fn deltas(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut step = 0;
        while start < text.len() {
            step = step % 7 + 1;
            let mut end = (start + step).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            out.push(&text[start..end]);
            start = end;
        }
        out
    }

    #[test]
    #[ignore = "a measurement, not a check"]
    fn partial_json_cost() {
        let text = answer();
        let pieces = deltas(&text);
        let rounds = 50;

        let t = Instant::now();
        for _ in 0..rounds {
            let mut snapshot = String::new();
            for p in &pieces {
                snapshot.push_str(p);
                std::hint::black_box(parse_partial(&snapshot));
            }
        }
        let parse_only = t.elapsed() / rounds;

        let chunks: Vec<ChatCompletionChunk> = pieces
            .iter()
            .map(|p| {
                serde_json::from_value(json!({"choices": [{"index": 0, "delta": {"content": p}}]}))
                    .unwrap()
            })
            .collect();
        let t = Instant::now();
        for _ in 0..rounds {
            let mut s = EventState::<Value>::new(ParsePath::JsonSchema, None);
            for c in &chunks {
                s.push(c.clone());
                while let Some(e) = s.pop() {
                    std::hint::black_box(e.ok());
                }
            }
        }
        let with_events = t.elapsed() / rounds;
        // For scale: serde_json parsing the whole answer once.
        let t = Instant::now();
        for _ in 0..rounds * 20 {
            std::hint::black_box(serde_json::from_str::<Value>(&text).ok());
        }
        let serde_full = t.elapsed() / (rounds * 20);
        let n = u32::try_from(pieces.len()).unwrap();
        println!(
            "answer {} bytes, {} deltas: parse_partial {:?}/stream ({:?}/delta), \
             events incl. snapshot clone {:?}/stream ({:?}/delta); \
             serde_json on the whole answer {:?}",
            text.len(),
            pieces.len(),
            parse_only,
            parse_only / n,
            with_events,
            with_events / n,
            serde_full,
        );
        assert_eq!(parse_partial(&text), serde_json::from_str(&text).ok());
    }
}
