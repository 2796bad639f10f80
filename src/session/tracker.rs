//! The seam between the session middleware and login tracking: what the session service awaits
//! before and after the inner service when a registry is configured. The login code implements
//! it (it knows which keys make a login); the session code only runs it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::registry::RegistryError;
use crate::SessionDict;

/// A tracking step's future.
pub(crate) type TrackFuture = Pin<Box<dyn Future<Output = Result<(), RegistryError>> + Send>>;

/// Checks a request's logins against the registry, and records what the request changed.
pub(crate) trait Tracker: fmt::Debug + Send + Sync + 'static {
    /// Before the inner service: checks the logins the request's cookies carry, and makes any the
    /// registry does not know read as logged out. `None` when there is nothing to check (no login
    /// cookie), so the request never waits on the registry.
    fn check(&self, session: &SessionDict) -> Option<TrackFuture>;

    /// After the inner service: records the request's logins and logouts. `None` when the request
    /// changed nothing the registry keeps.
    fn commit(&self, session: &SessionDict) -> Option<TrackFuture>;
}

/// What the registry said of one request's login: written by the check, read by the login
/// functions and the commit. A login the registry cannot know (written by a stateless layer or by
/// Microdot, without `_sid`) has none, and is registered by the commit.
#[derive(Debug, Default)]
pub(crate) struct Tracked {
    /// The live login the session cookie carried, or the one restored from a remember-me cookie
    /// before the inner service was called.
    pub(crate) login: Option<TrackedLogin>,
}

/// A login the registry knows.
#[derive(Clone)]
pub(crate) struct TrackedLogin {
    /// Its registry key, entry id and `_sid` (shared with the cached session's memo).
    pub(crate) keys: Arc<LoginKeys>,
    /// The public id of its device.
    pub(crate) device: String,
    /// When the registry last saw it.
    pub(crate) last_seen: u64,
}

impl fmt::Debug for TrackedLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackedLogin")
            .field("keys", &self.keys)
            .field("device", &self.device)
            .field("last_seen", &self.last_seen)
            .finish()
    }
}

/// What a tracked login is known by in the registry, derived from the session's `_user_id` and
/// `_sid`.
pub(crate) struct LoginKeys {
    /// The registry's key of the user.
    pub(crate) user: String,
    /// The registry's id of the login: the SHA-256 of `sid`.
    pub(crate) id: String,
    /// The `_sid` the cookie carried (a secret: never logged).
    pub(crate) sid: String,
}

impl LoginKeys {
    /// What the keys take on the heap in an `Arc`, with the allocator's rounding.
    pub(crate) fn heap_bytes(&self) -> usize {
        use crate::cache::allocation;
        crate::token::members::arc_heap_bytes::<LoginKeys>()
            + allocation(self.user.capacity())
            + allocation(self.id.capacity())
            + allocation(self.sid.capacity())
    }
}

impl fmt::Debug for LoginKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the `_sid`: it is the login's secret.
        f.debug_struct("LoginKeys")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}
