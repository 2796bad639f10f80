//! The header check: `Sec-Fetch-Site`, then `Origin`, against the layer's configuration.

use http::{HeaderMap, Method, Uri};

use super::layer::Config;
use super::origin::Origin;
use super::CsrfRefusal;

/// What the headers say about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A safe method, or a browser that says the request comes from this origin (or a trusted
    /// one, or this site when same-site requests are allowed).
    Pass,
    /// Neither `Sec-Fetch-Site` nor `Origin`: an old browser or not a browser. The token policy
    /// decides.
    NoHeaders,
    /// Refused, for this reason.
    Refuse(CsrfRefusal),
}

/// Decides from the method and the headers alone, in this order:
///
/// 1. `GET`, `HEAD` and `OPTIONS` pass;
/// 2. an `Origin` equal to a trusted origin passes (that is what trusting it means: browsers send
///    `Sec-Fetch-Site: cross-site` with it);
/// 3. with a non-empty `Sec-Fetch-Site`: `same-origin` and `none` pass, `same-site` passes when
///    allowed, anything else is refused;
/// 4. with a non-empty `Origin`: it passes if it is this server's origin (scheme, host and port),
///    anything else (`null`, another origin, a value that does not parse) is refused;
/// 5. otherwise, neither header.
///
/// This server's origin is the configured one, or the configured scheme with the request
/// target's authority (HTTP/2 `:authority`), else the `Host` header. Nothing here can fail or
/// panic whatever the headers hold.
pub(crate) fn check(config: &Config, method: &Method, uri: &Uri, headers: &HeaderMap) -> Verdict {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Verdict::Pass;
    }
    let origin = headers
        .get(http::header::ORIGIN)
        .map(|v| v.as_bytes())
        .filter(|v| !v.is_empty());
    let parsed = origin.and_then(Origin::parse);
    if parsed
        .as_ref()
        .is_some_and(|o| config.trusted_origins.contains(o))
    {
        return Verdict::Pass;
    }
    let fetch_site = headers
        .get("sec-fetch-site")
        .map(|v| v.as_bytes())
        .filter(|v| !v.is_empty());
    if let Some(site) = fetch_site {
        return match site {
            b"same-origin" | b"none" => Verdict::Pass,
            b"same-site" if config.allow_same_site => Verdict::Pass,
            _ => Verdict::Refuse(CsrfRefusal::CrossSite),
        };
    }
    if origin.is_some() {
        let own = own_origin(config, uri, headers);
        return match (parsed, own) {
            (Some(origin), Some(own)) if origin == own => Verdict::Pass,
            _ => Verdict::Refuse(CsrfRefusal::ForeignOrigin),
        };
    }
    Verdict::NoHeaders
}

fn own_origin(config: &Config, uri: &Uri, headers: &HeaderMap) -> Option<Origin> {
    if let Some(origin) = &config.origin {
        return Some(origin.clone());
    }
    let authority = match uri.authority() {
        Some(authority) => authority.as_str().as_bytes(),
        None => headers.get(http::header::HOST)?.as_bytes(),
    };
    Origin::from_authority(config.https, authority)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CsrfLayer, TokenPolicy};
    use proptest::prelude::*;

    fn verdict(layer: &CsrfLayer, method: &str, headers: &[(&str, &str)]) -> Verdict {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        check(
            layer.config(),
            &method.parse().unwrap(),
            &Uri::from_static("/login"),
            &map,
        )
    }

    use CsrfRefusal::{CrossSite, ForeignOrigin};
    use Verdict::{NoHeaders, Pass, Refuse};

    const HOST: (&str, &str) = ("host", "app.example");

    /// A layer, a method, the request's headers, and the verdict they must get.
    type Row<'a> = (&'a CsrfLayer, &'a str, &'a [(&'a str, &'a str)], Verdict);

    /// The decision table of the layer's header check, row by row.
    #[test]
    fn csrf_01_decision_table() {
        let plain = CsrfLayer::default();
        let same_site = CsrfLayer::builder().same_site(true).build().unwrap();
        let trusting = CsrfLayer::builder()
            .trusted_origin("https://sso.example")
            .build()
            .unwrap();
        let http = CsrfLayer::builder().scheme("http").build().unwrap();
        let pinned = CsrfLayer::builder()
            .origin("https://app.example")
            .build()
            .unwrap();
        let rows: &[Row<'_>] = &[
            // Safe methods pass whatever the headers say.
            (&plain, "GET", &[("sec-fetch-site", "cross-site")], Pass),
            (&plain, "HEAD", &[("origin", "null")], Pass),
            (
                &plain,
                "OPTIONS",
                &[("origin", "https://evil.example")],
                Pass,
            ),
            // Sec-Fetch-Site decides when present.
            (&plain, "POST", &[("sec-fetch-site", "same-origin")], Pass),
            (&plain, "POST", &[("sec-fetch-site", "none")], Pass),
            (
                &plain,
                "POST",
                &[("sec-fetch-site", "same-site")],
                Refuse(CrossSite),
            ),
            (&same_site, "POST", &[("sec-fetch-site", "same-site")], Pass),
            (
                &same_site,
                "DELETE",
                &[("sec-fetch-site", "cross-site")],
                Refuse(CrossSite),
            ),
            (
                &plain,
                "POST",
                &[("sec-fetch-site", "cross-site")],
                Refuse(CrossSite),
            ),
            (
                &plain,
                "PUT",
                &[("sec-fetch-site", "Same-Origin")],
                Refuse(CrossSite),
            ),
            (
                &plain,
                "POST",
                &[("sec-fetch-site", "garbage")],
                Refuse(CrossSite),
            ),
            // ...and outranks Origin.
            (
                &plain,
                "POST",
                &[
                    HOST,
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "https://app.example"),
                ],
                Refuse(CrossSite),
            ),
            (
                &plain,
                "POST",
                &[HOST, ("sec-fetch-site", "same-origin"), ("origin", "null")],
                Pass,
            ),
            // Trusted origins pass even with cross-site (scheme, host and port compared).
            (
                &trusting,
                "POST",
                &[
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "https://sso.example"),
                ],
                Pass,
            ),
            (
                &trusting,
                "POST",
                &[("origin", "https://sso.example:443")],
                Pass,
            ),
            (
                &trusting,
                "POST",
                &[
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "http://sso.example"),
                ],
                Refuse(CrossSite),
            ),
            (
                &trusting,
                "POST",
                &[("origin", "http://sso.example")],
                Refuse(ForeignOrigin),
            ),
            (
                &trusting,
                "POST",
                &[("origin", "https://sso.example:8443")],
                Refuse(ForeignOrigin),
            ),
            (
                &trusting,
                "POST",
                &[("origin", "https://evil.sso.example")],
                Refuse(ForeignOrigin),
            ),
            // Without Sec-Fetch-Site: Origin against this origin, https by default.
            (
                &plain,
                "POST",
                &[HOST, ("origin", "https://app.example")],
                Pass,
            ),
            (
                &plain,
                "POST",
                &[
                    ("host", "APP.example:443"),
                    ("origin", "https://app.example"),
                ],
                Pass,
            ),
            (
                &plain,
                "POST",
                &[HOST, ("origin", "http://app.example")],
                Refuse(ForeignOrigin),
            ),
            (
                &http,
                "POST",
                &[HOST, ("origin", "http://app.example")],
                Pass,
            ),
            (
                &http,
                "POST",
                &[HOST, ("origin", "https://app.example")],
                Refuse(ForeignOrigin),
            ),
            (
                &plain,
                "POST",
                &[HOST, ("origin", "https://app.example:8443")],
                Refuse(ForeignOrigin),
            ),
            (
                &plain,
                "POST",
                &[HOST, ("origin", "https://evil.example")],
                Refuse(ForeignOrigin),
            ),
            (
                &plain,
                "POST",
                &[HOST, ("origin", "null")],
                Refuse(ForeignOrigin),
            ),
            (
                &plain,
                "POST",
                &[HOST, ("origin", "https://app.example/")],
                Refuse(ForeignOrigin),
            ),
            (
                &plain,
                "POST",
                &[("origin", "https://app.example")],
                Refuse(ForeignOrigin),
            ),
            // A configured origin replaces the Host header.
            (
                &pinned,
                "POST",
                &[("host", "internal:8080"), ("origin", "https://app.example")],
                Pass,
            ),
            (
                &pinned,
                "POST",
                &[HOST, ("origin", "https://internal:8080")],
                Refuse(ForeignOrigin),
            ),
            // Neither header (empty ones count as absent).
            (&plain, "POST", &[HOST], NoHeaders),
            (
                &plain,
                "PATCH",
                &[("sec-fetch-site", ""), ("origin", "")],
                NoHeaders,
            ),
        ];
        for (i, (layer, method, headers, want)) in rows.iter().enumerate() {
            assert_eq!(
                verdict(layer, method, headers),
                *want,
                "row {i}: {method} {headers:?}"
            );
        }
    }

    #[test]
    fn csrf_01_token_policy_does_not_change_the_header_check() {
        let always = CsrfLayer::builder()
            .tokens(TokenPolicy::Always)
            .build()
            .unwrap();
        assert_eq!(
            verdict(&always, "POST", &[("sec-fetch-site", "cross-site")]),
            Refuse(CrossSite)
        );
        assert_eq!(verdict(&always, "POST", &[HOST]), NoHeaders);
    }

    proptest! {
        #[test]
        fn csrf_03_any_header_bytes_give_a_verdict_without_panic(
            site in proptest::collection::vec(0x20u8..0x7f, 0..24),
            origin in proptest::collection::vec(any::<u8>(), 0..40),
            host in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut map = HeaderMap::new();
            for (name, value) in [("sec-fetch-site", site), ("origin", origin), ("host", host)] {
                if let Ok(value) = http::HeaderValue::from_bytes(&value) {
                    map.insert(name, value);
                }
            }
            let layer = CsrfLayer::default();
            let _ = check(layer.config(), &Method::POST, &Uri::from_static("/"), &map);
        }
    }
}
