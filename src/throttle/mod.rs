//! Login throttling that cannot be turned into a lockout: budgets of password checks per client
//! address, per account and per known device, answered with `429` and `Retry-After` before any
//! password is hashed, and a bound on the hashes running at once (`503`).
//!
//! # The algorithm
//!
//! Every budget is a token bucket: `burst` attempts at once, then one more every `refill`. It is
//! kept in its GCRA form, one timestamp per counter (see [`Budget`]), so a counter is one number
//! in memory or one Redis key, an update is one comparison, and a counter expires by itself when
//! its bucket is full again. A token bucket rather than a sliding window: it allows a user's few
//! typos at once, then a steady trickle that an attacker cannot exceed however they time their
//! requests, and it needs no list of past attempts.
//!
//! An attempt is charged when [`LoginThrottle::check`] lets it through, before the hash; a
//! successful login gives its attempt back ([`Attempt::succeeded`]). So budgets count failed
//! attempts and attempts in flight, a client that hangs up mid-hash has still spent its attempt,
//! and concurrent attempts cannot overrun a budget.
//!
//! # Why it cannot lock the owner out
//!
//! - A successful login sets a signed **known-device cookie** for the account. An attempt from a
//!   browser that shows one for the account it logs in to spends the device's own budget, not
//!   the account's or the address's: an attacker who spends an account's budget from elsewhere
//!   does not lock its owner out of the browsers they already use.
//! - An **empty username** (or one of spaces) has no account budget at all: it spends only the
//!   address budget, so it can never throttle every account.
//! - **Unknown usernames** are counted exactly like known ones; the throttle never asks the user
//!   store, so its answers and timing say nothing about which accounts exist.
//! - The **client address** is the connection's peer. `X-Forwarded-For` or `Forwarded` is read
//!   only when the peer is a configured trusted proxy, and then only up to the right-most hop
//!   that is not a trusted proxy: what a client writes into the header cannot choose its budget.
//!   IPv6 clients are counted by their /64.
//! - A refused attempt spends nothing and does not extend the wait.

mod address;
mod attempt;
mod budget;
mod device;
mod event;
mod hashing;
mod login_throttle;
mod memory;
#[cfg(feature = "redis")]
mod redis_store;
mod refusal;
mod store;

#[doc(inline)]
pub use address::{ClientAddr, ForwardedHeader};
#[doc(inline)]
pub use attempt::Attempt;
#[doc(inline)]
pub use budget::Budget;
#[doc(inline)]
pub use event::{BudgetKind, ThrottleEvent, ThrottleOutcome};
#[doc(inline)]
pub use hashing::{HashLimit, HashPermit};
#[doc(inline)]
pub use login_throttle::{LoginThrottle, LoginThrottleBuilder};
#[doc(inline)]
pub use memory::MemoryCounters;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[doc(inline)]
pub use redis_store::RedisCounters;
#[doc(inline)]
pub use refusal::Refusal;
#[doc(inline)]
pub use store::{Charge, CounterStore, StoreFuture, Verdict};
