//! `SessionDict`: the handle a handler reads and writes the session through. It holds the
//! session map and this request's changes, and knows nothing of where the session is kept: a
//! [`Backend`](super::backend::Backend) loads it, and the request's changes leave as a
//! [`Commit`] for the response writer.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use http::HeaderMap;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use super::backend::Backend;
use super::commit::{Commit, RememberUpdate, SessionCommit};
use super::config::SessionConfig;
use super::tracker::{Tracked, TrackedLogin};
use crate::cookie::parse;
use crate::key::KeySet;
use crate::token::members::{Member, Members, Memo, Run};
use crate::token::remember::RememberToken;
use crate::token::session::CLAIMS;
use crate::Error;

/// The user's session: a map of string keys to JSON values, kept in a signed cookie.
///
/// A `SessionDict` is a cheap handle (an `Arc` inside): clone it freely, send it across tasks.
/// [`SessionLayer`](crate::SessionLayer) puts one in every request's extensions; take it from
/// there (`req.extensions().get::<SessionDict>()`), or with the `axum` feature as a handler
/// argument. The cookie is read and verified on the first access, once, and a response carries a
/// `Set-Cookie` only when the session changed.
///
/// A cookie that is missing, malformed, tampered with, signed with an unknown key or expired reads
/// as an empty session: the request goes on anonymously and never fails because of it.
///
/// Keys that begin with `_` belong to the crate (`_user_id`, `_fresh`, …): they can be read, but
/// [`insert`](Self::insert) and [`remove`](Self::remove) refuse them; log users in and out with
/// [`login_user`](crate::login_user) and [`logout_user`](crate::logout_user).
///
/// The session is signed, not encrypted: whoever holds the cookie can read it. Do not store
/// secrets or personal data in it.
///
/// # Examples
///
/// ```
/// use tower_session_auth::SessionDict;
///
/// fn count_visit(session: &SessionDict) -> Result<u64, tower_session_auth::Error> {
///     let visits = session.get::<u64>("visits")?.unwrap_or(0) + 1;
///     session.insert("visits", visits)?;
///     Ok(visits)
/// }
/// ```
#[derive(Clone)]
pub struct SessionDict {
    /// What the request's handles share, and as the block's text the session cookie the request
    /// sent, when it sent one (as nearly every request with a session does): copied there, in
    /// the allocation the handle makes anyway, rather than into one of its own.
    block: triomphe::Arc<triomphe::HeaderSlice<Shared, str>>,
}

// The handle crosses tasks and threads, and futures holding it may move: guarded here, since its
// reference count is not `std`'s.
const _: () = {
    const fn shareable<T: Send + Sync + Unpin + 'static>() {}
    shareable::<SessionDict>();
};

struct Shared {
    config: Arc<SessionConfig>,
    /// Values of the cookies with the session's name, not yet verified.
    sent: Sent,
    /// Values of the cookies with the remember cookie's name, not yet verified.
    remember_candidates: parse::Values,
    /// The request's `User-Agent`, kept only when a registry lists sessions by device.
    user_agent: Option<http::HeaderValue>,
    state: Mutex<State>,
    /// The layer's clock, read once for the request (at its first use); 0 until then.
    now: AtomicU64,
    /// The user type of the latest gate the request passed, as a number (0: none), for the
    /// extractors' messages: kept here rather than as an extension of its own, which would cost
    /// every gated request an allocation and a map insert.
    #[cfg(feature = "axum")]
    gate_user: std::sync::atomic::AtomicUsize,
}

/// The session cookies a request sent, not yet verified.
enum Sent {
    /// One: the handle's block's text.
    One,
    /// None, or several, kept here.
    Apart(parse::Values),
}

impl Shared {
    /// Whether the request sent a session cookie.
    fn cookie_sent(&self) -> bool {
        match &self.sent {
            Sent::One => true,
            Sent::Apart(values) => !values.is_empty(),
        }
    }
}

#[derive(Default)]
struct State {
    /// The session as the cookie held it: `None` until the first access decodes the cookie.
    /// Shared with the verified-cookie cache, so never changed in place.
    base: Option<Members>,
    /// This request's changes on top of `base`: `Some` sets a key, `None` removes it. Kept apart
    /// so that a write does not copy the shared map.
    changes: BTreeMap<String, Option<Value>>,
    /// The session (`base` with `changes`) serialised, when the last change measured it: the
    /// response reuses it instead of serialising again.
    json: Option<Vec<u8>>,
    change: Change,
    /// The cookie verified under a fallback key: write it again under the current key.
    reissue: bool,
    /// A session cookie was sent but none verified: delete it.
    invalid: bool,
    /// The session cookie sent is a key holder's that this layer cannot use, or not yet: keep it.
    foreign: bool,
    /// When the session began (its absolute-timeout anchor); `None` until first written.
    created: Option<u64>,
    remember: RememberUpdate,
    /// The response must leave the browser's cookies as they are, whatever changed.
    keep_cookies: bool,
    /// With a session store: the secret id and the version of the record the request loaded.
    stored: Option<(String, u64)>,
    /// The whole map was replaced (a login, `clear`, `delete`): with a store, the request's data
    /// goes to a new record rather than onto the loaded one.
    replaced: bool,
    /// What the registry said of this request's logins (with a registry only). Kept under the
    /// state's lock, so that the login check and the commit take that one lock once each.
    tracked: Tracked,
    /// The cookie `base` was verified from missed the verified-cookie cache: where the backend
    /// files it if the response leaves it to the browser. Dropped when `base` is replaced.
    unfiled: Option<crate::cache::Miss>,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Change {
    #[default]
    None,
    Modified,
    Deleted,
}

impl SessionDict {
    pub(crate) fn new(config: Arc<SessionConfig>, headers: &HeaderMap) -> SessionDict {
        let [sent, remember] =
            parse::find_two(headers, [&config.session_name, &config.remember_name]);
        let (text, sent) = match sent {
            parse::Values::One(value) => (value, Sent::One),
            several => ("", Sent::Apart(several.into_owned())),
        };
        // A clone of the header's shared bytes, not a copy: read only when a login is recorded.
        let user_agent = config
            .registry
            .as_ref()
            .and_then(|_| headers.get(http::header::USER_AGENT))
            .cloned();
        SessionDict {
            block: triomphe::Arc::from_header_and_str(
                Shared {
                    config,
                    sent,
                    remember_candidates: remember.into_owned(),
                    user_agent,
                    state: Mutex::new(State::default()),
                    now: AtomicU64::new(0),
                    #[cfg(feature = "axum")]
                    gate_user: std::sync::atomic::AtomicUsize::new(0),
                },
                text,
            ),
        }
    }

    /// The value under `key`, deserialised as `T`; `Ok(None)` when there is none.
    ///
    /// # Errors
    ///
    /// [`Error::Deserialize`] when the stored value is not a `T` (a type mismatch is an error,
    /// not a silent `None`).
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        let state = self.load();
        match state.get(key) {
            Some(member) => member
                .decode::<T>()
                .map(Some)
                .map_err(|_| Error::Deserialize),
            None => Ok(None),
        }
    }

    /// Stores `value` under `key`, replacing what was there. Storing the value already there
    /// changes nothing: no cookie is sent for it.
    ///
    /// # Errors
    ///
    /// - [`Error::ReservedKey`] when `key` begins with `_` or is a time claim (`exp`, `nbf`, `iat`);
    /// - [`Error::Serialize`] when `value` cannot be serialised to JSON;
    /// - [`Error::SessionTooLarge`] when the session's cookie would be longer than browsers keep
    ///   (4096 bytes for name and value). The session is then left as it was, so the browser keeps
    ///   its previous cookie: nothing is lost silently.
    pub fn insert(&self, key: &str, value: impl Serialize) -> Result<(), Error> {
        check_public(key)?;
        let value = serde_json::to_value(value).map_err(Error::Serialize)?;
        self.insert_value(key, value)
    }

    /// Removes `key`, returning its value deserialised as `T` if it had one.
    ///
    /// # Errors
    ///
    /// - [`Error::ReservedKey`] when `key` begins with `_` or is a time claim (`exp`, `nbf`, `iat`);
    /// - [`Error::Deserialize`] when the stored value is not a `T`. The value then stays in the
    ///   session: ask for [`serde_json::Value`] to remove whatever is there.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::SessionDict;
    ///
    /// fn take_return_url(session: &SessionDict) -> String {
    ///     session
    ///         .remove::<String>("return_url")
    ///         .ok()
    ///         .flatten()
    ///         .unwrap_or_else(|| "/".into())
    /// }
    /// ```
    pub fn remove<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        check_public(key)?;
        let mut state = self.load();
        let Some(member) = state.get(key) else {
            return Ok(None);
        };
        let typed = member.decode::<T>().map_err(|_| Error::Deserialize)?;
        state.remove(key);
        Ok(Some(typed))
    }

    /// Whether the session has a value under `key`.
    #[must_use]
    pub fn contains_key(&self, key: &str) -> bool {
        self.load().get(key).is_some()
    }

    /// How many keys the session holds, the crate's own included.
    #[must_use]
    pub fn len(&self) -> usize {
        self.load().len()
    }

    /// Whether the session holds nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.load().is_empty()
    }

    /// The session's keys, in sorted order.
    #[must_use]
    pub fn keys(&self) -> Vec<String> {
        // Entries come in key order.
        self.load().entries().map(|(k, _)| k.to_owned()).collect()
    }

    /// Removes every key, the crate's own too (so a logged-in user is logged out of this session,
    /// though a remember-me cookie would log them in again: use
    /// [`logout_user`](crate::logout_user) to log out).
    pub fn clear(&self) {
        let mut state = self.load();
        if !state.is_empty() {
            state.set_base(Map::new(), None);
            state.change = Change::Modified;
        }
    }

    /// Empties the session and deletes its cookie from the browser (Microdot's
    /// `SessionDict.delete`). A later write in the same request sets a new cookie instead.
    pub fn delete(&self) {
        let mut state = self.load();
        state.set_base(Map::new(), None);
        state.created = None;
        state.change = Change::Deleted;
    }

    // ---- the narrow API of the crate's reserved keys, for login (and the gate) ----

    /// Inserts without the reserved-key check.
    pub(crate) fn insert_value(&self, key: &str, value: Value) -> Result<(), Error> {
        let mut state = self.load();
        if state.get(key).is_some_and(|member| member.is(&value)) {
            return Ok(());
        }
        let earlier = state.changes.insert(key.to_owned(), Some(value));
        let json = state.to_json();
        if let Err(e) = self.check_size(json.len(), state.created) {
            match earlier {
                Some(earlier) => state.changes.insert(key.to_owned(), earlier),
                None => state.changes.remove(key),
            };
            return Err(e);
        }
        state.json = Some(json);
        state.change = Change::Modified;
        Ok(())
    }

    /// Removes without the reserved-key check.
    pub(crate) fn remove_value(&self, key: &str) -> Option<Value> {
        let mut state = self.load();
        let old = state.get(key).map(Member::to_value);
        if old.is_some() {
            state.remove(key);
        }
        old
    }

    /// Replaces the whole map at once (a login), keeping the size rule. The session begins anew:
    /// its absolute timeout counts from now (SECURITY.md SES-01).
    pub(crate) fn replace(&self, map: Map<String, Value>) -> Result<(), Error> {
        // Serialising a `Map<String, Value>` into memory cannot fail.
        let json = serde_json::to_vec(&map).unwrap_or_else(|_| b"{}".to_vec());
        self.check_size(json.len(), None)?;
        let mut state = self.load();
        state.set_base(map, Some(json));
        state.created = None;
        state.change = Change::Modified;
        Ok(())
    }

    /// A copy of the whole map.
    pub(crate) fn snapshot(&self) -> Map<String, Value> {
        let state = self.load();
        state
            .entries()
            .map(|(k, v)| (k.to_owned(), v.to_value()))
            .collect()
    }

    /// The layer's configuration, for the response writer.
    pub(super) fn config(&self) -> &SessionConfig {
        &self.shared().config
    }

    /// Notes that a gate built for the user type numbered `user_type` let this request in, or
    /// refused it (the extractors name it when a handler asks for another type).
    #[cfg(feature = "axum")]
    pub(crate) fn note_gate(&self, user_type: usize) {
        self.shared().gate_user.store(user_type, Ordering::Relaxed);
    }

    /// Takes the gate noted in `outer`, the handle of a `SessionLayer` further out, unless this
    /// one has its own.
    #[cfg(feature = "axum")]
    pub(crate) fn inherit_gate(&self, outer: &SessionDict) {
        let noted = outer.shared().gate_user.load(Ordering::Relaxed);
        if noted != 0 && self.shared().gate_user.load(Ordering::Relaxed) == 0 {
            self.note_gate(noted);
        }
    }

    /// The user type of the latest gate noted by [`note_gate`](Self::note_gate).
    #[cfg(feature = "axum")]
    pub(crate) fn gate_user(&self) -> Option<&'static str> {
        crate::auth::gate_user_type(self.shared().gate_user.load(Ordering::Relaxed))
    }

    /// The layer's keys: what login signs remember-me tokens and auth-hash tags with.
    pub(crate) fn key_set(&self) -> &KeySet {
        &self.shared().config.keys
    }

    /// The request's instant: the layer's clock, read at the first call and then kept, so that
    /// loading the cookie, the registry's check and commit, the store and the cookies the
    /// response writes agree on one time. Functions a handler calls to decide something
    /// later in a long request (a step-up window, listing or revoking devices) read the clock
    /// itself: [`clock_now`](Self::clock_now).
    pub(crate) fn now(&self) -> u64 {
        let kept = &self.shared().now;
        match kept.load(Ordering::Relaxed) {
            0 => {
                // Two tasks sharing the handle agree on the first reading stored.
                let now = self.shared().config.now();
                match kept.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => now,
                    Err(first) => first,
                }
            }
            now => now,
        }
    }

    /// The layer's clock, read now.
    pub(crate) fn clock_now(&self) -> u64 {
        self.shared().config.now()
    }

    /// The tolerance for clock skew when checking time claims, in seconds.
    pub(crate) fn leeway(&self) -> u64 {
        self.shared().config.leeway
    }

    /// What the login code kept with the loaded session as memo `which` (see [`Memo`]); `None`
    /// when there is none, or when this request replaced the session or changed one of `keys`
    /// (the memo was made from, or checked against, their loaded values). The verified-cookie
    /// cache shares the loaded session across the requests that send the same cookie, so a memo
    /// costs its computation once per cookie.
    pub(crate) fn memo<T: std::any::Any + Send + Sync>(
        &self,
        which: Memo,
        keys: &[&str],
    ) -> Option<Arc<T>> {
        self.load().as_loaded(keys)?.memo(which)
    }

    /// Lends `f` the string under `key`, or `None` when there is none or it is not a string:
    /// borrowed from the loaded session unless its JSON has an escape. `f` runs under the
    /// session's lock: it must not touch this session (it would wait for itself).
    pub(crate) fn with_str<R>(&self, key: &str, f: impl FnOnce(Option<&str>) -> R) -> R {
        let state = self.load();
        let text = state.get(key).and_then(Member::as_str);
        f(text.as_deref())
    }

    /// [`memo`](Self::memo), lent to `f` rather than shared: no reference count changes hands,
    /// for a memo only compared with something. `f` runs under the session's lock: it must not
    /// touch this session (it would wait for itself).
    pub(crate) fn with_memo<T: std::any::Any + Send + Sync>(
        &self,
        which: Memo,
        keys: &[&str],
        f: impl FnOnce(&T) -> bool,
    ) -> Option<bool> {
        self.load().as_loaded(keys)?.memo_ref(which).map(f)
    }

    /// Whether the session still holds, under each of `keys`, what it loaded (unless a login,
    /// `clear` or `delete` replaced it, or the request set or removed one of them).
    pub(crate) fn unchanged(&self, keys: &[&str]) -> bool {
        self.load().as_loaded(keys).is_some()
    }

    /// Keeps what `make` makes as memo `which` of the loaded session, unless this request
    /// replaced the session or changed one of `keys`, or nothing else holds the loaded session
    /// (a cookie the verified-cookie cache refused, one-off among many, or too large for it, or
    /// has not yet filed, as it does only at the end of the request that verified it; a session
    /// loaded from a store): no later request can read its memo, so `make` is not called. (A
    /// second reader in the same request, such as a nested gate, then derives it again.) `make`
    /// runs under the session's lock.
    pub(crate) fn set_memo<T: std::any::Any + Send + Sync>(
        &self,
        which: Memo,
        keys: &[&str],
        make: impl FnOnce() -> Arc<T>,
        bytes: usize,
    ) {
        if let Some(base) = self.load().as_loaded(keys) {
            if base.is_shared() {
                base.set_memo(which, make(), bytes);
            }
        }
    }

    /// Whether logins without an auth-hash tag are accepted and tagged on first sight.
    pub(crate) fn adopts_untagged_logins(&self) -> bool {
        self.shared().config.adopt_untagged_logins
    }

    /// The values of the request's remember-me cookies, not yet verified.
    pub(crate) fn remember_candidates(&self) -> &[Box<str>] {
        &self.shared().remember_candidates
    }

    /// What the response does to the remember-me cookie.
    pub(crate) fn set_remember(&self, update: RememberUpdate) {
        self.lock().remember = update;
    }

    /// Makes the response leave the browser's session and remember-me cookies as they are: no
    /// `Set-Cookie`, whatever this request changed (for the gate, when the user store did not
    /// answer).
    pub(crate) fn leave_cookies_alone(&self) {
        self.lock().keep_cookies = true;
    }

    /// The remember-me token this request has scheduled, if any.
    pub(crate) fn pending_remember(&self) -> Option<RememberToken> {
        match &self.lock().remember {
            RememberUpdate::Set(token) => Some(token.clone()),
            _ => None,
        }
    }

    /// Whether this request has already scheduled a remember-me cookie.
    pub(crate) fn has_pending_remember(&self) -> bool {
        matches!(self.lock().remember, RememberUpdate::Set(_))
    }

    /// Changes the remember-me token this request has scheduled, if any.
    pub(crate) fn update_pending_remember(&self, change: impl FnOnce(&mut RememberToken)) {
        if let RememberUpdate::Set(token) = &mut self.lock().remember {
            change(token);
        }
    }

    // ---- the registry of live logins, for login tracking ----

    /// The layer's registry, if it tracks logins.
    pub(crate) fn registry(&self) -> Option<&Arc<dyn crate::Registry>> {
        self.shared().config.registry.as_ref()
    }

    /// Lends `f` what the registry said of this request's logins. `f` runs under the session's
    /// lock: it must not touch this session (it would wait for itself).
    pub(crate) fn with_tracked<R>(&self, f: impl FnOnce(&mut Tracked) -> R) -> R {
        f(&mut self.lock().tracked)
    }

    /// Lends `f` the memo `which` of the loaded session (unless this request replaced it or
    /// changed one of `keys`) and what the registry said of this request's logins, under one
    /// lock: the login check of every tracked request. `f` must not touch this session.
    pub(crate) fn with_memo_and_tracked<T: std::any::Any + Send + Sync, R>(
        &self,
        which: Memo,
        keys: &[&str],
        f: impl FnOnce(Option<Arc<T>>, &mut Tracked) -> R,
    ) -> R {
        let mut state = self.load();
        let memo = state.as_loaded(keys).and_then(|base| base.memo(which));
        f(memo, &mut state.tracked)
    }

    /// Whether the tracked login is one `current` accepts, the request scheduled no remember-me
    /// cookie, and the session still holds what it loaded under each of `keys`: what most
    /// requests of a tracked login ask at their end, under one lock.
    pub(crate) fn tracked_login_unchanged(
        &self,
        keys: &[&str],
        current: impl FnOnce(&TrackedLogin) -> bool,
    ) -> bool {
        let state = self.load();
        state.tracked.login.as_ref().is_some_and(current)
            && !matches!(state.remember, RememberUpdate::Set(_))
            && state.as_loaded(keys).is_some()
    }

    /// The request's `User-Agent`, its first 512 bytes, if it is visible ASCII (with a registry
    /// only).
    pub(crate) fn user_agent(&self) -> Option<&str> {
        let ua = self.shared().user_agent.as_ref()?.to_str().ok()?;
        // ASCII: any byte is a character boundary.
        Some(&ua[..ua.len().min(512)])
    }

    /// The layer's idle and absolute timeouts, in seconds.
    pub(crate) fn timeouts(&self) -> (Option<u64>, Option<u64>) {
        let config = &self.shared().config;
        (config.idle_timeout, config.absolute_timeout)
    }

    /// Whether the request sent a session cookie.
    pub(crate) fn session_cookie_sent(&self) -> bool {
        self.shared().cookie_sent()
    }

    /// Whether the session was read in this request.
    pub(crate) fn was_loaded(&self) -> bool {
        self.lock().base.is_some()
    }

    /// Makes the session the request carried read as no session (the registry does not know its
    /// login), and deletes its cookie unless the request writes a new one.
    pub(crate) fn refuse_loaded(&self) {
        let mut state = self.load();
        state.set_base(Map::new(), None);
        state.created = None;
        state.reissue = false;
        state.foreign = false;
        state.invalid = true;
    }

    /// The session's JSON as the response would write it, the same written member by member,
    /// and whether the loaded members were copied in runs.
    #[cfg(test)]
    pub(crate) fn json_both_ways(&self) -> (Vec<u8>, Vec<u8>, bool) {
        self.load().json_both_ways()
    }

    /// The session's value under `key` as JSON, the crate's own keys included.
    pub(crate) fn value(&self, key: &str) -> Option<Value> {
        self.load().get(key).map(Member::to_value)
    }

    // ---- loading ----

    fn shared(&self) -> &Shared {
        &self.block.header
    }

    /// Hands `f` the values of the session cookies the request sent.
    fn with_sent<R>(&self, f: impl FnOnce(&[&str]) -> R) -> R {
        match &self.shared().sent {
            Sent::One => f(&[&self.block.slice]),
            Sent::Apart(values) => f(&values.iter().map(|v| &**v).collect::<Vec<_>>()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another holder of the lock leaves the state consistent (every change is
        // one assignment), so a poisoned lock is still usable.
        self.shared()
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Locks the state, loading the session from the backend on the first call.
    fn load(&self) -> MutexGuard<'_, State> {
        let mut state = self.lock();
        if state.base.is_none() {
            let config = &self.shared().config;
            let loaded = self.with_sent(|sent| config.backend.load(sent, self.now()));
            state.base = Some(loaded.map);
            state.created = loaded.created;
            state.reissue = loaded.reissue;
            state.invalid = loaded.invalid;
            state.foreign = loaded.foreign;
            state.unfiled = loaded.unfiled;
        }
        state
    }

    /// Whether a session of `json_len` bytes of JSON (without the crate's claims) can be kept.
    fn check_size(&self, json_len: usize, created: Option<u64>) -> Result<(), Error> {
        let config = &self.shared().config;
        if config.store.is_some() {
            return match json_len <= super::store::MAX_STORED_LEN {
                true => Ok(()),
                false => Err(Error::SessionTooLarge {
                    size: json_len,
                    limit: super::store::MAX_STORED_LEN,
                }),
            };
        }
        config.backend.check_size(json_len, created, self.now())
    }

    // ---- server-side placement, for the store step ----

    /// What the session cookie carries, verified (the id cookie, with a store), without loading
    /// the session from it.
    pub(super) fn open_cookie(&self) -> super::backend::Loaded {
        let backend = &self.shared().config.backend;
        let mut loaded = self.with_sent(|sent| backend.load(sent, self.now()));
        // The id cookie outlives the record's changes (they are saved as patches under it):
        // filed at once.
        if let Some(unfiled) = loaded.unfiled.take() {
            backend.file(unfiled, &loaded.map);
        }
        loaded
    }

    /// Makes `map` the session the request loaded: the record under `stored` (secret id,
    /// version), or an imported stateless session (`stored` is `None`, `import` set: it goes to a
    /// new record), or none.
    pub(super) fn install(
        &self,
        map: Map<String, Value>,
        loaded: &super::backend::Loaded,
        stored: Option<(String, u64)>,
        import: bool,
    ) {
        let mut state = self.lock();
        state.base = Some(Members::from_map(map));
        state.created = loaded.created;
        state.reissue = loaded.reissue;
        state.invalid = loaded.invalid;
        state.foreign = loaded.foreign;
        state.stored = stored;
        state.replaced = import;
        // Not the cookie's session: the store step filed the id cookie as it loaded it.
        state.unfiled = None;
        if import {
            state.change = Change::Modified;
        }
    }

    /// The loaded record's secret id and the session's absolute anchor, with a store.
    pub(super) fn stored_secret(&self) -> Option<(String, Option<u64>)> {
        let state = self.lock();
        let (secret, _) = state.stored.as_ref()?;
        Some((secret.clone(), state.created))
    }

    /// What the store must do with this request's changes.
    pub(super) fn store_plan(&self) -> super::store::Plan {
        use super::store::Plan;
        let state = self.lock();
        if state.keep_cookies || state.base.is_none() {
            return Plan::Nothing;
        }
        let stored = state.stored.clone();
        let changed = matches!(state.change, Change::Modified | Change::Deleted);
        if !changed {
            return Plan::Nothing;
        }
        if state.change == Change::Deleted || state.is_empty() {
            return match stored {
                Some((secret, _)) => Plan::Delete { secret },
                None => Plan::Nothing,
            };
        }
        match stored {
            Some((secret, version)) if !state.replaced => {
                let mut set = Map::new();
                let mut remove = Vec::new();
                for (key, change) in &state.changes {
                    match change {
                        Some(value) => {
                            set.insert(key.clone(), value.clone());
                        }
                        None => remove.push(key.clone()),
                    }
                }
                Plan::Patch {
                    secret,
                    version,
                    set,
                    remove,
                    created: state.created,
                }
            }
            old => Plan::Create {
                old: old.map(|(secret, _)| secret),
                data: state
                    .entries()
                    .map(|(k, v)| (k.to_owned(), v.to_value()))
                    .collect(),
                created: state.created,
            },
        }
    }

    /// After the store step: the response writes the id cookie `secret` (begun at `created`) when
    /// `new_cookie`, deletes the cookie when `secret` is `None`, and otherwise re-issues it only
    /// if the cookie itself asked for it (a fallback key, a rolling refresh).
    pub(super) fn store_done(&self, secret: Option<&str>, created: Option<u64>, new_cookie: bool) {
        let mut state = self.lock();
        let Some(secret) = secret else {
            state.set_base(Map::new(), None);
            state.created = None;
            state.change = Change::Deleted;
            return;
        };
        let mut id = Map::new();
        id.insert(
            super::store::STORE_ID.into(),
            Value::String(secret.to_owned()),
        );
        let json = serde_json::to_vec(&id).unwrap_or_default();
        state.set_base(id, Some(json));
        state.created = created;
        state.invalid = false;
        state.change = if new_cookie {
            Change::Modified
        } else {
            Change::None
        };
    }

    // ---- committing ----

    /// What this request's changes come to, for the response writer; the handle keeps nothing
    /// of them.
    pub(crate) fn commit(&self) -> Commit {
        let now = self.now();
        let sent = self.shared().cookie_sent();
        self.lock()
            .commit(sent, now, &*self.shared().config.backend)
    }

    /// [`commit`](Self::commit) by the handle's last holder, the response future once the
    /// handler has let go of its own: the state is reached without taking the lock, and knowing
    /// it is the last holder costs a load (the handle's `Arc` has no weak count to lock), where
    /// locking and unlocking take two atomic read-modify-writes. `None` when another holder
    /// remains, such as a task the handler spawned: the caller then commits through the lock.
    pub(crate) fn commit_unshared(&mut self) -> Option<Commit> {
        let shared = &mut triomphe::Arc::get_mut(&mut self.block)?.header;
        let now = match *shared.now.get_mut() {
            0 => shared.config.now(),
            now => now,
        };
        let sent = shared.cookie_sent();
        let state = shared
            .state
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(state.commit(sent, now, &*shared.config.backend))
    }
}

impl State {
    /// What the request's changes call for (see [`SessionDict::commit`]); `sent`: a session
    /// cookie came with the request. The loaded cookie, if it missed the verified-cookie cache,
    /// is filed with `backend` when the browser is to keep it.
    fn commit(&mut self, sent: bool, now: u64, backend: &dyn Backend) -> Commit {
        let remember = std::mem::take(&mut self.remember);
        if self.keep_cookies {
            // The browser keeps the cookie it sent.
            self.file(true, backend);
            return Commit {
                session: SessionCommit::Unchanged,
                remember: RememberUpdate::None,
                read: self.base.is_some(),
                now,
            };
        }
        let Some(_) = self.base else {
            // Never read: nothing to write, and the response does not depend on the cookie.
            return Commit {
                session: SessionCommit::Unchanged,
                remember,
                read: false,
                now,
            };
        };
        let write = self.change == Change::Modified || self.reissue;
        let empty = self.is_empty();
        let session = if self.change == Change::Deleted
            || (write && empty && sent && !self.foreign)
            || (self.change == Change::None && self.invalid)
        {
            SessionCommit::Delete
        } else if write && !empty {
            SessionCommit::Write {
                json: self.json.take().unwrap_or_else(|| self.to_json()),
                created: self.created,
            }
        } else {
            SessionCommit::Unchanged
        };
        let kept = match &session {
            SessionCommit::Unchanged => true,
            // A re-issue that cannot be kept (a large session written elsewhere: changes are
            // size-checked when made) leaves the browser its cookie (see `response::write`).
            SessionCommit::Write { json, created } => {
                self.change == Change::None
                    && self.unfiled.is_some()
                    && backend.check_size(json.len(), *created, now).is_err()
            }
            SessionCommit::Delete => false,
        };
        self.file(kept, backend);
        Commit {
            session,
            remember,
            read: true,
            now,
        }
    }

    /// Files the loaded cookie with `backend` if it missed the verified-cookie cache and the
    /// browser `kept` it; forgets it either way.
    fn file(&mut self, kept: bool, backend: &dyn Backend) {
        if let (Some(unfiled), Some(base), true) = (self.unfiled.take(), &self.base, kept) {
            backend.file(unfiled, base);
        }
    }

    /// The session as it was loaded, if this request kept each of `keys` as loaded: no login,
    /// `clear` or `delete` replaced it, and none of `keys` was set or removed.
    fn as_loaded(&self, keys: &[&str]) -> Option<&Members> {
        let kept = !self.replaced && keys.iter().all(|k| !self.changes.contains_key(*k));
        self.base.as_ref().filter(|_| kept)
    }

    /// The value under `key`, this request's changes first.
    fn get(&self, key: &str) -> Option<Member<'_>> {
        match self.changes.get(key) {
            Some(change) => change.as_ref().map(Member::Value),
            None => self.base.as_ref().and_then(|base| base.get(key)),
        }
    }

    /// The session's entries in key order: those of `base`, with this request's changes merged
    /// in (a change replaces the loaded value; a removal drops it). Both are sorted and each key
    /// is in each once, so no key comes out twice.
    fn entries(&self) -> impl Iterator<Item = (&str, Member<'_>)> {
        self.entries_with_text()
            .map(|(key, member, _)| (key, member))
    }

    /// [`entries`](Self::entries), each loaded one that the request did not change with its
    /// whole text (`"key":value`) when it can be copied as one piece.
    fn entries_with_text(&self) -> impl Iterator<Item = (&str, Member<'_>, Option<&str>)> {
        let mut base = self
            .base
            .iter()
            .flat_map(|base| base.iter_with_text())
            .peekable();
        let mut changes = self.changes.iter().peekable();
        std::iter::from_fn(move || loop {
            let next_change = changes.peek().map(|(changed, _)| changed.as_str());
            match (base.peek(), next_change) {
                (None, None) => return None,
                (Some(&(loaded, ..)), Some(changed)) if changed <= loaded => {
                    if changed == loaded {
                        base.next();
                    }
                }
                (Some(_), _) => return base.next(),
                (None, Some(_)) => {}
            }
            if let (key, Some(value)) = changes.next()? {
                return Some((key.as_str(), Member::Value(value), None));
            }
        })
    }

    fn is_empty(&self) -> bool {
        // A key this request set is there: no need to merge the loaded ones in to know it.
        if self.changes.values().any(Option::is_some) {
            return false;
        }
        match &self.base {
            Some(base) if self.changes.is_empty() => base.is_empty(),
            _ => self.entries().next().is_none(),
        }
    }

    fn len(&self) -> usize {
        match &self.base {
            Some(base) if self.changes.is_empty() => base.len(),
            _ => self.entries().count(),
        }
    }

    /// The session as compact JSON, without the crate's claims. Values the request did not
    /// change are copied as the cookie carried them, not decoded and serialised again.
    fn to_json(&self) -> Vec<u8> {
        let loaded = self.base.as_ref().map_or(0, Members::text_len);
        // Room for the changes and for the claims the cookie backend appends (56 bytes).
        let mut out = Vec::with_capacity(loaded + 16 * self.changes.len() + 2 + 64);
        out.push(b'{');
        match self.base.as_ref().and_then(Members::run) {
            Some(run) => self.splice(&run, &mut out),
            None => self.write_entries(&mut out),
        }
        out.push(b'}');
        out
    }

    /// Writes the members of `run` (the loaded ones, as this crate wrote them) with the changes
    /// merged in: each stretch of loaded members between two changes is copied as one piece,
    /// and only the changes' keys are compared, not every member's.
    fn splice(&self, run: &Run<'_>, out: &mut Vec<u8>) {
        let mut next = 0;
        for (key, change) in &self.changes {
            let (at, found) = run.position(next, key);
            if next < at {
                push_piece(out, run.text(next..at));
            }
            next = at + usize::from(found);
            if let Some(value) = change {
                push_member(out, key, Member::Value(value));
            }
        }
        if next < run.len() {
            push_piece(out, run.text(next..run.len()));
        }
    }

    /// Writes the entries one by one, each unchanged one as the cookie carried it.
    fn write_entries(&self, out: &mut Vec<u8>) {
        for (key, member, whole) in self.entries_with_text() {
            match whole {
                // A member the request did not change, copied as the cookie carried it.
                Some(whole) => push_piece(out, whole),
                None => push_member(out, key, member),
            }
        }
    }

    /// The session's JSON written both ways, and whether the loaded members form a run: for the
    /// tests that hold the splice to the member-by-member writer.
    #[cfg(test)]
    fn json_both_ways(&self) -> (Vec<u8>, Vec<u8>, bool) {
        let mut slow = vec![b'{'];
        self.write_entries(&mut slow);
        slow.push(b'}');
        let run = self.base.as_ref().and_then(Members::run).is_some();
        (self.to_json(), slow, run)
    }

    /// Removes `key`, which is in the session.
    fn remove(&mut self, key: &str) {
        self.changes.insert(key.to_owned(), None);
        self.json = None;
        self.change = Change::Modified;
    }

    /// Starts over from `map` (a login, a clear), with its JSON when the caller has it.
    fn set_base(&mut self, map: Map<String, Value>, json: Option<Vec<u8>>) {
        self.base = Some(Members::from_map(map));
        self.unfiled = None;
        self.changes.clear();
        self.json = json;
        self.replaced = true;
    }
}

impl fmt::Debug for SessionDict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys only: values may be personal data, and cookie values are credentials.
        let state = self.lock();
        let mut d = f.debug_struct("SessionDict");
        if state.base.is_some() {
            let keys: Vec<&str> = state.entries().map(|(k, _)| k).collect();
            d.field("keys", &keys);
        } else {
            d.field("keys", &"<not loaded>");
        }
        d.finish_non_exhaustive()
    }
}

/// Appends `text` (one or more whole members) to the object `out` has begun, after a comma unless
/// it is the first.
fn push_piece(out: &mut Vec<u8>, text: &str) {
    if out.len() > 1 {
        out.push(b',');
    }
    out.extend_from_slice(text.as_bytes());
}

/// Appends the member `key`: `member` to the object `out` has begun.
fn push_member(out: &mut Vec<u8>, key: &str, member: Member<'_>) {
    if out.len() > 1 {
        out.push(b',');
    }
    write_key(out, key);
    out.push(b':');
    member.write(out);
}

/// Writes `key` as a JSON string: as it is when it needs no escaping (most keys), else through
/// `serde_json`.
fn write_key(out: &mut Vec<u8>, key: &str) {
    // What `serde_json` escapes: control characters, quotes and backslashes.
    let plain = key.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if plain {
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.push(b'"');
    } else {
        // Serialising a string into memory cannot fail.
        let _ = serde_json::to_writer(&mut *out, key);
    }
}

/// Keys the application may not change: the crate's own (`_…`) and the time claims.
fn check_public(key: &str) -> Result<(), Error> {
    if key.starts_with('_') || CLAIMS.contains(&key) {
        Err(Error::ReservedKey)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one session cookie a request sends is kept as the handle's block's text; none, or
    /// several, apart; each read back as it was sent.
    #[test]
    fn the_session_cookie_sent_is_read_back_from_the_handles_block() {
        let layer = crate::SessionLayer::builder(crate::Key::generate())
            .build()
            .unwrap();
        let handle = |cookies: &[&str]| {
            let mut headers = HeaderMap::new();
            for cookie in cookies {
                headers.append(http::header::COOKIE, cookie.parse().unwrap());
            }
            SessionDict::new(Arc::clone(&layer.config), &headers)
        };
        let sent = |session: &SessionDict| {
            let in_block = matches!(session.shared().sent, Sent::One);
            let values = session.with_sent(|sent| sent.iter().map(|v| v.to_string()).collect());
            (in_block, session.session_cookie_sent(), values)
        };
        let none: Vec<String> = vec![];
        assert_eq!(sent(&handle(&[])), (false, false, none.clone()));
        assert_eq!(sent(&handle(&["other=1"])), (false, false, none));
        let one = handle(&["a=1; session=tok.en; b=2"]);
        assert_eq!(sent(&one), (true, true, vec!["tok.en".to_owned()]));
        assert_eq!(&one.block.slice, "tok.en");
        let two = handle(&["session=one", "session=two"]);
        assert_eq!(
            sent(&two),
            (false, true, vec!["one".to_owned(), "two".to_owned()])
        );
    }
}
