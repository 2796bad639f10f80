//! The token formats, below both the session and the login code: the signed JWS (Microdot's
//! format), the private AEAD format, the session's time claims, and the remember-me payload.
//!
//! Nothing here knows about requests, cookies' attributes or the session handle: each format turns
//! a payload into a cookie value and back, and says why a value was refused.

pub(crate) mod aead;
pub(crate) mod claims;
mod compact;
pub(crate) mod jws;
pub(crate) mod members;
mod raw;
pub(crate) mod remember;
pub(crate) mod session;

/// Browsers keep at most 4096 bytes of name and value; no valid token is longer.
pub(crate) const MAX_TOKEN_LEN: usize = 4096;

/// Why a token was refused. Only the class is ever logged, never the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// Longer than any cookie a browser would send.
    TooLong,
    /// Not three base64url segments, or a signature that is not 32 bytes.
    Malformed,
    /// The MAC did not verify under any configured key.
    BadSignature,
    /// The MAC verified but the header is not a JSON object with `alg` exactly `HS256`, or it
    /// names a critical extension or an embedded key.
    BadHeader,
    /// The MAC verified but the payload is not a JSON object.
    BadPayload,
    /// The session's MAC (or AEAD tag) verified, so a holder of the key wrote it, but this layer
    /// cannot use it: JSON beyond what it reads (`NaN`, a lone surrogate, nesting over 128), or
    /// no time anchors while claimless sessions are refused. It reads as no session and is left
    /// in place, never deleted: it may be a Microdot service's.
    Unusable,
    /// A time claim is not a number in range.
    BadClaims,
    /// `exp` has passed.
    Expired,
    /// `nbf` or `iat` is in the future. Its MAC verified: a key holder wrote it by a clock ahead
    /// of this layer's (another server's, or this one's while its own reads a second slow; see
    /// [`SystemClock`](crate::SystemClock)), so it reads as no session for now and is left in
    /// place, never deleted: the next request may find it valid.
    NotYetValid,
}

impl Rejection {
    /// Whether a key holder wrote the cookie, which is refused only for what this layer can do
    /// with it now: it is then never deleted.
    pub(crate) fn is_authentic(self) -> bool {
        matches!(self, Rejection::Unusable | Rejection::NotYetValid)
    }

    /// A short name for logs.
    pub(crate) fn class(self) -> &'static str {
        match self {
            Rejection::TooLong => "too_long",
            Rejection::Malformed => "malformed",
            Rejection::BadSignature => "bad_signature",
            Rejection::BadHeader => "bad_header",
            Rejection::BadPayload => "bad_payload",
            Rejection::Unusable => "unusable",
            Rejection::BadClaims => "bad_claims",
            Rejection::Expired => "expired",
            Rejection::NotYetValid => "not_yet_valid",
        }
    }
}
