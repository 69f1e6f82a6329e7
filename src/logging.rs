//! Model I/O logs: CAMEL's `CAMEL_MODEL_LOG_ENABLED` JSON files, one per request.
//!
//! Off by default. When on, each request writes
//! `<dir>/<agent id or "none">/conv_<YYYYmmdd_HHMMSS_micros>.json` (UTC) as soon as it is
//! sent, holding the request time, the model and the final payload — the exact body sent,
//! after tools resolution and config merge, split as CAMEL does into `messages` and
//! `model_config_dict` — and rewrites it with the response and its time when the answer is
//! in. A stream is recorded when it ends: the assembled content, tool calls, finish reason
//! and usage of what was read. Text is written as UTF-8, never `\u` escaped, indented like
//! CAMEL's (4 spaces).
//!
//! Logging never fails a request: a file that cannot be written is reported through
//! `tracing` at warn level and the request goes on. Headers are not logged, so the API key
//! never is.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::types::ChatCompletion;

/// Env: turns the logs on (`1`, `true`, `yes`, `on`, any case).
pub(crate) const ENV_ENABLED: &str = "CAMEL_MODEL_LOG_ENABLED";
/// Env: whether the request parameters are logged (default: same as [`ENV_ENABLED`]).
pub(crate) const ENV_MODEL_CONFIG: &str = "CAMEL_MODEL_LOG_MODEL_CONFIG_ENABLED";
/// Env: where the logs go (default `camel_logs`).
pub(crate) const ENV_DIR: &str = "CAMEL_LOG_DIR";
const DEFAULT_DIR: &str = "camel_logs";
const NO_AGENT: &str = "none";

/// The builder's overrides; anything unset comes from the environment at `build()`.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogOptions {
    pub enabled: Option<bool>,
    pub model_config: Option<bool>,
    pub dir: Option<PathBuf>,
    pub agent_id: Option<String>,
}

impl LogOptions {
    /// The logger, or `None` when logging is off.
    pub(crate) fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Option<IoLog> {
        let flag = |name: &str| env(name).map(|v| truthy(&v));
        let enabled = self.enabled.or_else(|| flag(ENV_ENABLED)).unwrap_or(false);
        if !enabled {
            return None;
        }
        let model_config = self
            .model_config
            .or_else(|| flag(ENV_MODEL_CONFIG))
            .unwrap_or(enabled);
        let dir = self.dir.clone().unwrap_or_else(|| {
            env(ENV_DIR)
                .filter(|d| !d.trim().is_empty())
                .map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from)
        });
        Some(IoLog {
            dir: dir.join(agent_dir(self.agent_id.as_deref())),
            model_config,
            agent_id: self.agent_id.clone(),
        })
    }
}

fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

/// The folder for an agent's logs: its id made safe as one path component. CAMEL files a
/// context summarizer's logs with its agent's.
fn agent_dir(agent_id: Option<&str>) -> String {
    let id = agent_id
        .map(|a| a.strip_suffix("_context_summarizer").unwrap_or(a))
        .filter(|a| !a.is_empty());
    let Some(id) = id else {
        return NO_AGENT.to_owned();
    };
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.chars().all(|c| c == '.') {
        safe.replace('.', "_")
    } else {
        safe
    }
}

/// Resolved logging settings of one model.
#[derive(Debug)]
pub(crate) struct IoLog {
    /// `<log dir>/<agent>`.
    dir: PathBuf,
    model_config: bool,
    agent_id: Option<String>,
}

impl IoLog {
    /// Writes the request's log file. `None` (after a warning) when it cannot be written.
    pub(crate) fn request(&self, model: &str, body: &[u8]) -> Option<LogRecord> {
        let mut entry = Map::new();
        entry.insert("request_timestamp".into(), Value::String(iso_now()));
        entry.insert("model".into(), Value::String(model.to_owned()));
        entry.insert(
            "agent_id".into(),
            self.agent_id.clone().map_or(Value::Null, Value::String),
        );
        entry.insert("request".into(), self.request_entry(body));
        let written = fs::create_dir_all(&self.dir)
            .and_then(|()| create_unique(&self.dir, &file_stamp(SystemTime::now())))
            .and_then(|(path, file)| write_json(file, &entry).map(|()| path));
        match written {
            Ok(path) => Some(LogRecord { path, entry }),
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "could not write the model I/O log");
                None
            }
        }
    }

    /// `{"messages": …, "model_config_dict": {every other key of the body}}`.
    fn request_entry(&self, body: &[u8]) -> Value {
        let mut request = Map::new();
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(mut payload)) => {
                payload.shift_remove("model");
                let messages = payload.shift_remove("messages").unwrap_or(Value::Null);
                request.insert("messages".into(), messages);
                if self.model_config {
                    request.insert("model_config_dict".into(), Value::Object(payload));
                }
            }
            // The body is built by this crate and always an object; keep anything else raw.
            Ok(other) => {
                request.insert("body".into(), other);
            }
            Err(_) => {
                request.insert(
                    "body".into(),
                    Value::String(String::from_utf8_lossy(body).into_owned()),
                );
            }
        }
        Value::Object(request)
    }
}

/// One request's log file, waiting for the response.
#[derive(Debug)]
pub(crate) struct LogRecord {
    path: PathBuf,
    entry: Map<String, Value>,
}

impl LogRecord {
    /// Adds the outcome of a non-streamed request and rewrites the file.
    pub(crate) fn finish(self, outcome: Result<&ChatCompletion, &Error>) {
        match outcome {
            Ok(c) => self.write_response(to_value(c), None, None),
            Err(e) => self.write_response(Value::Null, Some(e), None),
        }
    }

    /// Adds what a stream delivered and how it ended (`how`: `done`, `error` with the
    /// error, or `dropped`), and rewrites the file.
    pub(crate) fn finish_stream(
        self,
        assembled: &ChatCompletion,
        how: &str,
        error: Option<&Error>,
    ) {
        self.write_response(to_value(assembled), error, Some(how));
    }

    fn write_response(mut self, response: Value, error: Option<&Error>, stream_end: Option<&str>) {
        self.entry
            .insert("response_timestamp".into(), Value::String(iso_now()));
        self.entry.insert("response".into(), response);
        if let Some(how) = stream_end {
            self.entry
                .insert("stream_end".into(), Value::String(how.to_owned()));
        }
        if let Some(e) = error {
            // Error texts redact the API key.
            self.entry
                .insert("error".into(), Value::String(e.to_string()));
        }
        let written = File::create(&self.path).and_then(|f| write_json(f, &self.entry));
        if let Err(e) = written {
            tracing::warn!(path = %self.path.display(), error = %e, "could not write the model I/O log");
        }
    }
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_else(|e| Value::String(format!("<not serializable: {e}>")))
}

/// Pretty JSON with CAMEL's 4-space indent. serde_json writes non-ASCII text as UTF-8.
fn write_json(file: File, value: &Map<String, Value>) -> io::Result<()> {
    let mut out = io::BufWriter::new(file);
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut ser).map_err(io::Error::other)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// `conv_<time>.json`, or `conv_<time>_<n>.json` when another request (of this or another
/// process) got the same microsecond.
fn create_unique(dir: &Path, stamp: &str) -> io::Result<(PathBuf, File)> {
    let mut n = 0u32;
    loop {
        let name = if n == 0 {
            format!("conv_{stamp}.json")
        } else {
            format!("conv_{stamp}_{n}.json")
        };
        let path = dir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 10_000 => n += 1,
            Err(e) => return Err(e),
        }
    }
}

/// UTC calendar time: (year, month, day, hour, minute, second, microsecond).
fn utc(t: SystemTime) -> (i64, u32, u32, u32, u32, u32, u32) {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(since.as_secs()).unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let small = |v: i64| u32::try_from(v).unwrap_or(0);
    (
        year,
        small(month),
        small(day),
        small(rem / 3600),
        small(rem % 3600 / 60),
        small(rem % 60),
        since.subsec_micros(),
    )
}

fn file_stamp(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s, us) = utc(t);
    format!("{y:04}{mo:02}{d:02}_{h:02}{mi:02}{s:02}_{us:06}")
}

/// Python's `datetime.isoformat()` of an aware UTC time.
fn iso(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s, us) = utc(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}+00:00")
}

fn iso_now() -> String {
    iso(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::time::Duration;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    #[test]
    fn env_flags_and_defaults() {
        let none = LogOptions::default();
        assert!(none.resolve(&env(&[])).is_none());
        for on in ["1", "true", "TRUE", " Yes ", "on", "On"] {
            let log = none.resolve(&env(&[(ENV_ENABLED, on)])).unwrap();
            assert!(log.model_config, "{on}");
            assert_eq!(log.dir, Path::new("camel_logs").join("none"));
        }
        for off in ["0", "false", "no", "off", "", "nope"] {
            assert!(none.resolve(&env(&[(ENV_ENABLED, off)])).is_none(), "{off}");
        }
        let log = none
            .resolve(&env(&[
                (ENV_ENABLED, "true"),
                (ENV_MODEL_CONFIG, "false"),
                (ENV_DIR, "/tmp/x"),
            ]))
            .unwrap();
        assert!(!log.model_config);
        assert_eq!(log.dir, Path::new("/tmp/x/none"));
    }

    #[test]
    fn builder_overrides_win() {
        let opts = LogOptions {
            enabled: Some(true),
            model_config: None,
            dir: Some("d".into()),
            agent_id: Some("agent-7".into()),
        };
        let log = opts.resolve(&env(&[(ENV_DIR, "ignored")])).unwrap();
        assert!(log.model_config);
        assert_eq!(log.dir, Path::new("d/agent-7"));
        let off = LogOptions {
            enabled: Some(false),
            ..LogOptions::default()
        };
        assert!(off.resolve(&env(&[(ENV_ENABLED, "1")])).is_none());
    }

    #[test]
    fn agent_dirs_are_one_safe_component() {
        assert_eq!(agent_dir(None), "none");
        assert_eq!(agent_dir(Some("")), "none");
        assert_eq!(agent_dir(Some("a1_context_summarizer")), "a1");
        assert_eq!(agent_dir(Some("../etc/x")), ".._etc_x");
        assert_eq!(agent_dir(Some("..")), "__");
        assert_eq!(agent_dir(Some("研究员 1")), "研究员_1");
    }

    #[test]
    fn timestamps() {
        let t = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        assert_eq!(file_stamp(t), "20231114_221320_123456");
        assert_eq!(iso(t), "2023-11-14T22:13:20.123456+00:00");
        assert_eq!(file_stamp(UNIX_EPOCH), "19700101_000000_000000");
        // A leap day.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(iso(leap), "2000-02-29T00:00:00.000000+00:00");
    }

    #[test]
    fn names_are_unique_within_one_microsecond() {
        let dir = std::env::temp_dir().join(format!("oc-log-unique-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let stamp = "20240101_000000_000001";
        let names: Vec<String> = (0..3)
            .map(|_| {
                let (path, _) = create_unique(&dir, stamp).unwrap();
                path.file_name().unwrap().to_string_lossy().into_owned()
            })
            .collect();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            names,
            [
                "conv_20240101_000000_000001.json",
                "conv_20240101_000000_000001_1.json",
                "conv_20240101_000000_000001_2.json"
            ]
        );
    }

    #[test]
    fn request_entry_splits_the_payload() {
        let log = IoLog {
            dir: PathBuf::new(),
            model_config: true,
            agent_id: None,
        };
        let body = br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.5,"tools":[]}"#;
        assert_eq!(
            log.request_entry(body),
            serde_json::json!({
                "messages": [{"role":"user","content":"hi"}],
                "model_config_dict": {"temperature":0.5,"tools":[]}
            })
        );
        let log = IoLog {
            model_config: false,
            ..log
        };
        assert_eq!(
            log.request_entry(body),
            serde_json::json!({"messages": [{"role":"user","content":"hi"}]})
        );
        assert_eq!(
            log.request_entry(b"\xff"),
            serde_json::json!({"body": "\u{fffd}"})
        );
    }
}
