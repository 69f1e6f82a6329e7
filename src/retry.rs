//! What is retried and how long to wait (docs/SPEC.md §3). Pure: the decision reads a status and
//! headers and returns a delay; the request loop in `model.rs` does the sleeping.
//!
//! The delays come from `backoff`'s `ExponentialBackoff`, used only as a delay calculator
//! (its own retry helpers and 15-minute elapsed-time cap are not used: attempts are bounded
//! by `max_retries`). openai-python waits `min(0.5 s × 2ⁿ, 8 s) × j` with `j` uniform in
//! (0.75, 1.0]; `backoff` randomises to `[i(1−r), i(1+r)]`, so `r = 1/7` and a final `× 7/8`
//! give exactly that range.

use std::time::{Duration, SystemTime};

use backoff::backoff::Backoff;
use backoff::ExponentialBackoff;

const INITIAL: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(8);
/// Server-requested waits above this mean "don't retry" (openai-python ≥ 2.52).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// The exponential delays for one logical request. Create one per request.
pub(crate) struct Delays {
    inner: ExponentialBackoff,
}

impl Delays {
    pub(crate) fn new() -> Delays {
        let mut inner = backoff::ExponentialBackoffBuilder::new()
            .with_initial_interval(INITIAL)
            .with_multiplier(2.0)
            .with_max_interval(MAX_DELAY)
            .with_randomization_factor(1.0 / 7.0)
            .with_max_elapsed_time(None)
            .build();
        // The builder already resets, but a reset is what guarantees the first delay starts
        // at `INITIAL` (a struct literal would start at 500 ms whatever it says).
        inner.reset();
        Delays { inner }
    }

    /// The next backoff delay.
    pub(crate) fn next(&mut self) -> Duration {
        // `max_elapsed_time` is off, so `next_backoff` always returns a value.
        let d = self.inner.next_backoff().unwrap_or(MAX_DELAY);
        d.mul_f64(7.0 / 8.0)
    }
}

/// Why a retry happens; for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Retry after this delay.
    Retry(Duration),
    /// Give up and report the error.
    Stop,
}

/// Whether a response status is retried, and after how long.
///
/// `headers` are (lower-case name, value) pairs. The caller checks that attempts remain.
pub(crate) fn decide_status(
    status: u16,
    headers: &[(String, String)],
    delays: &mut Delays,
    now: SystemTime,
) -> Decision {
    let retry = match header(headers, "x-should-retry") {
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        _ => matches!(status, 408 | 409 | 429) || status >= 500,
    };
    if !retry {
        return Decision::Stop;
    }
    match retry_after(headers, now) {
        Some(RetryAfter::Wait(d)) => Decision::Retry(d),
        Some(RetryAfter::TooLong) => Decision::Stop,
        None => Decision::Retry(delays.next()),
    }
}

/// A server's requested wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// Wait exactly this long (0 < d ≤ 120 s).
    Wait(Duration),
    /// The server asked for more than 120 s: do not retry.
    TooLong,
}

/// Reads `retry-after-ms`, else `retry-after` (seconds, fractional allowed, or an HTTP date).
/// Zero, negative and unreadable values yield `None`: the exponential delay applies.
pub fn retry_after(headers: &[(String, String)], now: SystemTime) -> Option<RetryAfter> {
    let wait = header(headers, "retry-after-ms")
        .and_then(|v| parse_positive_secs(v, 1e-3))
        .or_else(|| {
            let v = header(headers, "retry-after")?;
            parse_positive_secs(v, 1.0).or_else(|| {
                let at = parse_http_date(v)?;
                at.duration_since(now).ok().filter(|d| !d.is_zero())
            })
        })?;
    Some(if wait <= MAX_RETRY_AFTER {
        RetryAfter::Wait(wait)
    } else {
        RetryAfter::TooLong
    })
}

fn parse_positive_secs(v: &str, unit: f64) -> Option<Duration> {
    let x: f64 = v.trim().parse().ok()?;
    let secs = x * unit;
    // Anything past a day is "too long" anyway; clamp so the conversion cannot panic.
    // A positive value below a nanosecond rounds to zero: treat it as zero (not a wait).
    (secs.is_finite() && secs > 0.0)
        .then(|| Duration::from_secs_f64(secs.min(86_400.0)))
        .filter(|d| !d.is_zero())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Parses the IMF-fixdate form of an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`), the only
/// form servers send today.
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, time, zone] = parts.as_slice() else {
        return None;
    };
    if !zone.eq_ignore_ascii_case("GMT") && !zone.eq_ignore_ascii_case("UTC") {
        return None;
    }
    let day: u64 = day.parse().ok()?;
    let month = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|m| m.eq_ignore_ascii_case(month))? as u64
        + 1;
    let year: u64 = year.parse().ok()?;
    let mut hms = time.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some()
        || !(1970..=9999).contains(&year)
        || !(1..=31).contains(&day)
        || h > 23
        || m > 59
        || sec > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + h * 3600 + m * 60 + sec;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn delays_follow_openai_python() {
        let mut d = Delays::new();
        let bases = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0];
        for base in bases {
            let got = d.next().as_secs_f64();
            assert!(
                got >= base * 0.75 - 1e-9 && got <= base + 1e-9,
                "{got} vs {base}"
            );
        }
    }

    #[test]
    fn statuses() {
        let now = SystemTime::now();
        for s in [408, 409, 429, 500, 502, 503, 599] {
            assert!(
                matches!(
                    decide_status(s, &[], &mut Delays::new(), now),
                    Decision::Retry(_)
                ),
                "{s}"
            );
        }
        for s in [400, 401, 403, 404, 422] {
            assert_eq!(
                decide_status(s, &[], &mut Delays::new(), now),
                Decision::Stop,
                "{s}"
            );
        }
        let force = h(&[("x-should-retry", "true")]);
        assert!(matches!(
            decide_status(400, &force, &mut Delays::new(), now),
            Decision::Retry(_)
        ));
        let forbid = h(&[("x-should-retry", "false")]);
        assert_eq!(
            decide_status(503, &forbid, &mut Delays::new(), now),
            Decision::Stop
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        let ms = h(&[("retry-after-ms", "250"), ("retry-after", "9")]);
        assert_eq!(
            retry_after(&ms, now),
            Some(RetryAfter::Wait(Duration::from_millis(250)))
        );
        let secs = h(&[("retry-after", "1.5")]);
        assert_eq!(
            retry_after(&secs, now),
            Some(RetryAfter::Wait(Duration::from_millis(1500)))
        );
        let date = h(&[("retry-after", "Sun, 06 Nov 1994 08:49:40 GMT")]);
        assert_eq!(
            retry_after(&date, now),
            Some(RetryAfter::Wait(Duration::from_secs(3)))
        );
        let long = h(&[("retry-after", "300")]);
        assert_eq!(retry_after(&long, now), Some(RetryAfter::TooLong));
        assert_eq!(
            decide_status(429, &long, &mut Delays::new(), now),
            Decision::Stop
        );
        for junk in ["0", "-3", "soon", "NaN", "inf", "1e400", "1e-10"] {
            let j = h(&[("retry-after", junk)]);
            assert_eq!(retry_after(&j, now), None, "{junk}");
            let j = h(&[("retry-after-ms", junk)]);
            assert_eq!(retry_after(&j, now), None, "ms {junk}");
        }
        let past = h(&[("retry-after", "Sun, 06 Nov 1994 08:49:30 GMT")]);
        assert_eq!(retry_after(&past, now), None);
    }

    #[test]
    fn http_date() {
        assert_eq!(
            parse_http_date("Thu, 01 Jan 1970 00:00:10 GMT"),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(10))
        );
        assert_eq!(
            parse_http_date("Wed, 25 Nov 2026 18:00:00 GMT"),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_629_600))
        );
        assert_eq!(parse_http_date("Wed, 25 Foo 2026 18:00:00 GMT"), None);
        assert_eq!(parse_http_date(""), None);
    }
}

#[cfg(test)]
mod proptests {
    //! Randomized, from fixed seeds (src/testgen.rs): a failure prints its case and input.
    use super::*;
    use crate::testgen::check;

    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];

    /// Days since 1970 counted the slow way, independently of `days_from_civil`.
    fn days_slow(y: u64, m: u64, d: u64) -> u64 {
        let leap = |y: u64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let mut days = (1970..y)
            .map(|y| if leap(y) { 366 } else { 365 })
            .sum::<u64>();
        let lengths = [
            31,
            if leap(y) { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        days += lengths[..(m - 1) as usize].iter().sum::<u64>();
        days + d - 1
    }

    /// Any header values: no panic, and a wait honoured is always in (0, 120 s].
    #[test]
    fn any_retry_after_is_bounded() {
        check(
            0x5EED_2E72_0001,
            256,
            |g| {
                let ms = g.option(|g| g.text(0, 24));
                let secs = g.option(|g| {
                    if g.bool() {
                        g.text(0, 32)
                    } else {
                        g.f64_in(-1e6, 1e6).to_string()
                    }
                });
                let status = g.u16_in(0, 1000);
                let now = g.u64_in(0, 4_000_000_000);
                (ms, secs, status, now)
            },
            |(ms, secs, status, now)| {
                let mut h = Vec::new();
                if let Some(v) = ms {
                    h.push(("retry-after-ms".to_owned(), v.clone()));
                }
                if let Some(v) = secs {
                    h.push(("retry-after".to_owned(), v.clone()));
                }
                let now = SystemTime::UNIX_EPOCH + Duration::from_secs(*now);
                if let Some(RetryAfter::Wait(d)) = retry_after(&h, now) {
                    assert!(!d.is_zero() && d <= MAX_RETRY_AFTER);
                }
                if let Decision::Retry(d) = decide_status(*status, &h, &mut Delays::new(), now) {
                    assert!(d <= MAX_RETRY_AFTER);
                }
            },
        );
    }

    /// Every valid IMF-fixdate parses to the instant it names.
    #[test]
    fn http_dates_parse_exactly() {
        check(
            0x5EED_2E72_0002,
            256,
            |g| {
                let (y, m, d) = (g.u64_in(1970, 2400), g.u64_in(1, 13), g.u64_in(1, 29));
                let (h, mi, s) = (g.u64_in(0, 24), g.u64_in(0, 60), g.u64_in(0, 60));
                (y, m, d, h, mi, s)
            },
            |&(y, m, d, h, mi, s)| {
                let text = format!(
                    "Mon, {d:02} {} {y} {h:02}:{mi:02}:{s:02} GMT",
                    MONTHS[(m - 1) as usize]
                );
                let want = SystemTime::UNIX_EPOCH
                    + Duration::from_secs(days_slow(y, m, d) * 86_400 + h * 3600 + mi * 60 + s);
                assert_eq!(parse_http_date(&text), Some(want), "{text}");
            },
        );
    }
}
