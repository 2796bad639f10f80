//! The crate's error type.

use std::fmt;

/// Everything that can go wrong when configuring the layers or using a session.
///
/// Input from the network never produces an `Error`: an invalid, tampered or expired cookie reads
/// as an empty session, and a bad credential becomes a `401` response. `Error` is for the
/// application: a key that is too weak, a layer configured in a way browsers would refuse, a value
/// that cannot be (de)serialised, or a session that would not fit in a cookie.
///
/// # Examples
///
/// A configuration error names the rule it breaks, so a program can match it:
///
/// ```
/// use tower_session_auth::{ConfigError, Error, Key, SessionLayer};
///
/// let result = SessionLayer::builder(Key::generate())
///     .cookie_name("__Host-session")
///     .secure(false)
///     .build();
/// assert!(matches!(result, Err(Error::InvalidConfig(ConfigError::CookiePrefix))));
/// assert_eq!(
///     result.unwrap_err().to_string(),
///     "invalid configuration: a `__Secure-` cookie requires Secure; \
///      a `__Host-` cookie requires Secure, Path=/ and no Domain",
/// );
///
/// assert!(matches!(Key::from_bytes(b"hunter2"), Err(Error::WeakKey { len: 7 })));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A key shorter than 32 bytes, or one whose bytes are all equal (a placeholder).
    WeakKey {
        /// The length of the key that was refused.
        len: usize,
    },
    /// A layer's configuration breaks a rule: it would produce cookies that browsers drop, or
    /// be unsafe. The [`ConfigError`] says which rule.
    InvalidConfig(ConfigError),
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
    /// A registry function was called on a session whose layer has no
    /// [`registry`](crate::SessionLayerBuilder::registry).
    NoRegistry,
    /// A session registry or store did not answer (in time), or could not be set up: a bad
    /// address or setting, or a server that did not answer. Like every
    /// [`RegistryError`](crate::RegistryError), it says which, never what the server said.
    Registry(crate::RegistryError),
    /// The login throttle's counter store did not answer (a network error, a timeout). The
    /// throttle answers `503` with `Retry-After` and hashes no password; the error itself is
    /// logged by its `Display` only, never sent to the client.
    CounterStore(Box<dyn std::error::Error + Send + Sync>),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::WeakKey { len } => write!(
                f,
                "key refused: {len} bytes, at least 32 random bytes are required (use Key::generate)"
            ),
            Error::InvalidConfig(rule) => write!(f, "invalid configuration: {rule}"),
            Error::SessionTooLarge { size, limit } => write!(
                f,
                "session too large for a cookie: {size} bytes, browsers keep at most {limit}"
            ),
            Error::ReservedKey => {
                f.write_str("session keys that begin with `_` are reserved for the crate")
            }
            Error::Serialize(_) => f.write_str("value could not be serialised into the session"),
            Error::Deserialize => f.write_str("session value does not have the requested type"),
            Error::NoRegistry => f.write_str("the session layer has no registry"),
            Error::Registry(e) => e.fmt(f),
            Error::CounterStore(e) => write!(f, "login throttle counter store failed: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Serialize(e) => Some(e),
            Error::Registry(e) => Some(e),
            Error::CounterStore(e) => Some(&**e),
            _ => None,
        }
    }
}

/// Which configuration rule a layer's builder refused, in [`Error::InvalidConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A cookie name that is empty or not an HTTP token (RFC 9110 `token`).
    CookieName,
    /// The session and remember-me cookies have the same name.
    SameCookieNames,
    /// A `Path` that does not start with `/`, or holds `;`, spaces or control characters, or is
    /// longer than 1024 bytes.
    Path,
    /// A `Domain` that is empty, holds `;`, spaces or control characters, or is longer than 1024
    /// bytes.
    Domain,
    /// `SameSite=None` without `Secure`: browsers drop such cookies.
    SameSiteNoneWithoutSecure,
    /// A `__Secure-` name without `Secure`, or a `__Host-` name without `Secure`, with a
    /// `Domain`, or with a `Path` other than `/`: browsers drop such cookies.
    CookiePrefix,
    /// A session cookie named `__Host-…` or `__Secure-…` with a remember-me cookie without the
    /// same prefix, which a sibling subdomain could plant.
    RememberCookiePrefix,
    /// A `Max-Age` over 400 days, the longest browsers keep.
    MaxAge,
    /// An idle or absolute timeout of zero or over 400 days.
    Timeout,
    /// A refresh share outside (0, 1].
    RefreshShare,
    /// A clock-skew leeway over 60 seconds.
    Leeway,
    /// More than 8 keys: each one is tried on every cookie that fails the others.
    TooManyKeys,
    /// A gate with no way to log in: no user loader, Basic or token verifier.
    NoLoginMethod,
    /// A realm with control characters, or longer than 1024 bytes.
    Realm,
    /// A Basic `charset` that is not a token such as `UTF-8`.
    BasicCharset,
    /// A token header without a token verifier.
    TokenHeaderWithoutBearer,
    /// A login URL that is neither a path on this site that `next` could hold (no `//`, `\`,
    /// spaces or control characters) nor an absolute `http(s)` URL of printable ASCII without
    /// `\`; or one with a fragment, with two `next` parameters, or with a `next` that
    /// [`redirect_target`](crate::redirect_target) would not follow.
    LoginUrl,
    /// A gate with an [`Authorize::permission`](crate::Authorize::permission) check and no
    /// [`permission_loader`](crate::AuthLayerBuilder::permission_loader).
    NoPermissionLoader,
    /// A CSRF trusted origin or own origin that is not `http(s)://host[:port]` (no path, not even
    /// `/`, no user info, ASCII only: a browser's `Origin` could never equal it).
    CsrfOrigin,
    /// A CSRF scheme other than `http` or `https`.
    CsrfScheme,
    /// A login throttle budget of zero attempts, or refilled faster than one attempt a second or
    /// slower than one a day.
    Budget,
    /// A trusted proxy that is not an IP address or a network such as `10.0.0.0/8`.
    TrustedProxy,
    /// A known-device cookie lifetime of zero or over 400 days, or a counter store of no entries.
    ThrottleLimit,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigError::CookieName => "cookie names must be HTTP tokens",
            ConfigError::SameCookieNames => "the session and remember cookies need different names",
            ConfigError::Path => {
                "the path must start with `/` and hold no `;`, spaces or control characters"
            }
            ConfigError::Domain => "the domain is empty or holds invalid characters",
            ConfigError::SameSiteNoneWithoutSecure => "SameSite=None requires Secure",
            ConfigError::CookiePrefix => {
                "a `__Secure-` cookie requires Secure; a `__Host-` cookie requires Secure, Path=/ and no Domain"
            }
            ConfigError::RememberCookiePrefix => {
                "the remember-me cookie needs the session cookie's `__Host-` or `__Secure-` prefix"
            }
            ConfigError::MaxAge => "max_age is over 400 days",
            ConfigError::Timeout => "timeouts must be between 1 second and 400 days",
            ConfigError::RefreshShare => "refresh_share must be in (0, 1]",
            ConfigError::Leeway => "leeway is over 60 seconds",
            ConfigError::TooManyKeys => "at most 8 keys, each tried on every cookie",
            ConfigError::NoLoginMethod => {
                "the gate needs a way to log in: call user_loader, basic or bearer"
            }
            ConfigError::Realm => "a realm must be printable text",
            ConfigError::BasicCharset => "the Basic charset must be a token such as UTF-8",
            ConfigError::TokenHeaderWithoutBearer => {
                "token_header needs a token verifier: call bearer"
            }
            ConfigError::NoPermissionLoader => {
                "a permission check needs a permission loader: call permission_loader"
            }
            ConfigError::Budget => {
                "a throttle budget needs at least one attempt, refilled every 1 second to 1 day"
            }
            ConfigError::TrustedProxy => {
                "a trusted proxy must be an IP address or a network such as 10.0.0.0/8"
            }
            ConfigError::ThrottleLimit => {
                "the known-device lifetime must be 1 second to 400 days, and limits at least 1"
            }
            ConfigError::LoginUrl => {
                "login_url must be a path on this site or an absolute http(s) URL of printable ASCII, without `\\`, a fragment or a second `next`"
            }
            ConfigError::CsrfOrigin => "a CSRF origin must be `http(s)://host[:port]`, nothing more",
            ConfigError::CsrfScheme => "the CSRF scheme must be `http` or `https`",
        })
    }
}
