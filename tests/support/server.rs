//! The scripted HTTP/1.1 server of the behaviour tests, bound to 127.0.0.1 (plain TCP, or
//! TLS with a test certificate).
//!
//! Every test scripts exactly what the server answers ([`Reply`]) and afterwards
//! inspects every request the client sent ([`RecordedRequest`]).
//!
//! ```ignore
//! let server = ScriptedServer::start(vec![
//!     Reply::json(503, json!({"error": {"message": "busy"}})),
//!     Reply::json(200, chat_completion("hi")),
//! ]);
//! // point the client at server.url() ("http://127.0.0.1:PORT/v1") ...
//! assert_eq!(server.hits(), 2);
//! assert_eq!(server.requests()[1].json()["model"], "m");
//!
//! // Or compute each reply from its request:
//! let echo = ScriptedServer::handler(|req| Reply::json(200, chat_completion(&req.text())));
//! ```
//!
//! Behaviour:
//! - Replies are served one per request, in arrival order, from a shared queue; the
//!   reply is taken (and the request recorded) the moment a request is fully read.
//!   When the queue is empty the server asks its handler ([`ScriptedServer::handler`],
//!   [`ScriptedServer::always`]), called on the connection's thread, concurrently for
//!   concurrent connections; without one it answers 500 with
//!   `{"error":{"message":"scripted server: no reply left"}}` (also when the handler panics).
//! - HTTP/1.1 keep-alive: one connection serves any number of requests in sequence
//!   (Content-Length and chunked request bodies, `Expect: 100-continue`). The
//!   connection is closed after faulty replies, close-delimited bodies, HTTP/1.0
//!   requests without keep-alive, and when the client sends `Connection: close`
//!   (the reply then says `connection: close`).
//! - Counters: [`hits`](ScriptedServer::hits), [`connections`](ScriptedServer::connections)
//!   (accepted), [`open`](ScriptedServer::open) (still being served),
//!   [`held`](ScriptedServer::held) and [`closed_while_held`](ScriptedServer::closed_while_held)
//!   (replies that went silent or drip forever, and how many of those the client closed),
//!   [`handshakes`](ScriptedServer::handshakes) (finished TLS handshakes).
//! - Each connection runs on its own thread. Dropping the server stops the accept
//!   thread and every connection thread (they poll a stop flag every few ms, also
//!   while delaying or stalling) and joins them all. Client misbehaviour never panics.

use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often blocked server threads look at the stop flag.
const POLL: Duration = Duration::from_millis(10);
/// How long a closing connection keeps draining what the client still sends, so the
/// kernel sends FIN rather than RST and the client reads everything we wrote.
const LINGER: Duration = Duration::from_millis(200);
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024 * 1024;

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

/// Computes the reply to a request the queue has no reply for.
type Handler = Arc<dyn Fn(&RecordedRequest) -> Reply + Send + Sync>;

/// A running scripted server. Dropping it stops and joins all of its threads.
pub struct ScriptedServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    stop: AtomicBool,
    connections: AtomicUsize,
    open: AtomicUsize,
    held: AtomicUsize,
    closed_while_held: AtomicUsize,
    handshakes: AtomicUsize,
    handler: Option<Handler>,
    tls: Option<Arc<rustls::ServerConfig>>,
    state: Mutex<State>,
}

struct State {
    replies: VecDeque<Reply>,
    requests: Vec<RecordedRequest>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not make the server unusable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
    fn count(counter: &AtomicUsize) {
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

/// A server still to be started: [`ScriptedServer::builder`].
#[must_use]
pub struct ServerBuilder {
    replies: Vec<Reply>,
    handler: Option<Handler>,
    port: u16,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl ServerBuilder {
    /// Replies served first, one per request, in arrival order.
    pub fn replies(mut self, replies: Vec<Reply>) -> ServerBuilder {
        self.replies = replies;
        self
    }

    /// Once the queue is empty, answer each request with what `f` makes of it.
    pub fn handler(
        mut self,
        f: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    ) -> ServerBuilder {
        self.handler = Some(Arc::new(f));
        self
    }

    /// Once the queue is empty, answer every request with a clone of `reply`.
    pub fn always(self, reply: Reply) -> ServerBuilder {
        self.handler(move |_| reply.clone())
    }

    /// Listen on this port of 127.0.0.1 (default 0: any free port).
    pub fn port(mut self, port: u16) -> ServerBuilder {
        self.port = port;
        self
    }

    /// Speak TLS with this configuration ([`super::tls::Pki::server_config`]); the URLs
    /// become `https://`.
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> ServerBuilder {
        self.tls = Some(config);
        self
    }

    /// Bind and start accepting.
    pub fn start(self) -> ScriptedServer {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .unwrap_or_else(|e| panic!("scripted server: bind 127.0.0.1:{}: {e}", self.port));
        listener
            .set_nonblocking(true)
            .expect("scripted server: set_nonblocking");
        let addr = listener.local_addr().expect("scripted server: local_addr");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
            held: AtomicUsize::new(0),
            closed_while_held: AtomicUsize::new(0),
            handshakes: AtomicUsize::new(0),
            handler: self.handler,
            tls: self.tls,
            state: Mutex::new(State {
                replies: self.replies.into(),
                requests: Vec::new(),
            }),
        });
        let sh = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name(format!("scripted-accept-{}", addr.port()))
            .spawn(move || accept_loop(listener, sh))
            .expect("scripted server: spawn accept thread");
        ScriptedServer {
            addr,
            shared,
            accept: Some(accept),
        }
    }
}

impl ScriptedServer {
    /// A server to configure: replies, handler, port, TLS.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            replies: Vec::new(),
            handler: None,
            port: 0,
            tls: None,
        }
    }

    /// Start with a list of replies, served one per request in arrival order.
    pub fn start(replies: Vec<Reply>) -> ScriptedServer {
        Self::builder().replies(replies).start()
    }

    /// Start a server that answers every request with a clone of `reply`
    /// (for concurrency tests). Replies added with [`push`](Self::push) go first.
    pub fn always(reply: Reply) -> ScriptedServer {
        Self::builder().always(reply).start()
    }

    /// Start a server that answers every request with what `f` makes of it (an echo, a
    /// reply chosen by the request's content). Replies added with [`push`](Self::push) go
    /// first.
    pub fn handler(
        f: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    ) -> ScriptedServer {
        Self::builder().handler(f).start()
    }

    /// Base URL like `http://127.0.0.1:PORT/v1` (the client appends `/chat/completions`).
    pub fn url(&self) -> String {
        format!("{}/v1", self.root_url())
    }

    /// `http://127.0.0.1:PORT` (`https://` with TLS), without a path.
    pub fn root_url(&self) -> String {
        let scheme = if self.shared.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.state().requests.clone()
    }

    /// Number of requests received so far.
    pub fn hits(&self) -> usize {
        self.shared.state().requests.len()
    }

    /// Number of TCP connections accepted so far (to check connection reuse).
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Number of connections still being served (accepted and not yet closed).
    pub fn open(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// Number of replies that went silent ([`Reply::hold`], [`Reply::stall_after`]) or
    /// began to drip ([`Reply::drip_forever`]) so far.
    pub fn held(&self) -> usize {
        self.shared.held.load(Ordering::SeqCst)
    }

    /// How many of the [`held`](Self::held) replies ended because the client closed the
    /// connection (end of file, a reset or a failed write), not because the server stopped.
    pub fn closed_while_held(&self) -> usize {
        self.shared.closed_while_held.load(Ordering::SeqCst)
    }

    /// Number of TLS handshakes that finished (always 0 without TLS).
    pub fn handshakes(&self) -> usize {
        self.shared.handshakes.load(Ordering::SeqCst)
    }

    /// Append a reply to the queue.
    pub fn push(&self, reply: Reply) {
        self.shared.state().replies.push_back(reply);
    }

    /// Wait until at least `n` requests were received; false if `timeout` passed first.
    /// Blocks the thread: async tests use `support::modes::wait_until` instead.
    pub fn wait_for_hits(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.hits() >= n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stopping() {
        match listener.accept() {
            Ok((stream, _peer)) => {
                let id = shared.connections.fetch_add(1, Ordering::SeqCst);
                // Counted here, so `open()` includes a connection as soon as it is accepted;
                // the connection's `OpenGuard` takes it off again.
                Shared::count(&shared.open);
                let guard = OpenGuard(Arc::clone(&shared));
                let spawned = thread::Builder::new()
                    .name(format!("scripted-conn-{id}"))
                    .spawn(move || serve_connection(stream, id, guard));
                if let Ok(handle) = spawned {
                    workers.push(handle);
                }
                workers.retain(|w| !w.is_finished());
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(2));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => thread::sleep(POLL),
        }
    }
    for w in workers {
        let _ = w.join();
    }
}

// ---------------------------------------------------------------------------
// Recorded requests
// ---------------------------------------------------------------------------

/// One request as the server received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// Request target as sent, including `?query`.
    pub path: String,
    /// Header names lower-cased, values trimmed, in the order sent.
    pub headers: Vec<(String, String)>,
    /// Body bytes (chunked request bodies are decoded).
    pub body: Vec<u8>,
    /// Index of the TCP connection (0-based, in accept order) that carried it.
    pub connection: usize,
}

impl RecordedRequest {
    /// First value of a header, name matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON; panics (in the test thread) if it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "request body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as (lossy) UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The path without the query string.
    pub fn path_only(&self) -> &str {
        self.path
            .split_once('?')
            .map_or(self.path.as_str(), |(p, _)| p)
    }

    /// Query parameters in order, percent-decoded (`+` is a space).
    pub fn query(&self) -> Vec<(String, String)> {
        let Some((_, q)) = self.path.split_once('?') else {
            return Vec::new();
        };
        q.split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect()
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Length,
    Chunked,
    Close,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Fault {
    None,
    CloseBeforeHead,
    Raw,
    Hold,
    StallAfter(usize),
    ResetAfter(usize),
    TruncatedChunked,
}

/// A scripted answer, built with the constructors and modifiers below.
///
/// The body is a list of pieces, each `(bytes, delay before writing it)`. Each piece
/// is one write (one chunk when chunked) followed by a flush; empty pieces only wait.
#[derive(Clone, Debug)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    pieces: Vec<(Vec<u8>, Duration)>,
    framing: Framing,
    delay_head: Duration,
    gzip: bool,
    fault: Fault,
    drip: Option<(Vec<u8>, Duration)>,
}

impl Reply {
    fn new(status: u16, content_type: Option<&str>, body: Vec<u8>, framing: Framing) -> Reply {
        let headers = content_type
            .map(|ct| vec![("content-type".to_string(), ct.to_string())])
            .unwrap_or_default();
        Reply {
            status,
            headers,
            pieces: vec![(body, Duration::ZERO)],
            framing,
            delay_head: Duration::ZERO,
            gzip: false,
            fault: Fault::None,
            drip: None,
        }
    }

    /// `status` with a JSON body (`content-type: application/json`, Content-Length).
    pub fn json(status: u16, body: Value) -> Reply {
        Reply::new(
            status,
            Some("application/json"),
            body.to_string().into_bytes(),
            Framing::Length,
        )
    }

    /// `status` with any body and content type (HTML or plain-text errors, invalid JSON).
    pub fn text(status: u16, content_type: &str, body: &str) -> Reply {
        Reply::new(
            status,
            Some(content_type),
            body.as_bytes().to_vec(),
            Framing::Length,
        )
    }

    /// 200 `text/event-stream`, chunked; each event is sent as given, one chunk each.
    /// Accepts `&[&str]` and `&[String]` (e.g. `Reply::sse(&sse_chunks(&["a"]))`).
    pub fn sse<S: AsRef<str>>(events: &[S]) -> Reply {
        let mut r = Reply::new(200, Some("text/event-stream"), Vec::new(), Framing::Chunked);
        r.headers.push(("cache-control".into(), "no-cache".into()));
        r.pieces = events
            .iter()
            .map(|e| (e.as_ref().as_bytes().to_vec(), Duration::ZERO))
            .collect();
        r
    }

    /// A redirect (`status` 301/302/303/307/308) to `location`, empty body.
    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::new(status, None, Vec::new(), Framing::Length).header("location", location)
    }

    /// Read the request, then close the connection without answering anything.
    pub fn close_before_head() -> Reply {
        let mut r = Reply::new(500, None, Vec::new(), Framing::Length);
        r.fault = Fault::CloseBeforeHead;
        r
    }

    /// Read the request, then answer nothing and keep the connection open until the
    /// client closes it (counted in [`ScriptedServer::closed_while_held`]) or the server
    /// is dropped.
    pub fn hold() -> Reply {
        let mut r = Reply::new(500, None, Vec::new(), Framing::Length);
        r.fault = Fault::Hold;
        r
    }

    /// Read the request, write exactly these bytes (no framing added), then close.
    /// For malformed status lines, bad headers and the like. [`pieces`](Self::pieces)
    /// replaces the bytes by timed pieces (a head sent one byte at a time).
    pub fn raw(bytes: &[u8]) -> Reply {
        let mut r = Reply::new(200, None, bytes.to_vec(), Framing::Close);
        r.fault = Fault::Raw;
        r
    }

    /// Add a response header (a `content-type` header replaces the default one).
    /// A user `content-length` or `transfer-encoding` header switches off automatic
    /// framing: the pieces are then written raw, exactly as given.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        if name.eq_ignore_ascii_case("content-type") {
            self.headers
                .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        }
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Wait this long (after reading the request) before sending the status line.
    pub fn delay_head(mut self, d: Duration) -> Reply {
        self.delay_head = d;
        self
    }

    /// Replace the body by separate pieces, each written after its delay;
    /// switches to chunked encoding (unless `no_content_length` is used after this).
    pub fn pieces(mut self, pieces: Vec<(Vec<u8>, Duration)>) -> Reply {
        self.pieces = pieces;
        if self.framing == Framing::Length {
            self.framing = Framing::Chunked;
        }
        self
    }

    /// Set the delay before every body piece to `d` (a slow stream).
    pub fn piece_delay(mut self, d: Duration) -> Reply {
        for p in &mut self.pieces {
            p.1 = d;
        }
        self
    }

    /// Send the head and the first `n` body pieces, then go silent: the socket stays
    /// open with no more bytes until the client gives up or the server is dropped
    /// (counted in [`ScriptedServer::held`]).
    pub fn stall_after(mut self, n_pieces: usize) -> Reply {
        self.fault = Fault::StallAfter(n_pieces);
        self
    }

    /// After the pieces, send `piece` again every `every`, for ever: a stream that never
    /// ends, until the client closes it (a write fails; counted in
    /// [`ScriptedServer::closed_while_held`]) or the server is dropped. For chunked
    /// ([`sse`](Self::sse)) or close-delimited bodies; each piece is one chunk.
    pub fn drip_forever(mut self, piece: &str, every: Duration) -> Reply {
        self.drip = Some((piece.as_bytes().to_vec(), every));
        self
    }

    /// Send the head with a Content-Length larger than what is sent (the full body
    /// length, at least `after_bytes + 1`), then close (FIN) after `after_bytes` body bytes.
    pub fn reset_mid_body(mut self, after_bytes: usize) -> Reply {
        self.fault = Fault::ResetAfter(after_bytes);
        self.framing = Framing::Length;
        self
    }

    /// Chunked body that ends without the terminating 0-chunk: the connection closes.
    pub fn truncated_chunked(mut self) -> Reply {
        self.fault = Fault::TruncatedChunked;
        self.framing = Framing::Chunked;
        self
    }

    /// Body delimited by connection close (no Content-Length, no chunking).
    pub fn no_content_length(mut self) -> Reply {
        self.framing = Framing::Close;
        self
    }

    /// Gzip the body (`content-encoding: gzip`; flate2, compressed when served). Piece
    /// timing is kept: each piece is flushed (a deflate sync flush) into its own write.
    /// Content-Length framing counts the compressed bytes.
    pub fn gzip(mut self) -> Reply {
        self.gzip = true;
        self.headers
            .push(("content-encoding".into(), "gzip".into()));
        self
    }
}

fn no_reply_left() -> Reply {
    Reply::json(
        500,
        json!({"error": {"message": "scripted server: no reply left"}}),
    )
}

fn handler_panicked() -> Reply {
    Reply::json(
        500,
        json!({"error": {"message": "scripted server: the handler panicked"}}),
    )
}

/// Gzip `pieces` as one member, each piece's output flushed into its own piece (the last
/// one carries the trailer).
fn gzip_pieces(pieces: &[(Vec<u8>, Duration)]) -> Vec<(Vec<u8>, Duration)> {
    use flate2::write::GzEncoder;
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut ends = Vec::with_capacity(pieces.len());
    for (data, _) in pieces {
        if !data.is_empty() {
            gz.write_all(data).expect("gzip into memory");
            gz.flush().expect("gzip into memory");
        }
        ends.push(gz.get_ref().len());
    }
    let all = gz.finish().expect("gzip into memory");
    if pieces.is_empty() {
        return vec![(all, Duration::ZERO)];
    }
    let mut start = 0;
    pieces
        .iter()
        .zip(&ends)
        .enumerate()
        .map(|(i, ((_, delay), &end))| {
            let end = if i + 1 == pieces.len() {
                all.len()
            } else {
                end
            };
            let piece = all[start..end].to_vec();
            start = end;
            (piece, *delay)
        })
        .collect()
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

// ---------------------------------------------------------------------------
// Connection handling
// ---------------------------------------------------------------------------

/// The connection's byte stream: the TCP socket, or TLS over it.
enum Io {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Io {
    fn tcp(&self) -> &TcpStream {
        match self {
            Io::Plain(s) => s,
            Io::Tls(t) => &t.sock,
        }
    }
}

impl Read for Io {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Io::Plain(s) => s.read(buf),
            Io::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Io {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Io::Plain(s) => s.write(buf),
            Io::Tls(t) => t.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Io::Plain(s) => s.flush(),
            Io::Tls(t) => t.flush(),
        }
    }
}

struct Conn {
    stream: Io,
    buf: Vec<u8>,
    shared: Arc<Shared>,
    handshake_counted: bool,
}

/// Error used when the server is being dropped.
fn stopped() -> io::Error {
    io::Error::other("scripted server stopping")
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn is_retry(e: &io::Error) -> bool {
    is_timeout(e) || e.kind() == io::ErrorKind::Interrupted
}

impl Conn {
    /// Read more bytes into `buf`; Ok(0) on EOF. Err when the server stops.
    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 16 * 1024];
        loop {
            if self.shared.stopping() {
                return Err(stopped());
            }
            let read = self.stream.read(&mut tmp);
            self.note_handshake();
            match read {
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    return Ok(n);
                }
                Err(e) if is_retry(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Counts a TLS handshake once it has finished.
    fn note_handshake(&mut self) {
        if let Io::Tls(t) = &self.stream {
            if !self.handshake_counted && !t.conn.is_handshaking() {
                self.handshake_counted = true;
                Shared::count(&self.shared.handshakes);
            }
        }
    }

    /// Take one line (without CR LF); None on EOF.
    fn take_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(line));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            if self.fill()? == 0 {
                return Ok(None);
            }
        }
    }

    /// Take exactly `n` bytes; None on EOF.
    fn take_exact(&mut self, n: usize) -> io::Result<Option<Vec<u8>>> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Ok(None);
            }
        }
        Ok(Some(self.buf.drain(..n).collect()))
    }

    fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            if self.shared.stopping() {
                return Err(stopped());
            }
            match self.stream.write(data) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => data = &data[n..],
                Err(e) if is_retry(&e) => {}
                Err(e) => return Err(e),
            }
        }
        self.flush()
    }

    /// Flush (TLS: hand every record to the socket), retrying while the socket is full.
    fn flush(&mut self) -> io::Result<()> {
        loop {
            if self.shared.stopping() {
                return Err(stopped());
            }
            match self.stream.flush() {
                Err(e) if is_retry(&e) => {}
                other => return other,
            }
        }
    }

    /// Sleep, waking early (with Err) when the server stops.
    fn sleep(&self, d: Duration) -> io::Result<()> {
        let deadline = Instant::now() + d;
        loop {
            if self.shared.stopping() {
                return Err(stopped());
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(());
            }
            thread::sleep((deadline - now).min(POLL));
        }
    }

    /// Stay silent, discarding input, until the client closes or the server stops;
    /// counted in `held`, and in `closed_while_held` when the client closed.
    fn hold(&mut self) {
        Shared::count(&self.shared.held);
        loop {
            match self.fill() {
                Ok(0) => break,
                Ok(_) => self.buf.clear(),
                Err(_) if self.shared.stopping() => return,
                Err(_) => break, // reset by the client
            }
        }
        Shared::count(&self.shared.closed_while_held);
    }

    /// Send `piece` every `every` (one chunk each when `chunked`) until a write fails
    /// or the server stops; counted like [`hold`](Self::hold).
    fn drip(&mut self, piece: &[u8], every: Duration, chunked: bool) {
        Shared::count(&self.shared.held);
        let frame = if chunked {
            chunk_frame(piece)
        } else {
            piece.to_vec()
        };
        loop {
            if self.sleep(every).is_err() {
                return;
            }
            if self.write_all(&frame).is_err() {
                if !self.shared.stopping() {
                    Shared::count(&self.shared.closed_while_held);
                }
                return;
            }
        }
    }

    /// Close politely: TLS close_notify, FIN, then drain input briefly so the kernel does
    /// not send RST.
    fn close(mut self) {
        if let Io::Tls(t) = &mut self.stream {
            t.conn.send_close_notify();
            let _ = self.flush();
        }
        let tcp = self.stream.tcp();
        let _ = tcp.shutdown(Shutdown::Write);
        let deadline = Instant::now() + LINGER;
        let mut tmp = [0u8; 4096];
        let mut tcp = tcp;
        while Instant::now() < deadline && !self.shared.stopping() {
            match tcp.read(&mut tmp) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if is_retry(&e) => {}
                Err(_) => break,
            }
        }
    }
}

fn chunk_frame(data: &[u8]) -> Vec<u8> {
    let mut frame = format!("{:x}\r\n", data.len()).into_bytes();
    frame.extend_from_slice(data);
    frame.extend_from_slice(b"\r\n");
    frame
}

struct Parsed {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    client_close: bool,
}

enum Incoming {
    Request(Parsed),
    Closed,
    Bad(u16),
}

/// Decrements `open` when a connection thread ends, however it ends.
struct OpenGuard(Arc<Shared>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

fn serve_connection(stream: TcpStream, id: usize, open: OpenGuard) {
    let shared = Arc::clone(&open.0);
    let setup = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(POLL)))
        .and_then(|()| stream.set_write_timeout(Some(POLL * 5)))
        .and_then(|()| stream.set_nodelay(true));
    if setup.is_err() {
        return;
    }
    let stream = match &shared.tls {
        None => Io::Plain(stream),
        Some(config) => match rustls::ServerConnection::new(Arc::clone(config)) {
            Ok(tls) => Io::Tls(Box::new(rustls::StreamOwned::new(tls, stream))),
            Err(_) => return,
        },
    };
    let mut conn = Conn {
        stream,
        buf: Vec::new(),
        shared,
        handshake_counted: false,
    };
    loop {
        let req = match read_request(&mut conn) {
            Ok(Incoming::Request(req)) => req,
            Ok(Incoming::Bad(status)) => {
                let head = format!(
                    "HTTP/1.1 {status} {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    reason(status)
                );
                let _ = conn.write_all(head.as_bytes());
                break;
            }
            Ok(Incoming::Closed) | Err(_) => break,
        };
        let head_only = req.method.eq_ignore_ascii_case("HEAD");
        let client_close = req.client_close;
        let request = RecordedRequest {
            method: req.method,
            path: req.path,
            headers: req.headers,
            body: req.body,
            connection: id,
        };
        let queued = {
            let mut state = conn.shared.state();
            state.requests.push(request.clone());
            state.replies.pop_front()
        };
        let reply = match (queued, &conn.shared.handler) {
            (Some(reply), _) => reply,
            (None, Some(handler)) => catch_unwind(AssertUnwindSafe(|| handler(&request)))
                .unwrap_or_else(|_| handler_panicked()),
            (None, None) => no_reply_left(),
        };
        match respond(&mut conn, &reply, head_only, client_close) {
            Ok(true) => continue,
            Ok(false) | Err(_) => break,
        }
    }
    conn.close();
}

fn read_request(conn: &mut Conn) -> io::Result<Incoming> {
    // Request line, skipping stray empty lines between requests.
    let line = loop {
        match conn.take_line() {
            Ok(Some(l)) if l.is_empty() => continue,
            Ok(Some(l)) => break l,
            Ok(None) => return Ok(Incoming::Closed),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => return Ok(Incoming::Bad(431)),
            Err(e) => return Err(e),
        }
    };
    let line = String::from_utf8_lossy(&line).into_owned();
    let parts: Vec<&str> = line.split_whitespace().collect();
    let [method, path, version] = parts[..] else {
        return Ok(Incoming::Bad(400));
    };
    if !version.starts_with("HTTP/1.") {
        return Ok(Incoming::Bad(if version.starts_with("HTTP/") {
            505
        } else {
            400
        }));
    }
    let (method, path, version) = (method.to_string(), path.to_string(), version.to_string());

    let mut headers = Vec::new();
    let mut head_size = line.len();
    loop {
        let h = match conn.take_line() {
            Ok(Some(h)) => h,
            Ok(None) => return Ok(Incoming::Closed),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => return Ok(Incoming::Bad(431)),
            Err(e) => return Err(e),
        };
        if h.is_empty() {
            break;
        }
        head_size += h.len();
        if head_size > MAX_HEAD {
            return Ok(Incoming::Bad(431));
        }
        let h = String::from_utf8_lossy(&h).into_owned();
        let Some((name, value)) = h.split_once(':') else {
            return Ok(Incoming::Bad(400));
        };
        if name.is_empty() || name.trim() != name {
            return Ok(Incoming::Bad(400));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let get = |n: &'static str| header_values(&headers, n);
    let tokens = |n: &'static str| -> Vec<String> {
        get(n)
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_ascii_lowercase())
            .collect()
    };

    let connection = tokens("connection");
    let client_close = connection.iter().any(|t| t == "close")
        || (version == "HTTP/1.0" && !connection.iter().any(|t| t == "keep-alive"));
    let chunked = tokens("transfer-encoding")
        .last()
        .is_some_and(|t| t == "chunked");
    let length = if chunked {
        None
    } else {
        let lens: Vec<&str> = get("content-length").collect();
        match lens.first() {
            None => None,
            Some(first) => {
                let Ok(n) = first.parse::<usize>() else {
                    return Ok(Incoming::Bad(400));
                };
                if lens.iter().any(|l| *l != *first) {
                    return Ok(Incoming::Bad(400));
                }
                if n > MAX_BODY {
                    return Ok(Incoming::Bad(413));
                }
                Some(n)
            }
        }
    };
    let expects_continue = get("expect").any(|v| v.eq_ignore_ascii_case("100-continue"));
    if expects_continue && (chunked || length.unwrap_or(0) > 0) && conn.buf.is_empty() {
        conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }

    let body = if chunked {
        match read_chunked(conn)? {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(Incoming::Closed),
            Err(status) => return Ok(Incoming::Bad(status)),
        }
    } else {
        match conn.take_exact(length.unwrap_or(0))? {
            Some(b) => b,
            None => return Ok(Incoming::Closed),
        }
    };
    Ok(Incoming::Request(Parsed {
        method,
        path,
        headers,
        body,
        client_close,
    }))
}

fn header_values<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Decode a chunked request body: Ok(Ok(Some(body))), Ok(Ok(None)) on EOF,
/// Ok(Err(status)) when malformed.
fn read_chunked(conn: &mut Conn) -> io::Result<Result<Option<Vec<u8>>, u16>> {
    let mut body = Vec::new();
    loop {
        let line = match conn.take_line() {
            Ok(Some(l)) => l,
            Ok(None) => return Ok(Ok(None)),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => return Ok(Err(400)),
            Err(e) => return Err(e),
        };
        let line = String::from_utf8_lossy(&line).into_owned();
        let size = line.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size, 16) else {
            return Ok(Err(400));
        };
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                match conn.take_line() {
                    Ok(Some(l)) if l.is_empty() => return Ok(Ok(Some(body))),
                    Ok(Some(_)) => {}
                    Ok(None) => return Ok(Ok(None)),
                    Err(e) if e.kind() == io::ErrorKind::InvalidData => return Ok(Err(400)),
                    Err(e) => return Err(e),
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Ok(Err(413));
        }
        match conn.take_exact(size)? {
            Some(data) => body.extend_from_slice(&data),
            None => return Ok(Ok(None)),
        }
        match conn.take_line() {
            Ok(Some(l)) if l.is_empty() => {}
            Ok(Some(_)) => return Ok(Err(400)),
            Ok(None) => return Ok(Ok(None)),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => return Ok(Err(400)),
            Err(e) => return Err(e),
        }
    }
}

/// Write the reply; Ok(true) when the connection may serve another request.
fn respond(
    conn: &mut Conn,
    reply: &Reply,
    head_only: bool,
    client_close: bool,
) -> io::Result<bool> {
    conn.sleep(reply.delay_head)?;
    match &reply.fault {
        Fault::CloseBeforeHead => return Ok(false),
        Fault::Hold => {
            conn.hold();
            return Ok(false);
        }
        Fault::Raw => {
            for (data, delay) in &reply.pieces {
                conn.sleep(*delay)?;
                conn.write_all(data)?;
            }
            return Ok(false);
        }
        _ => {}
    }

    let pieces = if reply.gzip {
        gzip_pieces(&reply.pieces)
    } else {
        reply.pieces.clone()
    };
    let total: usize = pieces.iter().map(|p| p.0.len()).sum();
    let has = |n: &str| reply.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    let user_framing = has("content-length") || has("transfer-encoding");
    let user_close = reply.headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("connection") && v.to_ascii_lowercase().contains("close")
    });
    let bodiless_status = reply.status < 200 || reply.status == 204 || reply.status == 304;
    let no_body = head_only || bodiless_status;
    let framing = reply.framing;
    let keep_alive = !client_close
        && !user_close
        && reply.fault == Fault::None
        && reply.drip.is_none()
        && framing != Framing::Close;

    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !user_framing && !bodiless_status {
        match (framing, &reply.fault) {
            (Framing::Length, Fault::ResetAfter(n)) => {
                head.push_str(&format!("content-length: {}\r\n", total.max(n + 1)))
            }
            (Framing::Length, _) => head.push_str(&format!("content-length: {total}\r\n")),
            (Framing::Chunked, _) => head.push_str("transfer-encoding: chunked\r\n"),
            (Framing::Close, _) => {}
        }
    }
    if !keep_alive && !has("connection") {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    if no_body {
        return Ok(keep_alive);
    }

    let chunked = framing == Framing::Chunked && !user_framing;
    let mut budget = match reply.fault {
        Fault::ResetAfter(n) => n,
        _ => usize::MAX,
    };
    let send_n = match reply.fault {
        Fault::StallAfter(n) => n.min(pieces.len()),
        _ => pieces.len(),
    };
    for (data, delay) in &pieces[..send_n] {
        conn.sleep(*delay)?;
        let data = &data[..data.len().min(budget)];
        budget -= data.len();
        if !data.is_empty() {
            if chunked {
                conn.write_all(&chunk_frame(data))?;
            } else {
                conn.write_all(data)?;
            }
        }
        if budget == 0 {
            break;
        }
    }
    match (&reply.fault, &reply.drip) {
        (Fault::StallAfter(_), _) => {
            conn.hold();
            Ok(false)
        }
        (Fault::None, Some((piece, every))) => {
            conn.drip(piece, *every, chunked);
            Ok(false)
        }
        (Fault::None, None) if chunked => {
            conn.write_all(b"0\r\n\r\n")?;
            Ok(keep_alive)
        }
        _ => Ok(keep_alive),
    }
}
