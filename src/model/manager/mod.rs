//! [`ChatCompletionStreamManager`]: a lazy structured stream.
//!
//! The reading loop (`Inner::next_event`) is written once as maybe-async code here; only the
//! trait that hands events out differs, one file per mode exporting the same names:
//! `blocking.rs` (`Iterator`) and `nonblocking.rs` (`futures::Stream`, which keeps the state
//! in a box it moves into a `Send` future while an event is pending, so the manager needs no
//! lock and no self-reference).

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::OpenAICompatibleModel;
use crate::error::{Error, Result};
use crate::request::Prepared;
use crate::stream::ChatCompletionStream;
use crate::structured::{
    earns_fallback, EventState, ParsePath, ParsedChatCompletion, StructuredEvent,
};
use crate::types::{MetaSlot, ResponseMeta};

#[cfg(not(feature = "async"))]
mod blocking;
#[cfg(not(feature = "async"))]
use blocking as mode;
#[cfg(feature = "async")]
mod nonblocking;
#[cfg(feature = "async")]
use nonblocking as mode;

/// A streamed structured answer: [`StructuredEvent`]s, then the parsed completion.
///
/// Returned by [`stream_parse`](crate::OpenAICompatibleModel::stream_parse),
/// [`stream_parse_with`](crate::OpenAICompatibleModel::stream_parse_with), and by
/// [`run`](crate::OpenAICompatibleModel::run) as [`ModelResponse::StructuredStream`]
/// (with `T = serde_json::Value`) when the config streams and a schema format is given.
///
/// It is lazy: no request is sent until the first event is read (or
/// [`final_completion`](Self::final_completion) is called). It is an `Iterator` (blocking
/// build) or a `futures::Stream` (async build) of `Result<StructuredEvent<T>>`; after an
/// error it ends. The finish reasons `length` and `content_filter` end it with
/// [`Error::Length`] / [`Error::ContentFilter`], and an answer that does not parse into `T`
/// with [`Error::Decode`]. A server that refuses the schema (which it does before any chunk)
/// gets the same json_object request as [`parse_with`](crate::OpenAICompatibleModel::parse_with)
/// falls back on, and the final completion's path says so.
///
/// [`ModelResponse::StructuredStream`]: crate::ModelResponse::StructuredStream
#[must_use = "a structured stream sends nothing until it is read"]
pub struct ChatCompletionStreamManager<T = Value> {
    /// The reading state; `None` while the async build's pending read holds it.
    inner: Option<Box<Inner<T>>>,
    /// What the mode needs between two reads (a pending read in the async build).
    pending: mode::Pending<T>,
}

struct Inner<T> {
    phase: Phase,
    events: EventState<T>,
    /// What ended the stream early, for a `final_completion` called after the error was
    /// handed out.
    failure: Option<String>,
    /// The response head's metadata, once the request was answered.
    meta: Option<Arc<ResponseMeta>>,
}

/// What the first read sends, and the json_object fallback to send instead if the server
/// rejects the schema (a rejection comes before any chunk, so nothing is lost).
struct Request {
    model: OpenAICompatibleModel,
    prepared: Prepared,
    fallback: Option<Prepared>,
}

enum Phase {
    /// Not sent yet.
    Idle(Box<Request>),
    Open(ChatCompletionStream),
    Ended,
}

impl<T> fmt::Debug for ChatCompletionStreamManager<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.inner.as_deref().map(|i| &i.phase) {
            Some(Phase::Idle(_)) => "not started",
            Some(Phase::Open(_)) => "streaming",
            Some(Phase::Ended) => "ended",
            None => "reading",
        };
        f.debug_struct("ChatCompletionStreamManager")
            .field("state", &state)
            .finish()
    }
}

impl<T: DeserializeOwned> ChatCompletionStreamManager<T> {
    pub(crate) fn new(
        model: OpenAICompatibleModel,
        prepared: Prepared,
        fallback: Option<Prepared>,
        path: ParsePath,
    ) -> Self {
        let events = EventState::new(path, model.secret().map(str::to_owned));
        ChatCompletionStreamManager {
            inner: Some(Box::new(Inner {
                phase: Phase::Idle(Box::new(Request {
                    model,
                    prepared,
                    fallback,
                })),
                events,
                failure: None,
                meta: None,
            })),
            pending: Default::default(),
        }
    }

    /// The metadata of the response being read (status, request id, rate limits,
    /// attempts), once the first read has sent the request and its head arrived.
    pub fn meta(&self) -> Option<&ResponseMeta> {
        self.inner.as_deref()?.meta.as_deref()
    }

    /// Whether the request has been sent (the first read sends it).
    pub fn is_started(&self) -> bool {
        !matches!(
            self.inner.as_deref().map(|i| &i.phase),
            Some(Phase::Idle(_))
        )
    }
}

#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
impl<T: DeserializeOwned + Send + 'static> ChatCompletionStreamManager<T> {
    /// Reads the rest of the stream (sending the request if nothing was read yet) and
    /// returns the completion assembled from all chunks, parsed into `T`.
    ///
    /// Fails with the stream's first error, or with [`Error::IncompleteStream`] when an
    /// error was already handed out by the iterator/stream.
    pub async fn final_completion(mut self) -> Result<ParsedChatCompletion<T>> {
        self.settle().await?;
        let Some(mut inner) = self.inner.take() else {
            return Err(Error::IncompleteStream("the stream state was lost".into()));
        };
        while let Some(item) = inner.next_event().await {
            item?;
        }
        if let Some(why) = &inner.failure {
            return Err(Error::IncompleteStream(format!(
                "the stream ended with an error: {why}"
            )));
        }
        let mut parsed = inner.events.final_completion()?;
        parsed.meta = MetaSlot(inner.meta.clone());
        Ok(parsed)
    }
}

#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
impl<T: DeserializeOwned + Send + 'static> Inner<T> {
    /// The next event: sends the request on the first call, then reads chunks until an
    /// event is ready. `None` once the stream is over.
    async fn next_event(&mut self) -> Option<Result<StructuredEvent<T>>> {
        loop {
            if let Some(item) = self.events.pop() {
                if let Err(e) = &item {
                    self.end_with(e);
                }
                return Some(item);
            }
            match &mut self.phase {
                Phase::Ended => return None,
                Phase::Idle(request) => {
                    let mut opened = request.model.open_stream(&request.prepared).await;
                    if let Err(e) = &opened {
                        if let (true, Some(fallback)) = (earns_fallback(e), &request.fallback) {
                            tracing::debug!(error = %e, "schema refused; streaming with json_object");
                            self.events.set_path(ParsePath::JsonObjectFallback);
                            opened = request.model.open_stream(fallback).await;
                        }
                    }
                    match opened {
                        Ok(stream) => {
                            self.meta = stream.meta().cloned().map(Arc::new);
                            self.phase = Phase::Open(stream);
                        }
                        Err(e) => {
                            self.end_with(&e);
                            return Some(Err(e));
                        }
                    }
                }
                Phase::Open(stream) => match stream.next_chunk().await {
                    Some(Ok(chunk)) => self.events.push(chunk),
                    Some(Err(e)) => {
                        self.end_with(&e);
                        return Some(Err(e));
                    }
                    None => {
                        self.events.end();
                        self.phase = Phase::Ended;
                    }
                },
            }
        }
    }
}

impl<T> Inner<T> {
    /// Stops reading (dropping the stream closes the connection) after an error.
    fn end_with(&mut self, error: &Error) {
        self.phase = Phase::Ended;
        self.failure = Some(error.to_string());
    }
}
