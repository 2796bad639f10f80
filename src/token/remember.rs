//! The remember-me token: Microdot's `{"user_id", "days", "exp"}`, signed like a session (a
//! compact JWS), with this crate's optional `auth_hash` tag.
//!
//! A restored login never outlives the login it came from: the token carries `auth_time` (OpenID
//! Connect's name for when the user last typed their password), and it is valid until the earlier
//! of `exp` and `auth_time + days`. Re-issuing it keeps `auth_time`, so a copy replayed again and
//! again expires `days` after the login all the same. Microdot ignores the member; a token
//! without it (Microdot writes none) counts from `exp - days`, the time Microdot issued it.
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

/// The members a remember-me token may have: Microdot's three and this crate's `auth_hash`,
/// `auth_time` and `rid` (the token's id in a session registry).
const MEMBERS: [&str; 6] = ["user_id", "days", "exp", "auth_hash", "auth_time", "rid"];

/// The longest registry id a token may carry.
const MAX_RID_LEN: usize = 128;

/// A verified remember-me token, or one about to be signed.
#[derive(Clone)]
pub(crate) struct RememberToken {
    pub(crate) user_id: Value,
    /// 1 to [`MAX_DAYS`].
    pub(crate) days: u32,
    /// The tag of the user's session auth hash, when the user has one.
    pub(crate) auth_hash: Option<String>,
    /// When the user logged in with their password; the token ends `days` after it.
    pub(crate) auth_time: u64,
    /// The token's secret id in the session registry, when logins are tracked.
    pub(crate) rid: Option<String>,
}

impl fmt::Debug for RememberToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RememberToken")
            .field("days", &self.days)
            .finish_non_exhaustive()
    }
}

impl RememberToken {
    /// When the token ends: `days` after the login.
    pub(crate) fn expires_at(&self) -> u64 {
        self.auth_time.saturating_add(u64::from(self.days) * DAY)
    }

    /// How long the cookie has left to live at `now`, in seconds.
    pub(crate) fn max_age(&self, now: u64) -> u64 {
        self.expires_at().saturating_sub(now)
    }

    /// The signed token under the current key, ending at [`expires_at`](Self::expires_at).
    pub(crate) fn seal(&self, keys: &KeySet) -> String {
        let mut payload = Map::new();
        payload.insert("user_id".into(), self.user_id.clone());
        payload.insert("days".into(), self.days.into());
        payload.insert("exp".into(), self.expires_at().into());
        payload.insert("auth_time".into(), self.auth_time.into());
        if let Some(tag) = &self.auth_hash {
            payload.insert("auth_hash".into(), tag.clone().into());
        }
        if let Some(rid) = &self.rid {
            payload.insert("rid".into(), rid.clone().into());
        }
        jws::encode(&payload, keys.current())
    }

    /// Verifies a remember-me token and checks its shape strictly (SECURITY.md JWT-10): exactly
    /// `user_id` (a non-empty string or an integer), `days` (1 to 400), `exp` (a number, required
    /// and in the future), and this crate's optional `auth_hash`. A session cookie, whatever it
    /// holds, has other members and is refused. `auth_time`, when present, is a number no later
    /// than `exp`; the token is refused from `days` after it.
    ///
    /// Returns the token and the index of the key that verified it (0: the current key).
    pub(crate) fn open(
        token: &str,
        keys: &KeySet,
        now: u64,
        leeway: u64,
    ) -> Result<(RememberToken, usize), Rejection> {
        let verified = jws::verify(token, keys.all())?;
        let key_index = verified.key_index;
        let mut payload = verified.payload()?;
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
        let rid = match payload.remove("rid") {
            None => None,
            Some(Value::String(rid)) if !rid.is_empty() && rid.len() <= MAX_RID_LEN => Some(rid),
            Some(_) => return Err(Rejection::BadPayload),
        };
        if !id_ok {
            return Err(Rejection::BadPayload);
        }
        // `exp` is present (the shape requires it) and was checked above.
        let exp = payload.get("exp").map_or(Ok(0.0), claims::numeric_date)?;
        let auth_time = match payload.get("auth_time") {
            Some(t) => Some(claims::numeric_date(t)?),
            None => None,
        };
        // A login is never in the future, nor later than the token's end.
        if auth_time.is_some_and(|t| t > exp || t > now.saturating_add(leeway) as f64) {
            return Err(Rejection::BadClaims);
        }
        let token = RememberToken {
            user_id,
            days: days as u32,
            auth_hash,
            // Without the member (Microdot's tokens), the login is as old as `exp` says.
            auth_time: auth_time.unwrap_or(exp - (days * DAY) as f64).max(0.0) as u64,
            rid,
        };
        if auth_time.is_some() && now.saturating_sub(leeway) >= token.expires_at() {
            return Err(Rejection::Expired);
        }
        Ok((token, key_index))
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

/// [`is_remember_shaped`] for a payload whose time claims were taken out of `map`: `exp` is
/// present or not, and `other_claims` says whether `nbf`, `iat` or `_created` was (none of which
/// a remember-me token has).
pub(crate) fn is_remember_shaped_without_claims(
    map: &super::members::Scanned,
    exp: bool,
    other_claims: bool,
) -> bool {
    exp && !other_claims
        && ["user_id", "days"].iter().all(|k| map.contains_key(k))
        && map.keys().all(|k| MEMBERS.contains(&k))
}
