//! Tools the model may call, and how to make it call them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A tool offered to the model. Function tools are the common case; other tool types a
/// server supports can be written as JSON and read with `serde_json::from_value`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// The tool type, `"function"` for function tools.
    #[serde(rename = "type", default = "super::message::function_kind")]
    pub kind: String,
    /// The function's definition, for function tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionDefinition>,
    /// Fields of other tool types, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Tool {
    /// A function tool. `parameters` is the JSON schema of its arguments.
    pub fn function(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: Value,
    ) -> Tool {
        Tool {
            kind: super::message::function_kind(),
            function: Some(FunctionDefinition {
                name: name.into(),
                description: Some(description.into()),
                parameters: Some(parameters),
                strict: None,
            }),
            extra: Map::new(),
        }
    }

    /// Marks the function as strict (required for structured-output parsing).
    pub fn strict(mut self, strict: bool) -> Tool {
        if let Some(f) = self.function.as_mut() {
            f.strict = Some(strict);
        }
        self
    }

    /// The function's name, for function tools.
    pub fn name(&self) -> Option<&str> {
        self.function.as_ref().map(|f| f.name.as_str())
    }
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDefinition {
    /// The name the model uses to call it.
    pub name: String,
    /// What it does; models choose tools by this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON schema of the arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Whether the server must follow the schema exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// How the model should choose tools (`tool_choice` in the request).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    /// `"none"`, `"auto"` or `"required"`.
    Mode(String),
    /// A specific tool, e.g. `{"type":"function","function":{"name":"get_weather"}}`.
    Named(Value),
}

impl ToolChoice {
    /// `"auto"`: the model decides.
    pub fn auto() -> ToolChoice {
        ToolChoice::Mode("auto".into())
    }

    /// `"required"`: the model must call at least one tool.
    pub fn required() -> ToolChoice {
        ToolChoice::Mode("required".into())
    }

    /// `"none"`: the model must not call tools.
    pub fn none() -> ToolChoice {
        ToolChoice::Mode("none".into())
    }

    /// Force a call of the named function.
    pub fn function(name: &str) -> ToolChoice {
        ToolChoice::Named(serde_json::json!({"type": "function", "function": {"name": name}}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn function_tool_wire_shape() {
        let t = Tool::function(
            "get_weather",
            "Weather for a city",
            json!({"type":"object"}),
        );
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            json!({"type":"function","function":{"name":"get_weather","description":"Weather for a city","parameters":{"type":"object"}}})
        );
        assert_eq!(
            serde_json::to_value(ToolChoice::function("f")).unwrap(),
            json!({"type":"function","function":{"name":"f"}})
        );
    }
}
