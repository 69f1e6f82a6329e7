//! A complete (non-streamed) answer: `ChatCompletion` and its parts.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::lenient::{self, read::*};
use super::message::{ChatMessage, Role};
use super::meta::{MetaSlot, ResponseMeta};

/// The server's answer to a chat-completions request.
///
/// Every field a compatible server may leave out (`id`, `object`, `created`, `usage`,
/// `system_fingerprint`) reads as empty; fields this crate does not model (llama.cpp's
/// `timings`, vLLM's `prompt_logprobs`, …) are kept in `extra`.
///
/// Serialized, it always has the keys the OpenAI schema requires (`id`, `object`,
/// `created`, `model`, `choices`, and in each choice `index`, `message`, `finish_reason`,
/// `logprobs`), empty or `null` where unknown: whether it was read from a plain answer or
/// assembled from a stream, it reads as a complete answer. Optional fields are written
/// only when set.
///
/// `#[non_exhaustive]`: fields will be added as servers add them. Build one with
/// `ChatCompletion::default()` and set the fields you need, or deserialize it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ChatCompletion {
    /// The completion's id (empty when the server sent none).
    pub id: String,
    /// `"chat.completion"` (empty when the server sent none).
    pub object: String,
    /// Unix time of creation (0 when the server sent none).
    pub created: u64,
    /// The model that answered, as the server names it.
    pub model: String,
    /// One entry per requested answer (`n`).
    pub choices: Vec<Choice>,
    /// Token accounting, when the server reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The backend configuration fingerprint, when reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// The service tier that served the request, when reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// The exchange that produced it (see [`meta`](Self::meta)); never serialized.
    #[serde(skip)]
    pub(crate) meta: MetaSlot,
}

lenient::deserialize_with_extra!(ChatCompletion, "a chat completion", extra, {
    id: "id" => NullDefault<String>, or String::new();
    object: "object" => NullDefault<String>, or String::new();
    created: "created" => U64, or 0;
    model: "model" => NullDefault<String>, or String::new();
    choices: "choices" => NullDefault<Vec<Choice>>, or Vec::new();
    usage: "usage" => Plain<Option<Usage>>, or None;
    system_fingerprint: "system_fingerprint" => Plain<Option<String>>, or None;
    service_tier: "service_tier" => Plain<Option<String>>, or None;
}, not on the wire: meta);

impl ChatCompletion {
    /// The first choice's message text, if any: the usual way to read an answer.
    pub fn content(&self) -> Option<&str> {
        match self.choices.first()?.message.content.as_ref()? {
            super::Content::Text(t) => Some(t),
            super::Content::Parts(_) => None,
        }
    }

    /// The status, headers, request id, rate limits, attempts and time of the exchange that
    /// produced this completion; `None` for one that was deserialized, built by hand, or
    /// answered by a custom [`ChatClient`](crate::ChatClient).
    pub fn meta(&self) -> Option<&ResponseMeta> {
        self.meta.get()
    }

    /// The first choice's message.
    pub fn message(&self) -> Option<&ChatMessage> {
        self.choices.first().map(|c| &c.message)
    }
}

/// One answer within a [`ChatCompletion`].
///
/// `#[non_exhaustive]`; `Choice::default()` is choice 0 with an empty assistant message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Choice {
    /// Its position among the `n` answers.
    pub index: u32,
    /// The assistant's message.
    pub message: ChatMessage,
    /// Why generation stopped; `None` when the server did not say (written as `null`).
    pub finish_reason: Option<FinishReason>,
    /// Log probabilities, when requested, as the server sent them; of a stream, every
    /// list (`content`, `refusal`, …) joined across its chunks. `None` is written as `null`.
    pub logprobs: Option<Value>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

lenient::deserialize_with_extra!(Choice, "a choice", extra, {
    index: "index" => U32, or 0;
    message: "message" => MessageOrNull, or assistant_message();
    finish_reason: "finish_reason" => Plain<Option<FinishReason>>, or None;
    logprobs: "logprobs" => Plain<Option<Value>>, or None;
});

impl Default for ChatCompletion {
    /// An empty completion: no choices, `object` `"chat.completion"`.
    fn default() -> ChatCompletion {
        ChatCompletion {
            id: String::new(),
            object: "chat.completion".to_owned(),
            created: 0,
            model: String::new(),
            choices: Vec::new(),
            usage: None,
            system_fingerprint: None,
            service_tier: None,
            extra: Map::new(),
            meta: MetaSlot::default(),
        }
    }
}

impl Default for Choice {
    fn default() -> Choice {
        Choice {
            index: 0,
            message: assistant_message(),
            finish_reason: None,
            logprobs: None,
            extra: Map::new(),
        }
    }
}

fn assistant_message() -> ChatMessage {
    ChatMessage::empty(Role::Assistant)
}

/// A message, or the assistant's empty one for `null`.
struct MessageOrNull(ChatMessage);

impl<'de> Deserialize<'de> for MessageOrNull {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(MessageOrNull(
            Option::<ChatMessage>::deserialize(d)?.unwrap_or_else(assistant_message),
        ))
    }
}

/// Why the model stopped. Values a server invents (`"eos_token"`, `""`) are kept in
/// [`FinishReason::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FinishReason {
    /// A natural stop or a stop sequence.
    Stop,
    /// The token limit (`max_tokens` or the context) was reached.
    Length,
    /// The model called tools.
    ToolCalls,
    /// The content filter removed content.
    ContentFilter,
    /// The legacy function call.
    FunctionCall,
    /// Anything else, verbatim.
    Other(String),
}

impl FinishReason {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::FunctionCall => "function_call",
            FinishReason::Other(s) => s,
        }
    }

    pub(crate) fn from_wire(s: &str) -> FinishReason {
        match s {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            "tool_calls" => FinishReason::ToolCalls,
            "content_filter" => FinishReason::ContentFilter,
            "function_call" => FinishReason::FunctionCall,
            other => FinishReason::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for FinishReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FinishReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FinishReason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = lenient::Text::deserialize(d)?;
        Ok(FinishReason::from_wire(s.as_str()))
    }
}

/// Token accounting for a request.
///
/// `#[non_exhaustive]`: build one with `Usage::default()` and set its fields.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[non_exhaustive]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// Their sum, as the server reports it.
    pub total_tokens: u64,
    /// How the prompt's tokens break down (cached, audio, …), when reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    /// How the generated tokens break down (reasoning, audio, predictions), when reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionTokensDetails>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

lenient::deserialize_with_extra!(Usage, "token usage", extra, {
    prompt_tokens: "prompt_tokens" => U64, or 0;
    completion_tokens: "completion_tokens" => U64, or 0;
    total_tokens: "total_tokens" => U64, or 0;
    prompt_tokens_details: "prompt_tokens_details" => ObjectOrNone<PromptTokensDetails>, or None;
    completion_tokens_details: "completion_tokens_details" => ObjectOrNone<CompletionTokensDetails>, or None;
});

/// [`Usage::prompt_tokens_details`]: where the prompt's tokens came from.
///
/// Each count is `None` when the server did not send it (or sent `null`); counts other
/// servers add (LiteLLM's `text_tokens`, `image_tokens`, …) are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[non_exhaustive]
pub struct PromptTokensDetails {
    /// Prompt tokens served from the provider's prompt cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    /// Audio input tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_tokens: Option<u64>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

lenient::deserialize_with_extra!(PromptTokensDetails, "prompt token details", extra, {
    cached_tokens: "cached_tokens" => OptU64, or None;
    audio_tokens: "audio_tokens" => OptU64, or None;
});

/// [`Usage::completion_tokens_details`]: what the generated tokens were spent on.
///
/// Each count is `None` when the server did not send it (or sent `null`); other fields are
/// kept in `extra`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[non_exhaustive]
pub struct CompletionTokensDetails {
    /// Tokens the model spent reasoning (o-series, DeepSeek-R1 and the like).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// Audio output tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_tokens: Option<u64>,
    /// Tokens of a predicted output (`prediction`) that appeared in the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_prediction_tokens: Option<u64>,
    /// Tokens of a predicted output that did not appear (still billed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_prediction_tokens: Option<u64>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

lenient::deserialize_with_extra!(CompletionTokensDetails, "completion token details", extra, {
    reasoning_tokens: "reasoning_tokens" => OptU64, or None;
    audio_tokens: "audio_tokens" => OptU64, or None;
    accepted_prediction_tokens: "accepted_prediction_tokens" => OptU64, or None;
    rejected_prediction_tokens: "rejected_prediction_tokens" => OptU64, or None;
});

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn minimal_and_null_heavy_completions_read() {
        let c: ChatCompletion = serde_json::from_value(json!({
            "choices": [{"message": {"content": "hi"}, "finish_reason": "eos_token", "index": null}],
            "id": null, "created": 1.7e9, "usage": null, "timings": {"x": 1}
        }))
        .unwrap();
        assert_eq!(c.content(), Some("hi"));
        assert_eq!(c.created, 1_700_000_000);
        assert_eq!(
            c.choices[0].finish_reason,
            Some(FinishReason::Other("eos_token".into()))
        );
        assert_eq!(c.extra["timings"], json!({"x": 1}));
        let c: ChatCompletion =
            serde_json::from_value(json!({"choices": [{"message": null}]})).unwrap();
        assert_eq!(c.choices[0].message.role, Role::Assistant);
    }

    #[test]
    fn required_keys_are_always_written_and_round_trip() {
        // llama-cpp-python's shape: nulls where nothing is known, kept as null.
        let text = r#"{"id":"c","object":"chat.completion","created":0,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":null,"logprobs":null}]}"#;
        let c: ChatCompletion = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), text);
        // A server that leaves the nullable keys out: they come back as null.
        let c: ChatCompletion = serde_json::from_value(json!({
            "id": "c", "object": "chat.completion", "created": 5, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]
        }))
        .unwrap();
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["choices"][0]["logprobs"], Value::Null);
        assert!(v["choices"][0].get("logprobs").is_some());
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        // Optional fields stay out until set.
        let v = serde_json::to_value(ChatCompletion::default()).unwrap();
        assert_eq!(
            v,
            json!({"id": "", "object": "chat.completion", "created": 0, "model": "", "choices": []})
        );
    }

    #[test]
    fn usage_details_are_typed_and_keep_the_rest() {
        // OpenAI's shape round-trips; LiteLLM's nulls read as `None` and its extra counts stay.
        let openai = r#"{"prompt_tokens":24,"completion_tokens":15,"total_tokens":39,"prompt_tokens_details":{"cached_tokens":8,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":3,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":1}}"#;
        let u: Usage = serde_json::from_str(openai).unwrap();
        let p = u.prompt_tokens_details.as_ref().unwrap();
        assert_eq!((p.cached_tokens, p.audio_tokens), (Some(8), Some(0)));
        let c = u.completion_tokens_details.as_ref().unwrap();
        assert_eq!(c.reasoning_tokens, Some(3));
        assert_eq!(c.rejected_prediction_tokens, Some(1));
        assert_eq!(serde_json::to_string(&u).unwrap(), openai);

        let u: Usage = serde_json::from_value(json!({
            "prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6,
            "prompt_tokens_details": {"audio_tokens": null, "cached_tokens": 2.0, "text_tokens": null, "image_tokens": 4},
            "completion_tokens_details": null
        }))
        .unwrap();
        let p = u.prompt_tokens_details.unwrap();
        assert_eq!((p.cached_tokens, p.audio_tokens), (Some(2), None));
        assert_eq!(p.extra["image_tokens"], 4);
        assert_eq!(p.extra["text_tokens"], Value::Null);
        assert!(u.completion_tokens_details.is_none());

        // Odd placeholders do not fail the answer.
        for odd in [
            json!([]),
            json!(""),
            json!(7),
            json!(true),
            json!([{"a": 1}]),
        ] {
            let u: Usage = serde_json::from_value(json!({
                "prompt_tokens": 1, "prompt_tokens_details": odd, "completion_tokens_details": odd
            }))
            .unwrap();
            assert_eq!(u.prompt_tokens, 1);
            assert!(u.prompt_tokens_details.is_none() && u.completion_tokens_details.is_none());
        }
        // A count that is not a number reads as unknown.
        let d: CompletionTokensDetails =
            serde_json::from_value(json!({"reasoning_tokens": "x", "audio_tokens": -1})).unwrap();
        assert_eq!((d.reasoning_tokens, d.audio_tokens), (None, None));
    }

    #[test]
    fn finish_reason_round_trip() {
        for s in [
            "stop",
            "length",
            "tool_calls",
            "content_filter",
            "function_call",
            "",
            "eos",
        ] {
            let f: FinishReason = serde_json::from_value(json!(s)).unwrap();
            assert_eq!(serde_json::to_value(&f).unwrap(), json!(s));
        }
    }
}
