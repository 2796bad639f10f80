//! Remember-me: scheduling the `_remember` cookie at login, and restoring a login from it.

use serde_json::Value;

use super::login_map;
use crate::cookie::choose::{choose, Choice};
use crate::session::RememberUpdate;
use crate::token::remember::RememberToken;
use crate::SessionDict;

/// The remember-me cookie for `token`, valid for its `days` from now, under the current key.
pub(crate) fn cookie(session: &SessionDict, token: &RememberToken) -> RememberUpdate {
    RememberUpdate::Set {
        value: token.seal(session.key_set(), session.now()),
        max_age: token.max_age(),
    }
}

/// Restores a login from the request's remember-me cookie into the session, marked not fresh,
/// and renews the cookie for its full duration; returns the user's id.
///
/// Exactly one distinct valid token is used (SECURITY.md IN-02). One that is invalid is ignored,
/// and deleted when it was the only one sent (REM-05).
pub(crate) fn restore(session: &SessionDict) -> Option<Value> {
    let candidates = session.remember_candidates();
    if candidates.is_empty() {
        return None;
    }
    let (now, leeway) = (session.now(), session.leeway());
    let open = |token: &str| RememberToken::open(token, session.key_set(), now, leeway);
    let token = match choose("remember-me", candidates, open, |a, b| {
        a.user_id == b.user_id
    }) {
        Choice::One(token) => token,
        Choice::None { delete } => {
            if delete {
                session.set_remember(RememberUpdate::Delete);
            }
            return None;
        }
        Choice::Conflict | Choice::TooMany => return None,
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
    session.set_remember(cookie(session, &token));
    tracing::info!("login restored from a remember-me cookie");
    Some(token.user_id)
}
