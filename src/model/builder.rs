//! [`OpenAICompatibleModelBuilder`]: every setting of a model, resolved once at `build()`.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::client::ChatClient;
use super::OpenAICompatibleModel;
use crate::config::{self, Requested, Resolved};
use crate::error::{Error, Result};
use crate::logging::LogOptions;
use crate::proxy::ProxyRules;
use crate::reasoning::ReasoningField;
use crate::request;
#[cfg(feature = "tokens")]
use crate::tokens::{OpenAITokenCounter, TokenCounter};
use crate::transport::{self, CallerClient, HttpTransport};
use crate::types::ApiMode;

/// The connect timeout when the builder sets none (and the timeout is longer).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
    connect_timeout: Option<Duration>,
    /// The proxy variables to use instead of the process environment (tests).
    proxy_env: Option<Vec<(String, String)>>,
    max_retries: u32,
    max_response_bytes: u64,
    default_headers: Vec<(String, String)>,
    default_query: Vec<(String, String)>,
    client: Option<Arc<dyn ChatClient>>,
    #[cfg(feature = "tokens")]
    token_counter: Option<Arc<dyn TokenCounter>>,
    extract_thinking: bool,
    reasoning_field: Option<ReasoningField>,
    io_log: LogOptions,
    /// The caller's `ureq::Agent` or `reqwest::Client`, if one was given.
    http: Option<CallerClient>,
    api_mode: ApiMode,
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
            .field("api_mode", &self.api_mode)
            .finish_non_exhaustive()
    }
}

impl OpenAICompatibleModelBuilder {
    pub(super) fn new(model_type: String) -> OpenAICompatibleModelBuilder {
        OpenAICompatibleModelBuilder {
            model_type,
            model_config: None,
            requested: Requested::default(),
            connect_timeout: None,
            proxy_env: None,
            max_retries: config::DEFAULT_MAX_RETRIES,
            max_response_bytes: config::DEFAULT_MAX_RESPONSE_BYTES,
            default_headers: Vec::new(),
            default_query: Vec::new(),
            client: None,
            #[cfg(feature = "tokens")]
            token_counter: None,
            extract_thinking: true,
            reasoning_field: None,
            io_log: LogOptions::default(),
            http: None,
            api_mode: ApiMode::default(),
        }
    }
}

/// Sets a header, replacing any of the same name (HTTP names are case-insensitive).
pub(super) fn set_header(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
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
    /// waiting for the head and of each silence between two reads. Making the connection
    /// has its own, shorter bound: [`connect_timeout`](Self::connect_timeout). Zero counts as
    /// unset.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.requested.timeout = Some(timeout);
        self
    }

    /// The bound on making each attempt's connection: the name lookup, the TCP connection,
    /// the proxy's `CONNECT` tunnel and the TLS handshake (default: the smaller of the timeout
    /// and 10 s; never more than the timeout). A connection that takes longer fails with
    /// [`Error::Timeout`] in [`TimeoutPhase::Connect`](crate::TimeoutPhase::Connect) and is
    /// retried like a refused one, so an unreachable or silent server costs about
    /// `(max_retries + 1) × connect_timeout` plus the backoff, not that many full timeouts.
    /// Zero counts as unset.
    ///
    /// With a caller's `ureq::Agent` the bound still applies (it is set per request). A
    /// caller's `reqwest::Client` keeps its own connect timeout: reqwest sets it per client,
    /// so only the overall timeout bounds its connections.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout).filter(|t| !t.is_zero());
        self
    }

    /// The proxy environment to use instead of the process's: `(name, value)` pairs read in
    /// place of `HTTP_PROXY`, `NO_PROXY` and the rest (tests; unstable).
    #[doc(hidden)]
    pub fn __proxy_env(mut self, vars: &[(&str, &str)]) -> Self {
        self.proxy_env = Some(
            vars.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
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
    /// [`processing`](crate::processing)); when off, text goes out and comes back verbatim.
    /// Tool-call regrouping stays on either way.
    pub fn extract_thinking_from_response(mut self, on: bool) -> Self {
        self.extract_thinking = on;
        self
    }

    /// The field an assistant message's reasoning is sent back in, whatever the server's
    /// answers use. By default the model sends it under the name the server answered with
    /// (`reasoning` for vLLM 0.16 and later, which drops `reasoning_content`), and under
    /// CAMEL's `reasoning_content` while it knows none.
    pub fn reasoning_field(mut self, field: ReasoningField) -> Self {
        self.reasoning_field = Some(field);
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
    /// gpt-4o-mini (CAMEL's `token_counter`; feature `tokens`).
    #[cfg(feature = "tokens")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokens")))]
    pub fn token_counter(mut self, counter: impl TokenCounter + 'static) -> Self {
        self.token_counter = Some(Arc::new(counter));
        self
    }

    // CAMEL's model I/O logs (the crate docs, "Logging"); unset options come from the
    // environment when the model is built.

    /// Turns the model I/O log files on or off, whatever `CAMEL_MODEL_LOG_ENABLED` says
    /// (by default they are on when it is `1`, `true`, `yes` or `on`, in any case).
    pub fn log_model_io(mut self, on: bool) -> Self {
        self.io_log.enabled = Some(on);
        self
    }

    /// Whether the log files include the request parameters (everything sent besides
    /// `model` and `messages`) as `request.model_config_dict`, whatever
    /// `CAMEL_MODEL_LOG_MODEL_CONFIG_ENABLED` says (by default: when logging is on).
    pub fn log_model_config(mut self, on: bool) -> Self {
        self.io_log.model_config = Some(on);
        self
    }

    /// The folder the log files go to, instead of `CAMEL_LOG_DIR` (default `camel_logs`,
    /// relative to the working directory).
    pub fn log_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.io_log.dir = Some(dir.into());
        self
    }

    /// The id of the agent using this model: its log files go to a sub-folder of that
    /// name (default `none`) and carry it as `agent_id`. Characters that are not safe in a
    /// file name become `_`.
    pub fn agent_id(mut self, id: impl Into<String>) -> Self {
        self.io_log.agent_id = Some(id.into());
        self
    }

    /// Send requests through this `ureq::Agent` (its proxy, TLS, resolver and pool
    /// settings). The model still keeps error bodies, refuses redirects and applies its own
    /// timeouts, the connect timeout included, on every request. The agent keeps its own
    /// proxy configuration (ureq's, from its `Config`): the proxy variables this crate reads
    /// (the crate docs, "Proxies") do not apply to it.
    #[cfg(not(feature = "async"))]
    #[cfg_attr(docsrs, doc(cfg(not(feature = "async"))))]
    pub fn agent(mut self, agent: ureq::Agent) -> Self {
        self.http = Some(agent);
        self
    }

    /// Send requests through this `reqwest::Client` (its proxy, TLS and pool settings). The
    /// model applies its own timeouts on every request, except the connect timeout: reqwest
    /// sets that per client (`ClientBuilder::connect_timeout`), so the client's own applies,
    /// and only the overall timeout bounds a connection it never makes. Its proxies are its
    /// own too (reqwest reads the environment with rules of its own unless told otherwise);
    /// the crate's proxy rules do not apply to it. Build it from
    /// [`reqwest_client_builder`](crate::reqwest_client_builder) so TLS is set up and
    /// redirects are refused: reqwest's redirect policy belongs to the client, so a client
    /// built otherwise follows redirects, turning a redirected POST into a GET and sending
    /// headers set with [`default_header`](Self::default_header) (such as an `api-key`) to
    /// the other host.
    #[cfg(feature = "async")]
    #[cfg_attr(docsrs, doc(cfg(feature = "async")))]
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The wire protocol: [`ApiMode::ChatCompletions`] (the default) or
    /// [`ApiMode::Responses`], which sends the same calls to `{url}/responses` and converts
    /// the answers back (see the crate guide's "Responses mode"). From a string, parse it:
    /// `"responses".parse::<ApiMode>()?`.
    pub fn api_mode(mut self, mode: ApiMode) -> Self {
        self.api_mode = mode;
        self
    }

    /// Resolves the configuration and builds the model. Fails with [`Error::Config`] naming
    /// the problem: no API key, a malformed URL or `MODEL_TIMEOUT`, a model config that is
    /// not an object or uses a reserved key, an invalid header, a proxy variable naming a
    /// proxy that cannot be used for the URL (the crate docs, "Proxies").
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
        request::warn_about_typos(&config);
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

        // A caller's client keeps its own proxy settings; ours follow the environment, and a
        // proxy that cannot be used for the model's URL is a configuration error now rather
        // than at the first request.
        let proxies = match &self.proxy_env {
            Some(vars) => ProxyRules::from_env(&|name| {
                vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
            }),
            None => ProxyRules::from_env(env),
        };
        if self.http.is_none() && self.client.is_none() {
            proxies.for_url(&config::endpoint(
                &resolved.base_url,
                "chat/completions",
                &[],
            ))?;
        }
        let connect_timeout = self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let http = HttpTransport::new(
            self.http.take(),
            proxies,
            resolved.timeout,
            connect_timeout.min(resolved.timeout),
        )?;

        let urls = Arc::new(super::EndpointUrls::new(
            &resolved.base_url,
            &self.default_query,
        ));
        Ok(OpenAICompatibleModel {
            model_type: self.model_type,
            urls,
            config,
            base_url: resolved.base_url,
            api_key: resolved.api_key,
            timeout: resolved.timeout,
            connect_timeout,
            max_retries: self.max_retries,
            max_response_bytes: self.max_response_bytes,
            wire_headers: transport::Headers::new(&headers),
            headers,
            default_query: self.default_query,
            http,
            client: self.client,
            // Cheap: the BPE table is built on the first count, once per process.
            #[cfg(feature = "tokens")]
            token_counter: self
                .token_counter
                .unwrap_or_else(|| Arc::new(OpenAITokenCounter::default())),
            extract_thinking: self.extract_thinking,
            reasoning: Arc::default(),
            reasoning_field: self.reasoning_field,
            io_log,
            api_mode: self.api_mode,
            sessions: Arc::default(),
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
