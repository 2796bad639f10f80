//! JWT time claims (RFC 7519 §4.1.4-4.1.6) and the session's own anchors.

use serde_json::{Map, Value};

use super::Rejection;

/// The latest NumericDate accepted: 9999-12-31T23:59:59Z.
const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;

/// Reads a NumericDate claim: a finite, non-negative JSON number (integer or not) in range.
/// Anything else is refused rather than treated as absent, or a string `exp` would make a token
/// immortal (SECURITY.md JWT-08).
pub(crate) fn numeric_date(value: &Value) -> Result<f64, Rejection> {
    match value.as_f64() {
        Some(t) if value.is_number() && (0.0..=MAX_NUMERIC_DATE).contains(&t) => Ok(t),
        _ => Err(Rejection::BadClaims),
    }
}

/// Enforces `exp`, `nbf` and `iat` when present (RFC 7519 §4.1.4-4.1.6), with `leeway` seconds of
/// tolerance for clock skew between servers.
pub(crate) fn check_time_claims(
    claims: &Map<String, Value>,
    now: u64,
    leeway: u64,
) -> Result<(), Rejection> {
    check_time_claim_values(
        [claims.get("exp"), claims.get("nbf"), claims.get("iat")],
        now,
        leeway,
    )
    .map(drop)
}

/// [`numeric_date`] of a JSON integer (`numeric_date(&Value::from(n)).ok()`, without the
/// `Value`).
pub(crate) fn numeric_date_of_integer(n: u64) -> Option<f64> {
    let t = n as f64;
    (t <= MAX_NUMERIC_DATE).then_some(t)
}

/// [`check_time_claims`] on the claims `exp`, `nbf` and `iat` already taken out of a payload;
/// their NumericDates, in that order.
pub(crate) fn check_time_claim_values(
    [exp, nbf, iat]: [Option<&Value>; 3],
    now: u64,
    leeway: u64,
) -> Result<[Option<f64>; 3], Rejection> {
    let date = |claim: Option<&Value>| claim.map(|value| numeric_date(value).ok());
    check_time_claim_dates([date(exp), date(nbf), date(iat)], now, leeway)
}

/// A claim already read: absent, or its NumericDate; refused when present but not one.
pub(crate) fn present_date(claim: Option<Option<f64>>) -> Result<Option<f64>, Rejection> {
    claim
        .map(|date| date.ok_or(Rejection::BadClaims))
        .transpose()
}

/// [`check_time_claim_values`] on claims already read: each absent, not a NumericDate
/// (`Some(None)`, refused), or one.
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
