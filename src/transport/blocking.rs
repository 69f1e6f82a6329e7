//! The blocking transport, on ureq 3.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

use super::{Head, HttpRequest, TransportError, RETRY_COUNT_HEADER, USER_AGENT};
use crate::error::{Error, TimeoutPhase};

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
}

impl HttpTransport {
    pub(crate) fn new(agent: Option<CallerClient>) -> Result<HttpTransport, Error> {
        let agent = agent.unwrap_or_else(|| {
            // ureq keeps 3 idle connections per host by default: a model shared by a pool
            // of threads would reconnect for most requests.
            let config = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .user_agent(USER_AGENT)
                .max_idle_connections(64)
                .max_idle_connections_per_host(32)
                .build();
            ureq::Agent::with_parts(
                config,
                ureq::unversioned::transport::DefaultConnector::default(),
                QuickResolver::default(),
            )
        });
        Ok(HttpTransport { agent })
    }

    /// Settings every request needs whatever agent the caller built: error bodies kept, no
    /// redirects followed (a redirected POST would lose its body, and the key must not
    /// travel to another host).
    fn request(
        &self,
        req: &HttpRequest<'_>,
    ) -> Result<ureq::RequestBuilder<ureq::typestate::WithBody>, TransportError> {
        use ureq::http::header::{HeaderName, HeaderValue};
        let invalid = |e: &dyn std::fmt::Display| {
            TransportError::fatal(Error::Config(format!(
                "a header name or value is not valid HTTP: {e}"
            )))
        };
        let mut b = self.agent.post(req.url);
        // Straight into the header map: `RequestBuilder::header` moves the whole request
        // builder through `http`'s `Result` chain once per header (a sixth of a request's
        // CPU with our seven headers). `None` means a bad URL, reported by `send`.
        if let Some(map) = b.headers_mut() {
            map.reserve(req.headers.len());
            for (k, v) in req.headers {
                let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| invalid(&e))?;
                let value = HeaderValue::from_str(v).map_err(|e| invalid(&e))?;
                map.append(name, value);
            }
            map.append(
                HeaderName::from_static(RETRY_COUNT_HEADER),
                HeaderValue::from(req.attempt),
            );
        }
        Ok(b)
    }

    /// A non-stream exchange: the whole body, within `req.timeout` end to end.
    pub(crate) fn execute(&self, req: &HttpRequest<'_>) -> Result<(Head, Vec<u8>), TransportError> {
        let t = req.timeout;
        let resp = self
            .request(req)?
            .config()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_global(Some(t))
            .build()
            .send(req.body)
            .map_err(|e| map_error(e, t, TimeoutPhase::Total))?;
        let head = head_of(&resp);
        let body = resp
            .into_body()
            .into_with_config()
            .limit(req.max_body)
            .read_to_vec()
            .map_err(|e| map_error(e, t, TimeoutPhase::Total))?;
        Ok((head, body))
    }

    /// A stream: returns once the head arrived; the body is read lazily.
    pub(crate) fn open(&self, req: &HttpRequest<'_>) -> Result<(Head, StreamBody), TransportError> {
        let t = req.timeout;
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
            .timeout_resolve(Some(t))
            .timeout_connect(Some(t))
            .timeout_send_request(Some(t))
            .timeout_send_body(Some(t))
            .timeout_recv_response(Some(t))
            .timeout_per_read(Some(t))
            .build()
            .send(req.body)
            .map_err(|e| map_error(e, t, TimeoutPhase::ResponseHead))?;
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
                Err(e) => return Err(map_io(e, self.idle, TimeoutPhase::StreamIdle).error),
            }
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
                return Err(Error::Timeout {
                    phase: TimeoutPhase::Total,
                    after: self.idle,
                });
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

/// How long a looked-up host name is reused. Addresses only matter when a new connection is
/// opened, and one second is far below any DNS TTL worth honouring.
const RESOLVED_FOR: Duration = Duration::from_secs(1);

/// ureq's resolver, minus a thread per request.
///
/// ureq resolves the host before it looks for a pooled connection, and when the call has a
/// timeout (ours always does) its default resolver spawns a thread for the lookup so that
/// it can give up on time. Measured on loopback (benches/README.md), that thread cut the
/// request rate from about 35k/s to 6k/s. Here an IP literal is used as it is (no lookup at
/// all, as ureq itself does without a timeout), and a host name is looked up by ureq's
/// resolver — with its thread and its timeout — at most once a second; later calls reuse
/// the addresses.
#[derive(Debug, Default)]
struct QuickResolver {
    lookup: DefaultResolver,
    /// The last name looked up: `scheme://authority` (the scheme gives the default port).
    recent: Mutex<Option<(String, Instant, ResolvedSocketAddrs)>>,
}

impl Resolver for QuickResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let Some(authority) = uri.authority() else {
            return self.lookup.resolve(uri, config, timeout);
        };
        let host = authority.host();
        let literal = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .parse::<IpAddr>();
        let port = authority.port_u16().or_else(|| match uri.scheme_str() {
            Some("http") => Some(80),
            Some("https") => Some(443),
            _ => None,
        });
        if let (Ok(ip), Some(port)) = (literal, port) {
            let mut addrs = self.empty();
            for addr in config
                .ip_family()
                .keep_wanted(std::iter::once(SocketAddr::new(ip, port)))
            {
                addrs.push(addr);
            }
            return if addrs.is_empty() {
                Err(ureq::Error::HostNotFound)
            } else {
                Ok(addrs)
            };
        }
        let scheme = uri.scheme_str().unwrap_or_default();
        let same = |k: &str| {
            k.strip_prefix(scheme)
                .and_then(|k| k.strip_prefix("://"))
                .is_some_and(|k| k == authority.as_str())
        };
        let now = Instant::now();
        if let Ok(recent) = self.recent.lock() {
            if let Some((k, at, addrs)) = recent.as_ref() {
                if same(k) && now.duration_since(*at) < RESOLVED_FOR {
                    return Ok(addrs.clone());
                }
            }
        }
        let addrs = self.lookup.resolve(uri, config, timeout)?;
        if let Ok(mut recent) = self.recent.lock() {
            *recent = Some((format!("{scheme}://{authority}"), now, addrs.clone()));
        }
        Ok(addrs)
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

fn map_io(e: std::io::Error, limit: Duration, phase: TimeoutPhase) -> TransportError {
    // ureq wraps its own errors (timeouts, limits) in io::Error when read through `Read`.
    if e.get_ref().is_some_and(|inner| inner.is::<ureq::Error>()) {
        return match e.into_inner().map(|inner| inner.downcast::<ureq::Error>()) {
            Some(Ok(inner)) => map_error(*inner, limit, phase),
            _ => TransportError::retryable(Error::Connection("the connection failed".into())),
        };
    }
    use std::io::ErrorKind as K;
    let retryable = !matches!(e.kind(), K::InvalidData);
    let error = match e.kind() {
        K::TimedOut => Error::Timeout {
            phase,
            after: limit,
        },
        K::ConnectionRefused | K::AddrNotAvailable | K::HostUnreachable | K::NetworkUnreachable => {
            Error::Connection(format!("could not connect: {e}"))
        }
        _ => Error::Connection(format!(
            "the connection closed before the response was complete: {e}"
        )),
    };
    TransportError { error, retryable }
}

fn map_error(e: ureq::Error, limit: Duration, phase: TimeoutPhase) -> TransportError {
    use ureq::Error as U;
    match e {
        U::Timeout(t) => {
            use ureq::Timeout as T;
            let phase = match t {
                T::Resolve | T::Connect => TimeoutPhase::Connect,
                T::PerRead if phase == TimeoutPhase::StreamIdle => TimeoutPhase::StreamIdle,
                T::Global => TimeoutPhase::Total,
                _ if phase == TimeoutPhase::Total => TimeoutPhase::Total,
                _ => TimeoutPhase::ResponseHead,
            };
            TransportError::retryable(Error::Timeout {
                phase,
                after: limit,
            })
        }
        U::Io(io) => map_io(io, limit, phase),
        U::BodyExceedsLimit(limit) => TransportError::fatal(Error::BodyTooLarge { limit }),
        U::HostNotFound => TransportError::retryable(Error::Connection(
            "the host name could not be resolved".into(),
        )),
        U::ConnectionFailed => {
            TransportError::retryable(Error::Connection("the connection failed".into()))
        }
        U::Protocol(p) => TransportError::retryable(Error::Connection(format!(
            "the connection closed before the response was complete ({p})"
        ))),
        U::BadUri(u) => TransportError::fatal(Error::Config(format!("bad URL: {u}"))),
        U::Http(h) => TransportError::fatal(Error::Config(format!(
            "a header name or value is not valid HTTP: {h}"
        ))),
        U::Tls(m) => TransportError::fatal(Error::Connection(format!("TLS failed: {m}"))),
        other => TransportError::retryable(Error::Connection(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(r: &QuickResolver, url: &str) -> Result<Vec<SocketAddr>, ureq::Error> {
        let uri: ureq::http::Uri = url.parse().unwrap();
        let config = ureq::config::Config::default();
        let timeout = NextTimeout {
            after: ureq::unversioned::transport::time::Duration::from_secs(5),
            reason: ureq::Timeout::Resolve,
            ..NextTimeout::default()
        };
        r.resolve(&uri, &config, timeout).map(|a| a.to_vec())
    }

    #[test]
    fn ip_literals_need_no_lookup() {
        let r = QuickResolver::default();
        assert_eq!(
            resolve(&r, "http://127.0.0.1:8080/v1").unwrap(),
            vec!["127.0.0.1:8080".parse().unwrap()]
        );
        assert_eq!(
            resolve(&r, "https://[::1]/v1").unwrap(),
            vec!["[::1]:443".parse().unwrap()]
        );
        assert!(r.recent.lock().unwrap().is_none());
    }

    #[test]
    fn a_host_name_is_looked_up_once_a_second() {
        let r = QuickResolver::default();
        let first = resolve(&r, "http://localhost:8080/v1").unwrap();
        assert!(first
            .iter()
            .all(|a| a.port() == 8080 && a.ip().is_loopback()));
        assert_eq!(resolve(&r, "http://localhost:8080/x").unwrap(), first);
        // Another port or scheme is another name.
        let other = resolve(&r, "http://localhost:9090/v1").unwrap();
        assert!(other.iter().all(|a| a.port() == 9090));
    }
}
