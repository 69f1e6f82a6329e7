//! The blocking transport, on ureq 3.

use std::io::Read;
use std::time::Duration;

use super::{Head, HttpRequest, TransportError, USER_AGENT};
use crate::error::{Error, TimeoutPhase};

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
    pub(crate) fn new(agent: Option<ureq::Agent>) -> HttpTransport {
        let agent = agent.unwrap_or_else(|| {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .user_agent(USER_AGENT)
                .build()
                .into()
        });
        HttpTransport { agent }
    }

    /// Settings every request needs whatever agent the caller built: error bodies kept, no
    /// redirects followed (a redirected POST would lose its body, and the key must not
    /// travel to another host).
    fn request(&self, req: &HttpRequest<'_>) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        let mut b = self.agent.post(req.url);
        for (k, v) in req.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b
    }

    /// A non-stream exchange: the whole body, within `req.timeout` end to end.
    pub(crate) fn execute(&self, req: &HttpRequest<'_>) -> Result<(Head, Vec<u8>), TransportError> {
        let t = req.timeout;
        let resp = self
            .request(req)
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
            .request(req)
            .config()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
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

    /// Reads what remains (an error body), up to the limit.
    pub(crate) fn read_rest(mut self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
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
    Head {
        status: resp.status().as_u16(),
        headers: resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
    }
}

fn map_io(e: std::io::Error, limit: Duration, phase: TimeoutPhase) -> TransportError {
    // ureq wraps its own errors (timeouts, limits) in io::Error when read through `Read`.
    if e.get_ref().is_some_and(|inner| inner.is::<ureq::Error>()) {
        return match e.into_inner().map(|inner| inner.downcast::<ureq::Error>()) {
            Some(Ok(inner)) => map_error(*inner, limit, phase),
            _ => TransportError::retryable(Error::Connection("the connection failed".into())),
        };
    }
    let retryable = !matches!(e.kind(), std::io::ErrorKind::InvalidData);
    let error = if e.kind() == std::io::ErrorKind::TimedOut {
        Error::Timeout {
            phase,
            after: limit,
        }
    } else {
        Error::Connection(format!("{e}"))
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
