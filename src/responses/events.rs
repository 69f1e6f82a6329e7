//! Responses stream events → [`ChatCompletionChunk`]s (docs/RESPONSES.md §5). Pure: the
//! SSE decoder of `crate::chunks` hands each event's data here, and the chunk state
//! (`chunks/state.rs`) yields what comes back, so limits, `[DONE]`, idle timeouts and
//! incomplete-stream errors are the chat stream's.
//!
//! Following llama.cpp where docs/RESPONSES.md §5 assumed more: its `response.created` has
//! no `created_at` (nor `model`), so chunks carry `created` (and the server's model name)
//! from the first event that has them — with llama.cpp, only the final chunk. The final
//! chunk carries both the finish reason and the usage.

use serde_json::{json, Map, Value};

use super::answer;
use crate::error::{ApiError, Error};
use crate::types::ChatCompletionChunk;

/// What one event means for the stream.
#[derive(Debug)]
pub(crate) enum Step {
    /// Nothing to yield (an event type that carries nothing for chunks).
    Skip,
    /// A chunk to yield.
    Chunk(ChatCompletionChunk),
    /// The final chunk (`response.completed` / `response.incomplete`): the stream is over.
    End(ChatCompletionChunk),
    /// `response.failed` or an `error` event: the stream is over with this error.
    Fail(Error),
}

/// A function call seen in the stream.
#[derive(Debug)]
struct Call {
    item_id: Option<String>,
    output_index: Option<u64>,
    /// An arguments delta came: `output_item.done` must not repeat the arguments.
    got_delta: bool,
}

/// The state of one Responses stream.
#[derive(Debug)]
pub(crate) struct EventState {
    id: String,
    created: u64,
    model: String,
    /// The first delta of the stream carries the role.
    role_sent: bool,
    calls: Vec<Call>,
}

impl EventState {
    /// A stream at its start; `model` names the chunks until the server names its model.
    pub(crate) fn new(model: &str) -> EventState {
        EventState {
            id: String::new(),
            created: 0,
            model: model.to_owned(),
            role_sent: false,
            calls: Vec::new(),
        }
    }

    /// One event's data (JSON); `secret` is redacted from errors.
    pub(crate) fn on_data(&mut self, data: &str, secret: Option<&str>) -> Step {
        let event: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(e) => {
                return Step::Fail(Error::decode_body(
                    format!("a stream event is not JSON: {e}"),
                    data.as_bytes(),
                    secret,
                ))
            }
        };
        let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
        let text = |k: &str| event.get(k).and_then(Value::as_str).map(str::to_owned);
        match kind {
            "response.created" | "response.in_progress" => {
                if let Some(Value::Object(r)) = event.get("response") {
                    self.learn(r);
                }
                Step::Skip
            }
            "response.output_text.delta" => match text("delta") {
                Some(d) => Step::Chunk(self.delta(json!({"content": d}))),
                None => Step::Skip,
            },
            "response.refusal.delta" => match text("delta") {
                Some(d) => Step::Chunk(self.delta(json!({"refusal": d}))),
                None => Step::Skip,
            },
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                match text("delta") {
                    Some(d) => Step::Chunk(self.delta(json!({"reasoning_content": d}))),
                    None => Step::Skip,
                }
            }
            "response.output_item.added" => match event.get("item") {
                Some(item) if is_call(item) => {
                    let index = self.add_call(item, event.get("output_index"));
                    let call = answer::tool_call(item);
                    Step::Chunk(self.delta(json!({"tool_calls": [{
                        "index": index,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["function"]["name"], "arguments": ""}
                    }]})))
                }
                _ => Step::Skip,
            },
            "response.function_call_arguments.delta" => {
                let Some(d) = text("delta") else {
                    return Step::Skip;
                };
                let index = self.find_call(&event);
                if let Some(call) = self.calls.get_mut(index) {
                    call.got_delta = true;
                }
                Step::Chunk(self.delta(json!({"tool_calls": [{
                    "index": index, "function": {"arguments": d}
                }]})))
            }
            "response.output_item.done" => match event.get("item") {
                Some(item) if is_call(item) => {
                    let known = self.find_call(&event);
                    if known < self.calls.len() {
                        if self.calls[known].got_delta {
                            return Step::Skip;
                        }
                        self.calls[known].got_delta = true;
                        let arguments = item.get("arguments").and_then(Value::as_str).unwrap_or("");
                        return Step::Chunk(self.delta(json!({"tool_calls": [{
                            "index": known, "function": {"arguments": arguments}
                        }]})));
                    }
                    // A call never announced: the whole of it now.
                    let index = self.add_call(item, event.get("output_index"));
                    self.calls[index].got_delta = true;
                    let call = answer::tool_call(item);
                    Step::Chunk(self.delta(json!({"tool_calls": [{
                        "index": index, "id": call["id"], "type": "function",
                        "function": call["function"]
                    }]})))
                }
                _ => Step::Skip,
            },
            "response.completed" | "response.incomplete" => {
                let response = match event.get("response") {
                    Some(Value::Object(r)) => r.clone(),
                    _ => Map::new(),
                };
                self.learn(&response);
                let has_calls = !self.calls.is_empty()
                    || response
                        .get("output")
                        .and_then(Value::as_array)
                        .is_some_and(|o| o.iter().any(is_call));
                let finish = answer::finish_reason(&response, has_calls);
                let mut chunk =
                    self.chunk(json!([{"index": 0, "delta": {}, "finish_reason": finish}]));
                chunk.usage = response.get("usage").and_then(answer::usage);
                Step::End(chunk)
            }
            "response.failed" => {
                let body = match event.get("response") {
                    Some(r) if r.get("error").is_some_and(|e| !e.is_null()) => r.to_string(),
                    _ => data.to_owned(),
                };
                Step::Fail(stream_error(body.as_bytes(), secret))
            }
            "error" => Step::Fail(stream_error(data.as_bytes(), secret)),
            _ => Step::Skip,
        }
    }

    /// Takes the id, creation time and model of the response, once known.
    fn learn(&mut self, response: &Map<String, Value>) {
        if self.id.is_empty() {
            if let Some(id) = response.get("id").and_then(Value::as_str) {
                self.id = id.to_owned();
            }
        }
        if self.created == 0 {
            if let Some(t) = response.get("created_at").and_then(Value::as_f64) {
                if t.is_finite() && t > 0.0 {
                    self.created = t as u64;
                }
            }
        }
        if let Some(m) = response
            .get("model")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
        {
            m.clone_into(&mut self.model);
        }
    }

    fn add_call(&mut self, item: &Value, output_index: Option<&Value>) -> usize {
        self.calls.push(Call {
            item_id: item.get("id").and_then(Value::as_str).map(str::to_owned),
            output_index: output_index.and_then(Value::as_u64),
            got_delta: false,
        });
        self.calls.len() - 1
    }

    /// The call an event is about: by `item_id` (llama.cpp sends nothing else), then by
    /// `output_index`, else the last call; `calls.len()` when there is none.
    fn find_call(&self, event: &Value) -> usize {
        let item_id = event
            .get("item_id")
            .or_else(|| event.get("item").and_then(|i| i.get("id")))
            .and_then(Value::as_str);
        if let Some(id) = item_id {
            if let Some(i) = self
                .calls
                .iter()
                .position(|c| c.item_id.as_deref() == Some(id))
            {
                return i;
            }
        }
        if let Some(at) = event.get("output_index").and_then(Value::as_u64) {
            if let Some(i) = self.calls.iter().position(|c| c.output_index == Some(at)) {
                return i;
            }
        }
        if item_id.is_none() && !self.calls.is_empty() {
            return self.calls.len() - 1;
        }
        self.calls.len()
    }

    /// A chunk with one delta for choice 0; the stream's first carries the role.
    fn delta(&mut self, mut delta: Value) -> ChatCompletionChunk {
        if !self.role_sent {
            self.role_sent = true;
            delta["role"] = json!("assistant");
        }
        self.chunk(json!([{"index": 0, "delta": delta}]))
    }

    fn chunk(&self, choices: Value) -> ChatCompletionChunk {
        let mut chunk = ChatCompletionChunk {
            id: self.id.clone(),
            created: self.created,
            model: self.model.clone(),
            ..ChatCompletionChunk::default()
        };
        // Built as JSON and read back: the delta types are `#[non_exhaustive]` and this
        // keeps one reading of them.
        chunk.choices = serde_json::from_value(choices).unwrap_or_default();
        chunk
    }
}

fn is_call(item: &Value) -> bool {
    item.get("type").and_then(Value::as_str) == Some("function_call")
}

fn stream_error(body: &[u8], secret: Option<&str>) -> Error {
    Error::StreamApi(Box::new(ApiError::from_body(None, body, None, secret)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::FinishReason;

    fn feed(s: &mut EventState, v: Value) -> Step {
        s.on_data(&v.to_string(), None)
    }

    #[test]
    fn text_then_completed() {
        let mut s = EventState::new("cfg");
        assert!(matches!(
            feed(
                &mut s,
                json!({"type": "response.created", "response": {"id": "r1", "created_at": 5}})
            ),
            Step::Skip
        ));
        let Step::Chunk(c) = feed(
            &mut s,
            json!({"type": "response.output_text.delta", "delta": "Hi"}),
        ) else {
            panic!()
        };
        assert_eq!(
            (c.id.as_str(), c.created, c.model.as_str()),
            ("r1", 5, "cfg")
        );
        assert_eq!(c.choices[0].delta.content.as_deref(), Some("Hi"));
        assert!(c.choices[0].delta.role.is_some());
        let Step::Chunk(c) = feed(
            &mut s,
            json!({"type": "response.reasoning_text.delta", "delta": "t"}),
        ) else {
            panic!()
        };
        assert!(c.choices[0].delta.role.is_none());
        assert_eq!(c.choices[0].delta.reasoning_content.as_deref(), Some("t"));
        let Step::End(c) = feed(
            &mut s,
            json!({"type": "response.completed", "response": {
            "id": "r1", "status": "completed", "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}}}),
        ) else {
            panic!()
        };
        assert_eq!(c.choices[0].finish_reason, Some(FinishReason::Stop));
        assert_eq!(c.usage.unwrap().total_tokens, 3);
    }

    #[test]
    fn calls_by_item_id_and_done_only_when_no_delta() {
        let mut s = EventState::new("m");
        let added = |id: &str, call: &str| {
            json!({"type": "response.output_item.added", "item": {
                "type": "function_call", "id": id, "call_id": call, "name": "f", "arguments": ""}})
        };
        let Step::Chunk(c) = feed(&mut s, added("fc1", "c1")) else {
            panic!()
        };
        let d = &c.choices[0].delta.tool_calls.as_ref().unwrap()[0];
        assert_eq!((d.index, d.id.as_deref()), (Some(0), Some("c1")));
        feed(&mut s, added("fc2", "c2"));
        let Step::Chunk(c) = feed(
            &mut s,
            json!({"type": "response.function_call_arguments.delta",
            "item_id": "fc1", "delta": "{}"}),
        ) else {
            panic!()
        };
        assert_eq!(
            c.choices[0].delta.tool_calls.as_ref().unwrap()[0].index,
            Some(0)
        );
        assert!(matches!(
            feed(
                &mut s,
                json!({"type": "response.output_item.done", "item": {
                "type": "function_call", "id": "fc1", "arguments": "{}"}})
            ),
            Step::Skip
        ));
        let Step::Chunk(c) = feed(
            &mut s,
            json!({"type": "response.output_item.done", "item": {
            "type": "function_call", "id": "fc2", "arguments": "{\"a\":1}"}}),
        ) else {
            panic!()
        };
        let d = &c.choices[0].delta.tool_calls.as_ref().unwrap()[0];
        assert_eq!(d.index, Some(1));
        assert_eq!(
            d.function.as_ref().unwrap().arguments.as_deref(),
            Some("{\"a\":1}")
        );
        let Step::End(c) = feed(
            &mut s,
            json!({"type": "response.completed", "response": {}}),
        ) else {
            panic!()
        };
        assert_eq!(c.choices[0].finish_reason, Some(FinishReason::ToolCalls));
    }

    #[test]
    fn failures() {
        let mut s = EventState::new("m");
        let Step::Fail(Error::StreamApi(e)) = feed(
            &mut s,
            json!({"type": "response.failed",
            "response": {"status": "failed", "error": {"code": "server_error", "message": "boom"}}}),
        ) else {
            panic!()
        };
        assert_eq!(e.message, "boom");
        let Step::Fail(Error::StreamApi(e)) = feed(
            &mut s,
            json!({"type": "error", "code": "x", "message": "bad"}),
        ) else {
            panic!()
        };
        assert_eq!(e.message, "bad");
        assert!(matches!(
            s.on_data("{", None),
            Step::Fail(Error::Decode { .. })
        ));
        assert!(matches!(
            feed(&mut s, json!({"type": "response.queued"})),
            Step::Skip
        ));
    }
}
