//! Logging users in and out: Microdot's `login.py` as free functions over a [`SessionDict`].
//!
//! The session keeps `_user_id` (the user's id as JSON) and `_fresh` (`true` after a login with
//! credentials, `false` after one restored from a remember-me cookie), the same keys Microdot
//! uses, so each side sees the other's logins. This crate adds `_id`, a random 128-bit value
//! renewed at every login so the post-login cookie never equals a pre-login one (SECURITY.md
//! SES-01), and `_auth_hash` when the user type provides a session auth hash (SES-07).

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::codec::{self, Rejection};
use crate::session::{RememberUpdate, SessionConfig};
use crate::{Error, SessionDict};

pub(crate) const USER_ID: &str = "_user_id";
pub(crate) const FRESH: &str = "_fresh";
const SESSION_ID: &str = "_id";
const AUTH_HASH: &str = "_auth_hash";
/// Every key a login writes, and so every key a logout removes.
const LOGIN_KEYS: [&str; 4] = [USER_ID, FRESH, SESSION_ID, AUTH_HASH];

/// Default lifetime of a remember-me cookie, as Microdot's.
const DEFAULT_REMEMBER_DAYS: u32 = 30;
/// Browsers keep no cookie longer (RFC 6265bis §5.5).
const MAX_REMEMBER_DAYS: u32 = 400;
const DAY: u64 = 86_400;

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
pub struct Remember(u32);

impl Remember {
    /// No remember-me cookie.
    pub const NO: Remember = Remember(0);

    /// A remember-me cookie for `days` days, at most 400 (longer values are clamped to 400, the
    /// most browsers keep). Zero means no cookie.
    #[must_use]
    pub const fn days(days: u32) -> Remember {
        Remember(if days > MAX_REMEMBER_DAYS {
            MAX_REMEMBER_DAYS
        } else {
            days
        })
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

/// Logs `user` in: the session's next cookie carries their id, marked fresh.
///
/// Call it from your login handler once the credentials have been verified, then redirect with
/// [`redirect_target`](crate::redirect_target). Every crate key (`_…`) the session held before is
/// dropped, so nothing planted in a pre-login session survives, and a new random session id makes
/// the new cookie unlike any earlier one (SECURITY.md SES-01). Application keys stay.
///
/// With `remember`, a `_remember` cookie in Microdot's format (`{"user_id", "days", "exp"}`,
/// `Max-Age = days * 86400`, the session cookie's attributes) lets the login outlive the browser
/// session; without it, any remember-me cookie of an earlier login is deleted.
///
/// # Errors
///
/// [`Error::Serialize`] if the user's id cannot be serialised, [`Error::SessionTooLarge`] if the
/// session would no longer fit in a cookie. The session is unchanged on error.
///
/// # Examples
///
/// ```
/// # #[derive(Clone)] struct User { id: u64 }
/// # impl tower_session_auth::AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
/// use tower_session_auth::{login_user, SessionDict};
///
/// fn on_valid_credentials(session: &SessionDict, user: &User, remember_me: bool) {
///     login_user(session, user, remember_me).expect("a small session");
/// }
/// ```
pub fn login_user<U: AuthUser>(
    session: &SessionDict,
    user: &U,
    remember: impl Into<Remember>,
) -> Result<(), Error> {
    let id = serde_json::to_value(user.id()).map_err(Error::Serialize)?;
    let config = session.config();
    let auth_hash = user
        .session_auth_hash()
        .map(|hash| auth_hash_tag(config, hash));
    session.replace(login_map(session, id.clone(), true, auth_hash.clone()))?;
    let Remember(days) = remember.into();
    if days > 0 {
        session.set_remember(remember_cookie(config, id, days, auth_hash));
    } else if !session.remember_candidates().is_empty() {
        session.set_remember(RememberUpdate::Delete);
    }
    tracing::info!(remember_days = days, "user logged in");
    Ok(())
}

/// Logs the current user out: removes the login keys from the session (other data stays) and
/// deletes the remember-me cookie, with the scope it was set with.
///
/// A copy of the previous session cookie stays valid until it expires, as with any signed cookie;
/// give users a session auth hash (see [`AuthUser::session_auth_hash`]) to revoke logins.
pub fn logout_user(session: &SessionDict) {
    for key in LOGIN_KEYS {
        session.remove_value(key);
    }
    if !session.remember_candidates().is_empty() || session.has_pending_remember() {
        session.set_remember(RememberUpdate::Delete);
    }
    tracing::info!("user logged out");
}

/// Re-issues the session after a privilege change, such as a new role: a new random session id,
/// and the absolute timeout counts from now, as at a login (SECURITY.md SES-02). The login and
/// the application's data stay.
///
/// After changing a user's password, call [`login_user`] again with the updated user instead:
/// their session auth hash changed, so this session would otherwise end with all the others.
///
/// # Errors
///
/// [`Error::SessionTooLarge`] if the session would no longer fit in a cookie.
pub fn renew_session(session: &SessionDict) -> Result<(), Error> {
    let mut map = session.snapshot();
    map.insert(SESSION_ID.into(), Value::String(random_id()));
    session.replace(map)?;
    tracing::info!("session renewed");
    Ok(())
}

/// The id of the logged-in user, or `None`.
///
/// It comes from the session's `_user_id`; failing that, from a valid remember-me cookie, in
/// which case the login is restored into the session marked not fresh and the remember-me cookie
/// is renewed for its full duration. An invalid remember-me cookie (expired, tampered, signed with
/// another key, or not shaped like one: a session cookie is never accepted in its place) is
/// ignored and deleted.
///
/// This is not a gate: the id is not checked against your user store and the session auth hash
/// is not compared. Protect routes with [`AuthLayer`](crate::AuthLayer), which does both, and
/// read the user there as [`CurrentUser`](crate::CurrentUser).
#[must_use]
pub fn current_user_id<I: DeserializeOwned>(session: &SessionDict) -> Option<I> {
    match session.get::<I>(USER_ID) {
        Ok(Some(id)) => Some(id),
        Ok(None) => restore_from_remember(session).and_then(id_from),
        Err(_) => {
            tracing::debug!("session user id has another type than the user's id");
            None
        }
    }
}

/// Whether the current login was made with credentials in this browser session rather than
/// restored from a remember-me cookie.
#[must_use]
pub fn is_fresh(session: &SessionDict) -> bool {
    session.contains_key(USER_ID) && session.get::<bool>(FRESH).ok().flatten() == Some(true)
}

fn id_from<I: DeserializeOwned>(id: Value) -> Option<I> {
    match serde_json::from_value(id) {
        Ok(id) => Some(id),
        Err(_) => {
            tracing::debug!("session user id has another type than the user's id");
            None
        }
    }
}

/// Checks the session's stored auth-hash tag against the user's current hash, in constant time
/// (`ring::hmac::verify`). A session without a tag never matches.
pub(crate) fn auth_hash_matches(session: &SessionDict, hash: &[u8]) -> bool {
    let Some(tag) = session.get::<String>(AUTH_HASH).ok().flatten() else {
        return false;
    };
    let config = session.config();
    // A tag and hash that verified before need no second HMAC (one per request otherwise).
    let pair = [tag.as_bytes(), b"\0", hash].concat();
    if config.auth_hashes.get(&pair).is_some() {
        return true;
    }
    let Ok(raw) = URL_SAFE_NO_PAD.decode(&tag) else {
        return false;
    };
    let ok = config
        .keys
        .iter()
        .any(|key| hmac::verify(key.auth_hash_key(), hash, &raw).is_ok());
    if ok {
        config.auth_hashes.insert(&pair, std::sync::Arc::new(()));
    }
    ok
}

/// The session of a new login: the application's keys of `session`, and fresh login keys. Every
/// crate key the session held before is dropped, so nothing planted in a pre-login session
/// survives, and the random session id is new (SECURITY.md SES-01).
fn login_map(
    session: &SessionDict,
    user_id: Value,
    fresh: bool,
    auth_hash: Option<String>,
) -> Map<String, Value> {
    let mut map: Map<String, Value> = session
        .snapshot()
        .into_iter()
        .filter(|(k, _)| !k.starts_with('_'))
        .collect();
    map.insert(USER_ID.into(), user_id);
    map.insert(FRESH.into(), Value::Bool(fresh));
    map.insert(SESSION_ID.into(), Value::String(random_id()));
    if let Some(tag) = auth_hash {
        map.insert(AUTH_HASH.into(), Value::String(tag));
    }
    map
}

fn auth_hash_tag(config: &SessionConfig, hash: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(hmac::sign(config.keys[0].auth_hash_key(), hash).as_ref())
}

fn random_id() -> String {
    let mut id = [0u8; 16];
    // Without an OS random source no key could have been generated either; an all-zero id then
    // only loses the cookie's uniqueness, not its integrity.
    let _ = SystemRandom::new().fill(&mut id);
    URL_SAFE_NO_PAD.encode(id)
}

fn remember_cookie(
    config: &SessionConfig,
    user_id: Value,
    days: u32,
    auth_hash: Option<String>,
) -> RememberUpdate {
    let max_age = u64::from(days) * DAY;
    let mut payload = Map::new();
    payload.insert("user_id".into(), user_id);
    payload.insert("days".into(), days.into());
    payload.insert("exp".into(), (config.now() + max_age).into());
    if let Some(tag) = auth_hash {
        payload.insert("auth_hash".into(), tag.into());
    }
    RememberUpdate::Set {
        value: codec::encode(&payload, &config.keys[0]),
        max_age,
    }
}

/// A verified remember-me token.
struct RememberToken {
    user_id: Value,
    days: u32,
    auth_hash: Option<String>,
}

impl fmt::Debug for RememberToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RememberToken")
            .field("days", &self.days)
            .finish_non_exhaustive()
    }
}

fn restore_from_remember(session: &SessionDict) -> Option<Value> {
    let candidates = session.remember_candidates();
    if candidates.is_empty() || candidates.len() > crate::cookie_header::MAX_CANDIDATES {
        return None;
    }
    let config = session.config();
    let mut found: Option<RememberToken> = None;
    for candidate in candidates {
        match decode_remember(candidate, config) {
            Ok(token) => match &found {
                Some(seen) if seen.user_id != token.user_id => {
                    found = None;
                    break;
                }
                Some(_) => {}
                None => found = Some(token),
            },
            Err(rejection) => {
                tracing::debug!(reason = rejection.class(), "remember-me cookie rejected");
            }
        }
    }
    let Some(token) = found else {
        // SECURITY.md REM-05: ignored, and deleted when it was the only one (with several, a
        // removal could only hit this host's cookie and leave a tossed one in place).
        if candidates.len() == 1 {
            session.set_remember(RememberUpdate::Delete);
        }
        return None;
    };
    let map = login_map(
        session,
        token.user_id.clone(),
        false,
        token.auth_hash.clone(),
    );
    if session.replace(map).is_err() {
        return None;
    }
    session.set_remember(remember_cookie(
        config,
        token.user_id.clone(),
        token.days,
        token.auth_hash,
    ));
    tracing::info!("login restored from a remember-me cookie");
    Some(token.user_id)
}

/// The members a remember-me token may have: Microdot's three and this crate's `auth_hash`.
const REMEMBER_MEMBERS: [&str; 4] = ["user_id", "days", "exp", "auth_hash"];

/// Whether a payload has the shape of a remember-me token: `user_id`, `days` and `exp`, and
/// nothing but [`REMEMBER_MEMBERS`]. Such a payload is never accepted as a session.
pub(crate) fn is_remember_shaped(map: &Map<String, Value>) -> bool {
    ["user_id", "days", "exp"]
        .iter()
        .all(|k| map.contains_key(*k))
        && map.keys().all(|k| REMEMBER_MEMBERS.contains(&k.as_str()))
}

/// Verifies a remember-me token and checks its shape strictly (SECURITY.md JWT-10): exactly
/// `user_id` (a non-empty string or an integer), `days` (1 to 400), `exp` (a number, required and
/// in the future), and this crate's optional `auth_hash`. A session cookie, whatever it holds, has
/// other members and is refused.
fn decode_remember(token: &str, config: &SessionConfig) -> Result<RememberToken, Rejection> {
    let mut payload = codec::verify(token, &config.keys)?.payload()?;
    // The shape requires `exp`, so the time check below always enforces it.
    if !is_remember_shaped(&payload) {
        return Err(Rejection::BadPayload);
    }
    codec::check_time_claims(&payload, config.now(), config.leeway)?;
    let user_id = payload.remove("user_id").ok_or(Rejection::BadPayload)?;
    let id_ok = match &user_id {
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => n.is_i64() || n.is_u64(),
        _ => false,
    };
    let days = payload
        .get("days")
        .and_then(Value::as_u64)
        .filter(|d| (1..=u64::from(MAX_REMEMBER_DAYS)).contains(d))
        .ok_or(Rejection::BadPayload)?;
    let auth_hash = match payload.remove("auth_hash") {
        None => None,
        Some(Value::String(tag)) => Some(tag),
        Some(_) => return Err(Rejection::BadPayload),
    };
    if !id_ok {
        return Err(Rejection::BadPayload);
    }
    Ok(RememberToken {
        user_id,
        days: days as u32,
        auth_hash,
    })
}
