//! How a server embeds the crate: one model, cloned into every request handler, answering
//! many clients at once (async build only).
//!
//! A tiny HTTP service: `POST /ask` with a prompt as the body answers with the model's
//! reply as text. Run it as a service, or let it test itself:
//!
//! ```text
//! cargo run --features async --example async_server -- serve 127.0.0.1:3000
//! cargo run --features async --example async_server -- self-test 8
//! ```
//!
//! `self-test N` starts the service on a free loopback port, sends it N concurrent requests
//! and prints one line per answer. Key and URL come from the environment
//! (`scripts/server.sh env` prints them for the local llama.cpp server); the model name
//! from `MODEL` (default `smollm2`).

use std::sync::Arc;

use openai_compatible::{ChatMessage, OpenAICompatibleModel};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Reads one HTTP/1.1 request (head and Content-Length body); answers and closes.
async fn handle(stream: TcpStream, model: Arc<OpenAICompatibleModel>) -> Result<(), BoxError> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).await?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let (status, body) = if !request_line.starts_with("POST /ask ") {
        ("404 Not Found", "POST /ask with a prompt\n".to_owned())
    } else if length > 64 * 1024 {
        ("413 Payload Too Large", "prompt too long\n".to_owned())
    } else {
        let mut prompt = vec![0u8; length];
        reader.read_exact(&mut prompt).await?;
        let prompt = String::from_utf8_lossy(&prompt).into_owned();
        // The model is shared: each handler runs its own request on the same pool.
        match model.complete(&[ChatMessage::user(prompt)]).await {
            Ok(c) => ("200 OK", format!("{}\n", c.content().unwrap_or_default())),
            Err(e) => ("502 Bad Gateway", format!("{e}\n")),
        }
    };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    write.write_all(head.as_bytes()).await?;
    write.write_all(body.as_bytes()).await?;
    Ok(())
}

async fn serve(listener: TcpListener, model: Arc<OpenAICompatibleModel>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let model = model.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(stream, model).await {
                eprintln!("async_server: {e}");
            }
        });
    }
}

async fn ask(addr: std::net::SocketAddr, prompt: &str) -> Result<String, BoxError> {
    let mut s = TcpStream::connect(addr).await?;
    let req = format!(
        "POST /ask HTTP/1.1\r\nhost: local\r\ncontent-length: {}\r\n\r\n{prompt}",
        prompt.len()
    );
    s.write_all(req.as_bytes()).await?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).await?;
    let (head, body) = resp.split_once("\r\n\r\n").ok_or("malformed response")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("{}: {}", head.lines().next().unwrap_or(""), body.trim()).into());
    }
    Ok(body.trim().to_owned())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = Arc::new(
        OpenAICompatibleModel::builder(std::env::var("MODEL").unwrap_or_else(|_| "smollm2".into()))
            .model_config(json!({"temperature": 0, "max_tokens": 24}))
            .build()?,
    );
    match args.first().map(String::as_str) {
        Some("serve") => {
            let addr = args.get(1).map(String::as_str).unwrap_or("127.0.0.1:3000");
            let listener = TcpListener::bind(addr).await?;
            eprintln!("listening on http://{}/ask", listener.local_addr()?);
            serve(listener, model).await;
            Ok(())
        }
        Some("self-test") => {
            let n: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(4);
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            tokio::spawn(serve(listener, model));
            let mut tasks = Vec::new();
            for i in 0..n {
                tasks.push(tokio::spawn(async move {
                    ask(addr, &format!("Give me word number {i}.")).await
                }));
            }
            let mut failed = 0;
            for (i, t) in tasks.into_iter().enumerate() {
                match t.await? {
                    Ok(answer) => println!("{i}: {answer}"),
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
        _ => Err("usage: async_server serve [ADDR] | self-test [N]".into()),
    }
}
