//! The crate's error type.

use std::fmt;

/// Everything that can go wrong when configuring the layers or using a session.
///
/// Input from the network never produces an `Error`: an invalid, tampered or expired cookie reads
/// as an empty session, and a bad credential becomes a `401` response. `Error` is for the
/// application: a key that is too weak, a layer configured in a way browsers would refuse, a value
/// that cannot be (de)serialised, or a session that would not fit in a cookie.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A key shorter than 32 bytes, or one whose bytes are all equal (a placeholder).
    WeakKey {
        /// The length of the key that was refused.
        len: usize,
    },
    /// The layer's configuration would produce cookies that browsers drop or that are unsafe.
    InvalidConfig(&'static str),
    /// The session cookie would be longer than browsers keep (4096 bytes for name and value).
    ///
    /// The session is left as it was before the call that failed.
    SessionTooLarge {
        /// The length of the cookie name and value that the change would have produced.
        size: usize,
        /// The largest length a browser keeps.
        limit: usize,
    },
    /// Keys that begin with `_` belong to the crate (`_user_id`, `_fresh`, …), and `exp`, `nbf`
    /// and `iat` are its time claims; use the login functions to change the login keys.
    ReservedKey,
    /// A value could not be serialised into the session.
    Serialize(serde_json::Error),
    /// A stored value does not have the type that was asked for. The underlying error is not
    /// kept: it would quote the stored value, which may be a secret.
    Deserialize,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::WeakKey { len } => write!(
                f,
                "key refused: {len} bytes, at least 32 random bytes are required (use Key::generate)"
            ),
            Error::InvalidConfig(why) => write!(f, "invalid configuration: {why}"),
            Error::SessionTooLarge { size, limit } => write!(
                f,
                "session too large for a cookie: {size} bytes, browsers keep at most {limit}"
            ),
            Error::ReservedKey => {
                f.write_str("session keys that begin with `_` are reserved for the crate")
            }
            Error::Serialize(_) => f.write_str("value could not be serialised into the session"),
            Error::Deserialize => f.write_str("session value does not have the requested type"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Serialize(e) => Some(e),
            _ => None,
        }
    }
}
