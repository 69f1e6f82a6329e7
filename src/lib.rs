//! A client for any OpenAI-compatible chat-completions server — OpenAI, vLLM, llama.cpp,
//! Ollama, LiteLLM, DeepSeek, Groq, OpenRouter and the rest — blocking by default, async
//! with one feature. It is a Rust port of CAMEL-AI's `OpenAICompatibleModel`: the same
//! configuration rules, retries, timeouts and message handling, with Rust types.
//!
//! # Quick start
//!
//! ```no_run
//! # #[cfg(not(feature = "async"))] {
//! use openai_compatible::{ChatMessage, OpenAICompatibleModel};
//!
//! let model = OpenAICompatibleModel::builder("gpt-4o-mini")
//!     .url("http://127.0.0.1:8080/v1")   // or OPENAI_COMPATIBILITY_API_BASE_URL
//!     .api_key("sk-…")                   // or OPENAI_COMPATIBILITY_API_KEY / OPENAI_API_KEY
//!     .model_config(serde_json::json!({"temperature": 0.2, "max_tokens": 200}))
//!     .build()?;
//!
//! let answer = model.complete(&[
//!     ChatMessage::system("You are terse."),
//!     ChatMessage::user("Name a prime number."),
//! ])?;
//! println!("{}", answer.content().unwrap_or_default());
//! # }
//! # Ok::<(), openai_compatible::Error>(())
//! ```
//!
//! The same in the async build (feature `async`), inside a tokio runtime: the methods are
//! the same, awaited.
//!
//! ```no_run
//! # #[cfg(feature = "async")]
//! # async fn demo() -> openai_compatible::Result<()> {
//! use openai_compatible::{ChatMessage, OpenAICompatibleModel};
//!
//! let model = OpenAICompatibleModel::builder("gpt-4o-mini")
//!     .url("http://127.0.0.1:8080/v1")
//!     .api_key("sk-…")
//!     .build()?;
//! let answer = model.complete(&[ChatMessage::user("Name a prime number.")]).await?;
//! println!("{}", answer.content().unwrap_or_default());
//! # Ok(())
//! # }
//! ```
//!
//! # Blocking or async
//!
//! The crate is written once and compiled in one of two modes:
//!
//! * **blocking** (the default feature): requests go through [ureq]; every method returns
//!   its result directly and streams are `Iterator`s. Good for CLIs, scripts and threads.
//! * **async** (feature `async`): requests go through [reqwest] on tokio; the same methods
//!   are `async fn`s, their futures are `Send` (spawn them freely), and streams are
//!   `futures::Stream`s.
//!
//! `async` is a *mode switch*, not an add-on: when any crate in a build enables it, the
//! whole crate is async (cargo unifies features). Async users may write
//! `openai-compatible = { version = "0.1", default-features = false, features = ["async", "schema", "tokens"] }`
//! to skip compiling ureq.
//!
//! What feature unification means for an application: cargo builds this crate once per
//! build, with the union of the features every crate in the dependency graph asks for. If
//! your application writes blocking code and one of its dependencies (or another workspace
//! member built together with it) turns `async` on, your code now sees the async API and
//! stops compiling — `model.complete(..)?` is a future, not a `Result`, and a stream is no
//! longer an `Iterator`. It fails at compile time, never by changing behaviour at run time.
//! `cargo tree -e features -i openai-compatible` shows which crate turned the feature on.
//! The ways out: write your code for the async API too, or keep the two users of this crate
//! in separate builds. One build cannot hold both modes.
//!
//! A *library* that uses this crate should therefore not pick the mode for its users:
//! depend on it with `default-features = false` and forward `blocking` and `async` features
//! of its own (with `blocking` among its defaults: this crate refuses to build with neither),
//! or, if the library is async only, say so in its documentation.
//!
//! # Features
//!
//! | feature | default | what it brings |
//! |---|---|---|
//! | `blocking` | on | the blocking API on ureq (ignored when `async` is on) |
//! | `async` | off | the async API on reqwest and tokio instead (a mode switch, see above) |
//! | `schema` | on | `ResponseFormat::for_type`, `parse::<T>`, `stream_parse::<T>` from a `schemars::JsonSchema` type |
//! | `tokens` | on | [`tokens`], the model's `token_counter` and `count_tokens_from_messages` (tiktoken-rs and its tables: about 9 MB of a binary) |
//! | `_internal` | off | **not for users**: unstable internals for this repository's benches and fuzz targets; hidden from these docs, outside semver, may change or vanish in any release |
//!
//! A client that never counts tokens can turn `tokens` off
//! (`default-features = false, features = ["blocking"]`): the stripped `chat` example shrinks
//! from about 13 MB to about 4 MB.
//!
//! The documentation on docs.rs is the default build's: blocking, with `schema` and `tokens`.
//! Items that exist only with a feature, or only in one mode, say so ("Available on crate
//! feature `tokens` only"; blocking-only items: "non-crate feature `async`"). The async
//! build's own pages — its `async fn`s and `Stream`s, `http_client`, `reqwest_client_builder`
//! and `async_trait` — come from `cargo doc --open --features async`; this guide shows both
//! modes side by side.
//!
//! # Configuration
//!
//! [`OpenAICompatibleModel::builder`] takes the model name; everything else is optional and
//! resolved the way CAMEL does:
//!
//! | setting | first of |
//! |---|---|
//! | API key | `.api_key()`, `OPENAI_COMPATIBILITY_API_KEY`, `OPENAI_API_KEY` (none: `build()` fails) |
//! | base URL | `.url()`, `OPENAI_COMPATIBILITY_API_BASE_URL`, `OPENAI_BASE_URL`, `https://api.openai.com/v1` |
//! | timeout | `.timeout()`, `MODEL_TIMEOUT` (seconds), 180 s |
//! | connect timeout | `.connect_timeout()`, the smaller of the timeout and 10 s |
//! | retries | `.max_retries()`, 3 |
//! | proxy | `http_proxy` / `HTTPS_PROXY` / `ALL_PROXY`, `NO_PROXY` ([Proxies](#proxies)) |
//!
//! The model config ([`OpenAICompatibleModelBuilder::model_config`]) is merged into every
//! request body. Keys this crate does not know are sent as they are, so server-specific
//! parameters (`top_k`, `min_p`, `chat_template_kwargs`, …) just work. Four keys act on the
//! request instead: `extra_body` (merged into the body), `extra_headers`, `extra_query` and
//! `timeout` (seconds: it replaces the model's timeout for every request made with this
//! config).
//!
//! # Per-call options and response metadata
//!
//! One model can serve differently configured calls: [`RequestOptions`] lays any config key,
//! a typed [`ToolChoice`], tools, a response format, a timeout, retries and extra
//! headers/query/body over the model's configuration for one call, through
//! [`OpenAICompatibleModel::with_options`]. Every answer over HTTP carries a
//! [`ResponseMeta`] (status, headers, `x-request-id`, typed [`RateLimit`] headers, attempts,
//! elapsed time), from [`ChatCompletion::meta`], [`ChatCompletionStream::meta`],
//! [`ParsedChatCompletion::meta`] and [`ApiError::meta`].
//!
//! ```no_run
//! # #[cfg(not(feature = "async"))] {
//! use openai_compatible::{ChatMessage, OpenAICompatibleModel, RequestOptions};
//! # let model = OpenAICompatibleModel::builder("m").api_key("k").build()?;
//! let answer = model
//!     .with_options(RequestOptions::new().temperature(0.0).max_tokens(64).max_retries(1))
//!     .complete(&[ChatMessage::user("Say hi.")])?;
//! if let Some(meta) = answer.meta() {
//!     println!("{:?}: {} attempt(s)", meta.request_id, meta.attempts);
//! }
//! # }
//! # Ok::<(), openai_compatible::Error>(())
//! ```
//!
//! The same in the async build:
//!
//! ```no_run
//! # #[cfg(feature = "async")]
//! # async fn demo(model: &openai_compatible::OpenAICompatibleModel) -> openai_compatible::Result<()> {
//! use openai_compatible::{ChatMessage, RequestOptions};
//! let options = RequestOptions::new().temperature(0.0).max_tokens(64);
//! let answer = model
//!     .with_options(options)
//!     .complete(&[ChatMessage::user("Say hi.")])
//!     .await?;
//! println!("{:?}", answer.meta().map(|m| m.rate_limit.remaining_requests));
//! # Ok(())
//! # }
//! ```
//!
//! # Running a model
//!
//! [`OpenAICompatibleModel::run`] is CAMEL's `_run(messages, response_format, tools)`: it
//! returns a [`ModelResponse`] whose variant depends on the config (`stream`). The typed
//! shortcuts [`complete`](OpenAICompatibleModel::complete) and
//! [`stream`](OpenAICompatibleModel::stream) return a [`ChatCompletion`] or a
//! [`ChatCompletionStream`] directly.
//!
//! ```no_run
//! # #[cfg(not(feature = "async"))] {
//! use openai_compatible::{ChatMessage, ModelResponse, OpenAICompatibleModel, Tool};
//! # let model = OpenAICompatibleModel::builder("m").api_key("k").build()?;
//! let weather = Tool::function(
//!     "get_weather",
//!     "Current weather for a city",
//!     serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
//! );
//! let messages = [ChatMessage::user("Weather in Paris?")];
//! if let ModelResponse::Completion(c) = model.run(&messages, None, Some(&[weather]))? {
//!     for call in c.message().and_then(|m| m.tool_calls.as_ref()).into_iter().flatten() {
//!         println!("{}({})", call.function.name, call.function.arguments);
//!     }
//! }
//! # }
//! # Ok::<(), openai_compatible::Error>(())
//! ```
//!
//! Async:
//!
//! ```no_run
//! # #[cfg(feature = "async")]
//! # async fn demo(model: &openai_compatible::OpenAICompatibleModel) -> openai_compatible::Result<()> {
//! use openai_compatible::{ChatMessage, ModelResponse, Tool};
//! # let weather = Tool::function("get_weather", "Current weather for a city", serde_json::json!({"type": "object"}));
//! let messages = [ChatMessage::user("Weather in Paris?")];
//! if let ModelResponse::Completion(c) = model.run(&messages, None, Some(&[weather])).await? {
//!     for call in c.message().and_then(|m| m.tool_calls.as_ref()).into_iter().flatten() {
//!         println!("{}({})", call.function.name, call.function.arguments);
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Streaming
//!
//! ```no_run
//! # #[cfg(not(feature = "async"))] {
//! # use openai_compatible::{ChatMessage, OpenAICompatibleModel};
//! # let model = OpenAICompatibleModel::builder("m").api_key("k").build()?;
//! for chunk in model.stream(&[ChatMessage::user("Count to five.")])? {
//!     let chunk = chunk?;
//!     if let Some(text) = chunk.choices.first().and_then(|c| c.delta.content.as_deref()) {
//!         print!("{text}");
//!     }
//! }
//! # }
//! # Ok::<(), openai_compatible::Error>(())
//! ```
//!
//! Async, the stream is a `futures::Stream` (`StreamExt` from `futures-util` reads it):
//!
//! ```no_run
//! # #[cfg(feature = "async")]
//! # async fn demo(model: &openai_compatible::OpenAICompatibleModel) -> openai_compatible::Result<()> {
//! use futures_util::StreamExt;
//! use openai_compatible::ChatMessage;
//!
//! let mut stream = model.stream(&[ChatMessage::user("Count to five.")]).await?;
//! while let Some(chunk) = stream.next().await {
//!     if let Some(text) = chunk?.choices.first().and_then(|c| c.delta.content.as_deref()) {
//!         print!("{text}");
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The stream reads the body lazily in constant memory. [`ChatCompletionStream::accumulate`]
//! (or [`ChunkAccumulator`]) assembles the chunks into the final [`ChatCompletion`], tool
//! calls included, whatever quirks the server has.
//!
//! On a multi-thread tokio runtime, read streams inside a task (`tokio::spawn`, as a
//! service's handlers are), not on the thread of `Runtime::block_on`: there, every piece
//! of the body that hyper's connection task hands over wakes the thread up, which made short
//! streams over TLS read at about half the rate (benches/README.md).
//!
//! # Structured output
//!
//! Derive [`schemars::JsonSchema`](https://docs.rs/schemars) and `Deserialize` on a type and
//! ask for it: [`parse`](OpenAICompatibleModel::parse) sends the type's schema, rewritten
//! for OpenAI's strict mode, as a `json_schema` response format and returns a
//! [`ParsedChatCompletion`] whose messages carry the answer as that type (or the model's
//! refusal).
//!
//! ```no_run
//! # #[cfg(not(feature = "async"))] {
//! # use openai_compatible::{ChatMessage, OpenAICompatibleModel};
//! # let model = OpenAICompatibleModel::builder("m").api_key("k").build()?;
//! #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
//! struct Weather {
//!     city: String,
//!     temperature_c: f64,
//!     conditions: Vec<String>,
//! }
//!
//! let messages = [ChatMessage::user("Invent today's weather in Paris.")];
//! let weather: Weather = model.parse(&messages, None)?.into_parsed()?;
//! # }
//! # Ok::<(), openai_compatible::Error>(())
//! ```
//!
//! Async:
//!
//! ```no_run
//! # #[cfg(feature = "async")]
//! # async fn demo(model: &openai_compatible::OpenAICompatibleModel) -> openai_compatible::Result<()> {
//! use openai_compatible::ChatMessage;
//!
//! #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
//! struct Weather {
//!     city: String,
//!     temperature_c: f64,
//! }
//!
//! let messages = [ChatMessage::user("Invent today's weather in Paris.")];
//! let weather: Weather = model.parse(&messages, None).await?.into_parsed()?;
//! # Ok(())
//! # }
//! ```
//!
//! It works with servers that cannot follow a schema too: when the server refuses it (HTTP
//! 400) or answers something that is not JSON of the type, the request is sent once more
//! with `{"type":"json_object"}` and the schema written into the last message (of a copy:
//! your messages are not changed), and [`ParsedChatCompletion::path`] says so. `finish_reason`
//! `length` and `content_filter` are errors ([`Error::Length`], [`Error::ContentFilter`]);
//! tools must be strict ([`Tool::strict`]).
//!
//! * [`parse_with`](OpenAICompatibleModel::parse_with) takes any [`ResponseFormat`] (a raw
//!   schema from a file: [`ResponseFormat::json_schema`]) and any `Deserialize` type,
//!   `serde_json::Value` included; it needs no schemars.
//! * [`stream_parse`](OpenAICompatibleModel::stream_parse) streams: a lazy
//!   [`ChatCompletionStreamManager`] of [`StructuredEvent`]s (each content delta carries the
//!   JSON parsed so far), then the parsed final completion.
//! * [`run`](OpenAICompatibleModel::run) with a [`ResponseFormat::JsonSchema`] does the same
//!   and returns the answer as JSON in each message's [`parsed`](ChatMessage::parsed), or a
//!   [`ModelResponse::StructuredStream`] when the config streams.
//!
//! # Counting tokens
//!
//! With the `tokens` feature (on by default), every model has a [`TokenCounter`]: by default
//! an [`OpenAITokenCounter`] for gpt-4o-mini (o200k_base) that counts exactly as CAMEL does, images included (read from their headers
//! only). Its table is built on the first count, once per process, so a program that never
//! counts never pays for it. [`OpenAICompatibleModel::token_limit`] gives the context window of
//! a known model name (999_999_999 otherwise); inject another counter with
//! [`OpenAICompatibleModelBuilder::token_counter`].
//!
//! ```
//! use openai_compatible::{ChatMessage, OpenAICompatibleModel};
//!
//! let model = OpenAICompatibleModel::builder("gpt-4o-mini").api_key("k").build()?;
//! let n = model.count_tokens_from_messages(&[ChatMessage::user("Hello")])?;
//! assert_eq!(n, 8);
//! assert_eq!(model.token_limit(), 128_000);
//! # Ok::<(), openai_compatible::Error>(())
//! ```
//!
//! # Retries and timeouts
//!
//! Connection failures, timeouts and HTTP 408, 409, 429 and 5xx are retried (up to
//! `max_retries` times) after `retry-after-ms` / `retry-after` when the server gives one of
//! at most 120 s, otherwise after an exponential delay (0.5 s doubling to 8 s, with jitter).
//! A server asking for more than 120 s is not retried. `x-should-retry: true/false` overrides
//! the rule. Other 4xx are never retried; a stream is never retried once its body started.
//!
//! The timeout bounds each attempt of a plain request end to end. For a stream it bounds the
//! wait for the response head, and then each silence between two reads: a stalled server
//! fails after the timeout, a long lively stream is never cut.
//!
//! Making the connection has a bound of its own,
//! [`connect_timeout`](OpenAICompatibleModelBuilder::connect_timeout) (the smaller of the
//! timeout and 10 s): the name lookup, TCP, a proxy's `CONNECT` tunnel and the TLS handshake
//! of each attempt. A connection that takes longer fails with [`Error::Timeout`] in
//! [`TimeoutPhase::Connect`] and is retried like a refused one, so a server that cannot be
//! reached costs about `(max_retries + 1) × connect_timeout` plus the backoff — about 43 s
//! by default — rather than four whole timeouts. The classic case is an `https://` URL at a
//! plain-HTTP server (llama.cpp's, say): nobody answers the TLS handshake, and the error says
//! so and suggests an `http://` URL.
//!
//! # Errors
//!
//! Every failure is an [`Error`] variant you can match: [`Error::Api`] (with the provider's
//! message, type, code and request id, whatever error shape the server uses),
//! [`Error::Timeout`] (which phase), [`Error::Connection`], [`Error::Decode`],
//! [`Error::StreamApi`], [`Error::IncompleteStream`], [`Error::Config`], … The API key never
//! appears in an error, in `Debug` output or in logs.
//!
//! A server that could not be reached is an [`Error::Connection`] whose [`ConnectionError`]
//! names the host and port tried, the proxy when one was used, the [`ConnectionPhase`] that
//! failed (lookup, TCP, proxy tunnel, TLS, or the exchange after connecting) and the number of
//! attempts, never the URL's path or query:
//!
//! ```text
//! connection error: could not connect to 127.0.0.1:9 (connection refused) after 4 attempts
//! connection error: could not connect to llm.internal:443 via proxy 10.0.0.1:3128 (connecting to the proxy: connection refused) after 4 attempts
//! timed out after 10.000 s connecting to 127.0.0.1:8080 (no answer to the TLS handshake; if the server speaks plain HTTP, use an http:// URL) after 4 attempts
//! ```
//!
//! A connect timeout carries the same details in its `connection` field;
//! [`Error::connection_error`] returns them for both. Match timeouts with
//! `Error::Timeout { phase, after, .. }`.
//!
//! ```no_run
//! # #[cfg(not(feature = "async"))] {
//! # use openai_compatible::{ChatMessage, OpenAICompatibleModel};
//! use openai_compatible::{ConnectionPhase, Error, TimeoutPhase};
//! # let model = OpenAICompatibleModel::builder("m").api_key("k").build()?;
//! match model.complete(&[ChatMessage::user("hi")]) {
//!     Ok(answer) => println!("{}", answer.content().unwrap_or_default()),
//!     Err(Error::Connection(c)) if c.phase() == ConnectionPhase::Tls => {
//!         eprintln!("TLS with {}:{} failed: {}", c.host(), c.port(), c.reason())
//!     }
//!     Err(e @ Error::Timeout { phase: TimeoutPhase::Connect, .. }) => eprintln!("unreachable: {e}"),
//!     Err(e) => eprintln!("{e}"),
//! }
//! # }
//! # Ok::<(), openai_compatible::Error>(())
//! ```
//!
//! Async, the same match on the awaited result:
//!
//! ```no_run
//! # #[cfg(feature = "async")]
//! # async fn demo(model: &openai_compatible::OpenAICompatibleModel) {
//! use openai_compatible::{ChatMessage, Error, TimeoutPhase};
//!
//! match model.complete(&[ChatMessage::user("hi")]).await {
//!     Ok(answer) => println!("{}", answer.content().unwrap_or_default()),
//!     Err(Error::Connection(c)) => eprintln!("{}:{} unreachable: {}", c.host(), c.port(), c.reason()),
//!     Err(e @ Error::Timeout { phase: TimeoutPhase::Connect, .. }) => eprintln!("unreachable: {e}"),
//!     Err(e) => eprintln!("{e}"),
//! }
//! # }
//! ```
//!
//! # Message processing
//!
//! Before every request, `<think>…</think>` blocks are removed from user and assistant
//! messages, and tool results are moved right after the assistant message that called them
//! (a conversation already in that order is sent as it is). A non-streamed answer whose text
//! holds `<think>` blocks gets the first one as `reasoning_content`. The functions are public
//! in [`processing`];
//! [`extract_thinking_from_response(false)`](OpenAICompatibleModelBuilder::extract_thinking_from_response)
//! turns think-tag handling off in both directions.
//!
//! # Logging
//!
//! Model I/O logs as CAMEL writes them: with `CAMEL_MODEL_LOG_ENABLED=true` (or
//! [`log_model_io(true)`](OpenAICompatibleModelBuilder::log_model_io)) each request writes
//! `camel_logs/<agent id or none>/conv_<time>.json` holding the payload sent and the answer
//! (a stream's when it ends). `CAMEL_LOG_DIR` or `log_dir` moves them,
//! `CAMEL_MODEL_LOG_MODEL_CONFIG_ENABLED` or `log_model_config` keeps the request parameters
//! out, `agent_id` names the folder. The API key is never written, and a log that cannot be
//! written only costs a warning.
//!
//! With a [`tracing`](https://docs.rs/tracing) subscriber installed, each `run`, `complete`
//! and `stream` is a `chat` span (`model`, `mode`) with a debug event per HTTP attempt
//! (attempt, status or error) and a warning per retry (delay, reason). Message text and keys
//! never appear in them.
//!
//! # TLS and private CAs
//!
//! `https` URLs are verified in both builds: rustls with the `ring` provider and the Mozilla
//! roots (`webpki-roots`). A certificate that does not chain to a trusted root, or does not
//! name the host, fails with [`Error::Connection`] before any byte of the request (the key
//! included) is sent. Redirects are never followed, so the key only ever goes to the
//! configured host.
//!
//! A server whose certificate comes from a private CA needs that CA added, as DER bytes
//! (`openssl x509 -in ca.pem -outform der -out ca.der` converts a PEM file). Blocking: give
//! the model a `ureq::Agent` whose root certificates hold the CA (for that agent they replace
//! the Mozilla roots):
//!
//! ```no_run
//! # #[cfg(not(feature = "async"))] {
//! use openai_compatible::OpenAICompatibleModel;
//! use ureq::tls::{Certificate, RootCerts, TlsConfig};
//!
//! let ca = std::fs::read("ca.der").expect("the CA certificate");
//! let roots = RootCerts::new_with_certs(&[Certificate::from_der(&ca).to_owned()]);
//! let agent: ureq::Agent = ureq::Agent::config_builder()
//!     .tls_config(TlsConfig::builder().root_certs(roots).build())
//!     .build()
//!     .into();
//! let model = OpenAICompatibleModel::builder("my-model")
//!     .url("https://llm.internal:8443/v1")
//!     .api_key("sk-…")
//!     .agent(agent)
//!     .build()?;
//! # }
//! # Ok::<(), openai_compatible::Error>(())
//! ```
//!
//! Async: `reqwest_client_builder` takes extra roots (kept next to the Mozilla ones):
//!
//! ```no_run
//! # #[cfg(feature = "async")] {
//! use openai_compatible::{reqwest_client_builder, Error, OpenAICompatibleModel};
//!
//! let ca = std::fs::read("ca.der").expect("the CA certificate");
//! let client = reqwest_client_builder(&[ca])?
//!     .build()
//!     .map_err(|e| Error::Config(e.to_string()))?;
//! let model = OpenAICompatibleModel::builder("my-model")
//!     .url("https://llm.internal:8443/v1")
//!     .api_key("sk-…")
//!     .http_client(client)
//!     .build()?;
//! # }
//! # Ok::<(), openai_compatible::Error>(())
//! ```
//!
//! One caveat about logs outside this crate: in the blocking build, ureq logs the raw wire at
//! the `log` crate's TRACE level (target `ureq_proto` hex-dumps every byte sent, the
//! `Authorization` header included). Keep the `ureq` targets below TRACE in your logger
//! (e.g. `RUST_LOG=trace,ureq=debug,ureq_proto=debug`); at DEBUG ureq hides sensitive headers.
//!
//! # Proxies
//!
//! Both builds read the proxy from the environment when the model is built, with curl's
//! rules (and one difference, below):
//!
//! * `http_proxy` or `HTTP_PROXY` for `http://` URLs, `https_proxy` or `HTTPS_PROXY` for
//!   `https://` URLs; `all_proxy` or `ALL_PROXY` for both when the scheme's own is unset.
//!   `HTTPS_PROXY` alone sends `http://` URLs direct.
//! * The lower-case name wins when both are set; an empty variable counts as unset.
//! * Unlike curl, upper-case `HTTP_PROXY` is read, as Python's requests and httpx read it —
//!   except when `REQUEST_METHOD` is set: in a CGI program `HTTP_PROXY` can come from a
//!   request's `Proxy:` header ("httpoxy"), so there only `http_proxy` counts.
//! * `no_proxy` / `NO_PROXY` lists the hosts to reach directly, separated by commas (spaces
//!   around entries are ignored): `*` for every host; a name such as `example.com` or
//!   `.example.com` for that host and its subdomains; an IP address (`127.0.0.1`, `::1`) or a
//!   block (`10.0.0.0/8`); any of them with a port (`localhost:8080`) for that port only.
//!   Names never match IP addresses: a local server at `http://127.0.0.1:8080` needs
//!   `127.0.0.1` in the list, `localhost` is not enough.
//! * A proxy is written `http://[user:password@]host[:port]` or `host[:port]` (port 80 when
//!   none is given, as in requests and httpx; curl would use 1080). The credentials go to the
//!   proxy as `Proxy-Authorization: Basic` and appear in no error or `Debug` output. Only
//!   `http://` proxies are spoken to: a `socks5://` or `https://` proxy that applies to the
//!   model's URL fails `build()` with [`Error::Config`] naming the variable.
//!
//! An `http://` URL goes to the proxy in absolute form
//! (`POST http://host:port/v1/chat/completions HTTP/1.1`), as curl sends it; an `https://`
//! URL is tunnelled with `CONNECT`, inside the connect timeout, and TLS runs end to end with
//! the server. A model given its own `ureq::Agent` or `reqwest::Client` keeps that client's
//! proxy settings and ignores these variables.
//!
//! # Responses mode
//!
//! [`ApiMode::Responses`] (CAMEL's `api_mode = "responses"`) sends the same calls to
//! `POST {url}/responses` and converts the answers back, so code written for chat mode does
//! not change: `run`, `complete`, `stream`, `parse` and `stream_parse` return the same
//! [`ChatCompletion`]s and chunks. Retries, timeouts, errors, think tags, the model I/O log
//! (which records the Responses payload actually sent) and tracing (`openai.api.type` on the
//! request span) are shared with chat mode.
//!
//! ```no_run
//! # #[cfg(not(feature = "async"))] {
//! use openai_compatible::{ApiMode, ChatMessage, OpenAICompatibleModel, RequestOptions};
//!
//! let model = OpenAICompatibleModel::builder("gpt-4o-mini")
//!     .api_mode(ApiMode::Responses) // or "responses".parse()?
//!     .build()?;
//! let mut messages = vec![ChatMessage::user("Name a colour.")];
//! let first = model.complete(&messages)?;
//! messages.push(first.choices[0].message.clone());
//! messages.push(ChatMessage::user("And another."));
//! // Continues the first response: only the new user message goes out, with
//! // `previous_response_id`. Sessions keep conversations of different users apart.
//! let second = model
//!     .with_options(RequestOptions::new().session("user-42"))
//!     .complete(&messages)?;
//! # let _ = second;
//! # }
//! # Ok::<(), openai_compatible::Error>(())
//! ```
//!
//! * The body is translated from the chat form (docs/RESPONSES.md §2): `messages` become
//!   `input` items, `max_tokens` / `max_completion_tokens` become `max_output_tokens`,
//!   `reasoning_effort` becomes `reasoning.effort`, tools and `tool_choice` are flattened, a
//!   response format becomes `text.format`; `n`, `stop`, `stream_options`, `logprobs` and
//!   `top_logprobs` have no Responses form and are dropped with a warning; `store` is sent,
//!   `true` unless set. Everything else passes through.
//! * **Chaining** (§3): per session ([`RequestOptions::session`], else the model's default
//!   session; shared by clones), a call whose messages extend the last answered ones sends
//!   only the new non-assistant messages with `previous_response_id`. Any other history
//!   resets the session; `store: false` turns chaining off for the call and clears it.
//!   Servers without stored responses (llama.cpp and most local servers) answer with a 400
//!   naming `previous_response_id`: the call is resent once with the whole history, and the
//!   model stops chaining for its lifetime (one warning).
//! * **Answers** (§4, §5): one choice; `output_text` parts are the content, `refusal` parts
//!   the refusal, `function_call` items the tool calls, reasoning items `reasoning_content`;
//!   a `failed` response is an [`Error::Api`], a failed stream an [`Error::StreamApi`], and a
//!   stream cut before `response.completed` an [`Error::IncompleteStream`].
//! * **Structured output** (§6) sends the schema as `text.format`, with the json_object
//!   fallback through `text.format` too. llama.cpp (xllamacpp 2026.10) accepts `text.format`
//!   but does not constrain the answer by it, so there structured output rests on the model.
//! * A custom [`ChatClient`] gets the chat-form body in either mode: it replaces HTTP, not
//!   the wire protocol.
//!
//! # A custom client
//!
//! Frameworks that wrap generation (RL trainers recording log-probabilities, test doubles)
//! implement [`ChatClient`] and pass it to [`OpenAICompatibleModelBuilder::client`]: the model
//! keeps its request assembly and hands the final body to that client instead of HTTP.
//! [`ChatClient`] shows a blocking implementation; in the async build its methods are
//! `async fn`s of an `async_trait`, re-exported as `openai_compatible::async_trait`:
//!
//! ```no_run
//! # #[cfg(feature = "async")] {
//! use openai_compatible::{ChatClient, ChatCompletion, OpenAICompatibleModel};
//!
//! struct Canned;
//!
//! #[openai_compatible::async_trait]
//! impl ChatClient for Canned {
//!     async fn create(&self, request: &serde_json::Value) -> anyhow::Result<ChatCompletion> {
//!         Ok(serde_json::from_value(serde_json::json!({
//!             "model": request["model"],
//!             "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]
//!         }))?)
//!     }
//! }
//!
//! let model = OpenAICompatibleModel::builder("policy-under-training")
//!     .client(Canned)
//!     .build()?;
//! # }
//! # Ok::<(), openai_compatible::Error>(())
//! ```
//!
//! # MSRV
//!
//! The minimum supported Rust version is **1.85** (`rust-version` in Cargo.toml, so an older
//! cargo says so instead of failing on some syntax). We hold it back as long as we
//! reasonably can, but the dependencies decide too: the TLS stack and the HTTP clients raise
//! theirs, and we follow them rather than require old versions of them. Raising it:
//!
//! * is never done in a patch release (0.1.x → 0.1.y never needs a newer compiler);
//! * is done only in a minor release (0.1 → 0.2, or 1.2 → 1.3 after 1.0), named in the
//!   changelog, and not taken as a breaking change otherwise.
//!
//! Building with exactly 1.85 may need cargo's MSRV-aware resolution: some crates deep in
//! the tree publish newer versions that need a newer compiler (the ICU crates under
//! reqwest's `url`, in the async build: 1.86 from their 2.2 releases, 1.88 from 2.3).
//! Resolver 3 (edition 2024, or `resolver = "3"`) picks versions that fit your
//! `rust-version` by itself; otherwise
//! `CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback cargo update` does. This repository's
//! `Cargo.lock` is held to versions that build with 1.85, and CI checks that.
//!
//! # Versioning
//!
//! The crate follows [semantic versioning](https://semver.org) as cargo reads it for 0.x
//! versions: while the version is 0.x, a breaking change to the public API raises the minor
//! version (0.1 → 0.2) and everything else the patch version (0.1.0 → 0.1.1), so
//! `openai-compatible = "0.1"` only ever picks up compatible releases. The first release is
//! 0.1.0. The public API is what these docs show for the features above; `_internal`, items
//! hidden from the docs and the exact wording of error messages and logs are not part of
//! it. A release is cut by setting `version` in Cargo.toml, moving the changelog's
//! "Unreleased" notes under that version, and tagging the commit `vX.Y.Z`.
//!
//! [ureq]: https://docs.rs/ureq
//! [reqwest]: https://docs.rs/reqwest

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(not(any(feature = "blocking", feature = "async")))]
compile_error!(
    "openai-compatible needs a mode: enable the `blocking` feature (the default) or `async`"
);

// Layers, bottom up (ARCHITECTURE.md): ground types, pure cores, transports, streams, the
// model. A module uses only the layers below its own.
mod error;
mod types;

mod chunks;
mod config;
mod decode;
mod logging;
pub mod models;
pub mod processing;
mod proxy;
mod reasoning;
mod request;
mod responses;
mod retry;
mod structured;
#[cfg(feature = "tokens")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokens")))]
pub mod tokens;

mod transport;

mod stream;

mod model;

// Randomized inputs for the unit tests of private functions (no proptest in the library's
// dev-dependencies; src/testgen.rs says why).
#[cfg(test)]
mod testgen;

/// Internals re-exported for the crate's own benches and fuzz targets: compiled only with
/// the hidden `_internal` feature, not part of the API (src/internal.rs).
#[cfg(feature = "_internal")]
#[doc(hidden)]
#[path = "internal.rs"]
pub mod __private;

pub use chunks::ChunkAccumulator;
pub use error::{
    ApiError, ConnectionError, ConnectionPhase, Error, ErrorCode, Result, TimeoutPhase,
};
pub use model::{
    ChatClient, ChatCompletionStreamManager, ModelCall, ModelResponse, OpenAICompatibleModel,
    OpenAICompatibleModelBuilder,
};
pub use reasoning::ReasoningField;
pub use stream::ChatCompletionStream;
pub use structured::{
    ParsePath, ParsedChatCompletion, ParsedChoice, ParsedMessage, StructuredEvent,
};
#[cfg(feature = "tokens")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokens")))]
pub use tokens::{OpenAITokenCounter, TokenCounter};
// Empty in the blocking build: the async build adds `reqwest_client_builder`, `async_trait`.
#[allow(unused_imports)]
pub use transport::public::*;
pub use types::*;

/// The `schemars` this crate derives schemas with: `#[derive(openai_compatible::schemars::JsonSchema)]`
/// always matches the major version [`ResponseFormat::for_type`] expects.
#[cfg(feature = "schema")]
#[cfg_attr(docsrs, doc(cfg(feature = "schema")))]
pub use schemars;

/// The values a model uses for what its builder leaves unset (and the environment too).
pub mod defaults {
    pub use crate::config::{
        DEFAULT_BASE_URL as BASE_URL, DEFAULT_MAX_RESPONSE_BYTES as MAX_RESPONSE_BYTES,
        DEFAULT_MAX_RETRIES as MAX_RETRIES, DEFAULT_TIMEOUT as TIMEOUT,
    };
}

// The README's Rust blocks are compiled as doctests of this item, so the front page breaks
// the build instead of drifting from the API. `cfg(doctest)` keeps it out of the library.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
