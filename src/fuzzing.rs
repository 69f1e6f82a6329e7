//! Crate-private functions exposed to the fuzz targets in `fuzz/`.
//!
//! Compiled only with `--cfg fuzzing` (cargo-fuzz sets it for every crate it builds), so it
//! is never part of the published API or its docs. Each wrapper is a thin shim over the
//! real function: the fuzzers exercise exactly the code the client runs.

use std::time::{Duration, SystemTime};

use crate::error::ApiError;
use crate::types::ChatCompletionChunk;

/// The partial-JSON parser is private to `structured`; the file is pure (it depends on
/// serde_json only), so the fuzz build compiles it a second time here rather than widening
/// its visibility for everyone.
#[path = "structured/partial_json.rs"]
mod partial_json;

pub use crate::chunks::sse::SseEvent;

/// [`crate::chunks::sse::SseDecoder`].
#[derive(Debug, Default)]
pub struct SseDecoder(crate::chunks::sse::SseDecoder);

impl SseDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> SseDecoder {
        SseDecoder::default()
    }
    /// Feeds bytes; completed events go to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) {
        self.0.feed(bytes, out);
    }
    /// Ends the body.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        self.0.finish(out);
    }
    /// Bytes held for the event being received.
    pub fn pending_len(&self) -> usize {
        self.0.pending_len()
    }
}

/// [`crate::chunks::StreamState`]: SSE bytes in, chunks or typed errors out.
pub struct StreamState(crate::chunks::StreamState);

impl StreamState {
    /// A stream whose events may hold at most `max_event` bytes.
    pub fn new(secret: Option<String>, max_event: u64) -> StreamState {
        StreamState(crate::chunks::StreamState::new(secret, max_event))
    }
    /// Feeds body bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.0.feed(bytes);
    }
    /// The body ended.
    pub fn end(&mut self) {
        self.0.end();
    }
    /// The next chunk or error decoded so far.
    pub fn next_item(&mut self) -> Option<crate::Result<ChatCompletionChunk>> {
        self.0.next_item()
    }
    /// No more items will come.
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

/// [`crate::structured::partial_json::parse_partial`].
pub fn parse_partial(text: &str) -> Option<serde_json::Value> {
    partial_json::parse_partial(text)
}

/// What [`crate::retry::retry_after`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// Wait this long.
    Wait(Duration),
    /// Too long: do not retry.
    TooLong,
}

/// [`crate::retry::retry_after`].
pub fn retry_after(headers: &[(String, String)], now: SystemTime) -> Option<RetryAfter> {
    crate::retry::retry_after(headers, now).map(|r| match r {
        crate::retry::RetryAfter::Wait(d) => RetryAfter::Wait(d),
        crate::retry::RetryAfter::TooLong => RetryAfter::TooLong,
    })
}

/// [`crate::retry::decide_status`] with fresh delays: `Some(delay)` to retry.
pub fn decide_status(
    status: u16,
    headers: &[(String, String)],
    now: SystemTime,
) -> Option<Duration> {
    match crate::retry::decide_status(status, headers, &mut crate::retry::Delays::new(), now) {
        crate::retry::Decision::Retry(d) => Some(d),
        crate::retry::Decision::Stop => None,
    }
}

/// [`crate::retry::parse_http_date`].
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    crate::retry::parse_http_date(s)
}

/// [`ApiError::from_body`].
pub fn api_error(status: Option<u16>, body: &[u8], secret: Option<&str>) -> ApiError {
    ApiError::from_body(status, body, None, secret)
}
