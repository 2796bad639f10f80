//! Whether a client wants HTML: the `Accept` header (RFC 9110 §12.5.1), read just far enough to
//! choose between a login redirect and a `401`.

use http::header::ACCEPT;
use http::HeaderMap;

/// Whether the client wants HTML: some media range of `Accept` is `text/html` (compared
/// case-insensitively) with no weight or a well-formed positive one.
///
/// Parameter names are case-insensitive (`Q=0` refuses like `q=0`), and a weight that is not an
/// RFC 9110 `qvalue` (`NaN`, `inf`, `-1`, `0.5000`, `1.5`, a quoted value, two weights) is no
/// preference for HTML: a malformed range never sends a client to the login page. Commas inside
/// quoted parameter values do not split ranges. `*/*` and `text/*` do not count: a client that
/// does not name HTML gets a `401` it can read.
pub(crate) fn accepts_html(headers: &HeaderMap) -> bool {
    accepts(headers, b"text/html")
}

/// Whether the client names `application/json`, by the rules of [`accepts_html`]: for the short
/// body of a `403` to an API client.
pub(crate) fn accepts_json(headers: &HeaderMap) -> bool {
    accepts(headers, b"application/json")
}

/// Whether some media range of `Accept` is exactly `media` with no weight or a positive one.
fn accepts(headers: &HeaderMap, media: &[u8]) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .flat_map(|v| split_unquoted(v.as_bytes(), b','))
        .any(|range| range_wants(range, media))
}

/// One media range with its parameters, such as `text/html;level=1;q=0.8`.
fn range_wants(range: &[u8], media: &[u8]) -> bool {
    let mut parts = split_unquoted(range, b';');
    let media_type = parts.next().map(trim).unwrap_or_default();
    if !media_type.eq_ignore_ascii_case(media) {
        return false;
    }
    let mut weight = None;
    for parameter in parts {
        let parameter = trim(parameter);
        let (name, value) = match parameter.iter().position(|&b| b == b'=') {
            Some(i) => (trim(&parameter[..i]), trim(&parameter[i + 1..])),
            None => (parameter, &b""[..]),
        };
        if name.eq_ignore_ascii_case(b"q") {
            if weight.is_some() {
                return false; // two weights: no preference can be read
            }
            match qvalue(value) {
                Some(q) => weight = Some(q),
                None => return false,
            }
        }
    }
    weight.is_none_or(|q| q > 0)
}

/// An RFC 9110 §12.4.2 `qvalue` in thousandths: `0[.ddd]` or `1[.000]`; `None` for anything
/// else.
fn qvalue(value: &[u8]) -> Option<u16> {
    let (whole, fraction) = match value.iter().position(|&b| b == b'.') {
        Some(i) => (&value[..i], Some(&value[i + 1..])),
        None => (value, None),
    };
    let fraction = fraction.unwrap_or_default();
    if fraction.len() > 3 || !fraction.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let thousandths = fraction
        .iter()
        .chain(std::iter::repeat(&b'0'))
        .take(3)
        .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    match whole {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Splits `bytes` at each `separator` outside a quoted-string (RFC 9110 §5.6.4, with `\`
/// escapes). An unterminated quote runs to the end.
fn split_unquoted(bytes: &[u8], separator: u8) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(bytes);
    std::iter::from_fn(move || {
        let current = rest?;
        let (mut quoted, mut escaped) = (false, false);
        for (i, &b) in current.iter().enumerate() {
            if escaped {
                escaped = false;
            } else if quoted && b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                quoted = !quoted;
            } else if !quoted && b == separator {
                rest = Some(&current[i + 1..]);
                return Some(&current[..i]);
            }
        }
        rest = None;
        Some(current)
    })
}

/// `bytes` without optional whitespace (spaces and tabs) on either side.
fn trim(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| matches!(b, b' ' | b'\t');
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, v.parse().unwrap());
        h
    }

    #[test]
    fn json_clients_are_told_apart_by_the_same_rules() {
        for v in [
            "application/json",
            "APPLICATION/JSON;q=0.5",
            "text/html, application/json",
        ] {
            assert!(accepts_json(&accept(v)), "{v}");
        }
        for v in [
            "application/json;q=0",
            "*/*",
            "application/*",
            "application/jsonx",
            "text/html",
        ] {
            assert!(!accepts_json(&accept(v)), "{v}");
        }
    }

    #[test]
    fn html_clients_are_told_apart() {
        for v in [
            "text/html,application/xhtml+xml,*/*;q=0.8",
            "TEXT/HTML",
            "text/html;q=1",
            "text/html;q=1.000",
            "text/html;q=0.001",
            "text/html; Q=0.5",
            "text/html ; q = 0.5",
            "text/html;level=1;q=0.9",
            "application/json;q=0.5, text/html",
            "text/plain;x=\"a,b\", text/html",
        ] {
            assert!(accepts_html(&accept(v)), "{v}");
        }
        assert!(!accepts_html(&HeaderMap::new()));
    }

    #[test]
    fn other_types_and_refusals_are_not_html() {
        for v in [
            "application/json",
            "*/*",
            "text/*",
            "",
            "text/htmlx",
            "text/html;q=0",
            "text/html;Q=0",
            "text/html; q=0.000",
            "text/html;q=0.",
            "text/plain;x=\"a,text/html\"",
        ] {
            assert!(!accepts_html(&accept(v)), "{v}");
        }
    }

    #[test]
    fn malformed_weights_are_no_preference_for_html() {
        for v in [
            "text/html;q=NaN",
            "text/html;q=nan",
            "text/html;q=inf",
            "text/html;q=-1",
            "text/html;q=-0",
            "text/html;q=+1",
            "text/html;q=1.5",
            "text/html;q=1.001",
            "text/html;q=2",
            "text/html;q=0.5000",
            "text/html;q=0x1",
            "text/html;q=1e0",
            "text/html;q=",
            "text/html;q",
            "text/html;q=\"1\"",
            "text/html;q=.5",
            "text/html;q=0.5;q=1",
            "text/html;q=0 .5",
        ] {
            assert!(!accepts_html(&accept(v)), "{v}");
        }
    }

    #[test]
    fn several_accept_headers_are_one_list() {
        let mut h = accept("application/json");
        h.append(ACCEPT, "text/html;q=0.9".parse().unwrap());
        assert!(accepts_html(&h));
    }

    #[test]
    fn qvalues() {
        assert_eq!(qvalue(b"0"), Some(0));
        assert_eq!(qvalue(b"0.8"), Some(800));
        assert_eq!(qvalue(b"0.125"), Some(125));
        assert_eq!(qvalue(b"1."), Some(1000));
        assert_eq!(qvalue(b"1.0"), Some(1000));
        assert_eq!(qvalue(b"1.1"), None);
        assert_eq!(qvalue(b"00"), None);
        assert_eq!(qvalue(b""), None);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;

    /// Accept values built from the pieces a parser can trip over.
    fn accept_like() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("text/html"),
            Just("TEXT/HTML"),
            Just("*/*"),
            Just(";"),
            Just(","),
            Just("="),
            Just("q"),
            Just("Q"),
            Just("0"),
            Just("1"),
            Just("."),
            Just("\""),
            Just("\\"),
            Just(" "),
            Just("\t"),
            Just("NaN"),
            Just("é"),
        ];
        prop::collection::vec(piece, 0..16).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        /// Never a panic, whatever the header holds.
        #[test]
        fn arbitrary_accept_headers_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            built in accept_like(),
        ) {
            for value in [HeaderValue::from_bytes(&bytes), HeaderValue::from_str(&built)]
                .into_iter()
                .flatten()
            {
                let mut headers = HeaderMap::new();
                headers.insert(ACCEPT, value);
                let _ = accepts_html(&headers);
            }
        }

        /// `text/html` with any weight other than a well-formed positive `qvalue` is not a
        /// preference for HTML.
        #[test]
        fn only_positive_well_formed_weights_count(q in "[0-9a-zA-Z.+-]{0,6}") {
            let value = format!("text/html;q={q}");
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT, HeaderValue::from_str(&value).unwrap());
            let positive = qvalue(q.as_bytes()).is_some_and(|q| q > 0);
            prop_assert_eq!(accepts_html(&headers), positive, "{}", value);
            if let Ok(f) = q.parse::<f64>() {
                if !(f > 0.0 && f <= 1.0) {
                    prop_assert!(!accepts_html(&headers), "{}", value);
                }
            }
        }
    }
}
