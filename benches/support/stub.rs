//! A fast loopback OpenAI-compatible stub, for the throughput measurements only (std only):
//! [`spawn`] in-process (the roundtrip bench), or the `stub_server` binary.
//!
//! `POST …/chat/completions` answers, on a keep-alive HTTP/1.1 connection:
//! * without `"stream":true` in the body: one fixed completion (shaped like OpenAI's, about
//!   500 bytes, `Content-Length`);
//! * with it: a `text/event-stream` of N chunks and `data: [DONE]`, chunked transfer encoding,
//!   one HTTP chunk per event as real servers send them (written in 64 KiB batches so the
//!   stub is not what limits a client). N comes from a `/chunks/N/` path segment (so a base URL
//!   `http://ADDR/chunks/100000/v1` picks the stream length without touching the client), or
//!   else the body's `max_tokens`, or else 1000.
//!
//! One thread per connection; responses up to 10k chunks are rendered once per N and cached,
//! longer ones while they are written. [`accepted`] counts the connections accepted in this
//! process (the measure of connection reuse); [`serve_tls`] speaks TLS (feature `tls-stub`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

static ACCEPTED: AtomicUsize = AtomicUsize::new(0);

/// How many connections the stubs of this process accepted so far.
pub fn accepted() -> usize {
    ACCEPTED.load(Ordering::SeqCst)
}

/// The fixed plain answer: what OpenAI sends today, unknown fields included.
pub const COMPLETION: &str = r#"{"id":"chatcmpl-BQ7stubstubstubstubstubstub","object":"chat.completion","created":1745000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Seventeen is a prime number: its only divisors are one and itself.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":24,"completion_tokens":15,"total_tokens":39,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_stub0000"}"#;

/// Stream length when the request does not say.
pub const DEFAULT_CHUNKS: usize = 1000;

const ID: &str = "chatcmpl-BQ7stubstubstubstubstubstub";

/// The data of chunk `i` of `n` (0-based): the role first, a word each, the finish last.
/// Shaped like OpenAI's chunks of today (`service_tier`, `system_fingerprint`, `logprobs`,
/// `obfuscation`).
pub fn chunk_json(i: usize, n: usize) -> String {
    let delta = if i == 0 {
        r#"{"role":"assistant","content":"","refusal":null}"#.to_owned()
    } else if i + 1 == n {
        "{}".to_owned()
    } else {
        format!(r#"{{"content":" word{i}"}}"#)
    };
    let finish = if i + 1 == n && i != 0 {
        r#""stop""#
    } else {
        "null"
    };
    format!(
        r#"{{"id":"{ID}","object":"chat.completion.chunk","created":1745000000,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_stub0000","choices":[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}],"obfuscation":"Qx3T"}}"#
    )
}

/// The SSE body of an `n`-chunk stream, without transfer framing.
pub fn sse_body(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(chunk_json(i, n).as_bytes());
        out.extend_from_slice(b"\n\n");
    }
    out.extend_from_slice(b"data: [DONE]\n\n");
    out
}

/// Longer streams are rendered while they are sent, so the stub stays small.
const CACHED_UP_TO: usize = 10_000;

const STREAM_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";

/// Appends one event as one HTTP chunk.
fn frame(out: &mut Vec<u8>, event: &[u8]) {
    out.extend_from_slice(format!("{:x}\r\n", event.len()).as_bytes());
    out.extend_from_slice(event);
    out.extend_from_slice(b"\r\n");
}

/// The whole HTTP response for an `n`-chunk stream: head, one HTTP chunk per event.
fn stream_response(n: usize) -> Vec<u8> {
    let mut out = STREAM_HEAD.to_vec();
    for i in 0..n {
        frame(
            &mut out,
            format!("data: {}\n\n", chunk_json(i, n)).as_bytes(),
        );
    }
    frame(&mut out, b"data: [DONE]\n\n");
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// [`stream_response`] written in 64 KiB batches as it is rendered.
fn write_stream(w: &mut impl Write, n: usize) -> std::io::Result<()> {
    let mut out = STREAM_HEAD.to_vec();
    for i in 0..n {
        frame(
            &mut out,
            format!("data: {}\n\n", chunk_json(i, n)).as_bytes(),
        );
        if out.len() >= 64 * 1024 {
            w.write_all(&out)?;
            out.clear();
        }
    }
    frame(&mut out, b"data: [DONE]\n\n");
    out.extend_from_slice(b"0\r\n\r\n");
    w.write_all(&out)
}

fn plain_response() -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: req_stub\r\ncontent-length: {}\r\n\r\n{COMPLETION}",
        COMPLETION.len()
    )
    .into_bytes()
}

type Cache = Arc<Mutex<HashMap<usize, Arc<Vec<u8>>>>>;

/// Binds `addr` and serves in background threads; returns the base URL (`http://…/v1`).
pub fn spawn(addr: &str) -> std::io::Result<String> {
    let listener = TcpListener::bind(addr)?;
    let url = format!("http://{}/v1", listener.local_addr()?);
    std::thread::spawn(move || serve(listener));
    Ok(url)
}

/// Accepts connections forever.
pub fn serve(listener: TcpListener) {
    let cache: Cache = Arc::default();
    let plain = Arc::new(plain_response());
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        ACCEPTED.fetch_add(1, Ordering::SeqCst);
        let cache = Arc::clone(&cache);
        let plain = Arc::clone(&plain);
        std::thread::spawn(move || {
            if conn.set_nodelay(true).is_ok() {
                let _ = handle(conn, &cache, &plain);
            }
        });
    }
}

/// [`spawn`] over TLS with `config`: returns the base URL (`https://…/v1`).
#[cfg(feature = "tls-stub")]
pub fn spawn_tls(addr: &str, config: Arc<rustls::ServerConfig>) -> std::io::Result<String> {
    let listener = TcpListener::bind(addr)?;
    let url = format!("https://{}/v1", listener.local_addr()?);
    std::thread::spawn(move || serve_tls(listener, config));
    Ok(url)
}

/// [`serve`] over TLS.
#[cfg(feature = "tls-stub")]
pub fn serve_tls(listener: TcpListener, config: Arc<rustls::ServerConfig>) {
    let cache: Cache = Arc::default();
    let plain = Arc::new(plain_response());
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        ACCEPTED.fetch_add(1, Ordering::SeqCst);
        let (cache, plain, config) = (Arc::clone(&cache), Arc::clone(&plain), config.clone());
        std::thread::spawn(move || {
            let Ok(tls) = rustls::ServerConnection::new(config) else {
                return;
            };
            if conn.set_nodelay(true).is_ok() {
                let _ = handle(rustls::StreamOwned::new(tls, conn), &cache, &plain);
            }
        });
    }
}

fn handle<S: Read + Write>(conn: S, cache: &Cache, plain: &[u8]) -> std::io::Result<()> {
    // Writes go straight to the stream under the reader (`BufReader` buffers reads only).
    let mut reader = BufReader::with_capacity(64 * 1024, conn);
    let mut line = String::new();
    let mut body = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let path_chunks = chunks_in_path(&line);
        let mut length = 0usize;
        let mut close = false;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("connection") {
                    close = value.eq_ignore_ascii_case("close");
                }
            }
        }
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
        if is_stream(&body) {
            let n = path_chunks
                .or_else(|| max_tokens(&body))
                .unwrap_or(DEFAULT_CHUNKS);
            let writer = reader.get_mut();
            if n <= CACHED_UP_TO {
                for piece in cached(cache, n).chunks(64 * 1024) {
                    writer.write_all(piece)?;
                }
            } else {
                write_stream(writer, n)?;
            }
            writer.flush()?;
        } else {
            let writer = reader.get_mut();
            writer.write_all(plain)?;
            writer.flush()?;
        }
        if close {
            return Ok(());
        }
    }
}

fn cached(cache: &Cache, n: usize) -> Arc<Vec<u8>> {
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    Arc::clone(map.entry(n).or_insert_with(|| Arc::new(stream_response(n))))
}

/// `POST /chunks/N/v1/chat/completions HTTP/1.1` → `Some(N)`.
fn chunks_in_path(request_line: &str) -> Option<usize> {
    let path = request_line.split(' ').nth(1)?;
    let rest = path.split("/chunks/").nth(1)?;
    rest.split('/').next()?.parse().ok()
}

fn is_stream(body: &[u8]) -> bool {
    find(body, b"\"stream\":true").is_some() || find(body, b"\"stream\": true").is_some()
}

fn max_tokens(body: &[u8]) -> Option<usize> {
    let at = find(body, b"\"max_tokens\":")? + b"\"max_tokens\":".len();
    let digits: String = body[at..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit())
        .map(|&b| b as char)
        .collect();
    digits.parse().ok()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
