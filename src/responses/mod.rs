//! Responses mode (docs/RESPONSES.md): the pure translation between the chat-completions
//! forms the crate works in and the Responses API on the wire. Layer 1, beside `request`,
//! `decode` and `chunks`, which it mirrors:
//!
//! * `request.rs` — the prepared chat body → the Responses body (§2);
//! * `answer.rs` — a Responses answer → a [`ChatCompletion`](crate::ChatCompletion) (§4);
//! * `events.rs` — stream events → chunks, fed by the chat stream's SSE decoder (§5);
//! * `session.rs` — chaining state per session, and the refusal test (§3).
//!
//! The model (`model/responses.rs`) chooses when these run; transports, retries, errors,
//! logs and tracing are the chat mode's.

pub(crate) mod answer;
pub(crate) mod events;
pub(crate) mod request;
pub(crate) mod session;
