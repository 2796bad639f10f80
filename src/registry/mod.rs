//! The session registry: which logins are live, so that one can be revoked.
//!
//! A signed cookie cannot be revoked: a copy stays valid until its deadline. With a registry,
//! every login gets a random id that its session cookie carries (and every remember-me cookie an id
//! of its own); the registry keeps one entry per id, and a cookie whose id it does not know reads
//! as logged out. Logging out, revoking a device or "log out everywhere else" remove entries.
//!
//! The registry knows nothing of cookies or logins: it keeps [`RegistryEntry`]s under a user key and
//! an entry id, both strings the crate derives (a digest of the user's id, and the SHA-256 of the
//! secret id the cookie carries, so the registry never holds a value that would let anyone forge
//! or replay a cookie). All of one user's entries sit under one user key, so an implementation
//! can make every operation on them atomic (on Redis, one key, one hash slot).

mod memory;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod redis_store;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

#[cfg(feature = "redis")]
pub use self::redis::{RedisRegistry, RedisRegistryBuilder};
pub use memory::MemoryRegistry;

/// The future a [`Registry`] method returns.
pub type RegistryFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, RegistryError>> + Send + 'a>>;

/// Where the live logins are kept: [`MemoryRegistry`] in the process, or `RedisRegistry` (feature
/// `redis`) shared by every instance of a service.
///
/// Install one with [`SessionLayerBuilder::registry`](crate::SessionLayerBuilder::registry). The
/// crate calls these methods; an application calls the login functions
/// ([`list_sessions`](crate::list_sessions), [`revoke_session`](crate::revoke_session), …).
///
/// To keep logins somewhere else, implement this trait. Every method is about one user's entries
/// and must be atomic for them; `now` is the layer's clock, and an entry whose
/// [`expires`](RegistryEntry::expires) is at or before `now` must read as absent. A method that
/// cannot answer returns [`RegistryError`]: the request is then answered `503` and no cookie is
/// changed, so a registry outage never logs anyone out.
pub trait Registry: fmt::Debug + Send + Sync + 'static {
    /// The live entries under `ids`, in the same order, `None` for an id that is unknown, removed
    /// or expired. One round trip.
    fn get<'a>(
        &'a self,
        user: &'a str,
        ids: &'a [&'a str],
        now: u64,
    ) -> RegistryFuture<'a, Vec<Option<RegistryEntry>>>;

    /// Adds `entry` under `id`. An entry already there is kept as it is: adding is idempotent and
    /// never overwrites, so two requests that add the same id agree.
    fn insert<'a>(
        &'a self,
        user: &'a str,
        id: &'a str,
        entry: &'a RegistryEntry,
        now: u64,
    ) -> RegistryFuture<'a, ()>;

    /// Sets the `last_seen` of the entry under `id`, if it is still there (never recreates it).
    fn touch<'a>(
        &'a self,
        user: &'a str,
        id: &'a str,
        last_seen: u64,
        now: u64,
    ) -> RegistryFuture<'a, ()>;

    /// Uses the remember-me entry under `old` to log in, rotating it to `new`:
    ///
    /// - `old` is absent, or not a remember-me entry: [`Rotation::Unknown`];
    /// - `old` was never used: it records `new` as its successor and `now` as the time it was
    ///   used, `successor` is added under `new` (unless already there), and the answer is
    ///   [`Rotation::Rotated`];
    /// - `old` was used before, with the same successor, no more than `grace` seconds ago (parallel
    ///   requests with one cookie): [`Rotation::Repeated`];
    /// - otherwise (a superseded token replayed): every remember-me entry of the user is removed
    ///   (as [`remove`](Self::remove) does: tombstones), and the answer is
    ///   [`Rotation::Replayed`].
    fn rotate<'a>(
        &'a self,
        user: &'a str,
        old: &'a str,
        new: &'a str,
        successor: &'a RegistryEntry,
        now: u64,
        grace: u64,
    ) -> RegistryFuture<'a, Rotation>;

    /// Removes the entries `which` selects; returns how many were removed.
    ///
    /// A remember-me entry leaves a tombstone until its `expires`: it reads as absent in
    /// [`get`](Self::get) and [`list`](Self::list), [`insert`](Self::insert) under its id changes
    /// nothing, and [`rotate`](Self::rotate) answers [`Rotation::Unknown`]. A remember-me cookie
    /// the registry adopted (one without an id of its own) is so never adopted again once revoked.
    fn remove<'a>(
        &'a self,
        user: &'a str,
        which: &'a Removal,
        now: u64,
    ) -> RegistryFuture<'a, usize>;

    /// Every live entry of `user`, with its id, in no particular order.
    fn list<'a>(
        &'a self,
        user: &'a str,
        now: u64,
    ) -> RegistryFuture<'a, Vec<(String, RegistryEntry)>>;
}

/// What a registry keeps for one session or remember-me cookie.
///
/// Every entry belongs to a *device*: a login in one browser, kept across the sessions that its
/// remember-me cookie restores. The device id is public (pages list it, forms post it back to
/// revoke it); the entry's own id, the digest of the cookie's secret, never leaves the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryEntry {
    /// A session cookie's entry, or a remember-me cookie's.
    pub kind: EntryKind,
    /// The public id of the device (the login) the entry belongs to.
    pub device: String,
    /// When the login began, in seconds since the Unix epoch.
    pub created: u64,
    /// When the entry was last used (updated at most once per quarter of the idle timeout).
    pub last_seen: u64,
    /// When the entry ends; it reads as absent from then on.
    pub expires: u64,
    /// A short summary of the browser's `User-Agent` ("Firefox on Linux").
    pub user_agent: String,
    /// For a remember-me entry that was used: its successor's id and when it was used.
    pub rotated: Option<(String, u64)>,
}

/// The two kinds of [`RegistryEntry`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A session cookie's login.
    Session,
    /// A remember-me cookie.
    Remember,
}

/// Which entries [`Registry::remove`] removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Removal {
    /// These ids.
    Ids(Vec<String>),
    /// Every entry of this device.
    Device(String),
    /// Every entry of every device but this one.
    AllDevicesBut(String),
    /// Every remember-me entry.
    Remember,
}

/// What [`Registry::rotate`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The token was used for the first time; its successor was added.
    Rotated,
    /// The token was used moments ago with the same successor (parallel requests).
    Repeated,
    /// A superseded token came back after the grace window: every remember-me entry of the user
    /// was removed.
    Replayed,
    /// No such remember-me entry: revoked, expired or never known.
    Unknown,
}

/// A registry that did not answer (unreachable, timed out, or an answer it could not read).
///
/// It never carries the backend's message, which may quote a connection string: the crate logs
/// only [`kind`](Self::kind).
#[derive(Debug)]
pub struct RegistryError {
    kind: &'static str,
}

impl RegistryError {
    /// An error of the given kind, a short fixed description such as `"timed out"`.
    #[must_use]
    pub fn new(kind: &'static str) -> RegistryError {
        RegistryError { kind }
    }

    /// What kind of failure it was.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session registry unavailable: {}", self.kind)
    }
}

impl std::error::Error for RegistryError {}

/// Whether `entry` is a revoked remember-me entry's tombstone: used, with no successor.
pub(crate) fn is_tombstone(entry: &RegistryEntry) -> bool {
    entry
        .rotated
        .as_ref()
        .is_some_and(|(next, _)| next.is_empty())
}
