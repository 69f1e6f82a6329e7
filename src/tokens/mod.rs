//! Token counting, the way CAMEL-AI's `OpenAITokenCounter` does it.
//!
//! [`OpenAITokenCounter`] reproduces CAMEL 0.2.91's counter exactly (checked against
//! CAMEL's own code on a corpus of a few hundred conversations):
//!
//! * every message costs a fixed overhead (3 tokens for gpt-4o-mini, the default);
//! * every field of the message costs the tokens of its value's *Python text form*
//!   (`str(value)`: `null` is `None`, `true` is `True`, an object is a Python dict repr
//!   such as `{'name': 'f', 'arguments': '{}'}`), with special-token text such as
//!   `<|endoftext|>` counted as ordinary text;
//! * a field holding a list is a list of content parts: a `text` part costs its text, an
//!   `image_url` part with a base64 `data:image/...` URL costs the image's tokens, every
//!   other part (and so an assistant's `tool_calls`) costs nothing;
//! * a `name` field costs one more token (per model, see [`OpenAITokenCounter::new`]);
//! * every conversation costs 3 more tokens (the reply's priming).
//!
//! Image tokens follow OpenAI's vision pricing: `low` detail costs 85; otherwise the image
//! is fitted into 2048×2048, scaled so its short side is 768 px, and costs
//! 85 + 170 per 512-px tile. Only the image header is read (never the pixels); an
//! `http(s)://` image costs 0 because it cannot be measured without fetching it.
//!
//! The BPE tables are built once per process, on first use, and shared by every counter:
//! creating a counter costs nothing until it counts. `o200k_base` text is encoded by a
//! faster path that gives tiktoken's exact token ids (see `FastBpe` in the source).
//!
//! # Where this differs from CAMEL
//!
//! Where CAMEL's counter raises on input it does not expect, this one counts sensibly:
//!
//! * an image part without `detail` (or with `null`) counts as `"auto"` (CAMEL: `KeyError`);
//! * a list item that is not an object, has no `type`, or a `text` part without `text`
//!   counts 0 (CAMEL: `TypeError`/`KeyError`); `image_url` given as a bare URL string
//!   is read as `{"url": …}`;
//! * a model name CAMEL's counter rejects (`NotImplementedError`) is counted as
//!   gpt-4o-mini, and `gpt-5.x` names use `o200k_base` (CAMEL, pinned to tiktoken ≤ 0.12,
//!   falls back to `cl100k_base` for them);
//! * a run of 500,000 or more whitespace characters is encoded in pieces (tiktoken's
//!   regex engine fails on runs of about a million, and Python raises).
//!
//! Errors CAMEL raises on unreadable images (bad base64, not an image, an unsupported
//! `data:` URL, an unknown `detail`, an image so elongated a side scales to 0 px) are
//! [`Error::InvalidInput`](crate::Error::InvalidInput) here, naming the message and part.

mod counter;
mod encoding;
mod images;
mod o200k;
mod pyrepr;
mod tokenizer;
mod value;

pub use counter::{OpenAITokenCounter, TokenCounter, DEFAULT_COUNTER_MODEL};

/// Python `str()` of values and `base64.b64decode`, recorded by
/// scripts/gen/tokens_fixture.py; the unit tests of several files here read it.
#[cfg(test)]
const FIXTURE: &str = include_str!("../../tests/data/token_counts.json");
