//! Streams that reuse connections, in both builds, proved by the scripted server's counters
//! (connections accepted, TLS handshakes, held replies the client closed), never by timing.
//!
//! A stream the server ended (`data: [DONE]`) reads what is left of its body, the chunked
//! terminator, within a few KiB and a few milliseconds, so its connection goes back to the
//! pool; a body held open after `[DONE]` is closed instead; a stream dropped mid-way closes
//! its connection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openai_compatible::OpenAICompatibleModel;

use crate::support::modes::{collect, next, wait_until};
use crate::support::tls::Pki;
use crate::support::{self, hi, sse_chunks, Reply, ScriptedServer};

/// Ten chunks: a role delta, eight content deltas, the finish; then `data: [DONE]`.
fn ten_chunks() -> Vec<String> {
    sse_chunks(&["a", "b", "c", "d", "e", "f", "g", "h"])
}

const STREAMS: usize = 40;

fn model(url: &str, timeout: Duration) -> OpenAICompatibleModel {
    support::model_at(url).timeout(timeout).build().unwrap()
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn sequential_streams_reuse_their_connection() {
    let server = ScriptedServer::always(Reply::sse(&ten_chunks()));
    let m = model(&server.url(), Duration::from_secs(5));
    for _ in 0..STREAMS {
        let items = collect(m.stream(&hi()).await.unwrap()).await;
        assert_eq!(items.len(), 10);
        assert!(items.iter().all(|i| i.is_ok()));
    }
    for _ in 0..STREAMS {
        let c = m.stream(&hi()).await.unwrap().accumulate().await.unwrap();
        assert_eq!(c.content(), Some("abcdefgh"));
    }
    assert_eq!(server.hits(), 2 * STREAMS);
    let connections = server.connections();
    assert!(
        connections <= 3,
        "{} streams used {connections} connections",
        2 * STREAMS
    );
}

/// A Responses stream ends at `response.completed` with no `[DONE]` (llama.cpp): that
/// terminal event lets the connection go back to the pool too.
#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn responses_streams_reuse_their_connection() {
    let recorded = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/captures/xllamacpp-responses-stream.sse"
    ))
    .unwrap();
    let server = ScriptedServer::always(Reply::sse(&[recorded]));
    let m = support::model_at(&server.url())
        .api_mode(openai_compatible::ApiMode::Responses)
        .build()
        .unwrap();
    for _ in 0..20 {
        let c = m.stream(&hi()).await.unwrap().accumulate().await.unwrap();
        assert!(c.content().is_some_and(|t| !t.is_empty()), "{c:?}");
    }
    let connections = server.connections();
    assert!(
        connections <= 3,
        "20 streams used {connections} connections"
    );
}

/// The finish chunk and `[DONE]` arrive in one piece: a caller that drops the stream after
/// the last chunk, without asking for the end, still leaves a finished stream behind.
#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_finished_stream_dropped_before_its_end_is_reused() {
    let mut events = ten_chunks();
    let done = events.pop().unwrap();
    let finish = events.pop().unwrap();
    events.push(format!("{finish}{done}"));
    let server = ScriptedServer::always(Reply::sse(&events));
    let m = model(&server.url(), Duration::from_secs(5));
    for _ in 0..STREAMS {
        let mut s = m.stream(&hi()).await.unwrap();
        for _ in 0..10 {
            let item = next(&mut s).await;
            assert!(matches!(item, Some(Ok(_))));
        }
        drop(s);
    }
    let connections = server.connections();
    assert!(
        connections <= 3,
        "{STREAMS} streams used {connections} connections"
    );
}

/// Runs one stream to its end in the background; the flag says it ended, and the
/// stream's items must all have been chunks.
#[cfg(not(feature = "async"))]
fn stream_in_background(m: OpenAICompatibleModel) -> Arc<AtomicBool> {
    let ended = Arc::new(AtomicBool::new(false));
    let flag = ended.clone();
    std::thread::spawn(move || {
        let items = collect(m.stream(&hi()).unwrap());
        if items.len() == 10 && items.iter().all(|i| i.is_ok()) {
            flag.store(true, Ordering::SeqCst);
        }
    });
    ended
}

#[cfg(feature = "async")]
fn stream_in_background(m: OpenAICompatibleModel) -> Arc<AtomicBool> {
    let ended = Arc::new(AtomicBool::new(false));
    let flag = ended.clone();
    tokio::spawn(async move {
        let items = collect(m.stream(&hi()).await.unwrap()).await;
        if items.len() == 10 && items.iter().all(|i| i.is_ok()) {
            flag.store(true, Ordering::SeqCst);
        }
    });
    ended
}

/// A server that keeps the body open after `[DONE]` (silent, or writing comments for
/// ever): the stream ends at `[DONE]` all the same, long before its 60 s idle bound, and the
/// client closes that connection; the next stream gets a new one.
#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_body_held_open_after_done_does_not_hold_the_caller() {
    let pieces = ten_chunks().len();
    for (i, reply) in [
        Reply::sse(&ten_chunks()).stall_after(pieces),
        Reply::sse(&ten_chunks()).drip_forever(": still here\n\n", Duration::from_millis(1)),
    ]
    .into_iter()
    .enumerate()
    {
        let server = ScriptedServer::builder()
            .replies(vec![reply])
            .always(Reply::sse(&ten_chunks()))
            .start();
        let m = model(&server.url(), Duration::from_secs(60));
        let ended = stream_in_background(m.clone());
        let closed = wait_until(Duration::from_secs(3), || {
            ended.load(Ordering::SeqCst) && server.closed_while_held() == 1
        })
        .await;
        assert!(
            closed,
            "reply {i}: the stream ended at [DONE] ({}) and the client closed the held body ({} closed)",
            ended.load(Ordering::SeqCst),
            server.closed_while_held()
        );
        let c = m.stream(&hi()).await.unwrap().accumulate().await.unwrap();
        assert_eq!(c.content(), Some("abcdefgh"));
        assert_eq!(server.connections(), 2, "reply {i}");
    }
}

/// Dropped mid-way, a stream's body was not read: its connection is closed, not pooled.
#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_stream_dropped_mid_way_closes_its_connection() {
    let first = ten_chunks();
    let server = ScriptedServer::builder()
        .replies(vec![
            Reply::sse(&first[..3]).drip_forever(&first[3], Duration::from_millis(5))
        ])
        .always(Reply::sse(&ten_chunks()))
        .start();
    let m = model(&server.url(), Duration::from_secs(5));
    let mut s = m.stream(&hi()).await.unwrap();
    for _ in 0..5 {
        let item = next(&mut s).await;
        assert!(matches!(item, Some(Ok(_))));
    }
    drop(s);
    let closed = wait_until(Duration::from_secs(3), || server.closed_while_held() == 1).await;
    assert!(
        closed,
        "the client closed the unfinished stream's connection"
    );
    let c = m.stream(&hi()).await.unwrap().accumulate().await.unwrap();
    assert_eq!(c.content(), Some("abcdefgh"));
    assert_eq!(server.connections(), 2);
}

/// A model that trusts `pki`'s CA: in the blocking build a caller's ureq agent (ureq's own
/// connector: the drain runs on a helper thread the caller waits for briefly), in the async
/// build a caller's reqwest client from `reqwest_client_builder`.
fn trusting(url: &str, pki: &Pki) -> OpenAICompatibleModel {
    let builder = support::model_at(url);
    #[cfg(not(feature = "async"))]
    let builder = {
        use ureq::tls::{Certificate, RootCerts, TlsConfig};
        let roots = RootCerts::new_with_certs(&[Certificate::from_der(&pki.ca_der).to_owned()]);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .build()
            .into();
        builder.agent(agent)
    };
    #[cfg(feature = "async")]
    let builder = {
        let client = openai_compatible::reqwest_client_builder(std::slice::from_ref(&pki.ca_der))
            .unwrap()
            .build()
            .unwrap();
        builder.http_client(client)
    };
    builder.build().unwrap()
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn streams_over_tls_reuse_their_connection_and_handshake() {
    let pki = Pki::new(&["127.0.0.1", "localhost"]);
    let server = ScriptedServer::builder()
        .tls(pki.server_config())
        .always(Reply::sse(&ten_chunks()))
        .start();
    let m = trusting(&server.url(), &pki);
    for _ in 0..STREAMS {
        let c = m.stream(&hi()).await.unwrap().accumulate().await.unwrap();
        assert_eq!(c.content(), Some("abcdefgh"));
    }
    let (connections, handshakes) = (server.connections(), server.handshakes());
    assert!(
        connections <= 3 && handshakes <= 3,
        "{STREAMS} streams over TLS: {connections} connections, {handshakes} handshakes"
    );
}
