//! What differs between the blocking and async builds in tests: reading a stream (and a
//! structured stream manager), and waiting for a condition without blocking the runtime.

use std::time::{Duration, Instant};

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

/// The next event of a structured stream manager.
#[cfg(all(feature = "schema", not(feature = "async")))]
pub fn next_event<T: serde::de::DeserializeOwned + Send + 'static>(
    m: &mut openai_compatible::ChatCompletionStreamManager<T>,
) -> Option<Result<openai_compatible::StructuredEvent<T>>> {
    m.next()
}

/// The next event of a structured stream manager.
#[cfg(all(feature = "schema", feature = "async"))]
pub async fn next_event<T: serde::de::DeserializeOwned + Send + 'static>(
    m: &mut openai_compatible::ChatCompletionStreamManager<T>,
) -> Option<Result<openai_compatible::StructuredEvent<T>>> {
    futures_util::StreamExt::next(m).await
}

/// Every event until the manager ends (errors included).
#[cfg(feature = "schema")]
#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
pub async fn events<T: serde::de::DeserializeOwned + Send + 'static>(
    m: &mut openai_compatible::ChatCompletionStreamManager<T>,
) -> Vec<Result<openai_compatible::StructuredEvent<T>>> {
    let mut out = Vec::new();
    while let Some(e) = next_event(m).await {
        out.push(e);
    }
    out
}

/// Waits until `f` holds, for at most `limit`; true if it did. Async: sleeps on the runtime,
/// whose tasks must keep running (to close sockets, for one).
#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
pub async fn wait_until(limit: Duration, f: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        sleep(Duration::from_millis(5)).await;
    }
    f()
}

#[cfg(not(feature = "async"))]
fn sleep(d: Duration) {
    std::thread::sleep(d)
}

#[cfg(feature = "async")]
async fn sleep(d: Duration) {
    tokio::time::sleep(d).await
}
