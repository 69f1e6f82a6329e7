//! The blocking manager: an `Iterator` of structured events.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use super::ChatCompletionStreamManager;
use crate::error::Result;
use crate::structured::StructuredEvent;

/// Nothing is ever pending between two reads of a blocking iterator.
pub(super) type Pending<T> = PhantomData<fn() -> T>;

impl<T: DeserializeOwned + Send + 'static> ChatCompletionStreamManager<T> {
    /// Every read finished before it returned: there is nothing to wait for.
    pub(super) fn settle(&mut self) -> Result<()> {
        Ok(())
    }
}

#[cfg_attr(docsrs, doc(cfg(not(feature = "async"))))]
impl<T: DeserializeOwned + Send + 'static> Iterator for ChatCompletionStreamManager<T> {
    type Item = Result<StructuredEvent<T>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.as_mut()?.next_event()
    }
}
