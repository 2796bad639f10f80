//! A bound on the password hashes running at once.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// At most a fixed number of password verifications at once. [`LoginThrottle::check`]
/// takes a [`HashPermit`] after the budgets allow an attempt and answers `503` with
/// `Retry-After` at once when none is free: a flood never queues, so it cannot keep the cores (or
/// the runtime's blocking threads) from everything else.
///
/// Why the crate offers it rather than leaving it to the application: the bound only works if
/// it is taken *after* the budgets (a throttled attempt must not hold a permit) and if the
/// budgets are given back when no permit is free (a busy server must not spend the client's
/// budget), which is one call, [`LoginThrottle::check`]. It is a counter, not a semaphore with a
/// queue, so it needs no async runtime. Share one `HashLimit` between every place that hashes
/// passwords (the login form, HTTP Basic) through [`LoginThrottleBuilder::hash_limit`].
///
/// [`LoginThrottle::check`]: crate::LoginThrottle::check
/// [`LoginThrottleBuilder::hash_limit`]: crate::LoginThrottleBuilder::hash_limit
///
/// # Examples
///
/// ```
/// use tower_session_auth::HashLimit;
///
/// let limit = HashLimit::new(1);
/// let permit = limit.try_acquire().expect("one is free");
/// assert!(limit.try_acquire().is_none(), "the only permit is taken");
/// drop(permit);
/// assert!(limit.try_acquire().is_some());
/// ```
#[derive(Clone)]
pub struct HashLimit(Arc<Counter>);

struct Counter {
    max: usize,
    in_use: AtomicUsize,
}

impl HashLimit {
    /// At most `max` hashes at once (at least one).
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::HashLimit;
    ///
    /// assert_eq!(HashLimit::new(4).max(), 4);
    /// ```
    #[must_use]
    pub fn new(max: usize) -> HashLimit {
        HashLimit(Arc::new(Counter {
            max: max.max(1),
            in_use: AtomicUsize::new(0),
        }))
    }

    /// Twice the available parallelism, the default: enough to keep every core busy with hashes
    /// while a request's other work waits, not so many that hashes starve the rest.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::HashLimit;
    ///
    /// assert!(HashLimit::for_this_machine().max() >= 2);
    /// ```
    #[must_use]
    pub fn for_this_machine() -> HashLimit {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        HashLimit::new(2 * cores)
    }

    /// The right to run one hash, or `None` at once when every permit is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::HashLimit;
    ///
    /// assert!(HashLimit::new(2).try_acquire().is_some());
    /// ```
    #[must_use]
    pub fn try_acquire(&self) -> Option<HashPermit> {
        self.0
            .in_use
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.0.max).then_some(n + 1)
            })
            .ok()?;
        Some(HashPermit(Arc::clone(&self.0)))
    }

    /// The most hashes at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::HashLimit;
    ///
    /// assert_eq!(HashLimit::new(0).max(), 1);
    /// ```
    #[must_use]
    pub fn max(&self) -> usize {
        self.0.max
    }
}

impl fmt::Debug for HashLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashLimit")
            .field("max", &self.0.max)
            .field("in_use", &self.0.in_use.load(Ordering::Relaxed))
            .finish()
    }
}

/// The right to run one password hash, from [`HashLimit::try_acquire`] or
/// [`Attempt::take_permit`](crate::Attempt::take_permit). Released when dropped: move it into the
/// task that hashes (`spawn_blocking`), so it is held until the hash ends even if the client
/// hangs up and its request is dropped.
#[must_use = "the permit is released when dropped"]
pub struct HashPermit(Arc<Counter>);

impl Drop for HashPermit {
    fn drop(&mut self) {
        self.0.in_use.fetch_sub(1, Ordering::AcqRel);
    }
}

impl fmt::Debug for HashPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashPermit")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thr_07_never_more_than_max_at_once() {
        let limit = HashLimit::new(3);
        let held: Vec<_> = (0..10).filter_map(|_| limit.try_acquire()).collect();
        assert_eq!(held.len(), 3);
        drop(held);
        assert!(limit.try_acquire().is_some());
        // Across threads too.
        let limit = HashLimit::new(2);
        let most = Arc::new(AtomicUsize::new(0));
        let now = Arc::new(AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        if let Some(p) = limit.try_acquire() {
                            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(n, Ordering::SeqCst);
                            now.fetch_sub(1, Ordering::SeqCst);
                            drop(p);
                        }
                    }
                });
            }
        });
        assert!(most.load(Ordering::SeqCst) <= 2);
    }
}
