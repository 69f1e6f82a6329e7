//! [`OpenAICompatibleModel`], its builder, and the one request path both modes share.
//!
//! The `impl` blocks carrying `run`, `complete` and `stream` are written as `async` code and
//! compiled by maybe-async into blocking code (default) or left async (feature `async`). The
//! crate's own feature picks the mode through `cfg_attr`, so no other crate's use of
//! maybe-async can flip it.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use crate::client::ChatClient;
use crate::config::{self, ApiKey, Requested, Resolved};
use crate::error::{ApiError, Error, Result};
use crate::logging::{IoLog, LogOptions};
use crate::preprocess;
use crate::request::{self, Prepared};
use crate::response::ModelResponse;
use crate::retry::{self, Decision, Delays};
use crate::stream::ChatCompletionStream;
use crate::structured::ResponseFormat;
use crate::tokens::{OpenAITokenCounter, TokenCounter};
use crate::transport::{self, Head, HttpRequest, HttpTransport, StreamBody};
use crate::types::{ChatCompletion, ChatMessage, Tool};

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
            .field("max_retries", &self.max_retries)
            .field("config_keys", &self.config.keys().collect::<Vec<_>>())
            .field("headers", &header_names)
            .field("custom_client", &self.client.is_some())
            .finish()
    }
}

/// Configures an [`OpenAICompatibleModel`]. Created by [`OpenAICompatibleModel::builder`].
///
/// Anything left unset is resolved as CAMEL does: the API key from
/// `OPENAI_COMPATIBILITY_API_KEY` then `OPENAI_API_KEY`; the URL from
/// `OPENAI_COMPATIBILITY_API_BASE_URL` then `OPENAI_BASE_URL` then OpenAI's; the timeout from
/// `MODEL_TIMEOUT` (seconds) then 180 s; 3 retries.
#[must_use = "call .build() to get a model"]
pub struct OpenAICompatibleModelBuilder {
    model_type: String,
    model_config: Option<Value>,
    requested: Requested,
    max_retries: u32,
    max_response_bytes: u64,
    default_headers: Vec<(String, String)>,
    default_query: Vec<(String, String)>,
    client: Option<Arc<dyn ChatClient>>,
    token_counter: Option<Arc<dyn TokenCounter>>,
    extract_thinking: bool,
    pub(crate) io_log: LogOptions,
    #[cfg(not(feature = "async"))]
    agent: Option<ureq::Agent>,
    #[cfg(feature = "async")]
    http_client: Option<reqwest::Client>,
}

impl fmt::Debug for OpenAICompatibleModelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAICompatibleModelBuilder")
            .field("model_type", &self.model_type)
            .field(
                "api_key",
                &self.requested.api_key.as_ref().map(|_| "<redacted>"),
            )
            .field("url", &self.requested.url)
            .finish_non_exhaustive()
    }
}

impl OpenAICompatibleModel {
    /// Starts configuring a model. `model_type` is sent verbatim as `"model"`: any name the
    /// server knows (`gpt-4o-mini`, `Qwen/Qwen2.5-7B-Instruct`, `llama3.1:8b`, …).
    pub fn builder(model_type: impl Into<String>) -> OpenAICompatibleModelBuilder {
        OpenAICompatibleModelBuilder {
            model_type: model_type.into(),
            model_config: None,
            requested: Requested::default(),
            max_retries: config::DEFAULT_MAX_RETRIES,
            max_response_bytes: config::DEFAULT_MAX_RESPONSE_BYTES,
            default_headers: Vec::new(),
            default_query: Vec::new(),
            client: None,
            token_counter: None,
            extract_thinking: true,
            io_log: LogOptions::default(),
            #[cfg(not(feature = "async"))]
            agent: None,
            #[cfg(feature = "async")]
            http_client: None,
        }
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

    /// The retries after a first failed attempt.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The token counter: the one given to the builder, else an [`OpenAITokenCounter`] for
    /// gpt-4o-mini (o200k_base), whose table is built on the first count.
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

    pub(crate) fn prepare(
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

    fn headers_for(&self, prepared: &Prepared) -> Vec<(String, String)> {
        let mut headers = self.headers.clone();
        for (k, v) in &prepared.headers {
            set_header(&mut headers, k, v);
        }
        headers
    }

    pub(crate) fn secret(&self) -> Option<&str> {
        self.api_key.as_ref().map(ApiKey::expose)
    }

    fn decode_completion(&self, body: &[u8]) -> Result<ChatCompletion> {
        // From text when the body is UTF-8 (it always is): `from_slice` checks every string
        // separately, which cost more than the one check of the whole body.
        let parsed = match std::str::from_utf8(body) {
            Ok(text) => serde_json::from_str(text),
            Err(_) => serde_json::from_slice(body),
        };
        let completion: ChatCompletion = parsed.map_err(|e| {
            Error::decode_body(
                format!("the response is not a chat completion: {e}"),
                body,
                self.secret(),
            )
        })?;
        // Some proxies answer 200 with an error object.
        if completion.choices.is_empty()
            && (completion.extra.contains_key("error") || completion.object == "error")
        {
            return Err(Error::Api(Box::new(ApiError::from_body(
                Some(200),
                body,
                None,
                self.secret(),
            ))));
        }
        Ok(completion)
    }
}

/// A finished attempt: the whole body, or the open stream.
enum Reply {
    Full(Head, Vec<u8>),
    Stream(Head, StreamBody),
}

impl Reply {
    fn head(&self) -> &Head {
        match self {
            Reply::Full(h, _) | Reply::Stream(h, _) => h,
        }
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
    pub(crate) async fn execute(&self, prepared: &Prepared) -> Result<ChatCompletion> {
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
        match self.send(prepared, false).await? {
            Reply::Full(_, body) => self.decode_completion(&body),
            Reply::Stream(..) => Err(Error::Connection("unexpected stream reply".into())),
        }
    }

    /// One streamed request, logged when the stream ends.
    pub(crate) async fn open_stream(&self, prepared: &Prepared) -> Result<ChatCompletionStream> {
        let record = self
            .io_log
            .as_ref()
            .and_then(|l| l.request(&self.model_type, &prepared.body));
        let result = self.connect_stream(prepared).await;
        match (record, result) {
            (Some(record), Ok(stream)) => {
                Ok(stream.observe(Box::new(move |c, end| record.finish_stream(c, end))))
            }
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
        match self.send(prepared, true).await? {
            // Some servers ignore `stream` and answer with a whole completion.
            Reply::Stream(head, body) if is_json(&head) => {
                let bytes = body.read_rest().await?;
                let completion = self.decode_completion(&bytes)?;
                Ok(ChatCompletionStream::from_completion(completion))
            }
            Reply::Stream(_, body) => Ok(ChatCompletionStream::from_http(
                body,
                self.secret().map(str::to_owned),
                self.max_response_bytes,
            )),
            Reply::Full(..) => Err(Error::Connection("unexpected full reply".into())),
        }
    }

    /// The retry loop of SPEC §3. Streams are retried only until their head arrives.
    async fn send(&self, prepared: &Prepared, stream: bool) -> Result<Reply> {
        let mut query = self.default_query.clone();
        query.extend(prepared.query.iter().cloned());
        let url = config::endpoint(&self.base_url, "chat/completions", &query);
        // The model's headers as they are unless this call adds some (the transport adds
        // the retry count).
        let headers = if prepared.headers.is_empty() {
            std::borrow::Cow::Borrowed(self.headers.as_slice())
        } else {
            std::borrow::Cow::Owned(self.headers_for(prepared))
        };
        let timeout = prepared.timeout.unwrap_or(self.timeout);
        let mut delays = Delays::new();
        let mut attempt: u32 = 0;
        loop {
            let req = HttpRequest {
                url: &url,
                headers: &headers,
                attempt,
                body: &prepared.body,
                timeout,
                max_body: self.max_response_bytes,
            };
            let outcome = if stream {
                self.http.open(&req).await.map(|(h, b)| Reply::Stream(h, b))
            } else {
                self.http
                    .execute(&req)
                    .await
                    .map(|(h, b)| Reply::Full(h, b))
            };
            let can_retry = attempt < self.max_retries;
            match outcome {
                Ok(reply) if reply.head().is_success() => {
                    tracing::debug!(attempt, status = reply.head().status, "response");
                    return Ok(reply);
                }
                Ok(reply) => {
                    let (head, body) = match reply {
                        Reply::Full(h, b) => (h, b),
                        Reply::Stream(h, b) => {
                            // An error body is short; if it cannot be read, the status alone
                            // still says what happened.
                            let body = b.read_rest().await.unwrap_or_default();
                            (h, body)
                        }
                    };
                    let decision = if can_retry {
                        retry::decide_status(
                            head.status,
                            &head.headers,
                            &mut delays,
                            SystemTime::now(),
                        )
                    } else {
                        Decision::Stop
                    };
                    tracing::debug!(
                        attempt,
                        status = head.status,
                        retry = matches!(decision, Decision::Retry(_)),
                        "error response"
                    );
                    match decision {
                        Decision::Retry(delay) => {
                            tracing::warn!(
                                attempt,
                                status = head.status,
                                delay_ms = delay.as_millis() as u64,
                                reason = "status",
                                "retrying"
                            );
                            transport::sleep(delay).await
                        }
                        Decision::Stop => {
                            let mut api = ApiError::from_body(
                                Some(head.status),
                                &body,
                                head.header("x-request-id").map(str::to_owned),
                                self.secret(),
                            );
                            if (300..400).contains(&head.status) {
                                api.refused_redirect(head.header("location"), self.secret());
                            }
                            return Err(Error::Api(Box::new(api)));
                        }
                    }
                }
                Err(e) if e.retryable && can_retry => {
                    let delay = delays.next();
                    tracing::debug!(attempt, error = %e.error, "request failed");
                    tracing::warn!(attempt, delay_ms = delay.as_millis() as u64, reason = %e.error, "retrying");
                    transport::sleep(delay).await
                }
                Err(e) => {
                    tracing::debug!(attempt, error = %e.error, retryable = e.retryable, "request failed");
                    return Err(e.error);
                }
            }
            attempt += 1;
        }
    }
}

fn is_json(head: &Head) -> bool {
    head.header("content-type").is_some_and(|ct| {
        ct.trim_start()
            .to_ascii_lowercase()
            .starts_with("application/json")
    })
}

fn body_value(prepared: &Prepared) -> Result<Value> {
    serde_json::from_slice(&prepared.body)
        .map_err(|e| Error::InvalidInput(format!("the request body is not JSON: {e}")))
}

/// Sets a header, replacing any of the same name (HTTP names are case-insensitive).
fn set_header(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    headers.push((name.to_owned(), value.to_owned()));
}

impl OpenAICompatibleModelBuilder {
    /// Request parameters merged into every body (`temperature`, `max_tokens`, `stream`,
    /// `tools`, `response_format`, server-specific keys like `top_k`, …). Must be a JSON
    /// object. `extra_body`, `extra_headers`, `extra_query` and `timeout` act on the request
    /// instead of being sent.
    pub fn model_config(mut self, config: Value) -> Self {
        self.model_config = Some(config);
        self
    }

    /// The API key (an empty string counts as unset).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.requested.api_key = Some(key.into());
        self
    }

    /// The server's base URL, e.g. `http://127.0.0.1:8080/v1` (an empty string counts as
    /// unset).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.requested.url = Some(url.into());
        self
    }

    /// The timeout: of each attempt of a non-stream request, end to end; for streams, of
    /// connecting, of waiting for the head, and of each silence between two reads. Zero
    /// counts as unset.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.requested.timeout = Some(timeout);
        self
    }

    /// Retries after a failed first attempt (default 3: up to 4 attempts).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Sent as `OpenAI-Organization` (default: env `OPENAI_ORG_ID`).
    pub fn organization(mut self, org: impl Into<String>) -> Self {
        self.requested.organization = Some(org.into());
        self
    }

    /// Sent as `OpenAI-Project` (default: env `OPENAI_PROJECT_ID`).
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.requested.project = Some(project.into());
        self
    }

    /// A header sent with every request; replaces a built-in one of the same name (for
    /// example an `api-key` scheme instead of `Authorization`).
    pub fn default_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.default_headers.push((name.into(), value.into()));
        self
    }

    /// A query parameter added to every request URL (e.g. `api-version`).
    pub fn default_query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.default_query.push((name.into(), value.into()));
        self
    }

    /// The largest response body accepted (default 32 MiB); larger ones fail with
    /// [`Error::BodyTooLarge`]. For streams it caps each event, not the whole stream, so a
    /// long stream is never cut while a server sending an endless line is.
    pub fn max_response_bytes(mut self, limit: u64) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Whether `<think>` blocks are processed (default `true`, CAMEL's
    /// `extract_thinking_from_response`). The switch covers both directions: when on, think
    /// blocks are removed from user and assistant messages before sending, and a
    /// non-streamed answer's first block becomes its `reasoning_content` (see
    /// [`preprocess`](crate::preprocess)); when off, text goes out and comes back verbatim.
    /// Tool-call regrouping stays on either way.
    pub fn extract_thinking_from_response(mut self, on: bool) -> Self {
        self.extract_thinking = on;
        self
    }

    /// Answer requests with this client instead of HTTP (CAMEL's `client`). See
    /// [`ChatClient`]. Timeouts, retries, headers and the API key do not apply.
    pub fn client(mut self, client: impl ChatClient + 'static) -> Self {
        self.client = Some(Arc::new(client));
        self
    }

    /// Like [`client`](Self::client), for a client that is already shared.
    pub fn shared_client(mut self, client: Arc<dyn ChatClient>) -> Self {
        self.client = Some(client);
        self
    }

    /// Count tokens with this counter instead of the default [`OpenAITokenCounter`] for
    /// gpt-4o-mini (CAMEL's `token_counter`).
    pub fn token_counter(mut self, counter: impl TokenCounter + 'static) -> Self {
        self.token_counter = Some(Arc::new(counter));
        self
    }

    /// Send requests through this `ureq::Agent` (its proxy, TLS and pool settings). The
    /// model still keeps error bodies, refuses redirects and applies its own timeouts on
    /// every request.
    #[cfg(not(feature = "async"))]
    pub fn agent(mut self, agent: ureq::Agent) -> Self {
        self.agent = Some(agent);
        self
    }

    /// Send requests through this `reqwest::Client` (its proxy, TLS and pool settings). The
    /// model applies its own timeouts on every request. Build it from
    /// [`reqwest_client_builder`](crate::reqwest_client_builder) so TLS is set up and
    /// redirects are refused: reqwest's redirect policy belongs to the client, so a client
    /// built otherwise follows redirects, turning a redirected POST into a GET and sending
    /// headers set with [`default_header`](Self::default_header) (such as an `api-key`) to
    /// the other host.
    #[cfg(feature = "async")]
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Resolves the configuration and builds the model. Fails with [`Error::Config`] naming
    /// the problem: no API key, a malformed URL or `MODEL_TIMEOUT`, a model config that is
    /// not an object or uses a reserved key, an invalid header.
    pub fn build(self) -> Result<OpenAICompatibleModel> {
        self.build_with_env(&|name| std::env::var(name).ok())
    }

    pub(crate) fn build_with_env(
        mut self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<OpenAICompatibleModel> {
        if self.model_type.trim().is_empty() {
            return Err(Error::Config("the model type is empty".into()));
        }
        self.requested.custom_client = self.client.is_some();
        let config = match self.model_config.take() {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(other) => {
                return Err(Error::Config(format!(
                    "model_config must be a JSON object, got {other}"
                )))
            }
        };
        request::validate_config(&config)?;
        let resolved: Resolved = config::resolve(&self.requested, env)?;
        let io_log = self.io_log.resolve(env).map(Arc::new);

        let mut headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("Accept".to_owned(), "application/json".to_owned()),
            ("User-Agent".to_owned(), transport::USER_AGENT.to_owned()),
        ];
        if let Some(key) = &resolved.api_key {
            headers.push((
                "Authorization".to_owned(),
                format!("Bearer {}", key.expose()),
            ));
        }
        if let Some(org) = &resolved.organization {
            headers.push(("OpenAI-Organization".to_owned(), org.clone()));
        }
        if let Some(project) = &resolved.project {
            headers.push(("OpenAI-Project".to_owned(), project.clone()));
        }
        for (k, v) in &self.default_headers {
            validate_header(k, v)?;
            set_header(&mut headers, k, v);
        }

        #[cfg(not(feature = "async"))]
        let http = HttpTransport::new(self.agent.take());
        #[cfg(feature = "async")]
        let http = HttpTransport::new(self.http_client.take())?;

        Ok(OpenAICompatibleModel {
            model_type: self.model_type,
            config,
            base_url: resolved.base_url,
            api_key: resolved.api_key,
            timeout: resolved.timeout,
            max_retries: self.max_retries,
            max_response_bytes: self.max_response_bytes,
            headers,
            default_query: self.default_query,
            http,
            client: self.client,
            // Cheap: the BPE table is built on the first count, once per process.
            token_counter: self
                .token_counter
                .unwrap_or_else(|| Arc::new(OpenAITokenCounter::default())),
            extract_thinking: self.extract_thinking,
            io_log,
        })
    }
}

fn validate_header(name: &str, value: &str) -> Result<()> {
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !name_ok {
        return Err(Error::Config(format!(
            "{name:?} is not a valid header name"
        )));
    }
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(Error::Config(format!(
            "the value of header {name:?} contains a control character"
        )));
    }
    Ok(())
}
