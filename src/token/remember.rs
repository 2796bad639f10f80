//! The remember-me token: Microdot's `{"user_id", "days", "exp"}`, signed like a session (a
//! compact JWS), with this crate's optional `auth_hash` tag.
//!
//! A remember-me token and a session token are told apart by shape, strictly, in both directions
//! (SECURITY.md JWT-10): a session cookie presented as a remember-me cookie logs nobody in, and a
//! remember-me token presented as a session reads as no session.

use std::fmt;

use serde_json::{Map, Value};

use super::{claims, jws, Rejection};
use crate::key::KeySet;

/// Browsers keep no cookie longer than 400 days (RFC 6265bis §5.5).
pub(crate) const MAX_DAYS: u32 = 400;
const DAY: u64 = 86_400;

/// The members a remember-me token may have: Microdot's three and this crate's `auth_hash`.
const MEMBERS: [&str; 4] = ["user_id", "days", "exp", "auth_hash"];

/// A verified remember-me token, or one about to be signed.
pub(crate) struct RememberToken {
    pub(crate) user_id: Value,
    /// 1 to [`MAX_DAYS`].
    pub(crate) days: u32,
    /// The tag of the user's session auth hash, when the user has one.
    pub(crate) auth_hash: Option<String>,
}

impl fmt::Debug for RememberToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RememberToken")
            .field("days", &self.days)
            .finish_non_exhaustive()
    }
}

impl RememberToken {
    /// How long the cookie lives, in seconds: `days` whole days.
    pub(crate) fn max_age(&self) -> u64 {
        u64::from(self.days) * DAY
    }

    /// The signed token, valid for `days` from `now`, under the current key.
    pub(crate) fn seal(&self, keys: &KeySet, now: u64) -> String {
        let mut payload = Map::new();
        payload.insert("user_id".into(), self.user_id.clone());
        payload.insert("days".into(), self.days.into());
        payload.insert("exp".into(), (now + self.max_age()).into());
        if let Some(tag) = &self.auth_hash {
            payload.insert("auth_hash".into(), tag.clone().into());
        }
        jws::encode(&payload, keys.current())
    }

    /// Verifies a remember-me token and checks its shape strictly (SECURITY.md JWT-10): exactly
    /// `user_id` (a non-empty string or an integer), `days` (1 to 400), `exp` (a number, required
    /// and in the future), and this crate's optional `auth_hash`. A session cookie, whatever it
    /// holds, has other members and is refused.
    pub(crate) fn open(
        token: &str,
        keys: &KeySet,
        now: u64,
        leeway: u64,
    ) -> Result<RememberToken, Rejection> {
        let mut payload = jws::verify(token, keys.all())?.payload()?;
        // The shape requires `exp`, so the time check below always enforces it.
        if !is_remember_shaped(&payload) {
            return Err(Rejection::BadPayload);
        }
        claims::check_time_claims(&payload, now, leeway)?;
        let user_id = payload.remove("user_id").ok_or(Rejection::BadPayload)?;
        let id_ok = match &user_id {
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.is_i64() || n.is_u64(),
            _ => false,
        };
        let days = payload
            .get("days")
            .and_then(Value::as_u64)
            .filter(|d| (1..=u64::from(MAX_DAYS)).contains(d))
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
}

/// Whether a payload has the shape of a remember-me token: `user_id`, `days` and `exp`, and
/// nothing but the remember-me members. Such a payload is never accepted as a session.
pub(crate) fn is_remember_shaped(map: &Map<String, Value>) -> bool {
    ["user_id", "days", "exp"]
        .iter()
        .all(|k| map.contains_key(*k))
        && map.keys().all(|k| MEMBERS.contains(&k.as_str()))
}
