//! From response bytes to chunks to a completion — the pure half of streaming (no I/O,
//! shared by both builds):
//!
//! * `sse.rs` — the incremental SSE decoder: bytes in, events out;
//! * `state.rs` — events in, [`ChatCompletionChunk`](crate::ChatCompletionChunk)s or typed
//!   errors out (`[DONE]`, in-stream errors, event size limits, incomplete streams);
//! * `accumulator.rs` — [`ChunkAccumulator`]: chunks in, the final completion out. It is the
//!   only place that interprets deltas (every provider's tool-call quirk lives there), and it
//!   reports each change so structured events can be derived from it.
//!
//! `crate::stream` wraps these around a transport body; `crate::structured` builds its
//! events on the accumulator.

mod accumulator;
pub(crate) mod sse;
pub(crate) mod state;

pub use accumulator::ChunkAccumulator;
pub(crate) use accumulator::{Change, ChoiceState};
pub(crate) use state::StreamState;
