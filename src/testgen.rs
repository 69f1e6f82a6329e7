//! Deterministic randomized inputs for the unit tests of private functions (`error.rs`,
//! `retry.rs`, `structured/partial_json.rs`): a SplitMix64 generator and the few shapes
//! those tests draw from (bounded integers, bytes, strings of any characters, variants,
//! JSON values). Compiled for `cfg(test)` only.
//!
//! The library's own tests do not use proptest so that the library has no proptest in its
//! dev-dependencies: building an example would compile it (and rand, getrandom, …) too.
//! The property tests of the public API (tests/suite/properties.rs) keep proptest in the
//! tests package.
//!
//! Every case has its own generator, seeded from the test's fixed seed and the case index,
//! so a failure names both and prints the input; `TESTGEN_CASE=<index>` runs that case
//! alone:
//!
//! ```text
//! TESTGEN_CASE=17 cargo test --lib any_body_parses_without_the_secret
//! ```

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use serde_json::Value;

/// SplitMix64 (Steele, Lea and Flood): one `u64` of state, full period, good enough
/// statistics for test inputs, and no dependency.
pub(crate) struct Gen {
    state: u64,
}

impl Gen {
    /// The generator of case `case` of the test seeded with `seed`.
    pub(crate) fn for_case(seed: u64, case: u64) -> Self {
        let mut g = Gen { state: seed };
        let mixed = g.next_u64() ^ case.wrapping_mul(0xD1B5_4A32_D192_ED03);
        Gen { state: mixed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), without modulo bias (Lemire's multiply and reject).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// Uniform in `lo..hi` (half open, `lo < hi`).
    pub(crate) fn u64_in(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo < hi, "empty range {lo}..{hi}");
        lo + self.below(hi - lo)
    }

    /// Uniform in `lo..hi` (half open).
    pub(crate) fn usize_in(&mut self, lo: usize, hi: usize) -> usize {
        self.u64_in(lo as u64, hi as u64) as usize
    }

    /// Uniform in `lo..hi` (half open).
    pub(crate) fn u16_in(&mut self, lo: u16, hi: u16) -> u16 {
        self.u64_in(u64::from(lo), u64::from(hi)) as u16
    }

    pub(crate) fn bool(&mut self) -> bool {
        self.next_u64() >> 63 == 1
    }

    /// True `num` times in `den`.
    pub(crate) fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// Any `i64`: one case in eight an edge value (0, ±1, the extremes, around 2^53), the
    /// rest uniform over all 2^64.
    pub(crate) fn i64_any(&mut self) -> i64 {
        const EDGES: [i64; 9] = [
            0,
            1,
            -1,
            i64::MIN,
            i64::MAX,
            1 << 53,
            -(1 << 53),
            (1 << 53) + 1,
            i32::MAX as i64 + 1,
        ];
        if self.chance(1, 8) {
            *self.pick(&EDGES)
        } else {
            self.next_u64() as i64
        }
    }

    /// Any `i32`, with edge values as in [`Gen::i64_any`].
    pub(crate) fn i32_any(&mut self) -> i32 {
        const EDGES: [i32; 5] = [0, 1, -1, i32::MIN, i32::MAX];
        if self.chance(1, 8) {
            *self.pick(&EDGES)
        } else {
            self.next_u64() as i32
        }
    }

    /// Uniform in `lo..hi`.
    pub(crate) fn f64_in(&mut self, lo: f64, hi: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let x = lo + (hi - lo) * unit;
        if x < hi {
            x
        } else {
            lo
        }
    }

    /// One of `items`, uniformly.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// `Some` half the time.
    pub(crate) fn option<T>(&mut self, some: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.bool() {
            Some(some(self))
        } else {
            None
        }
    }

    /// Any bytes, `lo..hi` of them.
    pub(crate) fn bytes(&mut self, lo: usize, hi: usize) -> Vec<u8> {
        let n = self.usize_in(lo, hi);
        (0..n).map(|_| self.next_u64() as u8).collect()
    }

    /// Any `char` but `'\n'` (what the regex `.` matches): printable ASCII half the time,
    /// else the characters JSON and the parsers treat specially, other control characters,
    /// and two-, three- and four-byte UTF-8 (surrogates excluded by `char` itself).
    pub(crate) fn any_char(&mut self) -> char {
        const SPECIAL: [char; 16] = [
            '"', '\\', '{', '}', '[', ']', ':', ',', '\t', '\r', '\u{0}', '\u{7f}', '…',
            '\u{feff}', '\u{2028}', '\u{fffd}',
        ];
        let c = match self.below(20) {
            0..=9 => char::from(self.u64_in(0x20, 0x7f) as u8),
            10..=11 => *self.pick(&SPECIAL),
            12 => char::from(self.below(0x20) as u8),
            13..=14 => char::from_u32(self.u64_in(0x80, 0x800) as u32).unwrap(),
            15..=17 => char::from_u32(self.u64_in(0x800, 0x1_0000) as u32).unwrap_or('\u{d7ff}'),
            _ => char::from_u32(self.u64_in(0x1_0000, 0x11_0000) as u32).unwrap(),
        };
        if c == '\n' {
            ' '
        } else {
            c
        }
    }

    /// The regex `.{lo,hi}`: `lo..=hi` characters of [`Gen::any_char`].
    pub(crate) fn text(&mut self, lo: usize, hi: usize) -> String {
        let n = self.usize_in(lo, hi + 1);
        (0..n).map(|_| self.any_char()).collect()
    }

    /// `lo..=hi` characters drawn from `alphabet` (the regex `[…]{lo,hi}`).
    pub(crate) fn text_from(&mut self, alphabet: &[char], lo: usize, hi: usize) -> String {
        let n = self.usize_in(lo, hi + 1);
        (0..n).map(|_| *self.pick(alphabet)).collect()
    }

    /// A JSON value at most `depth` containers deep with about `size` nodes at most: a
    /// leaf (null, a bool, any `i64`, a decimal `m / 10^e` with `m` any `i32` and `e` in
    /// `0..4`, a string `.{0,8}`) a third of the time at each level, else an array or an
    /// object of `0..5` entries (keys `.{0,6}`; duplicates collapse and the keys come sorted,
    /// as from a `BTreeMap`).
    pub(crate) fn json(&mut self, depth: u32, size: usize) -> Value {
        let mut budget = size;
        self.json_node(depth, &mut budget)
    }

    fn json_node(&mut self, depth: u32, budget: &mut usize) -> Value {
        if depth == 0 || *budget == 0 || self.chance(1, 3) {
            return match self.below(5) {
                0 => Value::Null,
                1 => Value::Bool(self.bool()),
                2 => Value::from(self.i64_any()),
                3 => {
                    let (m, e) = (self.i32_any(), self.below(4) as i32);
                    Value::from(f64::from(m) / 10f64.powi(e))
                }
                _ => Value::String(self.text(0, 8)),
            };
        }
        let n = self.usize_in(0, 5).min(*budget);
        *budget -= n;
        if self.bool() {
            Value::Array((0..n).map(|_| self.json_node(depth - 1, budget)).collect())
        } else {
            let map: BTreeMap<String, Value> = (0..n)
                .map(|_| (self.text(0, 6), self.json_node(depth - 1, budget)))
                .collect();
            Value::Object(map.into_iter().collect())
        }
    }
}

/// Which case `TESTGEN_CASE` asks for, if any.
fn only_case() -> Option<u64> {
    let v = std::env::var("TESTGEN_CASE").ok()?;
    Some(
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("TESTGEN_CASE={v:?}: expected a case index")),
    )
}

/// Runs `property` on `cases` inputs drawn by `generate`, case `i` from
/// `Gen::for_case(seed, i)`. On a failure (a panic, an assertion) it prints the seed, the
/// case index and the input, then fails with the property's own message.
pub(crate) fn check<I: Debug>(
    seed: u64,
    cases: u64,
    mut generate: impl FnMut(&mut Gen) -> I,
    mut property: impl FnMut(&I),
) {
    let run: Vec<u64> = match only_case() {
        Some(i) => vec![i],
        None => (0..cases).collect(),
    };
    for case in run {
        let input = generate(&mut Gen::for_case(seed, case));
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| property(&input))) {
            eprintln!(
                "testgen: case {case} of {cases} failed (seed {seed:#018x}); rerun it alone \
                 with TESTGEN_CASE={case}; input:\n{input:#?}"
            );
            resume_unwind(panic);
        }
    }
}

mod tests {
    use super::*;

    #[test]
    fn the_same_seed_and_case_give_the_same_input() {
        let draw = |g: &mut Gen| (g.text(0, 40), g.bytes(0, 16), g.i64_any());
        assert_eq!(
            draw(&mut Gen::for_case(7, 3)),
            draw(&mut Gen::for_case(7, 3))
        );
        assert_ne!(
            draw(&mut Gen::for_case(7, 3)),
            draw(&mut Gen::for_case(7, 4))
        );
        assert_ne!(
            draw(&mut Gen::for_case(7, 3)),
            draw(&mut Gen::for_case(8, 3))
        );
    }

    #[test]
    fn bounds_hold_and_every_bucket_shows_up() {
        let mut g = Gen::for_case(1, 0);
        let mut widths = [0usize; 5];
        for _ in 0..10_000 {
            let x = g.u64_in(5, 9);
            assert!((5..9).contains(&x));
            let f = g.f64_in(-1e6, 1e6);
            assert!((-1e6..1e6).contains(&f));
            let c = g.any_char();
            assert_ne!(c, '\n');
            widths[c.len_utf8()] += 1;
            let s = g.text_from(&['a', ' '], 0, 3);
            assert!(s.len() <= 3 && s.chars().all(|c| c == 'a' || c == ' '));
        }
        assert!(widths[1..].iter().all(|&n| n > 500), "{widths:?}");
    }

    #[test]
    fn a_failing_case_fails_the_check() {
        let r = catch_unwind(|| check(1, 50, |g| g.u64_in(0, 10), |&x| assert!(x < 9)));
        assert!(r.is_err());
    }
}
