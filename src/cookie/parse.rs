//! Finding cookies by name in a request's `Cookie` headers without building a jar.

use http::header::COOKIE;
use http::HeaderMap;

use super::MAX_COOKIE_LEN;

/// How many cookies of one name are looked at. Browsers send one per (name, domain, path); more
/// than a few means cookie tossing, and each costs an HMAC to check (SECURITY.md ROT-04, IN-02).
/// A request with more is treated as carrying none (see [`find`]).
pub(crate) const MAX_CANDIDATES: usize = 4;

/// The values of the cookies called exactly `names[0]` and `names[1]` (case-sensitive, SECURITY.md
/// IN-03) across every `Cookie` header (HTTP/2 sends one per cookie, IN-01), in order, in one
/// pass. Each list stops after `MAX_CANDIDATES + 1`: more than [`MAX_CANDIDATES`] means the caller
/// must trust none of them, since a sibling domain can place several ahead of the real one.
///
/// Values that are empty, longer than a browser keeps, or not UTF-8 are skipped (IN-04). A value
/// wrapped in double quotes (RFC 6265 allows it) is unwrapped.
///
/// The headers are scanned as bytes, with `memchr`'s vector search for the separators, and only
/// a value that is kept is checked for UTF-8: on a request whose `Cookie` is mostly the session
/// cookie, the whole header was validated and then searched a word at a time, twice the work.
/// The values are borrowed from the headers: a caller copies what it keeps
/// ([`Values::into_owned`]), where it likes.
pub(crate) fn find_two<'h>(headers: &'h HeaderMap, names: [&str; 2]) -> [Values<&'h str>; 2] {
    let mut found = [Values::None, Values::None];
    for header in headers.get_all(COOKIE) {
        let mut rest = header.as_bytes();
        loop {
            let (pair, next) = match memchr::memchr(b';', rest) {
                Some(end) => (&rest[..end], Some(&rest[end + 1..])),
                None => (rest, None),
            };
            if let Some(eq) = memchr::memchr(b'=', pair) {
                keep(&mut found, names, trim(&pair[..eq]), trim(&pair[eq + 1..]));
            }
            match next {
                Some(next) => rest = next,
                None => break,
            }
        }
    }
    found
}

/// Adds `value` to the list of `name`, if `name` is one of `names` and the value is one to keep
/// (see [`find_two`]).
fn keep<'h>(found: &mut [Values<&'h str>; 2], names: [&str; 2], name: &[u8], value: &'h [u8]) {
    let Some(slot) = names.iter().position(|n| n.as_bytes() == name) else {
        return;
    };
    let value = unquote(value);
    // Browsers keep at most 4096 bytes of name and value (RFC 6265bis §5.6).
    let max_len = MAX_COOKIE_LEN.saturating_sub(name.len());
    if value.is_empty() || value.len() > max_len || found[slot].len() > MAX_CANDIDATES {
        return;
    }
    if let Ok(text) = std::str::from_utf8(value) {
        found[slot].push(text);
    }
}

/// The values of the cookies of one name, in order, borrowed from the headers (`&str`) or kept
/// (`Box<str>`). Most requests carry one, which is held without a list (one allocation fewer on
/// every request).
#[derive(Debug, Default)]
pub(crate) enum Values<T = Box<str>> {
    #[default]
    None,
    One(T),
    Many(Vec<T>),
}

impl Values<&str> {
    /// The values, copied out of the headers.
    pub(crate) fn into_owned(self) -> Values {
        match self {
            Values::None => Values::None,
            Values::One(value) => Values::One(value.into()),
            Values::Many(all) => Values::Many(all.into_iter().map(Into::into).collect()),
        }
    }
}

impl<T> Values<T> {
    fn push(&mut self, value: T) {
        *self = match std::mem::replace(self, Values::None) {
            Values::None => Values::One(value),
            Values::One(first) => Values::Many(vec![first, value]),
            Values::Many(mut all) => {
                all.push(value);
                Values::Many(all)
            }
        };
    }
}

impl<T> std::ops::Deref for Values<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match self {
            Values::None => &[],
            Values::One(value) => std::slice::from_ref(value),
            Values::Many(all) => all,
        }
    }
}

/// The values of the cookies called exactly `name`; see [`find_two`].
#[cfg(test)]
fn find(headers: &HeaderMap, name: &str) -> Vec<Box<str>> {
    let [found, _] = find_two(headers, [name, "\0never a cookie name"]);
    found.into_owned().to_vec()
}

fn unquote(value: &[u8]) -> &[u8] {
    match value {
        [b'"', inner @ .., b'"'] => inner,
        v => v,
    }
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(COOKIE, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn in_01_several_cookie_headers_are_read() {
        let h = headers(&[b"a=1", b"session=one; b=2", b"session=two"]);
        assert_eq!(
            find(&h, "session"),
            vec!["one".into(), "two".into()] as Vec<Box<str>>
        );
    }

    #[test]
    fn in_03_names_match_exactly() {
        let h =
            headers(&[b"__HOST-session=x; Session=y; session2=z; xsession=w; __Host-session=ok"]);
        assert_eq!(
            find(&h, "__Host-session"),
            vec!["ok".into()] as Vec<Box<str>>
        );
        assert!(find(&h, "session").is_empty());
    }

    #[test]
    fn in_04_undecodable_empty_and_oversized_values_are_absent() {
        let h = headers(&[b"session=\xff\xfe; session=; session=\"\"; session=abcdef"]);
        assert_eq!(find(&h, "session"), vec!["abcdef".into()] as Vec<Box<str>>);
        // A value is kept up to what a browser stores with the name (4096 bytes in all).
        let fits = format!("session={}", "v".repeat(MAX_COOKIE_LEN - "session".len()));
        assert_eq!(find(&headers(&[fits.as_bytes()]), "session").len(), 1);
        let long = format!(
            "session={}",
            "v".repeat(MAX_COOKIE_LEN - "session".len() + 1)
        );
        assert!(find(&headers(&[long.as_bytes()]), "session").is_empty());
    }

    #[test]
    fn whitespace_quotes_and_odd_pairs() {
        let h = headers(&[b" ;;session ;=;noequals; session = \"q.v\" ;session=a=b"]);
        assert_eq!(
            find(&h, "session"),
            vec!["q.v".into(), "a=b".into()] as Vec<Box<str>>
        );
    }

    #[test]
    fn candidates_are_bounded() {
        let h = headers(&[b"s=1; s=2; s=3; s=4; s=5; s=6"]);
        assert_eq!(find(&h, "s").len(), MAX_CANDIDATES + 1);
    }

    /// The pairs of one header as RFC 6265 splits them, the slow obvious way.
    fn reference(header: &[u8], name: &str) -> Vec<Box<str>> {
        let mut out = Vec::new();
        for pair in header.split(|&b| b == b';') {
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            if trim(&pair[..eq]) != name.as_bytes() || out.len() > MAX_CANDIDATES {
                continue;
            }
            let value = unquote(trim(&pair[eq + 1..]));
            if value.is_empty() || value.len() > MAX_COOKIE_LEN - name.len() {
                continue;
            }
            if let Ok(text) = std::str::from_utf8(value) {
                out.push(text.into());
            }
        }
        out
    }

    proptest::proptest! {
        /// The vector scan finds what splitting the header byte by byte finds, for headers made
        /// of the separators, quotes, spaces, the names and bytes that are not UTF-8.
        #[test]
        fn the_scan_agrees_with_a_byte_by_byte_split(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b"session".to_vec()),
                    proptest::strategy::Just(b"remember".to_vec()),
                    proptest::strategy::Just(b";".to_vec()),
                    proptest::strategy::Just(b"=".to_vec()),
                    proptest::strategy::Just(b"\"".to_vec()),
                    proptest::strategy::Just(b" ".to_vec()),
                    proptest::strategy::Just(b"\t".to_vec()),
                    proptest::strategy::Just(vec![0xc3, 0xa9]),
                    proptest::strategy::Just(vec![0xff]),
                    proptest::collection::vec(b'a'..=b'z', 0..80),
                ],
                0..40,
            )
        ) {
            let header: Vec<u8> = parts.concat();
            let Ok(value) = HeaderValue::from_bytes(&header) else {
                return Ok(());
            };
            let mut h = HeaderMap::new();
            h.append(COOKIE, value);
            let [session, remember] = find_two(&h, ["session", "remember"]);
            proptest::prop_assert_eq!(session.into_owned().to_vec(), reference(&header, "session"));
            proptest::prop_assert_eq!(remember.into_owned().to_vec(), reference(&header, "remember"));
        }
    }

    #[test]
    fn jwt_12_cookie_rs_non_ascii_value_input() {
        let h = headers(&["x=yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy£".as_bytes()]);
        assert_eq!(find(&h, "x").len(), 1);
        assert!(find(&h, "session").is_empty());
    }
}
