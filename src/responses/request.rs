//! The chat body → the Responses body (docs/RESPONSES.md §2). Pure: the chat-form body the
//! rest of the crate prepared (config, call options and `extra_body` already merged) in,
//! the body to send out.

use serde_json::{json, Map, Value};

/// Chat parameters the Responses API has no place for; dropped with one warning.
const DROPPED: [&str; 5] = ["n", "stop", "stream_options", "logprobs", "top_logprobs"];

/// What to send of the conversation: the messages from `skip` on, and with
/// `previous_response_id` (then without the assistant's messages, which the server
/// already holds).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Chain<'a> {
    /// How many leading messages the previous response already answered.
    pub skip: usize,
    /// The response to continue from.
    pub previous_response_id: Option<&'a str>,
}

/// Translates a chat-completions body into a Responses body. Keys keep their order; keys
/// the table does not name pass through as they are.
pub(crate) fn translate(chat: &Map<String, Value>, chain: &Chain<'_>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut dropped: Vec<&str> = Vec::new();
    let max_output = chat
        .get("max_output_tokens")
        .or_else(|| chat.get("max_completion_tokens"))
        .or_else(|| chat.get("max_tokens"));
    for (key, value) in chat {
        match key.as_str() {
            "messages" => {
                let messages = value.as_array().map(Vec::as_slice).unwrap_or_default();
                let rest = messages.get(chain.skip..).unwrap_or_default();
                let input = input_items(rest, chain.previous_response_id.is_some());
                if let Some(id) = chain.previous_response_id {
                    out.insert("previous_response_id".into(), Value::String(id.to_owned()));
                }
                out.insert("input".into(), Value::Array(input));
            }
            "max_tokens" | "max_completion_tokens" | "max_output_tokens" => {
                if let Some(max) = max_output {
                    out.entry("max_output_tokens")
                        .or_insert_with(|| max.clone());
                }
            }
            "reasoning_effort" => {
                let reasoning = out.entry("reasoning").or_insert_with(|| json!({}));
                if let Value::Object(r) = reasoning {
                    r.entry("effort").or_insert_with(|| value.clone());
                }
            }
            "reasoning" => match (out.get_mut("reasoning"), value) {
                // `reasoning_effort` came first: the caller's own object wins, key by key.
                (Some(Value::Object(have)), Value::Object(given)) => {
                    for (k, v) in given {
                        have.insert(k.clone(), v.clone());
                    }
                }
                _ => {
                    out.insert(key.clone(), value.clone());
                }
            },
            "tools" => {
                let tools = match value {
                    Value::Array(tools) => Value::Array(tools.iter().map(tool).collect()),
                    other => other.clone(),
                };
                out.insert(key.clone(), tools);
            }
            "tool_choice" => {
                out.insert(key.clone(), tool_choice(value));
            }
            "response_format" => {
                let text = out.entry("text").or_insert_with(|| json!({}));
                if let Value::Object(text) = text {
                    text.entry("format").or_insert_with(|| text_format(value));
                }
            }
            "text" => match (out.get_mut("text"), value) {
                (Some(Value::Object(have)), Value::Object(given)) => {
                    for (k, v) in given {
                        have.insert(k.clone(), v.clone());
                    }
                }
                _ => {
                    out.insert(key.clone(), value.clone());
                }
            },
            "n" if value.as_u64() == Some(1) => {}
            k if DROPPED.contains(&k) => dropped.push(k),
            "stream" => {
                if crate::request::truthy(Some(value)) {
                    out.insert(key.clone(), Value::Bool(true));
                }
            }
            "previous_response_id" if chain.previous_response_id.is_some() => {}
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    // CAMEL's default, which chaining needs.
    out.entry("store").or_insert(Value::Bool(true));
    if !dropped.is_empty() {
        tracing::warn!(
            dropped = ?dropped,
            "the Responses API has no {dropped:?}: not sent"
        );
    }
    out
}

/// Whether the body turns storing (and so chaining) off.
pub(crate) fn store_off(chat: &Map<String, Value>) -> bool {
    matches!(chat.get("store"), Some(Value::Bool(false)))
}

/// The input items of `messages`, in order (docs/RESPONSES.md §2, "Input items").
fn input_items(messages: &[Value], chained: bool) -> Vec<Value> {
    let mut items = Vec::with_capacity(messages.len());
    for m in messages {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
        if chained && role == "assistant" {
            continue;
        }
        match role {
            "tool" => {
                let call_id = m.get("tool_call_id").cloned().unwrap_or(Value::Null);
                items.push(json!({
                    "type": "function_call_output",
                    "call_id": call_id,
                    "output": output_text(m.get("content")),
                }));
            }
            "assistant" => {
                let calls = m.get("tool_calls").and_then(Value::as_array);
                let content = m.get("content");
                let empty = match content {
                    None | Some(Value::Null) => true,
                    Some(Value::String(s)) => s.is_empty(),
                    Some(Value::Array(a)) => a.is_empty(),
                    Some(_) => false,
                };
                if !empty || calls.is_none() {
                    items.push(message_item(role, content.unwrap_or(&Value::Null), true));
                }
                for call in calls.into_iter().flatten() {
                    let function = call.get("function");
                    let field = |k: &str| {
                        function
                            .and_then(|f| f.get(k))
                            .cloned()
                            .unwrap_or(Value::String(String::new()))
                    };
                    items.push(json!({
                        "type": "function_call",
                        "call_id": call.get("id").cloned().unwrap_or(Value::Null),
                        "name": field("name"),
                        "arguments": field("arguments"),
                    }));
                }
            }
            _ => items.push(message_item(
                role,
                m.get("content").unwrap_or(&Value::Null),
                false,
            )),
        }
    }
    items
}

/// `{"type":"message", role, content}`: string content as it is, parts translated.
fn message_item(role: &str, content: &Value, assistant: bool) -> Value {
    let content = match content {
        Value::Array(parts) => Value::Array(parts.iter().map(|p| part(p, assistant)).collect()),
        Value::Null => Value::String(String::new()),
        other => other.clone(),
    };
    json!({"type": "message", "role": role, "content": content})
}

/// One chat content part as a Responses content part.
fn part(p: &Value, assistant: bool) -> Value {
    let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "text" => {
            let text = p
                .get("text")
                .cloned()
                .unwrap_or(Value::String(String::new()));
            let kind = if assistant {
                "output_text"
            } else {
                "input_text"
            };
            json!({"type": kind, "text": text})
        }
        "refusal" if assistant => {
            let refusal = p
                .get("refusal")
                .cloned()
                .unwrap_or(Value::String(String::new()));
            json!({"type": "refusal", "refusal": refusal})
        }
        "image_url" => {
            let image = p.get("image_url");
            let (url, detail) = match image {
                Some(Value::String(url)) => (Value::String(url.clone()), None),
                Some(obj) => (
                    obj.get("url").cloned().unwrap_or(Value::Null),
                    obj.get("detail").filter(|d| !d.is_null()).cloned(),
                ),
                None => (Value::Null, None),
            };
            let mut out = Map::new();
            out.insert("type".into(), "input_image".into());
            out.insert("image_url".into(), url);
            if let Some(detail) = detail {
                out.insert("detail".into(), detail);
            }
            Value::Object(out)
        }
        "file" => {
            let mut out = Map::new();
            out.insert("type".into(), "input_file".into());
            if let Some(Value::Object(file)) = p.get("file") {
                for (k, v) in file {
                    out.insert(k.clone(), v.clone());
                }
            }
            Value::Object(out)
        }
        _ => p.clone(),
    }
}

/// A tool message's content as the `output` string: text parts joined.
fn output_text(content: Option<&Value>) -> Value {
    match content {
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(Value::Array(parts)) => Value::String(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect(),
        ),
        None | Some(Value::Null) => Value::String(String::new()),
        Some(other) => Value::String(other.to_string()),
    }
}

/// `{"type":"function","function":{…}}` → `{"type":"function", …}`; other tools as they are.
fn tool(t: &Value) -> Value {
    let is_function = t.get("type").and_then(Value::as_str) == Some("function");
    match (is_function, t.get("function")) {
        (true, Some(Value::Object(function))) => {
            let mut out = Map::new();
            out.insert("type".into(), "function".into());
            for (k, v) in function {
                out.insert(k.clone(), v.clone());
            }
            // Anything else beside `function` (rare) stays too.
            if let Value::Object(rest) = t {
                for (k, v) in rest {
                    if k != "type" && k != "function" {
                        out.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
            Value::Object(out)
        }
        _ => t.clone(),
    }
}

/// `{"type":"function","function":{"name":n}}` → `{"type":"function","name":n}`.
fn tool_choice(v: &Value) -> Value {
    match v.get("function").and_then(|f| f.get("name")) {
        Some(name) if v.get("type").and_then(Value::as_str) == Some("function") => {
            json!({"type": "function", "name": name})
        }
        _ => v.clone(),
    }
}

/// A chat `response_format` as `text.format`.
fn text_format(v: &Value) -> Value {
    match (v.get("type").and_then(Value::as_str), v.get("json_schema")) {
        (Some("json_schema"), Some(Value::Object(schema))) => {
            let mut out = Map::new();
            out.insert("type".into(), "json_schema".into());
            for (k, v) in schema {
                out.insert(k.clone(), v.clone());
            }
            Value::Object(out)
        }
        _ => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(chat: Value) -> Value {
        Value::Object(translate(chat.as_object().unwrap(), &Chain::default()))
    }

    #[test]
    fn the_table() {
        let out = t(json!({
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 5,
            "reasoning_effort": "low",
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {}, "strict": true}},
                      {"type": "web_search"}],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {}, "strict": true}},
            "n": 2, "stop": ["x"], "stream_options": {}, "logprobs": true, "top_logprobs": 2,
            "stream": true,
            "temperature": 0.5, "top_k": 3
        }));
        assert_eq!(
            out,
            json!({
                "model": "m",
                "input": [{"type": "message", "role": "user", "content": "hi"}],
                "max_output_tokens": 5,
                "reasoning": {"effort": "low"},
                "tools": [{"type": "function", "name": "f", "parameters": {}, "strict": true},
                          {"type": "web_search"}],
                "tool_choice": {"type": "function", "name": "f"},
                "text": {"format": {"type": "json_schema", "name": "a", "schema": {}, "strict": true}},
                "stream": true,
                "temperature": 0.5, "top_k": 3,
                "store": true
            })
        );
    }

    #[test]
    fn max_output_tokens_wins_and_store_is_kept() {
        let out = t(
            json!({"max_tokens": 5, "max_output_tokens": 9, "store": false, "stream": false, "n": 1}),
        );
        assert_eq!(out, json!({"max_output_tokens": 9, "store": false}));
        let out = t(json!({"max_completion_tokens": 7, "max_tokens": 5}));
        assert_eq!(out, json!({"max_output_tokens": 7, "store": true}));
        let out = t(json!({"response_format": {"type": "json_object"}, "tool_choice": "required"}));
        assert_eq!(
            out,
            json!({"text": {"format": {"type": "json_object"}}, "tool_choice": "required", "store": true})
        );
    }

    #[test]
    fn input_items() {
        let out = t(json!({"messages": [
            {"role": "system", "content": "s"},
            {"role": "developer", "content": "d", "name": "x"},
            {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "http://i", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "http://j"}},
                {"type": "file", "file": {"file_id": "f1"}},
                {"type": "input_audio", "input_audio": {"data": "a", "format": "wav"}}
            ]},
            {"role": "assistant", "content": [{"type": "text", "text": "ok"}], "reasoning_content": "r"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
            {"role": "assistant", "content": "done", "tool_calls": [
                {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{\"a\":1}"}}]}
        ]}));
        assert_eq!(
            out["input"],
            json!([
                {"type": "message", "role": "system", "content": "s"},
                {"type": "message", "role": "developer", "content": "d"},
                {"type": "message", "role": "user", "content": [
                    {"type": "input_text", "text": "look"},
                    {"type": "input_image", "image_url": "http://i", "detail": "low"},
                    {"type": "input_image", "image_url": "http://j"},
                    {"type": "input_file", "file_id": "f1"},
                    {"type": "input_audio", "input_audio": {"data": "a", "format": "wav"}}
                ]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "42"},
                {"type": "message", "role": "assistant", "content": "done"},
                {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{\"a\":1}"}
            ])
        );
    }

    #[test]
    fn a_chained_call_sends_only_the_new_messages_without_the_assistant() {
        let chat = json!({"model": "m", "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"}
        ]});
        let chain = Chain {
            skip: 1,
            previous_response_id: Some("resp_1"),
        };
        let out = Value::Object(translate(chat.as_object().unwrap(), &chain));
        assert_eq!(
            out,
            json!({
                "model": "m",
                "previous_response_id": "resp_1",
                "input": [{"type": "message", "role": "user", "content": "c"}],
                "store": true
            })
        );
    }
}
