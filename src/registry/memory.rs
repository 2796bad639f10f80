//! `MemoryRegistry`: the registry in the process's memory.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{is_tombstone, EntryKind, Registry, RegistryEntry, RegistryFuture, Removal, Rotation};

/// How many writes pass between two sweeps of every user for expired entries.
const SWEEP_EVERY: u64 = 1024;

/// A session registry in this process's memory: nothing to run, and gone when the process ends
/// (every tracked login with it). For one instance; several instances share a `RedisRegistry`
/// (feature `redis`) instead.
///
/// Expired entries are pruned as the registry is used (a user's own on each write to that user,
/// and every user's once per 1,024 writes), so no background task is needed. Clones share the
/// same entries.
///
/// # Examples
///
/// ```
/// use tower_session_auth::{Key, MemoryRegistry, SessionLayer};
///
/// let layer = SessionLayer::builder(Key::generate())
///     .registry(MemoryRegistry::new())
///     .build()?;
/// # Ok::<(), tower_session_auth::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct MemoryRegistry {
    inner: Arc<Inner>,
}

/// One user's entries, by id. Ordered rather than hashed: a user has a handful, found by a few
/// comparisons of their ids where hashing an id would read all 64 bytes of it.
type Entries = BTreeMap<String, RegistryEntry>;

#[derive(Default)]
struct Inner {
    users: Mutex<HashMap<String, Entries>>,
    writes: AtomicU64,
}

impl fmt::Debug for MemoryRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Counts only: entry ids are digests of secrets, and nobody needs to see them.
        let users = self.lock();
        f.debug_struct("MemoryRegistry")
            .field("users", &users.len())
            .field("entries", &users.values().map(BTreeMap::len).sum::<usize>())
            .finish()
    }
}

impl MemoryRegistry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> MemoryRegistry {
        MemoryRegistry::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entries>> {
        // Every change below is complete before anything can panic, so a poisoned map is sound.
        self.inner
            .users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `write` on `user`'s live entries, then drops the user if none are left, and sweeps
    /// every user now and then.
    fn write<T>(&self, user: &str, now: u64, write: impl FnOnce(&mut Entries) -> T) -> T {
        let mut users = self.lock();
        if self.inner.writes.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            users.retain(|_, entries| {
                entries.retain(|_, e| e.expires > now);
                !entries.is_empty()
            });
        }
        let entries = users.entry(user.to_owned()).or_default();
        entries.retain(|_, e| e.expires > now);
        let result = write(entries);
        if entries.is_empty() {
            users.remove(user);
        }
        result
    }

    /// The device and `last_seen` of the live session entry `id` of `user`, if there is one:
    /// what [`Registry::get`] answers for a session login, without a future, a `Vec` or a copy
    /// of the entry (the login check of a layer that tracks logins here).
    pub(crate) fn live_session(&self, user: &str, id: &str, now: u64) -> Option<(String, u64)> {
        let users = self.lock();
        let entry = users.get(user)?.get(id)?;
        (entry.kind == EntryKind::Session && is_live(entry, now))
            .then(|| (entry.device.clone(), entry.last_seen))
    }
}

/// Whether `entry` reads as present at `now`: not expired, not a revoked remember-me entry's
/// tombstone.
fn is_live(entry: &RegistryEntry, now: u64) -> bool {
    entry.expires > now && !is_tombstone(entry)
}

/// Removes the live entries `which` selects (a remember-me entry leaves a tombstone); returns
/// how many went.
fn bury(entries: &mut Entries, which: impl Fn(&RegistryEntry) -> bool, now: u64) -> usize {
    let mut n = 0;
    entries.retain(|_, e| {
        if is_tombstone(e) || !which(e) {
            return true;
        }
        n += 1;
        if e.kind == EntryKind::Remember {
            e.rotated = Some((String::new(), now));
            true
        } else {
            false
        }
    });
    n
}

/// The registry's answer, ready at once.
fn ready<'a, T: Send + 'a>(value: T) -> RegistryFuture<'a, T> {
    Box::pin(std::future::ready(Ok(value)))
}

impl Registry for MemoryRegistry {
    fn get<'a>(
        &'a self,
        user: &'a str,
        ids: &'a [&'a str],
        now: u64,
    ) -> RegistryFuture<'a, Vec<Option<RegistryEntry>>> {
        let users = self.lock();
        let entries = users.get(user);
        let found = ids
            .iter()
            .map(|id| {
                entries
                    .and_then(|e| e.get(*id))
                    .filter(|e| is_live(e, now))
                    .cloned()
            })
            .collect();
        ready(found)
    }

    fn insert<'a>(
        &'a self,
        user: &'a str,
        id: &'a str,
        entry: &'a RegistryEntry,
        now: u64,
    ) -> RegistryFuture<'a, ()> {
        if entry.expires > now {
            self.write(user, now, |entries| {
                entries
                    .entry(id.to_owned())
                    .or_insert_with(|| entry.clone());
            });
        }
        ready(())
    }

    fn touch<'a>(
        &'a self,
        user: &'a str,
        id: &'a str,
        last_seen: u64,
        now: u64,
    ) -> RegistryFuture<'a, ()> {
        self.write(user, now, |entries| {
            if let Some(entry) = entries.get_mut(id) {
                entry.last_seen = entry.last_seen.max(last_seen);
            }
        });
        ready(())
    }

    fn rotate<'a>(
        &'a self,
        user: &'a str,
        old: &'a str,
        new: &'a str,
        successor: &'a RegistryEntry,
        now: u64,
        grace: u64,
    ) -> RegistryFuture<'a, Rotation> {
        let rotation = self.write(user, now, |entries| {
            let Some(entry) = entries.get_mut(old) else {
                return Rotation::Unknown;
            };
            if entry.kind != EntryKind::Remember || is_tombstone(entry) {
                return Rotation::Unknown;
            }
            match &entry.rotated {
                None => {
                    entry.rotated = Some((new.to_owned(), now));
                    if successor.expires > now {
                        entries
                            .entry(new.to_owned())
                            .or_insert_with(|| successor.clone());
                    }
                    Rotation::Rotated
                }
                Some((next, at)) if next == new && now <= at.saturating_add(grace) => {
                    Rotation::Repeated
                }
                Some(_) => {
                    bury(entries, |e| e.kind == EntryKind::Remember, now);
                    Rotation::Replayed
                }
            }
        });
        ready(rotation)
    }

    fn remove<'a>(
        &'a self,
        user: &'a str,
        which: &'a Removal,
        now: u64,
    ) -> RegistryFuture<'a, usize> {
        let removed = self.write(user, now, |entries| match which {
            Removal::Ids(ids) => {
                let mut n = 0;
                for id in ids {
                    let kind = match entries.get(id.as_str()) {
                        Some(e) if !is_tombstone(e) => e.kind,
                        _ => continue,
                    };
                    n += 1;
                    match (kind, entries.get_mut(id.as_str())) {
                        (EntryKind::Remember, Some(e)) => e.rotated = Some((String::new(), now)),
                        _ => {
                            entries.remove(id.as_str());
                        }
                    }
                }
                n
            }
            Removal::Device(device) => bury(entries, |e| &e.device == device, now),
            Removal::AllDevicesBut(device) => bury(entries, |e| &e.device != device, now),
            Removal::Remember => bury(entries, |e| e.kind == EntryKind::Remember, now),
        });
        ready(removed)
    }

    fn list<'a>(
        &'a self,
        user: &'a str,
        now: u64,
    ) -> RegistryFuture<'a, Vec<(String, RegistryEntry)>> {
        let users = self.lock();
        let listed = users
            .get(user)
            .into_iter()
            .flatten()
            .filter(|(_, e)| is_live(e, now))
            .map(|(id, e)| (id.clone(), e.clone()))
            .collect();
        ready(listed)
    }
}

#[cfg(test)]
mod tests {
    use std::task::{Context, Poll, Waker};

    use super::*;

    /// The answer of a memory registry's future, which is ready at once.
    fn answer<T>(mut future: RegistryFuture<'_, T>) -> T {
        let mut cx = Context::from_waker(Waker::noop());
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(answer) => answer.expect("a memory registry always answers"),
            Poll::Pending => panic!("a memory registry's future is ready at once"),
        }
    }

    fn entry(kind: EntryKind, device: &str, expires: u64) -> RegistryEntry {
        RegistryEntry {
            kind,
            device: device.into(),
            created: 100,
            last_seen: 150,
            expires,
            user_agent: "Firefox on Linux".into(),
            rotated: None,
        }
    }

    #[test]
    fn live_session_answers_as_get_does_for_session_logins() {
        let registry = MemoryRegistry::new();
        let entries = [
            ("session", entry(EntryKind::Session, "d1", 1_000)),
            ("short", entry(EntryKind::Session, "d2", 300)),
            ("remember", entry(EntryKind::Remember, "d1", 1_000)),
            ("revoked", entry(EntryKind::Remember, "d3", 1_000)),
        ];
        for (id, e) in &entries {
            answer(registry.insert("u", id, e, 200));
        }
        // A revoked remember-me entry leaves a tombstone.
        let revoked = Removal::Ids(vec!["revoked".into()]);
        assert_eq!(answer(registry.remove("u", &revoked, 200)), 1);
        for now in [200, 299, 300, 999, 1_000] {
            for id in ["session", "short", "remember", "revoked", "unknown"] {
                let by_get = answer(registry.get("u", &[id], now))
                    .pop()
                    .flatten()
                    .filter(|e| e.kind == EntryKind::Session)
                    .map(|e| (e.device, e.last_seen));
                assert_eq!(registry.live_session("u", id, now), by_get, "{id} at {now}");
            }
            assert_eq!(registry.live_session("other user", "session", now), None);
        }
        assert_eq!(
            registry.live_session("u", "session", 999),
            Some(("d1".into(), 150))
        );
    }
}
