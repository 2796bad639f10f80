//! Origins (`scheme://host[:port]`) as browsers send them, compared by scheme, host and port.

use std::fmt;

/// A tuple origin (RFC 6454): a scheme (`http` or `https`), a lowercase host and a port, the
/// scheme's default port filled in. Two origins are the same origin when all three are equal.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    https: bool,
    host: String,
    port: u16,
}

impl Origin {
    /// Parses an `Origin` header value or a configured origin: `http://` or `https://` (either
    /// case), a host (a DNS name, an IPv4 address or a bracketed IPv6 address) and an optional
    /// port. Anything else (`null`, a path, a trailing `/`, user info, a query, non-ASCII, another
    /// scheme) is `None`.
    pub(crate) fn parse(value: &[u8]) -> Option<Origin> {
        let value = std::str::from_utf8(value).ok()?;
        let (scheme, authority) = value.split_once("://")?;
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return None;
        };
        let (host, port) = authority_parts(authority, https)?;
        Some(Origin { https, host, port })
    }

    /// The origin of a request that reached this server over `https` (or not) with this
    /// authority (`Host` header or the request target's authority); `None` when it is not a
    /// valid `host[:port]`.
    pub(crate) fn from_authority(https: bool, authority: &[u8]) -> Option<Origin> {
        let authority = std::str::from_utf8(authority).ok()?;
        let (host, port) = authority_parts(authority, https)?;
        Some(Origin { https, host, port })
    }

    /// Whether this origin's scheme is `https`.
    pub(crate) fn is_https(&self) -> bool {
        self.https
    }
}

/// `host[:port]` → the lowercase host and the port (the scheme's default when absent).
fn authority_parts(authority: &str, https: bool) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let valid = !inside.is_empty()
            && inside
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !valid {
            return None;
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (&authority[..inside.len() + 2], port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let valid_host = !host.is_empty()
        && host.len() <= 253 + 2
        && (host.starts_with('[')
            || host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'));
    if !valid_host {
        return None;
    }
    let port = match port {
        None => {
            if https {
                443
            } else {
                80
            }
        }
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse::<u16>().ok()?
        }
        Some(_) => return None,
    };
    Some((host.to_ascii_lowercase(), port))
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> Option<Origin> {
        Origin::parse(s.as_bytes())
    }

    #[test]
    fn csrf_02_origins_compare_scheme_host_and_port() {
        assert_eq!(
            parse("https://app.example"),
            parse("https://app.example:443")
        );
        assert_eq!(parse("https://APP.example"), parse("https://app.example"));
        assert_eq!(parse("HTTP://app.example"), parse("http://app.example:80"));
        assert_ne!(parse("http://app.example"), parse("https://app.example"));
        assert_ne!(
            parse("https://app.example:8443"),
            parse("https://app.example")
        );
        assert_ne!(
            parse("https://app.example"),
            parse("https://app.example.evil")
        );
        assert_eq!(parse("http://[::1]:3000"), parse("http://[::1]:3000"));
        assert_eq!(
            parse("http://127.0.0.1:3000"),
            Origin::from_authority(false, b"127.0.0.1:3000")
        );
        assert_ne!(
            parse("https://127.0.0.1:3000"),
            Origin::from_authority(false, b"127.0.0.1:3000")
        );
    }

    #[test]
    fn csrf_02_null_and_malformed_origins_are_none() {
        for bad in [
            "null",
            "",
            "https://",
            "https://app.example/",
            "https://app.example/path",
            "https://user@app.example",
            "https://app.example:",
            "https://app.example:99999",
            "https://app.example:+443",
            "https://app.example?x",
            "ftp://app.example",
            "file://",
            "app.example",
            "https://app example",
            "https://[::1",
            "https://[zz]",
            "https://exämple.com",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        assert_eq!(Origin::from_authority(true, b""), None);
        assert_eq!(Origin::from_authority(true, b"a b"), None);
    }

    proptest! {
        #[test]
        fn csrf_02_parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Origin::parse(&bytes);
            let _ = Origin::from_authority(true, &bytes);
        }

        /// The WHATWG URL parser as the oracle: an `Origin` this module takes for the server's
        /// own (`scheme://Host`) is the same origin by `url` too.
        #[test]
        fn csrf_02_own_origin_agrees_with_the_whatwg_parser(
            scheme in "(https?|HTTPS?|ftp)",
            name in "(\\[[0-9a-fA-F:.]{0,12}\\]|[a-zA-Z0-9._%-]{0,16})",
            other_name in "(\\[[0-9a-fA-F:.]{0,12}\\]|[a-zA-Z0-9._%-]{0,16})",
            ports in proptest::sample::subsequence(vec!["", ":", ":80", ":443", ":0443", ":8080", ":65536"], 2),
            https in any::<bool>(),
            same_name in any::<bool>(),
            swap in any::<bool>(),
        ) {
            let (host_port, origin_port) = if swap { (ports[1], ports[0]) } else { (ports[0], ports[1]) };
            let origin_name = if same_name { name.to_ascii_uppercase() } else { other_name };
            let origin = format!("{scheme}://{origin_name}{origin_port}");
            let host = format!("{name}{host_port}");
            let ours = Origin::parse(origin.as_bytes());
            if ours.is_some() && ours == Origin::from_authority(https, host.as_bytes()) {
                let own = format!("{}://{host}", if https { "https" } else { "http" });
                if let (Ok(a), Ok(b)) = (url::Url::parse(&origin), url::Url::parse(&own)) {
                    prop_assert_eq!(a.origin(), b.origin(), "{} vs {}", origin, own);
                }
            }
        }

        #[test]
        fn csrf_02_host_is_compared_case_insensitively(host in "[a-zA-Z0-9-]{1,20}(\\.[a-zA-Z]{1,5})?", port in 1u16..) {
            let lower = parse(&format!("https://{}:{port}", host.to_ascii_lowercase()));
            prop_assert!(lower.is_some());
            prop_assert_eq!(&parse(&format!("https://{}:{port}", host.to_ascii_uppercase())), &lower);
            prop_assert_ne!(&parse(&format!("http://{host}:{port}")), &lower);
        }
    }
}
