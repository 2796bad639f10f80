//! `MemoryStore`: server-side sessions in the process's memory.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Saved, SessionPatch, SessionStore, StoredSession};
use crate::registry::RegistryFuture;

/// How many writes pass between two sweeps for expired records.
const SWEEP_EVERY: u64 = 1024;

/// Server-side sessions in this process's memory: nothing to run, and gone when the process ends.
/// For one instance; several instances share a `RedisStore` (feature `redis`).
///
/// Expired records are swept once per 1,024 writes, so no background task is needed. Clones share
/// the same records.
///
/// # Examples
///
/// ```
/// use tower_session_auth::{Key, MemoryStore, SessionLayer};
///
/// let layer = SessionLayer::builder(Key::generate())
///     .store(MemoryStore::new())
///     .build()?;
/// # Ok::<(), tower_session_auth::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    records: Mutex<HashMap<String, StoredSession>>,
    writes: AtomicU64,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("records", &self.lock().len())
            .finish()
    }
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, StoredSession>> {
        // Every change below is one assignment or removal: a poisoned map is still sound.
        self.inner
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Locks the records for a write, sweeping expired ones now and then.
    fn write(&self, now: u64) -> MutexGuard<'_, HashMap<String, StoredSession>> {
        let mut records = self.lock();
        if self.inner.writes.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            records.retain(|_, r| r.expires > now);
        }
        records
    }
}

fn ready<'a, T: Send + 'a>(value: T) -> RegistryFuture<'a, T> {
    Box::pin(std::future::ready(Ok(value)))
}

impl SessionStore for MemoryStore {
    fn load<'a>(&'a self, id: &'a str, now: u64) -> RegistryFuture<'a, Option<StoredSession>> {
        let found = self.lock().get(id).filter(|r| r.expires > now).cloned();
        ready(found)
    }

    fn create<'a>(
        &'a self,
        id: &'a str,
        session: &'a StoredSession,
        now: u64,
    ) -> RegistryFuture<'a, bool> {
        let mut records = self.write(now);
        let taken = records.get(id).is_some_and(|r| r.expires > now);
        if !taken && session.expires > now {
            let mut record = session.clone();
            record.version = 1;
            records.insert(id.to_owned(), record);
        }
        ready(!taken)
    }

    fn save<'a>(
        &'a self,
        id: &'a str,
        patch: &'a SessionPatch,
        now: u64,
    ) -> RegistryFuture<'a, Saved> {
        let mut records = self.write(now);
        let Some(record) = records.get_mut(id).filter(|r| r.expires > now) else {
            records.remove(id);
            return ready(Saved::Gone);
        };
        let merged = record.version != patch.loaded_version;
        for key in &patch.remove {
            record.data.remove(key);
        }
        for (key, value) in &patch.set {
            record.data.insert(key.clone(), value.clone());
        }
        record.version += 1;
        record.expires = patch.expires;
        let version = record.version;
        ready(if merged {
            Saved::Merged { version }
        } else {
            Saved::Saved { version }
        })
    }

    fn delete<'a>(&'a self, id: &'a str) -> RegistryFuture<'a, ()> {
        self.lock().remove(id);
        ready(())
    }
}
