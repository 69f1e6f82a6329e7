//! The SSE decoder against a plain reference implementation of the WHATWG rules, and
//! against itself fed in arbitrary pieces: the events must be identical.
//!
//! Input: the first byte seeds the split points, the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openai_compatible::__private::{SseDecoder, SseEvent};

/// The rules written the obvious way: split into lines (LF, CRLF, lone CR), strip a BOM
/// from the first line, then interpret each line; a final line without terminator and a
/// final event without blank line are still delivered (the decoder's documented choice).
fn reference(body: &[u8]) -> Vec<SseEvent> {
    let mut lines: Vec<&[u8]> = Vec::new();
    let (mut i, mut start) = (0, 0);
    while i < body.len() {
        match body[i] {
            b'\n' => {
                lines.push(&body[start..i]);
                i += 1;
                start = i;
            }
            b'\r' => {
                lines.push(&body[start..i]);
                i += 1;
                if body.get(i) == Some(&b'\n') {
                    i += 1;
                }
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < body.len() {
        lines.push(&body[start..]);
    }
    let mut out = Vec::new();
    let mut data: Option<String> = None;
    let mut event: Option<String> = None;
    let dispatch =
        |data: &mut Option<String>, event: &mut Option<String>, out: &mut Vec<SseEvent>| {
            let ev = event.take();
            if let Some(d) = data.take() {
                out.push(SseEvent { event: ev, data: d });
            }
        };
    for (n, mut line) in lines.into_iter().enumerate() {
        if n == 0 {
            line = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line);
        }
        if line.is_empty() {
            dispatch(&mut data, &mut event, &mut out);
            continue;
        }
        if line[0] == b':' {
            continue;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(c) => {
                let v = &line[c + 1..];
                (&line[..c], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &[][..]),
        };
        let value = String::from_utf8_lossy(value).into_owned();
        match name {
            b"data" => match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(&value);
                }
                None => data = Some(value),
            },
            b"event" => event = (!value.is_empty()).then_some(value),
            _ => {}
        }
    }
    dispatch(&mut data, &mut event, &mut out);
    out
}

fuzz_target!(|input: &[u8]| {
    let Some((&seed, body)) = input.split_first() else {
        return;
    };
    let expected = reference(body);

    let mut whole = SseDecoder::new();
    let mut got = Vec::new();
    whole.feed(body, &mut got);
    whole.finish(&mut got);
    assert_eq!(got, expected, "one piece");

    // Split at pseudo-random points (sizes 0..=15 bytes, zero-length feeds included).
    let mut state = u32::from(seed) | 0x100;
    let mut pieces = SseDecoder::new();
    let mut got = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = ((state % 16) as usize).min(rest.len());
        let (piece, tail) = rest.split_at(n);
        pieces.feed(piece, &mut got);
        assert!(pieces.pending_len() <= body.len() * 3 + 8);
        rest = tail;
    }
    pieces.finish(&mut got);
    assert_eq!(got, expected, "in pieces (seed {seed})");

    // After `finish` the decoder is reset: the same body decodes the same again.
    let mut again = Vec::new();
    pieces.feed(body, &mut again);
    pieces.finish(&mut again);
    assert_eq!(again, expected, "after finish");
});
