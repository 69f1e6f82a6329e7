//! The API key never leaks, in both builds: not in the `Debug` of any public type, not in
//! any error (`Display`, `Debug` or source chain) of any variant a server can provoke — even
//! when the server echoes the key back in a body, a header or a redirect —, not in `tracing`
//! output at TRACE level, not in `log` records, not in the model I/O log files. And the key
//! only travels over verified TLS: a server whose certificate does not chain to a trusted
//! root is refused before anything is sent; a private CA is trusted only when added.
//!
//! One exception lives outside this crate: in the blocking build, ureq logs the wire at `log`
//! TRACE level (`ureq_proto` hex-dumps every byte it writes, request headers included, and
//! `ureq` then prints response headers too). Below TRACE ureq shows only non-sensitive
//! headers. The crate docs ("TLS and private CAs") tell users to keep the `ureq` targets
//! below TRACE; the `log` test checks every other record (all of them in the async build).
//!
//! A binary of its own, not a module of tests/suite: the capture installs a global `tracing`
//! subscriber and the `log` logger, at TRACE, for the whole process. Next to the suite it
//! would record (and slow down) every other test's traffic.

mod support;

use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use openai_compatible::{Error, OpenAICompatibleModel};
use serde_json::json;
use support::modes::collect;
use support::tls::Pki;
use support::{chat_completion, hi, sse_chunks, Reply, ScriptedServer, TempDir, KEY};

fn model(url: &str) -> OpenAICompatibleModel {
    support::model_at(url)
        .timeout(Duration::from_millis(500))
        .max_retries(1)
        .build()
        .unwrap()
}

/// Panics if `text` shows the key (or a long piece of it).
fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(KEY), "{what} shows the API key: {text}");
    assert!(
        !text.contains(&KEY[..16]),
        "{what} shows part of the API key: {text}"
    );
}

fn assert_error_clean(e: &Error) {
    assert_clean("an error's Display", &e.to_string());
    assert_clean("an error's Debug", &format!("{e:?}"));
    assert_clean("an error's alternate Debug", &format!("{e:#?}"));
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        assert_clean("an error's source", &format!("{s} {s:?}"));
        source = s.source();
    }
}

// ---------------------------------------------------------------------------------------
// Capturing `tracing` (every level) and `log` (every level), process-wide
// ---------------------------------------------------------------------------------------

mod capture {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tracing_core::field::{Field, Visit};
    use tracing_core::span::{Attributes, Id, Record};
    use tracing_core::{Event, Interest, LevelFilter, Metadata, Subscriber};

    #[derive(Default)]
    pub struct Tracing {
        pub text: Mutex<String>,
        next: AtomicU64,
    }

    struct Fields<'a>(&'a mut String);

    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            let _ = write!(self.0, " {}={value}", field.name());
        }
        fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
            let _ = write!(self.0, " {}={value} {value:?}", field.name());
        }
    }

    impl Subscriber for Tracing {
        fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
            Interest::always()
        }
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn max_level_hint(&self) -> Option<LevelFilter> {
            Some(LevelFilter::TRACE)
        }
        fn new_span(&self, attrs: &Attributes<'_>) -> Id {
            let mut t = self.text.lock().unwrap();
            let _ = write!(
                t,
                "\nspan {} {}",
                attrs.metadata().target(),
                attrs.metadata().name()
            );
            attrs.record(&mut Fields(&mut t));
            Id::from_u64(self.next.fetch_add(1, Ordering::SeqCst) + 1)
        }
        fn record(&self, _: &Id, values: &Record<'_>) {
            let mut t = self.text.lock().unwrap();
            t.push_str("\nrecord");
            values.record(&mut Fields(&mut t));
        }
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut t = self.text.lock().unwrap();
            let m = event.metadata();
            let _ = write!(t, "\n{} {} {}", m.level(), m.target(), m.name());
            event.record(&mut Fields(&mut t));
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    #[derive(Default)]
    pub struct Log {
        pub records: Mutex<Vec<(log::Level, String, String)>>,
    }

    impl log::Log for Log {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            self.records.lock().unwrap().push((
                record.level(),
                record.target().to_owned(),
                record.args().to_string(),
            ));
        }
        fn flush(&self) {}
    }

    /// Installs both capturing subscribers for the whole process (once).
    pub fn install() -> (&'static Tracing, &'static Log) {
        static TRACING: OnceLock<&'static Tracing> = OnceLock::new();
        static LOG: OnceLock<&'static Log> = OnceLock::new();
        let t = *TRACING.get_or_init(|| {
            let t: &'static Tracing = Box::leak(Box::default());
            tracing::subscriber::set_global_default(Forward(t)).unwrap();
            t
        });
        let l = *LOG.get_or_init(|| {
            let l: &'static Log = Box::leak(Box::default());
            log::set_logger(l).unwrap();
            log::set_max_level(log::LevelFilter::Trace);
            l
        });
        (t, l)
    }

    /// `set_global_default` wants an owned subscriber.
    struct Forward(&'static Tracing);

    impl Subscriber for Forward {
        fn register_callsite(&self, m: &'static Metadata<'static>) -> Interest {
            self.0.register_callsite(m)
        }
        fn enabled(&self, m: &Metadata<'_>) -> bool {
            self.0.enabled(m)
        }
        fn max_level_hint(&self) -> Option<LevelFilter> {
            self.0.max_level_hint()
        }
        fn new_span(&self, a: &Attributes<'_>) -> Id {
            self.0.new_span(a)
        }
        fn record(&self, id: &Id, r: &Record<'_>) {
            self.0.record(id, r)
        }
        fn record_follows_from(&self, a: &Id, b: &Id) {
            self.0.record_follows_from(a, b)
        }
        fn event(&self, e: &Event<'_>) {
            self.0.event(e)
        }
        fn enter(&self, id: &Id) {
            self.0.enter(id)
        }
        fn exit(&self, id: &Id) {
            self.0.exit(id)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Every error a server can provoke, with the key echoed wherever a server could echo it
// ---------------------------------------------------------------------------------------

/// Runs one request per failure mode and returns every error, after checking its variant.
#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
async fn provoke_every_error() -> Vec<Error> {
    let mut errors = Vec::new();
    let echo = format!("Incorrect API key provided: {KEY}. Bearer {KEY}");

    // Config: a key with a stray newline.
    let e = OpenAICompatibleModel::builder("m")
        .api_key(format!("{KEY}\n"))
        .url("http://127.0.0.1:9/v1")
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
    errors.push(e);

    let server = ScriptedServer::start(vec![
        // Api: the key in the JSON message, the raw body and the request-id header.
        Reply::json(401, json!({"error": {"message": echo, "type": "invalid_request_error", "code": "invalid_api_key", "param": KEY}}))
            .header("x-request-id", KEY),
        // Api: a proxy's HTML page, retried (503) then reported.
        Reply::text(503, "text/html", &format!("<html>{echo}</html>")),
        Reply::text(503, "text/html", &format!("<html>{echo}</html>")),
        // Api: a redirect whose location carries the key.
        Reply::redirect(307, &format!("http://127.0.0.1:9/v1?key={KEY}")),
        // Decode: a 200 that is not a completion and quotes the key (serde quotes values).
        Reply::json(200, json!({"choices": KEY, "error": echo})),
        Reply::text(200, "application/json", &format!("{{\"id\": \"{KEY}\", {echo}")),
        // StreamApi: an in-stream error echoing the key.
        Reply::sse(&[format!("data: {}\n\n", json!({"error": {"message": echo}}))]),
        Reply::sse(&[format!("event: error\ndata: {echo}\n\n")]),
        // Decode inside a stream.
        Reply::sse(&[format!("data: {{\"choices\": \"{KEY}\"}}\n\n")]),
        // IncompleteStream.
        Reply::sse(&sse_chunks(&["cut"])[..2]),
        // BodyTooLarge (limit below).
        Reply::json(200, chat_completion(&"z".repeat(4096))),
        // Timeout (head never comes), retried once.
        Reply::json(200, chat_completion("late")).delay_head(Duration::from_secs(3)),
        Reply::json(200, chat_completion("late")).delay_head(Duration::from_secs(3)),
        // Connection: closed before the head, retried once.
        Reply::close_before_head(),
        Reply::close_before_head(),
    ]);
    let m = model(&server.url());
    for _ in 0..4 {
        let e = m.complete(&hi()).await.unwrap_err();
        assert!(matches!(e, Error::Api(_) | Error::Decode { .. }), "{e:?}");
        errors.push(e);
    }
    let e = m.complete(&hi()).await.unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    errors.push(e);
    for _ in 0..4 {
        let items = collect(m.stream(&hi()).await.unwrap()).await;
        let e = items
            .into_iter()
            .find_map(Result::err)
            .expect("an error item");
        assert!(
            matches!(
                e,
                Error::StreamApi(_) | Error::Decode { .. } | Error::IncompleteStream(_)
            ),
            "{e:?}"
        );
        errors.push(e);
    }
    let small = support::model(&server)
        .max_response_bytes(1000)
        .build()
        .unwrap();
    let e = small.complete(&hi()).await.unwrap_err();
    assert!(matches!(e, Error::BodyTooLarge { .. }), "{e:?}");
    errors.push(e);
    let e = m.complete(&hi()).await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    errors.push(e);
    let e = m.complete(&hi()).await.unwrap_err();
    assert!(matches!(e, Error::Connection(_)), "{e:?}");
    errors.push(e);

    // Connection refused, with the key in a default query parameter of the URL too (Azure
    // style): transport errors must not print the URL.
    let refused = support::model_at(&support::refused_url())
        .default_query("api-key", KEY)
        .build()
        .unwrap();
    let e = refused.complete(&hi()).await.unwrap_err();
    assert!(matches!(e, Error::Connection(_)), "{e:?}");
    errors.push(e);
    errors
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn no_error_shows_the_key() {
    let errors = provoke_every_error().await;
    assert!(errors.len() >= 14, "{}", errors.len());
    for e in &errors {
        assert_error_clean(e);
    }
    // The redaction keeps the rest of the message useful.
    let api = errors[1].api_error().unwrap();
    assert_eq!(api.status, Some(401));
    assert!(
        api.message
            .starts_with("Incorrect API key provided: [REDACTED]"),
        "{api:?}"
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn debug_of_public_types_hides_the_key() {
    let server = ScriptedServer::always(Reply::sse(&sse_chunks(&["x"])));
    let builder = support::model(&server)
        .default_header("api-key", KEY)
        .model_config(
            json!({"stream": true, "extra_headers": {"Authorization": format!("Bearer {KEY}")}}),
        );
    assert_clean("the builder's Debug", &format!("{builder:?} {builder:#?}"));
    let m = builder.build().unwrap();
    assert_clean("the model's Debug", &format!("{m:?} {m:#?}"));
    assert_clean("a clone's Debug", &format!("{:?}", m.clone()));
    let stream = m.stream(&hi()).await.unwrap();
    assert_clean("a stream's Debug", &format!("{stream:?}"));
    let response = m.run(&hi(), None, None).await.unwrap();
    assert_clean("a ModelResponse's Debug", &format!("{response:?}"));
    #[cfg(feature = "schema")]
    {
        let manager = m.stream_parse::<serde_json::Value>(&hi(), None).unwrap();
        assert_clean("a stream manager's Debug", &format!("{manager:?}"));
    }
    // The header is sent, of course — only never shown.
    let _ = collect(stream).await;
    let sent = server.requests()[0].header("api-key").map(str::to_owned);
    assert_eq!(sent.as_deref(), Some(KEY));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn tracing_at_trace_level_never_shows_the_key() {
    let (tracing, _) = capture::install();
    let errors = provoke_every_error().await;
    // And a success with a retry, a stream, and a retried stream.
    let server = ScriptedServer::start(vec![
        Reply::json(429, json!({"error": {"message": KEY}})).header("retry-after-ms", "5"),
        Reply::json(200, chat_completion("fine")),
        Reply::sse(&sse_chunks(&["fine"])),
    ]);
    let m = model(&server.url());
    let ok = m.complete(&hi()).await.unwrap();
    assert_eq!(ok.content(), Some("fine"));
    let _ = collect(m.stream(&hi()).await.unwrap()).await;
    drop(errors);
    let text = tracing.text.lock().unwrap().clone();
    assert!(
        text.contains("openai_compatible"),
        "the capture saw this crate's events: {text}"
    );
    assert!(text.contains("retrying"), "{text}");
    assert_clean("tracing output", &text);
}

/// The bytes `ureq_proto` hex-dumps at TRACE, re-assembled (16 bytes a row, ASCII column).
fn hex_dump_text(records: &[(log::Level, String, String)]) -> String {
    records
        .iter()
        .filter(|(_, target, _)| target.starts_with("ureq_proto"))
        .filter_map(|(_, _, row)| row.get(41..))
        .collect()
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn log_records_never_show_the_key() {
    let (_, log) = capture::install();
    let _ = provoke_every_error().await;
    let server = ScriptedServer::start(vec![
        Reply::json(200, chat_completion("fine")),
        Reply::sse(&sse_chunks(&["fine"])),
    ]);
    let m = model(&server.url());
    let _ = m.complete(&hi()).await.unwrap();
    let _ = collect(m.stream(&hi()).await.unwrap()).await;
    let records = log.records.lock().unwrap().clone();
    for (level, target, text) in &records {
        if target.starts_with("ureq") {
            // The documented third-party exception (see the file's docs): with TRACE on, ureq
            // dumps the wire and its DEBUG records add response headers (a `location` that
            // echoes the key above).
            continue;
        }
        assert_clean(&format!("a {level} log record of {target}"), text);
    }
    let dump = hex_dump_text(&records);
    if cfg!(feature = "async") {
        assert!(dump.is_empty(), "reqwest does not dump the wire");
    } else {
        // The documented exception, for the record: ureq's raw dump of the wire.
        eprintln!(
            "ureq_proto TRACE hex dump: {} bytes, shows the key: {}",
            dump.len(),
            dump.contains(KEY)
        );
    }
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn model_io_logs_never_show_the_key() {
    let dir = TempDir::new("secrets-model-io");
    let echo = format!("bad key {KEY}");
    let server = ScriptedServer::start(vec![
        Reply::json(200, chat_completion("fine")),
        Reply::json(401, json!({"error": {"message": echo}})),
        Reply::text(200, "application/json", &format!("{{\"id\": \"{KEY}\"")),
        Reply::sse(&sse_chunks(&["fine"])),
        Reply::sse(&[format!("data: {}\n\n", json!({"error": {"message": echo}}))]),
    ]);
    let m = support::model(&server)
        .default_header("api-key", KEY)
        .model_config(json!({"temperature": 0.1, "extra_headers": {"X-Key": KEY}}))
        .log_model_io(true)
        .log_dir(dir.path())
        .build()
        .unwrap();
    let _ = m.complete(&hi()).await.unwrap();
    let _ = m.complete(&hi()).await.unwrap_err();
    let _ = m.complete(&hi()).await.unwrap_err();
    let _ = collect(m.stream(&hi()).await.unwrap()).await;
    let _ = collect(m.stream(&hi()).await.unwrap()).await;
    drop(m);
    let mut files = 0;
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files += 1;
                let text = std::fs::read_to_string(&p).unwrap();
                assert_clean(&format!("the model I/O log {}", p.display()), &text);
            }
        }
    }
    assert!(files >= 3, "the logs were written ({files} files)");
}

// ---------------------------------------------------------------------------------------
// TLS: verification on by default, a private CA trusted only when added
// ---------------------------------------------------------------------------------------

/// A model that trusts the private CA: the documented way in each build.
fn trusting(url: &str, ca_der: &[u8]) -> OpenAICompatibleModel {
    let builder = support::model_at(url);
    #[cfg(not(feature = "async"))]
    let builder = {
        use ureq::tls::{Certificate, RootCerts, TlsConfig};
        let roots = RootCerts::new_with_certs(&[Certificate::from_der(ca_der).to_owned()]);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .build()
            .into();
        builder.agent(agent)
    };
    #[cfg(feature = "async")]
    let builder = {
        let client = openai_compatible::reqwest_client_builder(&[ca_der.to_vec()])
            .unwrap()
            .build()
            .unwrap();
        builder.http_client(client)
    };
    builder.build().unwrap()
}

/// A TLS scripted server presenting `pki`'s certificate, answering every request.
fn tls_server(pki: &Pki) -> ScriptedServer {
    ScriptedServer::builder()
        .tls(pki.server_config())
        .always(Reply::json(200, chat_completion("over tls")))
        .start()
}

/// The Authorization header of every request the server received.
fn authorizations(server: &ScriptedServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_owned))
        .collect()
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn tls_is_verified_and_a_private_ca_can_be_added() {
    let pki = Pki::new(&["127.0.0.1", "localhost"]);
    let server = tls_server(&pki);
    let url = server.url();

    // The default model does not trust the private CA: refused before any byte of the
    // request (and so before the key) is sent.
    let default = support::model_at(&url).build().unwrap();
    let e = default.complete(&hi()).await.unwrap_err();
    assert!(matches!(e, Error::Connection(_)), "{e:?}");
    let shown = e.to_string().to_ascii_lowercase();
    assert!(
        shown.contains("certificate") || shown.contains("tls") || shown.contains("issuer"),
        "the error says why: {shown}"
    );
    assert_error_clean(&e);

    // A model that trusts the CA (also through the `localhost` name) gets its answer.
    let c = trusting(&url, &pki.ca_der).complete(&hi()).await.unwrap();
    assert_eq!(c.content(), Some("over tls"));
    let localhost = format!("https://localhost:{}/v1", server.port());
    let c = trusting(&localhost, &pki.ca_der)
        .complete(&hi())
        .await
        .unwrap();
    assert_eq!(c.content(), Some("over tls"));

    assert_eq!(
        authorizations(&server),
        vec![format!("Bearer {KEY}"), format!("Bearer {KEY}")],
        "only the verified connections carried the key"
    );
    assert_eq!(server.handshakes(), 2);
    assert_eq!(server.connections(), 3, "the refused client did connect");
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_certificate_for_another_name_is_refused() {
    // Trusted CA, wrong name: the certificate is for another host, not 127.0.0.1.
    let pki = Pki::new(&["api.example.com"]);
    let server = tls_server(&pki);
    let e = trusting(&server.url(), &pki.ca_der)
        .complete(&hi())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Connection(_)), "{e:?}");
    assert!(authorizations(&server).is_empty());
    assert_eq!((server.hits(), server.handshakes()), (0, 0));
    assert_error_clean(&e);
}
