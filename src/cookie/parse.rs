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
pub(crate) fn find_two(headers: &HeaderMap, names: [&str; 2]) -> [Values; 2] {
    let mut found = [Values::None, Values::None];
    // `value` is the text of a UTF-8 header (already validated), or bytes to validate.
    let mut keep = |name: &[u8], value: Result<&str, &[u8]>| {
        let Some(slot) = names.iter().position(|n| n.as_bytes() == name) else {
            return;
        };
        let bytes = unquote(value.map_or_else(|bytes| bytes, str::as_bytes));
        // Browsers keep at most 4096 bytes of name and value (RFC 6265bis §5.6).
        let max_len = MAX_COOKIE_LEN.saturating_sub(name.len());
        if bytes.is_empty() || bytes.len() > max_len || found[slot].len() > MAX_CANDIDATES {
            return;
        }
        let text = match value {
            // Unquoting removed one ASCII byte (`"`) from each end, if any: still UTF-8.
            Ok(text) if bytes.len() < text.len() => text.get(1..text.len() - 1),
            Ok(text) => Some(text),
            Err(_) => std::str::from_utf8(bytes).ok(),
        };
        if let Some(text) = text {
            found[slot].push(text.into());
        }
    };
    for header in headers.get_all(COOKIE) {
        match std::str::from_utf8(header.as_bytes()) {
            // `str::split` with a char searches a word at a time; the byte path below checks
            // every byte through a closure, several times slower on a cookie of a few hundred
            // bytes.
            Ok(text) => {
                for pair in text.split(';') {
                    if let Some((name, value)) = pair.split_once('=') {
                        keep(trim(name.as_bytes()), Ok(trim_str(value)));
                    }
                }
            }
            Err(_) => {
                for pair in header.as_bytes().split(|&b| b == b';') {
                    if let Some(eq) = pair.iter().position(|&b| b == b'=') {
                        keep(trim(&pair[..eq]), Err(trim(&pair[eq + 1..])));
                    }
                }
            }
        }
    }
    found
}

/// The values of the cookies of one name, in order. Most requests carry one, which is kept
/// without a list (one allocation fewer on every request).
#[derive(Debug, Default)]
pub(crate) enum Values {
    #[default]
    None,
    One(Box<str>),
    Many(Vec<Box<str>>),
}

impl Values {
    fn push(&mut self, value: Box<str>) {
        *self = match std::mem::take(self) {
            Values::None => Values::One(value),
            Values::One(first) => Values::Many(vec![first, value]),
            Values::Many(mut all) => {
                all.push(value);
                Values::Many(all)
            }
        };
    }
}

impl std::ops::Deref for Values {
    type Target = [Box<str>];

    fn deref(&self) -> &[Box<str>] {
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
    found.to_vec()
}

fn unquote(value: &[u8]) -> &[u8] {
    match value {
        [b'"', inner @ .., b'"'] => inner,
        v => v,
    }
}

fn trim_str(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
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

    #[test]
    fn jwt_12_cookie_rs_non_ascii_value_input() {
        let h = headers(&["x=yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy£".as_bytes()]);
        assert_eq!(find(&h, "x").len(), 1);
        assert!(find(&h, "session").is_empty());
    }
}
