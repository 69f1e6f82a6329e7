//! The partial-JSON parser: no panic on any text or any prefix of it; a complete document
//! parses exactly as serde_json parses it; a prefix of a valid document is never refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openai_compatible::__private::parse_partial;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let full = parse_partial(text);
    let strict = serde_json::from_str::<serde_json::Value>(text);
    if let Ok(v) = &strict {
        assert_eq!(
            full.as_ref(),
            Some(v),
            "a complete document parses as serde_json does"
        );
    }
    // Prefixes at up to 16 char boundaries (every boundary would be quadratic).
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let step = (bounds.len() / 16).max(1);
    for &at in bounds.iter().step_by(step) {
        let p = parse_partial(&text[..at]);
        if strict.is_ok() && !text[..at].trim().is_empty() {
            // A prefix of a valid document may lack a value yet (`tru`), but is never invalid:
            // the parser returns None only for empty, invalid or too deep text. An incomplete
            // top-level scalar may legitimately be None, so only containers are checked.
            let head = text.trim_start();
            if head.starts_with('{') || head.starts_with('[') {
                assert!(
                    p.is_some(),
                    "prefix {:?} of a valid document refused",
                    &text[..at]
                );
            }
        }
    }
});
