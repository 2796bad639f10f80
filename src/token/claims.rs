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
    let (now, leeway) = (now as f64, leeway as f64);
    if let Some(exp) = claims.get("exp") {
        if now >= numeric_date(exp)? + leeway {
            return Err(Rejection::Expired);
        }
    }
    if let Some(nbf) = claims.get("nbf") {
        if now < numeric_date(nbf)? - leeway {
            return Err(Rejection::NotYetValid);
        }
    }
    if let Some(iat) = claims.get("iat") {
        if numeric_date(iat)? > now + leeway {
            return Err(Rejection::NotYetValid);
        }
    }
    Ok(())
}
