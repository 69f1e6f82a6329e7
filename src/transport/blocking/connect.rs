//! The default agent's connector: name lookup, TCP, the proxy, TLS — each step under one
//! deadline, each failure labelled with its step.
//!
//! ureq's own chain could not do three things this crate needs:
//!
//! * **Absolute-form requests to an HTTP proxy.** ureq tunnels every proxied request with
//!   `CONNECT`, http ones included, and ureq-proto always writes the origin form
//!   (`POST /v1/chat/completions`). Many proxies refuse a tunnel to port 80. Here an `http://`
//!   URL goes to the proxy over a plain connection whose request lines are rewritten to the
//!   absolute form (`POST http://host:port/v1/chat/completions HTTP/1.1`), as curl sends
//!   them ([`AbsoluteForm`]); `https://` URLs are tunnelled with `CONNECT`.
//! * **Per-scheme proxies.** ureq has one proxy per agent; here the proxy is chosen per
//!   connection by [`ProxyRules`] (`HTTP_PROXY` for http, `HTTPS_PROXY` for https).
//! * **Reads bounded by the clock.** ureq bounds a blocking read with the socket's receive
//!   timeout (`SO_RCVTIMEO`), which Linux counts in scheduler ticks. On some virtual machines
//!   ticks lag the clock: a 180 s receive timeout was measured lasting 183.6 to 196.2 s, a
//!   20 s one 21.9 s. [`Sliced`] waits at most a second per read and checks the real clock
//!   in between, so a bound ends within a few tens of milliseconds of its deadline.
//!
//! Errors leave the connector as [`ConnectFailure`] inside `ureq::Error::Other`; the
//! transport turns them into this crate's errors, with the timeouts it knows.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::http::uri::Scheme;
use ureq::unversioned::transport::time::Duration as UreqDuration;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, RustlsConnector, TcpConnector,
    Transport,
};

use super::resolve::QuickResolver;
use crate::error::ConnectionPhase;
use crate::proxy::{Proxy, ProxyRules, Target};
use crate::transport::{describe_io, USER_AGENT};

/// What went wrong while connecting, and whether trying again may help.
#[derive(Debug)]
pub(super) struct ConnectFailure {
    pub phase: ConnectionPhase,
    pub kind: FailureKind,
    /// In words, without URLs or secrets.
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FailureKind {
    /// The bound ran out.
    TimedOut,
    /// Another attempt may work (refused, reset, a proxy's 5xx).
    Retryable,
    /// Another attempt fails the same way (an untrusted certificate, a proxy's 407).
    Fatal,
    /// The proxy the environment names cannot be used ([`crate::Error::Config`]).
    Config,
}

impl std::fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.phase, self.reason)
    }
}

impl std::error::Error for ConnectFailure {}

impl ConnectFailure {
    fn new(phase: ConnectionPhase, kind: FailureKind, reason: impl Into<String>) -> Self {
        ConnectFailure {
            phase,
            kind,
            reason: reason.into(),
        }
    }

    /// A ureq error from one step. `proxied`: the peer of the resolve and TCP steps is the
    /// proxy, and the reason says so.
    fn from_ureq(phase: ConnectionPhase, e: ureq::Error, proxied: bool) -> Self {
        if let ureq::Error::Timeout(_) = e {
            return ConnectFailure::timed_out(phase, proxied);
        }
        let (kind, what) = match e {
            ureq::Error::HostNotFound => (
                FailureKind::Retryable,
                "the name could not be resolved".to_owned(),
            ),
            ureq::Error::Io(io) => (FailureKind::Retryable, describe_io(&io)),
            other => (FailureKind::Retryable, other.to_string()),
        };
        let reason = match (proxied, phase) {
            (true, ConnectionPhase::Resolve) => format!("looking up the proxy: {what}"),
            (true, ConnectionPhase::Connect) => format!("connecting to the proxy: {what}"),
            (false, ConnectionPhase::Resolve) => format!("name lookup failed: {what}"),
            _ => what,
        };
        ConnectFailure::new(phase, kind, reason)
    }

    /// The connect timeout ran out in `phase`; the reason names the stage that hung.
    fn timed_out(phase: ConnectionPhase, proxied: bool) -> Self {
        let reason = match (phase, proxied) {
            (ConnectionPhase::Resolve, false) => "the name lookup did not finish in time",
            (ConnectionPhase::Resolve, true) => "looking up the proxy did not finish in time",
            (ConnectionPhase::Connect, false) => "the TCP connection was not accepted in time",
            (ConnectionPhase::Connect, true) => {
                "the proxy did not accept the TCP connection in time"
            }
            (ConnectionPhase::Tunnel, _) => "the proxy did not answer the CONNECT request in time",
            _ => "the connection was not made in time",
        };
        ConnectFailure::new(phase, FailureKind::TimedOut, reason)
    }

    fn from_tls(e: ureq::Error) -> Self {
        use std::io::ErrorKind as K;
        const PLAIN_HTTP_HINT: &str = "if the server speaks plain HTTP, use an http:// URL";
        match e {
            ureq::Error::Timeout(_) => ConnectFailure::new(
                ConnectionPhase::Tls,
                FailureKind::TimedOut,
                format!("no answer to the TLS handshake; {PLAIN_HTTP_HINT}"),
            ),
            // The server answered with something that is not TLS (rustls reports it as
            // invalid data): often a plain-HTTP server's error page.
            ureq::Error::Io(io) if io.kind() == K::InvalidData => {
                let detail = describe_io(&io);
                let hint = if detail.contains("corrupt message")
                    || detail.contains("InvalidContentType")
                {
                    format!("; {PLAIN_HTTP_HINT}")
                } else {
                    String::new()
                };
                ConnectFailure::new(
                    ConnectionPhase::Tls,
                    FailureKind::Fatal,
                    format!("TLS handshake failed: {detail}{hint}"),
                )
            }
            ureq::Error::Io(io) => ConnectFailure::new(
                ConnectionPhase::Tls,
                FailureKind::Retryable,
                format!("during the TLS handshake: {}", describe_io(&io)),
            ),
            other => ConnectFailure::new(
                ConnectionPhase::Tls,
                FailureKind::Fatal,
                format!("TLS handshake failed: {other}"),
            ),
        }
    }
}

/// Opens the default agent's connections (see the module docs).
#[derive(Debug)]
pub(super) struct Connect {
    rules: Arc<ProxyRules>,
    resolver: QuickResolver,
    tcp: TcpConnector,
    tls: RustlsConnector,
}

impl Connect {
    pub(super) fn new(rules: Arc<ProxyRules>) -> Connect {
        Connect {
            rules,
            resolver: QuickResolver::default(),
            tcp: TcpConnector::default(),
            tls: RustlsConnector::default(),
        }
    }

    fn open(&self, details: &ConnectionDetails<'_>) -> Result<Box<dyn Transport>, ConnectFailure> {
        let clock = Deadline::of(details.timeout);
        let uri = details.uri;
        let https = uri.scheme() == Some(&Scheme::HTTPS);
        let host = uri.host().unwrap_or_default();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let target = Target { https, host, port };
        let proxy = self.rules.for_target(&target).map_err(|e| {
            let reason = match e {
                crate::Error::Config(m) => m,
                other => other.to_string(),
            };
            ConnectFailure::new(ConnectionPhase::Connect, FailureKind::Config, reason)
        })?;
        let proxied = proxy.is_some();
        let (peer_host, peer_port) = proxy.map_or((host, port), |p| (p.host.as_str(), p.port));

        let addrs = self
            .resolver
            .resolve(
                peer_host,
                peer_port,
                details.config,
                clock.next(ConnectionPhase::Resolve, proxied)?,
            )
            .map_err(|e| ConnectFailure::from_ureq(ConnectionPhase::Resolve, e, proxied))?;
        let tcp_details = ConnectionDetails {
            uri,
            addrs,
            config: details.config,
            request_level: details.request_level,
            resolver: details.resolver,
            now: ureq::unversioned::transport::time::Instant::now(),
            timeout: clock.next(ConnectionPhase::Connect, proxied)?,
            current_time: details.current_time.clone(),
            run_connector: details.run_connector.clone(),
            register_shutdown: details.register_shutdown.clone(),
        };
        let tcp = Connector::<()>::connect(&self.tcp, &tcp_details, None)
            .map_err(|e| ConnectFailure::from_ureq(ConnectionPhase::Connect, e, proxied))?
            .ok_or_else(|| {
                ConnectFailure::new(
                    ConnectionPhase::Connect,
                    FailureKind::Retryable,
                    "no connection was made",
                )
            })?;
        let mut transport: Box<dyn Transport> = Box::new(Sliced::new(tcp));

        match proxy {
            Some(p) if https => transport = tunnel(transport, &target, p, &clock)?,
            Some(_) => {
                transport = Box::new(AbsoluteForm::new(transport, &target, details.config));
            }
            None => {}
        }

        if https {
            // The handshake's deadline is the connection's: ureq's own `now` and `timeout`.
            // `request_level: false` lets the connector cache its rustls configuration: this
            // agent's requests never change TLS settings.
            let tls_details = ConnectionDetails {
                uri,
                addrs: details.addrs.clone(),
                config: details.config,
                request_level: false,
                resolver: details.resolver,
                now: details.now,
                timeout: details.timeout,
                current_time: details.current_time.clone(),
                run_connector: details.run_connector.clone(),
                register_shutdown: details.register_shutdown.clone(),
            };
            let tls = self
                .tls
                .connect(&tls_details, Some(transport))
                .map_err(ConnectFailure::from_tls)?
                .ok_or_else(|| {
                    ConnectFailure::new(
                        ConnectionPhase::Tls,
                        FailureKind::Fatal,
                        "no TLS connection was made",
                    )
                })?;
            transport = Box::new(tls);
        }
        Ok(transport)
    }
}

impl Connector for Connect {
    type Out = Box<dyn Transport>;

    fn connect(
        &self,
        details: &ConnectionDetails<'_>,
        _chained: Option<()>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        self.open(details)
            .map(Some)
            .map_err(|f| ureq::Error::Other(Box::new(f)))
    }
}

/// The connection's deadline on the real clock, handed to each step as what remains.
struct Deadline {
    base: NextTimeout,
    at: Option<Instant>,
}

impl Deadline {
    fn of(timeout: NextTimeout) -> Deadline {
        let at = match timeout.after {
            UreqDuration::Exact(d) => Instant::now().checked_add(d),
            UreqDuration::NotHappening => None,
        };
        Deadline { base: timeout, at }
    }

    /// What remains for the step about to start (`phase`), or a timeout when nothing does
    /// (ureq would turn a zero budget into a second's wait).
    fn next(&self, phase: ConnectionPhase, proxied: bool) -> Result<NextTimeout, ConnectFailure> {
        let Some(at) = self.at else {
            return Ok(self.base);
        };
        let left = at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ConnectFailure::timed_out(phase, proxied));
        }
        Ok(NextTimeout {
            after: UreqDuration::Exact(left),
            ..self.base
        })
    }
}

/// Asks the proxy for a tunnel to `target` and returns the connection once it stands.
fn tunnel(
    mut t: Box<dyn Transport>,
    target: &Target<'_>,
    proxy: &Proxy,
    clock: &Deadline,
) -> Result<Box<dyn Transport>, ConnectFailure> {
    const MAX_HEAD: usize = 16 * 1024;
    let fail = |kind, reason: String| ConnectFailure::new(ConnectionPhase::Tunnel, kind, reason);
    let io = |e| ConnectFailure::from_ureq(ConnectionPhase::Tunnel, e, true);
    let authority = target.authority();
    let mut head = format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {USER_AGENT}\r\n"
    );
    if let Some(auth) = proxy.authorization() {
        head.push_str("Proxy-Authorization: ");
        head.push_str(&auth);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let next = || clock.next(ConnectionPhase::Tunnel, true);
    write_all(&mut *t, &[head.as_bytes()], next()?).map_err(io)?;
    loop {
        let input = t.buffers().input();
        if let Some(end) = input.windows(4).position(|w| w == b"\r\n\r\n") {
            let status = status_code(&input[..end]);
            t.buffers().input_consume(end + 4);
            return match status {
                Some(200..=299) => Ok(t),
                Some(s @ 400..=499) => Err(fail(
                    FailureKind::Fatal,
                    format!("the proxy answered the CONNECT request with HTTP {s}"),
                )),
                Some(s) => Err(fail(
                    FailureKind::Retryable,
                    format!("the proxy answered the CONNECT request with HTTP {s}"),
                )),
                None => Err(fail(
                    FailureKind::Retryable,
                    "the proxy's answer to the CONNECT request is not HTTP".to_owned(),
                )),
            };
        }
        if input.len() > MAX_HEAD {
            return Err(fail(
                FailureKind::Retryable,
                "the proxy's answer to the CONNECT request is too long".to_owned(),
            ));
        }
        if !t.await_input(next()?).map_err(io)? {
            return Err(fail(
                FailureKind::Retryable,
                "the proxy closed the connection during the CONNECT request".to_owned(),
            ));
        }
    }
}

/// The status of an HTTP/1.x response head.
fn status_code(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\r').next()?;
    let mut parts = line.split(|&b| b == b' ');
    if !parts.next()?.starts_with(b"HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// Sends `pieces` one after the other through `t`'s output buffer.
fn write_all(
    t: &mut dyn Transport,
    pieces: &[&[u8]],
    timeout: NextTimeout,
) -> Result<(), ureq::Error> {
    let mut filled = 0;
    for piece in pieces {
        let mut piece = *piece;
        while !piece.is_empty() {
            let out = t.buffers().output();
            if filled == out.len() {
                t.transmit_output(filled, timeout)?;
                filled = 0;
                continue;
            }
            let n = (out.len() - filled).min(piece.len());
            out[filled..filled + n].copy_from_slice(&piece[..n]);
            filled += n;
            piece = &piece[n..];
        }
    }
    if filled > 0 {
        t.transmit_output(filled, timeout)?;
    }
    Ok(())
}

/// The longest single wait of a read. Short enough that a lagging kernel tick adds
/// milliseconds, long enough that a silent server costs one wake-up a second.
const SLICE: Duration = Duration::from_secs(1);

thread_local! {
    /// While a finished stream's body is drained on this thread ([`reads_end_by`]): the
    /// instant every read of this connector's connections ends by, whatever its own bound.
    static READS_END_BY: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Runs `f` with every read of this connector's connections on this thread ending by `by`
/// (a timeout past it): ureq fixes a request's read bound when it is sent, and draining
/// what follows `data: [DONE]` must take milliseconds, not the stream's idle timeout.
pub(super) fn reads_end_by<T>(by: Instant, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Instant>);
    impl Drop for Restore {
        fn drop(&mut self) {
            READS_END_BY.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(READS_END_BY.with(|c| c.replace(Some(by))));
    f()
}

/// A transport whose reads wait at most [`SLICE`] at a time, until the real deadline.
#[derive(Debug)]
struct Sliced<T> {
    inner: T,
    slice: Duration,
}

impl<T> Sliced<T> {
    fn new(inner: T) -> Sliced<T> {
        Sliced {
            inner,
            slice: SLICE,
        }
    }
}

impl<T: Transport> Transport for Sliced<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        // The bound this read has, the per-read one included, on the real clock.
        let bound = timeout.for_read();
        let deadline = match bound.after {
            UreqDuration::Exact(d) => Instant::now().checked_add(d),
            UreqDuration::NotHappening => None,
        };
        let deadline = match (deadline, READS_END_BY.with(Cell::get)) {
            (Some(own), Some(drain)) => Some(own.min(drain)),
            (own, drain) => own.or(drain),
        };
        let Some(deadline) = deadline else {
            return self.inner.await_input(timeout);
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let slice = NextTimeout {
                after: UreqDuration::Exact(left.min(self.slice)),
                reason: bound.reason,
                per_read: None,
                per_write: timeout.per_write,
            };
            match self.inner.await_input(slice) {
                Err(ureq::Error::Timeout(_)) if Instant::now() < deadline => continue,
                Err(ureq::Error::Timeout(_)) => return Err(ureq::Error::Timeout(bound.reason)),
                other => return other,
            }
        }
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

/// A plain connection to an HTTP proxy that writes each request line in absolute form:
/// `POST http://host:port/v1/chat/completions HTTP/1.1`, as RFC 9112 §3.2.2 asks of a
/// request to a proxy. ureq-proto writes `POST /v1/chat/completions HTTP/1.1`; the origin
/// (`http://host:port`) is inserted after the method of the first bytes written after a
/// read (a new request on this connection). Input passes through unchanged.
#[derive(Debug)]
struct AbsoluteForm {
    inner: Box<dyn Transport>,
    origin: Vec<u8>,
    buffers: LazyBuffers,
    /// The next write starts a request: the connection is new, or a response was read since.
    request_start: bool,
}

impl AbsoluteForm {
    fn new(
        inner: Box<dyn Transport>,
        target: &Target<'_>,
        config: &ureq::config::Config,
    ) -> AbsoluteForm {
        AbsoluteForm {
            inner,
            origin: format!("http://{}", target.authority()).into_bytes(),
            buffers: LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size()),
            request_start: true,
        }
    }
}

/// Where the origin goes in `data` if it starts with a request line in origin form
/// (`METHOD /…`): right after the space that ends the method.
fn origin_form_target(data: &[u8]) -> Option<usize> {
    let space = data.iter().take(17).position(|&b| b == b' ')?;
    let method = &data[..space];
    (!method.is_empty()
        && method.iter().all(u8::is_ascii_uppercase)
        && data.get(space + 1) == Some(&b'/'))
    .then_some(space + 1)
}

impl Transport for AbsoluteForm {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let data = &self.buffers.output()[..amount];
        let at = if std::mem::take(&mut self.request_start) {
            origin_form_target(data)
        } else {
            None
        };
        match at {
            Some(at) => write_all(
                &mut *self.inner,
                &[&data[..at], &self.origin, &data[at..]],
                timeout,
            ),
            None => write_all(&mut *self.inner, &[data], timeout),
        }
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.request_start = true;
        if self.inner.buffers().input().is_empty() && !self.inner.await_input(timeout)? {
            return Ok(false);
        }
        let src = self.inner.buffers().input();
        let dst = self.buffers.input_append_buf();
        let n = src.len().min(dst.len());
        dst[..n].copy_from_slice(&src[..n]);
        self.buffers.input_appended(n);
        self.inner.buffers().input_consume(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers every read with a timeout after waiting what it was given, and records it.
    #[derive(Debug)]
    struct Quiet {
        buffers: LazyBuffers,
        waits: Vec<Duration>,
    }

    impl Transport for Quiet {
        fn buffers(&mut self) -> &mut dyn Buffers {
            &mut self.buffers
        }
        fn transmit_output(&mut self, _: usize, _: NextTimeout) -> Result<(), ureq::Error> {
            Ok(())
        }
        fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
            let wait = *timeout.after;
            self.waits.push(wait);
            std::thread::sleep(wait);
            Err(ureq::Error::Timeout(timeout.reason))
        }
        fn is_open(&mut self) -> bool {
            true
        }
    }

    #[test]
    fn reads_wait_in_slices_until_the_real_deadline() {
        let mut t = Sliced {
            inner: Quiet {
                buffers: LazyBuffers::new(64, 64),
                waits: Vec::new(),
            },
            slice: Duration::from_millis(20),
        };
        let timeout = NextTimeout {
            after: UreqDuration::Exact(Duration::from_millis(200)),
            reason: ureq::Timeout::RecvResponse,
            // The per-read bound is the tighter one here: it applies, with its own reason.
            per_read: Some(UreqDuration::Exact(Duration::from_millis(50))),
            per_write: None,
        };
        let started = Instant::now();
        let e = t.await_input(timeout).unwrap_err();
        assert!(
            matches!(e, ureq::Error::Timeout(ureq::Timeout::PerRead)),
            "{e:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(50));
        let waits = &t.inner.waits;
        assert!(waits.len() >= 3, "{waits:?}");
        assert!(
            waits.iter().all(|w| *w <= Duration::from_millis(20)),
            "{waits:?}"
        );
    }

    #[test]
    fn a_drain_bound_ends_reads_before_their_own_bound() {
        let mut t = Sliced {
            inner: Quiet {
                buffers: LazyBuffers::new(64, 64),
                waits: Vec::new(),
            },
            slice: Duration::from_millis(20),
        };
        let timeout = NextTimeout {
            after: UreqDuration::Exact(Duration::from_secs(60)),
            reason: ureq::Timeout::RecvBody,
            per_read: None,
            per_write: None,
        };
        let by = Instant::now() + Duration::from_millis(30);
        let e = reads_end_by(by, || t.await_input(timeout)).unwrap_err();
        assert!(matches!(e, ureq::Error::Timeout(_)), "{e:?}");
        // Each wait asked for at most what was left before `by`: together at most 30 ms.
        let asked: Duration = t.inner.waits.iter().sum();
        assert!(asked <= Duration::from_millis(30), "{:?}", t.inner.waits);
        assert_eq!(
            READS_END_BY.with(Cell::get),
            None,
            "the bound is this call's only"
        );
    }

    #[test]
    fn only_origin_form_request_lines_are_rewritten() {
        assert_eq!(origin_form_target(b"POST /v1/chat HTTP/1.1\r\n"), Some(5));
        assert_eq!(origin_form_target(b"GET /?x HTTP/1.1\r\n"), Some(4));
        for not_a_request_line in [
            &b"{\"model\": \"m\"}"[..],
            b"POST http://h/ HTTP/1.1\r\n",
            b"1A\r\nhello",
            b" /x",
            b"post /x",
            b"",
        ] {
            assert_eq!(origin_form_target(not_a_request_line), None);
        }
    }

    #[test]
    fn proxy_status_lines_parse_without_panicking() {
        assert_eq!(
            status_code(b"HTTP/1.1 200 Connection established"),
            Some(200)
        );
        assert_eq!(
            status_code(b"HTTP/1.0 407 Proxy Authentication Required\r\nX: y"),
            Some(407)
        );
        for junk in [
            &b""[..],
            b"HTTP/1.1",
            b"HTTP/1.1 2000 x",
            b"SSH-2.0 200",
            b"HTTP/1.1 abc",
        ] {
            assert_eq!(status_code(junk), None);
        }
    }
}
