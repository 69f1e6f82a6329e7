//! The proxy variables are read from the process environment when a model is built. This
//! file holds a single test because it sets process variables: any other test in the same
//! binary could race it (tests/connect.rs passes the variables through a builder hook).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

use openai_compatible::{ChatMessage, OpenAICompatibleModel};
use support::{chat_completion, Reply, ScriptedServer};

const VARS: [&str; 9] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
    "REQUEST_METHOD",
];

/// A proxy that answers every request itself (with a completion) and records its line.
fn recording_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&lines);
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            seen.lock().unwrap().push(line.trim_end().to_owned());
            let mut length = 0;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let answer = chat_completion("from the proxy").to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (url, lines)
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn proxy_variables_come_from_the_process_environment() {
    let server = ScriptedServer::always(Reply::json(200, chat_completion("direct")));
    let (proxy, lines) = recording_proxy();
    let model = || {
        OpenAICompatibleModel::builder("m")
            .url(server.url())
            .api_key("sk-env-test")
            .max_retries(0)
            .build()
            .unwrap()
    };
    let messages = [ChatMessage::user("hi")];
    for var in VARS {
        std::env::remove_var(var);
    }

    // Upper-case HTTP_PROXY is read (as requests and httpx do).
    std::env::set_var("HTTP_PROXY", &proxy);
    let m = model();
    let answer = m.complete(&messages).await.unwrap();
    assert_eq!(answer.content(), Some("from the proxy"));
    assert_eq!(
        *lines.lock().unwrap(),
        vec![format!(
            "POST http://{}/v1/chat/completions HTTP/1.1",
            server.addr()
        )]
    );

    // NO_PROXY exempts the server.
    std::env::set_var("NO_PROXY", "localhost, 127.0.0.1");
    let m = model();
    let answer = m.complete(&messages).await.unwrap();
    assert_eq!(answer.content(), Some("direct"));
    std::env::remove_var("NO_PROXY");

    // In a CGI program HTTP_PROXY may come from a request header: ignored there.
    std::env::set_var("REQUEST_METHOD", "GET");
    let m = model();
    let answer = m.complete(&messages).await.unwrap();
    assert_eq!(answer.content(), Some("direct"));

    assert_eq!(lines.lock().unwrap().len(), 1);
    assert_eq!(server.hits(), 2);
    for var in VARS {
        std::env::remove_var(var);
    }
}
