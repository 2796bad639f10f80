//! What the crate needs of an application's users, and how long a login is remembered.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::token::remember::MAX_DAYS;

/// Default lifetime of a remember-me cookie, as Microdot's.
const DEFAULT_REMEMBER_DAYS: u32 = 30;

/// A user the crate can log in: it needs the user's id, and optionally a session auth hash.
///
/// # Examples
///
/// ```
/// use tower_session_auth::AuthUser;
///
/// #[derive(Clone)]
/// struct User {
///     id: String,
///     name: String,
///     password_hash: Vec<u8>,
/// }
///
/// impl AuthUser for User {
///     type Id = String;
///
///     fn id(&self) -> String {
///         self.id.clone()
///     }
///
///     // Changing the password changes this, which ends every session and remember-me cookie
///     // of the user.
///     fn session_auth_hash(&self) -> Option<&[u8]> {
///         Some(&self.password_hash)
///     }
/// }
/// ```
pub trait AuthUser: Clone + Send + Sync + 'static {
    /// The user's id as stored in the session: any serde type, typically a string or an integer.
    /// Microdot stores `user.id` as is.
    type Id: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;

    /// The user's id.
    fn id(&self) -> Self::Id;

    /// Bytes that change whenever the user's credentials do, such as the password hash.
    ///
    /// When `Some`, a keyed HMAC of it is stored at login (never the bytes themselves: the cookie
    /// is readable by its holder) and compared in constant time on every request; a mismatch logs
    /// the user out. A password change thus ends every session and every remember-me cookie of
    /// that user. Logins written by Microdot carry no such hash and are refused for such users.
    fn session_auth_hash(&self) -> Option<&[u8]> {
        None
    }
}

/// How long a login is remembered after the browser session ends: Microdot's `remember`
/// argument. `false` (the default) sets no remember-me cookie; `true` means 30 days.
///
/// # Examples
///
/// ```
/// use tower_session_auth::Remember;
///
/// assert_eq!(Remember::from(true), Remember::days(30));
/// assert_eq!(Remember::from(false), Remember::NO);
/// assert_eq!(Remember::days(1000), Remember::days(400)); // browsers keep nothing longer
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Remember(pub(crate) u32);

impl Remember {
    /// No remember-me cookie.
    pub const NO: Remember = Remember(0);

    /// A remember-me cookie for `days` days, at most 400 (longer values are clamped to 400, the
    /// most browsers keep). Zero means no cookie.
    #[must_use]
    pub const fn days(days: u32) -> Remember {
        Remember(if days > MAX_DAYS { MAX_DAYS } else { days })
    }
}

impl From<bool> for Remember {
    fn from(remember: bool) -> Remember {
        if remember {
            Remember(DEFAULT_REMEMBER_DAYS)
        } else {
            Remember::NO
        }
    }
}
