//! Completion and chunk deserialization, the accumulator, and error-body parsing on
//! arbitrary bytes: no panic, and whatever deserializes serializes and deserializes again
//! to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openai_compatible::__private::api_error_from_body;
use openai_compatible::{ChatCompletion, ChatCompletionChunk, ChunkAccumulator};

const SECRET: &str = "sk-fuzz-secret-0123456789";

fuzz_target!(|body: &[u8]| {
    if let Ok(c) = serde_json::from_slice::<ChatCompletion>(body) {
        let again = serde_json::to_vec(&c).expect("a completion serializes");
        let back: ChatCompletion =
            serde_json::from_slice(&again).expect("a serialized completion deserializes");
        assert_eq!(back, c, "completion round trip");
        let _ = c.content();
    }
    if let Ok(chunk) = serde_json::from_slice::<ChatCompletionChunk>(body) {
        let again = serde_json::to_vec(&chunk).expect("a chunk serializes");
        let back: ChatCompletionChunk =
            serde_json::from_slice(&again).expect("a serialized chunk deserializes");
        assert_eq!(back, chunk, "chunk round trip");
        let mut acc = ChunkAccumulator::new();
        acc.push(&chunk);
        acc.push(&chunk);
        let _ = serde_json::to_vec(&acc.finish()).expect("an assembled completion serializes");
    }
    for status in [None, Some(200), Some(429)] {
        let e = api_error_from_body(status, body, None, Some(SECRET));
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(SECRET), "secret in {shown}");
        assert!(e.body.len() <= 64 * 1024 * 3 + 16);
        assert!(!e.message.is_empty());
    }
});
