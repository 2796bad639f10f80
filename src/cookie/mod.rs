//! Cookies on the wire: finding the crate's cookies in a request, choosing among duplicates, and
//! writing `Set-Cookie` with the configured scope.

pub(crate) mod choose;
pub(crate) mod parse;
pub(crate) mod scope;

/// Browsers keep at most 4096 bytes of cookie name and value (RFC 6265bis §5.6).
pub(crate) const MAX_COOKIE_LEN: usize = 4096;

/// Browsers cap cookie lifetimes at 400 days (RFC 6265bis §5.5).
pub(crate) const MAX_COOKIE_AGE_SECS: u64 = 400 * 86_400;
