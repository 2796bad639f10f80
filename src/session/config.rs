//! `SessionConfig`: what a built [`SessionLayer`](crate::SessionLayer) shares with its services and
//! every request's handle, behind one `Arc`.

use std::fmt;
use std::sync::Arc;

use super::backend::Backend;
use super::tracker::Tracker;
use crate::clock::Clock;
use crate::cookie::scope::CookieScope;
use crate::key::KeySet;
use crate::registry::Registry;
use crate::store::{SessionStore, StoreFailure};

/// Makes the response sent when the registry or the store does not answer.
#[derive(Clone)]
pub(crate) struct UnavailableHook(
    pub(crate) Arc<dyn Fn() -> http::Response<bytes::Bytes> + Send + Sync>,
);

impl fmt::Debug for UnavailableHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fn() -> Response")
    }
}

pub(crate) struct SessionConfig {
    /// Where sessions are kept.
    pub(crate) backend: Box<dyn Backend>,
    /// The current key first, then the fallbacks: for remember-me tokens and auth-hash tags.
    pub(crate) keys: KeySet,
    pub(crate) session_name: String,
    pub(crate) remember_name: String,
    /// The attributes both cookies share.
    pub(crate) scope: CookieScope,
    /// `Max-Age` of the session cookie, in seconds; `None` for a browser-session cookie.
    pub(crate) max_age: Option<u64>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) leeway: u64,
    /// Accept logins without an auth-hash tag (Microdot's) and tag them on first sight.
    pub(crate) adopt_untagged_logins: bool,
    /// Where logins are tracked; `None` for stateless sessions.
    pub(crate) registry: Option<Arc<dyn Registry>>,
    /// The login tracking that runs around the inner service, with a registry.
    pub(crate) tracker: Option<Arc<dyn Tracker>>,
    /// Where the sessions' data lives, with server-side placement; the cookie then carries an id.
    pub(crate) store: Option<Arc<dyn SessionStore>>,
    /// What a failed save after the inner service answered does.
    pub(crate) store_failure: StoreFailure,
    /// The response when the registry or the store does not answer; `None`: a plain `503`.
    pub(crate) unavailable: Option<UnavailableHook>,
    /// The session's idle and absolute timeouts, in seconds (the registry's entries end with
    /// them).
    pub(crate) idle_timeout: Option<u64>,
    pub(crate) absolute_timeout: Option<u64>,
}

impl SessionConfig {
    pub(crate) fn now(&self) -> u64 {
        self.clock.now()
    }
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("backend", &self.backend)
            .field("session_name", &self.session_name)
            .field("remember_name", &self.remember_name)
            .field("scope", &self.scope)
            .field("max_age", &self.max_age)
            .field("clock", &self.clock)
            .field("leeway", &self.leeway)
            .field("adopt_untagged_logins", &self.adopt_untagged_logins)
            .field("registry", &self.registry)
            .field("store", &self.store)
            .field("store_failure", &self.store_failure)
            .field("unavailable", &self.unavailable)
            .finish_non_exhaustive()
    }
}
