//! Structured output: response formats (CAMEL's `response_format`), typed parsing with the
//! json_object fallback, and streamed parsing.
//!
//! The pure parts live here and are shared by both modes: the strict schema transform
//! (`strict`), the tolerant parser for JSON still arriving (`partial_json`), turning a
//! completion into a [`ParsedChatCompletion`] (`parsed`) and chunks into
//! [`StructuredEvent`]s (`events`). `api` holds the model's `parse*` methods and `manager`
//! the lazy [`ChatCompletionStreamManager`].

mod api;
mod events;
mod manager;
mod parsed;
pub(crate) mod partial_json;
mod strict;

pub use events::StructuredEvent;
pub use manager::ChatCompletionStreamManager;
pub use parsed::{ParsePath, ParsedChatCompletion, ParsedChoice, ParsedMessage};

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

    /// A JSON-schema format from a raw schema rewritten for OpenAI's strict mode, the
    /// transform [`for_type`](Self::for_type) applies: for a hand-written schema, a schema
    /// file, or one from another generator (schemars 0.8, draft-07 settings). `name` is made
    /// valid for the API (letters, digits, `_`, `-`; at most 64 characters).
    ///
    /// A schema that cannot be made strict without changing what it accepts (a map type's
    /// `additionalProperties`, say) is left as it is there; a server that refuses it is
    /// handled by the json_object fallback.
    ///
    /// ```
    /// use openai_compatible::ResponseFormat;
    /// use serde_json::json;
    ///
    /// let raw = json!({"type": "object", "properties": {"n": {"type": "integer", "format": "int64"}}});
    /// let format = ResponseFormat::json_schema_strict("my answer", &raw);
    /// assert_eq!(
    ///     format.to_wire()["json_schema"],
    ///     json!({
    ///         "name": "my_answer",
    ///         "schema": {"type": "object", "properties": {"n": {"type": "integer"}},
    ///                    "required": ["n"], "additionalProperties": false},
    ///         "strict": true
    ///     })
    /// );
    /// ```
    pub fn json_schema_strict(name: &str, schema: &Value) -> ResponseFormat {
        ResponseFormat::JsonSchema {
            name: strict::schema_name(name),
            schema: strict::to_strict_schema(schema),
            strict: true,
        }
    }

    /// The strict JSON-schema format of a Rust type: its schemars schema rewritten for
    /// OpenAI's strict mode (every object closed with `additionalProperties: false`, every
    /// property required, single `allOf`s merged, `$ref`s with siblings inlined, unsupported
    /// `format`s dropped), named after the type (made valid for the API: letters, digits,
    /// `_`, `-`, at most 64 characters).
    ///
    /// ```
    /// use openai_compatible::ResponseFormat;
    ///
    /// #[derive(schemars::JsonSchema)]
    /// struct Weather {
    ///     city: String,
    ///     temperature_c: f64,
    ///     wind_kph: Option<u32>,
    /// }
    ///
    /// let ResponseFormat::JsonSchema { name, schema, strict } = ResponseFormat::for_type::<Weather>() else {
    ///     unreachable!()
    /// };
    /// assert_eq!(name, "Weather");
    /// assert!(strict);
    /// assert_eq!(schema["additionalProperties"], false);
    /// assert_eq!(schema["required"], serde_json::json!(["city", "temperature_c", "wind_kph"]));
    /// ```
    #[cfg(feature = "schema")]
    #[cfg_attr(docsrs, doc(cfg(feature = "schema")))]
    pub fn for_type<T: schemars::JsonSchema>() -> ResponseFormat {
        let schema = schemars::SchemaGenerator::default().into_root_schema_for::<T>();
        ResponseFormat::JsonSchema {
            name: strict::schema_name(&T::schema_name()),
            schema: strict::to_strict_schema(schema.as_value()),
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

#[cfg(all(test, feature = "schema"))]
mod tests {
    use super::*;

    #[allow(dead_code)]
    #[derive(schemars::JsonSchema)]
    struct Wrapper<T> {
        inner: T,
    }

    #[test]
    fn for_type_is_strict_and_named_for_the_api() {
        let rf = ResponseFormat::for_type::<Wrapper<Option<u8>>>();
        let ResponseFormat::JsonSchema {
            name,
            schema,
            strict,
        } = rf
        else {
            panic!("not a schema format")
        };
        assert!(strict);
        assert!(name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        assert!(name.starts_with("Wrapper"), "{name}");
        assert!(schema.get("$schema").is_none());
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["required"], json!(["inner"]));
        // `uint8` is not a format strict mode knows.
        assert!(!schema.to_string().contains("uint8"));
    }

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
