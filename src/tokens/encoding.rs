//! The tiktoken encodings: which table a model name maps to (each built once per
//! process, on first use, and shared), and the one guard around tiktoken's encoder.

use tiktoken_rs::tokenizer::Tokenizer;
use tiktoken_rs::CoreBPE;

/// A tiktoken encoding; the table itself is a lazily built process-wide singleton.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Encoding {
    O200kBase,
    O200kHarmony,
    Cl100kBase,
    P50kBase,
    P50kEdit,
    R50kBase,
}

impl Encoding {
    pub(super) fn from_tokenizer(tokenizer: Tokenizer) -> Self {
        match tokenizer {
            Tokenizer::O200kBase => Encoding::O200kBase,
            Tokenizer::O200kHarmony => Encoding::O200kHarmony,
            Tokenizer::Cl100kBase => Encoding::Cl100kBase,
            Tokenizer::P50kBase => Encoding::P50kBase,
            Tokenizer::P50kEdit => Encoding::P50kEdit,
            Tokenizer::R50kBase | Tokenizer::Gpt2 => Encoding::R50kBase,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Encoding::O200kBase => "o200k_base",
            Encoding::O200kHarmony => "o200k_harmony",
            Encoding::Cl100kBase => "cl100k_base",
            Encoding::P50kBase => "p50k_base",
            Encoding::P50kEdit => "p50k_edit",
            Encoding::R50kBase => "r50k_base",
        }
    }

    pub(super) fn bpe(self) -> &'static CoreBPE {
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
pub(super) fn encode_ordinary(bpe: &CoreBPE, text: &str) -> Vec<u32> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_whitespace_runs_do_not_panic() {
        let bpe = tiktoken_rs::o200k_base_singleton();
        let text = format!("a{}b", " ".repeat(1_200_000));
        let tokens = encode_ordinary(bpe, &text);
        assert!(!tokens.is_empty());
        let back = bpe.decode_bytes(&tokens).unwrap();
        assert_eq!(back, text.as_bytes());
    }
}
