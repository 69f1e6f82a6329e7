//! One piece of a streamed answer: `ChatCompletionChunk` and its deltas.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::completion::{FinishReason, Usage};
use super::lenient::{self, read::*};
use super::message::Role;

/// One server-sent event of a streamed completion.
///
/// The final chunk of a stream with `stream_options.include_usage` has `choices: []` and
/// carries `usage`.
///
/// `#[non_exhaustive]`: build one with `ChatCompletionChunk::default()` and set its fields,
/// or deserialize it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ChatCompletionChunk {
    /// The completion's id, the same on every chunk (empty when the server sent none).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// `"chat.completion.chunk"` (empty when the server sent none).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub object: String,
    /// Unix time of creation (0 when the server sent none).
    #[serde(skip_serializing_if = "lenient::is_zero")]
    pub created: u64,
    /// The model that answers.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub model: String,
    /// The deltas in this chunk, one per choice that advanced.
    pub choices: Vec<ChunkChoice>,
    /// Token accounting (usually only on the last chunk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The backend configuration fingerprint, when reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// The service tier that served the request, when reported (OpenAI: every chunk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// OpenAI's random padding that hides the length of the content (sent on every chunk
    /// unless `stream_options.include_obfuscation` is `false`); it carries no data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub obfuscation: Option<String>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

lenient::deserialize_with_extra!(ChatCompletionChunk, "a chat completion chunk", extra, {
    id: "id" => NullDefault<String>, or String::new();
    object: "object" => NullDefault<String>, or String::new();
    created: "created" => U64, or 0;
    model: "model" => NullDefault<String>, or String::new();
    choices: "choices" => NullDefault<Vec<ChunkChoice>>, or Vec::new();
    usage: "usage" => Plain<Option<Usage>>, or None;
    system_fingerprint: "system_fingerprint" => Plain<Option<String>>, or None;
    service_tier: "service_tier" => OptText, or None;
    obfuscation: "obfuscation" => OptText, or None;
});

impl Default for ChatCompletionChunk {
    /// An empty chunk: no choices, `object` `"chat.completion.chunk"`.
    fn default() -> ChatCompletionChunk {
        ChatCompletionChunk {
            id: String::new(),
            object: "chat.completion.chunk".to_owned(),
            created: 0,
            model: String::new(),
            choices: Vec::new(),
            usage: None,
            system_fingerprint: None,
            service_tier: None,
            obfuscation: None,
            extra: Map::new(),
        }
    }
}

/// The change to one choice carried by a chunk.
///
/// `#[non_exhaustive]`: build one with `ChunkChoice::default()` and set its fields.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChunkChoice {
    /// Which choice this delta belongs to.
    #[serde(default, deserialize_with = "lenient::lenient_u32")]
    pub index: u32,
    /// What was added.
    #[serde(default, deserialize_with = "lenient::null_default")]
    pub delta: Delta,
    /// Set on the choice's last chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<FinishReason>,
    /// Log probabilities for this delta, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
}

/// Text and tool-call pieces added to a choice.
///
/// `#[non_exhaustive]`: build one with `Delta::default()` and set its fields.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Delta {
    /// Set on the first delta of a choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// More answer text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// More reasoning text (`reasoning_content`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// More reasoning text, for servers that call it `reasoning`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// More refusal text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Pieces of tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    /// Pieces of the legacy `function_call` (llama-cpp-python sends it beside
    /// `tool_calls`). A value of another shape reads as `None`.
    #[serde(
        default,
        deserialize_with = "lenient_function_call",
        skip_serializing_if = "Option::is_none"
    )]
    pub function_call: Option<FunctionCallDelta>,
}

/// A `function_call` piece, or `None` for `null` and for anything that is not one.
fn lenient_function_call<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<FunctionCallDelta>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(v.and_then(|v| FunctionCallDelta::deserialize(v).ok()))
}

/// A piece of a tool call. The first piece of a call usually carries `id` and the
/// function name; later ones carry more `arguments` text.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ToolCallDelta {
    /// Which call this piece extends; missing on some servers (Gemini).
    #[serde(
        default,
        deserialize_with = "lenient::lenient_opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub index: Option<u32>,
    /// The call's id, on its first piece.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The tool type, on its first piece.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The function name and an arguments fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCallDelta>,
}

/// A piece of a function call.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FunctionCallDelta {
    /// The name, on the call's first piece.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A fragment of the arguments' JSON text.
    #[serde(
        default,
        deserialize_with = "lenient::opt_arguments_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub arguments: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quirky_chunks_read() {
        let c: ChatCompletionChunk = serde_json::from_value(json!({
            "choices": [{"delta": {"role": "assistant", "content": null,
                "tool_calls": [{"id": "x", "function": {"name": "f"}}]}, "finish_reason": null}]
        }))
        .unwrap();
        let d = &c.choices[0].delta;
        assert_eq!(d.role, Some(Role::Assistant));
        assert_eq!(d.tool_calls.as_ref().unwrap()[0].index, None);
        let usage_only: ChatCompletionChunk =
            serde_json::from_value(json!({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}))
                .unwrap();
        assert_eq!(usage_only.usage.unwrap().total_tokens, 5);
        let null_delta: ChatCompletionChunk = serde_json::from_value(
            json!({"choices": [{"index": 0, "delta": null, "finish_reason": "stop"}]}),
        )
        .unwrap();
        assert_eq!(
            null_delta.choices[0].finish_reason,
            Some(FinishReason::Stop)
        );
    }
}
