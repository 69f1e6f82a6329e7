//! The token counter's message walk on arbitrary JSON text: no panic; the text path
//! (`count_json_text`, its own streaming parser) and the value path (`count_json_messages`)
//! agree; typed messages count without panicking; encode/decode round-trips text.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use openai_compatible::{ChatMessage, OpenAITokenCounter, TokenCounter};

fn counter() -> &'static OpenAITokenCounter {
    static C: OnceLock<OpenAITokenCounter> = OnceLock::new();
    C.get_or_init(|| OpenAITokenCounter::new("gpt-4o-mini"))
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let c = counter();
    let by_text = c.count_json_text(text);
    if let Ok(serde_json::Value::Array(values)) = serde_json::from_str::<serde_json::Value>(text) {
        let by_value = c.count_json_messages(&values);
        match (&by_text, &by_value) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "the two walks disagree"),
            (Err(_), Err(_)) => {}
            _ => panic!("one walk failed: text {by_text:?} value {by_value:?}"),
        }
    }
    if let Ok(messages) = serde_json::from_str::<Vec<ChatMessage>>(text) {
        let _ = c.count_tokens_from_messages(&messages);
    }
    if text.len() <= 4096 {
        let ids = c.encode(text);
        assert_eq!(c.decode(&ids).expect("own ids decode"), text);
    }
});
