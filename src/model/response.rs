//! What `run` returns: one variant per mode of docs/SPEC.md §2.

use super::ChatCompletionStreamManager;
use crate::error::Result;
use crate::stream::ChatCompletionStream;
use crate::types::ChatCompletion;

/// The result of [`OpenAICompatibleModel::run`](crate::OpenAICompatibleModel::run).
///
/// Which variant comes back follows from the request: a truthy `stream` in the model config
/// gives a stream, otherwise a completion.
// Returned once per request and matched right away: boxing would only cost the caller.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
#[non_exhaustive]
pub enum ModelResponse {
    /// A complete answer.
    Completion(ChatCompletion),
    /// A stream of chunks: an `Iterator` (blocking) or `futures::Stream` (async).
    Stream(ChatCompletionStream),
    /// A structured stream (a streaming config and a [`ResponseFormat::JsonSchema`]):
    /// events with the JSON parsed so far, then the parsed completion. Lazy: nothing is
    /// sent until it is first read.
    ///
    /// [`ResponseFormat::JsonSchema`]: crate::ResponseFormat::JsonSchema
    StructuredStream(ChatCompletionStreamManager),
}

impl ModelResponse {
    /// The completion, reading a stream to its end and assembling it if need be.
    #[cfg_attr(feature = "async", maybe_async::must_be_async)]
    #[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
    pub async fn into_completion(self) -> Result<ChatCompletion> {
        match self {
            ModelResponse::Completion(c) => Ok(c),
            ModelResponse::Stream(s) => s.accumulate().await,
            ModelResponse::StructuredStream(s) => {
                s.final_completion().await.map(|p| p.into_completion())
            }
        }
    }

    /// The completion, if this is one.
    pub fn completion(&self) -> Option<&ChatCompletion> {
        match self {
            ModelResponse::Completion(c) => Some(c),
            _ => None,
        }
    }

    /// The stream, if this is one.
    pub fn into_stream(self) -> Option<ChatCompletionStream> {
        match self {
            ModelResponse::Stream(s) => Some(s),
            _ => None,
        }
    }
}
