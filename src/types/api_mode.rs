//! [`ApiMode`]: which wire protocol a model speaks (docs/RESPONSES.md §1).

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The wire protocol of a model: CAMEL's `api_mode`.
///
/// Both modes take the same messages, tools and response formats and give back the same
/// [`ChatCompletion`](crate::ChatCompletion)s and chunks; only the endpoint, the request
/// body and the decoding of answers differ (see the crate guide's "Responses mode").
///
/// Parsed from exactly `chat_completions` or `responses`:
///
/// ```
/// use openai_compatible::ApiMode;
/// assert_eq!("responses".parse::<ApiMode>().unwrap(), ApiMode::Responses);
/// assert!("Responses".parse::<ApiMode>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ApiMode {
    /// `POST {base}/chat/completions` (the default).
    #[default]
    ChatCompletions,
    /// `POST {base}/responses`: the body is translated to the Responses API, and the answer
    /// (or its stream of events) converted back to a completion (or chunks).
    Responses,
}

impl ApiMode {
    /// The name CAMEL uses, also what `FromStr` accepts: `chat_completions` or `responses`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiMode::ChatCompletions => "chat_completions",
            ApiMode::Responses => "responses",
        }
    }

    /// The path appended to the base URL.
    pub(crate) fn endpoint(self) -> &'static str {
        match self {
            ApiMode::ChatCompletions => "chat/completions",
            ApiMode::Responses => "responses",
        }
    }
}

impl fmt::Display for ApiMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApiMode {
    type Err = Error;

    /// Accepts exactly `chat_completions` and `responses`; anything else is an
    /// [`Error::Config`] saying so.
    fn from_str(s: &str) -> Result<ApiMode, Error> {
        match s {
            "chat_completions" => Ok(ApiMode::ChatCompletions),
            "responses" => Ok(ApiMode::Responses),
            other => Err(Error::Config(format!(
                "api_mode must be 'chat_completions' or 'responses', got: {other}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_others_fail() {
        for mode in [ApiMode::ChatCompletions, ApiMode::Responses] {
            assert_eq!(mode.as_str().parse::<ApiMode>().unwrap(), mode);
        }
        let err = "chat".parse::<ApiMode>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration error: api_mode must be 'chat_completions' or 'responses', got: chat"
        );
    }
}
