//! Crate-private pieces exposed to the criterion benches in `benches/`: the stream pipeline
//! and body assembly without any I/O, so their cost can be measured on its own.
//!
//! Hidden and unstable: not part of the API, it may change in any release.

use serde_json::{Map, Value};

use crate::chunks::StreamState;
use crate::types::{ChatMessage, Tool};

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
    let mut decoder = crate::chunks::sse::SseDecoder::new();
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

/// The request body `run` would send for these messages, config and tools.
pub fn request_body(
    model: &str,
    messages: &[ChatMessage],
    config: &Map<String, Value>,
    tools: Option<&[Tool]>,
) -> crate::Result<Vec<u8>> {
    crate::request::prepare(model, messages, config, tools, None).map(|p| p.body)
}
