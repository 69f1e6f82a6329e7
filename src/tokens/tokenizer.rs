//! The encoder one encoding uses: the fast exact o200k path where it applies, else
//! tiktoken-rs's own.

use tiktoken_rs::CoreBPE;

use super::encoding::{encode_ordinary, Encoding};
use super::o200k::{fast_o200k, FastBpe};

/// The tokenizer an encoding uses: the fast exact o200k path where it applies, else
/// tiktoken-rs's `CoreBPE`.
#[derive(Clone, Copy)]
pub(super) enum Tokens {
    Fast(&'static FastBpe, &'static CoreBPE),
    Core(&'static CoreBPE),
}

impl Tokens {
    pub(super) fn for_encoding(encoding: Encoding) -> Tokens {
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

    pub(super) fn encode(self, text: &str) -> Vec<u32> {
        match self {
            Tokens::Fast(fast, core) => {
                let mut out = Vec::with_capacity(text.len() / 3 + 1);
                fast.encode_into(core, text, &mut out);
                out
            }
            Tokens::Core(core) => encode_ordinary(core, text),
        }
    }

    pub(super) fn count(self, text: &str) -> usize {
        if text.is_empty() {
            return 0;
        }
        match self {
            Tokens::Fast(fast, core) => fast.count(core, text),
            Tokens::Core(core) => encode_ordinary(core, text).len(),
        }
    }
}
