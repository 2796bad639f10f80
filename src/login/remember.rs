//! Remember-me: restoring a login from the `_remember` cookie, and re-issuing the cookie.

use serde_json::Value;

use super::login_map;
use crate::cookie::choose::{choose, Choice};
use crate::session::RememberUpdate;
use crate::token::remember::RememberToken;
use crate::SessionDict;

/// The request's one valid remember-me token, with the index of the key that verified it.
/// Exactly one distinct valid token is used (SECURITY.md IN-02); one that is invalid is deleted
/// when it was the only one sent (REM-05).
pub(crate) fn sent(session: &SessionDict) -> Option<(RememberToken, usize)> {
    sent_with_value(session).map(|(token, key_index, _)| (token, key_index))
}

/// [`sent`], with the cookie's value.
pub(crate) fn sent_with_value(session: &SessionDict) -> Option<(RememberToken, usize, String)> {
    let candidates = session.remember_candidates();
    if candidates.is_empty() {
        return None;
    }
    let (now, leeway) = (session.now(), session.leeway());
    let open = |token: &str| {
        RememberToken::open(token, session.key_set(), now, leeway)
            .map(|(opened, key_index)| (opened, key_index, token.to_owned()))
    };
    match choose("remember-me", candidates, open, |a, b| {
        a.0.user_id == b.0.user_id
    }) {
        Choice::One(found) => Some(found),
        Choice::None { delete, .. } => {
            if delete {
                session.set_remember(RememberUpdate::Delete);
            }
            None
        }
        Choice::Conflict | Choice::TooMany => None,
    }
}

/// The user id of the request's one valid remember-me token, if any.
pub(crate) fn sent_for(session: &SessionDict) -> Option<Value> {
    sent(session).map(|(token, _)| token.user_id)
}

/// Restores a login from the request's remember-me cookie into the session, marked not fresh,
/// and re-issues the cookie under the current key (for no longer than it had left); returns the
/// user's id.
///
/// With a session registry, the login is restored before the inner service is called, once the
/// registry has accepted and rotated the token (see `tracking`), and never here.
pub(crate) fn restore(session: &SessionDict) -> Option<Value> {
    if session.registry().is_some() {
        return None;
    }
    let (token, _) = sent(session)?;
    restore_token(session, token)
}

/// Restores the login of `token` into the session, marked not fresh, and schedules `token` as
/// the response's remember-me cookie; returns the user's id.
pub(crate) fn restore_token(session: &SessionDict, token: RememberToken) -> Option<Value> {
    let map = login_map(
        session,
        token.user_id.clone(),
        false,
        token.auth_hash.clone(),
    );
    if session.replace(map).is_err() {
        return None;
    }
    let user_id = token.user_id.clone();
    session.set_remember(RememberUpdate::Set(token));
    tracing::info!("login restored from a remember-me cookie");
    Some(user_id)
}

/// Gives the remember-me cookie of `user_id` the auth-hash tag `tag`: the one scheduled in this
/// request, or else the one the request carries, re-issued under the current key. For a key
/// rotation, and for adopting an untagged login: a tag made under a key about to be retired would
/// log the user out once it is.
///
/// Only a token that `still_valid` accepts is re-tagged: one whose own tag verifies against the
/// user's current hash (or, when adopting, that has none). A token revoked by a changed hash is
/// never brought back by a session that is still valid.
pub(crate) fn retag(
    session: &SessionDict,
    user_id: &Value,
    tag: &str,
    still_valid: impl Fn(Option<&str>) -> bool,
) {
    let belongs = |token: &RememberToken| {
        &token.user_id == user_id && still_valid(token.auth_hash.as_deref())
    };
    if session.has_pending_remember() {
        session.update_pending_remember(|token| {
            if belongs(token) {
                token.auth_hash = Some(tag.to_owned());
            }
        });
        return;
    }
    if let Some((mut token, _)) = sent(session).filter(|(t, _)| belongs(t)) {
        token.auth_hash = Some(tag.to_owned());
        session.set_remember(RememberUpdate::Set(token));
    }
}
