//! A custom chat client: the model calls it instead of HTTP (CAMEL's `client` argument).
//!
//! Reinforcement-learning frameworks (AReaL, rLLM, …) wrap generation so they can record
//! token ids and log-probabilities for training, and hand the agent an OpenAI-compatible
//! client object instead of a URL. Implement [`ChatClient`] on such a wrapper and pass it to
//! [`OpenAICompatibleModelBuilder::client`](crate::OpenAICompatibleModelBuilder::client): the
//! model still resolves tools, merges the config and pre/post-processes messages, then hands
//! the final request body to your client. Timeouts, retries and headers do not apply (as in
//! CAMEL): the client owns its transport.

use serde_json::Value;

use crate::stream::ChatCompletionStream;
use crate::types::ChatCompletion;

/// Something that answers chat-completions requests without this crate's HTTP stack.
///
/// `request` is the exact JSON body the model would have sent (`model`, `messages`, the
/// config's parameters, tools, `stream`). Errors are reported to the caller as
/// [`Error::Client`](crate::Error::Client).
///
/// In the async build the methods are `async` (the trait is an `async_trait`; annotate your
/// impl with `#[openai_compatible::async_trait]`).
///
/// ```
/// # #[cfg(not(feature = "async"))] {
/// use openai_compatible::{ChatClient, ChatCompletion, ChatMessage, Choice, OpenAICompatibleModel};
///
/// /// Answers every request with a canned reply and counts the calls.
/// struct Canned(std::sync::atomic::AtomicUsize);
///
/// impl ChatClient for Canned {
///     fn create(&self, request: &serde_json::Value) -> anyhow::Result<ChatCompletion> {
///         self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///         Ok(serde_json::from_value(serde_json::json!({
///             "model": request["model"],
///             "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]
///         }))?)
///     }
/// }
///
/// let model = OpenAICompatibleModel::builder("policy-under-training")
///     .client(Canned(Default::default()))
///     .build()?;
/// let answer = model.complete(&[ChatMessage::user("hello")])?;
/// assert_eq!(answer.content(), Some("hi"));
/// # }
/// # Ok::<(), openai_compatible::Error>(())
/// ```
#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
pub trait ChatClient: Send + Sync {
    /// Answers a non-streamed request.
    async fn create(&self, request: &Value) -> anyhow::Result<ChatCompletion>;

    /// Answers a streamed request. Build the result with
    /// [`ChatCompletionStream::from_chunks`]. The default refuses: not every client streams.
    async fn create_stream(&self, request: &Value) -> anyhow::Result<ChatCompletionStream> {
        let _ = request;
        Err(anyhow::anyhow!(
            "this chat client does not support streaming"
        ))
    }
}
