//! Chat messages, as sent to the server and as received back.
//!
//! One struct serves every role, so an assistant message from a completion can be pushed
//! straight back into the history (its `reasoning_content`, tool calls and unknown fields
//! included). Only the fields that are set are serialized.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::lenient::{self, read::*};

/// Who wrote a message. Unknown roles from a server are kept as [`Role::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// Instructions from the application.
    System,
    /// OpenAI's newer name for system instructions on reasoning models.
    Developer,
    /// The end user.
    User,
    /// The model.
    Assistant,
    /// The result of a tool call.
    Tool,
    /// The legacy function-call result role.
    Function,
    /// Any other role a server uses.
    Other(String),
}

impl Role {
    /// The wire name of the role.
    pub fn as_str(&self) -> &str {
        match self {
            Role::System => "system",
            Role::Developer => "developer",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
            Role::Function => "function",
            Role::Other(s) => s,
        }
    }

    pub(crate) fn from_wire(s: &str) -> Role {
        match s {
            "system" => Role::System,
            "developer" => Role::Developer,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            "function" => Role::Function,
            other => Role::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A missing or null role in a response message means the assistant.
        let s = Option::<lenient::Text<'de>>::deserialize(d)?;
        Ok(s.map_or(Role::Assistant, |s| Role::from_wire(s.as_str())))
    }
}

/// A message in a conversation.
///
/// Build one with the short constructors ([`ChatMessage::user`], [`ChatMessage::system`],
/// [`ChatMessage::assistant`], [`ChatMessage::tool`]) and adjust fields as needed; every
/// field is public.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// Text, or a list of content parts (text, images, audio, files). `None` is not sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// An optional participant name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tool calls the assistant made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// For a `tool` message: the id of the call this answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// The assistant's refusal text, when it refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Reasoning text from reasoning models (DeepSeek, vLLM, llama.cpp), or extracted from
    /// `<think>` blocks. Kept when the message is sent back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// For structured output: the answer parsed as JSON. Never sent to the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parsed: Option<Value>,
    /// An assistant message's annotations (OpenAI's `url_citation`s from web search), as
    /// sent (a list; OpenAI sends `[]` with every answer). Sent back as they came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Value>,
    /// Fields this crate does not model (`audio`, `reasoning`, …), kept verbatim and sent
    /// back as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

lenient::deserialize_with_extra!(ChatMessage, "a chat message", extra, {
    role: "role" => Plain<Role>, or Role::Assistant;
    content: "content" => Plain<Option<Content>>, or None;
    name: "name" => Plain<Option<String>>, or None;
    tool_calls: "tool_calls" => Plain<Option<Vec<ToolCall>>>, or None;
    tool_call_id: "tool_call_id" => Plain<Option<String>>, or None;
    refusal: "refusal" => Plain<Option<String>>, or None;
    reasoning_content: "reasoning_content" => Plain<Option<String>>, or None;
    parsed: "parsed" => Plain<Option<Value>>, or None;
    annotations: "annotations" => Kept, or None;
});

impl ChatMessage {
    /// A message with this role and text content and nothing else.
    pub fn new(role: Role, content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            content: Some(Content::Text(content.into())),
            ..ChatMessage::empty(role)
        }
    }

    /// A message with this role and no content.
    pub fn empty(role: Role) -> ChatMessage {
        ChatMessage {
            role,
            content: None,
            name: None,
            tool_calls: None,
            tool_call_id: None,
            refusal: None,
            reasoning_content: None,
            parsed: None,
            annotations: None,
            extra: Map::new(),
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> ChatMessage {
        ChatMessage::new(Role::System, content)
    }

    /// A developer message (system instructions for OpenAI reasoning models).
    pub fn developer(content: impl Into<String>) -> ChatMessage {
        ChatMessage::new(Role::Developer, content)
    }

    /// A user message with text.
    pub fn user(content: impl Into<String>) -> ChatMessage {
        ChatMessage::new(Role::User, content)
    }

    /// A user message made of content parts (text, images, audio, files).
    pub fn user_parts(parts: Vec<ContentPart>) -> ChatMessage {
        ChatMessage {
            content: Some(Content::Parts(parts)),
            ..ChatMessage::empty(Role::User)
        }
    }

    /// An assistant message with text (for few-shot histories).
    pub fn assistant(content: impl Into<String>) -> ChatMessage {
        ChatMessage::new(Role::Assistant, content)
    }

    /// An assistant message that calls tools.
    pub fn assistant_tool_calls(tool_calls: Vec<ToolCall>) -> ChatMessage {
        ChatMessage {
            tool_calls: Some(tool_calls),
            ..ChatMessage::empty(Role::Assistant)
        }
    }

    /// The result of the tool call `call_id`.
    pub fn tool(call_id: impl Into<String>, content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            tool_call_id: Some(call_id.into()),
            ..ChatMessage::new(Role::Tool, content)
        }
    }

    /// Sets the participant name.
    pub fn with_name(mut self, name: impl Into<String>) -> ChatMessage {
        self.name = Some(name.into());
        self
    }

    /// The text of the message: the string content, or its text parts joined.
    /// `None` when there is no text at all.
    pub fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self.content.as_ref()? {
            Content::Text(t) => Some(std::borrow::Cow::Borrowed(t)),
            Content::Parts(parts) => {
                let mut out = String::new();
                for p in parts {
                    if let ContentPart::Text { text } = p {
                        out.push_str(text);
                    }
                }
                (!out.is_empty()).then_some(std::borrow::Cow::Owned(out))
            }
        }
    }

    /// The reasoning text: `reasoning_content`, or the `reasoning` field some servers
    /// (vLLM, OpenRouter) use instead.
    pub fn reasoning(&self) -> Option<&str> {
        self.reasoning_content
            .as_deref()
            .or_else(|| self.extra.get("reasoning").and_then(Value::as_str))
    }
}

/// Message content: plain text, or a list of parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Content parts (multimodal input).
    Parts(Vec<ContentPart>),
}

// By hand rather than `#[serde(untagged)]`, which buffers the value to try each variant.
impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ContentVisitor;
        impl<'de> serde::de::Visitor<'de> for ContentVisitor {
            type Value = Content;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of content parts")
            }
            fn visit_str<E>(self, s: &str) -> Result<Content, E> {
                Ok(Content::Text(s.to_owned()))
            }
            fn visit_string<E>(self, s: String) -> Result<Content, E> {
                Ok(Content::Text(s))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Content, A::Error> {
                Vec::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(Content::Parts)
            }
        }
        d.deserialize_any(ContentVisitor)
    }
}

impl From<&str> for Content {
    fn from(s: &str) -> Content {
        Content::Text(s.to_owned())
    }
}

impl From<String> for Content {
    fn from(s: String) -> Content {
        Content::Text(s)
    }
}

/// One part of a multimodal message. Part types this crate does not know are kept as
/// [`ContentPart::Other`] and sent back unchanged.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ContentPart {
    /// `{"type":"text","text":…}`
    Text {
        /// The text.
        text: String,
    },
    /// `{"type":"image_url","image_url":{"url":…,"detail":…}}`
    ImageUrl {
        /// The image.
        image_url: ImageUrl,
    },
    /// `{"type":"input_audio","input_audio":{"data":…,"format":…}}`
    InputAudio {
        /// The audio clip.
        input_audio: InputAudio,
    },
    /// `{"type":"file","file":{…}}`
    File {
        /// The file reference or inline data.
        file: FileData,
    },
    /// Any other part, kept verbatim.
    Other(Value),
}

impl ContentPart {
    /// A text part.
    pub fn text(text: impl Into<String>) -> ContentPart {
        ContentPart::Text { text: text.into() }
    }

    /// An image part from an `http(s)://` or `data:image/…;base64,` URL.
    pub fn image_url(url: impl Into<String>, detail: Option<&str>) -> ContentPart {
        ContentPart::ImageUrl {
            image_url: ImageUrl {
                url: url.into(),
                detail: detail.map(str::to_owned),
            },
        }
    }
}

/// An image reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    /// `http(s)://…` or `data:image/png;base64,…`.
    pub url: String,
    /// `low`, `high` or `auto`; not sent when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Inline audio input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputAudio {
    /// Base64 audio bytes.
    pub data: String,
    /// `wav`, `mp3`, …
    pub format: String,
}

/// A file given inline or by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FileData {
    /// Base64 data URL of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<String>,
    /// An uploaded file's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// The file's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

impl Serialize for ContentPart {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        if let ContentPart::Other(v) = self {
            return v.serialize(s);
        }
        let mut m = s.serialize_map(Some(2))?;
        match self {
            ContentPart::Text { text } => {
                m.serialize_entry("type", "text")?;
                m.serialize_entry("text", text)?;
            }
            ContentPart::ImageUrl { image_url } => {
                m.serialize_entry("type", "image_url")?;
                m.serialize_entry("image_url", image_url)?;
            }
            ContentPart::InputAudio { input_audio } => {
                m.serialize_entry("type", "input_audio")?;
                m.serialize_entry("input_audio", input_audio)?;
            }
            ContentPart::File { file } => {
                m.serialize_entry("type", "file")?;
                m.serialize_entry("file", file)?;
            }
            ContentPart::Other(_) => unreachable!("handled above"),
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for ContentPart {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let typed = |key: &str| v.get(key).cloned();
        let part = match v.get("type").and_then(Value::as_str) {
            Some("text") => v
                .get("text")
                .and_then(Value::as_str)
                .map(|t| ContentPart::Text { text: t.to_owned() }),
            Some("image_url") => typed("image_url")
                .and_then(|x| serde_json::from_value(x).ok())
                .map(|image_url| ContentPart::ImageUrl { image_url }),
            Some("input_audio") => typed("input_audio")
                .and_then(|x| serde_json::from_value(x).ok())
                .map(|input_audio| ContentPart::InputAudio { input_audio }),
            Some("file") => typed("file")
                .and_then(|x| serde_json::from_value(x).ok())
                .map(|file| ContentPart::File { file }),
            _ => None,
        };
        Ok(part.unwrap_or(ContentPart::Other(v)))
    }
}

/// A tool call made by the assistant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCall {
    /// The call's id, echoed by the tool result (`ChatMessage::tool`). Servers differ in
    /// format (`call_…`, bare random strings); missing ids read as `""`.
    pub id: String,
    /// The tool type; `"function"` for function tools.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function called and its arguments.
    pub function: FunctionCall,
    /// Fields this crate does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ToolCall {
    /// A function call with its arguments as JSON text.
    pub fn function(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> ToolCall {
        ToolCall {
            id: id.into(),
            kind: function_kind(),
            function: FunctionCall {
                name: name.into(),
                arguments: arguments.into(),
            },
            extra: Map::new(),
        }
    }
}

pub(crate) fn function_kind() -> String {
    "function".to_owned()
}

lenient::deserialize_with_extra!(ToolCall, "a tool call", extra, {
    id: "id" => NullDefault<String>, or String::new();
    kind: "type" => KindOrNull, or function_kind();
    function: "function" => Plain<FunctionCall>, or FunctionCall::default();
});

/// The tool type, `"function"` for `null`.
struct KindOrNull(String);

impl<'de> Deserialize<'de> for KindOrNull {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(KindOrNull(
            Option::<String>::deserialize(d)?.unwrap_or_else(function_kind),
        ))
    }
}

/// The function a tool call invokes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FunctionCall {
    /// The function's name.
    #[serde(default, deserialize_with = "lenient::null_default")]
    pub name: String,
    /// The arguments as JSON text (as the model wrote them: they may not be valid JSON).
    /// Servers that send an object instead of text are accepted; the object is kept as its
    /// JSON text.
    #[serde(default, deserialize_with = "lenient::arguments_string")]
    pub arguments: String,
}

impl FunctionCall {
    /// Parses the arguments into `T`.
    pub fn parse_arguments<T: serde::de::DeserializeOwned>(&self) -> crate::Result<T> {
        let text = if self.arguments.trim().is_empty() {
            "{}"
        } else {
            &self.arguments
        };
        serde_json::from_str(text).map_err(|e| {
            crate::Error::decode(
                format!("arguments of tool call {:?}: {e}", self.name),
                self.arguments.as_bytes(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_set_fields_are_sent() {
        let m = ChatMessage::user("hi");
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"role":"user","content":"hi"})
        );
        let t = ChatMessage::tool("call_1", "42");
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            json!({"role":"tool","content":"42","tool_call_id":"call_1"})
        );
    }

    #[test]
    fn parts_round_trip_and_unknown_parts_are_kept() {
        let v = json!({"role":"user","content":[
            {"type":"text","text":"look"},
            {"type":"image_url","image_url":{"url":"https://x/y.png"}},
            {"type":"input_audio","input_audio":{"data":"AAA","format":"wav"}},
            {"type":"file","file":{"file_id":"f1"}},
            {"type":"video_url","video_url":{"url":"v"}}
        ]});
        let m: ChatMessage = serde_json::from_value(v.clone()).unwrap();
        match &m.content {
            Some(Content::Parts(p)) => {
                assert!(matches!(p[0], ContentPart::Text { .. }));
                assert!(matches!(p[1], ContentPart::ImageUrl { .. }));
                assert!(matches!(p[4], ContentPart::Other(_)));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(serde_json::to_value(&m).unwrap(), v);
    }

    #[test]
    fn lenient_assistant_message() {
        let m: ChatMessage = serde_json::from_value(json!({
            "role": null, "content": "", "reasoning": "hmm", "annotations": [],
            "tool_calls": [{"id": "abc", "function": {"name": "f", "arguments": {"a": 1}}}]
        }))
        .unwrap();
        assert_eq!(m.role, Role::Assistant);
        assert_eq!(m.reasoning(), Some("hmm"));
        let call = &m.tool_calls.as_ref().unwrap()[0];
        assert_eq!(call.kind, "function");
        assert_eq!(call.function.arguments, r#"{"a":1}"#);
        let back = serde_json::to_value(&m).unwrap();
        assert_eq!(back["reasoning"], "hmm");
        assert_eq!(back["annotations"], json!([]));
        assert_eq!(m.annotations, Some(json!([])));
        // `null` is kept and written back as it came.
        let m: ChatMessage =
            serde_json::from_value(json!({"role": "assistant", "annotations": null})).unwrap();
        assert_eq!(m.annotations, Some(Value::Null));
        let back = serde_json::to_value(&m).unwrap();
        assert_eq!(back.get("annotations"), Some(&Value::Null));
    }

    #[test]
    fn unknown_role_is_kept() {
        let m: ChatMessage =
            serde_json::from_value(json!({"role":"ipython","content":"x"})).unwrap();
        assert_eq!(m.role, Role::Other("ipython".into()));
        assert_eq!(serde_json::to_value(&m).unwrap()["role"], "ipython");
    }
}
