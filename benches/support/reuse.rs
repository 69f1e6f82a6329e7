//! Connection reuse and short streams over TLS (issue 16), against in-process stubs
//! (`stub.rs`), which count the connections they accept. One line of output per run:
//!
//! ```text
//! reuse connections N CHUNKS   # N sequential CHUNKS-chunk streams over plain HTTP, ours;
//!                              #   with `vs-async-openai`, then N with async-openai:
//!                              #   streams=… connections=… [async_openai_connections=…]
//! reuse tls N CHUNKS ROUNDS    # ROUNDS rounds of N sequential streams over TLS on loopback
//!                              #   (a private CA), ours; in the async build with feature
//!                              #   `vs-async-openai`, async-openai in each round right after:
//!                              #   ours_sps=… [async_openai_sps=… ratio=…] connections=…
//! ```
//!
//! The blocking build trusts the CA through a caller's ureq agent, the async build through
//! `openai_compatible::reqwest_client_builder`; async-openai gets a client from that same
//! builder, so both async clients run the same reqwest with the same TLS.

use std::sync::Arc;
use std::time::Instant;

use openai_compatible::{ChatMessage, OpenAICompatibleModel};
use openai_compatible_benches::stub;

fn messages() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("You are a helpful assistant. Answer in one sentence."),
        ChatMessage::user("Is seventeen a prime number?"),
    ]
}

/// A private CA (DER) and the stub's TLS configuration for 127.0.0.1, signed by it.
fn pki() -> (Vec<u8>, Arc<rustls::ServerConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("a key"))
        .expect("the CA");
    let key = KeyPair::generate().expect("a key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("server params")
        .signed_by(&key, &ca)
        .expect("the server certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("the server configuration");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (ca.der().to_vec(), Arc::new(config))
}

fn builder(url: &str) -> openai_compatible::OpenAICompatibleModelBuilder {
    OpenAICompatibleModel::builder("gpt-4o-mini")
        .url(url)
        .api_key("sk-bench")
        .model_config(serde_json::json!({"temperature": 0.0}))
}

#[cfg(not(feature = "async"))]
fn trusting(url: &str, ca: &[u8]) -> OpenAICompatibleModel {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let roots = RootCerts::new_with_certs(&[Certificate::from_der(ca).to_owned()]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .build()
        .into();
    builder(url).agent(agent).build().expect("a model")
}

#[cfg(feature = "async")]
fn reqwest_trusting(ca: &[u8]) -> reqwest::Client {
    openai_compatible::reqwest_client_builder(&[ca.to_vec()])
        .expect("a client builder")
        .build()
        .expect("a client")
}

#[cfg(feature = "async")]
fn trusting(url: &str, ca: &[u8]) -> OpenAICompatibleModel {
    builder(url)
        .http_client(reqwest_trusting(ca))
        .build()
        .expect("a model")
}

/// N sequential streams read to their end; the chunks received.
#[cfg(not(feature = "async"))]
fn ours(model: OpenAICompatibleModel, n: usize) -> usize {
    let messages = messages();
    let mut chunks = 0;
    for _ in 0..n {
        for chunk in model.stream(&messages).expect("a stream") {
            std::hint::black_box(chunk.expect("a chunk"));
            chunks += 1;
        }
    }
    chunks
}

#[cfg(feature = "async")]
async fn ours(model: OpenAICompatibleModel, n: usize) -> usize {
    use futures_util::StreamExt;
    let messages = messages();
    let mut chunks = 0;
    for _ in 0..n {
        let mut stream = model.stream(&messages).await.expect("a stream");
        while let Some(chunk) = stream.next().await {
            std::hint::black_box(chunk.expect("a chunk"));
            chunks += 1;
        }
    }
    chunks
}

#[cfg(feature = "vs-async-openai")]
async fn async_openai(
    client: async_openai::Client<async_openai::config::OpenAIConfig>,
    n: usize,
) -> usize {
    use async_openai::types::chat::{
        ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
        CreateChatCompletionRequestArgs,
    };
    use futures_util::StreamExt;
    let request = CreateChatCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .messages([
            ChatCompletionRequestSystemMessage::from(
                "You are a helpful assistant. Answer in one sentence.",
            )
            .into(),
            ChatCompletionRequestUserMessage::from("Is seventeen a prime number?").into(),
        ])
        .temperature(0.0)
        .stream(true)
        .build()
        .expect("a request");
    let mut chunks = 0;
    for _ in 0..n {
        let mut stream = client
            .chat()
            .create_stream(request.clone())
            .await
            .expect("a stream");
        while let Some(chunk) = stream.next().await {
            std::hint::black_box(chunk.expect("a chunk"));
            chunks += 1;
        }
    }
    chunks
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    }
}

fn usage() -> ! {
    eprintln!("usage: reuse connections N CHUNKS | reuse tls N CHUNKS ROUNDS");
    std::process::exit(2);
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| -> usize {
        argv.get(i)
            .and_then(|s| s.parse().ok())
            .filter(|n| *n > 0)
            .unwrap_or_else(|| usage())
    };
    #[cfg(feature = "async")]
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // `run!(f)`: `f` in this build's way: a blocking call, or a task on the runtime. A task,
    // not `block_on` itself: async-openai drives its streams from a task of its own, and a
    // stream read on the `block_on` thread pays a wake-up across threads for every piece
    // hyper's connection task hands over (short TLS streams read at 0.4-0.7 of the spawned
    // rate that way, against 1.5-1.6 in a task).
    #[cfg(not(feature = "async"))]
    macro_rules! run {
        ($e:expr) => {
            $e
        };
    }
    #[cfg(feature = "async")]
    macro_rules! run {
        ($e:expr) => {
            runtime.block_on(async { tokio::spawn($e).await.expect("the task") })
        };
    }
    match argv.first().map(String::as_str) {
        Some("connections") => {
            let (n, chunks) = (number(1), number(2));
            let base = stub::spawn("127.0.0.1:0").expect("the stub");
            let url = base.replace("/v1", &format!("/chunks/{chunks}/v1"));
            let model = builder(&url).build().expect("a model");
            let got = run!(ours(model.clone(), n));
            assert_eq!(got, n * chunks, "every chunk arrived");
            let mine = stub::accepted();
            #[allow(unused_mut)]
            let mut line = format!("streams={n} connections={mine}");
            // Then async-openai on its own client (the library's reqwest builder, as in
            // `tls`): what the stub accepts from here on is its connections, ours idling.
            #[cfg(feature = "vs-async-openai")]
            {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let theirs = async_openai::Client::with_config(
                    async_openai::config::OpenAIConfig::new()
                        .with_api_base(&url)
                        .with_api_key("sk-bench"),
                )
                .with_http_client(
                    openai_compatible::reqwest_client_builder(&[])
                        .expect("a client builder")
                        .build()
                        .expect("a client"),
                );
                let got = run!(async_openai(theirs.clone(), n));
                assert_eq!(got, n * chunks, "every chunk arrived");
                line += &format!(" async_openai_connections={}", stub::accepted() - mine);
            }
            println!("{line}");
        }
        Some("tls") => {
            let (n, chunks, rounds) = (number(1), number(2), number(3));
            let (ca, config) = pki();
            let base = stub::spawn_tls("127.0.0.1:0", config).expect("the stub");
            let url = base.replace("/v1", &format!("/chunks/{chunks}/v1"));
            let model = trusting(&url, &ca);
            // async-openai builds a default client before it takes ours: with reqwest's
            // `rustls-no-provider` (the library's setting) that needs a process default.
            #[cfg(feature = "vs-async-openai")]
            let _ = rustls::crypto::ring::default_provider().install_default();
            #[cfg(feature = "vs-async-openai")]
            let theirs = async_openai::Client::with_config(
                async_openai::config::OpenAIConfig::new()
                    .with_api_base(&url)
                    .with_api_key("sk-bench"),
            )
            .with_http_client(reqwest_trusting(&ca));
            // One stream each first: connections and handshakes are not what is timed.
            run!(ours(model.clone(), 1));
            #[cfg(feature = "vs-async-openai")]
            run!(async_openai(theirs.clone(), 1));
            // `t` and `r` stay empty without async-openai.
            #[allow(unused_mut)]
            let (mut o, mut t, mut r) = (Vec::new(), Vec::<f64>::new(), Vec::<f64>::new());
            for _ in 0..rounds {
                let start = Instant::now();
                assert_eq!(run!(ours(model.clone(), n)), n * chunks);
                o.push(n as f64 / start.elapsed().as_secs_f64());
                #[cfg(feature = "vs-async-openai")]
                {
                    let start = Instant::now();
                    assert_eq!(run!(async_openai(theirs.clone(), n)), n * chunks);
                    t.push(n as f64 / start.elapsed().as_secs_f64());
                    r.push(o[o.len() - 1] / t[t.len() - 1]);
                }
            }
            let mut line = format!("ours_sps={:.0}", median(o));
            if !t.is_empty() {
                line += &format!(
                    " async_openai_sps={:.0} ratio={:.3}",
                    median(t),
                    median(std::mem::take(&mut r))
                );
            }
            println!("{line} connections={}", stub::accepted());
        }
        _ => usage(),
    }
}
