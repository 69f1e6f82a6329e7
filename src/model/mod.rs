//! The top layer: [`OpenAICompatibleModel`] and everything that drives a request.
//!
//! * `mod.rs` — the type, its accessors, and `run` / `complete` / `stream`;
//! * `builder.rs` — [`OpenAICompatibleModelBuilder`], every setting and its resolution;
//! * `call.rs` — [`ModelCall`], a call with per-call options: where `run`, `complete` and
//!   `stream` are implemented (the model's own methods are calls with no options);
//! * `send.rs` — the send/retry loop, with typed entry points for plain requests and streams;
//! * `structured.rs` — `parse`, `stream_parse` and the structured branch of `run`;
//! * `manager/` — the lazy [`ChatCompletionStreamManager`], one file per mode;
//! * `response.rs` — [`ModelResponse`], what `run` returns;
//! * `client.rs` — [`ChatClient`], a caller's replacement for HTTP.
//!
//! The `impl` blocks with `async fn`s are written once and compiled by maybe-async into
//! blocking code (default) or left async (feature `async`). The crate's own feature picks
//! the mode through `cfg_attr`, so no other crate's use of maybe-async can flip it.

mod builder;
mod call;
mod client;
mod manager;
mod response;
mod responses;
mod send;
mod structured;
mod telemetry;

pub use builder::OpenAICompatibleModelBuilder;
pub use call::ModelCall;
pub use client::ChatClient;
pub use manager::ChatCompletionStreamManager;
pub use response::ModelResponse;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::chunks::StreamState;
use crate::config::{self, ApiKey};
use crate::decode;
use crate::error::{Error, Result};
use crate::logging::IoLog;
use crate::processing;
use crate::reasoning::{self, ReasoningField, ReasoningMemory};
use crate::request::{self, Prepared};
use crate::responses::session::Sessions;
use crate::stream::{ChatCompletionStream, StreamEnd};
#[cfg(feature = "tokens")]
use crate::tokens::TokenCounter;
use crate::transport::{self, HttpTransport};
use crate::types::{
    ApiMode, ChatCompletion, ChatMessage, MetaSlot, RequestOptions, ResponseFormat, Tool,
};

/// A chat model behind any OpenAI-compatible server.
///
/// Build one with [`OpenAICompatibleModel::builder`]. It is cheap to clone and safe to share
/// between threads (or tasks): clones share the connection pool.
#[derive(Clone)]
pub struct OpenAICompatibleModel {
    model_type: String,
    config: Map<String, Value>,
    base_url: String,
    api_key: Option<ApiKey>,
    timeout: Duration,
    /// The connect timeout asked for (at most `timeout` applies to an attempt).
    connect_timeout: Duration,
    max_retries: u32,
    max_response_bytes: u64,
    headers: Vec<(String, String)>,
    /// `headers` converted for the transport once, not per request.
    wire_headers: transport::Headers,
    default_query: Vec<(String, String)>,
    /// The endpoint URLs (base, path, default query), built once.
    urls: Arc<EndpointUrls>,
    http: HttpTransport,
    client: Option<Arc<dyn ChatClient>>,
    #[cfg(feature = "tokens")]
    token_counter: Arc<dyn TokenCounter>,
    extract_thinking: bool,
    /// The server's name for reasoning, as learned from its answers (shared by clones).
    reasoning: Arc<ReasoningMemory>,
    /// The builder's choice, which wins over what was learned.
    reasoning_field: Option<ReasoningField>,
    io_log: Option<Arc<IoLog>>,
    api_mode: ApiMode,
    /// Chaining state of Responses mode, per session (shared by clones).
    sessions: Arc<Sessions>,
}

/// Where each API mode's requests go when a call adds no query parameters.
struct EndpointUrls {
    chat_completions: transport::Endpoint,
    responses: transport::Endpoint,
}

impl EndpointUrls {
    fn new(base_url: &str, default_query: &[(String, String)]) -> EndpointUrls {
        let url = |mode: ApiMode| {
            transport::Endpoint::new(config::endpoint(base_url, mode.endpoint(), default_query))
        };
        EndpointUrls {
            chat_completions: url(ApiMode::ChatCompletions),
            responses: url(ApiMode::Responses),
        }
    }

    fn of(&self, mode: ApiMode) -> &transport::Endpoint {
        match mode {
            ApiMode::ChatCompletions => &self.chat_completions,
            ApiMode::Responses => &self.responses,
        }
    }
}

impl fmt::Debug for OpenAICompatibleModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may hold credentials (Authorization, api-key, …): names only.
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("OpenAICompatibleModel")
            .field("model_type", &self.model_type)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout())
            .field("max_retries", &self.max_retries)
            .field("config_keys", &self.config.keys().collect::<Vec<_>>())
            .field("headers", &header_names)
            .field("custom_client", &self.client.is_some())
            .field("api_mode", &self.api_mode)
            .finish()
    }
}

impl OpenAICompatibleModel {
    /// Starts configuring a model. `model_type` is sent verbatim as `"model"`: any name the
    /// server knows (`gpt-4o-mini`, `Qwen/Qwen2.5-7B-Instruct`, `llama3.1:8b`, …).
    pub fn builder(model_type: impl Into<String>) -> OpenAICompatibleModelBuilder {
        OpenAICompatibleModelBuilder::new(model_type.into())
    }

    /// The model name sent as `"model"`.
    pub fn model_type(&self) -> &str {
        &self.model_type
    }

    /// The request parameters merged into every body (`model_config_dict` in CAMEL).
    pub fn model_config(&self) -> &Map<String, Value> {
        &self.config
    }

    /// The base URL requests go to (`{url}/chat/completions`, or `{url}/responses` in
    /// [`ApiMode::Responses`]).
    pub fn url(&self) -> &str {
        &self.base_url
    }

    /// The wire protocol this model speaks.
    pub fn api_mode(&self) -> ApiMode {
        self.api_mode
    }

    /// The resolved timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The bound on making each attempt's connection (DNS, TCP, proxy tunnel, TLS): the
    /// builder's [`connect_timeout`](OpenAICompatibleModelBuilder::connect_timeout), else 10
    /// s, and never more than the [`timeout`](Self::timeout).
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout.min(self.timeout)
    }

    /// The retries after a first failed attempt.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The token counter (feature `tokens`): the one given to the builder, else an
    /// [`OpenAITokenCounter`](crate::OpenAITokenCounter) for gpt-4o-mini (o200k_base), whose
    /// table is built on the first count.
    #[cfg(feature = "tokens")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokens")))]
    pub fn token_counter(&self) -> &dyn TokenCounter {
        self.token_counter.as_ref()
    }

    /// Counts the tokens `messages` take in a prompt, with [`token_counter`](Self::token_counter)
    /// (feature `tokens`).
    #[cfg(feature = "tokens")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokens")))]
    pub fn count_tokens_from_messages(&self, messages: &[ChatMessage]) -> Result<usize> {
        self.token_counter.count_tokens_from_messages(messages)
    }

    /// The model's context window: the known window of an OpenAI (or other CAMEL-listed)
    /// model name, else 999_999_999, with a warning logged once per process.
    pub fn token_limit(&self) -> u64 {
        crate::models::token_limit_or_default(&self.model_type)
    }

    /// Whether the config asks for streamed answers (a truthy `stream`), so that
    /// [`run`](Self::run) returns a stream.
    pub fn is_stream(&self) -> bool {
        request::truthy(self.config.get("stream"))
    }

    /// This model with per-call [`RequestOptions`] laid over its configuration: the
    /// returned [`ModelCall`] has the same `run`, `complete`, `stream`, `parse` and
    /// `stream_parse` methods. The model itself is not changed.
    ///
    /// ```no_run
    /// # #[cfg(not(feature = "async"))] {
    /// use openai_compatible::{ChatMessage, OpenAICompatibleModel, RequestOptions, ToolChoice};
    /// # let model = OpenAICompatibleModel::builder("m").api_key("k").build()?;
    /// # let tools = vec![];
    /// let answer = model
    ///     .with_options(RequestOptions::new().tools(tools).tool_choice(ToolChoice::required()))
    ///     .complete(&[ChatMessage::user("What's the weather in Oslo?")])?;
    /// # let _ = answer;
    /// # }
    /// # Ok::<(), openai_compatible::Error>(())
    /// ```
    pub fn with_options(&self, options: RequestOptions) -> ModelCall<'_> {
        ModelCall {
            model: self,
            options,
        }
    }

    /// The body and settings of one request: messages processed, config and call options
    /// merged.
    fn prepare(
        &self,
        messages: &[ChatMessage],
        response_format: Option<&ResponseFormat>,
        tools: Option<&[Tool]>,
        force_stream: Option<bool>,
        options: &RequestOptions,
    ) -> Result<Prepared> {
        if !options.config.is_empty() {
            request::warn_about_typos(&options.config);
        }
        let field = self
            .reasoning_field
            .unwrap_or_else(|| self.reasoning.field());
        let messages =
            &*reasoning::send_as(processing::process(messages, self.extract_thinking), field);
        let rf = response_format.map(ResponseFormat::to_wire);
        let call = request::Call {
            tools,
            response_format: rf.as_ref(),
            force_stream,
            options,
        };
        request::prepare_call(&self.model_type, messages, &self.config, &call)
    }

    fn secret(&self) -> Option<&str> {
        self.api_key.as_ref().map(ApiKey::expose)
    }
}

#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
impl OpenAICompatibleModel {
    /// Runs the model on `messages`: CAMEL's `_run`.
    ///
    /// * `response_format` — a structured-output format; `None` uses the config's
    ///   `response_format`, if any.
    /// * `tools` — `Some(non-empty)` offers these tools, `Some(&[])` offers none (even if the
    ///   config has some), `None` uses the config's `tools`.
    ///
    /// Returns [`ModelResponse::Completion`], or [`ModelResponse::Stream`] when the config's
    /// `stream` is truthy.
    ///
    /// A [`ResponseFormat::JsonSchema`] makes it a structured request (see
    /// [`parse_with`](Self::parse_with)): the completion's messages carry `parsed`, and a
    /// streaming config gives [`ModelResponse::StructuredStream`]. `Text`, `JsonObject` and a
    /// `response_format` in the config are sent as they are, and nothing is parsed.
    ///
    /// For per-call settings (temperature, `tool_choice`, timeout, …) use
    /// [`with_options`](Self::with_options).
    pub async fn run(
        &self,
        messages: &[ChatMessage],
        response_format: Option<&ResponseFormat>,
        tools: Option<&[Tool]>,
    ) -> Result<ModelResponse> {
        self.with_options(RequestOptions::new())
            .run(messages, response_format, tools)
            .await
    }

    /// A non-streamed completion of `messages` with the config's tools, whatever the
    /// config's `stream` says. Its [`meta`](ChatCompletion::meta) tells the status, request
    /// id, rate limits and attempts.
    pub async fn complete(&self, messages: &[ChatMessage]) -> Result<ChatCompletion> {
        self.with_options(RequestOptions::new())
            .complete(messages)
            .await
    }

    /// A streamed completion of `messages` with the config's tools, whatever the config's
    /// `stream` says.
    pub async fn stream(&self, messages: &[ChatMessage]) -> Result<ChatCompletionStream> {
        self.with_options(RequestOptions::new())
            .stream(messages)
            .await
    }

    /// One non-streamed request in its own `chat` span (see `telemetry`).
    async fn execute(&self, prepared: &Prepared) -> Result<ChatCompletion> {
        let span = telemetry::request_span!(self, "completion");
        telemetry::record_request(&span, self, prepared);
        let result = transport::in_span(span.clone(), || self.execute_in_span(prepared)).await;
        match &result {
            Ok(completion) => telemetry::record_completion(&span, completion),
            Err(e) => telemetry::record_error(&span, e),
        }
        result
    }

    /// Translated for the wire (Responses mode), sent, and — when a server refuses
    /// `previous_response_id` — sent once more with the whole history.
    async fn execute_in_span(&self, prepared: &Prepared) -> Result<ChatCompletion> {
        let wire = self.wire(prepared)?;
        let (wire, result) = match self.execute_wire(&wire.prepared).await {
            Err(e) if wire.refused(&e) => {
                self.stop_chaining();
                let wire = self.wire(prepared)?;
                let result = self.execute_wire(&wire.prepared).await;
                (wire, result)
            }
            result => (wire, result),
        };
        if let Ok(completion) = &result {
            wire.answered(&self.sessions, &completion.id);
        }
        result
    }

    /// Sent (or handed to the custom client), think tags extracted, logged.
    async fn execute_wire(&self, prepared: &Prepared) -> Result<ChatCompletion> {
        let record = self
            .io_log
            .as_ref()
            .and_then(|l| l.request(&self.model_type, &prepared.body));
        let mut result = self.fetch_completion(prepared).await;
        if let Ok(completion) = &mut result {
            self.reasoning.learn_from_completion(completion);
            if self.extract_thinking {
                processing::extract_thinking(completion);
            }
        }
        if let Some(record) = record {
            record.finish(result.as_ref());
        }
        result
    }

    async fn fetch_completion(&self, prepared: &Prepared) -> Result<ChatCompletion> {
        if let Some(client) = &self.client {
            let body = body_value(prepared)?;
            return client.create(&body).await.map_err(Error::Client);
        }
        let (meta, body) = self.send_plain(prepared).await?;
        let mut completion = self.decode(prepared, &body)?;
        completion.meta = MetaSlot(Some(Arc::new(meta)));
        Ok(completion)
    }

    /// One streamed request in its own `chat` span, which stays open with the stream and
    /// records the answer when the stream ends.
    async fn open_stream(&self, prepared: &Prepared) -> Result<ChatCompletionStream> {
        let span = telemetry::request_span!(self, "stream");
        telemetry::record_request(&span, self, prepared);
        let result = transport::in_span(span.clone(), || self.open_stream_in_span(prepared)).await;
        match result {
            Err(e) => {
                telemetry::record_error(&span, &e);
                Err(e)
            }
            // Observing costs an accumulation of every chunk: only when someone listens.
            Ok(stream) if span.is_disabled() => Ok(stream),
            Ok(stream) => Ok(stream.observe(Box::new(move |outcome| {
                if let Some(after) = outcome.first_chunk_after {
                    telemetry::record_first_chunk(&span, after);
                }
                telemetry::record_completion(&span, outcome.completion);
                if let StreamEnd::Failed(e) = outcome.end {
                    telemetry::record_error(&span, e);
                }
            }))),
        }
    }

    /// As [`execute_in_span`](Self::execute_in_span), for a stream: the chaining state is
    /// saved when the stream reaches its final event.
    async fn open_stream_in_span(&self, prepared: &Prepared) -> Result<ChatCompletionStream> {
        let wire = self.wire(prepared)?;
        let (wire, result) = match self.open_wire(&wire.prepared).await {
            Err(e) if wire.refused(&e) => {
                self.stop_chaining();
                let wire = self.wire(prepared)?;
                let result = self.open_wire(&wire.prepared).await;
                (wire, result)
            }
            result => (wire, result),
        };
        Ok(wire.saving(&self.sessions, result?))
    }

    /// The stream, logged when it ends.
    async fn open_wire(&self, prepared: &Prepared) -> Result<ChatCompletionStream> {
        let record = self
            .io_log
            .as_ref()
            .and_then(|l| l.request(&self.model_type, &prepared.body));
        let result = self.connect_stream(prepared).await;
        match (record, result) {
            (Some(record), Ok(stream)) => Ok(stream.observe(Box::new(move |outcome| {
                let (how, error) = match outcome.end {
                    StreamEnd::Done => ("done", None),
                    StreamEnd::Failed(e) => ("error", Some(e)),
                    StreamEnd::Dropped => ("dropped", None),
                };
                record.finish_stream(outcome.completion, how, error)
            }))),
            (Some(record), Err(e)) => {
                record.finish(Err(&e));
                Err(e)
            }
            (None, result) => result,
        }
    }

    async fn connect_stream(&self, prepared: &Prepared) -> Result<ChatCompletionStream> {
        if let Some(client) = &self.client {
            let body = body_value(prepared)?;
            return client.create_stream(&body).await.map_err(Error::Client);
        }
        let (meta, body) = self.send_stream(prepared).await?;
        let meta = Arc::new(meta);
        // Some servers ignore `stream` and answer with a whole completion.
        if decode::is_json(meta.header("content-type")) {
            let bytes = body.read_rest().await?;
            let mut completion = self.decode(prepared, &bytes)?;
            completion.meta = MetaSlot(Some(meta.clone()));
            return Ok(ChatCompletionStream::from_completion(completion).with_meta(meta));
        }
        let secret = self.secret().map(str::to_owned);
        let state = match prepared.api_mode {
            ApiMode::Responses => {
                StreamState::responses(secret, self.max_response_bytes, &self.model_type)
            }
            _ => StreamState::new(secret, self.max_response_bytes),
        };
        Ok(ChatCompletionStream::from_http(body, state)
            .with_meta(meta)
            .learning_reasoning(self.reasoning.clone()))
    }
}

fn body_value(prepared: &Prepared) -> Result<Value> {
    serde_json::from_slice(&prepared.body)
        .map_err(|e| Error::InvalidInput(format!("the request body is not JSON: {e}")))
}
