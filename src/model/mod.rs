//! The top layer: [`OpenAICompatibleModel`] and everything that drives a request.
//!
//! * `mod.rs` — the type, its accessors, and `run` / `complete` / `stream`;
//! * `builder.rs` — [`OpenAICompatibleModelBuilder`], every setting and its resolution;
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
mod client;
mod manager;
mod response;
mod send;
mod structured;

pub use builder::OpenAICompatibleModelBuilder;
pub use client::ChatClient;
pub use manager::ChatCompletionStreamManager;
pub use response::ModelResponse;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::ApiKey;
use crate::decode;
use crate::error::{Error, Result};
use crate::logging::IoLog;
use crate::preprocess;
use crate::request::{self, Prepared};
use crate::stream::{ChatCompletionStream, StreamEnd};
use crate::tokens::TokenCounter;
use crate::transport::HttpTransport;
use crate::types::{ChatCompletion, ChatMessage, ResponseFormat, Tool};

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
    default_query: Vec<(String, String)>,
    http: HttpTransport,
    client: Option<Arc<dyn ChatClient>>,
    token_counter: Arc<dyn TokenCounter>,
    extract_thinking: bool,
    io_log: Option<Arc<IoLog>>,
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

    /// The base URL requests go to (`{url}/chat/completions`).
    pub fn url(&self) -> &str {
        &self.base_url
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

    /// The token counter: the one given to the builder, else an
    /// [`OpenAITokenCounter`](crate::OpenAITokenCounter) for gpt-4o-mini (o200k_base), whose
    /// table is built on the first count.
    pub fn token_counter(&self) -> &dyn TokenCounter {
        self.token_counter.as_ref()
    }

    /// Counts the tokens `messages` take in a prompt, with [`token_counter`](Self::token_counter).
    pub fn count_tokens_from_messages(&self, messages: &[ChatMessage]) -> Result<usize> {
        self.token_counter.count_tokens_from_messages(messages)
    }

    /// The model's context window: the known window of an OpenAI (or other CAMEL-listed)
    /// model name, else 999_999_999, with a warning logged once per process.
    pub fn token_limit(&self) -> u64 {
        crate::model_type::token_limit_or_default(&self.model_type)
    }

    /// Whether the config asks for streamed answers (a truthy `stream`), so that
    /// [`run`](Self::run) returns a stream.
    pub fn is_stream(&self) -> bool {
        request::truthy(self.config.get("stream"))
    }

    fn prepare(
        &self,
        messages: &[ChatMessage],
        response_format: Option<&ResponseFormat>,
        tools: Option<&[Tool]>,
        force_stream: Option<bool>,
    ) -> Result<Prepared> {
        let messages = &*preprocess::process(messages, self.extract_thinking);
        let rf = response_format.map(ResponseFormat::to_wire);
        request::prepare_with_mode(
            &self.model_type,
            messages,
            &self.config,
            tools,
            rf.as_ref(),
            force_stream,
        )
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
    #[tracing::instrument(name = "chat", skip_all, fields(model = %self.model_type, mode = tracing::field::Empty))]
    pub async fn run(
        &self,
        messages: &[ChatMessage],
        response_format: Option<&ResponseFormat>,
        tools: Option<&[Tool]>,
    ) -> Result<ModelResponse> {
        if let Some(format @ ResponseFormat::JsonSchema { .. }) = response_format {
            return self.run_structured(messages, format, tools).await;
        }
        let prepared = self.prepare(messages, response_format, tools, None)?;
        let mode = if prepared.stream {
            "stream"
        } else {
            "completion"
        };
        tracing::Span::current().record("mode", mode);
        if prepared.stream {
            Ok(ModelResponse::Stream(self.open_stream(&prepared).await?))
        } else {
            Ok(ModelResponse::Completion(self.execute(&prepared).await?))
        }
    }

    /// A non-streamed completion of `messages` with the config's tools, whatever the
    /// config's `stream` says.
    #[tracing::instrument(name = "chat", skip_all, fields(model = %self.model_type, mode = "completion"))]
    pub async fn complete(&self, messages: &[ChatMessage]) -> Result<ChatCompletion> {
        let prepared = self.prepare(messages, None, None, Some(false))?;
        self.execute(&prepared).await
    }

    /// A streamed completion of `messages` with the config's tools, whatever the config's
    /// `stream` says.
    #[tracing::instrument(name = "chat", skip_all, fields(model = %self.model_type, mode = "stream"))]
    pub async fn stream(&self, messages: &[ChatMessage]) -> Result<ChatCompletionStream> {
        let prepared = self.prepare(messages, None, None, Some(true))?;
        self.open_stream(&prepared).await
    }

    /// One non-streamed request: sent (or handed to the custom client), think tags
    /// extracted, logged.
    async fn execute(&self, prepared: &Prepared) -> Result<ChatCompletion> {
        let record = self
            .io_log
            .as_ref()
            .and_then(|l| l.request(&self.model_type, &prepared.body));
        let mut result = self.fetch_completion(prepared).await;
        if let (Ok(completion), true) = (&mut result, self.extract_thinking) {
            preprocess::extract_thinking(completion);
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
        let (_head, body) = self.send_plain(prepared).await?;
        decode::completion(&body, self.secret())
    }

    /// One streamed request, logged when the stream ends.
    async fn open_stream(&self, prepared: &Prepared) -> Result<ChatCompletionStream> {
        let record = self
            .io_log
            .as_ref()
            .and_then(|l| l.request(&self.model_type, &prepared.body));
        let result = self.connect_stream(prepared).await;
        match (record, result) {
            (Some(record), Ok(stream)) => Ok(stream.observe(Box::new(move |c, end| {
                let (how, error) = match end {
                    StreamEnd::Done => ("done", None),
                    StreamEnd::Failed(e) => ("error", Some(e)),
                    StreamEnd::Dropped => ("dropped", None),
                };
                record.finish_stream(c, how, error)
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
        let (head, body) = self.send_stream(prepared).await?;
        // Some servers ignore `stream` and answer with a whole completion.
        if decode::is_json(head.header("content-type")) {
            let bytes = body.read_rest().await?;
            let completion = decode::completion(&bytes, self.secret())?;
            return Ok(ChatCompletionStream::from_completion(completion));
        }
        Ok(ChatCompletionStream::from_http(
            body,
            self.secret().map(str::to_owned),
            self.max_response_bytes,
        ))
    }
}

fn body_value(prepared: &Prepared) -> Result<Value> {
    serde_json::from_slice(&prepared.body)
        .map_err(|e| Error::InvalidInput(format!("the request body is not JSON: {e}")))
}
