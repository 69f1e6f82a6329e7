//! A Responses answer → a [`ChatCompletion`] (docs/RESPONSES.md §4). Pure.
//!
//! The converted completion is built as chat-completion JSON and read by the crate's own
//! lenient deserializer, so it is exactly what a chat server saying the same would give.

use serde_json::{json, Map, Value};

use crate::error::{ApiError, Error, Result};
use crate::types::{ChatCompletion, Usage};

/// Top-level fields the conversion consumes; every other field is kept in `extra`.
const CONSUMED: [&str; 6] = ["id", "object", "created_at", "model", "output", "usage"];

/// Decodes a successful Responses body. `model` names the completion when the response
/// does not; `secret` (the API key) is redacted from any error.
pub(crate) fn completion(body: &[u8], model: &str, secret: Option<&str>) -> Result<ChatCompletion> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Error::decode_body(
            format!("the response is not a Responses answer: {e}"),
            body,
            secret,
        )
    })?;
    let Value::Object(response) = value else {
        return Err(Error::decode_body(
            "the response is not a Responses answer: not a JSON object",
            body,
            secret,
        ));
    };
    // A failed response, or a proxy's 200 carrying an error object.
    let failed = response.get("status").and_then(Value::as_str) == Some("failed");
    let error_only = !response.contains_key("output")
        && (response.contains_key("error") || response.get("object") == Some(&json!("error")));
    if failed || error_only {
        return Err(Error::Api(Box::new(ApiError::from_body(
            Some(200),
            body,
            None,
            secret,
        ))));
    }
    convert(&response, model).map_err(|e| {
        Error::decode_body(
            format!("the response cannot be converted: {e}"),
            body,
            secret,
        )
    })
}

/// The completion a response object stands for.
pub(crate) fn convert(
    response: &Map<String, Value>,
    model: &str,
) -> std::result::Result<ChatCompletion, serde_json::Error> {
    let output = response
        .get("output")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut content: Option<String> = None;
    let mut refusal: Option<String> = None;
    let mut summaries: Vec<&str> = Vec::new();
    let mut reasoning_texts: Vec<&str> = Vec::new();
    let mut calls: Vec<Value> = Vec::new();
    for item in output {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                for part in item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    match part.get("type").and_then(Value::as_str) {
                        Some("output_text") => {
                            let text = part.get("text").and_then(Value::as_str).unwrap_or("");
                            content.get_or_insert_with(String::new).push_str(text);
                        }
                        Some("refusal") => {
                            let text = part.get("refusal").and_then(Value::as_str).unwrap_or("");
                            refusal.get_or_insert_with(String::new).push_str(text);
                        }
                        _ => {}
                    }
                }
            }
            Some("function_call") => calls.push(tool_call(item)),
            Some("reasoning") => {
                summaries.extend(texts(item.get("summary")));
                reasoning_texts.extend(texts(item.get("content")));
            }
            _ => {}
        }
    }
    let reasoning = if summaries.is_empty() {
        reasoning_texts
    } else {
        summaries
    };
    let finish = finish_reason(response, !calls.is_empty());
    let mut message = Map::new();
    message.insert("role".into(), "assistant".into());
    message.insert("content".into(), content.map_or(Value::Null, Value::String));
    if let Some(refusal) = refusal {
        message.insert("refusal".into(), refusal.into());
    }
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    if !reasoning.is_empty() {
        message.insert("reasoning_content".into(), reasoning.join("\n").into());
    }
    let mut chat = Map::new();
    chat.insert("id".into(), response.get("id").cloned().unwrap_or_default());
    chat.insert("object".into(), "chat.completion".into());
    chat.insert(
        "created".into(),
        response.get("created_at").cloned().unwrap_or(json!(0)),
    );
    chat.insert("model".into(), model_of(response, model).into());
    chat.insert(
        "choices".into(),
        json!([{"index": 0, "message": message, "finish_reason": finish}]),
    );
    if let Some(usage) = response.get("usage").and_then(usage) {
        chat.insert("usage".into(), serde_json::to_value(usage)?);
    }
    for (k, v) in response {
        if !CONSUMED.contains(&k.as_str()) {
            chat.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    serde_json::from_value(Value::Object(chat))
}

/// The response's `model`, else the configured name.
pub(crate) fn model_of<'a>(response: &'a Map<String, Value>, model: &'a str) -> &'a str {
    response
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .unwrap_or(model)
}

/// A `function_call` item as a chat tool call.
pub(crate) fn tool_call(item: &Value) -> Value {
    let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    json!({
        "id": s("call_id"),
        "type": "function",
        "function": {"name": s("name"), "arguments": s("arguments")}
    })
}

/// The texts of a reasoning item's `summary` or `content` parts.
fn texts(parts: Option<&Value>) -> impl Iterator<Item = &str> {
    parts
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
}

/// `incomplete` for the token limit → `length`, for the filter → `content_filter`;
/// otherwise `tool_calls` when there are calls, else `stop`.
pub(crate) fn finish_reason(response: &Map<String, Value>, has_calls: bool) -> &'static str {
    if response.get("status").and_then(Value::as_str) == Some("incomplete") {
        let reason = response
            .get("incomplete_details")
            .and_then(|d| d.get("reason"))
            .and_then(Value::as_str);
        match reason {
            Some("max_output_tokens") => return "length",
            Some("content_filter") => return "content_filter",
            _ => {}
        }
    }
    if has_calls {
        "tool_calls"
    } else {
        "stop"
    }
}

/// Responses usage as chat usage, details included; other fields kept.
pub(crate) fn usage(u: &Value) -> Option<Usage> {
    let u = u.as_object()?;
    let mut out = Map::new();
    let n = |k: &str| u.get(k).cloned().unwrap_or(json!(0));
    out.insert("prompt_tokens".into(), n("input_tokens"));
    out.insert("completion_tokens".into(), n("output_tokens"));
    out.insert("total_tokens".into(), n("total_tokens"));
    if let Some(details) = u.get("input_tokens_details").filter(|d| d.is_object()) {
        out.insert("prompt_tokens_details".into(), details.clone());
    }
    if let Some(details) = u.get("output_tokens_details").filter(|d| d.is_object()) {
        out.insert("completion_tokens_details".into(), details.clone());
    }
    for (k, v) in u {
        let mapped = [
            "input_tokens",
            "output_tokens",
            "total_tokens",
            "input_tokens_details",
            "output_tokens_details",
        ];
        if !mapped.contains(&k.as_str()) {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    serde_json::from_value(Value::Object(out)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::FinishReason;

    fn conv(v: Value) -> Result<ChatCompletion> {
        completion(v.to_string().as_bytes(), "configured", None)
    }

    #[test]
    fn text_refusal_calls_reasoning_and_usage() {
        let c = conv(json!({
            "id": "resp_1", "object": "response", "created_at": 7, "status": "completed",
            "output": [
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "a"},
                                                 {"type": "summary_text", "text": "b"}],
                 "content": [{"type": "reasoning_text", "text": "ignored"}]},
                {"type": "message", "role": "assistant", "content": [
                    {"type": "output_text", "text": "Hel"}, {"type": "refusal", "refusal": "no"},
                    {"type": "output_text", "text": "lo"}]},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
            ],
            "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7,
                      "input_tokens_details": {"cached_tokens": 2},
                      "output_tokens_details": {"reasoning_tokens": 1}},
            "timings": {"x": 1}
        }))
        .unwrap();
        assert_eq!(c.id, "resp_1");
        assert_eq!(c.object, "chat.completion");
        assert_eq!(c.created, 7);
        assert_eq!(c.model, "configured");
        assert_eq!(c.extra["timings"], json!({"x": 1}));
        let choice = &c.choices[0];
        assert_eq!(choice.message.text().as_deref(), Some("Hello"));
        assert_eq!(choice.message.refusal.as_deref(), Some("no"));
        assert_eq!(choice.message.reasoning_content.as_deref(), Some("a\nb"));
        let calls = choice.message.tool_calls.as_ref().unwrap();
        assert_eq!(
            (calls[0].id.as_str(), calls[0].function.name.as_str()),
            ("c1", "f")
        );
        assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
        let u = c.usage.unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (3, 4, 7)
        );
        assert_eq!(u.prompt_tokens_details.unwrap().cached_tokens, Some(2));
        assert_eq!(
            u.completion_tokens_details.unwrap().reasoning_tokens,
            Some(1)
        );
    }

    #[test]
    fn finish_reasons_and_failures() {
        let incomplete = |reason: &str| {
            conv(
                json!({"status": "incomplete", "incomplete_details": {"reason": reason},
                        "output": [], "model": "srv"}),
            )
            .unwrap()
        };
        let c = incomplete("max_output_tokens");
        assert_eq!(c.choices[0].finish_reason, Some(FinishReason::Length));
        assert_eq!(c.content(), None);
        assert_eq!(c.model, "srv");
        assert_eq!(
            incomplete("content_filter").choices[0].finish_reason,
            Some(FinishReason::ContentFilter)
        );
        let err = conv(json!({"status": "failed", "output": [],
                              "error": {"code": "server_error", "message": "boom"}}))
        .unwrap_err();
        match err {
            Error::Api(api) => {
                assert_eq!(api.message, "boom");
                assert_eq!(
                    api.code,
                    Some(crate::error::ErrorCode::Text("server_error".into()))
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            conv(json!({"error": {"message": "x"}})),
            Err(Error::Api(_))
        ));
        assert!(matches!(conv(json!([1])), Err(Error::Decode { .. })));
    }
}
