//! `SessionDict`: the handle a handler reads and writes the session through.

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use http::header::{CACHE_CONTROL, SET_COOKIE, VARY};
use http::{HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use super::layer::{SessionConfig, MAX_COOKIE_LEN};
use crate::codec::{self, Rejection};
use crate::{cookie_header, Error};

/// Registered JWT time claims: checked when a cookie is read, never shown to the application.
const TIME_CLAIMS: [&str; 3] = ["exp", "nbf", "iat"];

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
    shared: Arc<Shared>,
}

struct Shared {
    config: Arc<SessionConfig>,
    /// Values of the cookies with the session's name, not yet verified.
    candidates: Vec<Box<str>>,
    /// Values of the cookies with the remember cookie's name, not yet verified.
    remember_candidates: Vec<Box<str>>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// `None` until the first access decodes the cookie.
    map: Option<Map<String, Value>>,
    change: Change,
    /// The cookie verified under a fallback key: write it again under the current key.
    reissue: bool,
    /// A session cookie was sent but none verified: delete it.
    invalid: bool,
    remember: RememberUpdate,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Change {
    #[default]
    None,
    Modified,
    Deleted,
}

/// What the response does to the remember-me cookie.
#[derive(Default)]
pub(crate) enum RememberUpdate {
    #[default]
    None,
    Set {
        value: String,
        max_age: u64,
    },
    Delete,
}

impl SessionDict {
    pub(crate) fn new(config: Arc<SessionConfig>, headers: &HeaderMap) -> SessionDict {
        let candidates = cookie_header::find(
            headers,
            &config.session.name,
            SessionConfig::max_value_len(&config.session.name),
        );
        let remember_candidates = cookie_header::find(
            headers,
            &config.remember_name,
            SessionConfig::max_value_len(&config.remember_name),
        );
        SessionDict {
            shared: Arc::new(Shared {
                config,
                candidates,
                remember_candidates,
                state: Mutex::new(State::default()),
            }),
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
        match state.map().get(key) {
            Some(value) => T::deserialize(value).map(Some).map_err(Error::Deserialize),
            None => Ok(None),
        }
    }

    /// Stores `value` under `key`, replacing what was there.
    ///
    /// # Errors
    ///
    /// - [`Error::ReservedKey`] when `key` begins with `_`;
    /// - [`Error::Serialize`] when `value` cannot be serialised to JSON;
    /// - [`Error::SessionTooLarge`] when the session's cookie would be longer than browsers keep
    ///   (4096 bytes for name and value). The session is then left as it was, so the browser keeps
    ///   its previous cookie: nothing is lost silently.
    pub fn insert(&self, key: &str, value: impl Serialize) -> Result<(), Error> {
        check_public(key)?;
        let value = serde_json::to_value(value).map_err(Error::Serialize)?;
        self.insert_value(key, value)
    }

    /// Removes `key`, returning its value if it had one.
    ///
    /// # Errors
    ///
    /// [`Error::ReservedKey`] when `key` begins with `_`.
    pub fn remove(&self, key: &str) -> Result<Option<Value>, Error> {
        check_public(key)?;
        Ok(self.remove_value(key))
    }

    /// Whether the session has a value under `key`.
    #[must_use]
    pub fn contains_key(&self, key: &str) -> bool {
        self.load().map().contains_key(key)
    }

    /// How many keys the session holds, the crate's own included.
    #[must_use]
    pub fn len(&self) -> usize {
        self.load().map().len()
    }

    /// Whether the session holds nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.load().map().is_empty()
    }

    /// The session's keys, in sorted order.
    #[must_use]
    pub fn keys(&self) -> Vec<String> {
        self.load().map().keys().cloned().collect()
    }

    /// Removes every key, the crate's own too (so a logged-in user is logged out of this session,
    /// though a remember-me cookie would log them in again: use
    /// [`logout_user`](crate::logout_user) to log out).
    pub fn clear(&self) {
        let mut state = self.load();
        if !state.map().is_empty() {
            state.map_mut().clear();
            state.change = Change::Modified;
        }
    }

    /// Empties the session and deletes its cookie from the browser (Microdot's
    /// `SessionDict.delete`). A later write in the same request sets a new cookie instead.
    pub fn delete(&self) {
        let mut state = self.load();
        state.map_mut().clear();
        state.change = Change::Deleted;
    }

    // ---- for the crate's login functions ----

    /// Inserts without the reserved-key check.
    pub(crate) fn insert_value(&self, key: &str, value: Value) -> Result<(), Error> {
        let mut state = self.load();
        let old = state.map_mut().insert(key.to_owned(), value);
        if let Err(e) = self.check_size(state.map()) {
            match old {
                Some(old) => state.map_mut().insert(key.to_owned(), old),
                None => state.map_mut().remove(key),
            };
            return Err(e);
        }
        state.change = Change::Modified;
        Ok(())
    }

    /// Removes without the reserved-key check.
    pub(crate) fn remove_value(&self, key: &str) -> Option<Value> {
        let mut state = self.load();
        let old = state.map_mut().remove(key);
        if old.is_some() {
            state.change = Change::Modified;
        }
        old
    }

    /// Replaces the whole map at once (a login), keeping the size rule.
    pub(crate) fn replace(&self, map: Map<String, Value>) -> Result<(), Error> {
        self.check_size(&map)?;
        let mut state = self.load();
        *state.map_mut() = map;
        state.change = Change::Modified;
        Ok(())
    }

    /// A copy of the whole map.
    pub(crate) fn snapshot(&self) -> Map<String, Value> {
        self.load().map().clone()
    }

    pub(crate) fn config(&self) -> &SessionConfig {
        &self.shared.config
    }

    pub(crate) fn remember_candidates(&self) -> &[Box<str>] {
        &self.shared.remember_candidates
    }

    pub(crate) fn set_remember(&self, update: RememberUpdate) {
        self.lock().remember = update;
    }

    /// Whether this request has already scheduled a remember-me cookie.
    pub(crate) fn has_pending_remember(&self) -> bool {
        matches!(self.lock().remember, RememberUpdate::Set { .. })
    }

    // ---- decoding ----

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another holder of the lock leaves the state consistent (every change is
        // one assignment), so a poisoned lock is still usable.
        self.shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Locks the state, decoding the cookie on the first call.
    fn load(&self) -> MutexGuard<'_, State> {
        let mut state = self.lock();
        if state.map.is_none() {
            let (map, reissue, invalid) = self.decode();
            state.map = Some(map);
            state.reissue = reissue;
            state.invalid = invalid;
        }
        state
    }

    /// Verifies every candidate cookie. Exactly one distinct valid session is used; none, or
    /// several that disagree (a cookie tossed from a sibling domain), read as an empty session
    /// (SECURITY.md IN-02). Returns the map, whether to re-sign it under the current key, and
    /// whether a cookie was sent that did not verify.
    fn decode(&self) -> (Map<String, Value>, bool, bool) {
        let config = &self.shared.config;
        let mut found: Option<(Map<String, Value>, bool)> = None;
        let mut invalid = false;
        for candidate in &self.shared.candidates {
            match decode_session(candidate, config) {
                Ok((map, key_index)) => match &found {
                    Some((seen, _)) if *seen != map => {
                        tracing::debug!("conflicting session cookies; session ignored");
                        return (Map::new(), false, true);
                    }
                    Some(_) => {}
                    None => found = Some((map, key_index != 0)),
                },
                Err(rejection) => {
                    tracing::debug!(reason = rejection.class(), "session cookie rejected");
                    invalid = true;
                }
            }
        }
        match found {
            Some((map, reissue)) => (map, reissue, false),
            None => (Map::new(), false, invalid),
        }
    }

    // ---- writing the response ----

    fn check_size(&self, map: &Map<String, Value>) -> Result<(), Error> {
        let size = self.shared.config.session.name.len() + codec::encoded_len(json_len(map));
        if size > MAX_COOKIE_LEN {
            return Err(Error::SessionTooLarge {
                size,
                limit: MAX_COOKIE_LEN,
            });
        }
        Ok(())
    }

    /// Adds the `Set-Cookie` headers this request's changes call for.
    pub(crate) fn write_cookies(&self, headers: &mut HeaderMap) {
        let config = &self.shared.config;
        let mut state = self.lock();
        let had_cookie = !self.shared.candidates.is_empty();
        let mut wrote_auth_cookie = false;
        if let Some(map) = &state.map {
            let write = state.change == Change::Modified || state.reissue;
            if state.change == Change::Deleted
                || (write && map.is_empty() && had_cookie)
                || (state.change == Change::None && state.invalid)
            {
                headers.append(SET_COOKIE, config.removal_cookie(&config.session.name));
            } else if write && !map.is_empty() {
                let value = codec::encode(map, &config.keys[0]);
                headers.append(
                    SET_COOKIE,
                    config.set_cookie(&config.session.name, &value, config.max_age),
                );
                wrote_auth_cookie = true;
            }
            if !headers
                .get_all(VARY)
                .iter()
                .any(|v| v.as_bytes().eq_ignore_ascii_case(b"cookie"))
            {
                headers.append(VARY, HeaderValue::from_static("Cookie"));
            }
        }
        match std::mem::take(&mut state.remember) {
            RememberUpdate::None => {}
            RememberUpdate::Set { value, max_age } => {
                headers.append(
                    SET_COOKIE,
                    config.set_cookie(&config.remember_name, &value, Some(max_age)),
                );
                wrote_auth_cookie = true;
            }
            RememberUpdate::Delete => {
                headers.append(SET_COOKIE, config.removal_cookie(&config.remember_name));
            }
        }
        // Keep shared caches from storing a response that hands out a session (SECURITY.md CK-09).
        if wrote_auth_cookie && !headers.contains_key(CACHE_CONTROL) {
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
}

impl State {
    fn map(&self) -> &Map<String, Value> {
        self.map.as_ref().expect("loaded before use")
    }

    fn map_mut(&mut self) -> &mut Map<String, Value> {
        self.map.get_or_insert_with(Map::new)
    }
}

impl fmt::Debug for SessionDict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys only: values may be personal data, and cookie values are credentials.
        let state = self.lock();
        let mut d = f.debug_struct("SessionDict");
        match &state.map {
            Some(map) => d.field("keys", &map.keys().collect::<Vec<_>>()),
            None => d.field("keys", &"<not loaded>"),
        };
        d.finish_non_exhaustive()
    }
}

fn check_public(key: &str) -> Result<(), Error> {
    if key.starts_with('_') {
        Err(Error::ReservedKey)
    } else {
        Ok(())
    }
}

/// Verifies and decodes one session cookie value: MAC, header, payload, time claims.
fn decode_session(
    token: &str,
    config: &SessionConfig,
) -> Result<(Map<String, Value>, usize), Rejection> {
    let verified = codec::verify(token, &config.keys)?;
    let mut map = verified.payload()?;
    codec::check_time_claims(&map, config.now(), config.leeway)?;
    for claim in TIME_CLAIMS {
        map.remove(claim);
    }
    Ok((map, verified.key_index))
}

/// The length of `map` serialised as compact JSON, without allocating it.
fn json_len(map: &Map<String, Value>) -> usize {
    struct Counter(usize);
    impl io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a `Map<String, Value>` to a counter cannot fail.
    let _ = serde_json::to_writer(&mut counter, map);
    counter.0
}
