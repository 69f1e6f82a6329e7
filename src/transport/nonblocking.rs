//! The async transport, on reqwest 0.13 and tokio.
//!
//! Timeouts are applied here with `tokio::time::timeout` around each phase rather than with
//! reqwest's client-wide settings, so a caller-built `reqwest::Client` gets the same bounds.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Head, HttpRequest, TransportError, RETRY_COUNT_HEADER, USER_AGENT};
use crate::error::{Error, TimeoutPhase};

/// The HTTP client a caller may hand the model builder (`http_client(..)`).
pub(crate) type CallerClient = reqwest::Client;

/// Runs the future `f` makes inside `span` (the blocking build enters the span instead).
pub(crate) async fn in_span<F: std::future::Future>(
    span: tracing::Span,
    f: impl FnOnce() -> F,
) -> F::Output {
    tracing::Instrument::instrument(f(), span).await
}

/// Sleeps between retries without blocking the runtime.
pub(crate) async fn sleep(d: Duration) {
    tokio::time::sleep(d).await;
}

/// The rustls configuration the default client uses: the `ring` provider and the Mozilla
/// root store (`webpki-roots`), plus any extra roots (a private CA).
fn tls_config(
    extra_roots: &[rustls::pki_types::CertificateDer<'static>],
) -> Result<rustls::ClientConfig, Error> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for cert in extra_roots {
        roots
            .add(cert.clone())
            .map_err(|e| Error::Config(format!("a root certificate was rejected: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A `reqwest::ClientBuilder` with this crate's TLS set up (rustls with the `ring` provider
/// and the Mozilla roots, plus `extra_roots` — DER certificates of a private CA) and
/// redirects off. Adjust it (proxy, pool, …) and pass the client to
/// [`OpenAICompatibleModelBuilder::http_client`](crate::OpenAICompatibleModelBuilder::http_client).
pub fn reqwest_client_builder(extra_roots: &[Vec<u8>]) -> Result<reqwest::ClientBuilder, Error> {
    let roots: Vec<_> = extra_roots
        .iter()
        .map(|der| rustls::pki_types::CertificateDer::from(der.clone()))
        .collect();
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config(&roots)?)
        .redirect(reqwest::redirect::Policy::none()))
}

/// Sends requests through a `reqwest::Client` (the caller's, or one made here).
#[derive(Clone)]
pub(crate) struct HttpTransport {
    client: reqwest::Client,
    /// The last URL parsed, with the text it came from. A model sends every request to one
    /// endpoint, and reqwest would parse the same text again (IDNA host processing
    /// included) for each: a sixth of an async request's CPU on loopback.
    last_url: Arc<Mutex<Option<(String, reqwest::Url)>>>,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpTransport(reqwest)")
    }
}

/// The body of a streamed response, read piece by piece.
pub(crate) struct StreamBody {
    response: reqwest::Response,
    idle: Duration,
    /// Caps an error body read with `read_rest`; the stream itself is capped per event.
    limit: u64,
}

impl HttpTransport {
    pub(crate) fn new(client: Option<CallerClient>) -> Result<HttpTransport, Error> {
        let client = match client {
            Some(c) => c,
            None => reqwest::Client::builder()
                .tls_backend_preconfigured(tls_config(&[])?)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(USER_AGENT)
                .build()
                .map_err(|e| Error::Config(format!("the HTTP client could not be built: {e}")))?,
        };
        Ok(HttpTransport {
            client,
            last_url: Arc::default(),
        })
    }

    fn request(&self, req: &HttpRequest<'_>) -> reqwest::RequestBuilder {
        let mut b = match self.url(req.url) {
            Some(url) => self.client.post(url),
            // reqwest reports the bad URL when the request is sent.
            None => self.client.post(req.url),
        };
        for (k, v) in req.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b.header(RETRY_COUNT_HEADER, req.attempt)
            .body(req.body.to_vec())
    }

    /// `text` parsed, from the cache when it is the last URL seen.
    fn url(&self, text: &str) -> Option<reqwest::Url> {
        let mut last = self.last_url.lock().ok()?;
        if let Some((seen, url)) = last.as_ref() {
            if seen == text {
                return Some(url.clone());
            }
        }
        let url = reqwest::Url::parse(text).ok()?;
        *last = Some((text.to_owned(), url.clone()));
        Some(url)
    }

    /// A non-stream exchange: the whole body, within `req.timeout` end to end.
    pub(crate) async fn execute(
        &self,
        req: &HttpRequest<'_>,
    ) -> Result<(Head, Vec<u8>), TransportError> {
        let t = req.timeout;
        let exchange = async {
            let mut resp = self
                .request(req)
                .send()
                .await
                .map_err(|e| map_error(e, t, TimeoutPhase::Total))?;
            let head = head_of(&resp);
            let mut body = Vec::with_capacity(
                resp.content_length()
                    .unwrap_or(0)
                    .min(req.max_body)
                    .min(1 << 20) as usize,
            );
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| map_error(e, t, TimeoutPhase::Total))?
            {
                if body.len() as u64 + chunk.len() as u64 > req.max_body {
                    return Err(TransportError::fatal(Error::BodyTooLarge {
                        limit: req.max_body,
                    }));
                }
                body.extend_from_slice(&chunk);
            }
            Ok((head, body))
        };
        match tokio::time::timeout(t, exchange).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::retryable(Error::Timeout {
                phase: TimeoutPhase::Total,
                after: t,
            })),
        }
    }

    /// A stream: returns once the head arrived; the body is read lazily.
    pub(crate) async fn open(
        &self,
        req: &HttpRequest<'_>,
    ) -> Result<(Head, StreamBody), TransportError> {
        let t = req.timeout;
        let response = match tokio::time::timeout(t, self.request(req).send()).await {
            Ok(r) => r.map_err(|e| map_error(e, t, TimeoutPhase::ResponseHead))?,
            Err(_) => {
                return Err(TransportError::retryable(Error::Timeout {
                    phase: TimeoutPhase::ResponseHead,
                    after: t,
                }))
            }
        };
        let head = head_of(&response);
        Ok((
            head,
            StreamBody {
                response,
                idle: t,
                limit: req.max_body,
            },
        ))
    }
}

impl StreamBody {
    /// The next piece of the body; `None` at its end. Fails when the server stays silent
    /// for longer than the timeout.
    pub(crate) async fn next(&mut self) -> Result<Option<bytes::Bytes>, Error> {
        match tokio::time::timeout(self.idle, self.response.chunk()).await {
            Err(_) => Err(Error::Timeout {
                phase: TimeoutPhase::StreamIdle,
                after: self.idle,
            }),
            Ok(Err(e)) => Err(map_error(e, self.idle, TimeoutPhase::StreamIdle).error),
            Ok(Ok(Some(chunk))) => Ok(Some(chunk)),
            Ok(Ok(None)) => Ok(None),
        }
    }

    /// Reads what remains (an error body, or a whole JSON answer), up to the limit and
    /// within one timeout overall.
    pub(crate) async fn read_rest(mut self) -> Result<Vec<u8>, Error> {
        // One timeout overall, so a server trickling bytes cannot hold the caller.
        let after = self.idle;
        let read = async move {
            let mut out = Vec::new();
            while let Some(chunk) = self.next().await? {
                if (out.len() + chunk.len()) as u64 > self.limit {
                    return Err(Error::BodyTooLarge { limit: self.limit });
                }
                out.extend_from_slice(&chunk);
            }
            Ok(out)
        };
        tokio::time::timeout(after, read)
            .await
            .unwrap_or(Err(Error::Timeout {
                phase: TimeoutPhase::Total,
                after,
            }))
    }
}

fn head_of(resp: &reqwest::Response) -> Head {
    Head::from_parts(
        resp.status().as_u16(),
        resp.headers()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_bytes())),
    )
}

fn map_error(e: reqwest::Error, limit: Duration, phase: TimeoutPhase) -> TransportError {
    if e.is_timeout() {
        return TransportError::retryable(Error::Timeout {
            phase,
            after: limit,
        });
    }
    if e.is_builder() {
        return TransportError::fatal(Error::Config(format!(
            "the request could not be built: {}",
            describe(&e)
        )));
    }
    if e.is_redirect() {
        return TransportError::fatal(Error::Connection(format!(
            "redirect refused: {}",
            describe(&e)
        )));
    }
    let what = if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the connection closed before the response was complete"
    } else {
        "the request failed"
    };
    TransportError::retryable(Error::Connection(format!("{what}: {}", describe(&e))))
}

/// The error with its causes, without the URL (it may carry query-string credentials).
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut parts = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = e.source();
    while let Some(c) = cur {
        parts.push(c.to_string());
        cur = c.source();
    }
    if parts.is_empty() {
        "no details".to_owned()
    } else {
        parts.join(": ")
    }
}
