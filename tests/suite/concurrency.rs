//! One model shared by many threads (blocking) or tasks (async), against a loopback server
//! that echoes each request back, so every answer can be checked against its own question
//! (a mixed-up pooled connection or a shared buffer would hand one caller another's answer).
//! In async, cancelled requests and dropped streams must leave nothing running: the server
//! sees the connection closed and the runtime has no task left.
//!
//! The echo server is written here (std only) because the scripted server of
//! `tests/support` replays fixed replies and cannot echo.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use openai_compatible::{ChatMessage, OpenAICompatibleModel};
use serde_json::{json, Value};

const KEY: &str = "sk-concurrency-secret-0123456789";

// ---------------------------------------------------------------------------------------
// Echo server
// ---------------------------------------------------------------------------------------

/// Answers `POST …/chat/completions` with `"echo: <last message content>"`, as a plain
/// completion or, when the body says `"stream": true`, as an SSE stream of three deltas.
///
/// A message starting with `hold` is never answered: the connection is kept open until the
/// client closes it, which is counted in [`EchoServer::closed_while_held`]. A stream whose
/// message starts with `drip` sends its role delta, then one delta every 20 ms for ever, until
/// the client closes (also counted).
struct EchoServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    requests: AtomicUsize,
    connections: AtomicUsize,
    open: AtomicUsize,
    held: AtomicUsize,
    closed_while_held: AtomicUsize,
}

impl EchoServer {
    fn start() -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let sh = Arc::clone(&shared);
        let accept = thread::spawn(move || {
            let mut workers = Vec::new();
            while !sh.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        sh.connections.fetch_add(1, Ordering::SeqCst);
                        let sh = Arc::clone(&sh);
                        workers.push(thread::spawn(move || {
                            sh.open.fetch_add(1, Ordering::SeqCst);
                            let _ = serve(stream, &sh);
                            sh.open.fetch_sub(1, Ordering::SeqCst);
                        }));
                        workers.retain(|w: &JoinHandle<()>| !w.is_finished());
                    }
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
            }
            for w in workers {
                let _ = w.join();
            }
        });
        EchoServer {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Connections currently open (served by a thread).
    #[cfg_attr(not(feature = "async"), allow(dead_code))]
    fn open(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }

    #[cfg_attr(not(feature = "async"), allow(dead_code))]
    fn held(&self) -> usize {
        self.shared.held.load(Ordering::SeqCst)
    }

    fn closed_while_held(&self) -> usize {
        self.shared.closed_while_held.load(Ordering::SeqCst)
    }

    /// Waits until `f` holds, for at most `limit` (blocking: async tests must yield instead).
    #[cfg(not(feature = "async"))]
    fn wait(&self, limit: Duration, f: impl Fn(&EchoServer) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if f(self) {
                return true;
            }
            thread::sleep(Duration::from_millis(5));
        }
        f(self)
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
    }
}

/// Reads until `buf` holds a whole request; `Ok(None)` when the client closed first.
fn read_request(s: &mut TcpStream, buf: &mut Vec<u8>, sh: &Shared) -> io::Result<Option<Value>> {
    let mut tmp = [0u8; 16 * 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            assert!(
                !head.contains("transfer-encoding"),
                "the client sends Content-Length"
            );
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap_or(0));
            if buf.len() >= end + 4 + len {
                let body: Vec<u8> = buf.drain(..end + 4 + len).skip(end + 4).collect();
                return Ok(Some(serde_json::from_slice(&body).unwrap_or(Value::Null)));
            }
        }
        if sh.stop.load(Ordering::SeqCst) {
            return Ok(None);
        }
        match s.read(&mut tmp) {
            Ok(0) => return Ok(None),
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Waits for the client to close the connection (or the server to stop); true if it closed.
fn wait_for_close(s: &mut TcpStream, sh: &Shared) -> bool {
    let mut tmp = [0u8; 1024];
    loop {
        if sh.stop.load(Ordering::SeqCst) {
            return false;
        }
        match s.read(&mut tmp) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
}

fn chunk(delta: Value, finish: Value) -> String {
    let c = json!({"id": "echo", "object": "chat.completion.chunk", "created": 1, "model": "echo",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    format!("data: {c}\n\n")
}

fn write_chunk(s: &mut TcpStream, data: &str) -> io::Result<()> {
    s.write_all(format!("{:x}\r\n{data}\r\n", data.len()).as_bytes())
}

fn serve(mut s: TcpStream, sh: &Shared) -> io::Result<()> {
    s.set_read_timeout(Some(Duration::from_millis(10)))?;
    s.set_nodelay(true)?;
    let mut buf = Vec::new();
    while let Some(body) = read_request(&mut s, &mut buf, sh)? {
        sh.requests.fetch_add(1, Ordering::SeqCst);
        let text = body["messages"]
            .as_array()
            .and_then(|m| m.last())
            .and_then(|m| m["content"].as_str())
            .unwrap_or("")
            .to_owned();
        let stream = body["stream"].as_bool() == Some(true);
        if text.starts_with("hold") {
            sh.held.fetch_add(1, Ordering::SeqCst);
            if wait_for_close(&mut s, sh) {
                sh.closed_while_held.fetch_add(1, Ordering::SeqCst);
            }
            return Ok(());
        }
        let answer = format!("echo: {text}");
        if stream {
            s.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
            )?;
            write_chunk(
                &mut s,
                &chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            )?;
            if text.starts_with("drip") {
                sh.held.fetch_add(1, Ordering::SeqCst);
                loop {
                    if sh.stop.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                    thread::sleep(Duration::from_millis(20));
                    let sent = write_chunk(&mut s, &chunk(json!({"content": "."}), Value::Null));
                    if sent.is_err() {
                        sh.closed_while_held.fetch_add(1, Ordering::SeqCst);
                        return Ok(());
                    }
                }
            }
            // Three deltas that only make the answer when joined in order.
            let cut = answer.char_indices().map(|(i, _)| i).collect::<Vec<_>>();
            let (a, b) = (cut[cut.len() / 3], cut[2 * cut.len() / 3]);
            for piece in [&answer[..a], &answer[a..b], &answer[b..]] {
                write_chunk(&mut s, &chunk(json!({ "content": piece }), Value::Null))?;
            }
            write_chunk(&mut s, &chunk(json!({}), json!("stop")))?;
            write_chunk(&mut s, "data: [DONE]\n\n")?;
            s.write_all(b"0\r\n\r\n")?;
        } else {
            let c = json!({"id": "echo", "object": "chat.completion", "created": 1, "model": "echo",
                "choices": [{"index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": answer}}]});
            let c = c.to_string();
            s.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{c}",
                    c.len()
                )
                .as_bytes(),
            )?;
        }
    }
    let _ = s.shutdown(Shutdown::Write);
    Ok(())
}

fn model(server: &EchoServer, timeout: Duration) -> OpenAICompatibleModel {
    OpenAICompatibleModel::builder("m")
        .url(server.url())
        .api_key(KEY)
        .timeout(timeout)
        .max_retries(0)
        .build()
        .unwrap()
}

fn ask(text: &str) -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("echo"),
        ChatMessage::user(text.to_owned()),
    ]
}

// ---------------------------------------------------------------------------------------
// Blocking
// ---------------------------------------------------------------------------------------

/// 8 threads × 200 requests on one model; every tenth is a stream. Each answer must echo
/// its own question.
#[cfg(not(feature = "async"))]
#[test]
fn eight_threads_share_one_model() {
    let server = EchoServer::start();
    let m = model(&server, Duration::from_secs(10));
    let started = Instant::now();
    thread::scope(|scope| {
        for t in 0..8 {
            let m = &m;
            scope.spawn(move || {
                for i in 0..200 {
                    let q = format!("thread {t} request {i} ✓");
                    let got = if i % 10 == 0 {
                        m.stream(&ask(&q)).unwrap().accumulate().unwrap()
                    } else {
                        m.complete(&ask(&q)).unwrap()
                    };
                    assert_eq!(got.content(), Some(format!("echo: {q}").as_str()));
                }
            });
        }
    });
    assert_eq!(server.requests(), 1600);
    // The pool is shared: plain requests reuse connections. A stream is dropped right after
    // `data: [DONE]`, before the body's last bytes, so its connection is not pooled: the 160
    // streams cost about one connection each.
    assert!(
        server.connections() < 200,
        "{} connections",
        server.connections()
    );
    eprintln!(
        "blocking: 1600 requests over {} connections in {:?}",
        server.connections(),
        started.elapsed()
    );
}

/// Clones share the pool and work from other threads, also while one thread's stream is
/// dropped half-read.
#[cfg(not(feature = "async"))]
#[test]
fn dropping_a_stream_midway_closes_its_connection() {
    let server = EchoServer::start();
    let m = model(&server, Duration::from_secs(10));
    let mut s = m.stream(&ask("drip forever")).unwrap();
    assert!(s.next().unwrap().is_ok());
    assert!(s.next().unwrap().is_ok());
    drop(s);
    assert!(
        server.wait(Duration::from_secs(3), |s| s.closed_while_held() == 1),
        "the server still writes to a dropped stream"
    );
    let m2 = m.clone();
    let c = thread::spawn(move || m2.complete(&ask("after")).unwrap())
        .join()
        .unwrap();
    assert_eq!(c.content(), Some("echo: after"));
}

// ---------------------------------------------------------------------------------------
// Async
// ---------------------------------------------------------------------------------------

#[cfg(feature = "async")]
mod nonblocking {
    use super::*;
    use futures_util::StreamExt;
    use tokio::runtime::Handle;

    /// Waits (yielding to the runtime, whose tasks must run to close sockets) until `f`
    /// holds, for at most `limit`.
    async fn until(server: &EchoServer, limit: Duration, f: impl Fn(&EchoServer) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if f(server) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        f(server)
    }

    /// Waits (yielding to the runtime) until the runtime has no task alive but the caller.
    async fn no_tasks_left(limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        loop {
            let n = Handle::current().metrics().num_alive_tasks();
            if n == 0 || Instant::now() >= deadline {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// 64 tasks, spawned on a two-thread runtime, 10 requests each on clones of one model;
    /// every fifth a stream.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sixty_four_tasks_share_one_model() {
        let server = EchoServer::start();
        let m = model(&server, Duration::from_secs(10));
        let started = Instant::now();
        let tasks: Vec<_> = (0..64)
            .map(|t| {
                let m = m.clone();
                tokio::spawn(async move {
                    for i in 0..10 {
                        let q = format!("task {t} request {i} ✓");
                        let got = if i % 5 == 0 {
                            let s = m.stream(&ask(&q)).await.unwrap();
                            s.accumulate().await.unwrap()
                        } else {
                            m.complete(&ask(&q)).await.unwrap()
                        };
                        assert_eq!(got.content(), Some(format!("echo: {q}").as_str()));
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(server.requests(), 640);
        eprintln!(
            "async: 640 requests from 64 tasks over {} connections in {:?}",
            server.connections(),
            started.elapsed()
        );
        // The same 64 at once without spawning (one task polls them all).
        let all = futures_util::future::join_all((0..64).map(|t| {
            let m = &m;
            async move {
                let q = format!("joined {t}");
                (q.clone(), m.complete(&ask(&q)).await)
            }
        }))
        .await;
        for (q, got) in all {
            assert_eq!(got.unwrap().content(), Some(format!("echo: {q}").as_str()));
        }
        drop(m);
        let left = no_tasks_left(Duration::from_secs(3)).await;
        assert_eq!(left, 0, "tasks still alive after the model was dropped");
    }

    /// A request future cancelled by a timeout, an aborted spawned request, and a stream
    /// dropped half-read: each closes its connection, and nothing keeps running.
    #[tokio::test]
    async fn cancelled_requests_and_dropped_streams_leave_nothing_running() {
        let server = EchoServer::start();
        let m = model(&server, Duration::from_secs(30));

        // 1. A future cancelled by a timeout while the server holds the answer.
        let r = tokio::time::timeout(Duration::from_millis(200), m.complete(&ask("hold 1"))).await;
        assert!(r.is_err(), "the server never answers: {r:?}");
        let closed = until(&server, Duration::from_secs(3), |s| {
            s.closed_while_held() == 1
        })
        .await;
        assert!(closed, "the cancelled request's connection stayed open");

        // 2. A spawned request, aborted.
        let m2 = m.clone();
        let task = tokio::spawn(async move { m2.complete(&ask("hold 2")).await });
        let held = until(&server, Duration::from_secs(3), |s| s.held() == 2).await;
        assert!(held);
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        let closed = until(&server, Duration::from_secs(3), |s| {
            s.closed_while_held() == 2
        })
        .await;
        assert!(closed, "the aborted request's connection stayed open");

        // 3. A stream dropped after two chunks while the server keeps sending.
        let mut s = m.stream(&ask("drip")).await.unwrap();
        let first = s.next().await;
        let second = s.next().await;
        assert!(matches!((&first, &second), (Some(Ok(_)), Some(Ok(_)))));
        drop(s);
        let closed = until(&server, Duration::from_secs(3), |s| {
            s.closed_while_held() == 3
        })
        .await;
        assert!(closed, "the dropped stream's connection stayed open");

        // 4. A stream future cancelled before its head arrived.
        let question = ask("hold 4");
        let mut open = Box::pin(m.stream(&question));
        let r = tokio::time::timeout(Duration::from_millis(200), &mut open).await;
        assert!(r.is_err());
        drop(open);
        let closed = until(&server, Duration::from_secs(3), |s| {
            s.closed_while_held() == 4
        })
        .await;
        assert!(closed, "the cancelled stream's connection stayed open");

        // The model still works, and once it is gone nothing is left: no task, no socket.
        let c = m.complete(&ask("still here")).await.unwrap();
        assert_eq!(c.content(), Some("echo: still here"));
        drop(m);
        let left = no_tasks_left(Duration::from_secs(3)).await;
        assert_eq!(left, 0, "tasks still alive");
        let open = until(&server, Duration::from_secs(3), |s| s.open() == 0).await;
        assert!(open, "{} connections still open", server.open());
    }
}
