//! The async stream: a `futures::Stream` over a reqwest body.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::{Stream, StreamExt};

use super::ChatCompletionStream;
use crate::chunks::StreamState;
use crate::error::Result;
use crate::transport::StreamBody;
use crate::types::ChatCompletionChunk;

/// Where chunks come from: an HTTP body, or chunks someone already has.
pub(super) struct Source(Pin<Box<dyn Stream<Item = Result<ChatCompletionChunk>> + Send>>);

impl Source {
    pub(super) fn http(body: StreamBody, state: StreamState) -> Source {
        // `fuse`: polled again after its end, the stream keeps answering `None` (as the
        // blocking iterator does) instead of panicking.
        Source(Box::pin(
            futures_util::stream::unfold((body, state), |(mut body, mut state)| async move {
                loop {
                    if let Some(item) = state.next_item() {
                        return Some((item, (body, state)));
                    }
                    if state.is_finished() {
                        // The server ended the stream: read what is left of the body (a few
                        // bytes, a few milliseconds on the runtime's timer) so the
                        // connection goes back to the pool. Dropped before this, the body
                        // is drained by hyper without waiting, or its connection closed.
                        if state.server_done() {
                            body.finish().await;
                        }
                        return None;
                    }
                    match body.next().await {
                        Ok(Some(bytes)) => state.feed(&bytes),
                        Ok(None) => state.end(),
                        Err(e) => {
                            state.fail();
                            return Some((Err(e), (body, state)));
                        }
                    }
                }
            })
            .fuse(),
        ))
    }

    pub(super) fn chunks<I>(chunks: I) -> Source
    where
        I: Iterator<Item = Result<ChatCompletionChunk>> + Send + 'static,
    {
        Source(Box::pin(futures_util::stream::iter(chunks)))
    }
}

impl ChatCompletionStream {
    /// The next chunk, `None` at the end: `StreamExt::next`, under the name both builds
    /// share.
    pub(crate) async fn next_chunk(&mut self) -> Option<Result<ChatCompletionChunk>> {
        self.next().await
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
impl Stream for ChatCompletionStream {
    type Item = Result<ChatCompletionChunk>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let poll = self.source.0.as_mut().poll_next(cx);
        if let Poll::Ready(item) = &poll {
            self.seen(item.as_ref());
        }
        poll
    }
}
