//! [`ResponseMeta`]: what the HTTP exchange said besides the body.
//!
//! It rides along with the answer (a completion, a stream, a parsed result, an API error)
//! but is never serialized into the completion's JSON, and it never holds the API key: a
//! header value that contains the key is redacted when the metadata is built.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The status, headers and cost of the exchange that produced an answer.
///
/// Reach it with [`ChatCompletion::meta`](crate::ChatCompletion::meta),
/// [`ChatCompletionStream::meta`](crate::ChatCompletionStream::meta) (as soon as the stream's
/// head has arrived), [`ParsedChatCompletion::meta`](crate::ParsedChatCompletion::meta) and
/// [`ApiError::meta`](crate::ApiError::meta). Answers from a custom
/// [`ChatClient`](crate::ChatClient) have none.
///
/// ```
/// # fn show(completion: &openai_compatible::ChatCompletion) {
/// if let Some(meta) = completion.meta() {
///     println!("request {:?} took {} attempt(s)", meta.request_id, meta.attempts);
///     if meta.rate_limit.remaining_requests == Some(0) {
///         println!("out of requests until {:?}", meta.rate_limit.reset_requests);
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseMeta {
    /// The HTTP status of the last attempt.
    pub status: u16,
    /// The response headers of the last attempt, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The `x-request-id` header, for logs and support tickets.
    pub request_id: Option<String>,
    /// The `x-ratelimit-*` headers, typed.
    pub rate_limit: RateLimit,
    /// How many attempts were made, the successful one included (1 when nothing was retried).
    pub attempts: u32,
    /// From the first attempt's start to the response head of the last one (for a plain
    /// request, to the end of its body).
    pub elapsed: Duration,
}

/// The rate-limit headers OpenAI (and servers copying it) send with every answer.
///
/// Each field is `None` when its header did not come (or, for the counts, was not an
/// integer). The reset values are kept as sent (`"1s"`, `"6m0s"`, `"20ms"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// `x-ratelimit-limit-requests`: requests allowed in the window.
    pub limit_requests: Option<u64>,
    /// `x-ratelimit-remaining-requests`: requests left in the window.
    pub remaining_requests: Option<u64>,
    /// `x-ratelimit-reset-requests`: when the request window resets.
    pub reset_requests: Option<String>,
    /// `x-ratelimit-limit-tokens`: tokens allowed in the window.
    pub limit_tokens: Option<u64>,
    /// `x-ratelimit-remaining-tokens`: tokens left in the window.
    pub remaining_tokens: Option<u64>,
    /// `x-ratelimit-reset-tokens`: when the token window resets.
    pub reset_tokens: Option<String>,
}

impl ResponseMeta {
    /// Builds the metadata of a response head. Header values holding `secret` are redacted.
    pub(crate) fn new(
        status: u16,
        headers: Vec<(String, String)>,
        attempts: u32,
        elapsed: Duration,
        secret: Option<&str>,
    ) -> ResponseMeta {
        let mut headers = headers;
        let mut request_id = None;
        let mut rate_limit = RateLimit::default();
        let mut seen = 0u8;
        // One pass: the names come lower-case from both HTTP libraries, but a caller's
        // custom client may not, hence the case-insensitive fallback.
        for (name, value) in &mut headers {
            if let Some(secret) =
                secret.filter(|s| !s.is_empty() && value.len() >= s.len() && value.contains(*s))
            {
                *value = value.replace(secret, "[REDACTED]");
            }
            if !(name.len() >= 12 && name.as_bytes()[0].eq_ignore_ascii_case(&b'x')) {
                continue;
            }
            let lower;
            let key = if name.bytes().any(|b| b.is_ascii_uppercase()) {
                lower = name.to_ascii_lowercase();
                lower.as_str()
            } else {
                name.as_str()
            };
            let text = || Some(value.trim().to_owned());
            let count = || value.trim().parse::<u64>().ok();
            // The first header of each name decides, as `header()` reads it.
            let (bit, slot) = match key {
                "x-request-id" => (0, Slot::Text(&mut request_id)),
                "x-ratelimit-limit-requests" => (1, Slot::Count(&mut rate_limit.limit_requests)),
                "x-ratelimit-remaining-requests" => {
                    (2, Slot::Count(&mut rate_limit.remaining_requests))
                }
                "x-ratelimit-reset-requests" => (3, Slot::Text(&mut rate_limit.reset_requests)),
                "x-ratelimit-limit-tokens" => (4, Slot::Count(&mut rate_limit.limit_tokens)),
                "x-ratelimit-remaining-tokens" => {
                    (5, Slot::Count(&mut rate_limit.remaining_tokens))
                }
                "x-ratelimit-reset-tokens" => (6, Slot::Text(&mut rate_limit.reset_tokens)),
                _ => continue,
            };
            if seen & (1 << bit) != 0 {
                continue;
            }
            seen |= 1 << bit;
            match slot {
                Slot::Text(s) => *s = text(),
                Slot::Count(s) => *s = count(),
            }
        }
        ResponseMeta {
            status,
            headers,
            request_id,
            rate_limit,
            attempts,
            elapsed,
        }
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Where a header's value goes.
enum Slot<'a> {
    Text(&'a mut Option<String>),
    Count(&'a mut Option<u64>),
}

/// Where a completion keeps its metadata: shared (cheap to clone), skipped by `Serialize`,
/// and ignored by `PartialEq`, so two completions with the same content compare equal
/// whatever exchanges produced them.
#[derive(Clone, Default)]
pub(crate) struct MetaSlot(pub(crate) Option<Arc<ResponseMeta>>);

impl MetaSlot {
    pub(crate) fn get(&self) -> Option<&ResponseMeta> {
        self.0.as_deref()
    }
}

impl PartialEq for MetaSlot {
    fn eq(&self, _: &MetaSlot) -> bool {
        true
    }
}

impl fmt::Debug for MetaSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get() {
            Some(meta) => meta.fmt(f),
            None => f.write_str("None"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn rate_limit_headers_are_typed_and_resets_kept_as_sent() {
        let meta = ResponseMeta::new(
            200,
            headers(&[
                ("x-request-id", "req_123"),
                ("x-ratelimit-limit-requests", "10000"),
                ("x-ratelimit-remaining-requests", " 9999 "),
                ("x-ratelimit-reset-requests", "6ms"),
                ("x-ratelimit-limit-tokens", "not a number"),
                ("x-ratelimit-remaining-tokens", "149984"),
                ("x-ratelimit-reset-tokens", "6m0s"),
            ]),
            2,
            Duration::from_millis(40),
            None,
        );
        assert_eq!(meta.request_id.as_deref(), Some("req_123"));
        assert_eq!(
            meta.rate_limit,
            RateLimit {
                limit_requests: Some(10000),
                remaining_requests: Some(9999),
                reset_requests: Some("6ms".into()),
                limit_tokens: None,
                remaining_tokens: Some(149984),
                reset_tokens: Some("6m0s".into()),
            }
        );
        assert_eq!(meta.attempts, 2);
        assert_eq!(meta.header("X-Request-Id"), Some("req_123"));

        // The first header of a name decides, whatever its case, as `header()` reads it.
        let meta = ResponseMeta::new(
            200,
            headers(&[
                ("X-RateLimit-Limit-Requests", ""),
                ("x-ratelimit-limit-requests", "5"),
                ("X-Request-ID", "first"),
                ("x-request-id", "second"),
            ]),
            1,
            Duration::ZERO,
            None,
        );
        assert_eq!(meta.rate_limit.limit_requests, None);
        assert_eq!(meta.request_id.as_deref(), Some("first"));
    }

    #[test]
    fn absent_headers_give_none_and_the_key_is_redacted() {
        let key = "sk-secret-key-123456";
        let meta = ResponseMeta::new(
            200,
            headers(&[("x-echo", &format!("Bearer {key}"))]),
            1,
            Duration::ZERO,
            Some(key),
        );
        assert_eq!(meta.rate_limit, RateLimit::default());
        assert_eq!(meta.request_id, None);
        assert_eq!(meta.header("x-echo"), Some("Bearer [REDACTED]"));
        assert!(!format!("{meta:?}").contains(key));
    }
}
