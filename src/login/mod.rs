//! Logging users in and out: Microdot's `login.py` as free functions over a [`SessionDict`].
//!
//! The session keeps `_user_id` (the user's id as JSON) and `_fresh` (`true` after a login with
//! credentials, `false` after one restored from a remember-me cookie), the same keys Microdot
//! uses, so each side sees the other's logins. This crate adds `_id`, a random 128-bit value
//! renewed at every login so the post-login cookie never equals a pre-login one (SECURITY.md
//! SES-01), `_auth_hash` when the user type provides a session auth hash (SES-07), and
//! `_auth_time`, when the user last typed their credentials (for step-up; see `auth_time`).

mod auth_hash;
mod auth_time;
mod remember;
mod tracking;
mod user;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub(crate) use auth_hash::matches as auth_hash_matches;
pub(crate) use auth_time::within as fresh_within;
pub(crate) use tracking::tracker;
pub use tracking::{
    list_sessions, revoke_other_sessions, revoke_session, update_session_auth_hash, SessionInfo,
};
pub use user::{AuthUser, Remember};

use crate::session::RememberUpdate;
use crate::token::remember::RememberToken;
use crate::{Error, SessionDict};

pub(crate) const USER_ID: &str = "_user_id";
pub(crate) const FRESH: &str = "_fresh";
const SESSION_ID: &str = "_id";
const AUTH_HASH: &str = "_auth_hash";
/// Every key a login writes, and so every key a logout removes.
const LOGIN_KEYS: [&str; 6] = [
    USER_ID,
    FRESH,
    SESSION_ID,
    AUTH_HASH,
    auth_time::AUTH_TIME,
    tracking::SID,
];
/// The session's CSRF seed (see `csrf/`): a login drops it with every crate key, a logout too, so
/// no CSRF token outlives the login it was made for.
pub(crate) const CSRF_SEED: &str = "_csrf";

/// Logs `user` in: the session's next cookie carries their id, marked fresh.
///
/// Call it from your login handler once the credentials have been verified, then redirect with
/// [`redirect_target`](crate::redirect_target). A new random session id makes the new cookie unlike
/// any earlier one (SECURITY.md SES-01), and the session starts empty unless the same user was
/// already logged in (a re-authentication, which keeps the application's data so that other open
/// tabs go on working): nothing planted in a pre-login session, and nothing the browser's previous
/// user left, survives a login. To carry anonymous data (a shopping cart) into the login, read it
/// before calling `login_user` and insert it again after.
///
/// With `remember`, a `_remember` cookie in Microdot's format (`{"user_id", "days", "exp"}`, and
/// this crate's `auth_time`, `Max-Age = days * 86400`, the session cookie's attributes) lets the
/// login outlive the browser session, for `days` from this login however often it is used;
/// without it, any remember-me cookie of an earlier login is deleted.
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
    let auth_hash = user
        .session_auth_hash()
        .map(|hash| auth_hash::tag(session.key_set(), hash));
    session.replace(login_map(session, id.clone(), true, auth_hash.clone()))?;
    let Remember(days) = remember.into();
    if days > 0 {
        session.set_remember(RememberUpdate::Set(RememberToken {
            user_id: id,
            days,
            auth_hash,
            auth_time: session.now(),
            rid: None,
        }));
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
///
/// # Examples
///
/// ```
/// use tower_session_auth::{logout_user, SessionDict};
///
/// // A handler for `POST /logout` (protect it against cross-site requests).
/// fn logout(session: &SessionDict) -> &'static str {
///     logout_user(session);
///     "/" // where to redirect with `303 See Other`
/// }
/// ```
pub fn logout_user(session: &SessionDict) {
    for key in LOGIN_KEYS.into_iter().chain([CSRF_SEED]) {
        session.remove_value(key);
    }
    if !session.remember_candidates().is_empty() || session.has_pending_remember() {
        session.set_remember(RememberUpdate::Delete);
    }
    tracing::info!("user logged out");
}

/// Ends a login the gate refused (an unknown user, a changed auth hash): the login keys go, and
/// the remember-me cookie too when it is this login's (restored in this request, or a valid token
/// of the same user). A remember-me cookie of another user stays: the refused session may have
/// been tossed from a sibling subdomain, and must not delete the victim's own remember-me cookie.
pub(crate) fn end_refused_login(session: &SessionDict) {
    // With a registry, the refused login's entries stay as they are: a session the gate refuses
    // may have been forged by a key holder with another user's tag, and must not log the real
    // device out. Its entries expire, and the gate refuses the login each time it comes back.
    session.with_tracked(|tracked| tracked.login = None);
    let user_id = session.get::<Value>(USER_ID).ok().flatten();
    for key in LOGIN_KEYS {
        session.remove_value(key);
    }
    let ours = session.has_pending_remember()
        || remember::sent_for(session)
            .is_some_and(|token_user| Some(&token_user) == user_id.as_ref());
    if ours {
        session.set_remember(RememberUpdate::Delete);
    }
    tracing::info!("refused login ended");
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
    // With a registry, the renewed session gets a new registry id too.
    map.remove(tracking::SID);
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
        Ok(None) => remember::restore(session).and_then(id_from),
        Err(_) => {
            tracing::debug!("session user id has another type than the user's id");
            None
        }
    }
}

/// Whether the current login was made with credentials in this browser session rather than
/// restored from a remember-me cookie.
///
/// To require a fresh login on a route, prefer a gate with
/// [`AuthLayerBuilder::fresh`](crate::AuthLayerBuilder::fresh); this function is for pages that
/// only show or hide something.
///
/// # Examples
///
/// ```
/// use tower_session_auth::{is_fresh, SessionDict};
///
/// fn account_page(session: &SessionDict) -> String {
///     if is_fresh(session) {
///         "Change your password below.".into()
///     } else {
///         "Log in again with your password to change it.".into()
///     }
/// }
/// ```
#[must_use]
pub fn is_fresh(session: &SessionDict) -> bool {
    session.contains_key(USER_ID) && session.get::<bool>(FRESH).ok().flatten() == Some(true)
}

/// Whether the logged-in user typed their credentials (a [`login_user`] call) at most `max_age`
/// ago, by the session layer's clock: the test of
/// [`AuthLayerBuilder::fresh_within`](crate::AuthLayerBuilder::fresh_within), for pages that only
/// show or hide something. Never true for a login restored from a remember-me cookie, nor for
/// another user's login time.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tower_session_auth::{is_fresh_within, SessionDict};
///
/// fn delete_account_button(session: &SessionDict) -> &'static str {
///     if is_fresh_within(session, Duration::from_secs(300)) {
///         "<button>Delete my account</button>"
///     } else {
///         "<a href=\"/login?next=%2Faccount\">Log in again to delete your account</a>"
///     }
/// }
/// ```
#[must_use]
pub fn is_fresh_within(session: &SessionDict, max_age: std::time::Duration) -> bool {
    auth_time::within(session, max_age.as_secs())
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

/// The session of a new login: the application's keys of `session`, and fresh login keys. Every
/// crate key the session held before is dropped, so nothing planted in a pre-login session
/// survives, and the random session id is new (SECURITY.md SES-01).
fn login_map(
    session: &SessionDict,
    user_id: Value,
    fresh: bool,
    auth_hash: Option<String>,
) -> Map<String, Value> {
    // Only the same user keeps the application's data: anything else in the session was planted
    // before the login (a tossed cookie) or left by the browser's previous user.
    let same_user = session.get::<Value>(USER_ID).ok().flatten().as_ref() == Some(&user_id);
    let mut map: Map<String, Value> = if same_user {
        session
            .snapshot()
            .into_iter()
            .filter(|(k, _)| !k.starts_with('_'))
            .collect()
    } else {
        Map::new()
    };
    if fresh {
        map.insert(
            auth_time::AUTH_TIME.into(),
            auth_time::stamp(&user_id, session.now()),
        );
    }
    map.insert(USER_ID.into(), user_id);
    map.insert(FRESH.into(), Value::Bool(fresh));
    map.insert(SESSION_ID.into(), Value::String(random_id()));
    if let Some(tag) = auth_hash {
        map.insert(AUTH_HASH.into(), Value::String(tag));
    }
    map
}

fn random_id() -> String {
    crate::secret::random_id()
}
