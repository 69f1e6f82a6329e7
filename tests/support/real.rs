//! The real server of the real-server tests: the local llama.cpp server
//! (scripts/server/server.sh), or LiteLLM's proxy in front of it (scripts/litellm/proxy.sh),
//! picked by `OPENAI_COMPATIBLE_REAL_SERVER` (`llamacpp`, the default, or `litellm`). Started
//! on first use, shared by every test of the run, left running for the next binary
//! (scripts/test.sh stops it).
//!
//! Starting one installs Python packages and a 98 MB model, so the tests that use it are
//! opt-in: each is `#[ignore = "needs scripts/server/server.sh"]`, and scripts/test.sh runs them with
//! `--ignored` after the hermetic suites, once per target. A plain `cargo test` never calls this.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The environment variable that picks the [`Target`].
pub const TARGET_VAR: &str = "OPENAI_COMPATIBLE_REAL_SERVER";

/// What the real-server tests talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// llama.cpp's own server, directly.
    LlamaCpp,
    /// LiteLLM's proxy, routing model `smollm2` to that llama.cpp server.
    LiteLlm,
}

impl Target {
    /// The script that installs, starts and describes it, relative to the repository root.
    /// The one place each path is written down (the `#[ignore]` reasons only mention one).
    pub fn script(self) -> &'static str {
        match self {
            Target::LlamaCpp => SERVER_SCRIPT,
            Target::LiteLlm => PROXY_SCRIPT,
        }
    }

    /// Where that script writes `url` and `api_key`, relative to the repository root.
    fn state_dir(self) -> &'static str {
        match self {
            Target::LlamaCpp => ".server",
            Target::LiteLlm => ".litellm",
        }
    }
}

/// The llama.cpp server's script.
pub const SERVER_SCRIPT: &str = "scripts/server/server.sh";
/// LiteLLM's proxy's script (it starts the llama.cpp server too).
pub const PROXY_SCRIPT: &str = "scripts/litellm/proxy.sh";

/// The target `OPENAI_COMPATIBLE_REAL_SERVER` names; unset or empty is llama.cpp. Anything
/// else fails the test, so a typo never silently tests the default.
pub fn target() -> Target {
    match std::env::var(TARGET_VAR).unwrap_or_default().trim() {
        "" | "llamacpp" => Target::LlamaCpp,
        "litellm" => Target::LiteLlm,
        other => panic!("{TARGET_VAR}={other:?}: expected llamacpp or litellm"),
    }
}

/// Where the server listens and the key it wants.
#[derive(Debug, Clone)]
pub struct RealServer {
    pub target: Target,
    pub url: String,
    pub api_key: String,
    /// LiteLLM only: the port its `scripted-upstream` route forwards to, where a test may
    /// listen with a scripted server (an upstream that fails on purpose). Its
    /// `dead-upstream` route forwards to a closed port.
    pub scripted_upstream_port: Option<u16>,
}

impl RealServer {
    pub fn is_litellm(&self) -> bool {
        self.target == Target::LiteLlm
    }
}

/// The repository root: the scripts and their state dirs live there, and this package's
/// manifest is tests/Cargo.toml.
fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Starts the [`target`] if needed (idempotent and locked in its script) and returns its
/// address.
pub fn real_server() -> RealServer {
    static SERVER: OnceLock<RealServer> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let target = target();
            let script = target.script();
            let out = Command::new("bash")
                .arg(root().join(script))
                .arg("start")
                .output()
                .unwrap_or_else(|e| panic!("run {script}: {e}"));
            assert!(
                out.status.success(),
                "{script} start failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let dir = target.state_dir();
            let read = |f: &str| {
                std::fs::read_to_string(root().join(dir).join(f))
                    .unwrap_or_else(|e| panic!("{dir}/{f}: {e}"))
                    .trim()
                    .to_owned()
            };
            RealServer {
                target,
                url: read("url"),
                api_key: read("api_key"),
                scripted_upstream_port: (target == Target::LiteLlm)
                    .then(|| read("scripted_port").parse().expect("a port number")),
            }
        })
        .clone()
}
