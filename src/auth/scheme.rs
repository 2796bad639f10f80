//! What HTTP Basic and Bearer share: the `<scheme> 1*SP <credentials>` form, the length limit,
//! and quoted-string parameters.

/// Credentials longer than this are refused before any decoding (SECURITY.md BAS-07, JWT-11).
pub(crate) const MAX_CREDENTIALS_LEN: usize = 8192;

/// The credentials of an `Authorization` value in `scheme` (matched case-insensitively, RFC 9110
/// §11.1), after the length limit, which is checked before anything else.
pub(crate) fn credentials<'v>(value: &'v http::HeaderValue, scheme: &str) -> Option<&'v str> {
    if value.len() > MAX_CREDENTIALS_LEN {
        return None;
    }
    let (found, credentials) = split_scheme(value.to_str().ok()?)?;
    found.eq_ignore_ascii_case(scheme).then_some(credentials)
}

/// Splits `<scheme> 1*SP <credentials>`, trimming trailing whitespace. `None` without a space
/// after the scheme, with an empty scheme, or with empty credentials.
fn split_scheme(value: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = value.split_once(' ')?;
    let credentials = rest.trim_start_matches(' ').trim_end_matches([' ', '\t']);
    (!scheme.is_empty() && !credentials.is_empty()).then_some((scheme, credentials))
}

/// A quoted-string (RFC 9110 §5.6.4) with `"` and `\` escaped. Configuration with control
/// characters is refused when the layer is built, so none reach here.
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}
