//! The only mode-specific code besides the stream types: send one HTTP request and hand back
//! the status, headers and body. `blocking.rs` does it with ureq, `nonblocking.rs` with
//! reqwest; both expose the same method names, so the one request path in `model/`
//! (written once for maybe-async) compiles against either.
//!
//! Each transport enforces the timeouts of docs/SPEC.md §3 and maps its library's errors to
//! [`TransportError`], which says whether a retry may help.

use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::proxy::ProxyRules;

#[cfg(not(feature = "async"))]
mod blocking;
#[cfg(not(feature = "async"))]
pub(crate) use blocking::{in_span, sleep, CallerClient, HttpTransport, StreamBody};
#[cfg(not(feature = "async"))]
use blocking::{parse_url, HeaderMap, HeaderName, HeaderValue, ParsedUrl};

#[cfg(feature = "async")]
mod nonblocking;
#[cfg(feature = "async")]
pub(crate) use nonblocking::{in_span, sleep, CallerClient, HttpTransport, StreamBody};
#[cfg(feature = "async")]
use nonblocking::{parse_url, HeaderMap, HeaderName, HeaderValue, ParsedUrl};

/// The public items of the transport in this build, re-exported at the crate root.
pub mod public {
    #[cfg(feature = "async")]
    #[cfg_attr(docsrs, doc(cfg(feature = "async")))]
    pub use super::nonblocking::reqwest_client_builder;
    /// Re-exported so async implementations of [`ChatClient`](crate::ChatClient) can write
    /// `#[openai_compatible::async_trait]`.
    #[cfg(feature = "async")]
    #[cfg_attr(docsrs, doc(cfg(feature = "async")))]
    pub use async_trait::async_trait;
}

/// One HTTP POST, fully described. No `Debug`: its headers hold the API key.
pub(crate) struct HttpRequest<'a> {
    pub url: &'a Endpoint,
    /// Every header to send, the `Authorization` one included, except
    /// `x-stainless-retry-count`, which the transport adds from `attempt`.
    pub headers: &'a Headers,
    /// 0 for the first attempt, then the number of retries so far.
    pub attempt: u32,
    pub body: &'a [u8],
    /// Non-stream: bound on the whole exchange. Stream: bound on the wait for the response
    /// head, and on each silence between reads.
    pub timeout: Duration,
    /// Bound on making the connection: name lookup, TCP, the proxy's tunnel, TLS. The send
    /// loop passes at most `timeout`.
    pub connect_timeout: Duration,
    /// Bodies longer than this fail with [`Error::BodyTooLarge`].
    pub max_body: u64,
}

/// A request URL with the HTTP library's parsed form of it, made once per model (or per
/// call that adds query parameters) instead of parsed again by every attempt.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    text: String,
    /// `None` when the library refuses the text; the request then reports the error.
    parsed: Option<ParsedUrl>,
}

impl Endpoint {
    pub(crate) fn new(text: String) -> Endpoint {
        let parsed = parse_url(&text);
        Endpoint { text, parsed }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    pub(crate) fn parsed(&self) -> Option<&ParsedUrl> {
        self.parsed.as_ref()
    }
}

/// Request headers checked and converted to the HTTP library's types once — per model, or
/// per call that adds headers — so that an attempt only clones shared values instead of
/// validating and copying every name and value again. A list that is not valid HTTP is
/// kept as its error, reported by every request that would send it.
#[derive(Clone)]
pub(crate) struct Headers(std::result::Result<Arc<[(HeaderName, HeaderValue)]>, String>);

impl Headers {
    pub(crate) fn new(list: &[(String, String)]) -> Headers {
        let compiled = list
            .iter()
            .map(|(k, v)| {
                let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| e.to_string())?;
                let mut value = HeaderValue::from_str(v).map_err(|e| e.to_string())?;
                // Kept out of the HTTP library's own `Debug` output.
                if SENSITIVE.iter().any(|s| name.as_str() == *s) {
                    value.set_sensitive(true);
                }
                Ok((name, value))
            })
            .collect::<std::result::Result<Vec<_>, String>>();
        Headers(compiled.map(Into::into))
    }

    /// The pairs to send, or the configuration error that stops the request.
    pub(crate) fn pairs(&self) -> std::result::Result<&[(HeaderName, HeaderValue)], Error> {
        self.0
            .as_deref()
            .map_err(|e| Error::Config(format!("a header name or value is not valid HTTP: {e}")))
    }

    /// Appends `pairs` (checked) and `x-stainless-retry-count` for `attempt` straight to a
    /// request's map: the builders' `header` goes through `TryFrom` and a `Result` chain
    /// per header, and reqwest's `headers` merges entry by entry. `room` reserves for
    /// headers the caller adds after.
    pub(crate) fn append_to(
        pairs: &[(HeaderName, HeaderValue)],
        map: &mut HeaderMap,
        attempt: u32,
        room: usize,
    ) {
        map.reserve(pairs.len() + 1 + room);
        for (name, value) in pairs {
            map.append(name.clone(), value.clone());
        }
        map.append(
            HeaderName::from_static(RETRY_COUNT_HEADER),
            HeaderValue::from(attempt),
        );
    }
}

impl std::fmt::Debug for Headers {
    /// Names only: values may hold credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Ok(pairs) => f
                .debug_list()
                .entries(pairs.iter().map(|(k, _)| k))
                .finish(),
            Err(e) => write!(f, "invalid headers ({e})"),
        }
    }
}

/// Header names whose values are credentials.
const SENSITIVE: [&str; 4] = [
    "authorization",
    "api-key",
    "x-api-key",
    "proxy-authorization",
];

/// Status and headers of a response (header names lower-case).
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// A head from a status and raw header pairs, names as the HTTP library gives them
    /// (lower-case for both ureq and reqwest), values decoded lossily.
    pub(crate) fn from_parts<'a>(
        status: u16,
        headers: impl Iterator<Item = (&'a str, &'a [u8])>,
    ) -> Head {
        Head {
            status,
            headers: headers
                .map(|(k, v)| {
                    // `from_utf8` checks ASCII a word at a time; the lossy walk only when needed.
                    let v = match std::str::from_utf8(v) {
                        Ok(v) => v.to_owned(),
                        Err(_) => String::from_utf8_lossy(v).into_owned(),
                    };
                    (k.to_owned(), v)
                })
                .collect(),
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A transport failure and whether the request may be retried.
#[derive(Debug)]
pub(crate) struct TransportError {
    pub error: Error,
    pub retryable: bool,
}

impl TransportError {
    pub(crate) fn retryable(error: Error) -> TransportError {
        TransportError {
            error,
            retryable: true,
        }
    }

    pub(crate) fn fatal(error: Error) -> TransportError {
        TransportError {
            error,
            retryable: false,
        }
    }
}

/// After the server ended a stream (`data: [DONE]`), at most this many more body bytes are
/// read: the chunked terminator is 5, and a server that keeps writing after `[DONE]` is not
/// read for ever. Reading the body to its end is what returns a connection to the pool.
pub(crate) const DRAIN_BYTES: usize = 4 * 1024;

/// How long the caller waits for the end of a body after the server ended the stream. A
/// server that holds the body open after `[DONE]` costs the caller this, then its connection
/// is closed instead of pooled.
pub(crate) const DRAIN_WAIT: Duration = Duration::from_millis(5);

/// The header telling the server how many times this request was retried.
pub(crate) const RETRY_COUNT_HEADER: &str = "x-stainless-retry-count";

/// The `User-Agent` every request carries.
pub(crate) const USER_AGENT: &str =
    concat!("openai-compatible/", env!("CARGO_PKG_VERSION"), " (rust)");

/// An I/O error in words, for connection errors: the kind for the common ones (without the
/// OS's `(os error 111)`), else the error's own text. I/O errors never carry URLs.
pub(crate) fn describe_io(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => "connection refused".to_owned(),
        K::ConnectionReset => "connection reset".to_owned(),
        K::ConnectionAborted => "connection aborted".to_owned(),
        K::UnexpectedEof => "the peer closed the connection".to_owned(),
        K::BrokenPipe => "the peer closed the connection (broken pipe)".to_owned(),
        K::HostUnreachable => "host unreachable".to_owned(),
        K::NetworkUnreachable => "network unreachable".to_owned(),
        K::AddrNotAvailable => "address not available".to_owned(),
        K::TimedOut => "timed out".to_owned(),
        _ => match e.get_ref() {
            Some(inner) => inner.to_string(),
            None => e.to_string(),
        },
    }
}

/// The proxy the transport's own client would use for `url`, as `host:port`: what errors
/// name. `None` without rules (a caller's client) or for a direct connection.
pub(crate) fn proxy_label(rules: Option<&ProxyRules>, url: &str) -> Option<String> {
    rules?.for_url(url).ok().flatten().map(|p| p.authority())
}
