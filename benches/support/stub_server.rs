//! `stub_server [ADDR]` (default `127.0.0.1:0`): prints its base URL `http://ADDR/v1` on
//! the first stdout line, then serves forever. The server itself: [`stub`].

use std::io::Write;
use std::net::TcpListener;

use openai_compatible_benches::stub;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(&addr)?;
    println!("http://{}/v1", listener.local_addr()?);
    // bench.sh reads the URL while the server runs: it must not sit in a buffer.
    std::io::stdout().flush()?;
    stub::serve(listener);
    Ok(())
}
