//! A completion whose answers are parsed into a type, and the pure rules around it: which
//! finish reasons fail, what counts as a parse failure that earns the json_object fallback,
//! how the fallback prompt is written, and which tools parse mode accepts.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::types::{
    ChatCompletion, ChatMessage, Choice, Content, FinishReason, MetaSlot, ResponseMeta, Role, Tool,
    Usage,
};

/// Which request produced a [`ParsedChatCompletion`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParsePath {
    /// The `json_schema` request: the server followed the schema (or at least answered JSON
    /// that fits the type).
    JsonSchema,
    /// A `json_object` request the caller asked for directly (no schema, no fallback).
    JsonObject,
    /// The json_object fallback (docs/SPEC.md §2.5): the `json_schema` request was refused (HTTP 400)
    /// or its answer was not JSON of the right shape, so the request was sent once more with
    /// the schema in the last message and `{"type":"json_object"}`.
    JsonObjectFallback,
}

/// A [`ChatCompletion`] whose answers are parsed into `T`.
///
/// Returned by [`parse`](crate::OpenAICompatibleModel::parse) and its siblings. Every choice's
/// message carries `parsed` (the answer as a `T`) and `refusal`; [`path`](Self::path) says
/// whether the json_object fallback produced it. [`into_completion`](Self::into_completion)
/// gives back a plain [`ChatCompletion`] whose messages carry the answer as JSON.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ParsedChatCompletion<T> {
    /// The completion's id (empty when the server sent none).
    pub id: String,
    /// `"chat.completion"` (empty when the server sent none).
    pub object: String,
    /// Unix time of creation (0 when the server sent none).
    pub created: u64,
    /// The model that answered, as the server names it.
    pub model: String,
    /// One entry per requested answer (`n`).
    pub choices: Vec<ParsedChoice<T>>,
    /// Token accounting of the request that produced the answer (the fallback's, when
    /// [`path`](Self::path) is [`ParsePath::JsonObjectFallback`]).
    pub usage: Option<Usage>,
    /// The backend configuration fingerprint, when reported.
    pub system_fingerprint: Option<String>,
    /// The service tier that served the request, when reported.
    pub service_tier: Option<String>,
    /// Every other field of the completion, verbatim.
    pub extra: Map<String, Value>,
    /// Which request produced the answer.
    pub path: ParsePath,
    /// The exchange that produced the answer (see [`meta`](Self::meta)).
    pub(crate) meta: MetaSlot,
}

/// One answer within a [`ParsedChatCompletion`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ParsedChoice<T> {
    /// Its position among the `n` answers.
    pub index: u32,
    /// The assistant's message and its parsed answer.
    pub message: ParsedMessage<T>,
    /// Why generation stopped; never `length` or `content_filter` (those are errors).
    pub finish_reason: Option<FinishReason>,
    /// Log probabilities, when requested, as the server sent them.
    pub logprobs: Option<Value>,
    /// Every other field of the choice, verbatim.
    pub extra: Map<String, Value>,
}

/// The assistant's message with its answer parsed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ParsedMessage<T> {
    /// The answer as a `T`. `None` when the model refused, or answered with tool calls and
    /// no content.
    pub parsed: Option<T>,
    /// The model's refusal text, when it refused (OpenAI's safety refusals). `parsed` is
    /// then `None`.
    pub refusal: Option<String>,
    /// The message as received, its [`parsed`](ChatMessage::parsed) field holding the
    /// answer as JSON: push it back into the history to continue the conversation.
    pub message: ChatMessage,
}

impl<T> ParsedMessage<T> {
    /// The message's text content (the raw JSON answer).
    pub fn content(&self) -> Option<&str> {
        match self.message.content.as_ref()? {
            Content::Text(t) => Some(t),
            Content::Parts(_) => None,
        }
    }
}

impl<T> ParsedChatCompletion<T> {
    /// The exchange that produced the answer (the fallback's, when [`path`](Self::path) is
    /// [`ParsePath::JsonObjectFallback`]); see [`ResponseMeta`].
    pub fn meta(&self) -> Option<&ResponseMeta> {
        self.meta.get()
    }

    /// The first choice's parsed answer.
    pub fn parsed(&self) -> Option<&T> {
        self.choices.first()?.message.parsed.as_ref()
    }

    /// The first choice's refusal text, if the model refused.
    pub fn refusal(&self) -> Option<&str> {
        self.choices.first()?.message.refusal.as_deref()
    }

    /// The first choice's raw text content.
    pub fn content(&self) -> Option<&str> {
        self.choices.first()?.message.content()
    }

    /// The first choice's parsed answer, by value: the usual way to get the result.
    ///
    /// Fails with [`Error::Refusal`] when the model refused, and with [`Error::Decode`] when
    /// there is no answer to parse (no choices, or tool calls without content).
    pub fn into_parsed(self) -> Result<T> {
        let Some(choice) = self.choices.into_iter().next() else {
            return Err(Error::decode("the completion has no choices", b""));
        };
        let ParsedMessage {
            parsed,
            refusal,
            message,
        } = choice.message;
        match (parsed, refusal) {
            (Some(value), _) => Ok(value),
            (None, Some(refusal)) => Err(Error::Refusal(refusal)),
            (None, None) => {
                let why = match &choice.finish_reason {
                    Some(reason) => format!("the answer has no content (finish_reason {reason})"),
                    None => "the answer has no content".to_owned(),
                };
                let text = message.text().unwrap_or_default();
                Err(Error::decode(why, text.as_bytes()))
            }
        }
    }

    /// The plain completion: every message's [`parsed`](ChatMessage::parsed) holds the
    /// answer as JSON (`None` where the model refused). The typed values are dropped.
    pub fn into_completion(self) -> ChatCompletion {
        ChatCompletion {
            meta: self.meta,
            id: self.id,
            object: self.object,
            created: self.created,
            model: self.model,
            choices: self
                .choices
                .into_iter()
                .map(|c| Choice {
                    index: c.index,
                    message: c.message.message,
                    finish_reason: c.finish_reason,
                    logprobs: c.logprobs,
                    extra: c.extra,
                })
                .collect(),
            usage: self.usage,
            system_fingerprint: self.system_fingerprint,
            service_tier: self.service_tier,
            extra: self.extra,
        }
    }
}

/// Why a completion could not be parsed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Length, content filter: asking again the same way will not help.
    Final(Error),
    /// The content is not JSON, or not JSON of the type: the json_object fallback may help.
    Unparsable(Error),
}

impl Failure {
    pub(crate) fn into_error(self) -> Error {
        match self {
            Failure::Final(e) | Failure::Unparsable(e) => e,
        }
    }
}

/// Checks the finish reasons, then parses every choice's content (unless it refused).
/// `secret` (the API key) is kept out of the errors' text.
pub(crate) fn parse_completion<T: DeserializeOwned>(
    completion: ChatCompletion,
    path: ParsePath,
    secret: Option<&str>,
) -> std::result::Result<ParsedChatCompletion<T>, Failure> {
    check_finish(&completion).map_err(Failure::Final)?;
    let mut choices = Vec::with_capacity(completion.choices.len());
    let ChatCompletion {
        id,
        object,
        created,
        model,
        choices: raw_choices,
        usage,
        system_fingerprint,
        service_tier,
        extra,
        meta,
    } = completion;
    for choice in raw_choices {
        let mut message = choice.message;
        let refusal = message.refusal.clone().filter(|r| !r.is_empty());
        let mut parsed = None;
        if refusal.is_none() {
            if let Some(text) = message.text().filter(|t| !t.trim().is_empty()) {
                let (value, typed) =
                    parse_content::<T>(&text, secret).map_err(Failure::Unparsable)?;
                message.parsed = Some(value);
                parsed = Some(typed);
            }
        }
        choices.push(ParsedChoice {
            index: choice.index,
            message: ParsedMessage {
                parsed,
                refusal,
                message,
            },
            finish_reason: choice.finish_reason,
            logprobs: choice.logprobs,
            extra: choice.extra,
        });
    }
    Ok(ParsedChatCompletion {
        id,
        object,
        created,
        model,
        choices,
        usage,
        system_fingerprint,
        service_tier,
        extra,
        path,
        meta,
    })
}

/// `length` and `content_filter` on any choice fail the whole completion, which the error
/// keeps (openai-python raises on these before it parses anything).
pub(crate) fn check_finish(completion: &ChatCompletion) -> Result<()> {
    for choice in &completion.choices {
        match choice.finish_reason {
            Some(FinishReason::Length) => return Err(Error::Length(Box::new(completion.clone()))),
            Some(FinishReason::ContentFilter) => {
                return Err(Error::ContentFilter(Box::new(completion.clone())))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The answer as JSON and as a `T`. A Markdown code fence around the JSON (which models
/// write when a json_object prompt is followed loosely) is tolerated.
pub(crate) fn parse_content<T: DeserializeOwned>(
    content: &str,
    secret: Option<&str>,
) -> Result<(Value, T)> {
    let json = strip_code_fence(content);
    let value: Value = serde_json::from_str(json).map_err(|e| {
        Error::decode_body(
            format!("the structured answer is not valid JSON: {e}"),
            content.as_bytes(),
            secret,
        )
    })?;
    let typed = T::deserialize(&value).map_err(|e| {
        Error::decode_body(
            format!("the structured answer does not fit the expected type: {e}"),
            content.as_bytes(),
            secret,
        )
    })?;
    Ok((value, typed))
}

/// The text inside a ```` ```json … ``` ```` (or bare ```` ``` ````) fence around the whole
/// answer; the trimmed text otherwise.
fn strip_code_fence(content: &str) -> &str {
    let trimmed = content.trim();
    let Some(rest) = trimmed.strip_prefix("```") else {
        return trimmed;
    };
    let Some(inner) = rest.strip_suffix("```") else {
        return trimmed;
    };
    // Drop the info string (`json`, `JSON`, …) on the fence's first line.
    let inner = match inner.find('\n') {
        Some(nl)
            if inner[..nl]
                .trim()
                .chars()
                .all(|c| c.is_ascii_alphanumeric()) =>
        {
            &inner[nl + 1..]
        }
        _ => inner,
    };
    inner.trim()
}

/// The instruction CAMEL appends for the json_object fallback (`try_modify_message_with_format`),
/// with the schema as JSON instead of a Python dict.
pub(crate) fn format_instruction(schema: &Value) -> String {
    format!(
        "\n\nPlease generate a JSON response adhering to the following JSON schema:\n{schema}\n\
         Make sure the JSON response is valid and matches the EXACT structure defined in the \
         schema. Your result should ONLY be a valid json object, WITHOUT ANY OTHER TEXT OR \
         COMMENTS."
    )
}

/// A copy of `messages` for the fallback request: the instruction is appended to the last
/// message that is not the assistant's and has string content. When there is none (only
/// content parts, or only assistant messages), a user message with the instruction is
/// added at the end, so the request still asks for JSON (OpenAI refuses a json_object
/// request whose messages never mention JSON).
pub(crate) fn with_format_instruction(
    messages: &[ChatMessage],
    schema: &Value,
) -> Vec<ChatMessage> {
    let instruction = format_instruction(schema);
    let mut out = messages.to_vec();
    let target = out
        .iter_mut()
        .rev()
        .filter(|m| m.role != Role::Assistant)
        .find_map(|m| match &mut m.content {
            Some(Content::Text(text)) => Some(text),
            _ => None,
        });
    match target {
        Some(text) => text.push_str(&instruction),
        None => out.push(ChatMessage::user(instruction.trim_start())),
    }
    out
}

/// Whether a failed `json_schema` request earns the json_object fallback: HTTP 400 (the
/// server refuses the schema or the format), 422 (FastAPI-based servers' validation error),
/// and any other status whose error names the response format (llama-cpp-python answers
/// `json_schema` with a 500 "Input should be 'text' or 'json_object'").
pub(crate) fn earns_fallback(error: &Error) -> bool {
    let Error::Api(api) = error else {
        return false;
    };
    match api.status {
        Some(400 | 422) => true,
        Some(_) => names_response_format(api.body.as_bytes()),
        None => false,
    }
}

/// Whether an error body is about the response format (llama-cpp-python answers an
/// unsupported `json_schema` with a 500 naming `response_format`; in Responses mode the
/// format is `text.format`, docs/RESPONSES.md §6).
pub(crate) fn names_response_format(body: &[u8]) -> bool {
    let body = String::from_utf8_lossy(body).to_ascii_lowercase();
    body.contains("response_format") || body.contains("json_schema") || body.contains("text.format")
}

/// Parse mode accepts only strict function tools (openai-python's rule): the server must
/// then produce arguments that fit their schemas. `tools` is the resolved list: the
/// argument's when given, else the config's.
pub(crate) fn check_tools(tools: Option<&[Tool]>, config_tools: Option<&Value>) -> Result<()> {
    match tools {
        Some(tools) => tools.iter().try_for_each(|t| {
            let strict = t.function.as_ref().and_then(|f| f.strict);
            check_tool(&t.kind, t.name(), strict)
        }),
        None => match config_tools {
            Some(Value::Array(items)) => items.iter().try_for_each(|t| {
                let kind = t.get("type").and_then(Value::as_str).unwrap_or("function");
                let function = t.get("function");
                let name = function.and_then(|f| f.get("name")).and_then(Value::as_str);
                let strict = function
                    .and_then(|f| f.get("strict"))
                    .and_then(Value::as_bool);
                check_tool(kind, name, strict)
            }),
            _ => Ok(()),
        },
    }
}

fn check_tool(kind: &str, name: Option<&str>, strict: Option<bool>) -> Result<()> {
    if kind != "function" {
        return Err(Error::InvalidInput(format!(
            "only function tools can be used with structured-output parsing; got a {kind:?} tool"
        )));
    }
    let name = name.unwrap_or("<unnamed>");
    if strict != Some(true) {
        return Err(Error::InvalidInput(format!(
            "tool `{name}` is not strict: structured-output parsing accepts only strict function \
             tools; build it with `Tool::function(…).strict(true)` (its schema must then follow \
             strict mode)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Clone, Deserialize, PartialEq)]
    struct Person {
        name: String,
        age: u32,
    }

    fn completion(choices: Value) -> ChatCompletion {
        serde_json::from_value(json!({"id": "c", "model": "m", "choices": choices})).unwrap()
    }

    #[test]
    fn parses_every_choice_and_keeps_the_json() {
        let c = completion(json!([
            {"index": 0, "message": {"role": "assistant", "content": "{\"name\":\"Ada\",\"age\":36}"}, "finish_reason": "stop"},
            {"index": 1, "message": {"role": "assistant", "content": "```json\n{\"name\":\"Bo\",\"age\":2}\n```"}, "finish_reason": "stop"}
        ]));
        let p = parse_completion::<Person>(c, ParsePath::JsonSchema, None).unwrap();
        assert_eq!(
            p.parsed(),
            Some(&Person {
                name: "Ada".into(),
                age: 36
            })
        );
        assert_eq!(p.choices[1].message.parsed.as_ref().unwrap().name, "Bo");
        assert_eq!(
            p.choices[1].message.message.parsed,
            Some(json!({"name": "Bo", "age": 2}))
        );
        let plain = p.clone().into_completion();
        assert_eq!(
            plain.choices[0].message.parsed,
            Some(json!({"name": "Ada", "age": 36}))
        );
        assert_eq!(p.into_parsed().unwrap().age, 36);
    }

    #[test]
    fn refusal_and_tool_calls_leave_parsed_empty() {
        let c = completion(json!([
            {"message": {"content": null, "refusal": "I can't help with that."}, "finish_reason": "stop"}
        ]));
        let p = parse_completion::<Person>(c, ParsePath::JsonSchema, None).unwrap();
        assert_eq!(p.parsed(), None);
        assert_eq!(p.refusal(), Some("I can't help with that."));
        assert!(matches!(p.into_parsed(), Err(Error::Refusal(r)) if r.contains("can't")));

        let c = completion(json!([{"message": {"content": "", "tool_calls": [
            {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ]}, "finish_reason": "tool_calls"}]));
        let p = parse_completion::<Person>(c, ParsePath::JsonSchema, None).unwrap();
        assert_eq!(p.parsed(), None);
        assert!(
            matches!(p.into_parsed(), Err(Error::Decode { message, .. }) if message.contains("tool_calls"))
        );
    }

    #[test]
    fn length_and_content_filter_are_final() {
        for (reason, want_length) in [("length", true), ("content_filter", false)] {
            let c = completion(json!([{"message": {"content": "{\"na"}, "finish_reason": reason}]));
            match parse_completion::<Person>(c, ParsePath::JsonSchema, None) {
                Err(Failure::Final(Error::Length(c))) if want_length => {
                    assert_eq!(c.content(), Some("{\"na"))
                }
                Err(Failure::Final(Error::ContentFilter(_))) if !want_length => {}
                other => panic!("{reason}: {other:?}"),
            }
        }
    }

    #[test]
    fn invalid_json_and_wrong_shape_are_unparsable() {
        for content in [
            "Sure! Here you go",
            "{\"name\": \"Ada\"}",
            "[1, 2]",
            "{\"name\":",
        ] {
            let c = completion(json!([{"message": {"content": content}, "finish_reason": "stop"}]));
            assert!(
                matches!(
                    parse_completion::<Person>(c, ParsePath::JsonSchema, None),
                    Err(Failure::Unparsable(Error::Decode { .. }))
                ),
                "{content}"
            );
        }
    }

    #[test]
    fn code_fences() {
        assert_eq!(strip_code_fence(" {\"a\":1} "), "{\"a\":1}");
        assert_eq!(strip_code_fence("```json\n{\"a\":1}\n```"), "{\"a\":1}");
        assert_eq!(strip_code_fence("```\n{\"a\":1}```"), "{\"a\":1}");
        assert_eq!(strip_code_fence("```{\"a\":1}```"), "{\"a\":1}");
        assert_eq!(strip_code_fence("```"), "```");
        assert_eq!(strip_code_fence("```JSON\n1```"), "1");
        assert_eq!(strip_code_fence("``` ü\n1```"), "ü\n1");
    }

    #[test]
    fn fallback_instruction_goes_to_the_last_non_assistant_string_message() {
        let schema = json!({"type": "object"});
        let msgs = vec![
            ChatMessage::system("sys"),
            ChatMessage::user("question"),
            ChatMessage::assistant("answer"),
        ];
        let out = with_format_instruction(&msgs, &schema);
        assert_eq!(out.len(), 3);
        let text = out[1].text().unwrap().into_owned();
        assert!(text.starts_with("question\n\nPlease generate a JSON response adhering to the following JSON schema:\n{\"type\":\"object\"}\n"));
        assert!(text.ends_with("WITHOUT ANY OTHER TEXT OR COMMENTS."));
        assert_eq!(out[2], msgs[2]);
        assert_eq!(msgs[1].text().unwrap(), "question");

        // Content parts are skipped; with no string message left a user message is added.
        let parts = vec![ChatMessage::user_parts(vec![
            crate::types::ContentPart::text("hi"),
        ])];
        let out = with_format_instruction(&parts, &schema);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].role, Role::User);
        assert!(out[1].text().unwrap().starts_with("Please generate"));
    }

    #[test]
    fn which_errors_earn_the_fallback() {
        let api = |status, body: &str| {
            Error::Api(Box::new(ApiError::from_body(
                Some(status),
                body.as_bytes(),
                None,
                None,
            )))
        };
        assert!(earns_fallback(&api(400, "{}")));
        assert!(earns_fallback(&api(422, "{}")));
        assert!(earns_fallback(&api(
            500,
            r#"{"error":{"message":"'loc': ('body', 'response_format', 'type')"}}"#
        )));
        assert!(!earns_fallback(&api(500, "boom")));
        assert!(!earns_fallback(&api(401, "{}")));
        assert!(!earns_fallback(&Error::connection(
            crate::error::ConnectionError::new(
                "h",
                1,
                None,
                crate::error::ConnectionPhase::Connect,
                "x"
            )
        )));
    }

    #[test]
    fn only_strict_function_tools() {
        let schema = json!({"type": "object", "properties": {}, "additionalProperties": false});
        let strict = Tool::function("ok", "d", schema.clone()).strict(true);
        let loose = Tool::function("get_weather", "d", schema);
        assert!(check_tools(Some(std::slice::from_ref(&strict)), None).is_ok());
        assert!(check_tools(Some(&[]), Some(&json!([{"function": {"name": "x"}}]))).is_ok());
        let err = check_tools(Some(&[strict, loose]), None).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput(m) if m.contains("`get_weather`")),
            "{err}"
        );
        let err = check_tools(
            None,
            Some(&json!([{"type": "function", "function": {"name": "cfg_tool"}}])),
        )
        .unwrap_err();
        assert!(err.to_string().contains("cfg_tool"));
        assert!(check_tools(
            None,
            Some(&json!([{"type": "function", "function": {"name": "s", "strict": true}}]))
        )
        .is_ok());
        assert!(check_tools(None, Some(&json!([{"type": "web_search"}]))).is_err());
    }
}
