//! JWT time claims (RFC 7519 §4.1.4-4.1.6) and the session's own anchors.

use serde_json::{Map, Value};

use super::Rejection;

/// The latest NumericDate accepted: 9999-12-31T23:59:59Z.
const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;

/// Reads a NumericDate claim: a finite, non-negative JSON number (integer or not) in range.
/// Anything else is refused rather than treated as absent, or a string `exp` would make a token
/// immortal (SECURITY.md JWT-08).
pub(crate) fn numeric_date(value: &Value) -> Result<f64, Rejection> {
    // `as_f64` answers only for JSON numbers: a string, a bool or null is refused.
    value
        .as_f64()
        .and_then(in_range)
        .ok_or(Rejection::BadClaims)
}

/// `t`, if it is a NumericDate this crate accepts: from 0 to [`MAX_NUMERIC_DATE`].
fn in_range(t: f64) -> Option<f64> {
    (0.0..=MAX_NUMERIC_DATE).contains(&t).then_some(t)
}

/// Enforces `exp`, `nbf` and `iat` when present (RFC 7519 §4.1.4-4.1.6), with `leeway` seconds of
/// tolerance for clock skew between servers.
pub(crate) fn check_time_claims(
    claims: &Map<String, Value>,
    now: u64,
    leeway: u64,
) -> Result<(), Rejection> {
    let date = |name: &str| claims.get(name).map(|value| numeric_date(value).ok());
    check_time_claim_dates([date("exp"), date("nbf"), date("iat")], now, leeway).map(drop)
}

/// [`numeric_date`] of a JSON integer (`numeric_date(&Value::from(n)).ok()`, without the
/// `Value`).
pub(crate) fn numeric_date_of_integer(n: u64) -> Option<f64> {
    in_range(n as f64)
}

/// A claim already read: absent, or its NumericDate; refused when present but not one.
pub(crate) fn present_date(claim: Option<Option<f64>>) -> Result<Option<f64>, Rejection> {
    claim
        .map(|date| date.ok_or(Rejection::BadClaims))
        .transpose()
}

/// [`check_time_claims`] on the claims `exp`, `nbf` and `iat` already read (out of a payload):
/// each absent, not a NumericDate (`Some(None)`, refused), or one. Their NumericDates, in that
/// order.
pub(crate) fn check_time_claim_dates(
    [exp, nbf, iat]: [Option<Option<f64>>; 3],
    now: u64,
    leeway: u64,
) -> Result<[Option<f64>; 3], Rejection> {
    let (now, leeway) = (now as f64, leeway as f64);
    let exp = present_date(exp)?;
    if exp.is_some_and(|exp| now >= exp + leeway) {
        return Err(Rejection::Expired);
    }
    let nbf = present_date(nbf)?;
    if nbf.is_some_and(|nbf| now < nbf - leeway) {
        return Err(Rejection::NotYetValid);
    }
    let iat = present_date(iat)?;
    if iat.is_some_and(|iat| iat > now + leeway) {
        return Err(Rejection::NotYetValid);
    }
    Ok([exp, nbf, iat])
}
