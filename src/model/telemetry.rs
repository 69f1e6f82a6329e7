//! OpenTelemetry GenAI fields on the request span, through `tracing`.
//!
//! Each request (one `chat` span, retries included) records what was asked — operation,
//! provider, model, server address and port, whether it streams, and the sampling
//! parameters that were set — and what came back: response id and model, finish reasons,
//! token usage (cached input and reasoning output included), time to the first chunk of a
//! stream, and `error.type` on failure. Message content is never recorded, and nothing is
//! computed when no subscriber listens to the span.
//!
//! Field names follow the GenAI semantic conventions; `gen_ai.response.time_to_first_chunk`
//! (seconds) has no standard span attribute and is this crate's; `openai.api.type`
//! (`chat_completions` or `responses`) is the wire protocol of the model.

use serde::Deserialize;
use serde_json::Value;
use tracing::Span;

use super::OpenAICompatibleModel;
use crate::error::Error;
use crate::request::Prepared;
use crate::types::ChatCompletion;

/// Opens the span of one request. Its fields are listed here once, empty, and recorded by
/// the functions below.
macro_rules! request_span {
    ($model:expr, $mode:expr) => {
        tracing::info_span!(
            "chat",
            gen_ai.operation.name = "chat",
            gen_ai.provider.name = tracing::field::Empty,
            gen_ai.request.model = %$model.model_type,
            openai.api.type = $model.api_mode.as_str(),
            server.address = tracing::field::Empty,
            server.port = tracing::field::Empty,
            gen_ai.request.stream = tracing::field::Empty,
            gen_ai.request.temperature = tracing::field::Empty,
            gen_ai.request.top_p = tracing::field::Empty,
            gen_ai.request.top_k = tracing::field::Empty,
            gen_ai.request.max_tokens = tracing::field::Empty,
            gen_ai.request.frequency_penalty = tracing::field::Empty,
            gen_ai.request.presence_penalty = tracing::field::Empty,
            gen_ai.request.seed = tracing::field::Empty,
            gen_ai.request.stop_sequences = tracing::field::Empty,
            gen_ai.request.choice.count = tracing::field::Empty,
            gen_ai.response.id = tracing::field::Empty,
            gen_ai.response.model = tracing::field::Empty,
            gen_ai.response.finish_reasons = tracing::field::Empty,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
            gen_ai.usage.cache_read.input_tokens = tracing::field::Empty,
            gen_ai.usage.reasoning.output_tokens = tracing::field::Empty,
            gen_ai.response.time_to_first_chunk = tracing::field::Empty,
            error.type = tracing::field::Empty,
            model = %$model.model_type,
            mode = $mode,
        )
    };
}
pub(super) use request_span;

/// The sampling parameters the semantic conventions name, read from the body sent.
#[derive(Deserialize, Default)]
struct Params {
    temperature: Option<f64>,
    top_p: Option<f64>,
    top_k: Option<f64>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
    frequency_penalty: Option<f64>,
    presence_penalty: Option<f64>,
    seed: Option<i64>,
    stop: Option<Value>,
    n: Option<u64>,
}

/// Records the request side: provider, server, streaming, and the parameters that were set.
pub(super) fn record_request(span: &Span, model: &OpenAICompatibleModel, prepared: &Prepared) {
    if span.is_disabled() {
        return;
    }
    let (host, port) = host_and_port(&model.base_url);
    span.record("gen_ai.provider.name", provider(host));
    span.record("server.address", host);
    if let Some(port) = port {
        span.record("server.port", port);
    }
    if prepared.stream {
        span.record("gen_ai.request.stream", true);
    }
    // Lenient: a parameter of an unexpected type is simply not recorded.
    let p: Params = serde_json::from_slice(&prepared.body).unwrap_or_default();
    let set_f64 = |name: &str, v: Option<f64>| {
        if let Some(v) = v {
            span.record(name, v);
        }
    };
    set_f64("gen_ai.request.temperature", p.temperature);
    set_f64("gen_ai.request.top_p", p.top_p);
    set_f64("gen_ai.request.top_k", p.top_k);
    set_f64("gen_ai.request.frequency_penalty", p.frequency_penalty);
    set_f64("gen_ai.request.presence_penalty", p.presence_penalty);
    if let Some(max) = p.max_completion_tokens.or(p.max_tokens) {
        span.record("gen_ai.request.max_tokens", max);
    }
    if let Some(seed) = p.seed {
        span.record("gen_ai.request.seed", seed);
    }
    if let Some(n) = p.n {
        span.record("gen_ai.request.choice.count", n);
    }
    let stop = match p.stop {
        Some(Value::String(s)) => Some(vec![s]),
        Some(Value::Array(items)) => Some(
            items
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    };
    if let Some(stop) = stop {
        span.record("gen_ai.request.stop_sequences", tracing::field::debug(stop));
    }
}

/// Records the answer: id, model, finish reasons and usage.
pub(super) fn record_completion(span: &Span, completion: &ChatCompletion) {
    if span.is_disabled() {
        return;
    }
    if !completion.id.is_empty() {
        span.record("gen_ai.response.id", completion.id.as_str());
    }
    if !completion.model.is_empty() {
        span.record("gen_ai.response.model", completion.model.as_str());
    }
    let reasons: Vec<&str> = completion
        .choices
        .iter()
        .filter_map(|c| c.finish_reason.as_ref().map(|r| r.as_str()))
        .collect();
    if !reasons.is_empty() {
        span.record(
            "gen_ai.response.finish_reasons",
            tracing::field::debug(reasons),
        );
    }
    if let Some(usage) = &completion.usage {
        span.record("gen_ai.usage.input_tokens", usage.prompt_tokens);
        span.record("gen_ai.usage.output_tokens", usage.completion_tokens);
        let cached = usage.prompt_tokens_details.as_ref();
        if let Some(n) = cached.and_then(|d| d.cached_tokens) {
            span.record("gen_ai.usage.cache_read.input_tokens", n);
        }
        let reasoning = usage.completion_tokens_details.as_ref();
        if let Some(n) = reasoning.and_then(|d| d.reasoning_tokens) {
            span.record("gen_ai.usage.reasoning.output_tokens", n);
        }
    }
}

/// Records a failure's `error.type`: the HTTP status of an API error, else the kind.
pub(super) fn record_error(span: &Span, error: &Error) {
    if span.is_disabled() {
        return;
    }
    let kind = match error {
        Error::Api(api) => match api.status {
            Some(status) => {
                span.record("error.type", status.to_string().as_str());
                return;
            }
            None => "api_error",
        },
        Error::StreamApi(_) => "stream_error",
        Error::Timeout { .. } => "timeout",
        Error::Decode { .. } => "decode_error",
        Error::BodyTooLarge { .. } => "body_too_large",
        Error::IncompleteStream(_) => "incomplete_stream",
        Error::Length(_) => "length",
        Error::ContentFilter(_) => "content_filter",
        Error::Refusal(_) => "refusal",
        Error::Client(_) => "client_error",
        Error::Config(_) => "config_error",
        Error::InvalidInput(_) => "invalid_input",
        _ => "connection_error",
    };
    span.record("error.type", kind);
}

/// Records the time from the open stream to its first chunk, in seconds.
pub(super) fn record_first_chunk(span: &Span, after: std::time::Duration) {
    span.record("gen_ai.response.time_to_first_chunk", after.as_secs_f64());
}

/// `server.address` and `server.port` of a base URL (the port only when it is written).
fn host_and_port(url: &str) -> (&str, Option<u16>) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').unwrap_or((v6, ""));
        return (host, after.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, port.parse().ok()),
        None => (authority, None),
    }
}

/// `gen_ai.provider.name`: the well-known value of a provider's public endpoint, else
/// `openai_compatible` (any other server speaking the same API).
fn provider(host: &str) -> &'static str {
    let host = host.to_ascii_lowercase();
    let is = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
    if is("api.openai.com") {
        "openai"
    } else if is("openai.azure.com") {
        "azure.ai.openai"
    } else if is("api.deepseek.com") {
        "deepseek"
    } else if is("api.groq.com") {
        "groq"
    } else if is("api.mistral.ai") {
        "mistral_ai"
    } else if is("api.x.ai") {
        "x_ai"
    } else if is("api.perplexity.ai") {
        "perplexity"
    } else {
        "openai_compatible"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_address_and_port_from_base_urls() {
        assert_eq!(
            host_and_port("http://127.0.0.1:8080/v1"),
            ("127.0.0.1", Some(8080))
        );
        assert_eq!(
            host_and_port("https://api.openai.com/v1"),
            ("api.openai.com", None)
        );
        assert_eq!(
            host_and_port("http://[::1]:9000/v1?x=1"),
            ("::1", Some(9000))
        );
        assert_eq!(
            host_and_port("https://u:p@h.example:443"),
            ("h.example", Some(443))
        );
        assert_eq!(provider("API.OpenAI.com"), "openai");
        assert_eq!(provider("my-res.openai.azure.com"), "azure.ai.openai");
        assert_eq!(provider("127.0.0.1"), "openai_compatible");
        assert_eq!(provider("notapi.openai.com.evil"), "openai_compatible");
    }
}
