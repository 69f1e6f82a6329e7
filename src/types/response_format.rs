//! [`ResponseFormat`]: the `response_format` of a request.
//!
//! The type and its wire form sit at the ground layer so request assembly can use them; the
//! constructors that rewrite a schema for strict mode (`for_type`, `json_schema_strict`)
//! live beside the transform, in `structured`.

use serde_json::{json, Value};

/// The format the answer must take (`response_format` in the request).
///
/// Given to [`run`](crate::OpenAICompatibleModel::run), a [`JsonSchema`](Self::JsonSchema)
/// format makes it a structured request: the answer is parsed (each message's
/// [`parsed`](crate::ChatMessage::parsed) holds the JSON), with the json_object fallback when
/// the server cannot follow the schema. [`Text`](Self::Text) and
/// [`JsonObject`](Self::JsonObject) are sent as they are and nothing is parsed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ResponseFormat {
    /// Plain text (the server's default).
    Text,
    /// Any valid JSON object (`{"type":"json_object"}`); the prompt must ask for JSON.
    JsonObject,
    /// JSON that follows a schema (`{"type":"json_schema", …}`).
    JsonSchema {
        /// The schema's name (letters, digits, `_`, `-`; at most 64).
        name: String,
        /// The JSON schema.
        schema: Value,
        /// Whether the server must follow it exactly.
        strict: bool,
    },
}

impl ResponseFormat {
    /// A JSON-schema format from a raw schema, sent as given with `strict: true`.
    ///
    /// This is the form for a schema read from a file: the server receives exactly this
    /// schema. A server that refuses it (HTTP 400) is handled by the json_object fallback of
    /// [`parse_with`](crate::OpenAICompatibleModel::parse_with).
    pub fn json_schema(name: impl Into<String>, schema: Value) -> ResponseFormat {
        ResponseFormat::JsonSchema {
            name: name.into(),
            schema,
            strict: true,
        }
    }

    /// The wire form.
    pub fn to_wire(&self) -> Value {
        match self {
            ResponseFormat::Text => json!({"type": "text"}),
            ResponseFormat::JsonObject => json!({"type": "json_object"}),
            ResponseFormat::JsonSchema {
                name,
                schema,
                strict,
            } => json!({
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema, "strict": strict}
            }),
        }
    }

    /// The schema, for a [`JsonSchema`](Self::JsonSchema) format.
    pub fn schema(&self) -> Option<&Value> {
        match self {
            ResponseFormat::JsonSchema { schema, .. } => Some(schema),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms() {
        assert_eq!(ResponseFormat::Text.to_wire(), json!({"type": "text"}));
        assert_eq!(
            ResponseFormat::json_schema("n", json!({"type": "object"})).to_wire(),
            json!({"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}, "strict": true}})
        );
        assert_eq!(ResponseFormat::JsonObject.schema(), None);
    }
}
