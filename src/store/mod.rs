//! Server-side session data: the session store.
//!
//! With [`SessionLayerBuilder::store`](crate::SessionLayerBuilder::store), the session cookie
//! carries only a signed id, and the session's data lives in a [`SessionStore`] under the SHA-256
//! of that id. A request's changes are saved as a [`SessionPatch`] (the keys it set and the keys
//! it removed), applied by the store to the record as it is at that moment: two requests that
//! change different keys both keep their change, and a save never brings back a record that was
//! deleted meanwhile.

mod memory;

use std::fmt;

use serde_json::{Map, Value};

pub use memory::MemoryStore;

use crate::registry::RegistryFuture;

/// Where server-side sessions are kept: [`MemoryStore`] in the process, or `RedisStore` (feature
/// `redis`) shared by every instance.
///
/// Every method must be atomic for its record; `id` is the SHA-256 (hex) of the secret id the
/// cookie carries, and `now` is the layer's clock. A record whose
/// [`expires`](StoredSession::expires) is at or before `now` must read as absent. A method that
/// cannot answer returns a [`RegistryError`](crate::RegistryError): before the inner service the
/// request is then answered `503`; after it, [`StoreFailure`] says what happens.
pub trait SessionStore: fmt::Debug + Send + Sync + 'static {
    /// The record under `id`, or `None` when there is none (never created, deleted, expired) or
    /// it cannot be read (corrupt: the store logs a `warn` event and the session starts anew).
    fn load<'a>(&'a self, id: &'a str, now: u64) -> RegistryFuture<'a, Option<StoredSession>>;

    /// Creates the record `session` under `id`, at version 1; returns `false` and changes nothing
    /// when a record is already there (ids are random: that is a collision, never an overwrite).
    fn create<'a>(
        &'a self,
        id: &'a str,
        session: &'a StoredSession,
        now: u64,
    ) -> RegistryFuture<'a, bool>;

    /// Applies `patch` to the record under `id` as it is now, and increments its version:
    /// [`Saved::Merged`] when the version was no longer `patch.loaded_version` (another request
    /// saved in between: its changes to other keys stay, and for a key both changed, this later
    /// save wins). [`Saved::Gone`] when there is no record: it was deleted (a logout that ended the
    /// session, a revocation) or expired, and it is not brought back.
    fn save<'a>(
        &'a self,
        id: &'a str,
        patch: &'a SessionPatch,
        now: u64,
    ) -> RegistryFuture<'a, Saved>;

    /// Deletes the record under `id`, if any.
    fn delete<'a>(&'a self, id: &'a str) -> RegistryFuture<'a, ()>;
}

/// One server-side session.
#[derive(Clone, PartialEq)]
pub struct StoredSession {
    /// The session map, the crate's `_…` keys included.
    pub data: Map<String, Value>,
    /// Incremented by every save; 1 when created.
    pub version: u64,
    /// When the session began, in seconds since the Unix epoch.
    pub created: u64,
    /// When the record ends; it reads as absent from then on.
    pub expires: u64,
}

impl fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys only: values may be personal data.
        f.debug_struct("StoredSession")
            .field("keys", &self.data.keys().collect::<Vec<_>>())
            .field("version", &self.version)
            .field("created", &self.created)
            .field("expires", &self.expires)
            .finish()
    }
}

/// What one request changed in a server-side session.
#[derive(Clone, PartialEq, Default)]
pub struct SessionPatch {
    /// The version the request loaded.
    pub loaded_version: u64,
    /// The keys it set, with their new values.
    pub set: Map<String, Value>,
    /// The keys it removed.
    pub remove: Vec<String>,
    /// When the record ends after this save.
    pub expires: u64,
}

impl fmt::Debug for SessionPatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionPatch")
            .field("loaded_version", &self.loaded_version)
            .field("set", &self.set.keys().collect::<Vec<_>>())
            .field("remove", &self.remove)
            .field("expires", &self.expires)
            .finish()
    }
}

/// What [`SessionStore::save`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saved {
    /// Saved over the version the request loaded; the record is now at `version`.
    Saved {
        /// The record's new version.
        version: u64,
    },
    /// Saved over a newer version: another request saved in between.
    Merged {
        /// The record's new version.
        version: u64,
    },
    /// No such record: it was deleted or expired, and it stays so.
    Gone,
}

/// What a layer with a [`SessionStore`] does when saving a request's changes fails after the
/// inner service answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreFailure {
    /// Answer `503 Service Unavailable` with `Retry-After` instead of the inner service's
    /// response, and change no cookie: the client learns that its change was not kept and can
    /// try again. The default.
    #[default]
    Unavailable,
    /// Send the inner service's response as it is, without any `Set-Cookie`, and log an `error`
    /// event: the change is lost, but the response (which may report work done elsewhere) is
    /// not.
    KeepResponse,
}
