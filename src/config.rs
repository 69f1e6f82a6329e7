//! Resolution of the key, URL, timeout and retries from builder arguments and the
//! environment, in the order CAMEL uses (docs/SPEC.md §1). Pure: the environment is passed in, so
//! every rule is unit-tested without touching the process environment.

use std::fmt;
use std::time::Duration;

use crate::error::{Error, Result};

/// The default base URL when neither an argument nor the environment names one.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The timeout when neither an argument nor `MODEL_TIMEOUT` sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);
/// Retries after the first attempt, unless the builder says otherwise.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// The default cap on a response body: far above any real completion, low enough that a
/// broken or hostile server cannot exhaust memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 32 * 1024 * 1024;

const KEY_VARS: [&str; 2] = ["OPENAI_COMPATIBILITY_API_KEY", "OPENAI_API_KEY"];
const URL_VARS: [&str; 2] = ["OPENAI_COMPATIBILITY_API_BASE_URL", "OPENAI_BASE_URL"];

/// An API key. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ApiKey(String);

impl ApiKey {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// What the builder was given, before the environment fills the gaps.
#[derive(Default, Clone)]
pub(crate) struct Requested {
    pub api_key: Option<String>,
    pub url: Option<String>,
    pub timeout: Option<Duration>,
    pub organization: Option<String>,
    pub project: Option<String>,
    /// A custom client needs no key or URL.
    pub custom_client: bool,
}

/// The settled configuration a model runs with.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub api_key: Option<ApiKey>,
    /// Without a trailing slash; may carry a query string (kept for Azure-style URLs).
    pub base_url: String,
    pub timeout: Duration,
    pub organization: Option<String>,
    pub project: Option<String>,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

/// Applies docs/SPEC.md §1: explicit non-empty values first, then the environment, then defaults.
pub(crate) fn resolve(req: &Requested, env: &dyn Fn(&str) -> Option<String>) -> Result<Resolved> {
    let first_env = |vars: &[&str]| vars.iter().find_map(|v| non_empty(env(v)));

    let api_key = non_empty(req.api_key.clone()).or_else(|| first_env(&KEY_VARS));
    if api_key.is_none() && !req.custom_client {
        return Err(Error::Config(
            "no API key: pass one to the builder (`api_key`) or set OPENAI_COMPATIBILITY_API_KEY \
             or OPENAI_API_KEY (local servers that ignore keys accept any text)"
                .into(),
        ));
    }
    if let Some(k) = &api_key {
        if k.chars().any(|c| c.is_control()) {
            return Err(Error::Config(
                "the API key contains a control character (a stray newline?)".into(),
            ));
        }
    }

    let url = non_empty(req.url.clone())
        .or_else(|| first_env(&URL_VARS))
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    let base_url = validate_url(url.trim())?;

    let timeout = match req.timeout.filter(|t| !t.is_zero()) {
        Some(t) => t,
        None => match non_empty(env("MODEL_TIMEOUT")) {
            Some(raw) => parse_timeout(&raw)?.unwrap_or(DEFAULT_TIMEOUT),
            None => DEFAULT_TIMEOUT,
        },
    };

    Ok(Resolved {
        api_key: api_key.map(ApiKey),
        base_url,
        timeout,
        organization: non_empty(req.organization.clone())
            .or_else(|| non_empty(env("OPENAI_ORG_ID"))),
        project: non_empty(req.project.clone()).or_else(|| non_empty(env("OPENAI_PROJECT_ID"))),
    })
}

/// `MODEL_TIMEOUT` in seconds, as a float. `0` means unset (CAMEL); anything that is not a
/// finite non-negative number is a configuration error quoting the value.
pub(crate) fn parse_timeout(raw: &str) -> Result<Option<Duration>> {
    let secs: f64 = raw.trim().parse().map_err(|_| {
        Error::Config(format!(
            "MODEL_TIMEOUT must be a number of seconds, got {raw:?}"
        ))
    })?;
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(Error::Config(format!(
            "MODEL_TIMEOUT must be a non-negative number of seconds, got {raw:?}"
        )));
    }
    Ok((secs > 0.0).then(|| Duration::from_secs_f64(secs)))
}

fn validate_url(url: &str) -> Result<String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        Error::Config(format!(
            "the base URL {url:?} has no scheme: it should look like http://host:port/v1"
        ))
    })?;
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return Err(Error::Config(format!(
            "the base URL {url:?} must use http or https"
        )));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() {
        return Err(Error::Config(format!("the base URL {url:?} has no host")));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::Config(format!(
            "the base URL {url:?} contains white space"
        )));
    }
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (url, None),
    };
    let path = path.trim_end_matches('/');
    Ok(match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    })
}

/// `{base}/chat/completions`, with the base URL's own query string kept and the default
/// and per-call query parameters appended, percent-encoded.
pub(crate) fn endpoint(base: &str, path: &str, query: &[(String, String)]) -> String {
    let (base_path, base_query) = match base.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (base, None),
    };
    let mut url = format!("{base_path}/{path}");
    let mut sep = '?';
    if let Some(q) = base_query.filter(|q| !q.is_empty()) {
        url.push(sep);
        url.push_str(q);
        sep = '&';
    }
    for (k, v) in query {
        url.push(sep);
        percent_encode_into(k, &mut url);
        url.push('=');
        percent_encode_into(v, &mut url);
        sep = '&';
    }
    url
}

fn percent_encode_into(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn key_order_and_empty_strings() {
        let env = env_of(&[
            ("OPENAI_COMPATIBILITY_API_KEY", "compat"),
            ("OPENAI_API_KEY", "plain"),
        ]);
        let r = resolve(&Requested::default(), &env).unwrap();
        assert_eq!(r.api_key.unwrap().expose(), "compat");
        let explicit = Requested {
            api_key: Some("mine".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve(&explicit, &env).unwrap().api_key.unwrap().expose(),
            "mine"
        );
        let empty = Requested {
            api_key: Some(String::new()),
            ..Default::default()
        };
        let env2 = env_of(&[
            ("OPENAI_COMPATIBILITY_API_KEY", ""),
            ("OPENAI_API_KEY", "plain"),
        ]);
        assert_eq!(
            resolve(&empty, &env2).unwrap().api_key.unwrap().expose(),
            "plain"
        );
    }

    #[test]
    fn missing_key_names_all_sources() {
        let err = resolve(&Requested::default(), &env_of(&[]))
            .unwrap_err()
            .to_string();
        for name in ["api_key", "OPENAI_COMPATIBILITY_API_KEY", "OPENAI_API_KEY"] {
            assert!(err.contains(name), "{err}");
        }
        let custom = Requested {
            custom_client: true,
            ..Default::default()
        };
        assert!(resolve(&custom, &env_of(&[])).is_ok());
    }

    #[test]
    fn url_order_default_and_trailing_slash() {
        let key = [("OPENAI_API_KEY", "k")];
        let r = resolve(&Requested::default(), &env_of(&key)).unwrap();
        assert_eq!(r.base_url, DEFAULT_BASE_URL);
        let env = env_of(&[
            ("OPENAI_API_KEY", "k"),
            ("OPENAI_COMPATIBILITY_API_BASE_URL", "http://a:1/v1/"),
            ("OPENAI_BASE_URL", "http://b:2/v1"),
        ]);
        assert_eq!(
            resolve(&Requested::default(), &env).unwrap().base_url,
            "http://a:1/v1"
        );
        let env = env_of(&[
            ("OPENAI_API_KEY", "k"),
            ("OPENAI_BASE_URL", "http://b:2/v1"),
        ]);
        assert_eq!(
            resolve(&Requested::default(), &env).unwrap().base_url,
            "http://b:2/v1"
        );
        for bad in [
            "localhost:8080",
            "ftp://x/v1",
            "http:///v1",
            "http://a b/v1",
        ] {
            let req = Requested {
                url: Some(bad.into()),
                ..Default::default()
            };
            assert!(
                matches!(resolve(&req, &env_of(&key)), Err(Error::Config(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn timeout_rules() {
        let k = ("OPENAI_API_KEY", "k");
        assert_eq!(
            resolve(&Requested::default(), &env_of(&[k]))
                .unwrap()
                .timeout,
            DEFAULT_TIMEOUT
        );
        let r = resolve(
            &Requested::default(),
            &env_of(&[k, ("MODEL_TIMEOUT", "2.5")]),
        )
        .unwrap();
        assert_eq!(r.timeout, Duration::from_millis(2500));
        let r = resolve(&Requested::default(), &env_of(&[k, ("MODEL_TIMEOUT", "0")])).unwrap();
        assert_eq!(r.timeout, DEFAULT_TIMEOUT);
        let err = resolve(
            &Requested::default(),
            &env_of(&[k, ("MODEL_TIMEOUT", "soon")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("\"soon\""), "{err}");
        assert!(resolve(
            &Requested::default(),
            &env_of(&[k, ("MODEL_TIMEOUT", "-1")])
        )
        .is_err());
        let explicit = Requested {
            timeout: Some(Duration::from_secs(7)),
            ..Default::default()
        };
        let r = resolve(&explicit, &env_of(&[k, ("MODEL_TIMEOUT", "2")])).unwrap();
        assert_eq!(r.timeout, Duration::from_secs(7));
    }

    #[test]
    fn endpoint_keeps_base_query_and_encodes() {
        assert_eq!(
            endpoint("http://h/v1", "chat/completions", &[]),
            "http://h/v1/chat/completions"
        );
        assert_eq!(
            endpoint(
                "https://h/openai?api-version=2024",
                "chat/completions",
                &[("a b".into(), "x&y".into())]
            ),
            "https://h/openai/chat/completions?api-version=2024&a%20b=x%26y"
        );
    }

    #[test]
    fn key_debug_is_redacted() {
        assert!(!format!("{:?}", ApiKey("sk-123".into())).contains("sk-123"));
    }
}
