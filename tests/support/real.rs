//! The real llama.cpp server (scripts/server.sh): started on first use, shared by every
//! test of the run, left running for the next binary (scripts/test.sh stops it).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Where the local server listens and the key it wants.
#[derive(Debug, Clone)]
pub struct RealServer {
    pub url: String,
    pub api_key: String,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Starts the server if needed (idempotent and locked in server.sh) and returns its address.
pub fn real_server() -> RealServer {
    static SERVER: OnceLock<RealServer> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let out = Command::new("bash")
                .arg(root().join("scripts/server.sh"))
                .arg("start")
                .output()
                .expect("run scripts/server.sh");
            assert!(
                out.status.success(),
                "scripts/server.sh start failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let read = |f: &str| {
                std::fs::read_to_string(root().join(".server").join(f))
                    .unwrap_or_else(|e| panic!(".server/{f}: {e}"))
                    .trim()
                    .to_owned()
            };
            RealServer {
                url: read("url"),
                api_key: read("api_key"),
            }
        })
        .clone()
}
