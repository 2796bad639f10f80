//! `SessionDict`: the handle a handler reads and writes the session through.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use http::header::{CACHE_CONTROL, SET_COOKIE, VARY};
use http::{HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use super::cache::Verified;
use super::layer::{SessionConfig, MAX_COOKIE_LEN};
use crate::codec::{self, Rejection};
use crate::{cookie_header, private, Error};

/// Time claims: checked when a cookie is read, written by the crate, never shown to the
/// application. `exp`, `nbf` and `iat` are JWT's; `_created` is the session's absolute anchor
/// (`iat`, renewed at every issue, is its idle anchor).
const CLAIMS: [&str; 4] = ["exp", "nbf", "iat", CREATED];
const CREATED: &str = "_created";

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
    /// The session as the cookie held it: `None` until the first access decodes the cookie.
    /// Shared with the verified-cookie cache, so never changed in place.
    base: Option<Arc<Map<String, Value>>>,
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
    /// When the session began (its absolute-timeout anchor); `None` until first written.
    created: Option<u64>,
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
        let [candidates, remember_candidates] =
            cookie_header::find_two(headers, [&config.session.name, &config.remember_name]);
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
        match state.get(key) {
            Some(value) => T::deserialize(value)
                .map(Some)
                .map_err(|_| Error::Deserialize),
            None => Ok(None),
        }
    }

    /// Stores `value` under `key`, replacing what was there.
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

    /// Removes `key`, returning its value if it had one.
    ///
    /// # Errors
    ///
    /// [`Error::ReservedKey`] when `key` begins with `_` or is a time claim (`exp`, `nbf`, `iat`).
    pub fn remove(&self, key: &str) -> Result<Option<Value>, Error> {
        check_public(key)?;
        Ok(self.remove_value(key))
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
        self.load().len() == 0
    }

    /// The session's keys, in sorted order.
    #[must_use]
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.load().entries().map(|(k, _)| k.clone()).collect();
        keys.sort_unstable();
        keys
    }

    /// Removes every key, the crate's own too (so a logged-in user is logged out of this session,
    /// though a remember-me cookie would log them in again: use
    /// [`logout_user`](crate::logout_user) to log out).
    pub fn clear(&self) {
        let mut state = self.load();
        if state.len() != 0 {
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

    // ---- for the crate's login functions ----

    /// Inserts without the reserved-key check.
    pub(crate) fn insert_value(&self, key: &str, value: Value) -> Result<(), Error> {
        let mut state = self.load();
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
        let old = state.get(key).cloned();
        if old.is_some() {
            state.changes.insert(key.to_owned(), None);
            state.json = None;
            state.change = Change::Modified;
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
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
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
        if state.base.is_none() {
            let decoded = self.decode();
            state.base = Some(decoded.map);
            state.created = decoded.created;
            state.reissue = decoded.reissue;
            state.invalid = decoded.invalid;
        }
        state
    }

    /// Verifies every candidate cookie. Exactly one distinct valid session is used; none, or
    /// several that disagree (a cookie tossed from a sibling domain), or more than
    /// `MAX_CANDIDATES`, read as an empty session (SECURITY.md IN-02). The cookie is deleted only
    /// when it was the only one sent: with several, a removal would hit this host's cookie and
    /// leave a tossed one in place.
    fn decode(&self) -> Loaded {
        let config = &self.shared.config;
        let candidates = &self.shared.candidates;
        if candidates.len() > cookie_header::MAX_CANDIDATES {
            tracing::debug!("too many session cookies; session ignored");
            return Loaded::default();
        }
        let now = config.now();
        let mut found: Option<Arc<Verified>> = None;
        let mut invalid = false;
        for candidate in candidates {
            let decoded = match config.cache.get(candidate.as_bytes()) {
                Some(hit) => hit.check_time(now).map(|()| hit),
                None => decode_session(candidate, config, now).map(|decoded| {
                    let decoded = Arc::new(decoded);
                    config
                        .cache
                        .insert(candidate.as_bytes(), Arc::clone(&decoded));
                    decoded
                }),
            };
            match decoded {
                Ok(decoded) => match &found {
                    Some(seen) if seen.map != decoded.map => {
                        tracing::debug!("conflicting session cookies; session ignored");
                        return Loaded::default();
                    }
                    Some(_) => {}
                    None => found = Some(decoded),
                },
                Err(rejection) => {
                    tracing::debug!(reason = rejection.class(), "session cookie rejected");
                    invalid = true;
                }
            }
        }
        let Some(found) = found else {
            return Loaded {
                invalid: invalid && candidates.len() == 1,
                ..Loaded::default()
            };
        };
        let fallback_key = found.key_index != 0;
        let reissue = fallback_key || config.refresh_due(found.created, found.issued, now);
        if reissue {
            tracing::debug!(fallback_key, "session cookie re-issued");
        }
        Loaded {
            map: Arc::clone(&found.map),
            created: found.created,
            reissue,
            invalid: false,
        }
    }

    // ---- writing the response ----

    /// Whether a session of `json_len` bytes of JSON (without the crate's claims) fits in a
    /// cookie once the claims are added and it is sealed.
    fn check_size(&self, json_len: usize, created: Option<u64>) -> Result<(), Error> {
        let config = &self.shared.config;
        let now = config.now();
        let json = json_len + 1 + config.claims_len(created.unwrap_or(now), now);
        let size = config.session.name.len() + sealed_len(config, json);
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
        if state.base.is_some() {
            let write = state.change == Change::Modified || state.reissue;
            let empty = state.len() == 0;
            if state.change == Change::Deleted
                || (write && empty && had_cookie)
                || (state.change == Change::None && state.invalid)
            {
                headers.append(SET_COOKIE, config.removal_cookie(&config.session.name));
            } else if write && !empty {
                let now = config.now();
                let created = state.created.unwrap_or(now);
                let json = state.json.take().unwrap_or_else(|| state.to_json());
                let json = with_claims(json, |out| config.push_claims(created, now, out));
                let value = seal(config, &json);
                if config.session.name.len() + value.len() > MAX_COOKIE_LEN || value.is_empty() {
                    // Only a re-issue of a cookie written elsewhere (a large Microdot session)
                    // can get here: changes are size-checked when made. Browsers would drop it,
                    // so leave the one they have.
                    tracing::warn!("session cookie too large to re-issue; left unchanged");
                } else {
                    headers.append(
                        SET_COOKIE,
                        config.set_cookie(&config.session.name, &value, config.max_age),
                    );
                    wrote_auth_cookie = true;
                }
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
    /// The value under `key`, this request's changes first.
    fn get(&self, key: &str) -> Option<&Value> {
        match self.changes.get(key) {
            Some(change) => change.as_ref(),
            None => self.base.as_deref().and_then(|base| base.get(key)),
        }
    }

    /// The session's entries: those of `base` that were not changed, then the ones set by this
    /// request. Does not rely on either map's order, so no key can come out twice.
    fn entries(&self) -> impl Iterator<Item = (&String, &Value)> {
        let unchanged = self
            .base
            .iter()
            .flat_map(|base| base.iter())
            .filter(|(k, _)| !self.changes.contains_key(*k));
        let set = self
            .changes
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)));
        unchanged.chain(set)
    }

    fn len(&self) -> usize {
        match &self.base {
            Some(base) if self.changes.is_empty() => base.len(),
            _ => self.entries().count(),
        }
    }

    /// The session as compact JSON, without the crate's claims.
    fn to_json(&self) -> Vec<u8> {
        struct Entries<'s>(&'s State);
        impl Serialize for Entries<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_map(self.0.entries())
            }
        }
        // Serialising string keys and `Value`s into memory cannot fail.
        serde_json::to_vec(&Entries(self)).unwrap_or_else(|_| b"{}".to_vec())
    }

    /// Starts over from `map` (a login, a clear), with its JSON when the caller has it.
    fn set_base(&mut self, map: Map<String, Value>, json: Option<Vec<u8>>) {
        self.base = Some(Arc::new(map));
        self.changes.clear();
        self.json = json;
    }
}

impl fmt::Debug for SessionDict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys only: values may be personal data, and cookie values are credentials.
        let state = self.lock();
        let mut d = f.debug_struct("SessionDict");
        if state.base.is_some() {
            let mut keys: Vec<&String> = state.entries().map(|(k, _)| k).collect();
            keys.sort_unstable();
            d.field("keys", &keys);
        } else {
            d.field("keys", &"<not loaded>");
        }
        d.finish_non_exhaustive()
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

/// What [`SessionDict::load`] keeps of the cookies.
#[derive(Default)]
struct Loaded {
    map: Arc<Map<String, Value>>,
    created: Option<u64>,
    reissue: bool,
    invalid: bool,
}

/// Verifies and decodes one session cookie value: MAC (or AEAD tag), payload, time claims, and
/// the idle and absolute timeouts from the signed anchors (SECURITY.md JWT-07, JWT-09, SES-03 to
/// SES-05).
fn decode_session(token: &str, config: &SessionConfig, now: u64) -> Result<Verified, Rejection> {
    let (mut map, key_index) = if config.private {
        let (json, key_index) = private::open(token, &config.keys, &config.session.name)?;
        let map = serde_json::from_slice(&json).map_err(|_| Rejection::BadPayload)?;
        (map, key_index)
    } else {
        let verified = codec::verify(token, &config.keys)?;
        (verified.payload()?, verified.key_index)
    };
    if crate::login::is_remember_shaped(&map) {
        // A remember-me token is never a session (SECURITY.md JWT-10, the other direction).
        return Err(Rejection::BadPayload);
    }
    codec::check_time_claims(&map, now, config.leeway)?;
    let anchor = |name: &str| -> Result<Option<u64>, Rejection> {
        map.get(name)
            .map(|v| codec::numeric_date(v).map(|t| t as u64))
            .transpose()
    };
    let (issued, created) = (anchor("iat")?, anchor(CREATED)?);
    if !config.claimless_sessions && (issued.is_none() || created.is_none()) {
        return Err(Rejection::BadClaims);
    }
    let leeway = config.leeway as f64;
    let deadline = |anchor: Option<u64>, timeout: Option<u64>| match (anchor, timeout) {
        (Some(a), Some(t)) => Some(a.saturating_add(t) as f64),
        _ => None,
    };
    let claim = |name: &str| map.get(name).and_then(Value::as_f64);
    let expires_at = [
        claim("exp").map(|exp| exp + leeway),
        deadline(issued, config.idle_timeout),
        deadline(created, config.absolute_timeout),
    ]
    .into_iter()
    .flatten()
    .reduce(f64::min);
    let valid_from = [claim("nbf"), claim("iat")]
        .into_iter()
        .flatten()
        .reduce(f64::max)
        .map(|t| t - leeway);
    for claim in CLAIMS {
        map.remove(claim);
    }
    let verified = Verified {
        map: Arc::new(map),
        key_index,
        created,
        issued,
        expires_at,
        valid_from,
    };
    verified.check_time(now)?;
    Ok(verified)
}

/// A session cookie value for `json` under the current key: signed (Microdot's format) or, in
/// private mode, encrypted.
fn seal(config: &SessionConfig, json: &[u8]) -> String {
    if config.private {
        private::seal(json, &config.keys[0], &config.session.name)
    } else {
        codec::encode_json(json, &config.keys[0])
    }
}

/// The length of what [`seal`] makes of `json_len` bytes of JSON.
fn sealed_len(config: &SessionConfig, json_len: usize) -> usize {
    if config.private {
        private::encoded_len(json_len)
    } else {
        codec::encoded_len(json_len)
    }
}

/// `json` (a serialised object) with the crate's claims, written by `push_claims`, added as its
/// last members.
fn with_claims(mut json: Vec<u8>, push_claims: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    json.reserve(64); // a comma and the claims: 56 bytes with ten-digit times
    json.pop(); // the closing brace
    if json.len() > 1 {
        json.push(b',');
    }
    push_claims(&mut json);
    json.push(b'}');
    json
}

#[cfg(test)]
mod properties {
    //! SECURITY.md 4.2: properties of the session codec, signed and private.
    use super::*;
    use crate::{Key, SessionLayer};
    use proptest::prelude::*;
    use std::sync::Arc;

    const NOW: u64 = 1_800_000_000;

    #[derive(Debug)]
    struct Fixed(u64);
    impl crate::Clock for Fixed {
        fn now(&self) -> u64 {
            self.0
        }
    }

    fn config(keys: &[Key], private: bool, now: u64) -> Arc<SessionConfig> {
        SessionLayer::builder(keys[0].clone())
            .fallback_keys(keys[1..].iter().cloned())
            .private(private)
            .clock(Fixed(now))
            .build()
            .unwrap()
            .config
    }

    fn encode(map: &Map<String, Value>, config: &SessionConfig, now: u64) -> String {
        let json = serde_json::to_vec(map).unwrap();
        seal(
            config,
            &with_claims(json, |out| config.push_claims(now, now, out)),
        )
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e15f64..1e15).prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn session_map() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::btree_map("[a-zA-Zé✓ ][a-zA-Z0-9_é✓ ]{0,10}", json_value(), 1..6)
            .prop_map(|m| m.into_iter().collect())
    }

    fn keys() -> Vec<Key> {
        vec![Key::generate(), Key::generate()]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// (1) Round trip, minus the crate's time claims; and (5) emitter hygiene.
        #[test]
        fn round_trip_and_emitter_hygiene(map in session_map(), private in any::<bool>()) {
            let keys = keys();
            let config = config(&keys, private, NOW);
            let token = encode(&map, &config, NOW);
            let decoded = decode_session(&token, &config, NOW).unwrap();
            prop_assert_eq!(decoded.map.as_ref(), &map);
            prop_assert_eq!(decoded.key_index, 0);

            // (5) What the response writes: cookie-octets, within 4096, parses back.
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::COOKIE, format!("session={token}").parse().unwrap());
            let session = SessionDict::new(config.clone(), &headers);
            session.insert("touched", true).unwrap();
            let mut out = http::HeaderMap::new();
            session.write_cookies(&mut out);
            let set = out.get(http::header::SET_COOKIE).unwrap().to_str().unwrap();
            let cookie = cookie::Cookie::parse(set).unwrap();
            prop_assert_eq!(cookie.name(), "session");
            prop_assert!(cookie.value().bytes().all(|b| matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)));
            prop_assert!(cookie.name().len() + cookie.value().len() <= 4096);
            prop_assert_eq!(cookie.secure(), Some(true));
            prop_assert_eq!(cookie.http_only(), Some(true));
        }

        /// (2) Tamper detection: flipping any bit, deleting or inserting any byte, or truncating
        /// is refused.
        #[test]
        fn tampering_is_refused(
            map in session_map(),
            private in any::<bool>(),
            index in any::<prop::sample::Index>(),
            bit in 0u8..8,
            byte in any::<u8>(),
        ) {
            let keys = keys();
            let config = config(&keys, private, NOW);
            let token = encode(&map, &config, NOW);
            let i = index.index(token.len());
            let mut bytes = token.clone().into_bytes();
            bytes[i] ^= 1 << bit;
            let flipped = String::from_utf8_lossy(&bytes);
            prop_assert!(decode_session(&flipped, &config, NOW).is_err(), "bit flip at {}", i);
            let mut deleted = token.clone().into_bytes();
            deleted.remove(i);
            prop_assert!(decode_session(&String::from_utf8_lossy(&deleted), &config, NOW).is_err());
            let mut inserted = token.clone().into_bytes();
            inserted.insert(i, byte);
            prop_assert!(decode_session(&String::from_utf8_lossy(&inserted), &config, NOW).is_err());
            prop_assert!(decode_session(&token[..i], &config, NOW).is_err());
        }

        /// (2) Swapping the payloads of two valid tokens is refused.
        #[test]
        fn segment_swap_is_refused(a in session_map(), b in session_map()) {
            prop_assume!(a != b);
            let keys = keys();
            let config = config(&keys, false, NOW);
            let (ta, tb) = (encode(&a, &config, NOW), encode(&b, &config, NOW));
            let pa: Vec<&str> = ta.split('.').collect();
            let pb: Vec<&str> = tb.split('.').collect();
            let swapped = format!("{}.{}.{}", pa[0], pb[1], pa[2]);
            prop_assert!(decode_session(&swapped, &config, NOW).is_err());
        }

        /// (3) Key separation, and session tokens are never remember-me tokens (JWT-10);
        /// (7) rotation: output verifies under the current key only.
        #[test]
        fn key_separation_and_rotation(map in session_map(), private in any::<bool>()) {
            let (k1, k2, k3) = (Key::generate(), Key::generate(), Key::generate());
            let rotated = config(&[k2.clone(), k1.clone()], private, NOW);
            let token = encode(&map, &rotated, NOW);
            prop_assert_eq!(decode_session(&token, &rotated, NOW).unwrap().key_index, 0);
            prop_assert!(decode_session(&token, &config(std::slice::from_ref(&k1), private, NOW), NOW).is_err());
            prop_assert!(decode_session(&token, &config(&[k3], private, NOW), NOW).is_err());
            prop_assert!(decode_session(&token, &config(std::slice::from_ref(&k2), private, NOW), NOW).is_ok());
            // Presented as a remember-me cookie, a session token logs nobody in.
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::COOKIE, format!("_remember={token}").parse().unwrap());
            let session = SessionDict::new(config(&[k2], private, NOW), &headers);
            prop_assert_eq!(crate::current_user_id::<Value>(&session), None);
        }

        /// (4) Never a panic on arbitrary input, in either format.
        #[test]
        fn arbitrary_input_never_panics(input in ".{0,300}", bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let config_signed = config(&keys(), false, NOW);
            let config_private = config(&keys(), true, NOW);
            for config in [&config_signed, &config_private] {
                prop_assert!(decode_session(&input, config, NOW).is_err());
                prop_assert!(decode_session(&String::from_utf8_lossy(&bytes), config, NOW).is_err());
            }
        }

        /// (8) Time monotonicity: valid before `exp`, invalid at every instant from it on.
        #[test]
        fn expiry_is_monotonic(map in session_map(), idle in 1u64..100_000, later in 0u64..10_000_000) {
            let keys = keys();
            let layer = SessionLayer::builder(keys[0].clone())
                .idle_timeout(std::time::Duration::from_secs(idle))
                .absolute_timeout(None)
                .build()
                .unwrap();
            let config = layer.config;
            let token = encode(&map, &config, NOW);
            prop_assert!(decode_session(&token, &config, NOW + idle - 1).is_ok());
            prop_assert!(decode_session(&token, &config, NOW + idle + later).is_err());
        }
    }

    /// One step of a handler's work on a session.
    #[derive(Debug, Clone)]
    enum Op {
        Insert(String, Value),
        Remove(String),
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        let key = "[a-e]{1,2}";
        prop_oneof![
            4 => (key, json_value()).prop_map(|(k, v)| Op::Insert(k, v)),
            2 => key.prop_map(Op::Remove),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The changes a request makes sit beside the shared, decoded map: whatever the order of
        /// inserts, removals and clears, the session reads, lists and writes exactly what a plain
        /// map given the same operations holds.
        #[test]
        fn changes_read_and_write_as_a_map(
            start in session_map(),
            ops in prop::collection::vec(op(), 0..12),
            private in any::<bool>(),
        ) {
            let keys = keys();
            let config = config(&keys, private, NOW);
            let token = encode(&start, &config, NOW);
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::COOKIE, format!("session={token}").parse().unwrap());
            let session = SessionDict::new(config.clone(), &headers);
            let mut model = start.clone();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        session.insert(&k, v.clone()).unwrap();
                        model.insert(k, v);
                    }
                    Op::Remove(k) => prop_assert_eq!(session.remove(&k).unwrap(), model.remove(&k)),
                    Op::Clear => {
                        session.clear();
                        model.clear();
                    }
                }
                for k in ["a", "b", "c", "d", "e", "aa"] {
                    prop_assert_eq!(session.get::<Value>(k).unwrap(), model.get(k).cloned());
                    prop_assert_eq!(session.contains_key(k), model.contains_key(k));
                }
                prop_assert_eq!(session.len(), model.len());
                prop_assert_eq!(session.is_empty(), model.is_empty());
                prop_assert_eq!(session.keys(), model.keys().cloned().collect::<Vec<_>>());
                prop_assert_eq!(&session.snapshot(), &model);
            }
            let mut out = http::HeaderMap::new();
            session.write_cookies(&mut out);
            let set = out.get(http::header::SET_COOKIE).map(|v| v.to_str().unwrap().to_owned());
            if model == start {
                // Nothing changed in effect; a write may still have been recorded.
                if let Some(set) = set.filter(|s| !s.starts_with("session=;")) {
                    let cookie = cookie::Cookie::parse(set).unwrap();
                    let decoded = decode_session(cookie.value(), &config, NOW).unwrap();
                    prop_assert_eq!(decoded.map.as_ref(), &model);
                }
            } else if model.is_empty() {
                prop_assert!(set.unwrap().starts_with("session=;"), "an emptied session is deleted");
            } else {
                let cookie = cookie::Cookie::parse(set.unwrap()).unwrap();
                let decoded = decode_session(cookie.value(), &config, NOW).unwrap();
                prop_assert_eq!(decoded.map.as_ref(), &model);
            }
        }

        /// The size check measures the claims without writing them: the same length, whatever the
        /// times and timeouts.
        #[test]
        fn claims_len_is_what_push_claims_writes(
            created in prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>(), 1_000_000_000u64..3_000_000_000],
            age in prop_oneof![Just(0u64), any::<u64>(), 0u64..100_000],
            idle in prop::option::of(1u64..=34_560_000),
            absolute in prop::option::of(1u64..=34_560_000),
        ) {
            let layer = SessionLayer::builder(Key::generate())
                .idle_timeout(idle.map(std::time::Duration::from_secs))
                .absolute_timeout(absolute.map(std::time::Duration::from_secs))
                .build()
                .unwrap();
            let config = layer.config;
            let now = created.saturating_add(age);
            let mut out = Vec::new();
            config.push_claims(created, now, &mut out);
            prop_assert_eq!(out.len(), config.claims_len(created, now));
            let members: Map<String, Value> =
                serde_json::from_slice(&[b"{", out.as_slice(), b"}"].concat()).unwrap();
            prop_assert_eq!(members.get("_created").and_then(Value::as_u64), Some(created));
            prop_assert_eq!(members.get("iat").and_then(Value::as_u64), Some(now));
            let exp = [idle.map(|t| now.saturating_add(t)), absolute.map(|t| created.saturating_add(t))]
                .into_iter()
                .flatten()
                .min();
            prop_assert_eq!(members.get("exp").and_then(Value::as_u64), exp);
        }
    }

    /// `Set-Cookie` is written without the `cookie` crate on each response; it must say exactly
    /// what the crate would.
    #[test]
    fn set_cookie_text_is_the_cookie_crates() {
        use crate::SameSite;
        let scopes = [
            SessionLayer::builder(Key::generate()),
            SessionLayer::builder(Key::generate())
                .cookie_name("__Host-session")
                .same_site(SameSite::Strict),
            SessionLayer::builder(Key::generate())
                .path("/app")
                .domain("example.com")
                .same_site(SameSite::None),
            SessionLayer::builder(Key::generate())
                .secure(false)
                .http_only(false),
        ];
        for builder in scopes {
            let config = builder.build().unwrap().config;
            let scope = &config.session;
            for max_age in [None, Some(0), Some(1_800), Some(u64::MAX)] {
                let ours = config.set_cookie(&scope.name, "eyJ.abc-_", max_age);
                let mut reference = scope.cookie(&scope.name, "eyJ.abc-_");
                if let Some(age) = max_age {
                    let age = age.min(crate::session::layer::MAX_COOKIE_AGE_SECS);
                    reference.set_max_age(cookie::time::Duration::seconds(age as i64));
                }
                assert_eq!(ours.to_str().unwrap(), reference.to_string());
                assert!(ours.is_sensitive());
            }
        }
    }

    #[test]
    fn decimals() {
        for n in [0, 1, 9, 10, 99, 100, 1_764_345_600, u64::MAX - 1, u64::MAX] {
            let mut out = b"x".to_vec();
            crate::session::layer::push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
            assert_eq!(crate::session::layer::decimal_len(n), n.to_string().len());
        }
    }
}
