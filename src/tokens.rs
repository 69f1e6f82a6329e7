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
//! [`Error::InvalidInput`] here, naming the message and part.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use regex_automata::{meta, Anchored, Input};
use rustc_hash::FxHashMap;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use tiktoken_rs::tokenizer::{get_tokenizer, Tokenizer};
use tiktoken_rs::CoreBPE;

use crate::types::ChatMessage;
use crate::{Error, Result};

/// Counts tokens the way a model's tokenizer does.
///
/// Implemented by [`OpenAITokenCounter`]; implement it yourself to count for a model with
/// another tokenizer, and hand it to the model builder.
pub trait TokenCounter: Send + Sync {
    /// The number of prompt tokens these messages cost, including the per-message and
    /// per-conversation overheads.
    ///
    /// Fails with [`Error::InvalidInput`] when a message cannot be measured, for example an
    /// inline image whose base64 data does not decode.
    fn count_tokens_from_messages(&self, messages: &[ChatMessage]) -> Result<usize>;

    /// The token ids of `text`. Special-token text (`<|endoftext|>`) is encoded as
    /// ordinary text.
    fn encode(&self, text: &str) -> Vec<u32>;

    /// The text of these token ids. Bytes that are not valid UTF-8 on their own (a
    /// multi-byte character split across the ids) become U+FFFD.
    ///
    /// Fails with [`Error::InvalidInput`] for an id the tokenizer does not have.
    fn decode(&self, tokens: &[u32]) -> Result<String>;
}

impl<T: TokenCounter + ?Sized> TokenCounter for std::sync::Arc<T> {
    fn count_tokens_from_messages(&self, messages: &[ChatMessage]) -> Result<usize> {
        (**self).count_tokens_from_messages(messages)
    }
    fn encode(&self, text: &str) -> Vec<u32> {
        (**self).encode(text)
    }
    fn decode(&self, tokens: &[u32]) -> Result<String> {
        (**self).decode(tokens)
    }
}

impl<T: TokenCounter + ?Sized> TokenCounter for Box<T> {
    fn count_tokens_from_messages(&self, messages: &[ChatMessage]) -> Result<usize> {
        (**self).count_tokens_from_messages(messages)
    }
    fn encode(&self, text: &str) -> Vec<u32> {
        (**self).encode(text)
    }
    fn decode(&self, tokens: &[u32]) -> Result<String> {
        (**self).decode(tokens)
    }
}

/// The model whose rules the default counter uses (CAMEL's default as well).
pub const DEFAULT_COUNTER_MODEL: &str = "gpt-4o-mini";

/// Counts tokens for OpenAI chat models with the model's BPE encoding (tiktoken).
///
/// Cheap to create and to clone: the BPE table is a process-wide singleton built on the
/// first `encode`/`decode`/count of any counter using that encoding (a few hundred
/// milliseconds for `o200k_base` in a release build, once per process).
///
/// ```
/// use openai_compatible::{ChatMessage, OpenAITokenCounter, TokenCounter};
///
/// let counter = OpenAITokenCounter::default(); // gpt-4o-mini, o200k_base
/// let n = counter.count_tokens_from_messages(&[ChatMessage::user("Hello")])?;
/// assert_eq!(n, 8);
/// # Ok::<(), openai_compatible::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenAITokenCounter {
    model: String,
    tokens_per_message: i64,
    tokens_per_name: i64,
    encoding: Encoding,
}

impl Default for OpenAITokenCounter {
    /// The counter for gpt-4o-mini (`o200k_base`, 3 tokens per message, 1 per name).
    fn default() -> Self {
        OpenAITokenCounter::new(DEFAULT_COUNTER_MODEL)
    }
}

impl OpenAITokenCounter {
    /// A counter for `model`. Any name is accepted; nothing is loaded yet.
    ///
    /// For a name that tiktoken maps to an encoding or that CAMEL lists as an OpenAI model:
    ///
    /// | name | per message | per `name` field |
    /// |---|---|---|
    /// | `gpt-3.5-turbo-0301` | 4 | −1 |
    /// | contains `gpt-3.5-turbo`, `gpt-4` or `gpt-5` | 3 | 1 |
    /// | contains `o1`, `o3` or `o4` | 2 | 1 |
    /// | anything else (`gpt-35-turbo`, `davinci-002`, …) | 3 | 1 |
    ///
    /// and the encoding is tiktoken's for that name (`gpt-4o*`, `gpt-4.1*`, `gpt-5*`,
    /// `o1*`/`o3*`/`o4-mini*` → `o200k_base`; `gpt-4`, `gpt-4-*`, `gpt-3.5-turbo*` →
    /// `cl100k_base`; …). Every other name — a local or third-party model — is counted as
    /// gpt-4o-mini (`o200k_base`, 3 and 1), which is what CAMEL does for any model that is
    /// not an OpenAI one.
    pub fn new(model: &str) -> Self {
        let tokenizer = get_tokenizer(model);
        let known = tokenizer.is_some() || crate::model_type::is_openai_model(model);
        let (tokens_per_message, tokens_per_name) = if known {
            camel_overheads(model).unwrap_or((3, 1))
        } else {
            (3, 1)
        };
        let encoding = if known {
            tokenizer.map_or(Encoding::O200kBase, Encoding::from_tokenizer)
        } else {
            Encoding::O200kBase
        };
        OpenAITokenCounter {
            model: model.to_owned(),
            tokens_per_message,
            tokens_per_name,
            encoding,
        }
    }

    /// The model name this counter was created for.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The tiktoken encoding in use: `o200k_base`, `cl100k_base`, `p50k_base`,
    /// `p50k_edit`, `r50k_base` or `o200k_harmony`.
    pub fn encoding_name(&self) -> &'static str {
        self.encoding.name()
    }

    /// Tokens added for every message.
    pub fn tokens_per_message(&self) -> i64 {
        self.tokens_per_message
    }

    /// Tokens added for every `name` field (−1 for `gpt-3.5-turbo-0301`).
    pub fn tokens_per_name(&self) -> i64 {
        self.tokens_per_name
    }

    /// Counts OpenAI-format messages given as JSON values (what CAMEL's counter takes).
    ///
    /// A field holding a JSON object is counted as its Python dict repr, in the map's key
    /// order (this crate builds serde_json with `preserve_order`, so a parsed value keeps
    /// the order of its JSON text, as Python's `json.loads` does).
    ///
    /// Fails with [`Error::InvalidInput`] for a message that is not a JSON object, or an
    /// inline image that cannot be measured (the error says which message and part).
    pub fn count_json_messages(&self, messages: &[Value]) -> Result<usize> {
        let mut total = 0i64;
        for (index, message) in messages.iter().enumerate() {
            let node = Node::from_value(message, 0).ok_or_else(|| too_deep(index))?;
            total = total.saturating_add(self.count_message(index, &node)?);
        }
        Ok(finish(total))
    }

    /// Counts a JSON text holding an array of OpenAI-format messages, keeping the key
    /// order as written (it matters only for object-valued fields).
    ///
    /// Fails with [`Error::InvalidInput`] when the text is not a JSON array, or for the
    /// same reasons as [`count_json_messages`](Self::count_json_messages).
    pub fn count_json_text(&self, json: &str) -> Result<usize> {
        let node: Node<'_> = serde_json::from_str(json)
            .map_err(|e| Error::InvalidInput(format!("messages are not valid JSON: {e}")))?;
        let Node::List(messages) = node else {
            return Err(Error::InvalidInput(
                "expected a JSON array of messages".to_owned(),
            ));
        };
        let mut total = 0i64;
        for (index, message) in messages.iter().enumerate() {
            total = total.saturating_add(self.count_message(index, message)?);
        }
        Ok(finish(total))
    }

    fn bpe(&self) -> &'static CoreBPE {
        self.encoding.bpe()
    }

    fn tokenizer(&self) -> Tokens {
        Tokens::for_encoding(self.encoding)
    }

    /// Tokens of one message, CAMEL's loop body.
    fn count_message(&self, index: usize, message: &Node<'_>) -> Result<i64> {
        let Node::Dict(fields) = message else {
            return Err(Error::InvalidInput(format!(
                "message {index} is not a JSON object"
            )));
        };
        let tokens = self.tokenizer();
        let mut n = self.tokens_per_message;
        for (key, value) in fields {
            match value {
                Node::List(items) => {
                    for (part, item) in items.iter().enumerate() {
                        let part_tokens = count_part(tokens, item).map_err(|why| {
                            Error::InvalidInput(format!(
                                "message {index}, field '{key}', part {part}: {why}"
                            ))
                        })?;
                        n = n.saturating_add(as_i64(part_tokens));
                    }
                }
                other => n = n.saturating_add(as_i64(tokens.count(&py_str(other)))),
            }
            if key == "name" {
                n = n.saturating_add(self.tokens_per_name);
            }
        }
        Ok(n)
    }
}

impl TokenCounter for OpenAITokenCounter {
    /// Counts each message as its OpenAI JSON object (the form CAMEL counts), in field
    /// order. The client-side `parsed` field is skipped: it is never sent.
    fn count_tokens_from_messages(&self, messages: &[ChatMessage]) -> Result<usize> {
        let mut total = 0i64;
        let mut buf = Vec::new();
        for (index, message) in messages.iter().enumerate() {
            buf.clear();
            serde_json::to_writer(&mut buf, message).map_err(|e| {
                Error::InvalidInput(format!("message {index} cannot be serialized: {e}"))
            })?;
            let mut node: Node<'_> = serde_json::from_slice(&buf).map_err(|e| {
                Error::InvalidInput(format!("message {index} cannot be counted: {e}"))
            })?;
            if let Node::Dict(fields) = &mut node {
                fields.retain(|(key, _)| key != "parsed");
            }
            total = total.saturating_add(self.count_message(index, &node)?);
        }
        Ok(finish(total))
    }

    fn encode(&self, text: &str) -> Vec<u32> {
        self.tokenizer().encode(text)
    }

    fn decode(&self, tokens: &[u32]) -> Result<String> {
        let bytes = self.bpe().decode_bytes(tokens).map_err(|e| {
            Error::InvalidInput(format!(
                "token id {} is not in the {} vocabulary",
                e.token,
                self.encoding.name()
            ))
        })?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// CAMEL's per-model overheads; `None` where CAMEL raises `NotImplementedError`.
fn camel_overheads(model: &str) -> Option<(i64, i64)> {
    if model == "gpt-3.5-turbo-0301" {
        Some((4, -1))
    } else if ["gpt-3.5-turbo", "gpt-4", "gpt-5"]
        .iter()
        .any(|m| model.contains(m))
    {
        Some((3, 1))
    } else if ["o1", "o3", "o4"].iter().any(|m| model.contains(m)) {
        Some((2, 1))
    } else {
        None
    }
}

/// The conversation's closing overhead (the reply's priming), clamped to `usize`.
fn finish(total: i64) -> usize {
    usize::try_from(total.saturating_add(3)).unwrap_or(0)
}

fn as_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn too_deep(index: usize) -> Error {
    Error::InvalidInput(format!(
        "message {index} is nested more than {MAX_DEPTH} levels deep"
    ))
}

// ---------------------------------------------------------------------------------------
// Encodings

/// A tiktoken encoding; the table itself is a lazily built process-wide singleton.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    O200kBase,
    O200kHarmony,
    Cl100kBase,
    P50kBase,
    P50kEdit,
    R50kBase,
}

impl Encoding {
    fn from_tokenizer(tokenizer: Tokenizer) -> Self {
        match tokenizer {
            Tokenizer::O200kBase => Encoding::O200kBase,
            Tokenizer::O200kHarmony => Encoding::O200kHarmony,
            Tokenizer::Cl100kBase => Encoding::Cl100kBase,
            Tokenizer::P50kBase => Encoding::P50kBase,
            Tokenizer::P50kEdit => Encoding::P50kEdit,
            Tokenizer::R50kBase | Tokenizer::Gpt2 => Encoding::R50kBase,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Encoding::O200kBase => "o200k_base",
            Encoding::O200kHarmony => "o200k_harmony",
            Encoding::Cl100kBase => "cl100k_base",
            Encoding::P50kBase => "p50k_base",
            Encoding::P50kEdit => "p50k_edit",
            Encoding::R50kBase => "r50k_base",
        }
    }

    fn bpe(self) -> &'static CoreBPE {
        match self {
            Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
            Encoding::O200kHarmony => tiktoken_rs::o200k_harmony_singleton(),
            Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
            Encoding::P50kBase => tiktoken_rs::p50k_base_singleton(),
            Encoding::P50kEdit => tiktoken_rs::p50k_edit_singleton(),
            Encoding::R50kBase => tiktoken_rs::r50k_base_singleton(),
        }
    }
}

/// Whitespace runs longer than this are encoded in pieces.
///
/// tiktoken's regex engine (fancy-regex) gives up on a run of about 1,000,000 whitespace
/// characters ("max stack size exceeded"), and tiktoken turns that into a panic — Python
/// tiktoken, and so CAMEL, raises there. Cutting such a run at this length keeps every
/// text countable; texts without such a run are encoded exactly as tiktoken does.
const MAX_WHITESPACE_RUN: usize = 500_000;

/// `encode_ordinary` that cannot hit tiktoken's regex stack limit.
fn encode_ordinary(bpe: &CoreBPE, text: &str) -> Vec<u32> {
    if text.len() <= MAX_WHITESPACE_RUN {
        return bpe.encode_ordinary(text);
    }
    let mut tokens = Vec::new();
    let mut start = 0;
    let mut run = 0usize;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if run == MAX_WHITESPACE_RUN {
                tokens.extend(bpe.encode_ordinary(text.get(start..i).unwrap_or_default()));
                start = i;
                run = 0;
            }
            run += 1;
        } else {
            run = 0;
        }
    }
    tokens.extend(bpe.encode_ordinary(text.get(start..).unwrap_or_default()));
    tokens
}

/// The tokenizer an encoding uses: the fast exact o200k path where it applies, else
/// tiktoken-rs's `CoreBPE`.
#[derive(Clone, Copy)]
enum Tokens {
    Fast(&'static FastBpe, &'static CoreBPE),
    Core(&'static CoreBPE),
}

impl Tokens {
    fn for_encoding(encoding: Encoding) -> Tokens {
        let core = encoding.bpe();
        match encoding {
            // o200k_harmony has o200k_base's ranks and pattern, plus special tokens
            // that ordinary encoding never produces.
            Encoding::O200kBase | Encoding::O200kHarmony => match fast_o200k() {
                Some(fast) => Tokens::Fast(fast, core),
                None => Tokens::Core(core),
            },
            _ => Tokens::Core(core),
        }
    }

    fn encode(self, text: &str) -> Vec<u32> {
        match self {
            Tokens::Fast(fast, core) => {
                let mut out = Vec::with_capacity(text.len() / 3 + 1);
                fast.encode_into(core, text, &mut out);
                out
            }
            Tokens::Core(core) => encode_ordinary(core, text),
        }
    }

    fn count(self, text: &str) -> usize {
        if text.is_empty() {
            return 0;
        }
        match self {
            Tokens::Fast(fast, core) => fast.count(core, text),
            Tokens::Core(core) => encode_ordinary(core, text).len(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// A faster, exact o200k_base encoder

/// `o200k_base` encoding with the same output as tiktoken, about twice as fast.
///
/// tiktoken splits text with a fancy-regex pattern whose only non-regular part is the
/// look-ahead branch `\s+(?!\S)`; everything else is plain `regex` syntax. Here the
/// pattern runs on regex-automata's DFA as a list of alternatives in the same
/// (leftmost-first) order, with that branch replaced by two equivalent ones: `\s+$`
/// (a run that ends the text) and `\s+\s` minus its last character (a run followed
/// by a non-space keeps its last whitespace for the next piece). Each piece then goes
/// through tiktoken's own BPE merge (`byte_pair_split`) with the same ranks, read back
/// from the `CoreBPE`. Pieces of 100 bytes or more take tiktoken's own path.
/// `tests` compare the two encoders on a large random corpus.
struct FastBpe {
    splitter: meta::Regex,
    ranks: FxHashMap<Vec<u8>, u32>,
}

/// tiktoken's o200k pattern, alternative by alternative (`O200K_BASE_PAT_STR`).
const O200K_ALTERNATIVES: [&str; 7] = [
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"\p{N}{1,3}",
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
    r"\s*[\r\n]+",
    r"\s+(?!\S)",
    r"\s+",
];

/// Index of the `\s+\s` alternative, whose last character is given back.
const GIVE_BACK_ONE: usize = 6;

/// Longest piece merged here; longer ones use tiktoken's heap-based merge.
const FAST_MERGE_MAX: usize = 100;

fn fast_o200k() -> Option<&'static FastBpe> {
    static FAST: OnceLock<Option<FastBpe>> = OnceLock::new();
    FAST.get_or_init(|| FastBpe::o200k(tiktoken_rs::o200k_base_singleton()))
        .as_ref()
}

impl FastBpe {
    /// `None` (use `CoreBPE` only) if tiktoken-rs's pattern or table is not the expected one.
    fn o200k(core: &CoreBPE) -> Option<FastBpe> {
        if O200K_ALTERNATIVES.join("|") != tiktoken_rs::O200K_BASE_PAT_STR {
            return None;
        }
        let [p0, p1, p2, p3, p4, _lookahead, p6] = O200K_ALTERNATIVES;
        let splitter = meta::Regex::new_many(&[p0, p1, p2, p3, p4, r"\s+$", r"\s+\s", p6]).ok()?;
        let specials = core.special_tokens();
        let mut ranks = FxHashMap::default();
        ranks.reserve(200_000);
        let mut keep = |bytes: Vec<u8>, id: u32| {
            let special = std::str::from_utf8(&bytes).is_ok_and(|s| specials.contains(s));
            if !special {
                ranks.insert(bytes, id);
            }
        };
        // The ranks are the ids 0..n (tiktoken's files have no gaps; special tokens sit
        // above). Find n, check in one call that every id below it decodes and that no
        // ordinary token follows, then read them all back in one pass. Otherwise ask id
        // by id.
        let is_special =
            |bytes: &[u8]| std::str::from_utf8(bytes).is_ok_and(|s| specials.contains(s));
        let decodes = |id: u32| core.decode_bytes(&[id]).is_ok();
        let (mut lo, mut hi) = (0u32, 1 << 22);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if decodes(mid) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let ids: Vec<u32> = (0..lo).collect();
        let contiguous = core.decode_bytes(&ids).is_ok()
            && (lo..lo.saturating_add(4096))
                .all(|id| core.decode_bytes(&[id]).map_or(true, |b| is_special(&b)));
        if contiguous {
            for (bytes, id) in core._decode_native_and_split(ids).zip(0u32..) {
                keep(bytes, id);
            }
        } else {
            let (mut id, mut misses) = (0u32, 0);
            while misses < 4096 {
                match core.decode_bytes(&[id]) {
                    Ok(bytes) => {
                        misses = 0;
                        keep(bytes, id);
                    }
                    Err(_) => misses += 1,
                }
                id = id.checked_add(1)?;
            }
        }
        // BPE needs every single byte as a token.
        if !(0..=255u8).all(|b| ranks.contains_key([b].as_slice())) {
            return None;
        }
        Some(FastBpe { splitter, ranks })
    }

    /// Calls `f` with each piece of `text`, as tiktoken's `find_iter` would split it.
    fn split(&self, text: &str, mut f: impl FnMut(&str)) {
        let mut pos = 0;
        while pos < text.len() {
            let anchored = Input::new(text).range(pos..).anchored(Anchored::Yes);
            let found = self
                .splitter
                .search(&anchored)
                .or_else(|| self.splitter.search(&Input::new(text).range(pos..)));
            let Some(m) = found else { break };
            let mut end = m.end();
            if m.pattern().as_usize() == GIVE_BACK_ONE {
                let last = text
                    .get(m.start()..end)
                    .and_then(|s| s.chars().next_back())
                    .map_or(0, char::len_utf8);
                end -= last;
            }
            if end <= m.start() {
                break; // cannot happen: every alternative matches at least one character
            }
            if let Some(piece) = text.get(m.start()..end) {
                f(piece);
            }
            pos = end;
        }
    }

    fn encode_into(&self, core: &CoreBPE, text: &str, out: &mut Vec<u32>) {
        self.split(text, |piece| {
            let bytes = piece.as_bytes();
            if let Some(&rank) = self.ranks.get(bytes) {
                out.push(rank);
            } else if bytes.len() < FAST_MERGE_MAX {
                for part in tiktoken_rs::byte_pair_split(bytes, &self.ranks) {
                    out.push(self.ranks.get(part).copied().unwrap_or_default());
                }
            } else {
                out.extend(encode_ordinary(core, piece));
            }
        });
    }

    fn count(&self, core: &CoreBPE, text: &str) -> usize {
        let mut n = 0;
        self.split(text, |piece| {
            let bytes = piece.as_bytes();
            n += if self.ranks.contains_key(bytes) {
                1
            } else if bytes.len() < FAST_MERGE_MAX {
                tiktoken_rs::byte_pair_split(bytes, &self.ranks).len()
            } else {
                encode_ordinary(core, piece).len()
            };
        });
        n
    }
}

// ---------------------------------------------------------------------------------------
// Content parts and images

/// Tokens of one item of a list-valued field; `Err` carries the reason for the caller.
fn count_part(tokens: Tokens, item: &Node<'_>) -> std::result::Result<usize, String> {
    let Node::Dict(fields) = item else {
        return Ok(0);
    };
    match get(fields, "type") {
        Some(Node::Str(t)) if t == "text" => {
            Ok(get(fields, "text").map_or(0, |text| tokens.count(&py_str(text))))
        }
        Some(Node::Str(t)) if t == "image_url" => image_part_tokens(fields),
        _ => Ok(0),
    }
}

/// Image detail levels (CAMEL's `OpenAIVisionDetailType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Detail {
    Auto,
    Low,
    High,
}

const IMAGE_PREFIXES: [&str; 5] = [
    "data:image/png;base64,",
    "data:image/jpeg;base64,",
    "data:image/jpg;base64,",
    "data:image/webp;base64,",
    "data:image/gif;base64,",
];

fn image_part_tokens(fields: &[(Cow<'_, str>, Node<'_>)]) -> std::result::Result<usize, String> {
    let (url, detail) = match get(fields, "image_url") {
        Some(Node::Dict(image)) => (get(image, "url"), get(image, "detail")),
        Some(url @ Node::Str(_)) => (Some(url), None),
        _ => return Ok(0),
    };
    let Some(Node::Str(url)) = url else {
        return Ok(0);
    };
    // Only inline images can be measured; a remote image would have to be fetched.
    if !url.starts_with("data:image") {
        return Ok(0);
    }
    let payload = image_payload(url).ok_or_else(|| {
        "the image URL is not data:image/{png,jpeg,jpg,webp,gif};base64,...".to_owned()
    })?;
    let bytes = python_b64decode(payload)
        .map_err(|why| format!("the image's base64 data does not decode: {why}"))?;
    let size = imagesize::blob_size(&bytes)
        .map_err(|e| format!("the image data is not a readable image ({e})"))?;
    let detail = match detail {
        None | Some(Node::Null) => Detail::Auto,
        Some(Node::Str(s)) if s == "auto" => Detail::Auto,
        Some(Node::Str(s)) if s == "low" => Detail::Low,
        Some(Node::Str(s)) if s == "high" => Detail::High,
        Some(other) => {
            return Err(format!(
                "unknown image detail {} (expected 'auto', 'low' or 'high')",
                py_repr_to_string(other)
            ))
        }
    };
    image_tokens(size.width as u64, size.height as u64, detail)
}

/// The base64 text after CAMEL's data-URL prefix: the first of png, jpeg, jpg, webp, gif
/// whose prefix occurs anywhere in the URL, up to that prefix's next occurrence
/// (`url.split(prefix)[1]`).
fn image_payload(url: &str) -> Option<&str> {
    IMAGE_PREFIXES.iter().find_map(|prefix| {
        let at = url.find(prefix)?;
        let rest = url.get(at + prefix.len()..)?;
        Some(
            rest.find(prefix)
                .and_then(|end| rest.get(..end))
                .unwrap_or(rest),
        )
    })
}

/// Python's `base64.b64decode(s)` (not validating): characters outside the base64
/// alphabet are skipped, decoding stops at the padding that completes a quad, and a
/// dangling partial quad is an error.
fn python_b64decode(s: &str) -> std::result::Result<Vec<u8>, String> {
    if !s.is_ascii() {
        return Err("string argument should contain only ASCII characters".to_owned());
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 3);
    let mut quad_pos = 0u8;
    let mut left = 0u8;
    let mut pads = 0u8;
    for &byte in s.as_bytes() {
        if byte == b'=' {
            if quad_pos >= 2 {
                pads = pads.saturating_add(1);
                if quad_pos + pads >= 4 {
                    return Ok(out);
                }
            }
            continue;
        }
        let Some(v) = b64_value(byte) else {
            continue;
        };
        pads = 0;
        match quad_pos {
            0 => {
                left = v;
                quad_pos = 1;
            }
            1 => {
                out.push((left << 2) | (v >> 4));
                left = v & 0x0f;
                quad_pos = 2;
            }
            2 => {
                out.push((left << 4) | (v >> 2));
                left = v & 0x03;
                quad_pos = 3;
            }
            _ => {
                out.push((left << 6) | v);
                left = 0;
                quad_pos = 0;
            }
        }
    }
    match quad_pos {
        0 => Ok(out),
        1 => Err(format!(
            "Invalid base64-encoded string: number of data characters ({}) cannot be 1 \
             more than a multiple of 4",
            out.len() / 3 * 4 + 1
        )),
        _ => Err("Incorrect padding".to_owned()),
    }
}

fn b64_value(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// CAMEL's `_count_tokens_from_image`, in the same floating-point steps.
fn image_tokens(width: u64, height: u64, detail: Detail) -> std::result::Result<usize, String> {
    const LOW_DETAIL_TOKENS: u64 = 85;
    const FIT_SQUARE_PIXELS: u64 = 2048;
    const SHORTEST_SIDE_PIXELS: f64 = 768.0;
    const SQUARE_PIXELS: u64 = 512;
    const SQUARE_TOKENS: u64 = 170;
    const EXTRA_TOKENS: u64 = 85;

    if detail == Detail::Low {
        return Ok(LOW_DETAIL_TOKENS as usize);
    }
    let (mut w, mut h) = (width, height);
    if w > FIT_SQUARE_PIXELS || h > FIT_SQUARE_PIXELS {
        let scaling = w.max(h) as f64 / FIT_SQUARE_PIXELS as f64;
        w = (w as f64 / scaling) as u64;
        h = (h as f64 / scaling) as u64;
    }
    if w == 0 || h == 0 {
        // CAMEL divides by zero here (ZeroDivisionError).
        return Err(format!(
            "cannot count a {width}x{height} image: a side scales to 0 pixels"
        ));
    }
    let scaling = w.min(h) as f64 / SHORTEST_SIDE_PIXELS;
    let scaled_w = (w as f64 / scaling) as u64;
    let scaled_h = (h as f64 / scaling) as u64;
    let tiles = scaled_h.div_ceil(SQUARE_PIXELS) * scaled_w.div_ceil(SQUARE_PIXELS);
    usize::try_from(EXTRA_TOKENS + SQUARE_TOKENS * tiles).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------
// JSON values as CAMEL sees them (Python objects), in field order

/// Deeper values are refused (serde_json's own parser stops at 128 too).
const MAX_DEPTH: usize = 128;

/// A JSON value that keeps object keys in order and borrows strings where it can.
#[derive(Debug, Clone, PartialEq)]
enum Node<'a> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(Cow<'a, str>),
    List(Vec<Node<'a>>),
    /// Keys are unique; a repeated key keeps its first position and its last value
    /// (what Python's `json.loads` builds).
    Dict(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    /// `None` when nested deeper than [`MAX_DEPTH`].
    fn from_value(value: &'a Value, depth: usize) -> Option<Node<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        Some(match value {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    Node::U64(u)
                } else if let Some(i) = n.as_i64() {
                    Node::I64(i)
                } else {
                    Node::F64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => Node::Str(Cow::Borrowed(s)),
            Value::Array(items) => Node::List(
                items
                    .iter()
                    .map(|v| Node::from_value(v, depth + 1))
                    .collect::<Option<_>>()?,
            ),
            Value::Object(map) => Node::Dict(
                map.iter()
                    .map(|(k, v)| {
                        Some((Cow::Borrowed(k.as_str()), Node::from_value(v, depth + 1)?))
                    })
                    .collect::<Option<_>>()?,
            ),
        })
    }
}

fn get<'n, 'a>(fields: &'n [(Cow<'a, str>, Node<'a>)], key: &str) -> Option<&'n Node<'a>> {
    fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Node<'de>, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Node<'de>, E> {
        Ok(Node::I64(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Node<'de>, E> {
        Ok(Node::U64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Node<'de>, E> {
        Ok(Node::F64(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> std::result::Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v)))
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<Node<'de>, E> {
        Ok(Node::Null)
    }
    fn visit_none<E: de::Error>(self) -> std::result::Result<Node<'de>, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Node<'de>, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Node<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Node<'de>, A::Error> {
        let mut fields: Vec<(Cow<'de, str>, Node<'de>)> = Vec::new();
        // Index for long objects, so repeated keys stay cheap to find.
        let mut index: Option<HashMap<Cow<'de, str>, usize>> = None;
        while let Some(Key(key)) = map.next_key()? {
            let value: Node<'de> = map.next_value()?;
            let existing = match &index {
                Some(idx) => idx.get(&key).copied(),
                None => fields.iter().position(|(k, _)| *k == key),
            };
            match existing.and_then(|i| fields.get_mut(i)) {
                Some(slot) => slot.1 = value,
                None => {
                    if let Some(idx) = &mut index {
                        idx.insert(key.clone(), fields.len());
                    }
                    fields.push((key, value));
                    if index.is_none() && fields.len() > 16 {
                        index = Some(
                            fields
                                .iter()
                                .enumerate()
                                .map(|(i, (k, _))| (k.clone(), i))
                                .collect(),
                        );
                    }
                }
            }
        }
        Ok(Node::Dict(fields))
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                v: &'de str,
            ) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

// ---------------------------------------------------------------------------------------
// Python's str() and repr()

/// `str(value)` of the Python object `json.loads` makes of this value.
fn py_str<'n>(node: &'n Node<'_>) -> Cow<'n, str> {
    match node {
        Node::Str(s) => Cow::Borrowed(s),
        Node::Null => Cow::Borrowed("None"),
        Node::Bool(true) => Cow::Borrowed("True"),
        Node::Bool(false) => Cow::Borrowed("False"),
        other => Cow::Owned(py_repr_to_string(other)),
    }
}

fn py_repr_to_string(node: &Node<'_>) -> String {
    let mut out = String::new();
    py_repr(node, &mut out);
    out
}

/// `repr(value)`: dicts as `{'k': v}`, lists as `[a, b]`, strings quoted and escaped.
fn py_repr(node: &Node<'_>, out: &mut String) {
    match node {
        Node::Null => out.push_str("None"),
        Node::Bool(true) => out.push_str("True"),
        Node::Bool(false) => out.push_str("False"),
        Node::U64(n) => out.push_str(&n.to_string()),
        Node::I64(n) => out.push_str(&n.to_string()),
        Node::F64(f) => out.push_str(&py_float_repr(*f)),
        Node::Str(s) => py_repr_str(s, out),
        Node::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr(item, out);
            }
            out.push(']');
        }
        Node::Dict(fields) => {
            out.push('{');
            for (i, (key, value)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr_str(key, out);
                out.push_str(": ");
                py_repr(value, out);
            }
            out.push('}');
        }
    }
}

/// Python's `repr(str)`.
fn py_repr_str(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.reserve(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        let cp = u32::from(c);
        match c {
            '\\' => out.push_str("\\\\"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ if cp < 0x20 || cp == 0x7f => push_hex(out, 'x', cp, 2),
            _ if cp < 0x7f || is_printable(cp) => out.push(c),
            _ if cp < 0x100 => push_hex(out, 'x', cp, 2),
            _ if cp < 0x10000 => push_hex(out, 'u', cp, 4),
            _ => push_hex(out, 'U', cp, 8),
        }
    }
    out.push(quote);
}

fn push_hex(out: &mut String, kind: char, cp: u32, width: usize) {
    use fmt::Write;
    out.push('\\');
    out.push(kind);
    let _ = write!(out, "{cp:0width$x}");
}

/// Python's `str.isprintable()` for one code point >= U+0080.
fn is_printable(cp: u32) -> bool {
    NOT_PRINTABLE
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_err()
}

/// Python's `repr(float)`: the shortest round-tripping digits, positional for
/// 1e-4 <= |x| < 1e16, else scientific with a signed two-digit-minimum exponent.
fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // Rust's `{:e}` gives the same shortest round-trip digits, e.g. "-1.2345e-7".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let ndigits = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    // The value is 0.DIGITS × 10^decpt.
    let decpt = exp + 1;
    let mut out = String::from(sign);
    if -4 < decpt && decpt <= 16 {
        if decpt <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', decpt.unsigned_abs() as usize));
            out.push_str(&digits);
        } else if decpt >= ndigits {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', (decpt - ndigits) as usize));
            out.push_str(".0");
        } else {
            let (int, frac) = digits.split_at(decpt as usize);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let e = decpt - 1;
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", e.unsigned_abs()));
    }
    out
}

// @generated begin not_printable
// Python 3.13.0, Unicode 15.1.0: inclusive ranges of code points >= U+0080
// for which str.isprintable() is false. Sorted, disjoint.
#[rustfmt::skip]
const NOT_PRINTABLE: &[(u32, u32)] = &[
    (0x80, 0xA0), (0xAD, 0xAD), (0x378, 0x379), (0x380, 0x383), (0x38B, 0x38B), (0x38D, 0x38D),
    (0x3A2, 0x3A2), (0x530, 0x530), (0x557, 0x558), (0x58B, 0x58C), (0x590, 0x590), (0x5C8, 0x5CF),
    (0x5EB, 0x5EE), (0x5F5, 0x605), (0x61C, 0x61C), (0x6DD, 0x6DD), (0x70E, 0x70F), (0x74B, 0x74C),
    (0x7B2, 0x7BF), (0x7FB, 0x7FC), (0x82E, 0x82F), (0x83F, 0x83F), (0x85C, 0x85D), (0x85F, 0x85F),
    (0x86B, 0x86F), (0x88F, 0x897), (0x8E2, 0x8E2), (0x984, 0x984), (0x98D, 0x98E), (0x991, 0x992),
    (0x9A9, 0x9A9), (0x9B1, 0x9B1), (0x9B3, 0x9B5), (0x9BA, 0x9BB), (0x9C5, 0x9C6), (0x9C9, 0x9CA),
    (0x9CF, 0x9D6), (0x9D8, 0x9DB), (0x9DE, 0x9DE), (0x9E4, 0x9E5), (0x9FF, 0xA00), (0xA04, 0xA04),
    (0xA0B, 0xA0E), (0xA11, 0xA12), (0xA29, 0xA29), (0xA31, 0xA31), (0xA34, 0xA34), (0xA37, 0xA37),
    (0xA3A, 0xA3B), (0xA3D, 0xA3D), (0xA43, 0xA46), (0xA49, 0xA4A), (0xA4E, 0xA50), (0xA52, 0xA58),
    (0xA5D, 0xA5D), (0xA5F, 0xA65), (0xA77, 0xA80), (0xA84, 0xA84), (0xA8E, 0xA8E), (0xA92, 0xA92),
    (0xAA9, 0xAA9), (0xAB1, 0xAB1), (0xAB4, 0xAB4), (0xABA, 0xABB), (0xAC6, 0xAC6), (0xACA, 0xACA),
    (0xACE, 0xACF), (0xAD1, 0xADF), (0xAE4, 0xAE5), (0xAF2, 0xAF8), (0xB00, 0xB00), (0xB04, 0xB04),
    (0xB0D, 0xB0E), (0xB11, 0xB12), (0xB29, 0xB29), (0xB31, 0xB31), (0xB34, 0xB34), (0xB3A, 0xB3B),
    (0xB45, 0xB46), (0xB49, 0xB4A), (0xB4E, 0xB54), (0xB58, 0xB5B), (0xB5E, 0xB5E), (0xB64, 0xB65),
    (0xB78, 0xB81), (0xB84, 0xB84), (0xB8B, 0xB8D), (0xB91, 0xB91), (0xB96, 0xB98), (0xB9B, 0xB9B),
    (0xB9D, 0xB9D), (0xBA0, 0xBA2), (0xBA5, 0xBA7), (0xBAB, 0xBAD), (0xBBA, 0xBBD), (0xBC3, 0xBC5),
    (0xBC9, 0xBC9), (0xBCE, 0xBCF), (0xBD1, 0xBD6), (0xBD8, 0xBE5), (0xBFB, 0xBFF), (0xC0D, 0xC0D),
    (0xC11, 0xC11), (0xC29, 0xC29), (0xC3A, 0xC3B), (0xC45, 0xC45), (0xC49, 0xC49), (0xC4E, 0xC54),
    (0xC57, 0xC57), (0xC5B, 0xC5C), (0xC5E, 0xC5F), (0xC64, 0xC65), (0xC70, 0xC76), (0xC8D, 0xC8D),
    (0xC91, 0xC91), (0xCA9, 0xCA9), (0xCB4, 0xCB4), (0xCBA, 0xCBB), (0xCC5, 0xCC5), (0xCC9, 0xCC9),
    (0xCCE, 0xCD4), (0xCD7, 0xCDC), (0xCDF, 0xCDF), (0xCE4, 0xCE5), (0xCF0, 0xCF0), (0xCF4, 0xCFF),
    (0xD0D, 0xD0D), (0xD11, 0xD11), (0xD45, 0xD45), (0xD49, 0xD49), (0xD50, 0xD53), (0xD64, 0xD65),
    (0xD80, 0xD80), (0xD84, 0xD84), (0xD97, 0xD99), (0xDB2, 0xDB2), (0xDBC, 0xDBC), (0xDBE, 0xDBF),
    (0xDC7, 0xDC9), (0xDCB, 0xDCE), (0xDD5, 0xDD5), (0xDD7, 0xDD7), (0xDE0, 0xDE5), (0xDF0, 0xDF1),
    (0xDF5, 0xE00), (0xE3B, 0xE3E), (0xE5C, 0xE80), (0xE83, 0xE83), (0xE85, 0xE85), (0xE8B, 0xE8B),
    (0xEA4, 0xEA4), (0xEA6, 0xEA6), (0xEBE, 0xEBF), (0xEC5, 0xEC5), (0xEC7, 0xEC7), (0xECF, 0xECF),
    (0xEDA, 0xEDB), (0xEE0, 0xEFF), (0xF48, 0xF48), (0xF6D, 0xF70), (0xF98, 0xF98), (0xFBD, 0xFBD),
    (0xFCD, 0xFCD), (0xFDB, 0xFFF), (0x10C6, 0x10C6), (0x10C8, 0x10CC), (0x10CE, 0x10CF), (0x1249, 0x1249),
    (0x124E, 0x124F), (0x1257, 0x1257), (0x1259, 0x1259), (0x125E, 0x125F), (0x1289, 0x1289), (0x128E, 0x128F),
    (0x12B1, 0x12B1), (0x12B6, 0x12B7), (0x12BF, 0x12BF), (0x12C1, 0x12C1), (0x12C6, 0x12C7), (0x12D7, 0x12D7),
    (0x1311, 0x1311), (0x1316, 0x1317), (0x135B, 0x135C), (0x137D, 0x137F), (0x139A, 0x139F), (0x13F6, 0x13F7),
    (0x13FE, 0x13FF), (0x1680, 0x1680), (0x169D, 0x169F), (0x16F9, 0x16FF), (0x1716, 0x171E), (0x1737, 0x173F),
    (0x1754, 0x175F), (0x176D, 0x176D), (0x1771, 0x1771), (0x1774, 0x177F), (0x17DE, 0x17DF), (0x17EA, 0x17EF),
    (0x17FA, 0x17FF), (0x180E, 0x180E), (0x181A, 0x181F), (0x1879, 0x187F), (0x18AB, 0x18AF), (0x18F6, 0x18FF),
    (0x191F, 0x191F), (0x192C, 0x192F), (0x193C, 0x193F), (0x1941, 0x1943), (0x196E, 0x196F), (0x1975, 0x197F),
    (0x19AC, 0x19AF), (0x19CA, 0x19CF), (0x19DB, 0x19DD), (0x1A1C, 0x1A1D), (0x1A5F, 0x1A5F), (0x1A7D, 0x1A7E),
    (0x1A8A, 0x1A8F), (0x1A9A, 0x1A9F), (0x1AAE, 0x1AAF), (0x1ACF, 0x1AFF), (0x1B4D, 0x1B4F), (0x1B7F, 0x1B7F),
    (0x1BF4, 0x1BFB), (0x1C38, 0x1C3A), (0x1C4A, 0x1C4C), (0x1C89, 0x1C8F), (0x1CBB, 0x1CBC), (0x1CC8, 0x1CCF),
    (0x1CFB, 0x1CFF), (0x1F16, 0x1F17), (0x1F1E, 0x1F1F), (0x1F46, 0x1F47), (0x1F4E, 0x1F4F), (0x1F58, 0x1F58),
    (0x1F5A, 0x1F5A), (0x1F5C, 0x1F5C), (0x1F5E, 0x1F5E), (0x1F7E, 0x1F7F), (0x1FB5, 0x1FB5), (0x1FC5, 0x1FC5),
    (0x1FD4, 0x1FD5), (0x1FDC, 0x1FDC), (0x1FF0, 0x1FF1), (0x1FF5, 0x1FF5), (0x1FFF, 0x200F), (0x2028, 0x202F),
    (0x205F, 0x206F), (0x2072, 0x2073), (0x208F, 0x208F), (0x209D, 0x209F), (0x20C1, 0x20CF), (0x20F1, 0x20FF),
    (0x218C, 0x218F), (0x2427, 0x243F), (0x244B, 0x245F), (0x2B74, 0x2B75), (0x2B96, 0x2B96), (0x2CF4, 0x2CF8),
    (0x2D26, 0x2D26), (0x2D28, 0x2D2C), (0x2D2E, 0x2D2F), (0x2D68, 0x2D6E), (0x2D71, 0x2D7E), (0x2D97, 0x2D9F),
    (0x2DA7, 0x2DA7), (0x2DAF, 0x2DAF), (0x2DB7, 0x2DB7), (0x2DBF, 0x2DBF), (0x2DC7, 0x2DC7), (0x2DCF, 0x2DCF),
    (0x2DD7, 0x2DD7), (0x2DDF, 0x2DDF), (0x2E5E, 0x2E7F), (0x2E9A, 0x2E9A), (0x2EF4, 0x2EFF), (0x2FD6, 0x2FEF),
    (0x3000, 0x3000), (0x3040, 0x3040), (0x3097, 0x3098), (0x3100, 0x3104), (0x3130, 0x3130), (0x318F, 0x318F),
    (0x31E4, 0x31EE), (0x321F, 0x321F), (0xA48D, 0xA48F), (0xA4C7, 0xA4CF), (0xA62C, 0xA63F), (0xA6F8, 0xA6FF),
    (0xA7CB, 0xA7CF), (0xA7D2, 0xA7D2), (0xA7D4, 0xA7D4), (0xA7DA, 0xA7F1), (0xA82D, 0xA82F), (0xA83A, 0xA83F),
    (0xA878, 0xA87F), (0xA8C6, 0xA8CD), (0xA8DA, 0xA8DF), (0xA954, 0xA95E), (0xA97D, 0xA97F), (0xA9CE, 0xA9CE),
    (0xA9DA, 0xA9DD), (0xA9FF, 0xA9FF), (0xAA37, 0xAA3F), (0xAA4E, 0xAA4F), (0xAA5A, 0xAA5B), (0xAAC3, 0xAADA),
    (0xAAF7, 0xAB00), (0xAB07, 0xAB08), (0xAB0F, 0xAB10), (0xAB17, 0xAB1F), (0xAB27, 0xAB27), (0xAB2F, 0xAB2F),
    (0xAB6C, 0xAB6F), (0xABEE, 0xABEF), (0xABFA, 0xABFF), (0xD7A4, 0xD7AF), (0xD7C7, 0xD7CA), (0xD7FC, 0xF8FF),
    (0xFA6E, 0xFA6F), (0xFADA, 0xFAFF), (0xFB07, 0xFB12), (0xFB18, 0xFB1C), (0xFB37, 0xFB37), (0xFB3D, 0xFB3D),
    (0xFB3F, 0xFB3F), (0xFB42, 0xFB42), (0xFB45, 0xFB45), (0xFBC3, 0xFBD2), (0xFD90, 0xFD91), (0xFDC8, 0xFDCE),
    (0xFDD0, 0xFDEF), (0xFE1A, 0xFE1F), (0xFE53, 0xFE53), (0xFE67, 0xFE67), (0xFE6C, 0xFE6F), (0xFE75, 0xFE75),
    (0xFEFD, 0xFF00), (0xFFBF, 0xFFC1), (0xFFC8, 0xFFC9), (0xFFD0, 0xFFD1), (0xFFD8, 0xFFD9), (0xFFDD, 0xFFDF),
    (0xFFE7, 0xFFE7), (0xFFEF, 0xFFFB), (0xFFFE, 0xFFFF), (0x1000C, 0x1000C), (0x10027, 0x10027), (0x1003B, 0x1003B),
    (0x1003E, 0x1003E), (0x1004E, 0x1004F), (0x1005E, 0x1007F), (0x100FB, 0x100FF), (0x10103, 0x10106), (0x10134, 0x10136),
    (0x1018F, 0x1018F), (0x1019D, 0x1019F), (0x101A1, 0x101CF), (0x101FE, 0x1027F), (0x1029D, 0x1029F), (0x102D1, 0x102DF),
    (0x102FC, 0x102FF), (0x10324, 0x1032C), (0x1034B, 0x1034F), (0x1037B, 0x1037F), (0x1039E, 0x1039E), (0x103C4, 0x103C7),
    (0x103D6, 0x103FF), (0x1049E, 0x1049F), (0x104AA, 0x104AF), (0x104D4, 0x104D7), (0x104FC, 0x104FF), (0x10528, 0x1052F),
    (0x10564, 0x1056E), (0x1057B, 0x1057B), (0x1058B, 0x1058B), (0x10593, 0x10593), (0x10596, 0x10596), (0x105A2, 0x105A2),
    (0x105B2, 0x105B2), (0x105BA, 0x105BA), (0x105BD, 0x105FF), (0x10737, 0x1073F), (0x10756, 0x1075F), (0x10768, 0x1077F),
    (0x10786, 0x10786), (0x107B1, 0x107B1), (0x107BB, 0x107FF), (0x10806, 0x10807), (0x10809, 0x10809), (0x10836, 0x10836),
    (0x10839, 0x1083B), (0x1083D, 0x1083E), (0x10856, 0x10856), (0x1089F, 0x108A6), (0x108B0, 0x108DF), (0x108F3, 0x108F3),
    (0x108F6, 0x108FA), (0x1091C, 0x1091E), (0x1093A, 0x1093E), (0x10940, 0x1097F), (0x109B8, 0x109BB), (0x109D0, 0x109D1),
    (0x10A04, 0x10A04), (0x10A07, 0x10A0B), (0x10A14, 0x10A14), (0x10A18, 0x10A18), (0x10A36, 0x10A37), (0x10A3B, 0x10A3E),
    (0x10A49, 0x10A4F), (0x10A59, 0x10A5F), (0x10AA0, 0x10ABF), (0x10AE7, 0x10AEA), (0x10AF7, 0x10AFF), (0x10B36, 0x10B38),
    (0x10B56, 0x10B57), (0x10B73, 0x10B77), (0x10B92, 0x10B98), (0x10B9D, 0x10BA8), (0x10BB0, 0x10BFF), (0x10C49, 0x10C7F),
    (0x10CB3, 0x10CBF), (0x10CF3, 0x10CF9), (0x10D28, 0x10D2F), (0x10D3A, 0x10E5F), (0x10E7F, 0x10E7F), (0x10EAA, 0x10EAA),
    (0x10EAE, 0x10EAF), (0x10EB2, 0x10EFC), (0x10F28, 0x10F2F), (0x10F5A, 0x10F6F), (0x10F8A, 0x10FAF), (0x10FCC, 0x10FDF),
    (0x10FF7, 0x10FFF), (0x1104E, 0x11051), (0x11076, 0x1107E), (0x110BD, 0x110BD), (0x110C3, 0x110CF), (0x110E9, 0x110EF),
    (0x110FA, 0x110FF), (0x11135, 0x11135), (0x11148, 0x1114F), (0x11177, 0x1117F), (0x111E0, 0x111E0), (0x111F5, 0x111FF),
    (0x11212, 0x11212), (0x11242, 0x1127F), (0x11287, 0x11287), (0x11289, 0x11289), (0x1128E, 0x1128E), (0x1129E, 0x1129E),
    (0x112AA, 0x112AF), (0x112EB, 0x112EF), (0x112FA, 0x112FF), (0x11304, 0x11304), (0x1130D, 0x1130E), (0x11311, 0x11312),
    (0x11329, 0x11329), (0x11331, 0x11331), (0x11334, 0x11334), (0x1133A, 0x1133A), (0x11345, 0x11346), (0x11349, 0x1134A),
    (0x1134E, 0x1134F), (0x11351, 0x11356), (0x11358, 0x1135C), (0x11364, 0x11365), (0x1136D, 0x1136F), (0x11375, 0x113FF),
    (0x1145C, 0x1145C), (0x11462, 0x1147F), (0x114C8, 0x114CF), (0x114DA, 0x1157F), (0x115B6, 0x115B7), (0x115DE, 0x115FF),
    (0x11645, 0x1164F), (0x1165A, 0x1165F), (0x1166D, 0x1167F), (0x116BA, 0x116BF), (0x116CA, 0x116FF), (0x1171B, 0x1171C),
    (0x1172C, 0x1172F), (0x11747, 0x117FF), (0x1183C, 0x1189F), (0x118F3, 0x118FE), (0x11907, 0x11908), (0x1190A, 0x1190B),
    (0x11914, 0x11914), (0x11917, 0x11917), (0x11936, 0x11936), (0x11939, 0x1193A), (0x11947, 0x1194F), (0x1195A, 0x1199F),
    (0x119A8, 0x119A9), (0x119D8, 0x119D9), (0x119E5, 0x119FF), (0x11A48, 0x11A4F), (0x11AA3, 0x11AAF), (0x11AF9, 0x11AFF),
    (0x11B0A, 0x11BFF), (0x11C09, 0x11C09), (0x11C37, 0x11C37), (0x11C46, 0x11C4F), (0x11C6D, 0x11C6F), (0x11C90, 0x11C91),
    (0x11CA8, 0x11CA8), (0x11CB7, 0x11CFF), (0x11D07, 0x11D07), (0x11D0A, 0x11D0A), (0x11D37, 0x11D39), (0x11D3B, 0x11D3B),
    (0x11D3E, 0x11D3E), (0x11D48, 0x11D4F), (0x11D5A, 0x11D5F), (0x11D66, 0x11D66), (0x11D69, 0x11D69), (0x11D8F, 0x11D8F),
    (0x11D92, 0x11D92), (0x11D99, 0x11D9F), (0x11DAA, 0x11EDF), (0x11EF9, 0x11EFF), (0x11F11, 0x11F11), (0x11F3B, 0x11F3D),
    (0x11F5A, 0x11FAF), (0x11FB1, 0x11FBF), (0x11FF2, 0x11FFE), (0x1239A, 0x123FF), (0x1246F, 0x1246F), (0x12475, 0x1247F),
    (0x12544, 0x12F8F), (0x12FF3, 0x12FFF), (0x13430, 0x1343F), (0x13456, 0x143FF), (0x14647, 0x167FF), (0x16A39, 0x16A3F),
    (0x16A5F, 0x16A5F), (0x16A6A, 0x16A6D), (0x16ABF, 0x16ABF), (0x16ACA, 0x16ACF), (0x16AEE, 0x16AEF), (0x16AF6, 0x16AFF),
    (0x16B46, 0x16B4F), (0x16B5A, 0x16B5A), (0x16B62, 0x16B62), (0x16B78, 0x16B7C), (0x16B90, 0x16E3F), (0x16E9B, 0x16EFF),
    (0x16F4B, 0x16F4E), (0x16F88, 0x16F8E), (0x16FA0, 0x16FDF), (0x16FE5, 0x16FEF), (0x16FF2, 0x16FFF), (0x187F8, 0x187FF),
    (0x18CD6, 0x18CFF), (0x18D09, 0x1AFEF), (0x1AFF4, 0x1AFF4), (0x1AFFC, 0x1AFFC), (0x1AFFF, 0x1AFFF), (0x1B123, 0x1B131),
    (0x1B133, 0x1B14F), (0x1B153, 0x1B154), (0x1B156, 0x1B163), (0x1B168, 0x1B16F), (0x1B2FC, 0x1BBFF), (0x1BC6B, 0x1BC6F),
    (0x1BC7D, 0x1BC7F), (0x1BC89, 0x1BC8F), (0x1BC9A, 0x1BC9B), (0x1BCA0, 0x1CEFF), (0x1CF2E, 0x1CF2F), (0x1CF47, 0x1CF4F),
    (0x1CFC4, 0x1CFFF), (0x1D0F6, 0x1D0FF), (0x1D127, 0x1D128), (0x1D173, 0x1D17A), (0x1D1EB, 0x1D1FF), (0x1D246, 0x1D2BF),
    (0x1D2D4, 0x1D2DF), (0x1D2F4, 0x1D2FF), (0x1D357, 0x1D35F), (0x1D379, 0x1D3FF), (0x1D455, 0x1D455), (0x1D49D, 0x1D49D),
    (0x1D4A0, 0x1D4A1), (0x1D4A3, 0x1D4A4), (0x1D4A7, 0x1D4A8), (0x1D4AD, 0x1D4AD), (0x1D4BA, 0x1D4BA), (0x1D4BC, 0x1D4BC),
    (0x1D4C4, 0x1D4C4), (0x1D506, 0x1D506), (0x1D50B, 0x1D50C), (0x1D515, 0x1D515), (0x1D51D, 0x1D51D), (0x1D53A, 0x1D53A),
    (0x1D53F, 0x1D53F), (0x1D545, 0x1D545), (0x1D547, 0x1D549), (0x1D551, 0x1D551), (0x1D6A6, 0x1D6A7), (0x1D7CC, 0x1D7CD),
    (0x1DA8C, 0x1DA9A), (0x1DAA0, 0x1DAA0), (0x1DAB0, 0x1DEFF), (0x1DF1F, 0x1DF24), (0x1DF2B, 0x1DFFF), (0x1E007, 0x1E007),
    (0x1E019, 0x1E01A), (0x1E022, 0x1E022), (0x1E025, 0x1E025), (0x1E02B, 0x1E02F), (0x1E06E, 0x1E08E), (0x1E090, 0x1E0FF),
    (0x1E12D, 0x1E12F), (0x1E13E, 0x1E13F), (0x1E14A, 0x1E14D), (0x1E150, 0x1E28F), (0x1E2AF, 0x1E2BF), (0x1E2FA, 0x1E2FE),
    (0x1E300, 0x1E4CF), (0x1E4FA, 0x1E7DF), (0x1E7E7, 0x1E7E7), (0x1E7EC, 0x1E7EC), (0x1E7EF, 0x1E7EF), (0x1E7FF, 0x1E7FF),
    (0x1E8C5, 0x1E8C6), (0x1E8D7, 0x1E8FF), (0x1E94C, 0x1E94F), (0x1E95A, 0x1E95D), (0x1E960, 0x1EC70), (0x1ECB5, 0x1ED00),
    (0x1ED3E, 0x1EDFF), (0x1EE04, 0x1EE04), (0x1EE20, 0x1EE20), (0x1EE23, 0x1EE23), (0x1EE25, 0x1EE26), (0x1EE28, 0x1EE28),
    (0x1EE33, 0x1EE33), (0x1EE38, 0x1EE38), (0x1EE3A, 0x1EE3A), (0x1EE3C, 0x1EE41), (0x1EE43, 0x1EE46), (0x1EE48, 0x1EE48),
    (0x1EE4A, 0x1EE4A), (0x1EE4C, 0x1EE4C), (0x1EE50, 0x1EE50), (0x1EE53, 0x1EE53), (0x1EE55, 0x1EE56), (0x1EE58, 0x1EE58),
    (0x1EE5A, 0x1EE5A), (0x1EE5C, 0x1EE5C), (0x1EE5E, 0x1EE5E), (0x1EE60, 0x1EE60), (0x1EE63, 0x1EE63), (0x1EE65, 0x1EE66),
    (0x1EE6B, 0x1EE6B), (0x1EE73, 0x1EE73), (0x1EE78, 0x1EE78), (0x1EE7D, 0x1EE7D), (0x1EE7F, 0x1EE7F), (0x1EE8A, 0x1EE8A),
    (0x1EE9C, 0x1EEA0), (0x1EEA4, 0x1EEA4), (0x1EEAA, 0x1EEAA), (0x1EEBC, 0x1EEEF), (0x1EEF2, 0x1EFFF), (0x1F02C, 0x1F02F),
    (0x1F094, 0x1F09F), (0x1F0AF, 0x1F0B0), (0x1F0C0, 0x1F0C0), (0x1F0D0, 0x1F0D0), (0x1F0F6, 0x1F0FF), (0x1F1AE, 0x1F1E5),
    (0x1F203, 0x1F20F), (0x1F23C, 0x1F23F), (0x1F249, 0x1F24F), (0x1F252, 0x1F25F), (0x1F266, 0x1F2FF), (0x1F6D8, 0x1F6DB),
    (0x1F6ED, 0x1F6EF), (0x1F6FD, 0x1F6FF), (0x1F777, 0x1F77A), (0x1F7DA, 0x1F7DF), (0x1F7EC, 0x1F7EF), (0x1F7F1, 0x1F7FF),
    (0x1F80C, 0x1F80F), (0x1F848, 0x1F84F), (0x1F85A, 0x1F85F), (0x1F888, 0x1F88F), (0x1F8AE, 0x1F8AF), (0x1F8B2, 0x1F8FF),
    (0x1FA54, 0x1FA5F), (0x1FA6E, 0x1FA6F), (0x1FA7D, 0x1FA7F), (0x1FA89, 0x1FA8F), (0x1FABE, 0x1FABE), (0x1FAC6, 0x1FACD),
    (0x1FADC, 0x1FADF), (0x1FAE9, 0x1FAEF), (0x1FAF9, 0x1FAFF), (0x1FB93, 0x1FB93), (0x1FBCB, 0x1FBEF), (0x1FBFA, 0x1FFFF),
    (0x2A6E0, 0x2A6FF), (0x2B73A, 0x2B73F), (0x2B81E, 0x2B81F), (0x2CEA2, 0x2CEAF), (0x2EBE1, 0x2EBEF), (0x2EE5E, 0x2F7FF),
    (0x2FA1E, 0x2FFFF), (0x3134B, 0x3134F), (0x323B0, 0xE00FF), (0xE01F0, 0x10FFFF),
];
// @generated end not_printable

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn count(messages: Value) -> usize {
        let Value::Array(list) = messages else {
            panic!("not an array")
        };
        OpenAITokenCounter::default()
            .count_json_messages(&list)
            .unwrap()
    }

    fn repr(v: Value) -> String {
        py_repr_to_string(&Node::from_value(&v, 0).unwrap())
    }

    #[test]
    fn reference_counts() {
        assert_eq!(count(json!([])), 3);
        assert_eq!(count(json!([{"role": "user", "content": "Hello"}])), 8);
        assert_eq!(
            count(json!([
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "What is 2+2?"}
            ])),
            24
        );
        assert_eq!(
            count(json!([{"role": "user", "name": "alice", "content": "hi"}])),
            10
        );
    }

    #[test]
    fn image_math() {
        assert_eq!(image_tokens(1024, 1024, Detail::High), Ok(765));
        assert_eq!(image_tokens(2048, 4096, Detail::High), Ok(1105));
        assert_eq!(image_tokens(2048, 4096, Detail::Auto), Ok(1105));
        assert_eq!(image_tokens(2048, 4096, Detail::Low), Ok(85));
        assert_eq!(image_tokens(1, 1, Detail::High), Ok(765));
        assert_eq!(image_tokens(512, 512, Detail::High), Ok(765));
        assert_eq!(image_tokens(4096, 8192, Detail::High), Ok(1105));
        assert_eq!(image_tokens(800, 600, Detail::High), Ok(765));
        assert_eq!(image_tokens(1920, 1080, Detail::High), Ok(1105));
        assert!(image_tokens(0, 10, Detail::High).is_err());
        assert!(image_tokens(1, 10_000, Detail::High).is_err());
        assert_eq!(image_tokens(0, 0, Detail::Low), Ok(85));
    }

    #[test]
    fn float_repr() {
        let cases = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (0.5, "0.5"),
            (0.1, "0.1"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (123.456, "123.456"),
            (-2.5e300, "-2.5e+300"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (9999999999999998.0, "9999999999999998.0"),
            (0.30000000000000004, "0.30000000000000004"),
        ];
        for (f, want) in cases {
            assert_eq!(py_float_repr(f), want, "{f:e}");
        }
    }

    #[test]
    fn str_repr() {
        assert_eq!(repr(json!("abc")), "'abc'");
        assert_eq!(repr(json!("it's")), "\"it's\"");
        assert_eq!(repr(json!("it's \"x\"")), "'it\\'s \"x\"'");
        assert_eq!(repr(json!("a\nb\tc\rd\\e")), "'a\\nb\\tc\\rd\\\\e'");
        assert_eq!(
            repr(json!("\u{0}\u{1f}\u{7f}\u{80}\u{a0}\u{ad}")),
            "'\\x00\\x1f\\x7f\\x80\\xa0\\xad'"
        );
        assert_eq!(repr(json!("é漢字😀")), "'é漢字😀'");
        assert_eq!(
            repr(json!("\u{200d}\u{2028}\u{3000}\u{feff}")),
            "'\\u200d\\u2028\\u3000\\ufeff'"
        );
        assert_eq!(repr(json!("\u{e000}\u{10ffff}")), "'\\ue000\\U0010ffff'");
        let node: Node<'_> = serde_json::from_str(
            r#"{"name": "f", "arguments": "{\"a\": 1}", "n": null, "ok": true, "x": [1, -2, 0.5, {}], "e": []}"#,
        )
        .unwrap();
        assert_eq!(
            py_repr_to_string(&node),
            "{'name': 'f', 'arguments': '{\"a\": 1}', 'n': None, 'ok': True, 'x': [1, -2, 0.5, {}], 'e': []}"
        );
    }

    #[test]
    fn b64_like_python() {
        assert_eq!(python_b64decode("aGk=").unwrap(), b"hi");
        assert_eq!(python_b64decode("aGk").unwrap_err(), "Incorrect padding");
        assert_eq!(python_b64decode("aGk=ignored").unwrap(), b"hi");
        assert_eq!(python_b64decode("a G\nk=").unwrap(), b"hi");
        assert_eq!(python_b64decode("aGkh").unwrap(), b"hi!");
        assert_eq!(python_b64decode("").unwrap(), b"");
        assert!(python_b64decode("a")
            .unwrap_err()
            .contains("cannot be 1 more"));
        assert!(python_b64decode("aGk=é").is_err());
        assert_eq!(python_b64decode("=aGk=").unwrap(), b"hi");
        assert_eq!(python_b64decode("aG==").unwrap(), b"h");
        assert_eq!(python_b64decode("aG=\n=").unwrap(), b"h");
        assert_eq!(python_b64decode("-_aGkh").unwrap(), b"hi!");
    }

    #[test]
    fn data_url_payload() {
        assert_eq!(image_payload("data:image/png;base64,AAA"), Some("AAA"));
        assert_eq!(image_payload("data:image/jpg;base64,AAA"), Some("AAA"));
        assert_eq!(
            image_payload("data:image/png;base64,AA data:image/png;base64,BB"),
            Some("AA ")
        );
        assert_eq!(image_payload("data:image/svg+xml;base64,AAA"), None);
        assert_eq!(image_payload("data:image/png,AAA"), None);
    }

    #[test]
    fn overheads_and_encodings() {
        let c = |m: &str| {
            let c = OpenAITokenCounter::new(m);
            (
                c.tokens_per_message(),
                c.tokens_per_name(),
                c.encoding_name(),
            )
        };
        assert_eq!(c("gpt-4o-mini"), (3, 1, "o200k_base"));
        assert_eq!(c("gpt-4o"), (3, 1, "o200k_base"));
        assert_eq!(c("gpt-4"), (3, 1, "cl100k_base"));
        assert_eq!(c("gpt-4-turbo"), (3, 1, "cl100k_base"));
        assert_eq!(c("gpt-3.5-turbo"), (3, 1, "cl100k_base"));
        assert_eq!(c("gpt-3.5-turbo-0301"), (4, -1, "cl100k_base"));
        assert_eq!(c("gpt-4.1-mini-2025-04-14"), (3, 1, "o200k_base"));
        assert_eq!(c("gpt-5.1"), (3, 1, "o200k_base"));
        assert_eq!(c("o1"), (2, 1, "o200k_base"));
        assert_eq!(c("o1-preview"), (2, 1, "o200k_base"));
        assert_eq!(c("o3-mini"), (2, 1, "o200k_base"));
        assert_eq!(c("o4-mini"), (2, 1, "o200k_base"));
        assert_eq!(c("gpt-35-turbo"), (3, 1, "cl100k_base"));
        assert_eq!(c("text-davinci-003"), (3, 1, "p50k_base"));
        assert_eq!(c("gpt-oss-20b"), (3, 1, "o200k_harmony"));
        // Not OpenAI names: counted as gpt-4o-mini, even when they contain "o3".
        assert_eq!(c("my-local-llama"), (3, 1, "o200k_base"));
        assert_eq!(c("llama-o3-mix"), (3, 1, "o200k_base"));
        assert_eq!(c(""), (3, 1, "o200k_base"));
        assert_eq!(OpenAITokenCounter::default().model(), "gpt-4o-mini");
    }

    #[test]
    fn printable_table_is_sorted() {
        assert!(NOT_PRINTABLE.windows(2).all(|w| w[0].1 < w[1].0));
        assert!(NOT_PRINTABLE.iter().all(|&(lo, hi)| lo <= hi && lo >= 0x80));
        assert!(!is_printable(0xa0));
        assert!(is_printable(0xe9));
        assert!(!is_printable(0x10ffff));
    }

    #[test]
    fn long_whitespace_runs_do_not_panic() {
        let bpe = tiktoken_rs::o200k_base_singleton();
        let text = format!("a{}b", " ".repeat(1_200_000));
        let tokens = encode_ordinary(bpe, &text);
        assert!(!tokens.is_empty());
        let back = bpe.decode_bytes(&tokens).unwrap();
        assert_eq!(back, text.as_bytes());
    }

    #[test]
    fn decode_errors_and_lossy_utf8() {
        let c = OpenAITokenCounter::default();
        assert!(matches!(c.decode(&[u32::MAX]), Err(Error::InvalidInput(_))));
        let ids = c.encode("héllo <|endoftext|> 漢字");
        assert_eq!(c.decode(&ids).unwrap(), "héllo <|endoftext|> 漢字");
        let emoji = c.encode("😀");
        if emoji.len() > 1 {
            assert!(c.decode(&emoji[..1]).unwrap().contains('\u{fffd}'));
        }
    }

    /// Python `str()` of values and `base64.b64decode`, recorded by
    /// scripts/tokens_fixture.py.
    const FIXTURE: &str = include_str!("../tests/data/token_counts.json");

    #[test]
    fn python_str_matches_fixture() {
        let doc: Value = serde_json::from_str(FIXTURE).unwrap();
        let reprs = doc["reprs"].as_array().unwrap();
        assert!(reprs.len() > 500);
        for pair in reprs {
            let text = pair[0].as_str().unwrap();
            let want = pair[1].as_str().unwrap();
            let node: Node<'_> = serde_json::from_str(text).unwrap();
            assert_eq!(py_str(&node), want, "str({text})");
        }
    }

    #[test]
    fn python_b64decode_matches_fixture() {
        let doc: Value = serde_json::from_str(FIXTURE).unwrap();
        let cases = doc["base64"].as_array().unwrap();
        assert!(cases.len() > 300);
        for pair in cases {
            let text = pair[0].as_str().unwrap();
            let got = python_b64decode(text)
                .ok()
                .map(|bytes| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
            assert_eq!(got.as_deref(), pair[1].as_str(), "b64decode({text:?})");
        }
    }

    /// Atoms for random text: every character class the o200k pattern distinguishes.
    const ATOMS: &[&str] = &[
        " ",
        "  ",
        "\t",
        "\n",
        "\r",
        "\r\n",
        "\u{a0}",
        "\u{3000}",
        "\u{2028}",
        "\u{b}",
        "\u{c}",
        "\u{85}",
        "\u{1680}",
        "a",
        "z",
        "A",
        "Z",
        "é",
        "É",
        "ǅ",
        "ʰ",
        "漢",
        "か",
        "ß",
        "ſ",
        "\u{212a}",
        "İ",
        "ı",
        "\u{301}",
        "\u{93f}",
        "0",
        "7",
        "٣",
        "３",
        "²",
        "Ⅻ",
        "'",
        "'s",
        "'S",
        "'ll",
        "'LL",
        "'ſ",
        "'re",
        "'Ve",
        "'d",
        "'m",
        "'t",
        "’s",
        "!",
        ".",
        ",",
        "/",
        "-",
        "_",
        "\"",
        "(",
        "<|endoftext|>",
        "😀",
        "👍🏽",
        "\u{200d}",
        "🇫🇷",
        "\u{fe0f}",
        "\u{e000}",
        "\u{0}",
        "\u{7f}",
        "the",
        "The",
        "THE",
        "don't",
        "HTTP",
        "camelCase",
        "x",
        "12345",
        "3.14",
        "$",
        "€",
        "→",
        "...",
        "?!",
        "\n\n",
        "   ",
        "\t\t",
    ];

    fn random_text(state: &mut u64, max_atoms: u64) -> String {
        let mut next = || {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            *state
        };
        let n = next() % (max_atoms + 1);
        (0..n)
            .map(|_| ATOMS[(next() % ATOMS.len() as u64) as usize])
            .collect()
    }

    #[test]
    fn fast_o200k_is_tiktoken_exactly() {
        let fast = fast_o200k().expect("the fast path builds");
        let core = tiktoken_rs::o200k_base_singleton();
        let check = |text: &str| {
            let mut got = Vec::new();
            fast.encode_into(core, text, &mut got);
            let want = core.encode_ordinary(text);
            assert_eq!(got, want, "{text:?}");
            assert_eq!(fast.count(core, text), want.len(), "{text:?}");
        };
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            check(&random_text(&mut state, 24));
        }
        for _ in 0..200 {
            check(&random_text(&mut state, 400));
        }
        // Long pieces (>= 100 bytes) of every kind.
        for long in [
            "a".repeat(300),
            "A".repeat(150) + "bc",
            "!".repeat(250) + "\n/",
            " ".repeat(200) + "x",
            " ".repeat(200),
            "\n".repeat(120) + "  y",
            "7".repeat(200),
            "漢".repeat(90),
            "\u{301}".repeat(80),
        ] {
            check(&long);
            check(&format!("x {long} y"));
        }
        let doc: Value = serde_json::from_str(FIXTURE).unwrap();
        for pair in doc["reprs"].as_array().unwrap() {
            check(pair[1].as_str().unwrap());
        }
        for case in doc["cases"].as_array().unwrap() {
            check(case["messages"].as_str().unwrap());
        }
    }

    #[test]
    fn duplicate_keys_keep_first_position_last_value() {
        let node: Node<'_> = serde_json::from_str(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        assert_eq!(py_repr_to_string(&node), "{'a': 3, 'b': 2}");
        let many: String = (0..40).map(|i| format!("\"k{i}\": {i}, ")).collect();
        let text = format!("{{{many}\"k3\": \"x\"}}");
        let node: Node<'_> = serde_json::from_str(&text).unwrap();
        let Node::Dict(fields) = node else { panic!() };
        assert_eq!(fields.len(), 40);
        assert_eq!(fields[3].1, Node::Str("x".into()));
    }
}
