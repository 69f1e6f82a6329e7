//! The real llama.cpp server (scripts/server/server.sh): started on first use, shared by every
//! test of the run, left running for the next binary (scripts/test.sh stops it).
//!
//! Starting it installs Python packages and a 98 MB model, so the tests that use it are
//! opt-in: each is `#[ignore = "needs scripts/server/server.sh"]`, and scripts/test.sh runs them with
//! `--ignored` after the hermetic suites. A plain `cargo test` never calls this.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Where the local server listens and the key it wants.
#[derive(Debug, Clone)]
pub struct RealServer {
    pub url: String,
    pub api_key: String,
}

/// The script that installs, starts and describes the server, relative to the repository
/// root. The one place its path is written down (the `#[ignore]` reasons only mention it).
pub const SERVER_SCRIPT: &str = "scripts/server/server.sh";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Starts the server if needed (idempotent and locked in server.sh) and returns its address.
pub fn real_server() -> RealServer {
    static SERVER: OnceLock<RealServer> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let out = Command::new("bash")
                .arg(root().join(SERVER_SCRIPT))
                .arg("start")
                .output()
                .unwrap_or_else(|e| panic!("run {SERVER_SCRIPT}: {e}"));
            assert!(
                out.status.success(),
                "{SERVER_SCRIPT} start failed:\n{}",
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
