//! The behaviour tests, one binary for all of them (cargo builds and links one test
//! executable instead of one per file). Each former `tests/<name>.rs` is a module here, so
//! test names read `faults::reset_mid_body`, and one file still runs alone:
//! `cargo test --test suite faults::`.
//!
//! Everything here shares one process and runs in parallel. Tests that change process-wide
//! state are separate binaries: `tests/env.rs` (environment variables) and
//! `tests/secrets.rs` (a global `tracing` subscriber and `log` logger) and
//! `tests/connect_env.rs` (the proxy variables of the real process environment).
//!
//! The real-server tests (`real_server::`) are `#[ignore]`d: scripts/test.sh runs them with
//! `cargo test --test suite -- --ignored real_server::`.
//!
//! All of tests/ is a package of its own, `openai-compatible-tests` (tests/Cargo.toml), so
//! that building the library's examples never compiles what only the tests need (proptest,
//! rcgen, ...). It is a default member of the workspace: `cargo test` at the repository
//! root runs these binaries along with the library's unit tests and doctests, and its
//! features mirror the library's, so `--features async` or `--no-default-features
//! --features blocking` there select the same build here. Its manifest dir is tests/: data
//! files are `concat!(env!("CARGO_MANIFEST_DIR"), "/data/…")`, and the repository root (the
//! scripts, `.server/`) is its parent (support/real.rs).

#[path = "../support/mod.rs"]
mod support;

mod concurrency;
mod connect;
mod core;
mod faults;
mod logging;
mod processing;
mod properties;
mod providers;
mod real_server;
mod request_surface;
mod responses;
mod reuse;
mod scripted_server;
mod streaming;
#[cfg(feature = "schema")]
mod structured;
#[cfg(feature = "tokens")]
mod tokens;
