//! Where the throttle's counters live: the [`CounterStore`] trait.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use super::budget::Budget;
use crate::Error;

/// The future a [`CounterStore`] returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;

/// One counter an attempt spends from: its key and its budget.
///
/// Keys are short ASCII strings made by the throttle from keyed hashes (`a:…` for a client
/// address, `u:…` for an account, `d:…` for a known device); they never hold a username, an
/// address or a cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// The counter's key.
    pub key: String,
    /// The budget the counter is held to.
    pub budget: Budget,
}

/// What [`CounterStore::spend`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every counter had an attempt left, and each was spent.
    Spent,
    /// At least one counter had none; nothing was spent.
    Refused {
        /// Seconds until every refused counter allows an attempt again (at least 1).
        retry_after: u64,
        /// The index, in the charges, of the counter that must wait longest.
        charge: usize,
    },
}

/// Keeps the throttle's counters: [`MemoryCounters`](crate::MemoryCounters) in one process (the
/// default), or a store that instances behind one load balancer share.
///
/// Each counter is a token bucket kept as one timestamp, its *theoretical arrival time* `tat`
/// (see [`Budget`]): for a charge at `now`, `next = max(tat, now) + T` is allowed when
/// `next - now <= burst × T`. A store must apply that rule to every charge of one call
/// **atomically**: either every counter allows the attempt and each is advanced, or none is
/// changed and the answer is [`Verdict::Refused`] with the longest wait. A counter may be
/// forgotten once its `tat` has passed (set it to expire then).
///
/// # Examples
///
/// A store that forgets nothing and refuses nothing, to show the shape (use
/// [`MemoryCounters`](crate::MemoryCounters) instead):
///
/// ```
/// use tower_session_auth::{Charge, CounterStore, StoreFuture, Verdict};
///
/// #[derive(Debug)]
/// struct AllowAll;
///
/// impl CounterStore for AllowAll {
///     fn spend<'a>(&'a self, _: &'a [Charge], _now: u64) -> StoreFuture<'a, Verdict> {
///         Box::pin(async { Ok(Verdict::Spent) })
///     }
///     fn refund<'a>(&'a self, _: &'a [Charge], _now: u64) -> StoreFuture<'a, ()> {
///         Box::pin(async { Ok(()) })
///     }
/// }
/// ```
pub trait CounterStore: fmt::Debug + Send + Sync + 'static {
    /// Spends one attempt from every counter in `charges`, or from none (see the trait docs).
    ///
    /// # Errors
    ///
    /// [`Error::CounterStore`] when the store cannot answer; the throttle then refuses the
    /// attempt with `503`.
    fn spend<'a>(&'a self, charges: &'a [Charge], now: u64) -> StoreFuture<'a, Verdict>;

    /// Gives back the attempt a successful login spent from each counter in `charges` (moves its
    /// `tat` back by one refill, forgetting it when that is in the past).
    ///
    /// # Errors
    ///
    /// [`Error::CounterStore`] when the store cannot answer; the throttle logs it and goes on.
    fn refund<'a>(&'a self, charges: &'a [Charge], now: u64) -> StoreFuture<'a, ()>;
}
