//! Bearer tokens (RFC 6750) and API keys in a named header (SECURITY.md BEA-01 to BEA-05).

use http::HeaderValue;

use super::scheme::{credentials, quoted, MAX_CREDENTIALS_LEN};

/// Parses `Authorization: Bearer <b64token>`: the scheme case-insensitively, one or more spaces,
/// a token of RFC 6750 `b64token` characters. Trailing whitespace is trimmed; anything else (no
/// separator, inner spaces, commas, control characters, over the length limit) is refused.
pub(crate) fn parse_authorization(value: &HeaderValue) -> Option<String> {
    let token = credentials(value, "bearer")?;
    valid_token(token).then(|| token.to_owned())
}

/// Parses an API-key header such as `X-API-Key: <token>`: the whole trimmed value, with the same
/// characters and limit as a bearer token.
pub(crate) fn parse_header(value: &HeaderValue) -> Option<String> {
    if value.len() > MAX_CREDENTIALS_LEN {
        return None;
    }
    let token = value.to_str().ok()?.trim_matches([' ', '\t']);
    valid_token(token).then(|| token.to_owned())
}

/// RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn valid_token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// `Bearer realm="…"`, with `error="invalid_token"` when a token was presented and refused.
pub(crate) fn challenge(realm: &str, invalid_token: bool) -> HeaderValue {
    let mut value = format!("Bearer realm={}", quoted(realm));
    if invalid_token {
        value.push_str(", error=\"invalid_token\"");
    }
    HeaderValue::try_from(value).unwrap_or(HeaderValue::from_static("Bearer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(value: &str) -> Option<String> {
        parse_authorization(&HeaderValue::from_str(value).ok()?)
    }

    #[test]
    fn rfc_6750_example_and_case_insensitive_scheme() {
        assert_eq!(
            token("Bearer mF_9.B5f-4.1JqM").as_deref(),
            Some("mF_9.B5f-4.1JqM")
        );
        assert_eq!(
            token("bearer mF_9.B5f-4.1JqM").as_deref(),
            Some("mF_9.B5f-4.1JqM")
        );
        assert_eq!(token("BEARER abc+/def==").as_deref(), Some("abc+/def=="));
        assert_eq!(token("Bearer  abc  ").as_deref(), Some("abc"));
    }

    #[test]
    fn bea_01_hostile_values_are_refused() {
        for value in [
            "",
            "Bearer",
            "Bearer ",
            "Bearer    ",
            "Bearertoken",
            "Basic abc",
            "Bearer a b",
            "Bearer a,b",
            "Bearer a\tb",
            "Bearer =abc",
            "Bearer ===",
            "Bearer a=b",
            "Bearer ab\"c",
            "Bearer tök",
            "Token abc",
        ] {
            assert_eq!(token(value), None, "{value:?}");
        }
        assert_eq!(
            token(&format!("Bearer {}", "a".repeat(MAX_CREDENTIALS_LEN))),
            None
        );
    }

    #[test]
    fn bea_02_header_mode() {
        let parse = |v: &str| parse_header(&HeaderValue::from_str(v).unwrap());
        assert_eq!(
            parse(" susan-api-token ").as_deref(),
            Some("susan-api-token")
        );
        assert_eq!(parse("a b"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("Bearer abc"), None);
    }

    #[test]
    fn bea_05_challenge() {
        assert_eq!(challenge("api", false), "Bearer realm=\"api\"");
        assert_eq!(
            challenge("api", true),
            "Bearer realm=\"api\", error=\"invalid_token\""
        );
    }
}
