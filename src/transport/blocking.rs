//! The blocking transport, on ureq 3.
//!
//! The default agent connects through [`connect::Connect`] (proxies, absolute form, reads
//! bounded by the clock) and never resolves names before its pool ([`resolve::NoLookup`]).
//! A caller's agent keeps its own connector, resolver and proxy; the per-request settings
//! (timeouts, no redirects, error bodies kept) apply to both.

mod connect;
mod resolve;

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{
    describe_io, proxy_label, Head, Headers, HttpRequest, TransportError, DRAIN_BYTES, DRAIN_WAIT,
    USER_AGENT,
};
use crate::error::{ConnectionError, ConnectionPhase, Error, TimeoutPhase};
use crate::proxy::{ProxyRules, Target};
use connect::{ConnectFailure, FailureKind};

pub(crate) use ureq::http::header::{HeaderMap, HeaderName, HeaderValue};

/// A URL as ureq sends it.
pub(crate) type ParsedUrl = ureq::http::Uri;

pub(crate) fn parse_url(text: &str) -> Option<ParsedUrl> {
    text.parse().ok()
}

/// What a plain answer's body starts with when the server sends no `content-length`.
const INITIAL_BODY_CAPACITY: usize = 8 * 1024;

/// The most a `content-length` header reserves before any of the body has arrived; a
/// longer body grows as it is read (the header is the server's claim, not a fact).
const MAX_PREALLOCATED: u64 = 1 << 20;

/// The HTTP client a caller may hand the model builder (`agent(..)`).
pub(crate) type CallerClient = ureq::Agent;

/// Runs `f` inside `span` (the async build instruments the future instead).
pub(crate) fn in_span<T>(span: tracing::Span, f: impl FnOnce() -> T) -> T {
    let _entered = span.enter();
    f()
}

/// Sleeps between retries.
pub(crate) fn sleep(d: Duration) {
    std::thread::sleep(d);
}

/// Sends requests through a `ureq::Agent` (the caller's, or one made here).
#[derive(Clone)]
pub(crate) struct HttpTransport {
    agent: ureq::Agent,
    /// The proxy rules our own agent follows; `None` for a caller's agent.
    rules: Option<Arc<ProxyRules>>,
    /// The `(timeout, connect timeout)` our own agent was configured with for plain
    /// requests: a request with these bounds needs no request-level configuration (which
    /// ureq stores in an extension of every request). `None` for a caller's agent.
    plain_bounds: Option<(Duration, Duration)>,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpTransport(ureq)")
    }
}

/// The body of a streamed response, read piece by piece.
pub(crate) struct StreamBody {
    reader: ureq::BodyReader<'static>,
    idle: Duration,
    limit: u64,
    /// Where the stream comes from, for errors: host, port, proxy.
    from: Arc<Peer>,
    /// The connection came from our connector, whose reads [`connect::reads_end_by`] can
    /// cut short; a caller's agent reads with the bounds the request was sent with.
    own_connector: bool,
}

/// Where a request went, for errors.
#[derive(Debug, Default)]
struct Peer {
    host: String,
    port: u16,
    proxy: Option<String>,
}

impl Peer {
    fn error(&self, phase: ConnectionPhase, reason: impl Into<String>) -> ConnectionError {
        ConnectionError::new(&self.host, self.port, self.proxy.clone(), phase, reason)
    }
}

/// What an error needs to know about its request.
struct Failing {
    peer: Arc<Peer>,
    timeout: Duration,
    connect_timeout: Duration,
    /// The bound reported for ureq timeouts that are not about connecting.
    phase: TimeoutPhase,
}

impl HttpTransport {
    /// A caller's agent gets the bounds on each request (`HttpRequest::timeout` and
    /// `connect_timeout`); our own agent has the model's `timeout` and `connect_timeout`
    /// as its defaults, so that plain requests with them carry no settings of their own.
    pub(crate) fn new(
        agent: Option<CallerClient>,
        rules: ProxyRules,
        timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<HttpTransport, Error> {
        if let Some(agent) = agent {
            return Ok(HttpTransport {
                agent,
                rules: None,
                plain_bounds: None,
            });
        }
        let rules = Arc::new(rules);
        // ureq keeps 3 idle connections per host by default: a model shared by a pool of
        // threads would reconnect for most requests. Its own proxy support is off: the
        // connector applies this crate's rules.
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(USER_AGENT)
            .max_idle_connections(64)
            .max_idle_connections_per_host(32)
            .proxy(None)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_global(Some(timeout))
            .timeout_resolve(Some(connect_timeout))
            .timeout_connect(Some(connect_timeout))
            .build();
        let agent = ureq::Agent::with_parts(
            config,
            connect::Connect::new(rules.clone()),
            resolve::NoLookup,
        );
        Ok(HttpTransport {
            agent,
            rules: Some(rules),
            plain_bounds: Some((timeout, connect_timeout)),
        })
    }

    /// Settings every request needs whatever agent the caller built: error bodies kept, no
    /// redirects followed (a redirected POST would lose its body, and the key must not
    /// travel to another host).
    fn request(
        &self,
        req: &HttpRequest<'_>,
    ) -> Result<ureq::RequestBuilder<ureq::typestate::WithBody>, TransportError> {
        let pairs = req.headers.pairs().map_err(TransportError::fatal)?;
        let invalid = |e: &dyn std::fmt::Display| {
            TransportError::fatal(Error::Config(format!(
                "a header name or value is not valid HTTP: {e}"
            )))
        };
        // An http:// request through a proxy carries the proxy's credentials itself (an
        // https:// one gives them to the CONNECT request instead).
        let proxy_auth = match &self.rules {
            Some(rules) if !rules.is_empty() => rules
                .for_url(req.url.as_str())
                .map_err(TransportError::fatal)?
                .filter(|_| Target::of(req.url.as_str()).is_some_and(|t| !t.https))
                .and_then(|p| p.authorization()),
            _ => None,
        };
        let mut b = match req.url.parsed() {
            Some(uri) => self.agent.post(uri.clone()),
            // ureq reports the bad URL when the request is sent.
            None => self.agent.post(req.url.as_str()),
        };
        // Straight into the header map. `None` means a bad URL, reported by `send`.
        if let Some(map) = b.headers_mut() {
            Headers::append_to(pairs, map, req.attempt, 1);
            if let Some(auth) = proxy_auth {
                let mut value = HeaderValue::from_str(&auth).map_err(|e| invalid(&e))?;
                value.set_sensitive(true);
                map.append(ureq::http::header::PROXY_AUTHORIZATION, value);
            }
        }
        Ok(b)
    }

    /// What an error about `req` says about where it went.
    fn failing(&self, req: &HttpRequest<'_>, phase: TimeoutPhase) -> Failing {
        let (host, port) = Target::of(req.url.as_str())
            .map_or((String::new(), 0), |t| (t.host.to_owned(), t.port));
        let proxy = match &self.rules {
            Some(rules) => proxy_label(Some(rules), req.url.as_str()),
            // A caller's agent: name its proxy when it has one for this URL.
            None => self.agent.config().proxy().and_then(|p| {
                let uri = req.url.parsed()?;
                (!p.is_no_proxy(uri)).then(|| crate::proxy::authority(p.host(), p.port()))
            }),
        };
        Failing {
            peer: Arc::new(Peer { host, port, proxy }),
            timeout: req.timeout,
            connect_timeout: req.connect_timeout,
            phase,
        }
    }

    /// A non-stream exchange: the whole body, within `req.timeout` end to end, the
    /// connection within `req.connect_timeout`.
    pub(crate) fn execute(&self, req: &HttpRequest<'_>) -> Result<(Head, Vec<u8>), TransportError> {
        let t = req.timeout;
        let ct = req.connect_timeout;
        let request = self.request(req)?;
        let sent = if self.plain_bounds == Some((t, ct)) {
            request.send(req.body)
        } else {
            request
                .config()
                .http_status_as_error(false)
                .max_redirects(0)
                .max_redirects_will_error(false)
                .timeout_global(Some(t))
                .timeout_resolve(Some(ct))
                .timeout_connect(Some(ct))
                .build()
                .send(req.body)
        };
        let resp = sent.map_err(|e| map_error(e, &self.failing(req, TimeoutPhase::Total)))?;
        let head = head_of(&resp);
        // Sized from `content-length` up front: `read_to_end` on an empty vector reads
        // in doubling steps from 32 bytes, and each read is a turn of ureq's state
        // machine (seven per ordinary answer, a tenth of the request's CPU).
        let capacity = head
            .header("content-length")
            .and_then(|n| n.trim().parse::<u64>().ok())
            .map_or(INITIAL_BODY_CAPACITY, |n| {
                n.min(req.max_body).min(MAX_PREALLOCATED) as usize + 1
            });
        let mut body = Vec::with_capacity(capacity);
        resp.into_body()
            .into_with_config()
            .limit(req.max_body)
            .reader()
            .read_to_end(&mut body)
            .map_err(|e| map_io(e, &self.failing(req, TimeoutPhase::Total)))?;
        Ok((head, body))
    }

    /// A stream: returns once the head arrived; the body is read lazily.
    pub(crate) fn open(&self, req: &HttpRequest<'_>) -> Result<(Head, StreamBody), TransportError> {
        let t = req.timeout;
        let ct = req.connect_timeout;
        let resp = self
            .request(req)?
            .config()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            // A caller's agent may carry whole-exchange limits that would cut a long,
            // healthy stream: streams are bounded per phase and per read instead.
            .timeout_global(None)
            .timeout_per_call(None)
            .timeout_recv_body(None)
            .timeout_resolve(Some(ct))
            .timeout_connect(Some(ct))
            .timeout_send_request(Some(t))
            .timeout_send_body(Some(t))
            .timeout_recv_response(Some(t))
            .timeout_per_read(Some(t))
            .build()
            .send(req.body)
            .map_err(|e| map_error(e, &self.failing(req, TimeoutPhase::ResponseHead)))?;
        let head = head_of(&resp);
        // No cap on the whole stream (a long stream is legitimate); the stream layer caps
        // each event, and `read_rest` caps an error body.
        let reader = resp.into_body().into_reader();
        Ok((
            head,
            StreamBody {
                reader,
                idle: t,
                limit: req.max_body,
                from: self.failing(req, TimeoutPhase::StreamIdle).peer,
                own_connector: self.rules.is_some(),
            },
        ))
    }
}

impl StreamBody {
    /// Reads the next piece into `buf`; `Ok(0)` is the end of the body.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        loop {
            match self.reader.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let failing = Failing {
                        peer: self.from.clone(),
                        timeout: self.idle,
                        connect_timeout: self.idle,
                        phase: TimeoutPhase::StreamIdle,
                    };
                    return Err(map_io(e, &failing).error);
                }
            }
        }
    }

    /// The server ended the stream: reads the little that should be left (the chunked
    /// terminator), so that ureq returns the connection to its pool, then lets go of it. At
    /// most [`DRAIN_BYTES`] and, for the caller, [`DRAIN_WAIT`]; a body still open after
    /// that is dropped, which closes its connection.
    ///
    /// Our connector's reads end at the drain's deadline, so this happens here. A caller's
    /// agent reads with the stream's idle bound, fixed when the request was sent: a helper
    /// thread drains it, and the caller waits for that thread at most `DRAIN_WAIT`.
    pub(crate) fn finish(self) {
        if self.own_connector {
            let by = Instant::now() + DRAIN_WAIT;
            connect::reads_end_by(by, || self.drain());
        } else {
            self.drain_elsewhere();
        }
    }

    /// Reads up to [`DRAIN_BYTES`] until the body's end; true if it ended (the connection
    /// then went back to the pool). Errors only mean the connection is not reused.
    fn drain(mut self) -> bool {
        let mut buf = [0u8; 512];
        let mut read = 0;
        while read <= DRAIN_BYTES {
            match self.reader.read(&mut buf) {
                Ok(0) => return true,
                Ok(n) => read += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        false
    }

    fn drain_elsewhere(self) {
        /// Helpers still reading a body the server holds open; beyond this many, a finished
        /// stream's connection is closed instead.
        const MAX_HELPERS: usize = 4;
        static HELPERS: AtomicUsize = AtomicUsize::new(0);
        struct Helper;
        impl Drop for Helper {
            fn drop(&mut self) {
                HELPERS.fetch_sub(1, Ordering::AcqRel);
            }
        }
        if HELPERS.fetch_add(1, Ordering::AcqRel) >= MAX_HELPERS {
            HELPERS.fetch_sub(1, Ordering::AcqRel);
            return;
        }
        let helper = Helper;
        let (done, ended) = std::sync::mpsc::sync_channel::<bool>(1);
        let spawned = std::thread::Builder::new()
            .name("openai-compatible-drain".into())
            .spawn(move || {
                let _helper = helper;
                let _ = done.send(self.drain());
            });
        // Unspawned, the closure and the body in it are dropped: the connection closes.
        if spawned.is_ok() {
            let _ = ended.recv_timeout(DRAIN_WAIT);
        }
    }

    /// Reads what remains (an error body, or a whole JSON answer), up to the limit and
    /// within one timeout overall, so a server trickling bytes cannot hold the caller.
    pub(crate) fn read_rest(mut self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        let deadline = std::time::Instant::now() + self.idle;
        loop {
            if std::time::Instant::now() > deadline {
                return Err(Error::timeout(TimeoutPhase::Total, self.idle));
            }
            match self.read(&mut buf)? {
                0 => return Ok(out),
                n if (out.len() + n) as u64 > self.limit => {
                    return Err(Error::BodyTooLarge { limit: self.limit })
                }
                n => out.extend_from_slice(&buf[..n]),
            }
        }
    }
}

fn head_of(resp: &ureq::http::Response<ureq::Body>) -> Head {
    Head::from_parts(
        resp.status().as_u16(),
        resp.headers()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_bytes())),
    )
}

/// An I/O error once connected: the connection broke, or a read timed out.
fn map_io(e: std::io::Error, f: &Failing) -> TransportError {
    // ureq wraps its own errors (timeouts, limits) in io::Error when read through `Read`.
    if e.get_ref().is_some_and(|inner| inner.is::<ureq::Error>()) {
        return match e.into_inner().map(|inner| inner.downcast::<ureq::Error>()) {
            Some(Ok(inner)) => map_error(*inner, f),
            _ => TransportError::retryable(Error::connection(
                f.peer
                    .error(ConnectionPhase::Exchange, "the connection failed"),
            )),
        };
    }
    use std::io::ErrorKind as K;
    match e.kind() {
        K::TimedOut => TransportError::retryable(Error::timeout(f.phase, f.timeout)),
        // Not retried: a server sending broken HTTP or TLS will do it again.
        K::InvalidData => TransportError::fatal(Error::connection(
            f.peer.error(ConnectionPhase::Exchange, describe_io(&e)),
        )),
        K::ConnectionRefused | K::AddrNotAvailable | K::HostUnreachable | K::NetworkUnreachable => {
            TransportError::retryable(Error::connection(
                f.peer.error(ConnectionPhase::Connect, describe_io(&e)),
            ))
        }
        _ => TransportError::retryable(Error::connection(
            f.peer.error(ConnectionPhase::Exchange, describe_io(&e)),
        )),
    }
}

fn map_error(e: ureq::Error, f: &Failing) -> TransportError {
    use ureq::Error as U;
    let connection = |phase, reason: String| Error::connection(f.peer.error(phase, reason));
    match e {
        U::Other(other) => match other.downcast::<ConnectFailure>() {
            Ok(failure) => from_connector(*failure, f),
            Err(other) => {
                TransportError::retryable(connection(ConnectionPhase::Exchange, other.to_string()))
            }
        },
        U::Timeout(t) => {
            use ureq::Timeout as T;
            match t {
                // Only a caller's agent gets here: ours reports through the connector.
                T::Resolve | T::Connect => TransportError::retryable(Error::Timeout {
                    phase: TimeoutPhase::Connect,
                    after: f.connect_timeout,
                    connection: Some(Box::new(f.peer.error(
                        if t == T::Resolve {
                            ConnectionPhase::Resolve
                        } else {
                            ConnectionPhase::Connect
                        },
                        "the connection was not made in time",
                    ))),
                }),
                T::PerRead if f.phase == TimeoutPhase::StreamIdle => {
                    TransportError::retryable(Error::timeout(TimeoutPhase::StreamIdle, f.timeout))
                }
                T::Global => {
                    TransportError::retryable(Error::timeout(TimeoutPhase::Total, f.timeout))
                }
                _ if f.phase == TimeoutPhase::Total => {
                    TransportError::retryable(Error::timeout(TimeoutPhase::Total, f.timeout))
                }
                _ => {
                    TransportError::retryable(Error::timeout(TimeoutPhase::ResponseHead, f.timeout))
                }
            }
        }
        U::Io(io) => map_io(io, f),
        U::BodyExceedsLimit(limit) => TransportError::fatal(Error::BodyTooLarge { limit }),
        U::HostNotFound => TransportError::retryable(connection(
            ConnectionPhase::Resolve,
            "name lookup failed: the name could not be resolved".into(),
        )),
        U::ConnectionFailed => TransportError::retryable(connection(
            ConnectionPhase::Connect,
            "no connection could be made".into(),
        )),
        U::ConnectProxyFailed(why) => {
            TransportError::retryable(connection(ConnectionPhase::Tunnel, why))
        }
        U::Protocol(p) => TransportError::retryable(connection(
            ConnectionPhase::Exchange,
            format!("the server broke the HTTP protocol: {p}"),
        )),
        U::BadUri(u) => TransportError::fatal(Error::Config(format!("bad URL: {u}"))),
        U::Http(h) => TransportError::fatal(Error::Config(format!(
            "a header name or value is not valid HTTP: {h}"
        ))),
        U::Tls(m) => {
            TransportError::fatal(connection(ConnectionPhase::Tls, format!("TLS failed: {m}")))
        }
        U::Rustls(e) => {
            TransportError::fatal(connection(ConnectionPhase::Tls, format!("TLS failed: {e}")))
        }
        other => {
            TransportError::retryable(connection(ConnectionPhase::Exchange, other.to_string()))
        }
    }
}

/// The connector's failure as this crate's error. A timeout while connecting is always the
/// connect phase, whichever of the two bounds ran out first: the connection is what hung.
fn from_connector(failure: ConnectFailure, f: &Failing) -> TransportError {
    let error = f.peer.error(failure.phase, failure.reason);
    match failure.kind {
        FailureKind::TimedOut => TransportError::retryable(Error::Timeout {
            phase: TimeoutPhase::Connect,
            after: f.connect_timeout.min(f.timeout),
            connection: Some(Box::new(error)),
        }),
        FailureKind::Retryable => TransportError::retryable(Error::connection(error)),
        FailureKind::Fatal => TransportError::fatal(Error::connection(error)),
        FailureKind::Config => TransportError::fatal(Error::Config(error.reason().to_owned())),
    }
}
