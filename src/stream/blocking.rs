//! The blocking stream: an `Iterator` over a ureq body read in 16 KiB pieces.

use super::ChatCompletionStream;
use crate::chunks::StreamState;
use crate::error::Result;
use crate::transport::StreamBody;
use crate::types::ChatCompletionChunk;

const READ_BUFFER: usize = 16 * 1024;

/// Where chunks come from: an HTTP body, or chunks someone already has.
pub(super) enum Source {
    Http(Box<HttpSource>),
    Chunks(Box<dyn Iterator<Item = Result<ChatCompletionChunk>> + Send>),
}

pub(super) struct HttpSource {
    /// `None` once the server ended the stream and the body was let go of.
    body: Option<StreamBody>,
    state: StreamState,
    buf: Vec<u8>,
}

impl HttpSource {
    /// Once the server ended the stream, reads what is left of the body (a few bytes, within
    /// a few milliseconds: `StreamBody::finish`) so its connection goes back to the pool.
    /// A stream left mid-way keeps its body, and dropping it closes the connection.
    fn let_go(&mut self) {
        if self.state.server_done() {
            if let Some(body) = self.body.take() {
                body.finish();
            }
        }
    }
}

impl Drop for HttpSource {
    fn drop(&mut self) {
        self.let_go();
    }
}

impl Source {
    pub(super) fn http(body: StreamBody, state: StreamState) -> Source {
        Source::Http(Box::new(HttpSource {
            body: Some(body),
            state,
            buf: vec![0; READ_BUFFER],
        }))
    }

    pub(super) fn chunks<I>(chunks: I) -> Source
    where
        I: Iterator<Item = Result<ChatCompletionChunk>> + Send + 'static,
    {
        Source::Chunks(Box::new(chunks))
    }

    fn next(&mut self) -> Option<Result<ChatCompletionChunk>> {
        let h = match self {
            Source::Chunks(it) => return it.next(),
            Source::Http(h) => h,
        };
        loop {
            if let Some(item) = h.state.next_item() {
                return Some(item);
            }
            if h.state.is_finished() {
                h.let_go();
                return None;
            }
            match h.body.as_mut()?.read(&mut h.buf) {
                Ok(0) => h.state.end(),
                Ok(n) => h.state.feed(&h.buf[..n]),
                Err(e) => {
                    h.state.fail();
                    return Some(Err(e));
                }
            }
        }
    }
}

impl ChatCompletionStream {
    /// The next chunk, `None` at the end: `Iterator::next`, under the name both builds share.
    pub(crate) fn next_chunk(&mut self) -> Option<Result<ChatCompletionChunk>> {
        let item = self.source.next();
        self.seen(item.as_ref());
        item
    }
}

#[cfg_attr(docsrs, doc(cfg(not(feature = "async"))))]
impl Iterator for ChatCompletionStream {
    type Item = Result<ChatCompletionChunk>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk()
    }
}
