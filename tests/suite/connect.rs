//! Reaching the server: the connect timeout, connection errors that say what failed, and
//! proxies from the environment. Every test runs in both builds.
//!
//! Proxies are tested with [`ForwardProxy`], a loopback HTTP proxy written here that records
//! what it receives (absolute-form requests, `CONNECT`) and forwards to the scripted server.
//! The proxy variables reach the model through the builder's hidden `__proxy_env` hook, so
//! these tests never touch the process environment (`tests/connect_env.rs` checks that the
//! real environment is read).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{self, chat_completion, Reply, ScriptedServer};
use openai_compatible::{
    ChatMessage, ConnectionPhase, Error, OpenAICompatibleModel, OpenAICompatibleModelBuilder,
    TimeoutPhase,
};

const KEY: &str = "sk-connect-test-secret-0123456789";

fn hi() -> Vec<ChatMessage> {
    vec![ChatMessage::user("hi")]
}

fn builder(url: impl Into<String>) -> OpenAICompatibleModelBuilder {
    OpenAICompatibleModel::builder("m")
        .url(url)
        .api_key(KEY)
        // No proxy unless a test sets one, whatever the machine's environment says.
        .__proxy_env(&[])
}

/// A port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Accepts TCP connections and never sends a byte (a plain-HTTP server waiting for a
/// request line that a TLS ClientHello never completes). Connections stay open until the
/// listener is dropped.
struct Silent {
    port: u16,
    accepted: Arc<Mutex<Vec<TcpStream>>>,
}

impl Silent {
    fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&accepted);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                keep.lock().unwrap().push(stream);
            }
        });
        Silent { port, accepted }
    }

    fn connections(&self) -> usize {
        self.accepted.lock().unwrap().len()
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        for s in self.accepted.lock().unwrap().iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

// ---------------------------------------------------------------------------
// The connect bound
// ---------------------------------------------------------------------------

#[test]
fn the_connect_timeout_defaults_to_the_smaller_of_timeout_and_10_s() {
    let m = builder("http://127.0.0.1:1/v1").build().unwrap();
    assert_eq!(m.connect_timeout(), Duration::from_secs(10));
    let m = builder("http://127.0.0.1:1/v1")
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    assert_eq!(m.connect_timeout(), Duration::from_secs(3));
    let m = builder("http://127.0.0.1:1/v1")
        .connect_timeout(Duration::from_millis(250))
        .build()
        .unwrap();
    assert_eq!(m.connect_timeout(), Duration::from_millis(250));
    // Never more than the timeout; zero counts as unset.
    let m = builder("http://127.0.0.1:1/v1")
        .timeout(Duration::from_secs(2))
        .connect_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    assert_eq!(m.connect_timeout(), Duration::from_secs(2));
    let m = builder("http://127.0.0.1:1/v1")
        .connect_timeout(Duration::ZERO)
        .build()
        .unwrap();
    assert_eq!(m.connect_timeout(), Duration::from_secs(10));
}

/// A per-call connect bound (`RequestOptions::connect_timeout`) replaces the model's for
/// that call only.
#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_per_call_connect_timeout_bounds_that_call() {
    let silent = Silent::start();
    let m = builder(format!("https://127.0.0.1:{}/v1", silent.port))
        .timeout(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(15))
        .max_retries(0)
        .build()
        .unwrap();
    let bound = Duration::from_millis(250);
    let t = Instant::now();
    let result = m
        .with_options(openai_compatible::RequestOptions::new().connect_timeout(bound))
        .complete(&hi())
        .await;
    let elapsed = t.elapsed();
    let err = result.unwrap_err();
    assert!(
        matches!(&err, Error::Timeout { phase: TimeoutPhase::Connect, after, .. } if *after == bound),
        "{err:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(m.connect_timeout(), Duration::from_secs(15));
}

/// The reported case, scaled down: an `https://` URL at a server that never answers the
/// TLS ClientHello. Each attempt costs the connect timeout, and the error says so.
#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_tls_handshake_nobody_answers_is_bounded_by_the_connect_timeout() {
    let silent = Silent::start();
    let bound = Duration::from_millis(300);
    let m = builder(format!("https://127.0.0.1:{}/v1", silent.port))
        .timeout(Duration::from_secs(20))
        .connect_timeout(bound)
        .max_retries(1)
        .build()
        .unwrap();
    let t = Instant::now();
    let result = m.complete(&hi()).await;
    let elapsed = t.elapsed();
    let err = result.unwrap_err();
    let Error::Timeout {
        phase,
        after,
        connection: Some(c),
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*phase, *after), (TimeoutPhase::Connect, bound), "{err}");
    assert_eq!(
        (c.host(), c.port(), c.proxy()),
        ("127.0.0.1", silent.port, None)
    );
    assert_eq!(c.attempts(), 2, "{err}");
    // The blocking connector knows the stage; reqwest only says "connect".
    #[cfg(not(feature = "async"))]
    assert_eq!(c.phase(), ConnectionPhase::Tls, "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("connecting to 127.0.0.1:{}", silent.port)),
        "{text}"
    );
    assert!(
        text.contains("after 2 attempts") && text.contains("http://"),
        "{text}"
    );
    assert!(err.is_timeout() && err.connection_error().is_some());
    assert_eq!(silent.connections(), 2);
    // Two bounds and one backoff delay (at most 0.5 s), with room for a slow machine.
    assert!(
        elapsed < 3 * 2 * bound + Duration::from_millis(500),
        "{elapsed:?}"
    );
}

/// With the default connect timeout equal to a short timeout, the hung connection is still
/// reported as the connect phase (not as a slow response), in both builds.
#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_hung_connection_is_the_connect_phase_when_both_bounds_are_equal() {
    let silent = Silent::start();
    let timeout = Duration::from_millis(400);
    let m = builder(format!("https://127.0.0.1:{}/v1", silent.port))
        .timeout(timeout)
        .max_retries(0)
        .build()
        .unwrap();
    assert_eq!(m.connect_timeout(), timeout);
    let t = Instant::now();
    let result = m.complete(&hi()).await;
    let elapsed = t.elapsed();
    let err = result.unwrap_err();
    assert!(
        matches!(&err, Error::Timeout { phase: TimeoutPhase::Connect, after, .. } if *after == timeout),
        "{err:?}"
    );
    assert!(elapsed < 3 * timeout, "{elapsed:?}");
    // A stream's connection has the same bound.
    let t = Instant::now();
    let result = m.stream(&hi()).await;
    let elapsed = t.elapsed();
    let Err(err) = result else {
        panic!("the stream cannot connect")
    };
    assert!(
        matches!(
            &err,
            Error::Timeout {
                phase: TimeoutPhase::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(elapsed < 3 * timeout, "{elapsed:?}");
}

/// A per-request `timeout` shorter than the connect timeout caps the connect bound too (the
/// async build needs another client for it).
#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_shorter_per_request_timeout_caps_the_connect_bound() {
    let silent = Silent::start();
    let m = builder(format!("https://127.0.0.1:{}/v1", silent.port))
        .timeout(Duration::from_secs(30))
        .model_config(serde_json::json!({"timeout": 0.3}))
        .max_retries(0)
        .build()
        .unwrap();
    assert_eq!(m.connect_timeout(), Duration::from_secs(10));
    let t = Instant::now();
    let result = m.complete(&hi()).await;
    let elapsed = t.elapsed();
    let err = result.unwrap_err();
    assert!(
        matches!(&err, Error::Timeout { phase: TimeoutPhase::Connect, after, .. } if *after == Duration::from_millis(300)),
        "{err:?}"
    );
    assert!(elapsed < Duration::from_millis(900), "{elapsed:?}");
}

/// A proxy that accepts the connection but never answers the CONNECT request: the tunnel
/// is inside the connect bound too.
#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_proxy_that_never_answers_connect_is_bounded_too() {
    let silent = Silent::start();
    let proxy = format!("127.0.0.1:{}", silent.port);
    let bound = Duration::from_millis(300);
    let m = builder("https://127.0.0.1:9/v1")
        .__proxy_env(&[("HTTPS_PROXY", &format!("http://{proxy}"))])
        .timeout(Duration::from_secs(20))
        .connect_timeout(bound)
        .max_retries(0)
        .build()
        .unwrap();
    let t = Instant::now();
    let result = m.complete(&hi()).await;
    let elapsed = t.elapsed();
    let err = result.unwrap_err();
    let c = err.connection_error().expect("connection details");
    assert!(
        matches!(
            &err,
            Error::Timeout {
                phase: TimeoutPhase::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(c.proxy(), Some(proxy.as_str()), "{err}");
    #[cfg(not(feature = "async"))]
    assert_eq!(c.phase(), ConnectionPhase::Tunnel, "{err}");
    assert!(
        err.to_string().contains(&format!("via proxy {proxy}")),
        "{err}"
    );
    assert!(elapsed < 3 * bound, "{elapsed:?}");
}

// ---------------------------------------------------------------------------
// Connection errors that say what failed
// ---------------------------------------------------------------------------

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_refused_connection_names_host_port_and_attempts_but_no_secrets() {
    let port = closed_port();
    let m = builder(format!("http://127.0.0.1:{port}/v1/tok-SECRETPATH"))
        .default_query("key", "SECRETQUERY")
        .max_retries(1)
        .build()
        .unwrap();
    let result = m.complete(&hi()).await;
    let err = result.unwrap_err();
    let Error::Connection(c) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((c.host(), c.port(), c.proxy()), ("127.0.0.1", port, None));
    assert_eq!((c.phase(), c.attempts()), (ConnectionPhase::Connect, 2));
    assert_eq!(c.reason(), "connection refused");
    assert_eq!(
        err.to_string(),
        format!("connection error: could not connect to 127.0.0.1:{port} (connection refused) after 2 attempts")
    );
    let shown = format!("{err} {err:?}");
    for secret in ["SECRETPATH", "SECRETQUERY", KEY] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(err.is_transient());
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_stream_that_cannot_connect_says_so_after_one_attempt() {
    let port = closed_port();
    let m = builder(format!("http://127.0.0.1:{port}/v1"))
        .max_retries(0)
        .build()
        .unwrap();
    let result = m.stream(&hi()).await;
    let Err(err) = result else {
        panic!("nothing listens")
    };
    assert!(
        err.to_string().ends_with(&format!(
            "127.0.0.1:{port} (connection refused) after 1 attempt"
        )),
        "{err}"
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_dead_proxy_is_named_in_the_error() {
    let dead = format!("127.0.0.1:{}", closed_port());
    let server = ScriptedServer::start(vec![]);
    for (var, url) in [
        ("HTTP_PROXY", server.url()),
        ("HTTPS_PROXY", format!("https://{}/v1", server.addr())),
    ] {
        let m = builder(url)
            .__proxy_env(&[(var, &format!("http://user:hunter2@{dead}"))])
            .max_retries(1)
            .build()
            .unwrap();
        let result = m.complete(&hi()).await;
        let err = result.unwrap_err();
        let Error::Connection(c) = &err else {
            panic!("{var}: {err:?}")
        };
        assert_eq!(c.proxy(), Some(dead.as_str()), "{err}");
        assert_eq!(
            (c.phase(), c.attempts()),
            (ConnectionPhase::Connect, 2),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains(&format!("{} via proxy {dead} (connecting to the proxy: connection refused) after 2 attempts", server.addr())),
            "{text}"
        );
        assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
    }
    assert_eq!(server.hits(), 0);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_proxy_refusing_the_tunnel_is_the_tunnel_phase() {
    let proxy = ForwardProxy::start(ProxyMode::RefuseConnect);
    let m = builder("https://127.0.0.1:9/v1")
        .__proxy_env(&[("https_proxy", &proxy.url())])
        .max_retries(0)
        .build()
        .unwrap();
    let result = m.complete(&hi()).await;
    let err = result.unwrap_err();
    let Error::Connection(c) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(c.phase(), ConnectionPhase::Tunnel, "{err}");
    assert_eq!(c.proxy(), Some(proxy.authority().as_str()));
    assert_eq!(
        proxy.lines(),
        vec!["CONNECT 127.0.0.1:9 HTTP/1.1".to_owned()]
    );
}

// ---------------------------------------------------------------------------
// Proxies from the environment
// ---------------------------------------------------------------------------

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn http_proxy_gets_http_urls_in_absolute_form() {
    let server = ScriptedServer::start(vec![
        Reply::json(200, chat_completion("one")),
        Reply::json(200, chat_completion("two")),
    ]);
    let proxy = ForwardProxy::start(ProxyMode::Forward);
    let m = builder(format!("{}?api-version=1", server.url()))
        .__proxy_env(&[("HTTP_PROXY", &proxy.url()), ("NO_PROXY", "example.com")])
        .build()
        .unwrap();
    for expected in ["one", "two"] {
        let result = m.complete(&hi()).await;
        assert_eq!(result.unwrap().content(), Some(expected));
    }
    let line = format!(
        "POST http://{}/v1/chat/completions?api-version=1 HTTP/1.1",
        server.addr()
    );
    // Both requests, the second one on the reused connection to the proxy.
    assert_eq!(proxy.lines(), vec![line.clone(), line]);
    assert_eq!(proxy.connections(), 1);
    assert_eq!(server.hits(), 2);
    let req = &server.requests()[0];
    assert_eq!(req.path, "/v1/chat/completions?api-version=1");
    assert_eq!(req.header("host"), Some(server.addr().to_string().as_str()));
    assert!(req.header("proxy-authorization").is_none());
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_stream_goes_through_the_proxy_too() {
    let server = ScriptedServer::start(vec![Reply::sse(&support::sse_chunks(&["a", "b"]))]);
    let proxy = ForwardProxy::start(ProxyMode::Forward);
    let m = builder(server.url())
        .__proxy_env(&[("http_proxy", &proxy.url())])
        .build()
        .unwrap();
    let stream = m.stream(&hi()).await.unwrap();
    let items = support::modes::collect(stream).await;
    assert!(items.iter().all(Result::is_ok), "{items:?}");
    assert_eq!(
        proxy.lines(),
        vec![format!(
            "POST http://{}/v1/chat/completions HTTP/1.1",
            server.addr()
        )]
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn https_proxy_is_not_used_for_http_urls_and_all_proxy_is_the_fallback() {
    let server = ScriptedServer::always(Reply::json(200, chat_completion("ok")));
    let proxy = ForwardProxy::start(ProxyMode::Forward);
    let m = builder(server.url())
        .__proxy_env(&[("HTTPS_PROXY", &proxy.url())])
        .build()
        .unwrap();
    let result = m.complete(&hi()).await;
    assert!(result.is_ok(), "{result:?}");
    assert!(proxy.lines().is_empty());
    assert_eq!(server.hits(), 1);

    for var in ["ALL_PROXY", "all_proxy"] {
        let m = builder(server.url())
            .__proxy_env(&[("HTTPS_PROXY", "http://127.0.0.1:9"), (var, &proxy.url())])
            .build()
            .unwrap();
        let result = m.complete(&hi()).await;
        assert!(result.is_ok(), "{var}: {result:?}");
    }
    assert_eq!(proxy.lines().len(), 2);
    assert!(
        proxy.lines()[0].starts_with("POST http://"),
        "{:?}",
        proxy.lines()
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn no_proxy_exempts_listed_hosts_star_and_ip_literals() {
    let server = ScriptedServer::always(Reply::json(200, chat_completion("ok")));
    let proxy = ForwardProxy::start(ProxyMode::Forward);
    let exempting = [
        " example.com , 127.0.0.1 ,other",
        "*",
        "10.0.0.0/8,127.0.0.0/8",
        &format!("localhost, 127.0.0.1:{}", server.addr().port()),
    ];
    for no_proxy in exempting {
        for var in ["NO_PROXY", "no_proxy"] {
            let m = builder(server.url())
                .__proxy_env(&[("HTTP_PROXY", &proxy.url()), (var, no_proxy)])
                .build()
                .unwrap();
            let result = m.complete(&hi()).await;
            assert!(result.is_ok(), "{var}={no_proxy:?}: {result:?}");
        }
    }
    assert!(proxy.lines().is_empty(), "{:?}", proxy.lines());
    assert_eq!(server.hits(), 2 * exempting.len());
    // A list that names other hosts (or another port) leaves this one proxied.
    let m = builder(server.url())
        .__proxy_env(&[
            ("HTTP_PROXY", &proxy.url()),
            ("NO_PROXY", "localhost,127.0.0.2,127.0.0.1:1"),
        ])
        .build()
        .unwrap();
    let result = m.complete(&hi()).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(proxy.lines().len(), 1);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn lower_case_variables_win() {
    let server = ScriptedServer::always(Reply::json(200, chat_completion("ok")));
    let proxy = ForwardProxy::start(ProxyMode::Forward);
    let dead = format!("http://127.0.0.1:{}", closed_port());
    let m = builder(server.url())
        .__proxy_env(&[("HTTP_PROXY", &dead), ("http_proxy", &proxy.url())])
        .build()
        .unwrap();
    let result = m.complete(&hi()).await;
    assert!(result.is_ok(), "{result:?}");
    // no_proxy beats NO_PROXY: `*` in the upper-case one is not looked at.
    let m = builder(server.url())
        .__proxy_env(&[
            ("http_proxy", &proxy.url()),
            ("no_proxy", "example.com"),
            ("NO_PROXY", "*"),
        ])
        .build()
        .unwrap();
    let result = m.complete(&hi()).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(proxy.lines().len(), 2);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn proxy_credentials_are_sent_to_the_proxy_only() {
    let server = ScriptedServer::always(Reply::json(200, chat_completion("ok")));
    let proxy = ForwardProxy::start(ProxyMode::Forward);
    let with_user = proxy.url().replace("http://", "http://user:p%40ss@");
    let m = builder(server.url())
        .__proxy_env(&[("HTTP_PROXY", &with_user)])
        .build()
        .unwrap();
    let result = m.complete(&hi()).await;
    assert!(result.is_ok(), "{result:?}");
    // base64("user:p@ss")
    assert_eq!(
        proxy.authorizations(),
        vec![Some("Basic dXNlcjpwQHNz".to_owned())]
    );
    assert!(server.requests()[0].header("proxy-authorization").is_none());
    // The CONNECT request of an https URL carries them too.
    let m = builder("https://127.0.0.1:9/v1")
        .__proxy_env(&[("HTTPS_PROXY", &with_user)])
        .max_retries(0)
        .build()
        .unwrap();
    let result = m.complete(&hi()).await;
    let err = result.unwrap_err();
    assert!(!format!("{err} {err:?}").contains("p%40ss"), "{err:?}");
    assert_eq!(
        proxy.lines().last().map(String::as_str),
        Some("CONNECT 127.0.0.1:9 HTTP/1.1")
    );
    assert_eq!(proxy.authorizations().len(), 2);
    assert_eq!(
        proxy.authorizations()[1].as_deref(),
        Some("Basic dXNlcjpwQHNz")
    );
}

/// An https URL through the proxy: a `CONNECT` tunnel, then TLS inside it. The scripted
/// server speaks plain HTTP, so the handshake fails — after the tunnel stood.
#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn https_urls_are_tunnelled_with_connect() {
    let server = ScriptedServer::start(vec![]);
    let proxy = ForwardProxy::start(ProxyMode::Forward);
    let m = builder(format!("https://{}/v1", server.addr()))
        .__proxy_env(&[
            ("HTTPS_PROXY", &proxy.url()),
            ("HTTP_PROXY", "http://127.0.0.1:9"),
        ])
        .connect_timeout(Duration::from_secs(2))
        .max_retries(0)
        .build()
        .unwrap();
    let result = m.complete(&hi()).await;
    let err = result.unwrap_err();
    assert_eq!(
        proxy.lines(),
        vec![format!("CONNECT {} HTTP/1.1", server.addr())]
    );
    let c = err.connection_error().expect("connection details");
    assert_eq!(c.proxy(), Some(proxy.authority().as_str()), "{err}");
    #[cfg(not(feature = "async"))]
    assert_eq!(c.phase(), ConnectionPhase::Tls, "{err}");
}

#[test]
fn an_unusable_proxy_fails_the_build_without_showing_its_value() {
    let err = builder("https://api.example.com/v1")
        .__proxy_env(&[("HTTPS_PROXY", "socks5://user:hunter2@127.0.0.1:1080")])
        .build()
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(
        text.contains("HTTPS_PROXY") && text.contains("socks5"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    // Exempt, or for the other scheme: no error.
    for env in [
        [
            ("HTTPS_PROXY", "socks5://p:1"),
            ("NO_PROXY", ".example.com"),
        ],
        [("HTTP_PROXY", "socks5://p:1"), ("NO_PROXY", "")],
    ] {
        assert!(builder("https://api.example.com/v1")
            .__proxy_env(&env)
            .build()
            .is_ok());
    }
}

/// A caller's HTTP client keeps its own settings: the environment's proxy is not ours to
/// apply to it.
#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_callers_client_keeps_its_own_proxy_settings() {
    let server = ScriptedServer::always(Reply::json(200, chat_completion("ok")));
    let proxy = ForwardProxy::start(ProxyMode::Forward);
    let b = builder(server.url()).__proxy_env(&[("HTTP_PROXY", &proxy.url())]);
    #[cfg(not(feature = "async"))]
    let b = b.agent(ureq::Agent::config_builder().proxy(None).build().into());
    #[cfg(feature = "async")]
    let b = b.http_client(
        openai_compatible::reqwest_client_builder(&[])
            .unwrap()
            .no_proxy()
            .build()
            .unwrap(),
    );
    let m = b.build().unwrap();
    let result = m.complete(&hi()).await;
    assert!(result.is_ok(), "{result:?}");
    assert!(proxy.lines().is_empty());
    assert_eq!(server.hits(), 1);
}

// ---------------------------------------------------------------------------
// The loopback forward proxy
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum ProxyMode {
    /// Forward absolute-form requests and tunnel CONNECT.
    Forward,
    /// Answer every CONNECT with 403.
    RefuseConnect,
}

/// Request lines with their `Proxy-Authorization`, in arrival order.
type Seen = Mutex<Vec<(String, Option<String>)>>;

/// A request line and its headers (names lower-cased).
type RequestHead = (String, Vec<(String, String)>);

/// A tiny HTTP proxy on 127.0.0.1 that records every request line (and its
/// `Proxy-Authorization`) it receives.
struct ForwardProxy {
    port: u16,
    seen: Arc<Seen>,
    connections: Arc<Mutex<usize>>,
}

impl ForwardProxy {
    fn start(mode: ProxyMode) -> ForwardProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let (s, c) = (Arc::clone(&seen), Arc::clone(&connections));
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                *c.lock().unwrap() += 1;
                let seen = Arc::clone(&s);
                thread::spawn(move || {
                    let _ = serve(client, mode, &seen);
                });
            }
        });
        ForwardProxy {
            port,
            seen,
            connections,
        }
    }

    fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn url(&self) -> String {
        format!("http://{}", self.authority())
    }

    fn lines(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(l, _)| l.clone())
            .collect()
    }

    fn authorizations(&self) -> Vec<Option<String>> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(_, a)| a.clone())
            .collect()
    }

    fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }
}

/// One request head: the request line and the headers, `None` at the end of the stream.
fn read_head(r: &mut impl BufRead) -> std::io::Result<Option<RequestHead>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    Ok(Some((line.trim_end().to_owned(), headers)))
}

fn serve(client: TcpStream, mode: ProxyMode, seen: &Seen) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut to_client = client;
    let mut upstream: Option<TcpStream> = None;
    while let Some((line, headers)) = read_head(&mut reader)? {
        let auth = headers
            .iter()
            .find(|(k, _)| k == "proxy-authorization")
            .map(|(_, v)| v.clone());
        seen.lock().unwrap().push((line.clone(), auth));
        let mut parts = line.split(' ');
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if method == "CONNECT" {
            if mode == ProxyMode::RefuseConnect {
                to_client.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")?;
                return Ok(());
            }
            let Ok(up) = TcpStream::connect(target) else {
                to_client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")?;
                return Ok(());
            };
            to_client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
            pipe(up.try_clone()?, to_client.try_clone()?);
            let mut up = up;
            // What the reader already buffered belongs to the tunnel too.
            up.write_all(reader.buffer())?;
            let mut client_side = reader.into_inner();
            std::io::copy(&mut client_side, &mut up)?;
            let _ = up.shutdown(Shutdown::Write);
            return Ok(());
        }
        // Absolute form: `POST http://host:port/path HTTP/1.1`.
        let Some(rest) = target.strip_prefix("http://") else {
            to_client.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")?;
            return Ok(());
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if upstream.is_none() {
            let up = TcpStream::connect(authority)?;
            pipe(up.try_clone()?, to_client.try_clone()?);
            upstream = Some(up);
        }
        let up = upstream.as_mut().unwrap();
        let mut head = format!("{method} {path} HTTP/1.1\r\n");
        let mut length = 0;
        for (k, v) in &headers {
            if k == "content-length" {
                length = v.parse().unwrap_or(0);
            }
            if k != "proxy-authorization" {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        head.push_str("\r\n");
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        up.write_all(head.as_bytes())?;
        up.write_all(&body)?;
    }
    if let Some(up) = upstream {
        let _ = up.shutdown(Shutdown::Write);
    }
    Ok(())
}

/// Copies `from` to `to` on a thread of its own, until `from` ends.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    });
}
