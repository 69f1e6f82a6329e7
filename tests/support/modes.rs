//! What differs between the blocking and async builds in tests: reading a stream.

use openai_compatible::{ChatCompletionChunk, ChatCompletionStream, Result};

/// The next item of a stream.
#[cfg(not(feature = "async"))]
pub fn next(s: &mut ChatCompletionStream) -> Option<Result<ChatCompletionChunk>> {
    s.next()
}

/// The next item of a stream.
#[cfg(feature = "async")]
pub async fn next(s: &mut ChatCompletionStream) -> Option<Result<ChatCompletionChunk>> {
    futures_util::StreamExt::next(s).await
}

/// Every item of a stream, errors included, until it ends.
#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
pub async fn collect(mut s: ChatCompletionStream) -> Vec<Result<ChatCompletionChunk>> {
    let mut out = Vec::new();
    while let Some(item) = next(&mut s).await {
        out.push(item);
    }
    out
}
