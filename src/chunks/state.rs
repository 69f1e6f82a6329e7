//! From SSE events to chunks: the part of streaming both modes share. Pure: bytes are fed
//! in, chunks (or a typed error) come out, and the state knows when the stream is over.

use std::mem;

use super::sse::{is_done, SseDecoder, SseEvent};
use crate::error::{ApiError, Error, Result};
use crate::responses::events::{EventState, Step};
use crate::types::ChatCompletionChunk;

/// The stream layer: SSE body bytes in, chunks or one typed error out.
pub struct StreamState {
    decoder: SseDecoder,
    events: Vec<SseEvent>,
    pos: usize,
    /// The body ended (no more bytes will come).
    ended: bool,
    /// No more items: `[DONE]`, an error, or the end was handled.
    finished: bool,
    saw_done: bool,
    saw_finish: bool,
    /// The server ended the stream itself: `data: [DONE]` or an error event.
    terminal: bool,
    chunks: usize,
    secret: Option<String>,
    /// The most one event may hold; the whole stream is not capped, a single event is.
    max_event: usize,
    overflow: bool,
    /// A Responses stream: its events become chunks there (docs/RESPONSES.md §5).
    responses: Option<Box<EventState>>,
    /// A read failed.
    failed: bool,
}

impl StreamState {
    /// A stream at its start; `secret` is redacted from errors, one event holds at most
    /// `max_event` bytes.
    pub fn new(secret: Option<String>, max_event: u64) -> StreamState {
        StreamState {
            decoder: SseDecoder::new(),
            events: Vec::new(),
            pos: 0,
            ended: false,
            finished: false,
            saw_done: false,
            saw_finish: false,
            terminal: false,
            chunks: 0,
            secret,
            max_event: usize::try_from(max_event).unwrap_or(usize::MAX),
            overflow: false,
            responses: None,
            failed: false,
        }
    }

    /// [`new`](Self::new) for a stream of Responses events; `model` names the chunks
    /// until the server names its model.
    pub(crate) fn responses(secret: Option<String>, max_event: u64, model: &str) -> StreamState {
        StreamState {
            responses: Some(Box::new(EventState::new(model))),
            ..StreamState::new(secret, max_event)
        }
    }

    /// Body bytes, in pieces of any size.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.decoder.feed(bytes, &mut self.events);
        let held =
            self.decoder.pending_len() + self.events.iter().map(|e| e.data.len()).sum::<usize>();
        if held > self.max_event {
            self.overflow = true;
        }
    }

    /// The body ended.
    pub fn end(&mut self) {
        self.decoder.finish(&mut self.events);
        self.ended = true;
    }

    /// A read failed: the caller reports that error, and the stream is over.
    pub(crate) fn fail(&mut self) {
        self.finished = true;
        self.failed = true;
    }

    /// No more items will come.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The server ended the stream (`data: [DONE]` or an error event, handed out or still
    /// waiting among the decoded events) while the body is still open: what follows is at
    /// most the body's framing, worth reading so the connection can be reused. False after
    /// an oversized event (the rest could be endless) or a failed read.
    pub(crate) fn server_done(&self) -> bool {
        !self.ended
            && !self.overflow
            && !self.failed
            && (self.terminal || self.events[self.pos..].iter().any(|e| is_done(&e.data)))
    }

    /// The next chunk or error from the events decoded so far. `None` means: feed more
    /// bytes, unless [`is_finished`](Self::is_finished).
    pub fn next_item(&mut self) -> Option<Result<ChatCompletionChunk>> {
        if self.overflow && !self.finished {
            self.finished = true;
            return Some(Err(Error::BodyTooLarge {
                limit: self.max_event as u64,
            }));
        }
        while self.pos < self.events.len() {
            let ev = mem::take(&mut self.events[self.pos]);
            self.pos += 1;
            if self.finished {
                continue;
            }
            if let Some(item) = self.on_event(ev) {
                return Some(item);
            }
        }
        self.events.clear();
        self.pos = 0;
        if self.ended && !self.finished {
            self.finished = true;
            if self.responses.is_some() && !self.saw_finish {
                return Some(Err(Error::IncompleteStream(format!(
                    "the body ended after {} chunk(s), without `response.completed` or `response.incomplete`",
                    self.chunks
                ))));
            }
            if !self.saw_done && !self.saw_finish {
                return Some(Err(Error::IncompleteStream(format!(
                    "the body ended after {} chunk(s), before any choice finished and without `data: [DONE]`",
                    self.chunks
                ))));
            }
        }
        None
    }

    fn on_event(&mut self, ev: SseEvent) -> Option<Result<ChatCompletionChunk>> {
        if ev.event.as_deref() == Some("error") {
            self.finished = true;
            self.terminal = true;
            return Some(Err(self.api_error(ev.data.as_bytes())));
        }
        if is_done(&ev.data) {
            self.finished = true;
            self.saw_done = true;
            self.terminal = true;
            return None;
        }
        if ev.data.trim().is_empty() {
            return None;
        }
        if let Some(events) = &mut self.responses {
            return match events.on_data(&ev.data, self.secret.as_deref()) {
                Step::Skip => None,
                Step::Chunk(chunk) => {
                    self.chunks += 1;
                    Some(Ok(chunk))
                }
                // The server's terminal events: what follows is only the body's end, so
                // the connection can be drained and pooled as after `[DONE]`.
                Step::End(chunk) => {
                    self.chunks += 1;
                    self.saw_finish = true;
                    self.finished = true;
                    self.terminal = true;
                    Some(Ok(chunk))
                }
                Step::Fail(e) => {
                    self.finished = true;
                    self.terminal = true;
                    Some(Err(e))
                }
            };
        }
        match serde_json::from_str::<ChatCompletionChunk>(&ev.data) {
            Ok(chunk)
                if chunk.choices.is_empty()
                    && (chunk.extra.contains_key("error") || chunk.object == "error") =>
            {
                self.finished = true;
                self.terminal = true;
                Some(Err(self.api_error(ev.data.as_bytes())))
            }
            Ok(chunk) => {
                if chunk.choices.iter().any(|c| c.finish_reason.is_some()) {
                    self.saw_finish = true;
                }
                self.chunks += 1;
                Some(Ok(chunk))
            }
            Err(e) => {
                self.finished = true;
                Some(Err(Error::decode_body(
                    format!("stream chunk {} is not a valid chunk: {e}", self.chunks + 1),
                    ev.data.as_bytes(),
                    self.secret.as_deref(),
                )))
            }
        }
    }

    fn api_error(&self, data: &[u8]) -> Error {
        Error::StreamApi(Box::new(ApiError::from_body(
            None,
            data,
            None,
            self.secret.as_deref(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(s: &mut StreamState) -> Vec<Result<ChatCompletionChunk>> {
        let mut out = Vec::new();
        while let Some(i) = s.next_item() {
            out.push(i);
        }
        out
    }

    const CHUNK: &str = r#"{"choices":[{"index":0,"delta":{"content":"a"}}]}"#;
    const FINISH: &str = r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#;

    #[test]
    fn done_ends_and_later_events_are_ignored() {
        let mut s = StreamState::new(None, 1 << 20);
        s.feed(format!("data: {CHUNK}\n\ndata: [DONE]\n\ndata: {CHUNK}\n\n").as_bytes());
        assert_eq!(drain(&mut s).len(), 1);
        assert!(s.is_finished());
    }

    #[test]
    fn clean_end_after_finish_is_fine_but_early_end_is_not() {
        let mut s = StreamState::new(None, 1 << 20);
        s.feed(format!("data: {CHUNK}\n\ndata: {FINISH}").as_bytes());
        s.end();
        let items = drain(&mut s);
        assert_eq!(items.len(), 2);
        assert!(items.iter().all(|i| i.is_ok()));

        let mut s = StreamState::new(None, 1 << 20);
        s.feed(format!("data: {CHUNK}\n\n").as_bytes());
        s.end();
        let items = drain(&mut s);
        assert!(matches!(
            items.last(),
            Some(Err(Error::IncompleteStream(_)))
        ));
    }

    #[test]
    fn in_stream_errors_are_typed() {
        let mut s = StreamState::new(Some("sk-very-secret".into()), 1 << 20);
        s.feed(b"data: {\"error\":{\"message\":\"boom sk-very-secret\",\"type\":\"server_error\",\"code\":500}}\n\n");
        match drain(&mut s).pop() {
            Some(Err(Error::StreamApi(e))) => {
                assert_eq!(e.message, "boom [REDACTED]");
                assert_eq!(e.kind.as_deref(), Some("server_error"));
                assert_eq!(e.code, Some(crate::error::ErrorCode::Number(500)));
            }
            other => panic!("{other:?}"),
        }
        let mut s = StreamState::new(None, 1 << 20);
        s.feed(b"event: error\ndata: {\"message\":\"overloaded\"}\n\n");
        assert!(
            matches!(drain(&mut s).pop(), Some(Err(Error::StreamApi(e))) if e.message == "overloaded")
        );
    }

    #[test]
    fn an_endless_event_is_cut_at_the_limit() {
        let mut s = StreamState::new(None, 100);
        s.feed(b"data: ");
        s.feed(&[b'x'; 150]);
        assert!(matches!(
            drain(&mut s).pop(),
            Some(Err(Error::BodyTooLarge { limit: 100 }))
        ));
        assert!(s.is_finished());
    }

    #[test]
    fn only_a_stream_the_server_ended_is_worth_draining() {
        // [DONE] decoded but not handed out yet counts: the caller dropped after the last chunk.
        let mut s = StreamState::new(None, 1 << 20);
        s.feed(format!("data: {CHUNK}\n\ndata: [DONE]\n\n").as_bytes());
        assert!(s.server_done());
        assert_eq!(drain(&mut s).len(), 1);
        assert!(s.server_done());
        s.end();
        assert!(!s.server_done(), "an ended body has nothing left");

        let mut s = StreamState::new(None, 1 << 20);
        s.feed(format!("data: {CHUNK}\n\n").as_bytes());
        assert_eq!(drain(&mut s).len(), 1);
        assert!(!s.server_done(), "mid-way");
        s.fail();
        assert!(!s.server_done());

        let mut s = StreamState::new(None, 1 << 20);
        s.feed(b"event: error\ndata: {\"message\":\"overloaded\"}\n\n");
        drain(&mut s);
        assert!(s.server_done());

        let mut s = StreamState::new(None, 10);
        s.feed(b"data: [DONE]\n\ndata: xxxxxxxxxxxxxxxx");
        assert!(!s.server_done(), "an oversized event is never drained");
    }

    #[test]
    fn invalid_json_is_a_decode_error() {
        let mut s = StreamState::new(None, 1 << 20);
        s.feed(b"data: {not json\n\n");
        assert!(matches!(
            drain(&mut s).pop(),
            Some(Err(Error::Decode { .. }))
        ));
        assert!(s.is_finished());
    }
}
