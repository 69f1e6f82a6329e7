//! Request-body assembly (docs/SPEC.md §2 points 1–2). Pure: messages and config in, the exact bytes
//! to send and the per-call transport options out.
//!
//! Exact out: the body holds `model`, `messages`, and the caller's config keys — nothing the
//! caller did not set. Unknown config keys pass through, because server-specific parameters
//! (`top_k`, `min_p`, `chat_template_kwargs`, …) are the point of a compatible client.

use std::borrow::Cow;
use std::time::Duration;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::types::{ApiMode, ChatMessage, Content, RequestOptions, Tool};

/// Config keys that act on the request instead of being sent in the body.
const REQUEST_OPTIONS: [&str; 4] = ["extra_body", "extra_headers", "extra_query", "timeout"];
/// Config keys the model itself fills.
const RESERVED: [&str; 2] = ["model", "messages"];

/// A request ready for the transport.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The JSON body.
    pub body: Vec<u8>,
    /// Whether the config asked for a stream (Python truthiness of `stream`).
    pub stream: bool,
    /// `extra_headers` of this call.
    pub headers: Vec<(String, String)>,
    /// `extra_query` of this call.
    pub query: Vec<(String, String)>,
    /// `timeout` of this call, overriding the model's.
    pub timeout: Option<Duration>,
    /// The per-call connect bound, overriding the model's.
    pub connect_timeout: Option<Duration>,
    /// The per-call retries, overriding the model's.
    pub max_retries: Option<u32>,
    /// A json_object fallback is ready: an error naming the response format ends the
    /// attempts at once instead of being retried.
    pub format_fallback: bool,
    /// The wire protocol of `body`: chat form until the model translates it.
    pub api_mode: ApiMode,
    /// The chaining session of this call (`RequestOptions::session`); `None` is the
    /// model's default session.
    pub session: Option<String>,
}

impl Prepared {
    /// The path after the base URL this request goes to.
    pub fn endpoint(&self) -> &'static str {
        self.api_mode.endpoint()
    }
}

/// Checks a model config once, at `build()`, so that mistakes surface before any request.
pub(crate) fn validate_config(config: &Map<String, Value>) -> Result<()> {
    for key in RESERVED {
        if config.contains_key(key) {
            return Err(Error::Config(format!(
                "model_config must not contain {key:?}: the model sets it"
            )));
        }
    }
    ConfigOptions::from_config(config).map(|_| ())
}

struct ConfigOptions {
    extra_body: Option<Map<String, Value>>,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    timeout: Option<Duration>,
}

impl ConfigOptions {
    fn from_config(config: &Map<String, Value>) -> Result<ConfigOptions> {
        let extra_body = match config.get("extra_body") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m.clone()),
            Some(other) => {
                return Err(Error::Config(format!(
                    "extra_body must be a JSON object, got {other}"
                )))
            }
        };
        let timeout = match config.get("timeout") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_f64() {
                Some(s) if s.is_finite() && s > 0.0 && s <= 1e9 => Some(Duration::from_secs_f64(s)),
                Some(0.0) => None,
                _ => {
                    return Err(Error::Config(format!(
                        "timeout in model_config must be a positive number of seconds, got {v}"
                    )))
                }
            },
        };
        Ok(ConfigOptions {
            extra_body,
            headers: string_pairs(config.get("extra_headers"), "extra_headers")?,
            query: string_pairs(config.get("extra_query"), "extra_query")?,
            timeout,
        })
    }
}

impl ConfigOptions {
    /// Lays a call's `extra_*` and `timeout` over the config's: bodies merged key by key,
    /// headers and query parameters appended (a later header replaces an earlier one when
    /// sent), the call's timeout first.
    fn merge(&mut self, call: ConfigOptions) {
        if let Some(extra) = call.extra_body {
            self.extra_body.get_or_insert_with(Map::new).extend(extra);
        }
        self.headers.extend(call.headers);
        self.query.extend(call.query);
        if call.timeout.is_some() {
            self.timeout = call.timeout;
        }
    }
}

fn string_pairs(v: Option<&Value>, what: &str) -> Result<Vec<(String, String)>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => Ok(m
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect()),
        Some(other) => Err(Error::Config(format!(
            "{what} must be a JSON object of strings, got {other}"
        ))),
    }
}

/// Request parameters a chat-completions server knows: OpenAI's, this crate's request
/// options, and the common extensions of vLLM, llama.cpp, Ollama and SGLang (so that their
/// own keys, such as `top_k` next to `top_p`, are not taken for typos).
const KNOWN_PARAMETERS: &[&str] = &[
    "audio",
    "best_of",
    "cache_prompt",
    "chat_template",
    "chat_template_kwargs",
    "dry_multiplier",
    "dynatemp_range",
    "enable_thinking",
    "extra_body",
    "extra_headers",
    "extra_query",
    "frequency_penalty",
    "function_call",
    "functions",
    "grammar",
    "guided_choice",
    "guided_grammar",
    "guided_json",
    "guided_regex",
    "id_slot",
    "ignore_eos",
    "include_reasoning",
    "keep_alive",
    "length_penalty",
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "messages",
    "metadata",
    "min_p",
    "min_tokens",
    "mirostat",
    "modalities",
    "model",
    "n",
    "n_probs",
    "num_ctx",
    "num_predict",
    "parallel_tool_calls",
    "penalty_last_n",
    "prediction",
    "presence_penalty",
    "prompt_cache_key",
    "reasoning",
    "reasoning_effort",
    "repeat_penalty",
    "repetition_penalty",
    "response_format",
    "safety_identifier",
    "samplers",
    "seed",
    "service_tier",
    "skip_special_tokens",
    "stop",
    "stop_token_ids",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "tfs_z",
    "timeout",
    "tool_choice",
    "tools",
    "top_k",
    "top_logprobs",
    "top_p",
    "typical_p",
    "use_beam_search",
    "user",
    "verbosity",
    "web_search_options",
];

/// Keys of `config` that look like misspelt parameters: unknown, but one or two edits away
/// from a known one (`max_token`, `temprature`), each with the parameter it resembles.
/// Such keys are still sent (servers have keys of their own); the model warns about them.
pub(crate) fn likely_typos(config: &Map<String, Value>) -> Vec<(&str, &'static str)> {
    config
        .keys()
        .filter(|key| key.len() >= 4 && !KNOWN_PARAMETERS.contains(&key.as_str()))
        .filter_map(|key| {
            KNOWN_PARAMETERS
                .iter()
                .filter(|known| known.len() >= 5)
                .map(|known| (edit_distance(key, known), *known))
                .filter(|(d, _)| *d <= 2)
                .min()
                .map(|(_, known)| (key.as_str(), known))
        })
        .collect()
}

/// Levenshtein distance over bytes, stopping early past 2 (all that matters here).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > 2 {
        return 3;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            row[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1);
        }
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
}

/// Warns once per likely typo among `config`'s keys (see [`likely_typos`]).
pub(crate) fn warn_about_typos(config: &Map<String, Value>) {
    for (key, known) in likely_typos(config) {
        tracing::warn!(
            key,
            similar_to = known,
            "request parameter {key:?} is not one servers know; did you mean {known:?}? It is sent as given"
        );
    }
}

/// Python truthiness, as CAMEL tests `stream`.
pub(crate) fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// Builds the body for one `run`.
///
/// `tools`: `Some(non-empty)` replaces the config's tools, `Some(empty)` removes them, `None`
/// keeps the config's. With no tools left, `parallel_tool_calls` is dropped (servers reject
/// it alone). `response_format`, when given, replaces the config's.
// The model calls `prepare_call`; only the tests and the benches (`__private`) call this.
#[cfg(any(test, feature = "_internal"))]
pub fn prepare(
    model: &str,
    messages: &[ChatMessage],
    config: &Map<String, Value>,
    tools: Option<&[Tool]>,
    response_format: Option<&Value>,
) -> Result<Prepared> {
    prepare_with_mode(model, messages, config, tools, response_format, None)
}

/// [`prepare`], with the mode forced whatever the config says: `Some(true)` sends
/// `"stream": true`, `Some(false)` drops `stream` and `stream_options` (the typed `complete`
/// and `stream` entry points).
#[cfg(any(test, feature = "_internal"))]
pub(crate) fn prepare_with_mode(
    model: &str,
    messages: &[ChatMessage],
    config: &Map<String, Value>,
    tools: Option<&[Tool]>,
    response_format: Option<&Value>,
    force_stream: Option<bool>,
) -> Result<Prepared> {
    let call = Call {
        tools,
        response_format,
        force_stream,
        options: &RequestOptions::default(),
    };
    prepare_call(model, messages, config, &call)
}

/// What one call adds to the model config.
pub(crate) struct Call<'a> {
    /// The call's `tools` argument, else the options', else the config's.
    pub tools: Option<&'a [Tool]>,
    /// The call's response format (wire form), else the options', else the config's.
    pub response_format: Option<&'a Value>,
    /// `Some`: stream or not whatever the config says.
    pub force_stream: Option<bool>,
    /// The per-call options, laid over the config.
    pub options: &'a RequestOptions,
}

/// The body and transport settings of one call: the model config with the call's options
/// laid over it (config keys replaced, `extra_*` merged, the call's last), copied once.
pub(crate) fn prepare_call(
    model: &str,
    messages: &[ChatMessage],
    config: &Map<String, Value>,
    call: &Call<'_>,
) -> Result<Prepared> {
    let opts = call.options;
    let mut options = ConfigOptions::from_config(config)?;
    if !opts.config.is_empty() {
        let overlay = ConfigOptions::from_config(&opts.config)
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        options.merge(overlay);
    }
    let sent = |(k, _): &(&String, &Value)| {
        !REQUEST_OPTIONS.contains(&k.as_str()) && !RESERVED.contains(&k.as_str())
    };
    // The body's other fields, borrowed from the config and the call where they can be:
    // a list rather than a map, because there are a handful and each is only copied out.
    let mut rest = Fields::with_capacity(config.len() + 4);
    for (k, v) in config.iter().filter(sent) {
        rest.insert(Cow::Borrowed(k), Cow::Borrowed(v));
    }
    for (k, v) in opts.config.iter().filter(sent) {
        rest.insert(Cow::Borrowed(k), Cow::Borrowed(v));
    }
    match call.force_stream {
        Some(true) => {
            rest.insert(Cow::Borrowed("stream"), Cow::Owned(Value::Bool(true)));
        }
        Some(false) => {
            rest.remove("stream");
            rest.remove("stream_options");
        }
        None => {}
    }

    let response_format_wire = match (call.response_format, &opts.response_format) {
        (None, Some(rf)) => Some(rf.to_wire()),
        _ => None,
    };
    let response_format = call.response_format.or(response_format_wire.as_ref());
    match call.tools.or(opts.tools.as_deref()) {
        Some([]) => {
            rest.remove("tools");
        }
        Some(tools) => {
            let v = serde_json::to_value(tools)
                .map_err(|e| Error::InvalidInput(format!("tools cannot be serialized: {e}")))?;
            rest.insert(Cow::Borrowed("tools"), Cow::Owned(v));
        }
        None => {}
    }
    let has_tools = match rest.get("tools") {
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Null) | None => false,
        Some(_) => true,
    };
    if !has_tools {
        rest.remove("tools");
        rest.remove("parallel_tool_calls");
    }
    if let Some(rf) = response_format {
        rest.insert(Cow::Borrowed("response_format"), Cow::Borrowed(rf));
    }
    for (k, v) in options.extra_body.into_iter().flatten() {
        rest.insert(Cow::Owned(k), Cow::Owned(v));
    }
    for (k, v) in &opts.extra_body {
        rest.insert(Cow::Borrowed(k), Cow::Borrowed(v));
    }
    // Model and messages come from the model itself, even if extra_body names them.
    rest.remove("model");
    rest.remove("messages");

    let stream = truthy(rest.get("stream"));
    let messages = without_parsed(messages);
    // Reserved up front: serde_json's own vector starts at 128 bytes and doubles.
    let mut body = Vec::with_capacity(body_capacity(&messages));
    serde_json::to_writer(
        &mut body,
        &Body {
            model,
            messages: &messages,
            rest: &rest,
        },
    )
    .map_err(|e| Error::InvalidInput(format!("the request cannot be serialized: {e}")))?;

    let mut headers = options.headers;
    headers.extend(opts.headers.iter().cloned());
    let mut query = options.query;
    query.extend(opts.query.iter().cloned());
    Ok(Prepared {
        body,
        stream,
        headers,
        query,
        timeout: opts.timeout.or(options.timeout),
        connect_timeout: opts.connect_timeout,
        max_retries: opts.max_retries,
        format_fallback: false,
        api_mode: ApiMode::ChatCompletions,
        session: opts.session.clone(),
    })
}

/// About the size of a body with these messages: their text plus room for the JSON around
/// it and the parameters (an underestimate only costs the vector a reallocation).
fn body_capacity(messages: &[ChatMessage]) -> usize {
    messages.iter().fold(256, |n, m| {
        n + 48
            + match &m.content {
                Some(Content::Text(t)) => t.len() + t.len() / 16,
                Some(Content::Parts(parts)) => 128 * parts.len(),
                None => 0,
            }
    })
}

/// `parsed` is a client-side field; a message from a structured completion that is sent
/// back must not carry it.
fn without_parsed(messages: &[ChatMessage]) -> Cow<'_, [ChatMessage]> {
    if messages.iter().all(|m| m.parsed.is_none()) {
        return Cow::Borrowed(messages);
    }
    Cow::Owned(
        messages
            .iter()
            .map(|m| ChatMessage {
                parsed: None,
                ..m.clone()
            })
            .collect(),
    )
}

/// A body's fields after `model` and `messages`, in order, each name once: inserting a
/// name already there replaces its value in place, as a JSON map would.
struct Fields<'a>(Vec<(Cow<'a, str>, Cow<'a, Value>)>);

impl<'a> Fields<'a> {
    fn with_capacity(n: usize) -> Fields<'a> {
        Fields(Vec::with_capacity(n))
    }

    fn insert(&mut self, key: Cow<'a, str>, value: Cow<'a, Value>) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| &**v)
    }

    /// Removes `key`, keeping the order of the others.
    fn remove(&mut self, key: &str) {
        if let Some(at) = self.0.iter().position(|(k, _)| k == key) {
            self.0.remove(at);
        }
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Serializes the body without first building a `Value` of the messages.
struct Body<'a> {
    model: &'a str,
    messages: &'a [ChatMessage],
    rest: &'a Fields<'a>,
}

impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2 + self.rest.len()))?;
        m.serialize_entry("model", self.model)?;
        m.serialize_entry("messages", self.messages)?;
        for (k, v) in &self.rest.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn body(p: &Prepared) -> Value {
        serde_json::from_slice(&p.body).unwrap()
    }

    fn tool(name: &str) -> Tool {
        Tool::function(name, "d", json!({"type":"object"}))
    }

    #[test]
    fn plain_body_has_only_what_was_set() {
        let p = prepare("m", &[ChatMessage::user("hi")], &Map::new(), None, None).unwrap();
        assert_eq!(
            body(&p),
            json!({"model":"m","messages":[{"role":"user","content":"hi"}]})
        );
        assert!(!p.stream);
    }

    #[test]
    fn config_merge_and_unknown_keys_pass_through() {
        let c =
            cfg(json!({"temperature":0.2,"top_k":40,"chat_template_kwargs":{"a":1},"stream":1}));
        let p = prepare("m", &[], &c, None, None).unwrap();
        let b = body(&p);
        assert_eq!(b["top_k"], 40);
        assert_eq!(b["chat_template_kwargs"], json!({"a":1}));
        assert_eq!(b["stream"], 1);
        assert!(p.stream);
    }

    #[test]
    fn near_misses_of_known_parameters_are_flagged_and_real_ones_are_not() {
        let c = cfg(json!({
            "max_token": 10, "temprature": 0.2, "top_k": 40, "top_p": 0.9,
            "chat_template_kwargs": {}, "my_server_flag": true, "seeed": 1, "xy": 1
        }));
        assert_eq!(
            likely_typos(&c),
            vec![("max_token", "max_tokens"), ("temprature", "temperature")]
        );
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("max_tokens", "max_tokens"), 0);
    }

    #[test]
    fn dropped_keys_leave_the_others_in_their_order() {
        // Under `preserve_order`, `Map::remove` would move the last key into the gap.
        let c = cfg(json!({
            "a": 1, "tools": [], "b": 2, "parallel_tool_calls": true, "stream": true,
            "stream_options": {}, "c": 3, "d": 4
        }));
        let p = prepare_with_mode("m", &[], &c, None, None, Some(false)).unwrap();
        let text = String::from_utf8(p.body).unwrap();
        assert_eq!(
            text,
            r#"{"model":"m","messages":[],"a":1,"b":2,"c":3,"d":4}"#
        );
    }

    #[test]
    fn tools_resolution() {
        let c = cfg(json!({"tools":[tool("cfg")],"parallel_tool_calls":false}));
        let b = body(&prepare("m", &[], &c, None, None).unwrap());
        assert_eq!(b["tools"][0]["function"]["name"], "cfg");
        assert_eq!(b["parallel_tool_calls"], false);
        let b = body(&prepare("m", &[], &c, Some(&[tool("arg")]), None).unwrap());
        assert_eq!(b["tools"].as_array().unwrap().len(), 1);
        assert_eq!(b["tools"][0]["function"]["name"], "arg");
        let b = body(&prepare("m", &[], &c, Some(&[]), None).unwrap());
        assert!(
            b.get("tools").is_none() && b.get("parallel_tool_calls").is_none(),
            "{b}"
        );
        let no_tools = cfg(json!({"parallel_tool_calls":true}));
        let b = body(&prepare("m", &[], &no_tools, None, None).unwrap());
        assert!(b.get("parallel_tool_calls").is_none());
        let empty_cfg_tools = cfg(json!({"tools":[],"parallel_tool_calls":true}));
        let b = body(&prepare("m", &[], &empty_cfg_tools, None, None).unwrap());
        assert!(b.get("tools").is_none() && b.get("parallel_tool_calls").is_none());
    }

    #[test]
    fn request_options_are_not_sent() {
        let c = cfg(json!({
            "extra_body": {"min_p": 0.1, "model": "sneaky"},
            "extra_headers": {"X-A": "1", "X-N": 2, "X-Gone": null},
            "extra_query": {"q": "v"},
            "timeout": 1.5
        }));
        let p = prepare("m", &[], &c, None, None).unwrap();
        let b = body(&p);
        assert_eq!(b, json!({"model":"m","messages":[],"min_p":0.1}));
        assert_eq!(
            p.headers,
            vec![("X-A".into(), "1".into()), ("X-N".into(), "2".into())]
        );
        assert_eq!(p.query, vec![("q".into(), "v".into())]);
        assert_eq!(p.timeout, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn response_format_argument_wins() {
        let c = cfg(json!({"response_format":{"type":"text"}}));
        let rf = json!({"type":"json_object"});
        let p = prepare("m", &[], &c, None, Some(&rf)).unwrap();
        assert_eq!(body(&p)["response_format"], rf);
    }

    #[test]
    fn a_forced_mode_overrides_the_config() {
        let c = cfg(json!({"stream": true, "stream_options": {"include_usage": true}, "top_k": 2}));
        let p = prepare_with_mode("m", &[], &c, None, None, Some(false)).unwrap();
        assert!(!p.stream);
        assert_eq!(body(&p), json!({"model":"m","messages":[],"top_k":2}));
        let p = prepare_with_mode("m", &[], &cfg(json!({"stream": 0})), None, None, Some(true))
            .unwrap();
        assert!(p.stream);
        assert_eq!(body(&p)["stream"], true);
    }

    #[test]
    fn bad_config_is_rejected() {
        assert!(validate_config(&cfg(json!({"model":"x"}))).is_err());
        assert!(validate_config(&cfg(json!({"extra_body":[1]}))).is_err());
        assert!(validate_config(&cfg(json!({"timeout":"soon"}))).is_err());
        assert!(validate_config(&cfg(json!({"extra_headers":"x"}))).is_err());
        assert!(validate_config(&cfg(json!({"temperature":0}))).is_ok());
    }

    #[test]
    fn parsed_is_never_sent() {
        let mut m = ChatMessage::assistant("{}");
        m.parsed = Some(json!({}));
        let b = body(&prepare("m", &[m], &Map::new(), None, None).unwrap());
        assert!(b["messages"][0].get("parsed").is_none());
    }

    #[test]
    fn truthiness() {
        for (v, t) in [
            (json!(true), true),
            (json!(0), false),
            (json!("x"), true),
            (json!(""), false),
            (json!(null), false),
            (json!([1]), true),
        ] {
            assert_eq!(truthy(Some(&v)), t, "{v}");
        }
    }
}
