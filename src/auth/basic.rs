//! HTTP Basic credentials (RFC 7617), parsed strictly (SECURITY.md BAS-01 to BAS-07).

use http::HeaderValue;

#[cfg(test)]
use super::scheme::MAX_CREDENTIALS_LEN;
use super::scheme::{credentials, quoted};
use crate::b64;

/// Credentials from `Authorization: Basic <base64(user:password)>`.
pub(crate) struct BasicCredentials {
    pub(crate) username: String,
    pub(crate) password: String,
}

/// Parses a Basic `Authorization` value: the scheme case-insensitively, padded base64 with no
/// trailing garbage, UTF-8 without control characters, split at the first colon, a non-empty
/// user-id. The length is checked before anything is decoded. `None` for anything else.
pub(crate) fn parse(value: &HeaderValue) -> Option<BasicCredentials> {
    let token68 = credentials(value, "basic")?;
    let decoded = String::from_utf8(b64::decode(b64::STANDARD, token68)?).ok()?;
    if decoded.chars().any(char::is_control) {
        return None;
    }
    let (username, password) = decoded.split_once(':')?;
    if username.is_empty() {
        return None;
    }
    Some(BasicCredentials {
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

/// `Basic realm="…", charset="…"`.
pub(crate) fn challenge(realm: &str, charset: &str) -> HeaderValue {
    let value = format!("Basic realm={}, charset={}", quoted(realm), quoted(charset));
    HeaderValue::try_from(value).unwrap_or(HeaderValue::from_static("Basic"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(value: &str) -> Option<(String, String)> {
        parse(&HeaderValue::from_str(value).ok()?).map(|c| (c.username, c.password))
    }

    fn pair(u: &str, p: &str) -> Option<(String, String)> {
        Some((u.to_owned(), p.to_owned()))
    }

    #[test]
    fn rfc_7617_examples() {
        assert_eq!(
            creds("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            pair("Aladdin", "open sesame")
        );
        assert_eq!(creds("Basic dGVzdDoxMjPCow=="), pair("test", "123£"));
    }

    #[test]
    fn bas_01_scheme_is_case_insensitive() {
        for scheme in ["basic", "BASIC", "bAsIc"] {
            assert_eq!(
                creds(&format!("{scheme} QWxhZGRpbjpvcGVuIHNlc2FtZQ==")),
                pair("Aladdin", "open sesame")
            );
        }
        assert_eq!(
            creds("Basic   QWxhZGRpbjpvcGVuIHNlc2FtZQ==  "),
            pair("Aladdin", "open sesame")
        );
    }

    #[test]
    fn bas_03_split_at_the_first_colon() {
        assert_eq!(creds("Basic dXNlcjpwYTpzcw=="), pair("user", "pa:ss"));
        assert_eq!(creds("Basic dXNlcjo="), pair("user", ""));
        assert_eq!(creds("Basic Og=="), None, "empty user-id");
        assert_eq!(creds("Basic bm9jb2xvbg=="), None, "no colon");
    }

    #[test]
    fn bas_02_04_hostile_values_are_refused() {
        for value in [
            "",
            "Basic",
            "Basic ",
            "BasicQWxhZGRpbjpvcGVuIHNlc2FtZQ==",
            "Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ",
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==garbage",
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ===",
            "Basic QWxhZGRp bjpvcGVuIHNlc2FtZQ==",
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZR==",
            "Basic !!!!",
            "Basic dXNlcjpwYXNzCg==", // "user:pass\n"
            "Basic dXNlcgk6cGFzcw==", // "user\t:pass"
            "Basic dXNlcjp/cGFzcw==", // "user:\x7fpass"
            "Basic //79",             // not UTF-8
        ] {
            assert_eq!(creds(value), None, "{value:?}");
        }
        let oversize = format!("Basic {}", "QUFB".repeat(MAX_CREDENTIALS_LEN / 4));
        assert_eq!(creds(&oversize), None);
    }

    #[test]
    fn bas_05_challenge_quotes_and_escapes() {
        assert_eq!(
            challenge("demo", "UTF-8"),
            "Basic realm=\"demo\", charset=\"UTF-8\""
        );
        assert_eq!(
            challenge("a \"b\" \\c", "UTF-8"),
            "Basic realm=\"a \\\"b\\\" \\\\c\", charset=\"UTF-8\""
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use proptest::prelude::*;

    proptest! {
        /// SECURITY.md 4.2 (9): any valid pair round-trips through the parser.
        #[test]
        fn basic_round_trip(
            user in "[^:\\p{Cc}]{1,40}",
            password in "[^\\p{Cc}]{0,40}",
            scheme in "[bB][aA][sS][iI][cC]",
        ) {
            let value = format!("{scheme} {}", STANDARD.encode(format!("{user}:{password}")));
            let parsed = parse(&HeaderValue::from_str(&value).unwrap()).expect("valid credentials");
            prop_assert_eq!(parsed.username, user);
            prop_assert_eq!(parsed.password, password);
        }

        /// Any credentials with a control character anywhere are refused.
        #[test]
        fn control_characters_are_refused(
            before in "[^\\p{Cc}]{0,20}",
            control in "\\p{Cc}",
            after in "[^\\p{Cc}]{0,20}",
        ) {
            let text = format!("{before}{control}{after}");
            let with_colon = if text.contains(':') { text } else { format!("u:{text}") };
            let value = format!("Basic {}", STANDARD.encode(&with_colon));
            prop_assert!(parse(&HeaderValue::from_str(&value).unwrap()).is_none());
        }

        /// Never a panic, whatever the header holds.
        #[test]
        fn arbitrary_headers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                let _ = parse(&value);
                let _ = crate::auth::bearer::parse_authorization(&value);
                let _ = crate::auth::bearer::parse_header(&value);
            }
        }
    }
}
