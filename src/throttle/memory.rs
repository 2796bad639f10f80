//! The default counter store: bounded, in this process.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use super::store::{Charge, CounterStore, StoreFuture, Verdict};

/// The default number of counters a [`MemoryCounters`] holds.
const DEFAULT_MAX_COUNTERS: usize = 65_536;

/// Counters in this process's memory, at most a fixed number of them: the throttle's default
/// store. Instances behind one load balancer each keep their own, so a client spread over `n`
/// instances gets `n` budgets; share a store between them (the `redis` feature) to avoid that.
///
/// **Bounds and eviction.** At most `max_counters` counters (default 65,536, a few hundred bytes
/// each). A counter is dropped as soon as its budget is whole again (its `tat` has passed). When
/// the store is full of live counters, the one that owes least (the earliest `tat`) makes room:
/// a flood of new keys (many addresses, many usernames) evicts each other's one-attempt counters
/// before the counter of an address or account that has spent its budget, which owes the most.
///
/// # Examples
///
/// ```
/// use tower_session_auth::{Key, LoginThrottle, MemoryCounters};
///
/// let throttle = LoginThrottle::builder(Key::generate())
///     .store(MemoryCounters::new(10_000))
///     .build()?;
/// # let _ = throttle;
/// # Ok::<(), tower_session_auth::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MemoryCounters {
    inner: Arc<Mutex<Counters>>,
}

#[derive(Debug)]
struct Counters {
    max: usize,
    tat: HashMap<Box<str>, u64>,
    /// The same counters ordered by `tat`: the front expires (or is evicted) first.
    by_tat: BTreeSet<(u64, Box<str>)>,
}

impl MemoryCounters {
    /// A store of at most `max_counters` counters (at least one).
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::MemoryCounters;
    ///
    /// let store = MemoryCounters::new(100_000);
    /// assert_eq!(store.len(), 0);
    /// ```
    #[must_use]
    pub fn new(max_counters: usize) -> MemoryCounters {
        MemoryCounters {
            inner: Arc::new(Mutex::new(Counters {
                max: max_counters.max(1),
                tat: HashMap::new(),
                by_tat: BTreeSet::new(),
            })),
        }
    }

    /// How many counters the store holds now (expired ones included until the next call drops
    /// them).
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::MemoryCounters;
    ///
    /// assert_eq!(MemoryCounters::default().len(), 0);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().tat.len()
    }

    /// Whether the store holds no counter.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::MemoryCounters;
    ///
    /// assert!(MemoryCounters::default().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        // A panic while holding the lock leaves consistent maps (every update is two inserts or
        // two removals with nothing that can panic between them).
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn spend_now(&self, charges: &[Charge], now: u64) -> Verdict {
        let mut c = self.lock();
        c.expire(now);
        let mut next = Vec::with_capacity(charges.len());
        let mut refused: Option<(u64, usize)> = None;
        for (i, charge) in charges.iter().enumerate() {
            match charge
                .budget
                .take(c.tat.get(charge.key.as_str()).copied(), now)
            {
                Ok(tat) => next.push(tat),
                Err(wait) => {
                    if refused.is_none_or(|(longest, _)| wait > longest) {
                        refused = Some((wait, i));
                    }
                }
            }
        }
        if let Some((retry_after, charge)) = refused {
            return Verdict::Refused {
                retry_after: retry_after.max(1),
                charge,
            };
        }
        for (charge, tat) in charges.iter().zip(next) {
            c.set(&charge.key, Some(tat));
        }
        Verdict::Spent
    }

    fn refund_now(&self, charges: &[Charge], now: u64) {
        let mut c = self.lock();
        for charge in charges {
            if let Some(&tat) = c.tat.get(charge.key.as_str()) {
                let back = charge.budget.give_back(tat, now);
                c.set(&charge.key, back);
            }
        }
    }
}

impl Default for MemoryCounters {
    /// A store of 65,536 counters at most.
    fn default() -> MemoryCounters {
        MemoryCounters::new(DEFAULT_MAX_COUNTERS)
    }
}

impl Counters {
    /// Drops every counter whose budget is whole again.
    fn expire(&mut self, now: u64) {
        while let Some((tat, _)) = self.by_tat.first() {
            if *tat > now {
                break;
            }
            if let Some((_, key)) = self.by_tat.pop_first() {
                self.tat.remove(&key);
            }
        }
    }

    /// Sets (or, with `None`, removes) the counter `key`, evicting the counter that owes least
    /// when a new one does not fit.
    fn set(&mut self, key: &str, tat: Option<u64>) {
        if let Some(old) = self.tat.remove(key) {
            self.by_tat.remove(&(old, key.into()));
        }
        let Some(tat) = tat else { return };
        while self.tat.len() >= self.max {
            let Some((_, victim)) = self.by_tat.pop_first() else {
                break;
            };
            self.tat.remove(&victim);
        }
        self.tat.insert(key.into(), tat);
        self.by_tat.insert((tat, key.into()));
    }
}

impl CounterStore for MemoryCounters {
    fn spend<'a>(&'a self, charges: &'a [Charge], now: u64) -> StoreFuture<'a, Verdict> {
        let verdict = self.spend_now(charges, now);
        Box::pin(async move { Ok(verdict) })
    }

    fn refund<'a>(&'a self, charges: &'a [Charge], now: u64) -> StoreFuture<'a, ()> {
        self.refund_now(charges, now);
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Budget;

    const T0: u64 = 1_700_000_000;

    fn charge(key: &str, burst: u32, secs: u64) -> Charge {
        Charge {
            key: key.into(),
            budget: Budget::new(burst, Duration::from_secs(secs)),
        }
    }

    #[test]
    fn thr_01_all_or_nothing_across_counters() {
        let store = MemoryCounters::default();
        let address = charge("a:1", 5, 60);
        let account = charge("u:1", 2, 60);
        let both = [address.clone(), account.clone()];
        assert_eq!(store.spend_now(&both, T0), Verdict::Spent);
        assert_eq!(store.spend_now(&both, T0), Verdict::Spent);
        // The account is spent: refused, naming it, and the address is not charged.
        assert_eq!(
            store.spend_now(&both, T0),
            Verdict::Refused {
                retry_after: 60,
                charge: 1
            }
        );
        for _ in 0..3 {
            assert_eq!(
                store.spend_now(std::slice::from_ref(&address), T0),
                Verdict::Spent
            );
        }
        assert!(matches!(
            store.spend_now(&[address], T0),
            Verdict::Refused { charge: 0, .. }
        ));
    }

    #[test]
    fn expired_counters_are_dropped() {
        let store = MemoryCounters::default();
        store.spend_now(&[charge("a:1", 3, 10)], T0);
        assert_eq!(store.len(), 1);
        store.spend_now(&[charge("a:2", 3, 10)], T0 + 10);
        assert_eq!(store.len(), 1, "a:1 was whole again at T0 + 10");
    }

    #[test]
    fn thr_06_a_flood_of_new_keys_evicts_each_other_first() {
        let store = MemoryCounters::new(100);
        let target = charge("u:susan", 10, 300);
        for _ in 0..10 {
            assert_eq!(
                store.spend_now(std::slice::from_ref(&target), T0),
                Verdict::Spent
            );
        }
        for i in 0..10_000 {
            store.spend_now(&[charge(&format!("a:{i}"), 10, 60)], T0 + 1);
        }
        assert_eq!(store.len(), 100, "bounded");
        assert!(
            matches!(store.spend_now(&[target], T0 + 2), Verdict::Refused { .. }),
            "the spent account kept its counter"
        );
    }

    #[test]
    fn refund_gives_one_back() {
        let store = MemoryCounters::default();
        let c = [charge("u:1", 1, 60)];
        assert_eq!(store.spend_now(&c, T0), Verdict::Spent);
        assert!(matches!(store.spend_now(&c, T0), Verdict::Refused { .. }));
        store.refund_now(&c, T0);
        assert!(store.is_empty());
        assert_eq!(store.spend_now(&c, T0), Verdict::Spent);
    }
}
