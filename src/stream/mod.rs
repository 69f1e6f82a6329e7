//! Streamed answers: [`ChatCompletionStream`] over a transport body, one file per mode
//! (`blocking.rs`: `Iterator`, `nonblocking.rs`: `futures::Stream`) exporting the same names.
//! The decoding itself is pure and lives in `crate::chunks`.
//!
//! The stream reads the response body lazily, in constant memory: a small read buffer and
//! the events of the current read. Dropping it closes the connection. In the blocking build
//! it is an `Iterator`, in the async build a `futures::Stream`; both yield
//! `Result<ChatCompletionChunk>` and end after `data: [DONE]`, after an error, or when the
//! body ends.

use crate::chunks::{ChunkAccumulator, StreamState};
use crate::error::Result;
use crate::reasoning::ReasoningMemory;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::types::{ChatCompletion, ChatCompletionChunk, MetaSlot, ResponseMeta};

#[cfg(not(feature = "async"))]
mod blocking;
#[cfg(not(feature = "async"))]
use blocking as mode;
#[cfg(feature = "async")]
mod nonblocking;
#[cfg(feature = "async")]
use nonblocking as mode;

/// A streamed completion: an `Iterator` (blocking build) or a `futures::Stream` (async
/// build) of [`ChatCompletionChunk`]s.
///
/// Read it chunk by chunk to show text as it arrives, or call
/// [`accumulate`](Self::accumulate) for the final [`ChatCompletion`]. A server that goes
/// silent for longer than the model's timeout ends the stream with
/// [`Error::Timeout`](crate::Error::Timeout); a long but lively stream is never cut.
pub struct ChatCompletionStream {
    source: mode::Source,
    /// Set only when someone (the model I/O log) wants the outcome; `None` costs nothing.
    observer: Option<Box<Observer>>,
    /// The response head's metadata, for streams that came over HTTP.
    meta: Option<Arc<ResponseMeta>>,
    /// Where the model learns the server's name for reasoning, until it knows it.
    reasoning: Option<Arc<ReasoningMemory>>,
}

/// How an observed stream ended.
#[derive(Clone, Copy)]
pub(crate) enum StreamEnd<'a> {
    /// The body ended normally.
    Done,
    /// The stream yielded this error (and ended).
    Failed(&'a crate::Error),
    /// The caller dropped the stream before its end.
    Dropped,
}

/// What an observed stream delivered, reported once when it ends.
pub(crate) struct StreamOutcome<'a> {
    /// The chunks read, assembled.
    pub completion: &'a ChatCompletion,
    /// How it ended.
    pub end: StreamEnd<'a>,
    /// From the start of observation (the open stream) to the first chunk, if one came.
    pub first_chunk_after: Option<Duration>,
}

/// Called once with what arrived and how the stream ended.
pub(crate) type OnStreamEnd = Box<dyn FnOnce(&StreamOutcome<'_>) + Send>;

/// Accumulates the chunks the caller reads and reports once, at the end (or on drop), to
/// every observer (the model I/O log, the request span).
struct Observer {
    acc: ChunkAccumulator,
    on_end: Vec<OnStreamEnd>,
    started: Instant,
    first_chunk_after: Option<Duration>,
}

impl Observer {
    fn see(&mut self, item: Option<&Result<ChatCompletionChunk>>) {
        match item {
            Some(Ok(chunk)) => {
                if self.first_chunk_after.is_none() {
                    self.first_chunk_after = Some(self.started.elapsed());
                }
                self.acc.push(chunk)
            }
            Some(Err(e)) => self.end(StreamEnd::Failed(e)),
            None => self.end(StreamEnd::Done),
        }
    }

    fn end(&mut self, how: StreamEnd<'_>) {
        if self.on_end.is_empty() {
            return;
        }
        let completion = std::mem::take(&mut self.acc).finish();
        let outcome = StreamOutcome {
            completion: &completion,
            end: how,
            first_chunk_after: self.first_chunk_after,
        };
        for on_end in self.on_end.drain(..) {
            on_end(&outcome);
        }
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.end(StreamEnd::Dropped);
    }
}

impl std::fmt::Debug for ChatCompletionStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChatCompletionStream { .. }")
    }
}

impl ChatCompletionStream {
    /// A stream over an HTTP body, decoded by `state` (chat chunks or Responses events).
    pub(crate) fn from_http(body: crate::transport::StreamBody, state: StreamState) -> Self {
        ChatCompletionStream {
            source: mode::Source::http(body, state),
            observer: None,
            meta: None,
            reasoning: None,
        }
    }

    /// A stream over chunks you already have, for a custom
    /// [`ChatClient`](crate::ChatClient) or for tests.
    pub fn from_chunks<I>(chunks: I) -> ChatCompletionStream
    where
        I: IntoIterator<Item = Result<ChatCompletionChunk>>,
        I::IntoIter: Send + 'static,
    {
        ChatCompletionStream {
            source: mode::Source::chunks(chunks.into_iter()),
            observer: None,
            meta: None,
            reasoning: None,
        }
    }

    /// The status, headers, request id, rate limits and attempts of the response this stream
    /// reads, known as soon as its head arrived; `None` for a stream built from chunks.
    pub fn meta(&self) -> Option<&ResponseMeta> {
        self.meta.as_deref()
    }

    pub(crate) fn with_meta(mut self, meta: Arc<ResponseMeta>) -> Self {
        self.meta = Some(meta);
        self
    }

    /// Calls `on_end` once the stream ends, fails or is dropped, with the chunks read so
    /// far assembled into a completion.
    pub(crate) fn observe(mut self, on_end: OnStreamEnd) -> Self {
        let observer = self.observer.get_or_insert_with(|| {
            Box::new(Observer {
                acc: ChunkAccumulator::new(),
                on_end: Vec::new(),
                started: Instant::now(),
                first_chunk_after: None,
            })
        });
        observer.on_end.push(on_end);
        self
    }
}

impl ChatCompletionStream {
    /// A stream that replays a whole completion as chunks: one per choice, then one with
    /// the usage. Used when a server answers a stream request with plain JSON.
    pub fn from_completion(completion: ChatCompletion) -> ChatCompletionStream {
        let chunks: Vec<Result<ChatCompletionChunk>> = completion_to_chunks(completion)
            .into_iter()
            .map(Ok)
            .collect();
        ChatCompletionStream::from_chunks(chunks)
    }

    /// Reads the stream to its end and assembles the final completion. The first error
    /// ends it.
    #[cfg_attr(feature = "async", maybe_async::must_be_async)]
    #[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
    pub async fn accumulate(mut self) -> Result<ChatCompletion> {
        let mut acc = ChunkAccumulator::new();
        while let Some(chunk) = self.next_chunk().await {
            acc.push(&chunk?);
        }
        let mut completion = acc.finish();
        completion.meta = MetaSlot(self.meta.clone());
        Ok(completion)
    }

    pub(crate) fn learning_reasoning(mut self, memory: Arc<ReasoningMemory>) -> Self {
        self.reasoning = Some(memory);
        self
    }

    /// Hands the observer what the caller is about to receive.
    fn seen(&mut self, item: Option<&Result<ChatCompletionChunk>>) {
        if let (Some(memory), Some(Ok(chunk))) = (&self.reasoning, item) {
            for choice in &chunk.choices {
                memory.learn_from_delta(&choice.delta);
            }
        }
        if let Some(observer) = &mut self.observer {
            observer.see(item);
        }
    }
}

fn completion_to_chunks(c: ChatCompletion) -> Vec<ChatCompletionChunk> {
    use crate::types::{ChunkChoice, Content, Delta, FunctionCallDelta, ToolCallDelta};
    use serde::Deserialize;
    let chunk = |choices: Vec<ChunkChoice>, usage| ChatCompletionChunk {
        id: c.id.clone(),
        object: "chat.completion.chunk".to_owned(),
        created: c.created,
        model: c.model.clone(),
        choices,
        usage,
        system_fingerprint: c.system_fingerprint.clone(),
        service_tier: c.service_tier.clone(),
        obfuscation: None,
        extra: Default::default(),
    };
    let mut out: Vec<ChatCompletionChunk> = c
        .choices
        .iter()
        .map(|choice| {
            let m = &choice.message;
            let content = match &m.content {
                Some(Content::Text(t)) => Some(t.clone()),
                Some(Content::Parts(_)) => m.text().map(|t| t.into_owned()),
                None => None,
            };
            let tool_calls = m.tool_calls.as_ref().map(|calls| {
                calls
                    .iter()
                    .enumerate()
                    .map(|(i, call)| ToolCallDelta {
                        index: u32::try_from(i).ok(),
                        id: Some(call.id.clone()),
                        kind: Some(call.kind.clone()),
                        function: Some(FunctionCallDelta {
                            name: Some(call.function.name.clone()),
                            arguments: Some(call.function.arguments.clone()),
                        }),
                    })
                    .collect()
            });
            let delta = Delta {
                role: Some(m.role.clone()),
                content,
                reasoning_content: m.reasoning_content.clone(),
                reasoning: None,
                refusal: m.refusal.clone(),
                tool_calls,
                function_call: m
                    .extra
                    .get("function_call")
                    .and_then(|f| FunctionCallDelta::deserialize(f).ok()),
            };
            chunk(
                vec![ChunkChoice {
                    index: choice.index,
                    delta,
                    finish_reason: choice.finish_reason.clone(),
                    logprobs: choice.logprobs.clone(),
                }],
                None,
            )
        })
        .collect();
    if c.usage.is_some() {
        out.push(chunk(Vec::new(), c.usage.clone()));
    }
    out
}
