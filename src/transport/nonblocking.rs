//! The async transport, on reqwest 0.13 and tokio.
//!
//! Timeouts are applied here with `tokio::time::timeout` around each phase rather than with
//! reqwest's client-wide settings, so a caller-built `reqwest::Client` gets the same bounds.
//! The one exception is the connect timeout: reqwest only has it per client
//! (`ClientBuilder::connect_timeout`, which bounds its whole connector: DNS, TCP, the
//! proxy's `CONNECT` and TLS). The default client is built with the model's; a request with
//! another one (a per-call timeout shorter than the model's connect timeout) uses one of a
//! few more clients built for it ([`Own::client_for`]). A caller's client keeps its own.
//!
//! Proxies: the default client ignores reqwest's own environment lookup and asks
//! [`ProxyRules`] for each URL (`reqwest::Proxy::custom`). reqwest sends `http://` requests
//! to an HTTP proxy in absolute form and tunnels `https://` ones with `CONNECT`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{
    describe_io, proxy_label, Head, Headers, HttpRequest, TransportError, DRAIN_BYTES, DRAIN_WAIT,
    USER_AGENT,
};
use crate::error::{ConnectionError, ConnectionPhase, Error, TimeoutPhase};
use crate::proxy::{ProxyRules, Target};

pub(crate) use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// A URL as reqwest sends it.
pub(crate) type ParsedUrl = reqwest::Url;

pub(crate) fn parse_url(text: &str) -> Option<ParsedUrl> {
    reqwest::Url::parse(text).ok()
}

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
    /// Our own client's settings; `None` for a caller's client.
    own: Option<Arc<Own>>,
}

/// What the default client was built from, and the clients for other connect timeouts.
struct Own {
    rules: Arc<ProxyRules>,
    /// The connect timeout the main client was built with.
    connect_timeout: Duration,
    /// Clients for other connect timeouts, newest last; at most [`MORE_CLIENTS`].
    others: Mutex<Vec<(Duration, reqwest::Client)>>,
}

/// How many clients with other connect timeouts are kept. Each has its own connection
/// pool; a program alternating between more per-call timeouts than this reconnects more.
const MORE_CLIENTS: usize = 4;

/// How much sooner than asked reqwest's connect bound fires. When the connect timeout equals
/// the timeout (timeouts under 10 s, by default), both timers would end together and the
/// outer one could win, reporting a hung connection as a slow response.
const CONNECT_LEAD: Duration = Duration::from_millis(5);

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
    /// Where the stream comes from, for errors.
    failing: Arc<Failing>,
}

/// What an error about a request says about where it went.
struct Failing {
    host: String,
    port: u16,
    https: bool,
    proxy: Option<String>,
    timeout: Duration,
    connect_timeout: Duration,
    /// The bound a timeout that is not about connecting reports.
    phase: TimeoutPhase,
}

impl Failing {
    fn error(&self, phase: ConnectionPhase, reason: impl Into<String>) -> ConnectionError {
        ConnectionError::new(&self.host, self.port, self.proxy.clone(), phase, reason)
    }
}

/// The default client: this crate's TLS, no redirects, the connect timeout, our proxies.
fn default_client(
    rules: &Arc<ProxyRules>,
    connect_timeout: Duration,
) -> Result<reqwest::Client, Error> {
    let bound = if connect_timeout > 2 * CONNECT_LEAD {
        connect_timeout - CONNECT_LEAD
    } else {
        connect_timeout
    };
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config(&[])?)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
        .connect_timeout(bound)
        // reqwest's own reading of the environment differs from ours (ProxyRules).
        .no_proxy();
    if !rules.is_empty() {
        let rules = rules.clone();
        builder = builder.proxy(reqwest::Proxy::custom(move |url| proxy_for(&rules, url)));
    }
    builder
        .build()
        .map_err(|e| Error::Config(format!("the HTTP client could not be built: {e}")))
}

/// The proxy URL (credentials included) for a request to `url`, per the rules. A proxy that
/// cannot be used never gets here: the transport refuses the request first.
fn proxy_for(rules: &ProxyRules, url: &reqwest::Url) -> Option<reqwest::Url> {
    let host = url.host_str()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let target = Target {
        https: url.scheme() == "https",
        host,
        port: url.port_or_known_default()?,
    };
    let proxy = rules.for_target(&target).ok()??;
    let mut out = reqwest::Url::parse(&format!("http://{}", proxy.authority())).ok()?;
    if let Some((user, password)) = &proxy.credentials {
        out.set_username(user).ok()?;
        out.set_password(Some(password)).ok()?;
    }
    Some(out)
}

impl Own {
    /// The client for a request whose connect timeout is `ct`.
    fn client_for(
        &self,
        main: &reqwest::Client,
        ct: Duration,
    ) -> Result<reqwest::Client, TransportError> {
        if ct == self.connect_timeout {
            return Ok(main.clone());
        }
        let mut others = self.others.lock().map_err(|_| {
            TransportError::fatal(Error::Config("the client cache is poisoned".into()))
        })?;
        if let Some(at) = others.iter().position(|(d, _)| *d == ct) {
            let entry = others.remove(at);
            let client = entry.1.clone();
            others.push(entry);
            return Ok(client);
        }
        let client = default_client(&self.rules, ct).map_err(TransportError::fatal)?;
        if others.len() >= MORE_CLIENTS {
            others.remove(0);
        }
        others.push((ct, client.clone()));
        Ok(client)
    }
}

/// A request ready to go, on the client that sends it (or the builder's error, which
/// `send` reports as reqwest would).
struct Outgoing(reqwest::Client, reqwest::Result<reqwest::Request>);

impl Outgoing {
    async fn send(self) -> reqwest::Result<reqwest::Response> {
        let Outgoing(client, request) = self;
        client.execute(request?).await
    }
}

impl HttpTransport {
    /// With no client given, builds one with `connect_timeout` and the proxy `rules`.
    /// The whole-request `timeout` is applied around each exchange (tokio), not here.
    pub(crate) fn new(
        client: Option<CallerClient>,
        rules: ProxyRules,
        _timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<HttpTransport, Error> {
        let (client, own) = match client {
            Some(c) => (c, None),
            None => {
                let rules = Arc::new(rules);
                let client = default_client(&rules, connect_timeout)?;
                let own = Own {
                    rules,
                    connect_timeout,
                    others: Mutex::default(),
                };
                (client, Some(Arc::new(own)))
            }
        };
        Ok(HttpTransport { client, own })
    }

    /// What an error about `req` needs to know.
    fn failing(&self, req: &HttpRequest<'_>, phase: TimeoutPhase) -> Failing {
        let target = Target::of(req.url.as_str());
        Failing {
            host: target
                .as_ref()
                .map_or_else(String::new, |t| t.host.to_owned()),
            port: target.as_ref().map_or(0, |t| t.port),
            https: target.as_ref().is_some_and(|t| t.https),
            proxy: proxy_label(self.own.as_ref().map(|o| &*o.rules), req.url.as_str()),
            timeout: req.timeout,
            connect_timeout: req.connect_timeout,
            phase,
        }
    }

    /// The request, on the client for its connect timeout; a proxy the environment names but
    /// this crate cannot use fails it here.
    fn prepare(&self, req: &HttpRequest<'_>) -> Result<Outgoing, TransportError> {
        let client = match &self.own {
            Some(own) => {
                own.rules
                    .for_url(req.url.as_str())
                    .map_err(TransportError::fatal)?;
                own.client_for(&self.client, req.connect_timeout)?
            }
            None => self.client.clone(),
        };
        self.request(client, req)
    }

    fn request(
        &self,
        client: reqwest::Client,
        req: &HttpRequest<'_>,
    ) -> Result<Outgoing, TransportError> {
        let pairs = req.headers.pairs().map_err(TransportError::fatal)?;
        let b = match req.url.parsed() {
            Some(url) => client.post(url.clone()),
            // reqwest reports the bad URL when the request is sent.
            None => client.post(req.url.as_str()),
        };
        let (client, request) = b.body(req.body.to_vec()).build_split();
        let Ok(mut request) = request else {
            // The same error again, from `send`.
            return Ok(Outgoing(client, request));
        };
        Headers::append_to(pairs, request.headers_mut(), req.attempt, 0);
        Ok(Outgoing(client, Ok(request)))
    }

    /// A non-stream exchange: the whole body, within `req.timeout` end to end, the
    /// connection within `req.connect_timeout` (our client; a caller's has its own).
    pub(crate) async fn execute(
        &self,
        req: &HttpRequest<'_>,
    ) -> Result<(Head, Vec<u8>), TransportError> {
        let t = req.timeout;
        let request = self.prepare(req)?;
        let fail = |e| map_error(e, &self.failing(req, TimeoutPhase::Total));
        let exchange = async {
            let mut resp = request.send().await.map_err(fail)?;
            let head = head_of(&resp);
            let mut body = Vec::with_capacity(
                resp.content_length()
                    .unwrap_or(0)
                    .min(req.max_body)
                    .min(1 << 20) as usize,
            );
            while let Some(chunk) = resp.chunk().await.map_err(fail)? {
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
            Err(_) => Err(TransportError::retryable(Error::timeout(
                TimeoutPhase::Total,
                t,
            ))),
        }
    }

    /// A stream: returns once the head arrived; the body is read lazily.
    pub(crate) async fn open(
        &self,
        req: &HttpRequest<'_>,
    ) -> Result<(Head, StreamBody), TransportError> {
        let t = req.timeout;
        let request = self.prepare(req)?;
        let mut failing = self.failing(req, TimeoutPhase::ResponseHead);
        let response = match tokio::time::timeout(t, request.send()).await {
            Ok(r) => r.map_err(|e| map_error(e, &failing))?,
            Err(_) => {
                return Err(TransportError::retryable(Error::timeout(
                    TimeoutPhase::ResponseHead,
                    t,
                )))
            }
        };
        let head = head_of(&response);
        failing.phase = TimeoutPhase::StreamIdle;
        let failing = Arc::new(failing);
        Ok((
            head,
            StreamBody {
                response,
                idle: t,
                limit: req.max_body,
                failing,
            },
        ))
    }
}

impl StreamBody {
    /// The next piece of the body; `None` at its end. Fails when the server stays silent
    /// for longer than the timeout.
    pub(crate) async fn next(&mut self) -> Result<Option<bytes::Bytes>, Error> {
        match tokio::time::timeout(self.idle, self.response.chunk()).await {
            Err(_) => Err(Error::timeout(TimeoutPhase::StreamIdle, self.idle)),
            Ok(Err(e)) => Err(map_error(e, &self.failing).error),
            Ok(Ok(Some(chunk))) => Ok(Some(chunk)),
            Ok(Ok(None)) => Ok(None),
        }
    }

    /// The server ended the stream: reads the little that should be left (the chunked
    /// terminator), at most [`DRAIN_BYTES`] within [`DRAIN_WAIT`] on tokio's timer (no
    /// thread is blocked), so hyper returns the connection to its pool. A body still open
    /// after that is dropped: hyper closes its connection.
    pub(crate) async fn finish(mut self) {
        let drain = async {
            let mut read = 0;
            while read <= DRAIN_BYTES {
                match self.response.chunk().await {
                    Ok(Some(piece)) => read += piece.len(),
                    Ok(None) | Err(_) => return,
                }
            }
        };
        if tokio::time::timeout(DRAIN_WAIT, drain).await.is_ok() {
            // hyper pools the connection from a task of its own once the connection is idle
            // again; a turn of the scheduler lets it run before the caller's next request
            // looks in the pool (which otherwise opens a connection in parallel).
            tokio::task::yield_now().await;
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
            .unwrap_or(Err(Error::timeout(TimeoutPhase::Total, after)))
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

fn map_error(e: reqwest::Error, f: &Failing) -> TransportError {
    if e.is_timeout() {
        if e.is_connect() {
            let mut reason =
                "the connection (name lookup, TCP, proxy tunnel, TLS handshake) was not made in time".to_owned();
            // Without a proxy, a silent https:// server is most often a plain-HTTP one.
            if f.https && f.proxy.is_none() {
                reason.push_str("; if the server speaks plain HTTP, use an http:// URL");
            }
            return TransportError::retryable(Error::Timeout {
                phase: TimeoutPhase::Connect,
                after: f.connect_timeout,
                connection: Some(Box::new(f.error(ConnectionPhase::Connect, reason))),
            });
        }
        return TransportError::retryable(Error::timeout(f.phase, f.timeout));
    }
    if e.is_builder() {
        return TransportError::fatal(Error::Config(format!(
            "the request could not be built: {}",
            describe(&e)
        )));
    }
    if e.is_redirect() {
        return TransportError::fatal(Error::connection(f.error(
            ConnectionPhase::Exchange,
            format!("redirect refused: {}", describe(&e)),
        )));
    }
    if e.is_connect() {
        let (phase, retryable, reason) = classify_connect(&e, f);
        let error = Error::connection(f.error(phase, reason));
        return TransportError { error, retryable };
    }
    let what = if e.is_body() || e.is_decode() {
        "the body was cut off"
    } else {
        "the request failed"
    };
    TransportError::retryable(Error::connection(f.error(
        ConnectionPhase::Exchange,
        format!("{what}: {}", describe(&e)),
    )))
}

/// Which stage a connect error comes from, whether retrying may help, and why, read from
/// the error's causes: reqwest does not say which step failed.
fn classify_connect(e: &reqwest::Error, f: &Failing) -> (ConnectionPhase, bool, String) {
    use std::error::Error as _;
    let proxied = f.proxy.is_some();
    let mut causes: Vec<&(dyn std::error::Error + 'static)> = Vec::new();
    let mut cur = e.source();
    while let Some(c) = cur {
        causes.push(c);
        cur = c.source();
    }
    let text: Vec<String> = causes.iter().map(|c| c.to_string()).collect();
    let said = |needle: &str| text.iter().any(|t| t.contains(needle));
    let io = causes
        .iter()
        .find_map(|c| c.downcast_ref::<std::io::Error>());
    if said("dns error") {
        let what = io.map_or_else(|| describe(e), describe_io);
        let reason = if proxied {
            format!("looking up the proxy: {what}")
        } else {
            format!("name lookup failed: {what}")
        };
        return (ConnectionPhase::Resolve, true, reason);
    }
    // hyper-util's tunnel errors (the type is private): its texts.
    if proxied && f.https {
        if said("proxy authorization required") {
            return (
                ConnectionPhase::Tunnel,
                false,
                "the proxy answered the CONNECT request with HTTP 407 (proxy authorization required)".into(),
            );
        }
        if said("unsuccessful") {
            return (
                ConnectionPhase::Tunnel,
                true,
                "the proxy refused the CONNECT request".into(),
            );
        }
        if said("unexpected end of file") && !said("failed to create underlying connection") {
            return (
                ConnectionPhase::Tunnel,
                true,
                "the proxy closed the connection during the CONNECT request".into(),
            );
        }
    }
    if let Some(tls) = causes
        .iter()
        .find_map(|c| c.downcast_ref::<rustls::Error>())
    {
        let hint = if matches!(tls, rustls::Error::InvalidMessage(_)) {
            "; if the server speaks plain HTTP, use an http:// URL"
        } else {
            ""
        };
        return (
            ConnectionPhase::Tls,
            false,
            format!("TLS handshake failed: {tls}{hint}"),
        );
    }
    let what = io.map_or_else(|| describe(e), describe_io);
    if proxied {
        (
            ConnectionPhase::Connect,
            true,
            format!("connecting to the proxy: {what}"),
        )
    } else {
        (ConnectionPhase::Connect, true, what)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_connect_timeouts_get_a_few_cached_clients() {
        let t = HttpTransport::new(
            None,
            ProxyRules::default(),
            Duration::from_secs(60),
            Duration::from_secs(10),
        )
        .unwrap();
        let own = t.own.as_ref().unwrap();
        let kept = || {
            own.others
                .lock()
                .unwrap()
                .iter()
                .map(|(d, _)| d.as_secs())
                .collect::<Vec<_>>()
        };
        own.client_for(&t.client, Duration::from_secs(10)).unwrap();
        assert!(
            kept().is_empty(),
            "the model's own timeout uses the main client"
        );
        own.client_for(&t.client, Duration::from_secs(2)).unwrap();
        own.client_for(&t.client, Duration::from_secs(2)).unwrap();
        assert_eq!(kept(), vec![2]);
        for secs in [3, 4, 5, 6] {
            own.client_for(&t.client, Duration::from_secs(secs))
                .unwrap();
        }
        // At most MORE_CLIENTS, the least recently used dropped first.
        assert_eq!(kept(), vec![3, 4, 5, 6]);
        own.client_for(&t.client, Duration::from_secs(3)).unwrap();
        own.client_for(&t.client, Duration::from_secs(7)).unwrap();
        assert_eq!(kept(), vec![5, 6, 3, 7]);
    }

    #[test]
    fn a_callers_client_has_no_cache_and_no_rules() {
        let t = HttpTransport::new(
            Some(reqwest_client_builder(&[]).unwrap().build().unwrap()),
            ProxyRules::default(),
            Duration::from_secs(60),
            Duration::from_secs(1),
        )
        .unwrap();
        assert!(t.own.is_none());
    }
}
