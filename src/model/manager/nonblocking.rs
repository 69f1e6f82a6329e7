//! The async manager: a `futures::Stream` of structured events.
//!
//! While an event is pending, the reading state lives in a boxed `Send` future; when the
//! event is ready the state comes back, so the manager needs no lock and no self-reference.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::de::DeserializeOwned;

use super::{ChatCompletionStreamManager, Inner};
use crate::error::Result;
use crate::structured::StructuredEvent;

/// A read in progress: it hands the state back with the event.
type PendingEvent<T> =
    Pin<Box<dyn Future<Output = (Box<Inner<T>>, Option<Result<StructuredEvent<T>>>)> + Send>>;

/// The read the `Stream` started and has not finished, if any.
pub(super) type Pending<T> = Option<PendingEvent<T>>;

impl<T: DeserializeOwned + Send + 'static> ChatCompletionStreamManager<T> {
    /// Waits for an event the `Stream` started to read and puts the state back; an error
    /// in that event is returned (it was never handed out).
    pub(super) async fn settle(&mut self) -> Result<()> {
        if let Some(pending) = self.pending.take() {
            let (inner, item) = pending.await;
            self.inner = Some(inner);
            if let Some(Err(e)) = item {
                return Err(e);
            }
        }
        Ok(())
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
impl<T: DeserializeOwned + Send + 'static> futures_util::Stream for ChatCompletionStreamManager<T> {
    type Item = Result<StructuredEvent<T>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let mut pending = match this.pending.take() {
            Some(p) => p,
            None => {
                let Some(mut inner) = this.inner.take() else {
                    return Poll::Ready(None);
                };
                Box::pin(async move {
                    let item = inner.next_event().await;
                    (inner, item)
                })
            }
        };
        match pending.as_mut().poll(cx) {
            Poll::Pending => {
                this.pending = Some(pending);
                Poll::Pending
            }
            Poll::Ready((inner, item)) => {
                this.inner = Some(inner);
                Poll::Ready(item)
            }
        }
    }
}
