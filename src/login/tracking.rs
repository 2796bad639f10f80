//! Login tracking: the session registry seen from the login keys.
//!
//! A tracked login's session cookie carries `_sid`, a random secret id (with a short suffix that
//! binds it to the user's registry key), and each of its remember-me cookies a `rid` member of
//! its own; the registry keeps their SHA-256 under the user's key, grouped by device (one login
//! in one browser, kept across the sessions its remember-me cookie restores).
//!
//! - Before the inner service ([`Tracker::check`]): a session login whose `_sid` the registry does
//!   not know reads as no session. Without a live login, a valid remember-me cookie is used here
//!   (and only here): the registry rotates it, and every request that presents it within the
//!   grace window gets the same successor and the same restored session, derived from the
//!   token's id with a sub-key. A superseded token presented later revokes every remember-me
//!   cookie of the user.
//! - After it ([`Tracker::commit`]): a new login gets a new `_sid` and is registered, a logout
//!   revokes its device, an unchanged login is marked seen at most once per quarter of the idle
//!   timeout.
//!
//! Logins the registry cannot know, written without `_sid` by a stateless layer or by Microdot,
//! are adopted: registered on first sight. So are remember-me cookies without `rid` (Microdot's),
//! under the SHA-256 of the cookie's value, then rotated into tracked ones.

use std::sync::Arc;

use ring::digest::{digest, SHA256};
use serde_json::Value;

use super::{random_id, remember, USER_ID};
use crate::b64;
use crate::key::Purpose;
use crate::registry::{
    EntryKind, MemoryRegistry, Registry, RegistryEntry, RegistryError, Removal, Rotation,
};
use crate::secret::hex;
use crate::session::{LoginKeys, RememberUpdate, TrackFuture, Tracked, TrackedLogin, Tracker};
use crate::token::members::Memo;
use crate::token::remember::RememberToken;
use crate::{AuthUser, Error, SessionDict};

/// The session key of a tracked login's secret id.
pub(crate) const SID: &str = "_sid";

/// How long a used remember-me token still restores the same login (parallel requests, a reload
/// while the response with its successor was on its way).
const REMEMBER_GRACE: u64 = 30;

/// With no idle timeout, `last_seen` is written at most once per quarter of this.
const SEEN_PERIOD_WITHOUT_IDLE: u64 = 3600;

/// Browsers keep no cookie longer than 400 days: an entry without a deadline ends then.
const LONGEST: u64 = 400 * 86_400;

/// The login tracking of a layer with `registry`. `local` is the same registry when it is a
/// [`MemoryRegistry`]: it then answers the check of a live login without a future.
pub(crate) fn tracker(
    registry: Arc<dyn Registry>,
    local: Option<MemoryRegistry>,
) -> Arc<dyn Tracker> {
    Arc::new(Tracking { registry, local })
}

#[derive(Debug)]
struct Tracking {
    registry: Arc<dyn Registry>,
    local: Option<MemoryRegistry>,
}

/// The login a request's session cookie carries, as the registry sees it.
enum SessionLogin {
    /// None: no `_user_id`.
    Absent,
    /// One without a `_sid` of this user, written by a stateless layer or by Microdot: registered
    /// when the response is written.
    Untracked,
    /// One with a `_sid`.
    Tracked(Arc<LoginKeys>),
}

/// The login `session` loaded, with its registry key and id: derived once per cookie, then kept
/// with the cached session.
fn session_login(session: &SessionDict) -> SessionLogin {
    if let Some(keys) = session.memo::<LoginKeys>(Memo::Tracking, &[USER_ID, SID]) {
        return SessionLogin::Tracked(keys);
    }
    let Some(user_id) = session.value(USER_ID) else {
        return SessionLogin::Absent;
    };
    let user = user_key(&user_id);
    let Some(sid) = tracked_sid(session, &user) else {
        return SessionLogin::Untracked;
    };
    let id = entry_id(&sid);
    let keys = Arc::new(LoginKeys { user, id, sid });
    session.set_memo(
        Memo::Tracking,
        &[USER_ID, SID],
        || Arc::clone(&keys),
        keys.heap_bytes(),
    );
    SessionLogin::Tracked(keys)
}

impl Tracker for Tracking {
    fn check(&self, session: &SessionDict) -> Option<TrackFuture> {
        if let Some(local) = self
            .local
            .as_ref()
            .filter(|_| session.session_cookie_sent())
        {
            // Most requests of a single-instance site: a login whose keys the cached session
            // remembers, answered at once under one lock of the session, with no future.
            let now = session.now();
            let live = session.with_memo_and_tracked(
                Memo::Tracking,
                &[USER_ID, SID],
                |keys: Option<Arc<LoginKeys>>, tracked| {
                    Some(record_if_live(local, keys?, now, tracked))
                },
            );
            match live {
                Some(true) => return None,
                Some(false) => return Some(self.run(session, unknown_login)),
                None => {}
            }
        }
        let remember_sent = !session.remember_candidates().is_empty();
        let login = if session.session_cookie_sent() {
            session_login(session)
        } else if remember_sent {
            SessionLogin::Absent
        } else {
            return None;
        };
        let keys = match login {
            SessionLogin::Tracked(keys) => keys,
            SessionLogin::Untracked => return None,
            SessionLogin::Absent if remember_sent => return Some(self.run(session, restore)),
            SessionLogin::Absent => return None,
        };
        if let Some(local) = &self.local {
            // A cookie seen for the first time: answered at once too, with no future.
            let now = session.now();
            return match session.with_tracked(|tracked| record_if_live(local, keys, now, tracked)) {
                true => None,
                false => Some(self.run(session, unknown_login)),
            };
        }
        let registry = Arc::clone(&self.registry);
        let session = session.clone();
        Some(Box::pin(async move {
            let now = session.now();
            let found = registry.get(&keys.user, &[&keys.id], now).await?;
            let live = found.into_iter().next().flatten();
            match live.filter(|entry| entry.kind == EntryKind::Session) {
                Some(entry) => {
                    known_login(&session, keys, (entry.device, entry.last_seen));
                    Ok(())
                }
                None => unknown_login(registry, session).await,
            }
        }))
    }

    fn commit(&self, session: &SessionDict) -> Option<TrackFuture> {
        if !session.was_loaded() {
            return None;
        }
        let ops = match changes(session) {
            Ok(ops) => ops?,
            Err(error) => return Some(Box::pin(std::future::ready(Err(error)))),
        };
        let registry = Arc::clone(&self.registry);
        let now = session.now();
        Some(Box::pin(async move {
            for op in &ops {
                match op {
                    Op::Insert { user, id, entry } => registry.insert(user, id, entry, now).await?,
                    Op::Touch { user, id } => registry.touch(user, id, now, now).await?,
                    Op::Remove { user, which } => {
                        registry.remove(user, which, now).await?;
                    }
                    Op::Supersede { user, old, new } => {
                        let gone = Removal::Ids(vec![old.clone()]);
                        if registry.remove(user, &gone, now).await? == 0 {
                            tracing::info!("login ended while this request ran; its new id too");
                            let new = Removal::Ids(vec![new.clone()]);
                            registry.remove(user, &new, now).await?;
                        }
                    }
                }
            }
            Ok(())
        }))
    }
}

impl Tracking {
    /// The future of `work` on this layer's registry and a handle on `session`.
    fn run<F>(
        &self,
        session: &SessionDict,
        work: fn(Arc<dyn Registry>, SessionDict) -> F,
    ) -> TrackFuture
    where
        F: std::future::Future<Output = Result<(), RegistryError>> + Send + 'static,
    {
        Box::pin(work(Arc::clone(&self.registry), session.clone()))
    }
}

/// Asks the memory registry whether the session login `keys` is live at `now`, and if it is,
/// records it in `tracked` with its device and `last_seen`.
fn record_if_live(
    local: &MemoryRegistry,
    keys: Arc<LoginKeys>,
    now: u64,
    tracked: &mut Tracked,
) -> bool {
    let Some(live) = local.live_session(&keys.user, &keys.id, now) else {
        return false;
    };
    record(tracked, keys, live);
    true
}

/// Records the session login the registry knows, with its device and `last_seen`.
fn known_login(session: &SessionDict, keys: Arc<LoginKeys>, live: (String, u64)) {
    session.with_tracked(|tracked| record(tracked, keys, live));
}

/// Records in `tracked` the session login `keys` that the registry knows, with its device and
/// `last_seen`.
fn record(tracked: &mut Tracked, keys: Arc<LoginKeys>, (device, last_seen): (String, u64)) {
    tracked.login = Some(TrackedLogin {
        keys,
        device,
        last_seen,
    });
}

/// Reads a session login the registry does not know as no session, then tries the remember-me
/// cookie.
async fn unknown_login(
    registry: Arc<dyn Registry>,
    session: SessionDict,
) -> Result<(), RegistryError> {
    tracing::info!(
        "session login unknown to the registry (logged out, revoked or expired); read as no \
         session"
    );
    session.refuse_loaded();
    restore_remembered(&*registry, &session).await
}

/// Restores a login from the request's remember-me cookie (see [`restore_remembered`]).
async fn restore(registry: Arc<dyn Registry>, session: SessionDict) -> Result<(), RegistryError> {
    restore_remembered(&*registry, &session).await
}

/// A write to the registry.
enum Op {
    Insert {
        user: String,
        id: String,
        entry: RegistryEntry,
    },
    Touch {
        user: String,
        id: String,
    },
    Remove {
        user: String,
        which: Removal,
    },
    /// The login's session id `old` is replaced by `new` (already added): `old` goes, and if it
    /// was already gone (a logout or a revocation came first), `new` goes too.
    Supersede {
        user: String,
        old: String,
        new: String,
    },
}

/// What the request's changes to its login call for; `None` when nothing. Gives a new login its
/// `_sid` (and a new remember-me token its `rid`) in the session before the cookies are written.
///
/// # Errors
///
/// When the session has no room left for its `_sid`: the login cannot be tracked, and the
/// request is answered as if the registry were down (no cookie changes).
fn changes(session: &SessionDict) -> Result<Option<Vec<Op>>, RegistryError> {
    // Most requests: the login the registry knew, untouched by this request, seen recently.
    // Nothing to decode or compare.
    let (now, period) = (session.now(), seen_period(session));
    let seen = |login: &TrackedLogin| now < login.last_seen.saturating_add(period);
    if session.tracked_login_unchanged(&[USER_ID, SID], seen) {
        return Ok(None);
    }
    let loaded = session.with_tracked(|tracked| tracked.login.clone());
    let mut ops = Vec::new();
    let Some(user_id) = session.value(USER_ID) else {
        // Logged out (or refused by the gate): this device's session and remember-me cookie go.
        if let Some(login) = loaded {
            ops.push(Op::Remove {
                user: login.keys.user.clone(),
                which: Removal::Device(login.device),
            });
        }
        return Ok((!ops.is_empty()).then_some(ops));
    };
    // The loaded login's key, when this request kept its user (most requests): no second digest.
    let user = match &loaded {
        Some(login) if session.unchanged(&[USER_ID]) => login.keys.user.clone(),
        _ => user_key(&user_id),
    };
    let unchanged = loaded.as_ref().filter(|l| {
        l.keys.user == user && tracked_sid(session, &user).as_deref() == Some(&*l.keys.sid)
    });
    let device = match (unchanged, &loaded) {
        (Some(login), _) => {
            if now >= login.last_seen.saturating_add(seen_period(session)) {
                ops.push(Op::Touch {
                    user: user.clone(),
                    id: login.keys.id.clone(),
                });
            }
            login.device.clone()
        }
        // A new login (or a renewed session id): a new `_sid`. The same user keeps the device.
        (None, loaded) => {
            let sid = new_sid(&user);
            if session
                .insert_value(SID, Value::String(sid.clone()))
                .is_err()
            {
                tracing::error!("session too large to carry its registry id; login not tracked");
                return Err(RegistryError::new(
                    "session too large to carry its registry id",
                ));
            }
            let same_user = loaded.as_ref().filter(|login| login.keys.user == user);
            let device = same_user.map_or_else(random_id, |login| login.device.clone());
            // The new id is added before the old one goes, so a failure in between never leaves
            // the login without an id.
            ops.push(Op::Insert {
                user: user.clone(),
                id: entry_id(&sid),
                entry: session_entry(session, device.clone(), now),
            });
            match (loaded, same_user.is_some()) {
                (Some(login), true) => ops.push(Op::Supersede {
                    user: user.clone(),
                    old: login.keys.id.clone(),
                    new: entry_id(&sid),
                }),
                (Some(login), false) => ops.push(Op::Remove {
                    user: login.keys.user.clone(),
                    which: Removal::Device(login.device.clone()),
                }),
                (None, _) => {}
            }
            device
        }
    };
    // A remember-me cookie issued by this request's login gets an id of its own.
    let mut remember = None;
    session.update_pending_remember(|token| {
        if token.rid.is_none() && token.user_id == user_id {
            let rid = random_id();
            remember = Some((entry_id(&rid), remember_entry(session, device, token, now)));
            token.rid = Some(rid);
        }
    });
    if let Some((id, entry)) = remember {
        ops.push(Op::Insert { user, id, entry });
    }
    Ok((!ops.is_empty()).then_some(ops))
}

/// Restores a login from the request's remember-me cookie, if the registry accepts it.
async fn restore_remembered(
    registry: &dyn Registry,
    session: &SessionDict,
) -> Result<(), RegistryError> {
    let Some((mut token, _, value)) = remember::sent_with_value(session) else {
        return Ok(());
    };
    let now = session.now();
    let user = user_key(&token.user_id);
    // The token's secret: its `rid`, or (Microdot's tokens, and those from before the registry)
    // the cookie's value, adopted on first sight. A revoked adopted token leaves a tombstone in
    // the registry, so a copy of it is never adopted again.
    let adopted = token.rid.is_none();
    let secret = token.rid.clone().unwrap_or(value);
    let old = entry_id(&secret);
    if adopted {
        let device = derive(session, b"device", &secret);
        let entry = remember_entry(session, device, &token, now);
        registry.insert(&user, &old, &entry, now).await?;
    }
    let device = match registry.get(&user, &[&old], now).await?.pop().flatten() {
        Some(entry) if entry.kind == EntryKind::Remember => entry.device,
        _ => {
            tracing::info!("remember-me cookie unknown to the registry; deleted");
            session.set_remember(RememberUpdate::Delete);
            return Ok(());
        }
    };
    let rid = derive(session, b"remember", &secret);
    let successor = remember_entry(session, device.clone(), &token, now);
    let rotation = registry
        .rotate(
            &user,
            &old,
            &entry_id(&rid),
            &successor,
            now,
            REMEMBER_GRACE,
        )
        .await?;
    match rotation {
        Rotation::Rotated | Rotation::Repeated => {}
        Rotation::Replayed => {
            // The token was stolen, or the owner's browser kept a superseded copy: whoever used
            // it first may hold a session restored from it. That device goes entirely.
            registry
                .remove(&user, &Removal::Device(device), now)
                .await?;
            tracing::warn!(
                event = "remember_replayed",
                "a superseded remember-me cookie came back after its grace window; every \
                 remember-me cookie of the user and the sessions of its device revoked"
            );
            session.set_remember(RememberUpdate::Delete);
            return Ok(());
        }
        Rotation::Unknown => {
            tracing::info!("remember-me cookie unknown to the registry; deleted");
            session.set_remember(RememberUpdate::Delete);
            return Ok(());
        }
    }
    // Every request that presents this token restores the same session id.
    let sid = format!(
        "{}.{}",
        derive(session, b"session", &secret),
        sid_suffix(&user)
    );
    let sid_id = entry_id(&sid);
    registry
        .insert(
            &user,
            &sid_id,
            &session_entry(session, device.clone(), now),
            now,
        )
        .await?;
    // A revocation of the device between the rotation and this insert would miss the session:
    // its successor is gone then, and so must the session be.
    let next = entry_id(&rid);
    if registry
        .get(&user, &[&next], now)
        .await?
        .pop()
        .flatten()
        .is_none()
    {
        registry
            .remove(&user, &Removal::Ids(vec![sid_id]), now)
            .await?;
        tracing::info!("device revoked while its remember-me cookie was used; no login restored");
        session.set_remember(RememberUpdate::Delete);
        return Ok(());
    }
    token.rid = Some(rid);
    if remember::restore_token(session, token).is_none() {
        return Ok(());
    }
    if session
        .insert_value(SID, Value::String(sid.clone()))
        .is_err()
    {
        return Err(RegistryError::new(
            "session too large to carry its registry id",
        ));
    }
    let login = TrackedLogin {
        keys: Arc::new(LoginKeys {
            user,
            id: sid_id,
            sid,
        }),
        device,
        last_seen: now,
    };
    session.with_tracked(|tracked| tracked.login = Some(login));
    Ok(())
}

/// The registry entry of the remember-me `token` on `device`: it ends when the token does.
fn remember_entry(
    session: &SessionDict,
    device: String,
    token: &RememberToken,
    now: u64,
) -> RegistryEntry {
    RegistryEntry {
        kind: EntryKind::Remember,
        device,
        created: token.auth_time,
        last_seen: now,
        expires: token.expires_at(),
        user_agent: user_agent(session),
        rotated: None,
    }
}

/// The registry entry of a session that begins now on `device`.
fn session_entry(session: &SessionDict, device: String, now: u64) -> RegistryEntry {
    let (_, absolute) = session.timeouts();
    RegistryEntry {
        kind: EntryKind::Session,
        device,
        created: now,
        last_seen: now,
        expires: now
            .saturating_add(absolute.unwrap_or(LONGEST))
            .saturating_add(session.leeway()),
        user_agent: user_agent(session),
        rotated: None,
    }
}

/// How long after `last_seen` it is written again: a quarter of the idle timeout.
fn seen_period(session: &SessionDict) -> u64 {
    let (idle, _) = session.timeouts();
    (idle.unwrap_or(SEEN_PERIOD_WITHOUT_IDLE) / 4).max(1)
}

/// The session's `_sid`, if it is a tracked login of `user` (its suffix names the user's key).
fn tracked_sid(session: &SessionDict, user: &str) -> Option<String> {
    match session.value(SID)? {
        Value::String(sid) if sid.rsplit('.').next() == Some(sid_suffix(user)) => Some(sid),
        _ => None,
    }
}

/// A new secret session id for a login of `user`.
fn new_sid(user: &str) -> String {
    format!("{}.{}", random_id(), sid_suffix(user))
}

/// The part of a user's key that a `_sid` ends with, so a login of another user written over a
/// tracked session (by Microdot, which keeps the keys it does not know) is told apart.
fn sid_suffix(user: &str) -> &str {
    &user[..8]
}

/// The registry's key of a user: the SHA-256 of the id's JSON, shortened.
pub(crate) fn user_key(user_id: &Value) -> String {
    let json = user_id.to_string();
    hex(&digest(&SHA256, json.as_bytes()).as_ref()[..16])
}

/// The registry's id of a secret: its SHA-256, so the registry never holds a cookie's secret.
fn entry_id(secret: &str) -> String {
    hex(digest(&SHA256, secret.as_bytes()).as_ref())
}

/// An id derived from `secret` for `what`, the same in every request and on every instance that
/// shares the key.
fn derive(session: &SessionDict, what: &[u8], secret: &str) -> String {
    let tag = session.key_set().sign(
        Purpose::Registry,
        &[what, b"\0", secret.as_bytes()].concat(),
    );
    b64::encode(b64::URL, &tag.as_ref()[..16])
}

/// A short summary of the request's `User-Agent`: "Firefox on Linux".
fn user_agent(session: &SessionDict) -> String {
    session.user_agent().map(summarize).unwrap_or_default()
}

/// Names the browser and the system a `User-Agent` says, or the first product token.
pub(crate) fn summarize(ua: &str) -> String {
    const BROWSERS: [(&str, &str); 8] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("python", "Python"),
    ];
    const SYSTEMS: [(&str, &str); 7] = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ];
    let browser = BROWSERS.iter().find(|(m, _)| ua.contains(m)).map(|b| b.1);
    let system = SYSTEMS.iter().find(|(m, _)| ua.contains(m)).map(|s| s.1);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(s)) => format!("a browser on {s}"),
        (None, None) => ua
            .split(['/', ' '])
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
            .take(32)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{entry_id, new_sid, summarize, user_key, LoginKeys};
    use crate::token::members::{arc_heap_bytes, Memo};

    #[test]
    fn a_logins_keys_fit_the_memo_budget_the_cache_counts() {
        // Kept with the cached cookie only when they fit: else derived on every request.
        for id in [json!(7), json!("alice@example.com"), json!("x".repeat(200))] {
            let user = user_key(&id);
            let sid = new_sid(&user);
            let keys = LoginKeys {
                id: entry_id(&sid),
                user,
                sid,
            };
            let bytes = keys.heap_bytes();
            assert!(bytes > arc_heap_bytes::<LoginKeys>() + 3 * 32, "{bytes}");
            assert!(bytes <= Memo::Tracking.budget(), "{bytes}");
        }
        // The auth-hash memo: an Argon2 PHC string fits.
        let argon2 = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                      aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        let bytes = arc_heap_bytes::<Vec<u8>>() + crate::cache::allocation(argon2.len());
        assert!(bytes <= Memo::AuthHash.budget(), "{bytes}");
    }

    #[test]
    fn user_agents_are_summarised() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(summarize(firefox), "Firefox on Linux");
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                      (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        assert_eq!(summarize(chrome), "Chrome on Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(summarize(safari), "Safari on iOS");
        assert_eq!(summarize("curl/8.5.0"), "curl");
        assert_eq!(summarize("<script>/1"), "script");
    }
}

/// One device in [`list_sessions`]: a login in one browser, with the sessions its remember-me
/// cookie restored since.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The device's public id: give it to [`revoke_session`]. It is not a secret, and it cannot
    /// be used to log in.
    pub id: String,
    /// When the user logged in on this device, in seconds since the Unix epoch.
    pub created: u64,
    /// When the device was last seen (to a quarter of the idle timeout).
    pub last_seen: u64,
    /// Whether it is the device of the request that asked.
    pub current: bool,
    /// A short summary of the browser's `User-Agent` ("Firefox on Linux"), empty if unknown.
    pub user_agent: String,
}

/// A layer's registry and the logged-in user's key in it.
type UserRegistry = (Arc<dyn Registry>, String);

/// The registry and the logged-in user's key, or `None` when nobody is logged in.
fn logged_in(session: &SessionDict) -> Result<Option<UserRegistry>, Error> {
    let registry = session.registry().ok_or(Error::NoRegistry)?;
    Ok(session
        .value(USER_ID)
        .map(|id| (Arc::clone(registry), user_key(&id))))
}

/// The device of this request's login, if the registry knows it.
fn current_device(session: &SessionDict, user: &str) -> Option<String> {
    session.with_tracked(|tracked| {
        (tracked.login.as_ref())
            .filter(|l| l.keys.user == user)
            .map(|l| l.device.clone())
    })
}

/// The logged-in user's live sessions, one per device, the current one marked; empty when
/// nobody is logged in.
///
/// # Errors
///
/// [`Error::NoRegistry`] when the session layer has no
/// [`registry`](crate::SessionLayerBuilder::registry); [`Error::Registry`] when it did
/// not answer.
///
/// # Examples
///
/// ```
/// use tower_session_auth::{list_sessions, SessionDict};
///
/// async fn devices_page(session: &SessionDict) -> Result<String, tower_session_auth::Error> {
///     let mut page = String::new();
///     for device in list_sessions(session).await? {
///         let this = if device.current { " (this one)" } else { "" };
///         page += &format!("{}, last seen {}{this}\n", device.user_agent, device.last_seen);
///     }
///     Ok(page)
/// }
/// ```
pub async fn list_sessions(session: &SessionDict) -> Result<Vec<SessionInfo>, Error> {
    let Some((registry, user)) = logged_in(session)? else {
        return Ok(Vec::new());
    };
    let current = current_device(session, &user);
    let entries = registry
        .list(&user, session.clock_now())
        .await
        .map_err(Error::Registry)?;
    let mut devices: Vec<SessionInfo> = Vec::new();
    // A used remember-me token stays only to catch replays: it keeps no device alive.
    for (_, entry) in entries.into_iter().filter(|(_, e)| e.rotated.is_none()) {
        match devices.iter_mut().find(|d| d.id == entry.device) {
            Some(device) => {
                device.created = device.created.min(entry.created);
                if entry.last_seen >= device.last_seen {
                    device.last_seen = entry.last_seen;
                    device.user_agent = entry.user_agent;
                }
            }
            None => devices.push(SessionInfo {
                current: current.as_deref() == Some(&*entry.device),
                id: entry.device,
                created: entry.created,
                last_seen: entry.last_seen,
                user_agent: entry.user_agent,
            }),
        }
    }
    devices.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.id.cmp(&b.id)));
    Ok(devices)
}

/// Logs the logged-in user's device `id` (from [`list_sessions`]) out: its sessions and its
/// remember-me cookie are refused from the moment this returns, on every instance that shares
/// the registry. Returns `false` when the user has no such device (another user's id, say).
/// Revoking the current device logs this request out as [`logout_user`](crate::logout_user)
/// does.
///
/// # Errors
///
/// [`Error::NoRegistry`] without a registry; [`Error::Registry`] when it did not
/// answer.
///
/// # Examples
///
/// ```
/// use tower_session_auth::{revoke_session, SessionDict};
///
/// // `POST /sessions/{id}/revoke`
/// async fn revoke(session: &SessionDict, id: &str) -> u16 {
///     match revoke_session(session, id).await {
///         Ok(true) => 303,
///         Ok(false) => 404,
///         Err(_) => 503,
///     }
/// }
/// ```
pub async fn revoke_session(session: &SessionDict, id: &str) -> Result<bool, Error> {
    let Some((registry, user)) = logged_in(session)? else {
        return Ok(false);
    };
    let removed = registry
        .remove(&user, &Removal::Device(id.to_owned()), session.clock_now())
        .await
        .map_err(Error::Registry)?;
    if current_device(session, &user).as_deref() == Some(id) {
        super::logout_user(session);
    }
    Ok(removed > 0)
}

/// Logs the logged-in user out everywhere but here: every other device's sessions and
/// remember-me cookies are refused from the moment this returns. Returns how many registry
/// entries went.
///
/// # Errors
///
/// [`Error::NoRegistry`] without a registry; [`Error::Registry`] when it did not
/// answer.
///
/// # Examples
///
/// ```
/// use tower_session_auth::{revoke_other_sessions, SessionDict};
///
/// // `POST /sessions/revoke-others`
/// async fn log_out_elsewhere(session: &SessionDict) -> Result<(), tower_session_auth::Error> {
///     revoke_other_sessions(session).await?;
///     Ok(())
/// }
/// ```
pub async fn revoke_other_sessions(session: &SessionDict) -> Result<usize, Error> {
    let Some((registry, user)) = logged_in(session)? else {
        return Ok(0);
    };
    let which = match current_device(session, &user) {
        Some(device) => Removal::AllDevicesBut(device),
        // A login made in this request is registered when its response is written: every
        // device the registry knows is another one.
        None => Removal::AllDevicesBut(String::new()),
    };
    registry
        .remove(&user, &which, session.clock_now())
        .await
        .map_err(Error::Registry)
}

/// After the user changed their password: keeps this session logged in (with the user's new
/// session auth hash, and its remember-me cookie re-tagged) and ends every other session and
/// remember-me cookie of the user, as Django's `update_session_auth_hash` does. Without a
/// registry, the new auth hash alone ends the other sessions (if the user type has one).
///
/// Call it with the user as loaded after the change.
///
/// # Errors
///
/// [`Error::Serialize`] or [`Error::SessionTooLarge`] as [`login_user`](crate::login_user);
/// [`Error::Registry`] when the registry did not answer (the other sessions may then
/// still be live: report the failure).
///
/// # Examples
///
/// ```
/// # #[derive(Clone)] struct User { id: u64, password_hash: String }
/// # impl tower_session_auth::AuthUser for User {
/// #     type Id = u64;
/// #     fn id(&self) -> u64 { self.id }
/// #     fn session_auth_hash(&self) -> Option<&[u8]> { Some(self.password_hash.as_bytes()) }
/// # }
/// use tower_session_auth::{update_session_auth_hash, SessionDict};
///
/// async fn password_changed(session: &SessionDict, user: &User) -> Result<(), tower_session_auth::Error> {
///     update_session_auth_hash(session, user).await
/// }
/// ```
pub async fn update_session_auth_hash<U: AuthUser>(
    session: &SessionDict,
    user: &U,
) -> Result<(), Error> {
    let id = serde_json::to_value(user.id()).map_err(Error::Serialize)?;
    // This device's remember-me token: the one this request restored (and rotated), else the one
    // it carries.
    let kept = session
        .pending_remember()
        .or_else(|| remember::sent(session).map(|(token, _)| token))
        .filter(|token| token.user_id == id);
    super::login_user(session, user, false)?;
    let mut superseded = None;
    if let Some(mut token) = kept {
        token.auth_hash = user
            .session_auth_hash()
            .map(|hash| super::auth_hash::tag(session.key_set(), hash));
        // A new id: a copy of the old token, taken before the password changed, is refused even
        // for a user type without an auth hash.
        superseded = token.rid.take();
        session.set_remember(RememberUpdate::Set(token));
    }
    if let Some(registry) = session.registry() {
        let registry = Arc::clone(registry);
        revoke_other_sessions(session).await?;
        if let Some(old) = superseded {
            let which = Removal::Ids(vec![entry_id(&old)]);
            registry
                .remove(&user_key(&id), &which, session.clock_now())
                .await
                .map_err(Error::Registry)?;
        }
    }
    Ok(())
}
