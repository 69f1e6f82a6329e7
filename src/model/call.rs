//! [`ModelCall`]: a model with per-call options, and the implementation of `run`,
//! `complete` and `stream` (the model's own methods are calls with no options).

use super::{ModelResponse, OpenAICompatibleModel};
use crate::error::Result;
use crate::stream::ChatCompletionStream;
use crate::types::{ChatCompletion, ChatMessage, RequestOptions, ResponseFormat, Tool};

/// A model with [`RequestOptions`] for one call, from
/// [`OpenAICompatibleModel::with_options`]. Its methods behave as the model's, with the
/// options laid over the model's configuration.
#[derive(Debug)]
#[must_use = "a call sends nothing until one of its methods runs"]
pub struct ModelCall<'a> {
    pub(super) model: &'a OpenAICompatibleModel,
    pub(super) options: RequestOptions,
}

impl ModelCall<'_> {
    /// The options of this call.
    pub fn options(&self) -> &RequestOptions {
        &self.options
    }
}

#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
impl ModelCall<'_> {
    /// [`OpenAICompatibleModel::run`] with this call's options. `response_format` and
    /// `tools`, when given, win over the options'.
    pub async fn run(
        &self,
        messages: &[ChatMessage],
        response_format: Option<&ResponseFormat>,
        tools: Option<&[Tool]>,
    ) -> Result<ModelResponse> {
        let format = response_format.or(self.options.response_format.as_ref());
        if let Some(format @ ResponseFormat::JsonSchema { .. }) = format {
            return self.run_structured(messages, format, tools).await;
        }
        let model = self.model;
        let prepared = model.prepare(messages, response_format, tools, None, &self.options)?;
        if prepared.stream {
            Ok(ModelResponse::Stream(model.open_stream(&prepared).await?))
        } else {
            Ok(ModelResponse::Completion(model.execute(&prepared).await?))
        }
    }

    /// [`OpenAICompatibleModel::complete`] with this call's options.
    pub async fn complete(&self, messages: &[ChatMessage]) -> Result<ChatCompletion> {
        let model = self.model;
        let prepared = model.prepare(messages, None, None, Some(false), &self.options)?;
        model.execute(&prepared).await
    }

    /// [`OpenAICompatibleModel::stream`] with this call's options.
    pub async fn stream(&self, messages: &[ChatMessage]) -> Result<ChatCompletionStream> {
        let model = self.model;
        let prepared = model.prepare(messages, None, None, Some(true), &self.options)?;
        model.open_stream(&prepared).await
    }
}
