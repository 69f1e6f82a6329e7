//! Server-Sent Events decoding, without I/O.
//!
//! The blocking transport reads a `ureq` body in whatever pieces `Read` hands back, the async
//! one gets `Bytes` from `reqwest`'s `bytes_stream`; both push the pieces through the same
//! [`SseDecoder`], so line endings, comments and split UTF-8 are handled in exactly one place.
//!
//! The rules are the WHATWG event-stream ones, as OpenAI-compatible servers really send them:
//! LF, CRLF or a lone CR end a line (also when the CR and the LF arrive in different reads), a
//! blank line dispatches the event, `:` lines are comments, `data:` lines join with `\n`,
//! `event:` names the event, `id:`/`retry:`/unknown fields are ignored, a leading BOM is skipped
//! and invalid UTF-8 becomes U+FFFD instead of failing the whole stream.
//!
//! The hot loop does one word-at-a-time scan for line ends over bytes it has never seen
//! before and copies each data line once into the event's `String`: a streamed answer is
//! hundreds of thousands of small events per second at the top end, and the decoder must not
//! be what limits it.

use std::borrow::Cow;

/// The byte-order mark a stream may start with; it is not part of the first field name.
const BOM: &[u8] = "\u{feff}".as_bytes();

/// One dispatched event: what a blank line completes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field of the event. `None` when the event had no `event:` line, or an empty
    /// one: WHATWG gives both the default type `message`, so callers need not tell them apart.
    pub event: Option<String>,
    /// The event's `data:` lines, joined with `\n` (no trailing newline).
    pub data: String,
}

/// Incremental event-stream decoder: bytes in, [`SseEvent`]s out.
///
/// Feed it the body in pieces of any size, split anywhere (inside a line, a CRLF pair or a
/// UTF-8 sequence); the events are the same as for one piece holding the whole body.
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes of a line whose end has not arrived yet. It never holds a CR or LF, because every
    /// line end is consumed as soon as it is seen; so only newly fed bytes are ever scanned, and
    /// no scan offset into this buffer is needed.
    partial: Vec<u8>,
    /// The last byte fed was a CR that ended a line; an LF first in the next feed is the rest
    /// of that same CRLF, not a blank line.
    after_cr: bool,
    /// A line has been completed: only the very first line of a stream may start with a BOM.
    started: bool,
    /// The current event's data lines so far.
    data: String,
    /// A `data` field was seen in the current event; an event with `data:` and an empty value is
    /// still dispatched (with empty data), one without any `data` field is not.
    has_data: bool,
    /// The current event's `event:` field.
    event: Option<String>,
}

impl SseDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed bytes as they arrive; completed events are pushed to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) {
        let mut rest = bytes;
        if self.after_cr {
            if let Some((&first, tail)) = rest.split_first() {
                self.after_cr = false;
                if first == b'\n' {
                    rest = tail;
                }
            }
        }
        while let Some(end) = find_line_end(rest) {
            let (line, terminator_and_tail) = rest.split_at(end);
            let Some((&terminator, mut tail)) = terminator_and_tail.split_first() else {
                break;
            };
            if terminator == b'\r' {
                match tail.split_first() {
                    Some((b'\n', after_lf)) => tail = after_lf,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            if self.partial.is_empty() {
                self.line(line, out);
            } else {
                // Take the buffer out so `line` can borrow `self` mutably, then put it back
                // to keep its capacity for the next split line.
                let mut joined = std::mem::take(&mut self.partial);
                joined.extend_from_slice(line);
                self.line(&joined, out);
                joined.clear();
                self.partial = joined;
            }
            rest = tail;
        }
        self.partial.extend_from_slice(rest);
    }

    /// Bytes held for the event being received (its unfinished line and data so far). The
    /// stream layer caps it so an endless line from a hostile server cannot exhaust memory.
    pub fn pending_len(&self) -> usize {
        self.partial.len() + self.data.len()
    }

    /// The body ended: flush a final event that had no trailing blank line.
    ///
    /// WHATWG would discard such an event, but servers do end streams with `data: [DONE]` and
    /// no blank line, and dropping the last event would hide it. The decoder is reset
    /// afterwards, ready for a new stream.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line, out);
        }
        self.dispatch(out);
        *self = Self::default();
    }

    /// Interpret one complete line (without its terminator).
    fn line(&mut self, mut line: &[u8], out: &mut Vec<SseEvent>) {
        if !self.started {
            self.started = true;
            if let Some(after_bom) = line.strip_prefix(BOM) {
                line = after_bom;
            }
        }
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(0) => return,
            Some(colon) => {
                let (name, colon_and_value) = line.split_at(colon);
                let value = colon_and_value.get(1..).unwrap_or_default();
                (name, value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match name {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.has_data = true;
                // `from_utf8` first: it validates ASCII a word at a time, where the lossy
                // conversion walks every byte; on this path that was 15% of a chunk's cost.
                match std::str::from_utf8(value) {
                    Ok(text) => self.data.push_str(text),
                    Err(_) => match String::from_utf8_lossy(value) {
                        Cow::Owned(text) if self.data.is_empty() => self.data = text,
                        text => self.data.push_str(&text),
                    },
                }
            }
            b"event" => {
                self.event = if value.is_empty() {
                    None
                } else {
                    Some(String::from_utf8_lossy(value).into_owned())
                };
            }
            // `id` and `retry` only matter to a reconnecting EventSource; a chat completion
            // stream is never resumed, and unknown fields must be ignored by the rules.
            _ => {}
        }
    }

    /// A blank line: emit the event if it had data, and start a new one either way.
    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if self.has_data {
            self.has_data = false;
            out.push(SseEvent {
                event,
                data: std::mem::take(&mut self.data),
            });
        }
    }
}

/// Whether an event's data is the `[DONE]` sentinel that ends an OpenAI stream.
pub(crate) fn is_done(data: &str) -> bool {
    data.trim() == "[DONE]"
}

/// Index of the first CR or LF in `hay`.
///
/// Eight bytes at a time (the classic "has zero byte" trick) because this scan is most of the
/// decoder's work and std exposes no two-byte memchr; the lowest flagged byte is exact, false
/// positives can only appear above a real match.
fn find_line_end(hay: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    const LFS: u64 = u64::from_le_bytes([b'\n'; 8]);
    const CRS: u64 = u64::from_le_bytes([b'\r'; 8]);
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;

    let mut chunks = hay.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        if let Ok(word) = <[u8; 8]>::try_from(chunk) {
            let word = u64::from_le_bytes(word);
            let found = zero_bytes(word ^ LFS) | zero_bytes(word ^ CRS);
            if found != 0 {
                return Some(offset + (found.trailing_zeros() / 8) as usize);
            }
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map(|i| offset + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_pieces(pieces: &[&[u8]]) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        for piece in pieces {
            decoder.feed(piece, &mut out);
        }
        decoder.finish(&mut out);
        out
    }

    fn decode(bytes: &[u8]) -> Vec<SseEvent> {
        decode_pieces(&[bytes])
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    fn data_only(data: &[&str]) -> Vec<SseEvent> {
        data.iter().map(|d| ev(None, d)).collect()
    }

    /// xorshift64*: deterministic splits without a `rand` dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const OPENAI_MOCK: &str = include_str!("../../tests/data/captures/openai-mock-api-stream.sse");
    const FAKELLM_TOOLS: &str = include_str!("../../tests/data/captures/fakellm-tools-stream.sse");
    const XLLAMACPP_JSON: &str =
        include_str!("../../tests/data/captures/xllamacpp-json-schema-stream.sse");

    /// Every rule at once, so that splitting it exercises every state of the decoder.
    const KITCHEN_SINK: &[u8] = b"\xef\xbb\xbf: hello comment\r\n\
        event: delta\r\n\
        id: 7\r\n\
        retry: 1000\r\n\
        data: {\"content\":\"h\xc3\xa9llo \xf0\x9f\x98\x80 \xe4\xb8\xad\"}\r\n\
        \r\n\
        data:no-space\rdata:  two spaces\r\r\
        data\n\
        data: after empty\n\
        unknown: x\n\
        bare-field\n\
        \n\
        event: only-event\n\n\
        data: bad \xff\xfe utf8\n\n\
        data: [DONE]";

    fn kitchen_sink_events() -> Vec<SseEvent> {
        vec![
            ev(
                Some("delta"),
                "{\"content\":\"h\u{e9}llo \u{1f600} \u{4e2d}\"}",
            ),
            ev(None, "no-space\n two spaces"),
            ev(None, "\nafter empty"),
            ev(None, "bad \u{fffd}\u{fffd} utf8"),
            ev(None, "[DONE]"),
        ]
    }

    #[test]
    fn kitchen_sink_in_one_piece() {
        assert_eq!(decode(KITCHEN_SINK), kitchen_sink_events());
    }

    #[test]
    fn lf_crlf_and_lone_cr_all_end_lines() {
        let expected = data_only(&["a\nb", "c"]);
        assert_eq!(decode(b"data: a\ndata: b\n\ndata: c\n\n"), expected);
        assert_eq!(
            decode(b"data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n"),
            expected
        );
        assert_eq!(decode(b"data: a\rdata: b\r\rdata: c\r\r"), expected);
        assert_eq!(decode(b"data: a\rdata: b\r\n\ndata: c\n\r\n"), expected);
    }

    #[test]
    fn cr_and_lf_in_separate_feeds_are_one_line_end() {
        // Were they two line ends, the LF would be a blank line and split the event in two.
        assert_eq!(
            decode_pieces(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]),
            data_only(&["a\nb"])
        );
        // An empty feed in between must not forget the pending CR.
        assert_eq!(
            decode_pieces(&[b"data: a\r", b"", b"\ndata: b\n\n"]),
            data_only(&["a\nb"])
        );
        // A CR followed by a CR in the next feed is a blank line.
        assert_eq!(
            decode_pieces(&[b"data: a\r", b"\rdata: b\n\n"]),
            data_only(&["a", "b"])
        );
    }

    #[test]
    fn blank_line_dispatches_only_events_with_data() {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        decoder.feed(b"\n\n: ping\n\nevent: x\n\n", &mut out);
        assert!(out.is_empty());
        decoder.feed(b"data: y\n", &mut out);
        assert!(out.is_empty(), "dispatch waits for the blank line");
        decoder.feed(b"\n", &mut out);
        // The data-less `event: x` was discarded with its blank line, not carried over.
        assert_eq!(out, data_only(&["y"]));
    }

    #[test]
    fn comments_are_ignored() {
        assert_eq!(
            decode(b": keep-alive\ndata: a\n:\n: data: not data\n\n:tail\n"),
            data_only(&["a"])
        );
    }

    #[test]
    fn exactly_one_leading_space_is_stripped() {
        assert_eq!(
            decode(b"data:a\n\ndata: a\n\ndata:  a\n\ndata:\ta\n\ndata: a \n\n"),
            data_only(&["a", "a", " a", "\ta", "a "])
        );
    }

    #[test]
    fn data_lines_join_with_newline() {
        assert_eq!(
            decode(b"data: {\"a\":\ndata: 1}\n\ndata:\ndata:\n\ndata:\n\n"),
            data_only(&["{\"a\":\n1}", "\n", ""])
        );
    }

    #[test]
    fn event_field_names_the_event() {
        assert_eq!(
            decode(b"event: error\ndata: {}\n\nevent:\ndata: x\n\nevent: a\nevent: b\ndata: y\n\n"),
            vec![ev(Some("error"), "{}"), ev(None, "x"), ev(Some("b"), "y")]
        );
        // The type belongs to one event only.
        assert_eq!(
            decode(b"event: error\ndata: 1\n\ndata: 2\n\n"),
            vec![ev(Some("error"), "1"), ev(None, "2")]
        );
    }

    #[test]
    fn id_retry_and_unknown_fields_are_ignored() {
        assert_eq!(
            decode(b"id: 1\nretry: 10\nfoo: bar\nDATA: shout\ndata : spaced\ndata: x\n\nid: 2\n\n"),
            data_only(&["x"])
        );
    }

    #[test]
    fn a_line_without_colon_is_a_field_with_empty_value() {
        assert_eq!(decode(b"data\n\n"), data_only(&[""]));
        assert_eq!(
            decode(b"data: a\ndata\ndata: b\n\n"),
            data_only(&["a\n\nb"])
        );
        assert_eq!(decode(b"event\ndata: a\n\n"), data_only(&["a"]));
        assert_eq!(decode(b"nonsense\n\n"), vec![]);
    }

    #[test]
    fn utf8_split_across_feeds_reassembles() {
        let text = "data: h\u{e9}llo \u{1f600} \u{4e2d}\u{6587}\n\n";
        let bytes = text.as_bytes();
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(
                decode_pieces(&[a, b]),
                data_only(&["h\u{e9}llo \u{1f600} \u{4e2d}\u{6587}"]),
                "cut at {cut}"
            );
        }
        let one_byte_feeds: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(
            decode_pieces(&one_byte_feeds),
            data_only(&["h\u{e9}llo \u{1f600} \u{4e2d}\u{6587}"])
        );
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        assert_eq!(
            decode(b"data: a\xffb\xc3\n\nevent: \xfe\ndata: \xf0\x9f\x98\n\n"),
            vec![
                ev(None, "a\u{fffd}b\u{fffd}"),
                ev(Some("\u{fffd}"), "\u{fffd}")
            ]
        );
    }

    #[test]
    fn a_leading_bom_is_skipped_once() {
        assert_eq!(decode(b"\xef\xbb\xbfdata: a\n\n"), data_only(&["a"]));
        assert_eq!(
            decode_pieces(&[b"\xef", b"\xbb", b"\xbfdata: a\n\n"]),
            data_only(&["a"])
        );
        assert_eq!(decode(b"\xef\xbb\xbf\ndata: a\n\n"), data_only(&["a"]));
        // Only at the start of the stream: later, it is part of a field name.
        assert_eq!(
            decode(b"data: a\n\n\xef\xbb\xbfdata: b\n\n"),
            data_only(&["a"])
        );
        // Without a BOM, the first line is untouched.
        assert_eq!(
            decode(b"data: \xef\xbb\xbfa\n\n"),
            data_only(&["\u{feff}a"])
        );
    }

    #[test]
    fn finish_flushes_an_unterminated_event_and_resets() {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        decoder.feed(b"data: 1\n\ndata: [DONE]", &mut out);
        assert_eq!(out, data_only(&["1"]));
        decoder.finish(&mut out);
        assert_eq!(out, data_only(&["1", "[DONE]"]));

        // A terminated last line without the blank line, and a reused decoder (BOM again).
        out.clear();
        decoder.feed(b"\xef\xbb\xbfevent: e\ndata: x\n", &mut out);
        decoder.finish(&mut out);
        assert_eq!(out, vec![ev(Some("e"), "x")]);

        // Nothing pending: finish adds nothing, twice.
        out.clear();
        decoder.feed(b"data: y\n\n", &mut out);
        decoder.finish(&mut out);
        decoder.finish(&mut out);
        assert_eq!(out, data_only(&["y"]));

        // A half line without a data field, and a pending CR, flush nothing.
        out.clear();
        decoder.feed(b"event: e\r", &mut out);
        decoder.finish(&mut out);
        decoder.feed(b":partial comment", &mut out);
        decoder.finish(&mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn done_sentinel() {
        assert!(is_done("[DONE]"));
        assert!(is_done(" [DONE]\n"));
        assert!(!is_done("[done]"));
        assert!(!is_done("DONE"));
        assert!(!is_done("{\"done\":true}"));
        assert!(!is_done(""));
    }

    fn assert_split_invariant(stream: &[u8], seed: u64) {
        let whole = decode(stream);
        for cut in 0..=stream.len() {
            let (a, b) = stream.split_at(cut);
            assert_eq!(decode_pieces(&[a, b]), whole, "single cut at {cut}");
        }
        let mut rng = Rng(seed);
        for round in 0..200 {
            let mut cuts: Vec<usize> = (0..1 + rng.below(12))
                .map(|_| rng.below(stream.len() + 1))
                .collect();
            cuts.push(0);
            cuts.push(stream.len());
            cuts.sort_unstable();
            let pieces: Vec<&[u8]> = cuts.windows(2).map(|w| &stream[w[0]..w[1]]).collect();
            assert_eq!(
                decode_pieces(&pieces),
                whole,
                "round {round}, cuts {cuts:?}"
            );
        }
    }

    #[test]
    fn any_split_of_the_kitchen_sink_gives_the_same_events() {
        assert_split_invariant(KITCHEN_SINK, 0x9e37_79b9_7f4a_7c15);
    }

    #[test]
    fn any_split_of_the_captures_gives_the_same_events() {
        for (i, capture) in [OPENAI_MOCK, FAKELLM_TOOLS, XLLAMACPP_JSON]
            .iter()
            .enumerate()
        {
            assert_split_invariant(capture.as_bytes(), 0x1234_5678 + i as u64);
        }
    }

    /// The captured chunks, checked the way the stream layer will use them.
    fn check_capture(capture: &str, chunks: usize) {
        let events = decode(capture.as_bytes());
        assert_eq!(events.len(), chunks + 1);
        let (done, chunk_events) = events.split_last().unwrap();
        assert!(is_done(&done.data));
        for event in chunk_events {
            assert_eq!(event.event, None);
            assert!(!is_done(&event.data));
            let chunk: serde_json::Value = serde_json::from_str(&event.data).unwrap();
            assert_eq!(chunk["object"], "chat.completion.chunk");
        }
        // The same body with CRLF or lone-CR line ends decodes to the same events.
        assert_eq!(decode(capture.replace('\n', "\r\n").as_bytes()), events);
        assert_eq!(decode(capture.replace('\n', "\r").as_bytes()), events);
    }

    #[test]
    fn captures_decode_to_chat_completion_chunks() {
        check_capture(OPENAI_MOCK, 5);
        check_capture(FAKELLM_TOOLS, 7);
        check_capture(XLLAMACPP_JSON, 21);
    }

    #[test]
    fn the_word_scan_finds_the_first_line_end() {
        let naive = |hay: &[u8]| hay.iter().position(|&b| b == b'\n' || b == b'\r');
        let mut rng = Rng(42);
        let alphabet = [b'a', b'\n', b'\r', 0x0b, 0x0c, 0x0e, 0x8a, 0x8d, 0x00, 0xff];
        for _ in 0..5000 {
            let len = rng.below(40);
            let sparse = rng.below(4) == 0;
            let hay: Vec<u8> = (0..len)
                .map(|_| {
                    if sparse && rng.below(10) != 0 {
                        b'x'
                    } else {
                        alphabet[rng.below(alphabet.len())]
                    }
                })
                .collect();
            assert_eq!(find_line_end(&hay), naive(&hay), "{hay:?}");
        }
    }
}
