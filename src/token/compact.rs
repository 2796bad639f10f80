//! The members of a JSON object written compactly, as this crate and `serde_json` write a session
//! (and PyJWT, for Microdot, when the session is ASCII: Python's `json.dumps` escapes the rest):
//! no whitespace, no escapes, numbers without exponents, little nesting. Found in one pass over the bytes, where `serde_json`'s visitor (the scan that decides
//! everything else) takes a call through its `MapAccess`, a `RawValue` and a key visitor per
//! member: for a logged-in session's five members, a fifth of what a cache miss costs.
//!
//! It never decides that text is invalid. Anything outside the subset it reads (whitespace, an
//! escape, a control character, an exponent, a long number, deep nesting, a syntax error) makes it
//! give up, and the caller scans the text with `serde_json` as before. So it can only answer
//! for text that `serde_json` accepts, with the same members: the tests and the session-decode
//! fuzz target check that both scans agree, member by member, on every input.

use std::ops::Range;

/// Levels of nesting it follows within a member's value; deeper values are left to `serde_json`.
const MAX_DEPTH: usize = 16;

/// Bytes of a number it reads (sign, digits and point; no exponent): far within `f64`'s range.
/// Longer ones are left to `serde_json`.
const MAX_NUMBER: usize = 40;

/// Calls `member` with the byte ranges of each member's key (between its quotes) and value (its
/// whole JSON text), in the order they are written, and returns true, if `json` is one object in
/// the compact subset; else false, having perhaps called `member` for some members first.
pub(super) fn members(json: &str, mut member: impl FnMut(Range<usize>, Range<usize>)) -> bool {
    let b = json.as_bytes();
    object(b, 0, 0, &mut member) == Some(b.len())
}

/// The end of the object that opens at `at`, its members' values at nesting `depth`; `member`
/// is called with each member's key and value, as [`members`] says.
#[inline(always)]
fn object(
    b: &[u8],
    at: usize,
    depth: usize,
    member: &mut impl FnMut(Range<usize>, Range<usize>),
) -> Option<usize> {
    if b.get(at) != Some(&b'{') {
        return None;
    }
    if b.get(at + 1) == Some(&b'}') {
        return Some(at + 2);
    }
    let mut at = at + 1;
    loop {
        let key_end = key(b, at)?;
        let end = member_value(b, key_end + 2, depth)?;
        member(at + 1..key_end, key_end + 2..end);
        match *b.get(end)? {
            b',' => at = end + 1,
            b'}' => return Some(end + 1),
            _ => return None,
        }
    }
}

/// [`value`] for a member's value: strings and numbers (most of a session's) read here, inlined
/// into the loop over the members, and only arrays, objects and literals through a call. A call
/// for each key and each value cost more than reading most of them.
#[inline(always)]
fn member_value(b: &[u8], at: usize, depth: usize) -> Option<usize> {
    match b.get(at)? {
        b'"' => string_end(b, at + 1).map(|end| end + 1),
        b'-' | b'0'..=b'9' => number_end(b, at),
        _ => value(b, at, depth),
    }
}

/// The position of the closing quote of the key that opens at `at`, followed by a colon.
#[inline(always)]
fn key(b: &[u8], at: usize) -> Option<usize> {
    if b.get(at) != Some(&b'"') {
        return None;
    }
    let end = string_end(b, at + 1)?;
    (b.get(end + 1) == Some(&b':')).then_some(end)
}

/// The position of the quote that closes a string whose text begins at `from`, if no escape or
/// control character comes before it. Eight bytes at a time, in a general-purpose register: a
/// session's strings are too short for a vector search to pay for its setup, and a byte at a
/// time took a loop turn for each character of a 43-character tag.
#[inline(always)]
fn string_end(b: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(chunk) = b.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let x = u64::from_le_bytes(*chunk);
        let (quote, backslash) = (x ^ (ONES * 0x22), x ^ (ONES * 0x5c));
        // A byte's high bit is set in each term where it is a zero byte (the quote, the
        // backslash) or below 0x20 (a control character). Only the lowest flag is exact (a
        // borrow can flag a byte above it), and only it is used: the first byte that stops.
        let stop = (quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash
            | x.wrapping_sub(ONES * 0x20) & !x)
            & HIGH;
        if stop != 0 {
            let at = i + (stop.trailing_zeros() / 8) as usize;
            return (b[at] == b'"').then_some(at);
        }
        i += 8;
    }
    loop {
        match *b.get(i)? {
            b'"' => return Some(i),
            b'\\' | 0..=0x1f => return None,
            _ => i += 1,
        }
    }
}

/// The end of the value that begins at `at`, at nesting `depth`.
fn value(b: &[u8], at: usize, depth: usize) -> Option<usize> {
    match *b.get(at)? {
        b'"' => string_end(b, at + 1).map(|end| end + 1),
        b'-' | b'0'..=b'9' => number_end(b, at),
        b't' => literal(b, at, b"true"),
        b'f' => literal(b, at, b"false"),
        b'n' => literal(b, at, b"null"),
        b'[' if depth < MAX_DEPTH => {
            if b.get(at + 1) == Some(&b']') {
                return Some(at + 2);
            }
            let mut at = at + 1;
            loop {
                let end = value(b, at, depth + 1)?;
                match *b.get(end)? {
                    b',' => at = end + 1,
                    b']' => return Some(end + 1),
                    _ => return None,
                }
            }
        }
        b'{' if depth < MAX_DEPTH => object(b, at, depth + 1, &mut |_, _| {}),
        _ => None,
    }
}

/// The end of `word` at `at`.
fn literal(b: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    let end = at + word.len();
    (b.get(at..end)? == word).then_some(end)
}

/// The end of the number that begins at `at`: an optional minus, an integer part without leading
/// zeros, an optional fraction of at least one digit; no exponent.
#[inline(always)]
fn number_end(b: &[u8], at: usize) -> Option<usize> {
    let mut i = at + usize::from(b.get(at) == Some(&b'-'));
    match b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i = digits_end(b, i),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let end = digits_end(b, i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) || i - at > MAX_NUMBER {
        return None;
    }
    Some(i)
}

/// The end of the run of ASCII digits from `from`: eight bytes at a time, in a register, as
/// [`string_end`] reads (a time claim has ten digits).
#[inline(always)]
fn digits_end(b: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut i = from;
    while let Some(chunk) = b.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        // A digit's byte, less 0x30, is 0 to 9: its high half is zero, and adding 6 to its low
        // half leaves that zero. Any other byte sets a high-half bit in one of the two terms,
        // within its own byte (nothing carries out of a byte: 0x0f + 6 is below 0x100).
        let x = u64::from_le_bytes(*chunk) ^ (ONES * 0x30);
        let other = (x | ((x & (ONES * 0x0f)) + ONES * 6)) & (ONES * 0xf0);
        if other != 0 {
            return i + (other.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A byte at a time: what [`string_end`] must answer.
    fn string_end_bytewise(b: &[u8], from: usize) -> Option<usize> {
        (from..b.len())
            .find(|&i| matches!(b[i], b'"' | b'\\' | 0..=0x1f))
            .filter(|&i| b[i] == b'"')
    }

    /// Each byte that could confuse a test eight bytes at a time (the ones next to the quote,
    /// the backslash and the control characters, the high ones a borrow passes through), at
    /// each place of two words, after plain text and before a closing quote or none.
    #[test]
    fn the_end_of_a_string_is_found_as_a_byte_at_a_time_finds_it() {
        let edges = [
            0x00, 0x01, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c, 0x5d, 0x7f, 0x80, 0x9f, 0xa0,
            0xdf, 0xe0, 0xff,
        ];
        for len in 0..20 {
            for at in 0..len {
                for &edge in &edges {
                    for tail in [&b"\""[..], b"", b"x\"", b"\\\""] {
                        let mut b = vec![b'a'; len];
                        b[at] = edge;
                        b.extend_from_slice(tail);
                        for from in 0..=b.len() {
                            assert_eq!(
                                string_end(&b, from),
                                string_end_bytewise(&b, from),
                                "{b:?} from {from}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Each byte next to the digits' range (and the high ones), at each place of runs of
    /// every length around the eight-byte steps: where the run ends, as a byte at a time finds it.
    #[test]
    fn the_end_of_a_run_of_digits_is_found_as_a_byte_at_a_time_finds_it() {
        let edges = [
            0x00, 0x09, 0x0a, 0x20, 0x2f, 0x30, 0x35, 0x39, 0x3a, 0x3f, 0x40, 0x7f, 0x80, 0xb0,
            0xb9, 0xba, 0xf0, 0xff,
        ];
        for len in 0..20 {
            for at in 0..len {
                for &edge in &edges {
                    let mut b: Vec<u8> = (0..len).map(|i| b"7051938264"[i % 10]).collect();
                    b[at] = edge;
                    for from in 0..=b.len() {
                        let bytewise =
                            from + b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
                        assert_eq!(digits_end(&b, from), bytewise, "{b:?} from {from}");
                    }
                }
            }
        }
    }

    proptest! {
        #[test]
        fn the_end_of_any_run_of_digits_is_found_as_a_byte_at_a_time_finds_it(
            b in proptest::collection::vec(
                prop_oneof![b'0'..=b'9', b'0'..=b'9', any::<u8>()],
                0..40,
            ),
            from in 0usize..40,
        ) {
            let from = from.min(b.len());
            let bytewise = from + b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
            prop_assert_eq!(digits_end(&b, from), bytewise);
        }

        #[test]
        fn the_end_of_any_string_is_found_as_a_byte_at_a_time_finds_it(
            b in proptest::collection::vec(
                prop_oneof![Just(b'"'), Just(b'\\'), 0u8..0x20, any::<u8>(), Just(b'a')],
                0..40,
            ),
            from in 0usize..40,
        ) {
            let from = from.min(b.len());
            prop_assert_eq!(string_end(&b, from), string_end_bytewise(&b, from));
        }
    }
}
