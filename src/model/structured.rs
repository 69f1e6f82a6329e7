//! The model's structured-output methods: `parse`, `parse_with`, `stream_parse`,
//! `stream_parse_with`, and the structured branch of `run`.
//!
//! The pure parts (the strict transform, parsing a completion, the fallback's instruction,
//! structured events) live in `crate::structured`; this file only orchestrates requests.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{ChatCompletionStreamManager, ModelCall, ModelResponse, OpenAICompatibleModel};
use crate::error::{Error, Result};
use crate::structured::{
    check_tools, earns_fallback, parse_completion, with_format_instruction, Failure, ParsePath,
    ParsedChatCompletion,
};
use crate::types::{ChatMessage, RequestOptions, ResponseFormat, Tool};

#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
impl OpenAICompatibleModel {
    /// Asks for an answer of type `T` and parses it: openai-python's
    /// `beta.chat.completions.parse` with a Rust type as the response format.
    ///
    /// The request carries `T`'s strict JSON schema ([`ResponseFormat::for_type`]) and is
    /// never streamed, whatever the config says. `tools`: `Some(non-empty)` offers these,
    /// `Some(&[])` none, `None` the config's; every tool must be a strict function tool
    /// ([`Tool::strict`]), checked before anything is sent.
    ///
    /// If the server refuses the schema (HTTP 400, or an error naming the response format)
    /// or answers something that is not JSON of type `T`, the request is sent once more
    /// with `{"type":"json_object"}` and the schema appended to the last non-assistant text
    /// message (of a copy: `messages` is not changed); [`ParsedChatCompletion::path`] then
    /// says [`ParsePath::JsonObjectFallback`]. So any OpenAI-compatible server works,
    /// including those that only know json_object.
    ///
    /// Errors: [`Error::Length`] / [`Error::ContentFilter`] for those finish reasons (no
    /// fallback: asking again would not help), [`Error::InvalidInput`] for a non-strict tool,
    /// [`Error::Decode`] when the fallback's answer does not parse either, and the usual
    /// request errors. A refusal is not an error here: `parsed` is `None` and `refusal`
    /// holds the text (or use [`ParsedChatCompletion::into_parsed`]).
    ///
    /// ```no_run
    /// # #[cfg(not(feature = "async"))] {
    /// use openai_compatible::{ChatMessage, OpenAICompatibleModel};
    ///
    /// #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
    /// struct Weather {
    ///     city: String,
    ///     temperature_c: f64,
    /// }
    ///
    /// # let model = OpenAICompatibleModel::builder("m").api_key("k").build()?;
    /// let messages = [ChatMessage::user("Invent today's weather in Paris.")];
    /// let weather: Weather = model.parse(&messages, None)?.into_parsed()?;
    /// println!("{weather:?}");
    /// # }
    /// # Ok::<(), openai_compatible::Error>(())
    /// ```
    #[cfg(feature = "schema")]
    #[cfg_attr(docsrs, doc(cfg(feature = "schema")))]
    pub async fn parse<T>(
        &self,
        messages: &[ChatMessage],
        tools: Option<&[Tool]>,
    ) -> Result<ParsedChatCompletion<T>>
    where
        T: schemars::JsonSchema + DeserializeOwned,
    {
        self.parse_with(messages, &ResponseFormat::for_type::<T>(), tools)
            .await
    }

    /// [`parse`](Self::parse) with a response format of your choosing, parsed into any
    /// deserializable `T` (`serde_json::Value` for "whatever JSON the schema describes").
    ///
    /// * [`ResponseFormat::JsonSchema`] (e.g. [`ResponseFormat::json_schema`] for a schema
    ///   read from a file): as `parse`, json_object fallback included.
    /// * [`ResponseFormat::JsonObject`]: the answer is parsed, with no fallback (there is
    ///   no schema to ask for); the path is [`ParsePath::JsonObject`].
    /// * [`ResponseFormat::Text`]: [`Error::InvalidInput`], there is nothing to parse.
    ///
    /// ```no_run
    /// # #[cfg(not(feature = "async"))] {
    /// use openai_compatible::{ChatMessage, OpenAICompatibleModel, ResponseFormat};
    ///
    /// # let model = OpenAICompatibleModel::builder("m").api_key("k").build()?;
    /// let schema = serde_json::json!({
    ///     "type": "object",
    ///     "properties": {"answer": {"type": "integer"}},
    ///     "required": ["answer"],
    ///     "additionalProperties": false
    /// });
    /// let format = ResponseFormat::json_schema("answer", schema);
    /// let messages = [ChatMessage::user("What is 6 × 7?")];
    /// let value: serde_json::Value = model.parse_with(&messages, &format, None)?.into_parsed()?;
    /// println!("{value}");
    /// # }
    /// # Ok::<(), openai_compatible::Error>(())
    /// ```
    pub async fn parse_with<T: DeserializeOwned>(
        &self,
        messages: &[ChatMessage],
        format: &ResponseFormat,
        tools: Option<&[Tool]>,
    ) -> Result<ParsedChatCompletion<T>> {
        self.with_options(RequestOptions::new())
            .parse_with(messages, format, tools)
            .await
    }
}

#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
impl ModelCall<'_> {
    /// [`OpenAICompatibleModel::parse`] with this call's options.
    #[cfg(feature = "schema")]
    #[cfg_attr(docsrs, doc(cfg(feature = "schema")))]
    pub async fn parse<T>(
        &self,
        messages: &[ChatMessage],
        tools: Option<&[Tool]>,
    ) -> Result<ParsedChatCompletion<T>>
    where
        T: schemars::JsonSchema + DeserializeOwned,
    {
        self.parse_with(messages, &ResponseFormat::for_type::<T>(), tools)
            .await
    }

    /// [`OpenAICompatibleModel::parse_with`] with this call's options (`format` wins over
    /// the options' response format).
    pub async fn parse_with<T: DeserializeOwned>(
        &self,
        messages: &[ChatMessage],
        format: &ResponseFormat,
        tools: Option<&[Tool]>,
    ) -> Result<ParsedChatCompletion<T>> {
        let (model, options) = (self.model, &self.options);
        let (schema, path) = parse_mode(format)?;
        check_tools(
            tools.or(options.tools.as_deref()),
            model.model_config().get("tools"),
        )?;
        let mut prepared = model.prepare(messages, Some(format), tools, Some(false), options)?;
        // With a schema, a rejection of the format goes straight to the fallback: retrying
        // the same schema cannot help.
        prepared.format_fallback = schema.is_some();
        let first_error = match model.execute(&prepared).await {
            Ok(completion) => match parse_completion::<T>(completion, path, model.secret()) {
                Ok(parsed) => return Ok(parsed),
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Unparsable(e)) => e,
            },
            Err(e) if earns_fallback(&e) => e,
            Err(e) => return Err(e),
        };
        let Some(schema) = schema else {
            return Err(first_error);
        };
        // docs/SPEC.md §2.5: once, on a copy of the messages.
        let messages = with_format_instruction(messages, schema);
        let fallback = ResponseFormat::JsonObject;
        let prepared = model.prepare(&messages, Some(&fallback), tools, Some(false), options)?;
        let completion = model.execute(&prepared).await?;
        parse_completion(completion, ParsePath::JsonObjectFallback, model.secret())
            .map_err(Failure::into_error)
    }

    /// `run` with a [`ResponseFormat::JsonSchema`]: a parsed completion (messages carry
    /// `parsed` as JSON), or a structured stream when the config streams.
    pub(super) async fn run_structured(
        &self,
        messages: &[ChatMessage],
        format: &ResponseFormat,
        tools: Option<&[Tool]>,
    ) -> Result<ModelResponse> {
        // `prepare` says whether this request streams (config or extra_body).
        let model = self.model;
        if model
            .prepare(messages, Some(format), tools, None, &self.options)?
            .stream
        {
            let manager = self.stream_parse_with(messages, format, tools)?;
            return Ok(ModelResponse::StructuredStream(manager));
        }
        let parsed = self.parse_with::<Value>(messages, format, tools).await?;
        Ok(ModelResponse::Completion(parsed.into_completion()))
    }
}

impl ModelCall<'_> {
    /// [`OpenAICompatibleModel::stream_parse`] with this call's options.
    #[cfg(feature = "schema")]
    #[cfg_attr(docsrs, doc(cfg(feature = "schema")))]
    pub fn stream_parse<T>(
        &self,
        messages: &[ChatMessage],
        tools: Option<&[Tool]>,
    ) -> Result<ChatCompletionStreamManager<T>>
    where
        T: schemars::JsonSchema + DeserializeOwned + Send + 'static,
    {
        self.stream_parse_with(messages, &ResponseFormat::for_type::<T>(), tools)
    }

    /// [`OpenAICompatibleModel::stream_parse_with`] with this call's options.
    pub fn stream_parse_with<T>(
        &self,
        messages: &[ChatMessage],
        format: &ResponseFormat,
        tools: Option<&[Tool]>,
    ) -> Result<ChatCompletionStreamManager<T>>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let (model, options) = (self.model, &self.options);
        let (schema, path) = parse_mode(format)?;
        check_tools(
            tools.or(options.tools.as_deref()),
            model.model_config().get("tools"),
        )?;
        let mut prepared = model.prepare(messages, Some(format), tools, Some(true), options)?;
        // Built now, sent only if the server refuses the schema (before any chunk).
        let fallback = match schema {
            Some(schema) => {
                prepared.format_fallback = true;
                let messages = with_format_instruction(messages, schema);
                let json_object = ResponseFormat::JsonObject;
                Some(model.prepare(&messages, Some(&json_object), tools, Some(true), options)?)
            }
            None => None,
        };
        Ok(ChatCompletionStreamManager::new(
            model.clone(),
            prepared,
            fallback,
            path,
        ))
    }
}

impl OpenAICompatibleModel {
    /// Streams an answer of type `T`: a lazy [`ChatCompletionStreamManager`] of
    /// [`StructuredEvent`](crate::StructuredEvent)s (content deltas carry the JSON parsed so
    /// far), then [`final_completion`](ChatCompletionStreamManager::final_completion).
    ///
    /// Nothing is sent until the manager is first read, which is why this method is not
    /// `async`; it fails right away only for a non-strict tool ([`Error::InvalidInput`]) or a
    /// request that cannot be built. The request always streams, whatever the config says.
    /// If the server refuses the schema, the stream asks again with the json_object fallback
    /// of [`parse_with`](Self::parse_with) (a refusal comes before any chunk).
    ///
    /// ```no_run
    /// # #[cfg(not(feature = "async"))] {
    /// use openai_compatible::{ChatMessage, OpenAICompatibleModel, StructuredEvent};
    ///
    /// #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
    /// struct Story {
    ///     title: String,
    ///     paragraphs: Vec<String>,
    /// }
    ///
    /// # let model = OpenAICompatibleModel::builder("m").api_key("k").build()?;
    /// let messages = [ChatMessage::user("A three-paragraph story about a lighthouse.")];
    /// let mut stream = model.stream_parse::<Story>(&messages, None)?;
    /// for event in &mut stream {
    ///     if let StructuredEvent::ContentDelta { parsed: Some(partial), .. } = event? {
    ///         println!("so far: {partial}");
    ///     }
    /// }
    /// let story = stream.final_completion()?.into_parsed()?;
    /// println!("{}", story.title);
    /// # }
    /// # Ok::<(), openai_compatible::Error>(())
    /// ```
    #[cfg(feature = "schema")]
    #[cfg_attr(docsrs, doc(cfg(feature = "schema")))]
    pub fn stream_parse<T>(
        &self,
        messages: &[ChatMessage],
        tools: Option<&[Tool]>,
    ) -> Result<ChatCompletionStreamManager<T>>
    where
        T: schemars::JsonSchema + DeserializeOwned + Send + 'static,
    {
        self.stream_parse_with(messages, &ResponseFormat::for_type::<T>(), tools)
    }

    /// [`stream_parse`](Self::stream_parse) with a response format of your choosing (see
    /// [`parse_with`](Self::parse_with)), parsed into any deserializable `T`.
    pub fn stream_parse_with<T>(
        &self,
        messages: &[ChatMessage],
        format: &ResponseFormat,
        tools: Option<&[Tool]>,
    ) -> Result<ChatCompletionStreamManager<T>>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.with_options(RequestOptions::new())
            .stream_parse_with(messages, format, tools)
    }
}

/// The schema to fall back on (if any) and the path of the first request.
fn parse_mode(format: &ResponseFormat) -> Result<(Option<&Value>, ParsePath)> {
    match format {
        ResponseFormat::JsonSchema { schema, .. } => Ok((Some(schema), ParsePath::JsonSchema)),
        ResponseFormat::JsonObject => Ok((None, ParsePath::JsonObject)),
        ResponseFormat::Text => Err(Error::InvalidInput(
            "structured parsing needs a JSON response format (a schema or json_object), \
             not text"
                .into(),
        )),
    }
}
