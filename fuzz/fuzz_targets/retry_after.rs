//! Retry-After parsing and the retry decision on arbitrary header values: no panic, and
//! every wait honoured lies in (0, 120 s].
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use openai_compatible::__private::{decide_status, parse_http_date, retry_after, Decision, RetryAfter};

fuzz_target!(|input: &[u8]| {
    if input.len() < 3 {
        return;
    }
    let status = u16::from_le_bytes([input[0], input[1]]);
    let which = input[2];
    let text = String::from_utf8_lossy(&input[3..]).into_owned();
    // Split the text into up to two header values: "a|b".
    let (a, b) = text.split_once('|').unwrap_or((&text, ""));
    let mut headers = Vec::new();
    if which & 1 != 0 {
        headers.push(("retry-after-ms".to_owned(), a.to_owned()));
    }
    if which & 2 != 0 {
        headers.push((
            "retry-after".to_owned(),
            if which & 1 != 0 { b } else { a }.to_owned(),
        ));
    }
    if which & 4 != 0 {
        headers.push(("x-should-retry".to_owned(), b.to_owned()));
    }
    let nows = [
        SystemTime::UNIX_EPOCH,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_629_600),
        SystemTime::now(),
    ];
    let now = nows[usize::from(which >> 4) % nows.len()];
    match retry_after(&headers, now) {
        Some(RetryAfter::Wait(d)) => {
            assert!(!d.is_zero() && d <= Duration::from_secs(120), "{d:?}");
        }
        Some(RetryAfter::TooLong) | None => {}
    }
    if let Decision::Retry(d) = decide_status(status, &headers, now) {
        assert!(d <= Duration::from_secs(120), "{d:?}");
    }
    if let Some(t) = parse_http_date(&text) {
        assert!(t >= SystemTime::UNIX_EPOCH);
    }
});
