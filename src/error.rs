//! The one error type of the crate.
//!
//! Every failure a caller can act on has its own variant, so code can `match` on what went
//! wrong instead of parsing messages. The API key never appears in any of them: error bodies
//! that echo it are redacted when the error is built.

use std::fmt;
use std::time::Duration;

use crate::types::{ChatCompletion, MetaSlot, ResponseMeta};

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when building a model or running a request.
///
/// The enum is `#[non_exhaustive]`: match the variants you handle and keep a `_` arm.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The model was configured wrongly: a missing API key, a malformed URL or
    /// `MODEL_TIMEOUT`, a reserved or mistyped config key. Returned by `build()` (or by a
    /// request whose per-call options are wrong). Fix the configuration; retrying won't help.
    Config(String),
    /// The caller's input cannot be sent as it is: for example a non-strict function tool
    /// in a structured-output request, or an image the token counter cannot read.
    InvalidInput(String),
    /// The server answered with a non-success HTTP status (after any retries). Inspect
    /// [`ApiError::status`], or use [`Error::status`] and [`Error::is_rate_limit`].
    Api(Box<ApiError>),
    /// The server reported an error inside a stream that had already started
    /// (`data: {"error": …}` or an `event: error` line). Not retried: the answer was
    /// partly delivered.
    StreamApi(Box<ApiError>),
    /// The server could not be reached, or the connection broke before a complete response
    /// arrived: DNS, a refused or reset connection, a dead or refusing proxy, TLS. The
    /// [`ConnectionError`] names the host and port tried, the proxy when one was used, the
    /// [`ConnectionPhase`] that failed and how many attempts were made. Retried automatically
    /// while retries remain, except failures that would repeat: a TLS failure such as an
    /// untrusted certificate, a proxy refusing the tunnel with a 4xx status.
    Connection(Box<ConnectionError>),
    /// A timeout fired. `phase` says which bound it was; `after` is the limit that applied.
    /// Match it with `Error::Timeout { phase, after, .. }`.
    #[non_exhaustive]
    Timeout {
        /// Which part of the exchange took too long.
        phase: TimeoutPhase,
        /// The limit that was exceeded.
        after: Duration,
        /// For [`TimeoutPhase::Connect`]: where the connection was going, the stage that hung
        /// (in the blocking build; reqwest does not say, so the async build reports
        /// [`ConnectionPhase::Connect`] and lists the stages) and the attempts made. `None`
        /// for the other phases: the connection had been made.
        connection: Option<Box<ConnectionError>>,
    },
    /// A response arrived but could not be decoded (not JSON, or not the expected shape).
    Decode {
        /// What was being decoded and why it failed.
        message: String,
        /// The first bytes of the offending body (at most 512 bytes, lossy UTF-8).
        snippet: String,
    },
    /// The response body was larger than the configured limit
    /// (`OpenAICompatibleModelBuilder::max_response_bytes`).
    BodyTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// A stream ended before any choice finished and without `data: [DONE]`: the answer is
    /// incomplete. The text says how much arrived.
    IncompleteStream(String),
    /// The model stopped because it hit the token limit (`finish_reason: "length"`) while a
    /// structured answer was being parsed. The partial completion is kept.
    Length(Box<ChatCompletion>),
    /// The provider's content filter stopped the answer (`finish_reason: "content_filter"`)
    /// while a structured answer was being parsed. The completion is kept.
    ContentFilter(Box<ChatCompletion>),
    /// The model refused to answer a structured-output request; the text is its refusal.
    Refusal(String),
    /// A custom [`ChatClient`](crate::ChatClient) failed; its own error is inside.
    Client(anyhow::Error),
}

/// Which bound a [`Error::Timeout`] enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// Establishing the connection — DNS, TCP, the proxy's `CONNECT` tunnel and the TLS
    /// handshake — took longer than the connect timeout
    /// ([`OpenAICompatibleModelBuilder::connect_timeout`](crate::OpenAICompatibleModelBuilder::connect_timeout),
    /// by default the smaller of the timeout and 10 s). Retried like a refused connection.
    /// The error's `connection` says where it was going and which stage hung: a TLS
    /// handshake that never completes often means an `https://` URL pointing at a plain-HTTP
    /// server.
    Connect,
    /// Waiting for the response status line and headers of a stream.
    ResponseHead,
    /// The whole exchange of a non-stream request (connect, send, wait and read the body).
    Total,
    /// The silence between two reads of a stream's body: the server stopped sending.
    StreamIdle,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connecting",
            TimeoutPhase::ResponseHead => "waiting for the response headers",
            TimeoutPhase::Total => "waiting for the complete response",
            TimeoutPhase::StreamIdle => "waiting for more stream data (the server went silent)",
        })
    }
}

/// Why the server could not be reached: the details of an [`Error::Connection`] (and of a
/// connect [`Error::Timeout`]).
///
/// Its `Display` is one sentence such as `could not connect to 127.0.0.1:9 (connection
/// refused) after 2 attempts` or `could not connect to llm.internal:443 via proxy
/// 10.0.0.1:3128 (the proxy answered the CONNECT request with HTTP 403) after 1 attempt`. It
/// never holds the URL's path or query, credentials or the API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionError {
    host: String,
    port: u16,
    proxy: Option<String>,
    phase: ConnectionPhase,
    reason: String,
    attempts: u32,
}

/// The stage of a connection that failed (or hung), in the order they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionPhase {
    /// Looking up the host name: of the server, or of the proxy when one is used.
    Resolve,
    /// Opening the TCP connection: to the server, or to the proxy when one is used.
    Connect,
    /// Asking the proxy for a tunnel to the server (`CONNECT`, for `https://` URLs).
    Tunnel,
    /// The TLS handshake with the server (certificate checks included).
    Tls,
    /// After the connection was made: sending the request or reading the response.
    Exchange,
}

impl fmt::Display for ConnectionPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectionPhase::Resolve => "name lookup",
            ConnectionPhase::Connect => "TCP connect",
            ConnectionPhase::Tunnel => "proxy tunnel",
            ConnectionPhase::Tls => "TLS handshake",
            ConnectionPhase::Exchange => "exchange",
        })
    }
}

impl ConnectionError {
    /// A failure reaching `host:port` (through `proxy`, `host:port`, when one was used) in
    /// `phase`; `reason` says what happened, without URLs or secrets.
    pub(crate) fn new(
        host: &str,
        port: u16,
        proxy: Option<String>,
        phase: ConnectionPhase,
        reason: impl Into<String>,
    ) -> ConnectionError {
        ConnectionError {
            host: host.to_owned(),
            port,
            proxy,
            phase,
            reason: reason.into(),
            attempts: 0,
        }
    }

    /// The server's host name or address, as written in the URL (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The server's port (the scheme's default when the URL gives none).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The proxy the connection went through (`host:port`, never credentials), when this
    /// crate chose one from the environment. `None` for a direct connection, and when the
    /// model uses a caller-built HTTP client (its proxy settings are its own).
    pub fn proxy(&self) -> Option<&str> {
        self.proxy.as_deref()
    }

    /// The stage that failed. With a proxy, [`ConnectionPhase::Resolve`] and
    /// [`ConnectionPhase::Connect`] are about the proxy itself.
    pub fn phase(&self) -> ConnectionPhase {
        self.phase
    }

    /// What went wrong, in words (`connection refused`, the TLS library's message, …).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The attempts made before giving up (1 + the retries), or 0 when the failure came
    /// after the request had been answered (a stream that broke midway).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    fn write_target(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "{}:{}", self.host, self.port)?;
        }
        if let Some(proxy) = &self.proxy {
            write!(f, " via proxy {proxy}")?;
        }
        Ok(())
    }

    fn write_attempts(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.attempts {
            0 => Ok(()),
            1 => f.write_str(" after 1 attempt"),
            n => write!(f, " after {n} attempts"),
        }
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.phase {
            ConnectionPhase::Exchange => f.write_str("the connection to ")?,
            _ => f.write_str("could not connect to ")?,
        }
        self.write_target(f)?;
        if self.phase == ConnectionPhase::Exchange {
            f.write_str(" broke before the response was complete")?;
        }
        write!(f, " ({})", self.reason)?;
        self.write_attempts(f)
    }
}

impl std::error::Error for ConnectionError {}

/// An error answer from the server, in any of the shapes providers use.
///
/// OpenAI's `{"error": {"message", "type", "param", "code"}}`, vLLM's top-level
/// `{"object": "error", "message", "code"}`, llama.cpp's integer `code`, and plain text or HTML
/// from a proxy all end up here; `body` keeps the raw text.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status; `None` for an error reported inside a stream.
    pub status: Option<u16>,
    /// The human-readable message (the raw body, shortened, when the body had no message).
    pub message: String,
    /// The provider's error type, e.g. `invalid_request_error`.
    pub kind: Option<String>,
    /// The provider's error code: a string for OpenAI, an integer for llama.cpp and vLLM.
    pub code: Option<ErrorCode>,
    /// The request parameter the error is about, when the provider says.
    pub param: Option<String>,
    /// The `x-request-id` response header, for support tickets.
    pub request_id: Option<String>,
    /// The raw response body (at most 64 KiB, API key redacted).
    pub body: String,
    /// The exchange that produced it; see [`meta`](Self::meta).
    pub(crate) meta: MetaSlot,
}

/// An error code as providers send it: a string (`"rate_limit_exceeded"`) or a number (`400`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    /// A textual code.
    Text(String),
    /// A numeric code.
    Number(i64),
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::Text(s) => f.write_str(s),
            ErrorCode::Number(n) => write!(f, "{n}"),
        }
    }
}

const MAX_KEPT_BODY: usize = 64 * 1024;
const MAX_SNIPPET: usize = 512;

impl ApiError {
    /// The status, headers, request id, rate limits, attempts and time of the exchange that
    /// ended in this error; `None` for an error reported inside a stream (the stream's own
    /// [`meta`](crate::ChatCompletionStream::meta) has it) or by a 200 answer that was an
    /// error object.
    pub fn meta(&self) -> Option<&ResponseMeta> {
        self.meta.get()
    }

    /// Builds an error from a status and a raw body, recognising every provider shape.
    /// `secret` (the API key) is redacted from everything kept.
    pub(crate) fn from_body(
        status: Option<u16>,
        body: &[u8],
        request_id: Option<String>,
        secret: Option<&str>,
    ) -> ApiError {
        // Redact before cutting, so a key that straddles the cut leaves no prefix behind.
        let slack = secret.map_or(0, str::len);
        let redacted = redact(
            &String::from_utf8_lossy(truncate(body, MAX_KEPT_BODY + slack)),
            secret,
        );
        let text = match redacted.char_indices().nth(MAX_KEPT_BODY) {
            Some((at, _)) => redacted[..at].to_owned(),
            None => redacted,
        };
        let parsed: Option<serde_json::Value> = serde_json::from_str(text.trim()).ok();
        let structured = parsed.as_ref().is_some_and(serde_json::Value::is_object);
        let mut err = ApiError {
            status,
            message: String::new(),
            kind: None,
            code: None,
            param: None,
            request_id: request_id.map(|id| redact(&id, secret)),
            body: text.clone(),
            meta: MetaSlot::default(),
        };
        if let Some(value) = parsed {
            err.fill_from_json(&value);
        }
        if err.message.is_empty() {
            let trimmed = text.trim();
            err.message = if trimmed.is_empty() {
                match status {
                    Some(s) => format!("HTTP {s} with an empty body"),
                    None => "the server reported an error".to_owned(),
                }
            } else if structured {
                // An error object without a message: the raw JSON reads worse than the
                // status line (the body stays in `body`).
                status_text(status).to_owned()
            } else {
                shorten(trimmed, 300)
            };
        }
        err
    }

    /// Explains a 3xx answer: redirects are never followed (a redirected POST would lose its
    /// body, and the `Authorization` header must not travel to another host).
    pub(crate) fn refused_redirect(&mut self, location: Option<&str>, secret: Option<&str>) {
        let to = location.map_or_else(
            || "no location".to_owned(),
            |l| redact(&shorten(l, 300), secret),
        );
        self.message = format!(
            "the server redirected to {to}; redirects are not followed (the request and its \
             API key stay with the configured host): set the model's URL to the final address"
        );
    }

    /// Reads `{"error": {...}}`, `{"error": "text"}` and top-level `{"message", "code"}`.
    pub(crate) fn fill_from_json(&mut self, value: &serde_json::Value) {
        let obj = match value.get("error") {
            Some(inner @ serde_json::Value::Object(_)) => inner,
            Some(serde_json::Value::String(s)) => {
                self.message = s.clone();
                value
            }
            _ => value,
        };
        if self.message.is_empty() {
            if let Some(m) = obj.get("message").or_else(|| obj.get("detail")) {
                self.message = match m {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
            }
        }
        self.kind = obj.get("type").and_then(|t| t.as_str()).map(str::to_owned);
        self.param = obj.get("param").and_then(|t| t.as_str()).map(str::to_owned);
        self.code = match obj.get("code") {
            Some(serde_json::Value::String(s)) => Some(ErrorCode::Text(s.clone())),
            Some(serde_json::Value::Number(n)) => n.as_i64().map(ErrorCode::Number),
            _ => None,
        };
    }
}

/// The reason phrase of a status, for error objects that carry no message.
fn status_text(status: Option<u16>) -> &'static str {
    match status {
        Some(400) => "Bad Request",
        Some(401) => "Unauthorized",
        Some(403) => "Forbidden",
        Some(404) => "Not Found",
        Some(408) => "Request Timeout",
        Some(413) => "Payload Too Large",
        Some(422) => "Unprocessable Entity",
        Some(429) => "Too Many Requests",
        Some(500) => "Internal Server Error",
        Some(502) => "Bad Gateway",
        Some(503) => "Service Unavailable",
        Some(504) => "Gateway Timeout",
        _ => "the server gave no message",
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(s) => write!(f, "HTTP {s}")?,
            None => f.write_str("error in stream")?,
        }
        if let Some(kind) = &self.kind {
            write!(f, " ({kind})")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(code) = &self.code {
            write!(f, " [code {code}]")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(m) => write!(f, "configuration error: {m}"),
            Error::InvalidInput(m) => write!(f, "invalid input: {m}"),
            Error::Api(e) => write!(f, "API error: {e}"),
            Error::StreamApi(e) => write!(f, "API error inside the stream: {e}"),
            Error::Connection(e) => write!(f, "connection error: {e}"),
            Error::Timeout {
                phase,
                after,
                connection,
            } => {
                write!(f, "timed out after {:.3} s {phase}", after.as_secs_f64())?;
                if let Some(c) = connection {
                    f.write_str(if *phase == TimeoutPhase::Connect {
                        " to "
                    } else {
                        ", still connecting to "
                    })?;
                    c.write_target(f)?;
                    write!(f, " ({})", c.reason)?;
                    c.write_attempts(f)?;
                }
                Ok(())
            }
            Error::Decode { message, snippet } => {
                write!(f, "could not decode the response: {message}")?;
                if !snippet.is_empty() {
                    write!(f, " (body starts: {snippet:?})")?;
                }
                Ok(())
            }
            Error::BodyTooLarge { limit } => {
                write!(f, "the response body is larger than the limit of {limit} bytes")
            }
            Error::IncompleteStream(m) => write!(f, "the stream ended early: {m}"),
            Error::Length(_) => f.write_str(
                "the answer was cut off by the token limit (finish_reason \"length\") before it could be parsed",
            ),
            Error::ContentFilter(_) => f.write_str(
                "the provider's content filter stopped the answer (finish_reason \"content_filter\")",
            ),
            Error::Refusal(r) => write!(f, "the model refused: {r}"),
            Error::Client(e) => write!(f, "custom client error: {e:#}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Client(e) => Some(e.as_ref()),
            Error::Connection(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

impl Error {
    /// The HTTP status of an [`Error::Api`], if that is what this is.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => e.status,
            _ => None,
        }
    }

    /// The provider's error details, for API errors before or inside a stream.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) | Error::StreamApi(e) => Some(e),
            _ => None,
        }
    }

    /// True for HTTP 429 (rate limited or out of quota).
    pub fn is_rate_limit(&self) -> bool {
        self.status() == Some(429)
    }

    /// Where a failed connection was going and what stopped it: the details of an
    /// [`Error::Connection`], or of an [`Error::Timeout`] that fired while connecting.
    pub fn connection_error(&self) -> Option<&ConnectionError> {
        match self {
            Error::Connection(e) => Some(e),
            Error::Timeout {
                connection: Some(c),
                ..
            } => Some(c),
            _ => None,
        }
        .map(Box::as_ref)
    }

    /// A failure to reach the server (or a connection that broke).
    pub(crate) fn connection(details: ConnectionError) -> Error {
        Error::Connection(Box::new(details))
    }

    /// A timeout with no connection details (the connection had been made).
    pub(crate) fn timeout(phase: TimeoutPhase, after: Duration) -> Error {
        Error::Timeout {
            phase,
            after,
            connection: None,
        }
    }

    /// Records how many attempts the send loop made, for the errors that say so.
    pub(crate) fn set_attempts(&mut self, attempts: u32) {
        match self {
            Error::Connection(e) => e.attempts = attempts,
            Error::Timeout {
                connection: Some(c),
                ..
            } => c.attempts = attempts,
            _ => {}
        }
    }

    /// True for any [`Error::Timeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// True for failures that a later identical request may not hit: connection errors,
    /// timeouts, 408, 409, 429 and 5xx. The client already retried these as configured.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Connection(_) | Error::Timeout { .. } => true,
            Error::Api(e) => matches!(e.status, Some(408 | 409 | 429) | Some(500..=599)),
            _ => false,
        }
    }

    pub(crate) fn decode(message: impl Into<String>, body: &[u8]) -> Error {
        Error::Decode {
            message: message.into(),
            snippet: String::from_utf8_lossy(truncate(body, MAX_SNIPPET)).into_owned(),
        }
    }

    /// A decode error about a server's body, with the API key removed from both the message
    /// (serde quotes the offending value) and the snippet: a proxy may echo the key.
    pub(crate) fn decode_body(
        message: impl Into<String>,
        body: &[u8],
        secret: Option<&str>,
    ) -> Error {
        // Redact before cutting the snippet, so a key straddling the cut cannot leave a
        // prefix behind.
        let window = MAX_SNIPPET + secret.map_or(0, str::len);
        let text = redact(&String::from_utf8_lossy(truncate(body, window)), secret);
        Error::Decode {
            message: redact(&message.into(), secret),
            snippet: String::from_utf8_lossy(truncate(text.as_bytes(), MAX_SNIPPET)).into_owned(),
        }
    }
}

fn truncate(bytes: &[u8], max: usize) -> &[u8] {
    &bytes[..bytes.len().min(max)]
}

fn shorten(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// Removes every occurrence of the secret; keys shorter than 8 bytes are too likely to
/// match ordinary words and are left alone (they are not real keys).
pub(crate) fn redact(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(s) if s.len() >= 8 && text.contains(s) => text.replace(s, "[REDACTED]"),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_errors_read_as_one_sentence() {
        let mut e = Error::connection(ConnectionError::new(
            "::1",
            8443,
            Some("10.0.0.1:3128".into()),
            ConnectionPhase::Tunnel,
            "the proxy answered the CONNECT request with HTTP 403",
        ));
        assert_eq!(
            e.to_string(),
            "connection error: could not connect to [::1]:8443 via proxy 10.0.0.1:3128 \
             (the proxy answered the CONNECT request with HTTP 403)"
        );
        e.set_attempts(1);
        assert!(e.to_string().ends_with("HTTP 403) after 1 attempt"), "{e}");
        let e = Error::connection(ConnectionError::new(
            "h",
            80,
            None,
            ConnectionPhase::Exchange,
            "connection reset",
        ));
        assert_eq!(
            e.to_string(),
            "connection error: the connection to h:80 broke before the response was complete \
             (connection reset)"
        );
        let mut e = Error::Timeout {
            phase: TimeoutPhase::Connect,
            after: Duration::from_millis(1500),
            connection: Some(Box::new(ConnectionError::new(
                "127.0.0.1",
                8080,
                None,
                ConnectionPhase::Tls,
                "no answer to the TLS handshake",
            ))),
        };
        e.set_attempts(4);
        assert_eq!(
            e.to_string(),
            "timed out after 1.500 s connecting to 127.0.0.1:8080 (no answer to the TLS \
             handshake) after 4 attempts"
        );
        assert_eq!(e.connection_error().map(ConnectionError::attempts), Some(4));
        // Other errors have no attempts to record.
        let mut e = Error::timeout(TimeoutPhase::Total, Duration::from_secs(1));
        e.set_attempts(3);
        assert_eq!(
            e.to_string(),
            "timed out after 1.000 s waiting for the complete response"
        );
        assert!(e.connection_error().is_none());
    }

    #[test]
    fn openai_shape() {
        let e = ApiError::from_body(
            Some(429),
            br#"{"error":{"message":"Rate limit","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
            Some("req_1".into()),
            None,
        );
        assert_eq!(e.message, "Rate limit");
        assert_eq!(e.kind.as_deref(), Some("requests"));
        assert_eq!(e.code, Some(ErrorCode::Text("rate_limit_exceeded".into())));
        assert_eq!(e.request_id.as_deref(), Some("req_1"));
    }

    #[test]
    fn vllm_top_level_and_integer_code() {
        let e = ApiError::from_body(
            Some(400),
            br#"{"object":"error","message":"bad","type":"BadRequestError","param":null,"code":400}"#,
            None,
            None,
        );
        assert_eq!(e.message, "bad");
        assert_eq!(e.code, Some(ErrorCode::Number(400)));
    }

    #[test]
    fn an_error_object_without_a_message_reads_as_the_status_line() {
        let body = br#"{"error":{"message":"","type":null}}"#;
        let e = ApiError::from_body(Some(500), body, None, None);
        assert_eq!(e.to_string(), "HTTP 500: Internal Server Error");
        assert!(e.body.contains("message"));
        let e = ApiError::from_body(Some(599), b"{}", None, None);
        assert_eq!(e.message, "the server gave no message");
        // Plain text is still the message.
        let e = ApiError::from_body(Some(500), b"upstream crashed", None, None);
        assert_eq!(e.message, "upstream crashed");
    }

    #[test]
    fn plain_text_and_empty() {
        let e = ApiError::from_body(Some(502), b"<html>Bad Gateway</html>", None, None);
        assert_eq!(e.message, "<html>Bad Gateway</html>");
        let e = ApiError::from_body(Some(500), b"", None, None);
        assert_eq!(e.message, "HTTP 500 with an empty body");
    }

    #[test]
    fn error_as_string() {
        let e = ApiError::from_body(Some(401), br#"{"error":"no key"}"#, None, None);
        assert_eq!(e.message, "no key");
    }

    #[test]
    fn decode_errors_redact_the_key() {
        let key = "sk-secret-123456";
        // serde quotes the offending value in its message; a proxy may echo the key; and a
        // key straddling the snippet's cut must not leave a prefix behind.
        let mut body = vec![b' '; MAX_SNIPPET - 4];
        body.extend_from_slice(key.as_bytes());
        for (message, body) in [
            (
                format!("invalid type: string {key:?}"),
                format!("{{\"x\":\"{key}\"}}").into_bytes(),
            ),
            ("bad".to_owned(), body),
        ] {
            let e = Error::decode_body(message, &body, Some(key));
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("sk-secret"), "{shown}");
        }
    }

    #[test]
    fn a_secret_straddling_the_kept_length_leaves_no_prefix() {
        let secret = "sk-straddling-secret-0123456789";
        let mut body = "x".repeat(MAX_KEPT_BODY - 10);
        body.push_str(secret);
        let e = ApiError::from_body(Some(500), body.as_bytes(), None, Some(secret));
        assert!(
            !e.body.contains("sk-straddl"),
            "a prefix of the key survived"
        );
        assert!(e.body.len() <= MAX_KEPT_BODY);
    }

    #[test]
    fn secret_is_redacted() {
        let e = ApiError::from_body(
            Some(401),
            br#"{"error":{"message":"Incorrect API key provided: sk-secret-123456"}}"#,
            None,
            Some("sk-secret-123456"),
        );
        assert!(!e.message.contains("sk-secret-123456"));
        assert!(!e.body.contains("sk-secret-123456"));
        assert!(e.message.contains("[REDACTED]"));
    }
}

#[cfg(test)]
mod proptests {
    //! Randomized, from fixed seeds (src/testgen.rs): a failure prints its case and input.
    use super::*;
    use crate::testgen::{check, Gen};

    const LOWER_AND_SPACE: [char; 27] = [
        'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r',
        's', 't', 'u', 'v', 'w', 'x', 'y', 'z', ' ',
    ];

    /// An error body's JSON part: nothing, or one of three error shapes holding `SECRET`
    /// next to a message of `[a-z ]{0,20}`.
    fn error_json(g: &mut Gen) -> String {
        let variant = g.below(4);
        let m = g.text_from(&LOWER_AND_SPACE, 0, 20);
        match variant {
            0 => String::new(),
            1 => format!("{{\"error\":{{\"message\":\"{m} SECRET\",\"code\":7}}}}"),
            2 => format!("{{\"object\":\"error\",\"message\":\"SECRET {m}\",\"code\":\"x\"}}"),
            _ => format!("{{\"error\":\"{m}SECRET\"}}"),
        }
    }

    /// Any body, JSON-shaped or not, gives an error with a message, a bounded raw body,
    /// and never the secret.
    #[test]
    fn any_body_parses_without_the_secret() {
        check(
            0x5EED_E440_0001,
            256,
            |g| {
                let prefix = g.bytes(0, 64);
                let json = error_json(g);
                let suffix = g.bytes(0, 64);
                let status = g.option(|g| g.u16_in(100, 600));
                (prefix, json, suffix, status)
            },
            |(prefix, json, suffix, status)| {
                let secret = "sk-prop-secret-0123456789";
                let mut body = prefix.clone();
                body.extend_from_slice(json.replace("SECRET", secret).as_bytes());
                body.extend_from_slice(suffix);
                let e = ApiError::from_body(*status, &body, Some(secret.to_owned()), Some(secret));
                assert!(!e.message.is_empty());
                assert!(e.body.len() <= MAX_KEPT_BODY * 3);
                let shown = format!("{e} {e:?}");
                assert!(!shown.contains(secret), "{}", shown);
                let d = Error::decode_body(format!("quoting {secret:?}"), &body, Some(secret));
                let shown = format!("{d} {d:?}");
                assert!(!shown.contains(secret), "{}", shown);
            },
        );
    }

    /// `shorten` never splits a character and keeps at most `max` of them (plus "…").
    #[test]
    fn shorten_keeps_char_boundaries() {
        check(
            0x5EED_E440_0002,
            256,
            |g| (g.text(0, 400), g.usize_in(0, 320)),
            |(text, max)| {
                let s = shorten(text, *max);
                assert!(s.chars().count() <= max + 1);
                assert!(text.starts_with(s.trim_end_matches('…')));
            },
        );
    }
}
