//! One model shared by many threads (blocking) or tasks (async), against a loopback server
//! that echoes each request back, so every answer can be checked against its own question
//! (a mixed-up pooled connection or a shared buffer would hand one caller another's answer).
//! In async, cancelled requests and dropped streams must leave nothing running: the server
//! sees the connection closed and the runtime has no task left.

#[cfg(not(feature = "async"))]
use std::thread;
use std::time::{Duration, Instant};

use openai_compatible::{ChatMessage, OpenAICompatibleModel};
use serde_json::{json, Value};

use crate::support::modes::wait_until;
use crate::support::{self, RecordedRequest, Reply, ScriptedServer};

// ---------------------------------------------------------------------------------------
// The echo handler
// ---------------------------------------------------------------------------------------

/// A scripted server answering `POST …/chat/completions` with `"echo: <last message
/// content>"`, as a plain completion or, when the body says `"stream": true`, as an SSE
/// stream of three deltas.
///
/// A message starting with `hold` is never answered ([`Reply::hold`]): the connection is
/// kept open until the client closes it, which the server counts in `closed_while_held`. A
/// stream whose message starts with `drip` sends its role delta, then one delta every 20 ms
/// for ever ([`Reply::drip_forever`]), until the client closes (also counted).
fn echo_server() -> ScriptedServer {
    ScriptedServer::handler(echo)
}

fn echo(req: &RecordedRequest) -> Reply {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let text = body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_owned();
    if text.starts_with("hold") {
        return Reply::hold();
    }
    let answer = format!("echo: {text}");
    if body["stream"].as_bool() != Some(true) {
        let c = json!({"id": "echo", "object": "chat.completion", "created": 1, "model": "echo",
            "choices": [{"index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": answer}}]});
        return Reply::json(200, c);
    }
    let role = chunk(json!({"role": "assistant", "content": ""}), Value::Null);
    if text.starts_with("drip") {
        let dot = chunk(json!({"content": "."}), Value::Null);
        return Reply::sse(&[role]).drip_forever(&dot, Duration::from_millis(20));
    }
    // Three deltas that only make the answer when joined in order.
    let cut = answer.char_indices().map(|(i, _)| i).collect::<Vec<_>>();
    let (a, b) = (cut[cut.len() / 3], cut[2 * cut.len() / 3]);
    let mut events = vec![role];
    for piece in [&answer[..a], &answer[a..b], &answer[b..]] {
        events.push(chunk(json!({ "content": piece }), Value::Null));
    }
    events.push(chunk(json!({}), json!("stop")));
    events.push("data: [DONE]\n\n".to_owned());
    Reply::sse(&events)
}

fn chunk(delta: Value, finish: Value) -> String {
    let c = json!({"id": "echo", "object": "chat.completion.chunk", "created": 1, "model": "echo",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    format!("data: {c}\n\n")
}

/// Every request carried its body with a Content-Length (never chunked).
fn assert_content_length(server: &ScriptedServer) {
    for req in server.requests() {
        assert!(
            req.header("transfer-encoding").is_none() && req.header("content-length").is_some(),
            "the client sends Content-Length: {:?}",
            req.headers
        );
    }
}

fn model(server: &ScriptedServer, timeout: Duration) -> OpenAICompatibleModel {
    support::model(server).timeout(timeout).build().unwrap()
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
    let server = echo_server();
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
    assert_eq!(server.hits(), 1600);
    assert_content_length(&server);
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
    let server = echo_server();
    let m = model(&server, Duration::from_secs(10));
    let mut s = m.stream(&ask("drip forever")).unwrap();
    assert!(s.next().unwrap().is_ok());
    assert!(s.next().unwrap().is_ok());
    drop(s);
    assert!(
        wait_until(Duration::from_secs(3), || server.closed_while_held() == 1),
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
        let server = echo_server();
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
        assert_eq!(server.hits(), 640);
        assert_content_length(&server);
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
        let server = echo_server();
        let m = model(&server, Duration::from_secs(30));

        // 1. A future cancelled by a timeout while the server holds the answer.
        let r = tokio::time::timeout(Duration::from_millis(200), m.complete(&ask("hold 1"))).await;
        assert!(r.is_err(), "the server never answers: {r:?}");
        let closed = wait_until(Duration::from_secs(3), || server.closed_while_held() == 1).await;
        assert!(closed, "the cancelled request's connection stayed open");

        // 2. A spawned request, aborted.
        let m2 = m.clone();
        let task = tokio::spawn(async move { m2.complete(&ask("hold 2")).await });
        let held = wait_until(Duration::from_secs(3), || server.held() == 2).await;
        assert!(held);
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        let closed = wait_until(Duration::from_secs(3), || server.closed_while_held() == 2).await;
        assert!(closed, "the aborted request's connection stayed open");

        // 3. A stream dropped after two chunks while the server keeps sending.
        let mut s = m.stream(&ask("drip")).await.unwrap();
        let first = s.next().await;
        let second = s.next().await;
        assert!(matches!((&first, &second), (Some(Ok(_)), Some(Ok(_)))));
        drop(s);
        let closed = wait_until(Duration::from_secs(3), || server.closed_while_held() == 3).await;
        assert!(closed, "the dropped stream's connection stayed open");

        // 4. A stream future cancelled before its head arrived.
        let question = ask("hold 4");
        let mut open = Box::pin(m.stream(&question));
        let r = tokio::time::timeout(Duration::from_millis(200), &mut open).await;
        assert!(r.is_err());
        drop(open);
        let closed = wait_until(Duration::from_secs(3), || server.closed_while_held() == 4).await;
        assert!(closed, "the cancelled stream's connection stayed open");

        // The model still works, and once it is gone nothing is left: no task, no socket.
        let c = m.complete(&ask("still here")).await.unwrap();
        assert_eq!(c.content(), Some("echo: still here"));
        drop(m);
        let left = no_tasks_left(Duration::from_secs(3)).await;
        assert_eq!(left, 0, "tasks still alive");
        let open = wait_until(Duration::from_secs(3), || server.open() == 0).await;
        assert!(open, "{} connections still open", server.open());
    }
}
