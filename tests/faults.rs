//! Faults and hostile input against the scripted loopback server, in both builds
//! (`cargo test` and `cargo test --features async`).
//!
//! Every case asserts the typed error the caller gets and then that the *same* model still
//! answers the next request (nothing poisoned: pool, decoder, retry state). The faulty
//! request runs with `max_retries(0)` so the error is the fault's own, not a retry's.
//!
//! Decisions recorded here:
//! - **Trickle.** A server that sends one byte per write. For a plain request the timeout
//!   bounds the whole exchange, so a trickle fails with `Timeout { phase: Total }` about one
//!   timeout after the request, however lively the bytes are. For a stream the timeout bounds
//!   each silence: a trickle whose gaps stay under the timeout is a slow but healthy stream
//!   and is never cut; one whose gap exceeds it (one byte a second against a 300 ms timeout)
//!   fails with `Timeout { phase: StreamIdle }`.
//! - **Invalid UTF-8 in content.** A plain JSON answer with invalid UTF-8 is not JSON (RFC
//!   8259 requires UTF-8), so it is an `Error::Decode`, not retried. Inside a stream the SSE
//!   rules apply (decode with replacement): the bad bytes become U+FFFD and the rest of the
//!   answer survives. Neither panics.
//! - **Size.** `max_response_bytes` (default 32 MiB) caps a plain body and each stream event
//!   with `Error::BodyTooLarge`; a long stream of normal events is not capped as a whole.
//! - **Redirects** are never followed (a redirected POST would lose its body, and the
//!   `Authorization` header must not travel to another host): the 3xx comes back as an
//!   `Error::Api` whose message names the refused location.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use openai_compatible::defaults::MAX_RESPONSE_BYTES as DEFAULT_MAX_RESPONSE_BYTES;
use openai_compatible::{ChatMessage, Error, OpenAICompatibleModel, TimeoutPhase};
use serde_json::json;
use support::modes::{collect, next};
use support::{chat_completion, sse_chunks, Reply, ScriptedServer};

const KEY: &str = "sk-faults-secret-0123456789";

fn model_at(url: &str, timeout: Duration, retries: u32) -> OpenAICompatibleModel {
    OpenAICompatibleModel::builder("m")
        .url(url)
        .api_key(KEY)
        .timeout(timeout)
        .max_retries(retries)
        .build()
        .unwrap()
}

fn model(server: &ScriptedServer, timeout: Duration) -> OpenAICompatibleModel {
    model_at(&server.url(), timeout, 0)
}

fn hi() -> Vec<ChatMessage> {
    vec![ChatMessage::user("hi")]
}

fn ok() -> Reply {
    Reply::json(200, chat_completion("recovered"))
}

/// The model answers a plain request and a stream correctly after a fault. The server must
/// have two good replies queued (`ok()` then `ok_stream()`).
#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
async fn still_works(m: &OpenAICompatibleModel) {
    let c = m.complete(&hi()).await;
    let c = c.unwrap_or_else(|e| panic!("the request after the fault failed: {e:?}"));
    assert_eq!(c.content(), Some("recovered"));
    let s = m.stream(&hi()).await.expect("the stream after the fault");
    let c = s.accumulate().await.expect("the stream after the fault");
    assert_eq!(c.content(), Some("recovered stream"));
}

fn ok_stream() -> Reply {
    Reply::sse(&sse_chunks(&["recovered", " stream"]))
}

/// A plain completion's JSON whose content is `content`, as raw bytes.
fn completion_bytes(content: &[u8]) -> Vec<u8> {
    let mut body = br#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":""#.to_vec();
    body.extend_from_slice(content);
    body.extend_from_slice(br#""}}]}"#);
    body
}

/// A full HTTP/1.1 response with exactly these body bytes (invalid UTF-8 included).
fn raw_response(content_type: &str, body: &[u8], length: bool) -> Reply {
    let mut out = format!("HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\n").into_bytes();
    if length {
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"connection: close\r\n\r\n");
    out.extend_from_slice(body);
    Reply::raw(&out)
}

/// One byte per piece, `gap` before each.
fn trickle(body: &[u8], gap: Duration) -> Vec<(Vec<u8>, Duration)> {
    body.iter().map(|b| (vec![*b], gap)).collect()
}

/// Records what a fault returned (`cargo test --test faults -- --nocapture` lists them).
fn seen(case: &str, err: &Error) {
    eprintln!("fault [{case}] -> {err:?} / {err}");
}

fn within(t: Instant, lo: Duration, hi: Duration) {
    let took = t.elapsed();
    assert!(
        took >= lo && took < hi,
        "took {took:?}, expected {lo:?}..{hi:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Connection faults
// ---------------------------------------------------------------------------------------

/// Answers one request on `listener` with a completion, then one stream, then closes.
fn serve_two_on(listener: TcpListener) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let replies = [
            {
                let body = chat_completion("recovered").to_string();
                format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
            },
            {
                let body: String = sse_chunks(&["recovered", " stream"]).concat();
                format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
            },
        ];
        for reply in replies {
            let (mut conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            // Head, then Content-Length bytes of body.
            loop {
                let n = conn.read(&mut buf).unwrap();
                assert!(n > 0, "client closed early");
                req.extend_from_slice(&buf[..n]);
                if let Some(end) = req.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&req[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    while req.len() < end + 4 + len {
                        let n = conn.read(&mut buf).unwrap();
                        assert!(n > 0, "client closed early");
                        req.extend_from_slice(&buf[..n]);
                    }
                    break;
                }
            }
            conn.write_all(reply.as_bytes()).unwrap();
            let _ = conn.shutdown(std::net::Shutdown::Write);
            let _ = conn.read(&mut buf);
        }
    })
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn connection_refused() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let m = model_at(
        &format!("http://127.0.0.1:{port}/v1"),
        Duration::from_secs(2),
        0,
    );
    let t = Instant::now();
    let err = m.complete(&hi()).await.unwrap_err();
    seen("connection_refused (plain #1)", &err);
    assert!(matches!(err, Error::Connection(_)), "{err:?}");
    assert!(err.is_transient());
    within(t, Duration::ZERO, Duration::from_secs(2));
    let err = m.stream(&hi()).await.unwrap_err();
    seen("connection_refused (stream open #2)", &err);
    assert!(matches!(err, Error::Connection(_)), "{err:?}");

    // The server comes up on that port: the same model connects.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let server = serve_two_on(listener);
    still_works(&m).await;
    server.join().unwrap();
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn reset_before_headers() {
    let server = ScriptedServer::start(vec![
        Reply::close_before_head(),
        Reply::close_before_head(),
        ok(),
        ok_stream(),
    ]);
    let m = model(&server, Duration::from_secs(5));
    let err = m.complete(&hi()).await.unwrap_err();
    seen("reset_before_headers (plain #1)", &err);
    assert!(matches!(err, Error::Connection(_)), "{err:?}");
    let err = m.stream(&hi()).await.unwrap_err();
    seen("reset_before_headers (stream open #2)", &err);
    assert!(matches!(err, Error::Connection(_)), "{err:?}");
    still_works(&m).await;
    assert_eq!(server.hits(), 4);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn reset_mid_body() {
    let events = sse_chunks(&["one", "two", "three"]);
    let first_two = events[0].len() + events[1].len();
    let server = ScriptedServer::start(vec![
        Reply::json(200, chat_completion("cut short")).reset_mid_body(40),
        // The whole stream as one Content-Length body, closed after two events.
        Reply::text(200, "text/event-stream", &events.concat()).reset_mid_body(first_two),
        ok(),
        ok_stream(),
    ]);
    let m = model(&server, Duration::from_secs(5));
    let err = m.complete(&hi()).await.unwrap_err();
    seen("reset_mid_body (plain #1)", &err);
    assert!(matches!(err, Error::Connection(_)), "{err:?}");
    assert!(err.is_transient());

    let items = collect(m.stream(&hi()).await.unwrap()).await;
    for e in items.iter().filter_map(|i| i.as_ref().err()) {
        seen("reset_mid_body (stream item #2)", e);
    }
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(items[..2].iter().all(Result::is_ok), "{items:?}");
    assert!(matches!(&items[2], Err(Error::Connection(_))), "{items:?}");
    still_works(&m).await;
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn garbage_instead_of_http() {
    let server = ScriptedServer::start(vec![
        Reply::raw(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
        Reply::raw(b"HTTP/1.1 200 OK\r\ncontent-length: nope\r\n\r\n{}"),
        ok(),
        ok_stream(),
    ]);
    let m = model(&server, Duration::from_secs(5));
    for _ in 0..2 {
        let err = m.complete(&hi()).await.unwrap_err();
        seen("garbage_instead_of_http (plain #1)", &err);
        assert!(matches!(err, Error::Connection(_)), "{err:?}");
    }
    still_works(&m).await;
}

// ---------------------------------------------------------------------------------------
// Broken bodies
// ---------------------------------------------------------------------------------------

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn truncated_json_is_a_decode_error_and_not_retried() {
    let server = ScriptedServer::start(vec![
        Reply::text(
            200,
            "application/json",
            r#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"par"#,
        ),
        Reply::text(200, "application/json", ""),
        ok(),
        ok_stream(),
    ]);
    // Retries allowed: a complete 200 with a broken body is not a transient failure.
    let m = model_at(&server.url(), Duration::from_secs(5), 2);
    let err = m.complete(&hi()).await.unwrap_err();
    seen(
        "truncated_json_is_a_decode_error_and_not_retried (plain #1)",
        &err,
    );
    match &err {
        Error::Decode { message, snippet } => {
            assert!(message.contains("not a chat completion"), "{message}");
            assert!(snippet.starts_with(r#"{"id":"x""#), "{snippet}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_transient());
    assert_eq!(server.hits(), 1);
    let err = m.complete(&hi()).await.unwrap_err();
    seen(
        "truncated_json_is_a_decode_error_and_not_retried (plain #2)",
        &err,
    );
    assert!(matches!(err, Error::Decode { .. }), "empty body: {err:?}");
    assert_eq!(server.hits(), 2);
    still_works(&m).await;
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn truncated_chunked_encoding() {
    let body = chat_completion("chunky").to_string().into_bytes();
    let (a, b) = body.split_at(body.len() / 2);
    let mut events = sse_chunks(&["one", "two", "three"]);
    events.truncate(3); // no finish chunk, no [DONE]: the framing breaks mid-answer
    let server = ScriptedServer::start(vec![
        Reply::json(200, json!({}))
            .pieces(vec![
                (a.to_vec(), Duration::ZERO),
                (b.to_vec(), Duration::ZERO),
            ])
            .truncated_chunked(),
        Reply::sse(&events).truncated_chunked(),
        ok(),
        ok_stream(),
    ]);
    let m = model(&server, Duration::from_secs(5));
    let err = m.complete(&hi()).await.unwrap_err();
    seen("truncated_chunked_encoding (plain #1)", &err);
    assert!(matches!(err, Error::Connection(_)), "{err:?}");

    let items = collect(m.stream(&hi()).await.unwrap()).await;
    for e in items.iter().filter_map(|i| i.as_ref().err()) {
        seen("truncated_chunked_encoding (stream item #2)", e);
    }
    assert_eq!(items.len(), 4, "{items:?}");
    assert!(items[..3].iter().all(Result::is_ok), "{items:?}");
    assert!(
        matches!(
            &items[3],
            Err(Error::Connection(_) | Error::IncompleteStream(_))
        ),
        "{items:?}"
    );
    still_works(&m).await;
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn invalid_utf8_in_content() {
    let plain = completion_bytes(b"caf\xc3 au lait \xff\xfe");
    let mut sse = Vec::new();
    for piece in [&b"ca"[..], b"f\xe9 ", b"\xf0\x9f\x98"] {
        sse.extend_from_slice(br#"data: {"choices":[{"index":0,"delta":{"content":""#);
        sse.extend_from_slice(piece);
        sse.extend_from_slice(b"\"}}]}\n\n");
    }
    sse.extend_from_slice(
        b"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
    );
    let server = ScriptedServer::start(vec![
        raw_response("application/json", &plain, true),
        raw_response("text/event-stream", &sse, false),
        ok(),
        ok_stream(),
    ]);
    let m = model_at(&server.url(), Duration::from_secs(5), 2);
    let err = m.complete(&hi()).await.unwrap_err();
    seen("invalid_utf8_in_content (plain #1)", &err);
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert_eq!(server.hits(), 1, "a decode error is not retried");

    let c = m.stream(&hi()).await.unwrap().accumulate().await.unwrap();
    assert_eq!(c.content(), Some("caf\u{fffd} \u{fffd}"));
    still_works(&m).await;
}

// ---------------------------------------------------------------------------------------
// Slow servers
// ---------------------------------------------------------------------------------------

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_trickling_plain_answer_fails_after_the_timeout() {
    let body = chat_completion("slow").to_string().into_bytes();
    let server = ScriptedServer::start(vec![
        Reply::json(200, json!({})).pieces(trickle(&body, Duration::from_millis(100))),
        ok(),
        ok_stream(),
    ]);
    let m = model(&server, Duration::from_secs(1));
    let t = Instant::now();
    let err = m.complete(&hi()).await.unwrap_err();
    seen(
        "a_trickling_plain_answer_fails_after_the_timeout (plain #1)",
        &err,
    );
    assert!(
        matches!(err, Error::Timeout { phase: TimeoutPhase::Total, after, .. } if after == Duration::from_secs(1)),
        "{err:?}"
    );
    within(t, Duration::from_millis(900), Duration::from_millis(2500));
    still_works(&m).await;
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_trickling_stream_lives_while_bytes_come_faster_than_the_timeout() {
    let body = sse_chunks(&["drip"]).concat().into_bytes();
    // ~4 ms a byte, ~2 s in all, against a 400 ms timeout: never a 400 ms silence.
    let gap = Duration::from_millis(2000 / body.len() as u64);
    let server = ScriptedServer::start(vec![
        Reply::sse(&[""]).pieces(trickle(&body, gap)),
        ok(),
        ok_stream(),
    ]);
    let m = model(&server, Duration::from_millis(400));
    let t = Instant::now();
    let c = m.stream(&hi()).await.unwrap().accumulate().await;
    let c = c.unwrap_or_else(|e| panic!("a lively trickle was cut: {e:?}"));
    assert_eq!(c.content(), Some("drip"));
    within(t, Duration::from_millis(1500), Duration::from_secs(10));
    still_works(&m).await;
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_stream_trickling_slower_than_the_timeout_fails() {
    let body = sse_chunks(&["drip"]).concat().into_bytes();
    let server = ScriptedServer::start(vec![
        Reply::sse(&[""]).pieces(trickle(&body, Duration::from_secs(1))),
        ok(),
        ok_stream(),
    ]);
    let m = model(&server, Duration::from_millis(300));
    let mut s = m.stream(&hi()).await.unwrap();
    let t = Instant::now();
    let first = next(&mut s).await;
    match first {
        Some(Err(Error::Timeout {
            phase: TimeoutPhase::StreamIdle,
            after,
            ..
        })) => assert_eq!(after, Duration::from_millis(300)),
        other => panic!("{other:?}"),
    }
    within(t, Duration::from_millis(250), Duration::from_millis(1500));
    let after = next(&mut s).await;
    assert!(after.is_none());
    drop(s);
    still_works(&m).await;
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn stalled_answers_time_out() {
    let body = chat_completion("stall").to_string().into_bytes();
    let (a, b) = body.split_at(10);
    let server = ScriptedServer::start(vec![
        // Head and 10 bytes of a plain answer, then silence.
        Reply::json(200, json!({}))
            .pieces(vec![
                (a.to_vec(), Duration::ZERO),
                (b.to_vec(), Duration::ZERO),
            ])
            .stall_after(1),
        // Head only: silence before the first event.
        Reply::sse(&sse_chunks(&["never"])).stall_after(0),
        // Two events, then silence.
        Reply::sse(&sse_chunks(&["one", "two"])).stall_after(2),
        ok(),
        ok_stream(),
    ]);
    let m = model(&server, Duration::from_millis(400));
    let t = Instant::now();
    let err = m.complete(&hi()).await.unwrap_err();
    seen("stalled_answers_time_out (plain #1)", &err);
    assert!(
        matches!(
            err,
            Error::Timeout {
                phase: TimeoutPhase::Total,
                ..
            }
        ),
        "{err:?}"
    );
    within(t, Duration::from_millis(350), Duration::from_millis(2000));

    let items = collect(m.stream(&hi()).await.unwrap()).await;
    for e in items.iter().filter_map(|i| i.as_ref().err()) {
        seen("stalled_answers_time_out (stream item #2)", e);
    }
    assert!(
        matches!(
            items.as_slice(),
            [Err(Error::Timeout {
                phase: TimeoutPhase::StreamIdle,
                ..
            })]
        ),
        "{items:?}"
    );
    let items = collect(m.stream(&hi()).await.unwrap()).await;
    for e in items.iter().filter_map(|i| i.as_ref().err()) {
        seen("stalled_answers_time_out (stream item #3)", e);
    }
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(matches!(
        &items[2],
        Err(Error::Timeout {
            phase: TimeoutPhase::StreamIdle,
            ..
        })
    ));
    still_works(&m).await;
}

// ---------------------------------------------------------------------------------------
// Size
// ---------------------------------------------------------------------------------------

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_50_mb_body_hits_the_size_limit() {
    let big = "x".repeat(50 * 1024 * 1024);
    let plain = chat_completion(&big).to_string();
    let sse = format!(
        "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{big}\"}}}}]}}\n\ndata: [DONE]\n\n"
    );
    drop(big);
    let server = ScriptedServer::start(vec![
        Reply::text(200, "application/json", &plain),
        Reply::text(200, "application/json", &plain).no_content_length(),
        Reply::text(200, "text/event-stream", &sse).no_content_length(),
        ok(),
        ok_stream(),
    ]);
    drop((plain, sse));
    let m = model(&server, Duration::from_secs(20));
    let t = Instant::now();
    for framing in ["content-length", "close-delimited"] {
        let err = m.complete(&hi()).await.unwrap_err();
        seen("a_50_mb_body_hits_the_size_limit (plain #1)", &err);
        assert!(
            matches!(err, Error::BodyTooLarge { limit } if limit == DEFAULT_MAX_RESPONSE_BYTES),
            "{framing}: {err:?}"
        );
        assert!(err.to_string().contains("33554432"), "{err}");
    }
    // A stream caps each event, not the stream: one 50 MB event is refused.
    let items = collect(m.stream(&hi()).await.unwrap()).await;
    for e in items.iter().filter_map(|i| i.as_ref().err()) {
        seen("a_50_mb_body_hits_the_size_limit (stream item #2)", e);
    }
    assert!(
        matches!(items.as_slice(), [Err(Error::BodyTooLarge { limit })] if *limit == DEFAULT_MAX_RESPONSE_BYTES),
        "{:?}",
        items.iter().map(|i| i.as_ref().err()).collect::<Vec<_>>()
    );
    within(t, Duration::ZERO, Duration::from_secs(20));
    still_works(&m).await;
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_configured_size_limit() {
    let server = ScriptedServer::start(vec![
        Reply::json(200, chat_completion(&"y".repeat(2000))),
        Reply::json(200, chat_completion(&"y".repeat(2000))).gzip(),
        Reply::json(200, chat_completion("small")),
        ok(),
        ok_stream(),
    ]);
    let m = OpenAICompatibleModel::builder("m")
        .url(server.url())
        .api_key(KEY)
        .max_retries(0)
        .max_response_bytes(1000)
        .build()
        .unwrap();
    for encoding in ["identity", "gzip"] {
        let err = m.complete(&hi()).await.unwrap_err();
        seen("a_configured_size_limit (plain #1)", &err);
        assert!(
            matches!(err, Error::BodyTooLarge { limit: 1000 }),
            "{encoding}: {err:?}"
        );
        assert!(!err.is_transient());
    }
    let c = m.complete(&hi()).await.unwrap();
    assert_eq!(c.content(), Some("small"));
    still_works(&m).await;
    assert_eq!(server.hits(), 5, "a too-large body is not retried");
}

// ---------------------------------------------------------------------------------------
// Encodings and redirects
// ---------------------------------------------------------------------------------------

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn gzip_encoded_answers() {
    let server = ScriptedServer::start(vec![
        Reply::json(200, chat_completion("zipped")).gzip(),
        Reply::sse(&sse_chunks(&["zipped", " stream"]))
            .piece_delay(Duration::from_millis(5))
            .gzip(),
        ok(),
        ok_stream(),
    ]);
    let m = model(&server, Duration::from_secs(5));
    let c = m.complete(&hi()).await.unwrap();
    assert_eq!(c.content(), Some("zipped"));
    let c = m.stream(&hi()).await.unwrap().accumulate().await.unwrap();
    assert_eq!(c.content(), Some("zipped stream"));
    for req in server.requests() {
        let accept = req.header("accept-encoding").unwrap_or_default();
        assert!(
            accept.contains("gzip"),
            "the client offers gzip: {accept:?}"
        );
    }
    still_works(&m).await;
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_redirect_to_another_host_is_refused() {
    let elsewhere = ScriptedServer::always(Reply::json(200, chat_completion("stolen")));
    let target = format!("{}/chat/completions", elsewhere.url());
    let mut replies: Vec<Reply> = [301, 302, 303, 307, 308]
        .iter()
        .map(|&s| Reply::redirect(s, &target))
        .collect();
    replies.push(Reply::redirect(307, &target)); // for the stream
    replies.extend([ok(), ok_stream()]);
    let server = ScriptedServer::start(replies);
    let m = model_at(&server.url(), Duration::from_secs(5), 3);
    for status in [301u16, 302, 303, 307, 308] {
        let err = m.complete(&hi()).await.unwrap_err();
        seen("a_redirect_to_another_host_is_refused (plain #1)", &err);
        assert_eq!(err.status(), Some(status), "{err:?}");
        let shown = err.to_string();
        assert!(
            shown.contains("redirect") && shown.contains(&target),
            "the error names the refused redirect: {shown}"
        );
        assert!(!err.is_transient());
    }
    let err = m.stream(&hi()).await.unwrap_err();
    seen(
        "a_redirect_to_another_host_is_refused (stream open #2)",
        &err,
    );
    assert_eq!(err.status(), Some(307), "{err:?}");
    assert_eq!(
        elsewhere.hits(),
        0,
        "nothing (no key) went to the other host"
    );
    assert_eq!(server.hits(), 6, "a redirect is not retried");
    still_works(&m).await;
    assert_eq!(elsewhere.hits(), 0);
}

/// A real gzip bomb: ~50 KB on the wire that inflates to 50 MB. The limit applies to the
/// decoded size, so it fails like an honest 50 MB body, quickly and without holding 50 MB.
fn gzip_reply(content_type: &str, text: &[u8]) -> Reply {
    use flate2::write::GzEncoder;
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text).unwrap();
    let body = gz.finish().unwrap();
    let mut out = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    Reply::raw(&out)
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_gzip_bomb_hits_the_size_limit() {
    let zeros = "0".repeat(50 * 1024 * 1024);
    let plain = chat_completion(&zeros).to_string();
    let sse = format!(
        "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{zeros}\"}}}}]}}\n\n"
    );
    drop(zeros);
    let bomb = gzip_reply("application/json", plain.as_bytes());
    let stream_bomb = gzip_reply("text/event-stream", sse.as_bytes());
    drop((plain, sse));
    let server = ScriptedServer::start(vec![bomb, stream_bomb, ok(), ok_stream()]);
    let m = model(&server, Duration::from_secs(20));
    let t = Instant::now();
    let err = m.complete(&hi()).await.unwrap_err();
    seen("a_gzip_bomb_hits_the_size_limit (plain)", &err);
    assert!(
        matches!(err, Error::BodyTooLarge { limit } if limit == DEFAULT_MAX_RESPONSE_BYTES),
        "{err:?}"
    );
    let items = collect(m.stream(&hi()).await.unwrap()).await;
    for e in items.iter().filter_map(|i| i.as_ref().err()) {
        seen("a_gzip_bomb_hits_the_size_limit (stream item)", e);
    }
    assert!(
        matches!(items.as_slice(), [Err(Error::BodyTooLarge { limit })] if *limit == DEFAULT_MAX_RESPONSE_BYTES),
        "{:?}",
        items.iter().map(|i| i.as_ref().err()).collect::<Vec<_>>()
    );
    within(t, Duration::ZERO, Duration::from_secs(20));
    still_works(&m).await;
}

/// Accepts `n` connections; on each, reads the request head and then sends a response head
/// one byte every 100 ms (a slowloris server), until the client gives up.
fn trickling_head_server(n: usize) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((mut conn, _)) = listener.accept() else {
                return;
            };
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => seen.extend_from_slice(&buf[..k]),
                }
            }
            let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
            for b in head {
                std::thread::sleep(Duration::from_millis(100));
                if conn.write_all(&[*b]).is_err() {
                    break; // the client gave up
                }
            }
        }
    });
    (port, handle)
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_head_trickling_byte_by_byte_is_bounded_by_the_timeout() {
    // The head's bytes come every 100 ms, well inside the 600 ms timeout, but the whole head
    // would take ~13 s: the wait for a head is bounded as a whole, not per byte.
    let (port, server) = trickling_head_server(2);
    let m = model_at(
        &format!("http://127.0.0.1:{port}/v1"),
        Duration::from_millis(600),
        0,
    );
    let t = Instant::now();
    let err = m.complete(&hi()).await.unwrap_err();
    seen("a_head_trickling (plain)", &err);
    assert!(
        matches!(
            err,
            Error::Timeout {
                phase: TimeoutPhase::Total,
                ..
            }
        ),
        "{err:?}"
    );
    within(t, Duration::from_millis(550), Duration::from_millis(2500));
    let t = Instant::now();
    let err = m.stream(&hi()).await.unwrap_err();
    seen("a_head_trickling (stream open)", &err);
    assert!(
        matches!(
            err,
            Error::Timeout {
                phase: TimeoutPhase::ResponseHead,
                ..
            }
        ),
        "{err:?}"
    );
    within(t, Duration::from_millis(550), Duration::from_millis(2500));
    drop(m);
    // The server thread ends when its writes fail, i.e. once the client closed both
    // connections. (Async: join off the runtime thread, whose tasks must run to close them.)
    #[cfg(not(feature = "async"))]
    server.join().unwrap();
    #[cfg(feature = "async")]
    tokio::task::spawn_blocking(move || server.join().unwrap())
        .await
        .unwrap();
    within(t, Duration::ZERO, Duration::from_secs(3));
}
