//! When the logged-in user last typed their credentials: the session's `_auth_time`, written by
//! every login with credentials and bound to the user's id, for step-up checks
//! ([`AuthLayerBuilder::fresh_within`](crate::AuthLayerBuilder::fresh_within)).
//!
//! The value is `{"user_id": <the id>, "time": <seconds since the epoch>}`. A login restored from
//! a remember-me cookie never writes it; a login written by Microdot (which knows nothing of this
//! key) leaves an earlier one in place, but bound to the earlier user's id: it counts only while
//! `_user_id` is that same user.

use serde_json::{json, Value};

use super::{is_fresh, USER_ID};
use crate::SessionDict;

pub(crate) const AUTH_TIME: &str = "_auth_time";

/// The value a login with credentials of `user_id` at `now` writes under [`AUTH_TIME`].
pub(crate) fn stamp(user_id: &Value, now: u64) -> Value {
    json!({ "user_id": user_id, "time": now })
}

/// When the logged-in user last logged in with credentials, if the session says so for this
/// very user: `None` for a remembered login, for no login, and for a stamp of another user.
pub(crate) fn last_credentials_login(session: &SessionDict) -> Option<u64> {
    if !is_fresh(session) {
        return None;
    }
    let user_id = session.get::<Value>(USER_ID).ok().flatten()?;
    let stamp = session.get::<Value>(AUTH_TIME).ok().flatten()?;
    if stamp.get("user_id") != Some(&user_id) {
        return None;
    }
    stamp.get("time")?.as_u64()
}

/// Whether the logged-in user typed their credentials at most `max_age` seconds ago (by the
/// session layer's clock). A stamp from the future (a clock set back) counts as now.
pub(crate) fn within(session: &SessionDict, max_age: u64) -> bool {
    last_credentials_login(session)
        .is_some_and(|t| session.clock_now().saturating_sub(t) <= max_age)
}
