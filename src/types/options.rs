//! [`RequestOptions`]: settings for one call, laid over the model's own.
//!
//! Pure data, at the ground layer beside the wire types it describes. Request assembly
//! (`crate::request`) overlays it on the model config of that one request; the model's own
//! config is never changed.

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

use super::{ResponseFormat, Tool, ToolChoice};

/// Settings for one call, laid over the model's configuration for that call only.
///
/// Pass it to [`OpenAICompatibleModel::with_options`](crate::OpenAICompatibleModel::with_options),
/// whose [`run`](crate::ModelCall::run), [`complete`](crate::ModelCall::complete),
/// [`stream`](crate::ModelCall::stream), [`parse`](crate::ModelCall::parse) and
/// [`stream_parse`](crate::ModelCall::stream_parse) then use it. One shared model can so
/// serve differently configured calls:
///
/// ```no_run
/// # #[cfg(not(feature = "async"))] {
/// use std::time::Duration;
/// use openai_compatible::{ChatMessage, OpenAICompatibleModel, RequestOptions};
///
/// # let model = OpenAICompatibleModel::builder("m").api_key("k").build()?;
/// let creative = RequestOptions::new()
///     .temperature(1.2)
///     .max_tokens(400)
///     .timeout(Duration::from_secs(30))
///     .max_retries(1);
/// let answer = model
///     .with_options(creative)
///     .complete(&[ChatMessage::user("A limerick about Rust.")])?;
/// # let _ = answer;
/// # }
/// # Ok::<(), openai_compatible::Error>(())
/// ```
///
/// Precedence, highest first: the arguments of the call itself (`run`'s `tools` and
/// `response_format`), these options, the model config, the builder. Config keys given here
/// are sent exactly as the model config's would be, so any server-specific parameter works
/// through [`set`](Self::set).
#[derive(Clone, Default)]
#[must_use]
pub struct RequestOptions {
    pub(crate) config: Map<String, Value>,
    pub(crate) tools: Option<Vec<Tool>>,
    pub(crate) response_format: Option<ResponseFormat>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) max_retries: Option<u32>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) extra_body: Map<String, Value>,
    pub(crate) session: Option<String>,
}

impl fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may carry credentials: names only.
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("RequestOptions")
            .field("config", &self.config)
            .field("tools", &self.tools.as_ref().map(Vec::len))
            .field("response_format", &self.response_format)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("headers", &header_names)
            .field("query", &self.query)
            .field("extra_body", &self.extra_body)
            .field("session", &self.session)
            .finish()
    }
}

impl RequestOptions {
    /// No overrides: the call behaves as the model is configured.
    pub fn new() -> RequestOptions {
        RequestOptions::default()
    }

    /// Sets any request parameter for this call, as a model-config key would
    /// (`"top_k"`, `"seed"`, `"stream_options"`, `"chat_template_kwargs"`, …); it replaces
    /// the model config's value of that key. `extra_body`, `extra_headers`, `extra_query`
    /// and `timeout` act on the request as in the model config (merged over the config's).
    /// `model` and `messages` are the model's and ignored here; `stream` decides what `run`
    /// returns, while `complete` and `stream` force their own mode.
    pub fn set(mut self, key: impl Into<String>, value: impl Into<Value>) -> RequestOptions {
        self.config.insert(key.into(), value.into());
        self
    }

    /// The chaining session of this call, in [`ApiMode::Responses`](crate::ApiMode): calls
    /// of one session continue each other's responses (`previous_response_id`), calls of
    /// different sessions (one per user, say) never mix. Without it, a call uses the
    /// model's default session. Chat mode ignores it (nothing is sent).
    pub fn session(mut self, session: impl Into<String>) -> RequestOptions {
        self.session = Some(session.into());
        self
    }

    /// `temperature`: sampling temperature.
    pub fn temperature(self, temperature: f64) -> RequestOptions {
        self.set("temperature", temperature)
    }

    /// `top_p`: nucleus sampling mass.
    pub fn top_p(self, top_p: f64) -> RequestOptions {
        self.set("top_p", top_p)
    }

    /// `max_tokens`: the most tokens to generate.
    pub fn max_tokens(self, max_tokens: u32) -> RequestOptions {
        self.set("max_tokens", max_tokens)
    }

    /// `n`: how many answers to generate.
    pub fn n(self, n: u32) -> RequestOptions {
        self.set("n", n)
    }

    /// `seed`: for repeatable sampling, where the server supports it.
    pub fn seed(self, seed: i64) -> RequestOptions {
        self.set("seed", seed)
    }

    /// `stop`: sequences that end generation.
    pub fn stop<I, S>(self, stop: I) -> RequestOptions
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let stop: Vec<Value> = stop.into_iter().map(|s| Value::String(s.into())).collect();
        self.set("stop", stop)
    }

    /// `tool_choice`: whether and which tool the model must call.
    pub fn tool_choice(self, choice: ToolChoice) -> RequestOptions {
        let value = serde_json::to_value(&choice).unwrap_or(Value::Null);
        self.set("tool_choice", value)
    }

    /// The tools offered in this call, replacing the model config's (an empty list offers
    /// none). A `tools` argument of `run` wins over this.
    pub fn tools(mut self, tools: Vec<Tool>) -> RequestOptions {
        self.tools = Some(tools);
        self
    }

    /// The response format of this call. A `response_format` argument of `run` wins over
    /// this; a [`ResponseFormat::JsonSchema`] makes `run` a structured request.
    pub fn response_format(mut self, format: ResponseFormat) -> RequestOptions {
        self.response_format = Some(format);
        self
    }

    /// The timeout of this call, replacing the model's (and the config's `timeout` key):
    /// of each attempt end to end, or for a stream, of the wait for its head and of each
    /// silence between reads. Zero counts as unset.
    pub fn timeout(mut self, timeout: Duration) -> RequestOptions {
        self.timeout = (!timeout.is_zero()).then_some(timeout);
        self
    }

    /// The connect bound of this call (TCP connect, TLS handshake and proxy `CONNECT` of each
    /// attempt), replacing the model's. Zero counts as unset.
    pub fn connect_timeout(mut self, timeout: Duration) -> RequestOptions {
        self.connect_timeout = (!timeout.is_zero()).then_some(timeout);
        self
    }

    /// Retries after a failed first attempt, replacing the model's.
    pub fn max_retries(mut self, retries: u32) -> RequestOptions {
        self.max_retries = Some(retries);
        self
    }

    /// A header sent with this call (after the model's; it replaces one of the same name).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> RequestOptions {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A query parameter added to this call's URL.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> RequestOptions {
        self.query.push((name.into(), value.into()));
        self
    }

    /// A key merged into this call's body last, over everything else (like the config's
    /// `extra_body`).
    pub fn extra_body(mut self, key: impl Into<String>, value: impl Into<Value>) -> RequestOptions {
        self.extra_body.insert(key.into(), value.into());
        self
    }

    /// Whether these options change nothing (the model's settings apply as they are).
    pub fn is_empty(&self) -> bool {
        self.config.is_empty()
            && self.tools.is_none()
            && self.response_format.is_none()
            && self.timeout.is_none()
            && self.connect_timeout.is_none()
            && self.max_retries.is_none()
            && self.headers.is_empty()
            && self.query.is_empty()
            && self.extra_body.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn setters_record_config_keys_and_debug_hides_header_values() {
        let o = RequestOptions::new()
            .temperature(0.5)
            .max_tokens(7)
            .stop(["END"])
            .tool_choice(ToolChoice::required())
            .header("Authorization", "Bearer sk-do-not-print");
        assert_eq!(o.config["temperature"], json!(0.5));
        assert_eq!(o.config["max_tokens"], json!(7));
        assert_eq!(o.config["stop"], json!(["END"]));
        assert_eq!(o.config["tool_choice"], json!("required"));
        let shown = format!("{o:?}");
        assert!(shown.contains("Authorization") && !shown.contains("sk-do-not-print"));
        assert!(!o.is_empty());
        assert!(RequestOptions::new().is_empty());
        assert!(RequestOptions::new().timeout(Duration::ZERO).is_empty());
    }
}
