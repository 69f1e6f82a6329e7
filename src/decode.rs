//! Response bodies in, typed answers out (pure, shared by both modes).
//!
//! A 2xx body is a chat completion, except where a proxy answers 200 with an error object
//! (LiteLLM, vLLM's `{"object":"error"}`): that is an API error, decided here once for
//! plain answers and for JSON answers to stream requests alike.

use crate::error::{ApiError, Error, Result};
use crate::types::ChatCompletion;

/// Decodes a successful response body. `secret` (the API key) is redacted from any error.
pub(crate) fn completion(body: &[u8], secret: Option<&str>) -> Result<ChatCompletion> {
    // From text when the body is UTF-8 (it always is): `from_slice` checks every string
    // separately, which costs more than one check of the whole body.
    let parsed = match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(body),
    };
    let completion: ChatCompletion = parsed.map_err(|e| {
        Error::decode_body(
            format!("the response is not a chat completion: {e}"),
            body,
            secret,
        )
    })?;
    if completion.choices.is_empty()
        && (completion.extra.contains_key("error") || completion.object == "error")
    {
        return Err(Error::Api(Box::new(ApiError::from_body(
            Some(200),
            body,
            None,
            secret,
        ))));
    }
    Ok(completion)
}

/// Whether a `content-type` value says JSON (a server that ignored `stream`).
pub(crate) fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        ct.trim_start()
            .get(..16)
            .is_some_and(|p| p.eq_ignore_ascii_case("application/json"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_object_on_200_is_an_api_error() {
        let body = br#"{"object":"error","message":"model not found","code":404}"#;
        assert!(matches!(completion(body, None), Err(Error::Api(_))));
        let body = br#"{"error":{"message":"upstream failed"}}"#;
        assert!(matches!(completion(body, None), Err(Error::Api(_))));
        let body = br#"{"id":"x","choices":[]}"#;
        assert!(completion(body, None).is_ok());
    }

    #[test]
    fn json_content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some(" Application/JSON; charset=utf-8")));
        assert!(!is_json(Some("text/event-stream")));
        assert!(!is_json(Some("application/js")));
        assert!(!is_json(None));
    }
}
