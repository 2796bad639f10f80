//! Safe redirects: where to go after a login, and how the gate sends a browser to log in.

use http::Uri;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// The longest `next` followed (SECURITY.md RED-08).
const MAX_NEXT_LEN: usize = 2048;

/// Everything but RFC 3986 unreserved characters is encoded in a query value.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Where to send the user after a login: the request's `next` query value when it is a path on
/// this site, otherwise `default`.
///
/// This is the way to finish a login handler: log the user in, then redirect with `303 See
/// Other` (or `302`; never `307`, which would repeat the POST with the password) to
/// `redirect_target(req.uri(), "/")`.
///
/// `next` is followed only when there is exactly one, it is at most 2048 bytes, and, after the
/// one percent-decoding of query parsing (and no other decoding, normalisation or re-encoding,
/// so what is checked is what is sent), it starts with a single `/` not followed by `/` or `\`,
/// and holds only printable ASCII, with no `\`, space or control character anywhere. Browsers
/// read `//evil.example`, `/\evil.example` and `/<TAB>/evil.example` as other sites; Microdot,
/// Flask-Login and axum-login let them through, this does not (SECURITY.md RED-01 to RED-08).
///
/// # Examples
///
/// ```
/// use http::Uri;
/// use tower_session_auth::redirect_target;
///
/// let uri: Uri = "/login?next=%2Forders%3Fpage%3D2".parse()?;
/// assert_eq!(redirect_target(&uri, "/"), "/orders?page=2");
///
/// for hostile in ["/login?next=//evil.example", "/login?next=/%5Cevil.example",
///                 "/login?next=https://evil.example", "/login?next=/%09/evil.example"] {
///     assert_eq!(redirect_target(&hostile.parse()?, "/"), "/");
/// }
/// # Ok::<(), http::uri::InvalidUri>(())
/// ```
#[must_use]
pub fn redirect_target(uri: &Uri, default: &str) -> String {
    let mut next = None;
    for (name, value) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if name == "next" {
            if next.is_some() {
                // Several `next` parameters: follow none (RED-07).
                return default.to_owned();
            }
            next = Some(value);
        }
    }
    match next {
        Some(next) if is_safe_next(&next) => next.into_owned(),
        _ => default.to_owned(),
    }
}

/// The rule of [`redirect_target`] for one decoded value.
pub(crate) fn is_safe_next(next: &str) -> bool {
    let bytes = next.as_bytes();
    bytes.len() <= MAX_NEXT_LEN
        && bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && bytes.iter().all(|&b| b.is_ascii_graphic() && b != b'\\')
}

/// Whether `url` may be a gate's login URL: a path on this site held to the rule of `next`
/// ([`is_safe_next`]: browsers read `/\evil.example` and `//evil.example` as other sites, and
/// drop tabs and newlines before parsing), or an absolute `http(s)` URL of printable ASCII
/// without `\`; no fragment either way. A `next` of its own must be the only one, and for a path
/// one that [`redirect_target`] follows, or the login would end somewhere else than configured.
pub(crate) fn is_valid_login_url(url: &str) -> bool {
    let path = url.starts_with('/');
    let well_formed = if path {
        is_safe_next(url)
    } else {
        (url.starts_with("https://") || url.starts_with("http://"))
            && url.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
    };
    if !well_formed || url.contains('#') {
        return false;
    }
    let mut own = own_next(url);
    match (own.next(), own.next()) {
        (None, _) => true,
        (Some(_), Some(_)) => false,
        (Some(next), None) => !path || is_safe_next(&next),
    }
}

/// The values of the `next` parameters already in a login URL's query.
fn own_next(login_url: &str) -> impl Iterator<Item = std::borrow::Cow<'_, str>> {
    let query = login_url.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name == "next")
        .map(|(_, value)| value)
}

/// The `Location` that sends a browser to `login_url` to log in and come back to the request's
/// target: `login_url?next=<path and query>`, or `login_url` as it is when it has a `next` of its
/// own (a login that always ends on the same page).
///
/// `next` is built from the request's path and query only, never from `Host` or an absolute-form
/// target (RED-05, RED-06), and always passes [`is_safe_next`]: `\` and anything not printable
/// ASCII is percent-encoded and a leading `//` becomes `/%2F`, which browsers read as a path on
/// this site. A target too long to follow is left out.
pub(crate) fn login_location(login_url: &str, uri: &Uri) -> String {
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut next = String::with_capacity(target.len() + 8);
    for (i, &b) in target.as_bytes().iter().enumerate() {
        if (i == 1 && b == b'/' && next == "/") || b == b'\\' || !b.is_ascii_graphic() {
            next.push_str(&format!("%{b:02X}"));
        } else {
            next.push(char::from(b));
        }
    }
    if !next.starts_with('/') {
        next.insert(0, '/');
    }
    let mut location = login_url.to_owned();
    if is_safe_next(&next) && own_next(login_url).next().is_none() {
        location.push(if login_url.contains('?') { '&' } else { '?' });
        location.push_str("next=");
        location.extend(utf8_percent_encode(&next, QUERY_VALUE));
    }
    location
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(query: &str) -> String {
        redirect_target(&format!("/login?{query}").parse().unwrap(), "/home")
    }

    #[test]
    fn red_01_hostile_values_fall_back() {
        for query in [
            "next=//evil.example",
            "next=%2F%2Fevil.example",
            "next=///evil.example",
            "next=////evil.example",
            "next=/%5Cevil.example",
            "next=/%5C/evil.example",
            "next=%5C%5Cevil.example",
            "next=/%09/evil.example",
            "next=/%0A/evil.example",
            "next=/%0D/evil.example",
            "next=%09//evil.example",
            "next=%20//evil.example",
            "next=/+/evil.example",
            "next=/%00",
            "next=/%7F",
            "next=https://evil.example",
            "next=https:evil.example",
            "next=javascript:alert(1)",
            "next=evil.example",
            "next=",
            "next=.//evil.example",
            "next=/a%5Cb",
            "next=/%E2%88%95%E2%88%95evil.example",
            "next=/%EF%BC%8F%EF%BC%8Fevil.example",
            "next=/ok&next=//evil.example",
            "next=/a&next=/b",
            "next=/%FF",
        ] {
            assert_eq!(target(query), "/home", "{query}");
        }
        assert_eq!(
            target(&format!("next=/{}", "a".repeat(MAX_NEXT_LEN))),
            "/home",
            "RED-08"
        );
    }

    #[test]
    fn red_01_benign_values_are_kept() {
        for (query, expected) in [
            ("next=/", "/"),
            ("next=/orders", "/orders"),
            ("next=%2Fa%3Fb%3Dc%26d%3D%2F%2Fe", "/a?b=c&d=//e"),
            ("next=/a/b/c#frag", "/a/b/c"),
            ("next=/a%23frag", "/a#frag"),
            ("next=/path/with:colon", "/path/with:colon"),
            ("next=/%252F%252Fevil.example", "/%2F%2Fevil.example"),
            ("other=1&next=/x", "/x"),
        ] {
            assert_eq!(target(query), expected, "{query}");
        }
        assert_eq!(
            redirect_target(&"/login".parse().unwrap(), "/home"),
            "/home"
        );
    }

    #[test]
    fn red_02_validated_exactly_as_emitted() {
        // `%2509` decodes once to the literal `%09`, a harmless path; it is not decoded again.
        assert_eq!(target("next=%2F%2509%2Fevil.example"), "/%09/evil.example");
    }

    fn location(target: &str) -> String {
        login_location("/login", &target.parse().unwrap())
    }

    #[test]
    fn red_05_login_redirect_escapes_scheme_relative_paths() {
        assert_eq!(
            location("/a?b=c&d=//e"),
            "/login?next=%2Fa%3Fb%3Dc%26d%3D%2F%2Fe"
        );
        assert_eq!(
            location("//evil.example/x"),
            "/login?next=%2F%252Fevil.example%2Fx"
        );
        assert_eq!(
            location("/\\evil.example"),
            "/login?next=%2F%255Cevil.example"
        );
        assert_eq!(location("http://evil.example/x?y"), "/login?next=%2Fx%3Fy");
        assert_eq!(location("*"), "/login?next=%2F%2A");
        assert_eq!(
            login_location("/auth?lang=en", &"/x".parse().unwrap()),
            "/auth?lang=en&next=%2Fx"
        );
        assert_eq!(
            login_location("/auth?n%65xt=%2Fhome", &"/x".parse().unwrap()),
            "/auth?n%65xt=%2Fhome"
        );
        let long = format!("/{}", "a".repeat(MAX_NEXT_LEN));
        assert_eq!(location(&long), "/login");
    }

    #[test]
    fn red_05_every_login_redirect_round_trips_to_a_safe_next() {
        for target in [
            "/",
            "/a",
            "//x",
            "///x",
            "/\\x",
            "/a\\b",
            "/%09/x",
            "/a?next=//evil",
            "/?q=%20",
        ] {
            let loc = location(target);
            let next = redirect_target(&loc.parse().unwrap(), "DEFAULT");
            assert_ne!(next, "DEFAULT", "{target} -> {loc}");
            assert!(is_safe_next(&next), "{target} -> {next}");
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Strings built from the pieces open-redirect bypasses are made of.
    fn hostile() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("/"),
            Just("\\"),
            Just("\t"),
            Just("\n"),
            Just("\r"),
            Just(" "),
            Just("%"),
            Just(":"),
            Just("@"),
            Just("."),
            Just("／"),
            Just("＼"),
            Just("%2F"),
            Just("%5C"),
            Just("%09"),
            Just("evil.example"),
            Just("http:"),
            Just("https://"),
            Just("javascript:"),
            Just("?"),
            Just("#"),
            Just("\u{0}"),
            Just("\u{7f}"),
            Just("\u{a0}"),
            Just("\u{3000}"),
            Just("a"),
            Just("..")
        ];
        (prop::collection::vec(piece, 0..8), ".{0,6}")
            .prop_map(|(pieces, tail)| pieces.concat() + &tail)
    }

    fn base() -> url::Url {
        url::Url::parse("https://site.example/app/page?x=1").unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// SECURITY.md 4.2 (6), RED-04: whatever the validator accepts, a WHATWG parser resolves
        /// to this site, and it holds no control character and no `\`.
        #[test]
        fn red_04_accepted_targets_stay_on_this_site(s in hostile()) {
            if is_safe_next(&s) {
                let resolved = base().join(&s).expect("an accepted target parses");
                prop_assert_eq!(resolved.origin(), base().origin(), "{:?} -> {}", s, resolved);
                prop_assert!(!s.chars().any(|c| c.is_control() || c == '\\'));
            }
        }

        /// The same through `redirect_target`, with the value percent-encoded in a query.
        #[test]
        fn redirect_target_never_leaves_the_site(s in hostile()) {
            let query: String = form_urlencoded::Serializer::new(String::new()).append_pair("next", &s).finish();
            let uri: Uri = format!("/login?{query}").parse().unwrap();
            let target = redirect_target(&uri, "/");
            let resolved = base().join(&target).unwrap();
            prop_assert_eq!(resolved.origin(), base().origin(), "{:?} -> {}", s, target);
        }

        /// Every login redirect the gate builds carries a `next` that the validator accepts and
        /// that leads back to the request's own path on this site.
        #[test]
        fn red_05_login_location_round_trips(s in hostile()) {
            let Ok(uri) = Uri::builder().path_and_query(format!("/{s}")).build() else {
                return Ok(()); // not a request target `http` accepts
            };
            let location = login_location("/login", &uri);
            let location_uri: Uri = location.parse().expect("the Location parses");
            let next = redirect_target(&location_uri, "DEFAULT");
            if next != "DEFAULT" {
                prop_assert!(is_safe_next(&next), "{} -> {}", uri, next);
                prop_assert_eq!(base().join(&next).unwrap().origin(), base().origin());
            }
        }
    }
}
