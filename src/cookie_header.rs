//! Finding cookies by name in a request's `Cookie` headers without building a jar.

use http::header::COOKIE;
use http::HeaderMap;

/// How many cookies of one name are looked at. Browsers send one per (name, domain, path); more
/// than a few means cookie tossing, and each costs an HMAC to check (SECURITY.md ROT-04, IN-02).
/// A request with more is treated as carrying none (see [`find`]).
pub(crate) const MAX_CANDIDATES: usize = 4;

/// The values of the cookies called exactly `name` (case-sensitive, SECURITY.md IN-03) across every
/// `Cookie` header (HTTP/2 sends one per cookie, IN-01), in order. It stops after
/// `MAX_CANDIDATES + 1`: more than [`MAX_CANDIDATES`] means the caller must trust none of them,
/// since a sibling domain can place several ahead of the real one.
///
/// Values that are empty, longer than `max_len`, or not UTF-8 are skipped (IN-04). A value wrapped
/// in double quotes (RFC 6265 allows it) is unwrapped.
pub(crate) fn find(headers: &HeaderMap, name: &str, max_len: usize) -> Vec<Box<str>> {
    let mut found = Vec::new();
    for header in headers.get_all(COOKIE) {
        for pair in header.as_bytes().split(|&b| b == b';') {
            let Some(value) = value_if_named(pair, name.as_bytes()) else {
                continue;
            };
            if value.is_empty() || value.len() > max_len {
                continue;
            }
            if let Ok(value) = std::str::from_utf8(value) {
                found.push(value.into());
                if found.len() > MAX_CANDIDATES {
                    return found;
                }
            }
        }
    }
    found
}

/// The value of a `name=value` pair if its name is `name`.
fn value_if_named<'a>(pair: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let pair = trim(pair);
    let eq = pair.iter().position(|&b| b == b'=')?;
    if trim(&pair[..eq]) != name {
        return None;
    }
    let value = trim(&pair[eq + 1..]);
    Some(match value {
        [b'"', inner @ .., b'"'] => inner,
        v => v,
    })
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
            find(&h, "session", 4096),
            vec!["one".into(), "two".into()] as Vec<Box<str>>
        );
    }

    #[test]
    fn in_03_names_match_exactly() {
        let h =
            headers(&[b"__HOST-session=x; Session=y; session2=z; xsession=w; __Host-session=ok"]);
        assert_eq!(
            find(&h, "__Host-session", 4096),
            vec!["ok".into()] as Vec<Box<str>>
        );
        assert!(find(&h, "session", 4096).is_empty());
    }

    #[test]
    fn in_04_undecodable_empty_and_oversized_values_are_absent() {
        let h = headers(&[b"session=\xff\xfe; session=; session=\"\"; session=abcdef"]);
        assert_eq!(
            find(&h, "session", 4096),
            vec!["abcdef".into()] as Vec<Box<str>>
        );
        assert!(find(&h, "session", 5).is_empty());
    }

    #[test]
    fn whitespace_quotes_and_odd_pairs() {
        let h = headers(&[b" ;;session ;=;noequals; session = \"q.v\" ;session=a=b"]);
        assert_eq!(
            find(&h, "session", 4096),
            vec!["q.v".into(), "a=b".into()] as Vec<Box<str>>
        );
    }

    #[test]
    fn candidates_are_bounded() {
        let h = headers(&[b"s=1; s=2; s=3; s=4; s=5; s=6"]);
        assert_eq!(find(&h, "s", 4096).len(), MAX_CANDIDATES + 1);
    }

    #[test]
    fn jwt_12_cookie_rs_issue_178_input() {
        let h = headers(&["x=yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy£".as_bytes()]);
        assert_eq!(find(&h, "x", 4096).len(), 1);
        assert!(find(&h, "session", 4096).is_empty());
    }
}
