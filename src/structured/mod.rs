//! Structured output: response formats (CAMEL's `response_format`).

use serde_json::{json, Value};

/// The format the answer must take (`response_format` in the request).
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
}
