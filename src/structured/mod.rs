//! Structured output, the pure part (shared by both modes; no I/O): the strict schema
//! transform (`strict`), the tolerant parser for JSON still arriving (`partial_json`),
//! turning a completion into a [`ParsedChatCompletion`] and the json_object fallback's
//! instruction (`parsed`), and chunks into [`StructuredEvent`]s (`events`).
//!
//! The requests themselves — `parse`, `stream_parse`, the fallback's second request and the
//! lazy stream manager — are the model's (`crate::model`).

mod events;
mod parsed;
mod partial_json;
mod strict;

pub(crate) use events::EventState;
pub use events::StructuredEvent;
pub(crate) use parsed::{
    check_tools, earns_fallback, parse_completion, with_format_instruction, Failure,
};
pub use parsed::{ParsePath, ParsedChatCompletion, ParsedChoice, ParsedMessage};

use serde_json::Value;

use crate::types::ResponseFormat;

/// The strict-mode constructors, which run a schema through the `strict` transform.
impl ResponseFormat {
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
}

#[cfg(all(test, feature = "schema"))]
mod tests {
    use super::*;
    use serde_json::json;

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
}
