use super::*;
use crate::tokens::FIXTURE;
use serde_json::Value;

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
