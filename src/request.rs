//! Request-body assembly (SPEC §2 points 1–2). Pure: messages and config in, the exact bytes
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
use crate::types::{ChatMessage, Tool};

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
    RequestOptions::from_config(config).map(|_| ())
}

struct RequestOptions {
    extra_body: Option<Map<String, Value>>,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    timeout: Option<Duration>,
}

impl RequestOptions {
    fn from_config(config: &Map<String, Value>) -> Result<RequestOptions> {
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
        Ok(RequestOptions {
            extra_body,
            headers: string_pairs(config.get("extra_headers"), "extra_headers")?,
            query: string_pairs(config.get("extra_query"), "extra_query")?,
            timeout,
        })
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
// The model calls `prepare_with_mode`; only the tests and the benches (`__private`) call this.
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
/// and `stream` entry points). The config is copied once either way.
pub(crate) fn prepare_with_mode(
    model: &str,
    messages: &[ChatMessage],
    config: &Map<String, Value>,
    tools: Option<&[Tool]>,
    response_format: Option<&Value>,
    force_stream: Option<bool>,
) -> Result<Prepared> {
    let options = RequestOptions::from_config(config)?;
    let mut rest: Map<String, Value> = config
        .iter()
        .filter(|(k, _)| !REQUEST_OPTIONS.contains(&k.as_str()) && !RESERVED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match force_stream {
        Some(true) => {
            rest.insert("stream".into(), Value::Bool(true));
        }
        Some(false) => {
            rest.shift_remove("stream");
            rest.shift_remove("stream_options");
        }
        None => {}
    }

    match tools {
        Some([]) => {
            rest.remove("tools");
        }
        Some(tools) => {
            let v = serde_json::to_value(tools)
                .map_err(|e| Error::InvalidInput(format!("tools cannot be serialized: {e}")))?;
            rest.insert("tools".into(), v);
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
        rest.insert("response_format".into(), rf.clone());
    }
    if let Some(extra) = options.extra_body {
        for (k, v) in extra {
            rest.insert(k, v);
        }
    }
    // Model and messages come from the model itself, even if extra_body names them.
    rest.remove("model");
    rest.remove("messages");

    let stream = truthy(rest.get("stream"));
    let messages = without_parsed(messages);
    let body = serde_json::to_vec(&Body {
        model,
        messages: &messages,
        rest: &rest,
    })
    .map_err(|e| Error::InvalidInput(format!("the request cannot be serialized: {e}")))?;

    Ok(Prepared {
        body,
        stream,
        headers: options.headers,
        query: options.query,
        timeout: options.timeout,
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

/// Serializes the body without first building a `Value` of the messages.
struct Body<'a> {
    model: &'a str,
    messages: &'a [ChatMessage],
    rest: &'a Map<String, Value>,
}

impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2 + self.rest.len()))?;
        m.serialize_entry("model", self.model)?;
        m.serialize_entry("messages", self.messages)?;
        for (k, v) in self.rest {
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
