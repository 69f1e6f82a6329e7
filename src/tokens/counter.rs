//! The counter: the [`TokenCounter`] trait, and CAMEL's walk over a conversation in
//! [`OpenAITokenCounter`] (per-model overheads, then every field of every message).

use serde_json::Value;
use tiktoken_rs::tokenizer::get_tokenizer;
use tiktoken_rs::CoreBPE;

use super::encoding::Encoding;
use super::images::image_part_tokens;
use super::pyrepr::py_str;
use super::tokenizer::Tokens;
use super::value::{get, Node, MAX_DEPTH};
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
        let known = tokenizer.is_some() || crate::models::is_openai_model(model);
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
}
