//! The async API inside a small HTTP service: `POST /ask` with a prompt as the body streams
//! the model's answer back as plain text while it is generated.
//!
//! ```text
//! cargo run --features async --example async_server -- serve 127.0.0.1:3000
//! curl --no-buffer -d 'Write one sentence about the sea.' http://127.0.0.1:3000/ask
//!
//! cargo run --features async --example async_server -- self-test 8
//! ```
//!
//! `self-test N` starts the service on a free loopback port, sends it N prompts at once and
//! prints one `I: ANSWER` line per answer; it fails if any request does. Key and URL come from
//! the environment (`scripts/server/server.sh env` prints them for the local llama.cpp server), the
//! model name from `MODEL` (default `smollm2`).
//!
//! What to read: `main` builds one model and `serve` hands a clone of it to every connection's
//! task (clones share one connection pool); `handle` streams an answer; `upstream_failure`
//! matches the crate's `Error` to decide what this service tells its own client. The rest,
//! from `read_prompt` down, is minimal HTTP plumbing so the example needs no web framework.

use std::net::SocketAddr;

use futures_util::StreamExt;
use openai_compatible::{ChatMessage, Error, OpenAICompatibleModel};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What `handle` writes when a stream breaks after the answer has started.
const STREAM_FAILED: &str = "[stream failed: ";

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // One model for the whole service, built once. It is cheap to clone, and every clone
    // uses the same connection pool, so each task gets its own clone: no Arc, no lock.
    let model =
        OpenAICompatibleModel::builder(std::env::var("MODEL").unwrap_or_else(|_| "smollm2".into()))
            .model_config(json!({"temperature": 0, "max_tokens": 24}))
            .build()?;

    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => {
            let addr = args.get(1).map_or("127.0.0.1:3000", String::as_str);
            let listener = TcpListener::bind(addr).await?;
            eprintln!("listening on http://{}/ask", listener.local_addr()?);
            serve(listener, model).await;
            Ok(())
        }
        Some("self-test") => {
            let n = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(4);
            self_test(model, n).await
        }
        _ => Err("usage: async_server serve [ADDR] | self-test [N]".into()),
    }
}

/// Accepts connections for ever, each in its own task with its own clone of the model.
async fn serve(listener: TcpListener, model: OpenAICompatibleModel) {
    loop {
        let socket = match listener.accept().await {
            Ok((socket, _)) => socket,
            Err(e) => {
                eprintln!("async_server: accept: {e}");
                continue;
            }
        };
        let model = model.clone();
        // The crate's futures are Send, so they can run on any worker thread.
        tokio::spawn(async move {
            if let Err(e) = handle(socket, &model).await {
                eprintln!("async_server: {e}");
            }
        });
    }
}

/// One exchange: read the prompt, then stream the model's answer to the client.
async fn handle(socket: TcpStream, model: &OpenAICompatibleModel) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let prompt = match read_prompt(read).await? {
        Ok(prompt) => prompt,
        Err((status, why)) => return reply(&mut write, status, why).await,
    };

    // This returns once the model server's response head has arrived: connecting, sending
    // and any retries (3 by default) happen inside it. Errors up to here are whole errors,
    // before we have told our client anything.
    let mut stream = match model.stream(&[ChatMessage::user(prompt)]).await {
        Ok(stream) => stream,
        Err(e) => {
            let (status, why) = upstream_failure(&e);
            return reply(&mut write, status, &why).await;
        }
    };

    write_head(&mut write, "200 OK").await?;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                let delta = chunk
                    .choices
                    .first()
                    .and_then(|c| c.delta.content.as_deref());
                if let Some(text) = delta {
                    write.write_all(text.as_bytes()).await?;
                }
            }
            Err(e) => {
                // Too late for a status code: the client already has "200 OK" and part of
                // the answer. A stream is never retried once it has started.
                let note = format!("\n{STREAM_FAILED}{e}]\n");
                return write.write_all(note.as_bytes()).await;
            }
        }
    }
    write.write_all(b"\n").await
}

/// What this service answers its own client when the model server fails. Retries are
/// already spent when an error comes back, so this only has to decide whose fault it is.
fn upstream_failure(e: &Error) -> (&'static str, String) {
    match e {
        Error::Api(api) if api.status == Some(429) => (
            "429 Too Many Requests",
            "the model server is rate limiting us; try again later".into(),
        ),
        Error::Api(api) => {
            let status = api.status.map(|s| s.to_string()).unwrap_or_default();
            // The provider's request id is what its support desk asks for.
            let id = api.request_id.as_deref().unwrap_or("none");
            eprintln!("async_server: model server said {status}, request id {id}");
            (
                "502 Bad Gateway",
                format!("the model server answered {status}: {}", api.message),
            )
        }
        Error::Timeout { phase, after, .. } => (
            "504 Gateway Timeout",
            format!("the model server took too long ({phase}, limit {after:?})"),
        ),
        Error::Connection(why) => (
            "502 Bad Gateway",
            format!("cannot reach the model server: {why}"),
        ),
        // `Error` is non-exhaustive: anything else is our own problem, not the client's.
        other => ("500 Internal Server Error", other.to_string()),
    }
}

/// Starts the service on a free port, sends it `n` prompts at once and prints the answers.
async fn self_test(model: OpenAICompatibleModel, n: usize) -> Result<(), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(listener, model));

    let clients: Vec<_> = (0..n)
        .map(|i| tokio::spawn(ask(addr, format!("Give me word number {i}."))))
        .collect();
    let mut failed = 0;
    for (i, client) in clients.into_iter().enumerate() {
        match client.await? {
            // One line per answer, whatever the model's line breaks.
            Ok(answer) => println!(
                "{i}: {}",
                answer.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
            Err(e) => {
                failed += 1;
                eprintln!("{i}: {e}");
            }
        }
    }
    if failed > 0 {
        return Err(format!("{failed} of {n} requests failed").into());
    }
    Ok(())
}

// HTTP plumbing: just enough HTTP/1.1 for one request per connection.

/// Reads a request head and its `content-length` body: the prompt of a `POST /ask`, or the
/// status and reason to refuse anything else with.
async fn read_prompt(
    read: OwnedReadHalf,
) -> std::io::Result<Result<String, (&'static str, &'static str)>> {
    let mut reader = BufReader::new(read);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).await?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 || line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    if !request_line.starts_with("POST /ask ") {
        return Ok(Err(("404 Not Found", "POST /ask with a prompt")));
    }
    if length > 64 * 1024 {
        return Ok(Err(("413 Payload Too Large", "the prompt is too long")));
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).await?;
    let prompt = String::from_utf8_lossy(&body).trim().to_owned();
    if prompt.is_empty() {
        return Ok(Err(("400 Bad Request", "the prompt is empty")));
    }
    Ok(Ok(prompt))
}

/// A response head; the body that follows ends when the connection closes.
async fn write_head(out: &mut (impl AsyncWrite + Unpin), status: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n\r\n"
    );
    out.write_all(head.as_bytes()).await
}

/// A whole response with a one-line body.
async fn reply(
    out: &mut (impl AsyncWrite + Unpin),
    status: &str,
    text: &str,
) -> std::io::Result<()> {
    write_head(out, status).await?;
    out.write_all(format!("{text}\n").as_bytes()).await
}

/// The client side of the self-test: posts a prompt and reads the answer to the end.
async fn ask(addr: SocketAddr, prompt: String) -> Result<String, BoxError> {
    let mut socket = TcpStream::connect(addr).await?;
    let request = format!(
        "POST /ask HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\n\r\n{prompt}",
        prompt.len()
    );
    socket.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    socket.read_to_string(&mut response).await?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or("malformed response")?;
    let status = head.lines().next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 200") || body.contains(STREAM_FAILED) {
        return Err(format!("{status}: {}", body.trim()).into());
    }
    Ok(body.trim().to_owned())
}
