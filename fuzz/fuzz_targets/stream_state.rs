//! SSE bytes through the stream layer (the decoder, `[DONE]`, in-stream errors, chunk
//! deserialization, the per-event size cap) and the chunks into the accumulator: no panic,
//! the stream always ends, and a fed secret never comes back in an error.
//!
//! Input: the first byte picks the piece size and the event cap, the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openai_compatible::__private::StreamState;
use openai_compatible::ChunkAccumulator;

const SECRET: &str = "sk-fuzz-secret-0123456789";

fuzz_target!(|input: &[u8]| {
    let Some((&knob, body)) = input.split_first() else {
        return;
    };
    let piece = usize::from(knob & 0x3f) + 1;
    let max_event = if knob & 0x40 != 0 { 64 } else { 1 << 20 };
    let mut state = StreamState::new(Some(SECRET.to_owned()), max_event);
    let mut acc = ChunkAccumulator::new();
    let mut errors = 0;
    let mut check = |item: openai_compatible::Result<_>, acc: &mut ChunkAccumulator| match item {
        Ok(chunk) => acc.push(&chunk),
        Err(e) => {
            errors += 1;
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains(SECRET), "secret leaked: {shown}");
        }
    };
    for p in body.chunks(piece) {
        if state.is_finished() {
            break;
        }
        state.feed(p);
        while let Some(item) = state.next_item() {
            check(item, &mut acc);
        }
    }
    if !state.is_finished() {
        state.end();
        while let Some(item) = state.next_item() {
            check(item, &mut acc);
        }
    }
    assert!(
        state.is_finished(),
        "the stream must end once the body ended"
    );
    assert!(errors <= 1, "a stream yields at most one error");
    let completion = acc.finish();
    let _ = serde_json::to_vec(&completion).expect("an assembled completion serializes");
});
