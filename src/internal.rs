//! The crate's internals, for its own benches (`benches/`) and fuzz targets (`fuzz/`).
//!
//! Those are separate crates, so they see only `pub` items; this module re-exports the real
//! ones from their private modules. Nothing here is a copy: the fuzzers break, and the
//! benches time, the very code the client runs. The few functions below only chain real
//! calls where the benches or fuzzers need a combination no single item gives.
//!
//! Compiled only with the hidden `_internal` feature and hidden from the docs: it is not part
//! of the API, follows no semver, and may change or vanish in any release.

use crate::error::ApiError;

pub use crate::chunks::sse::{SseDecoder, SseEvent};
pub use crate::chunks::state::StreamState;
pub use crate::request::{prepare, Prepared};
pub use crate::retry::{parse_http_date, retry_after, Decision, RetryAfter};
pub use crate::structured::partial_json::parse_partial;

/// [`ApiError::from_body`], which stays crate-private: `ApiError` is public, so a `pub`
/// method would become API.
pub fn api_error_from_body(
    status: Option<u16>,
    body: &[u8],
    request_id: Option<String>,
    secret: Option<&str>,
) -> ApiError {
    ApiError::from_body(status, body, request_id, secret)
}

/// The retry decision for a response status on a request's first failure (fresh
/// exponential delays, so the fallback delay is the first one).
pub fn decide_status(
    status: u16,
    headers: &[(String, String)],
    now: std::time::SystemTime,
) -> Decision {
    crate::retry::decide_status(status, headers, &mut crate::retry::Delays::new(), now)
}

/// Runs a whole SSE body through the stream pipeline (SSE decoder, event checks, chunk
/// parsing) fed in `read`-byte pieces, as a streamed response does, and returns the number
/// of chunks. The first error (or an incomplete stream) is returned as it would be yielded.
pub fn stream_chunks(body: &[u8], read: usize) -> crate::Result<usize> {
    let mut state = StreamState::new(None, u64::MAX);
    let mut chunks = 0;
    for piece in body.chunks(read.max(1)) {
        state.feed(piece);
        while let Some(item) = state.next_item() {
            std::hint::black_box(item?);
            chunks += 1;
        }
    }
    state.end();
    while let Some(item) = state.next_item() {
        std::hint::black_box(item?);
        chunks += 1;
    }
    Ok(chunks)
}

/// Only the SSE decoder: the number of events in `body`, fed in `read`-byte pieces.
pub fn sse_events(body: &[u8], read: usize) -> usize {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    let mut count = 0;
    for piece in body.chunks(read.max(1)) {
        decoder.feed(piece, &mut events);
        count += events.len();
        events.clear();
    }
    decoder.finish(&mut events);
    count + events.len()
}
