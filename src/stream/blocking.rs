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
    body: StreamBody,
    state: StreamState,
    buf: Vec<u8>,
}

impl Source {
    pub(super) fn http(body: StreamBody, secret: Option<String>, max_event: u64) -> Source {
        Source::Http(Box::new(HttpSource {
            body,
            state: StreamState::new(secret, max_event),
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
                return None;
            }
            match h.body.read(&mut h.buf) {
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
