//! `FakeClock`: a clock a test moves by hand.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::Clock;

/// A [`Clock`] that stands still until the test moves it: give a clone to
/// [`SessionLayerBuilder::clock`](crate::SessionLayerBuilder::clock) (and to a
/// [`TestClient`](crate::TestClient), for its cookies' `Max-Age`), keep one, and check every time
/// rule at its boundary. Clones share the same time.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tower_session_auth::{Clock, FakeClock, Key, SessionLayer};
///
/// let clock = FakeClock::at(1_700_000_000);
/// let layer = SessionLayer::builder(Key::generate()).clock(clock.clone()).build()?;
/// clock.advance(Duration::from_secs(30 * 60));
/// assert_eq!(clock.now(), 1_700_001_800);
/// # Ok::<(), tower_session_auth::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct FakeClock(Arc<AtomicU64>);

impl FakeClock {
    /// A clock that reads `secs` seconds since the Unix epoch.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Clock, FakeClock};
    ///
    /// assert_eq!(FakeClock::at(1_700_000_000).now(), 1_700_000_000);
    /// ```
    pub fn at(secs: u64) -> FakeClock {
        FakeClock(Arc::new(AtomicU64::new(secs)))
    }

    /// Sets the time, in seconds since the Unix epoch (backwards too).
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Clock, FakeClock};
    ///
    /// let clock = FakeClock::at(1_700_000_000);
    /// clock.set(1_600_000_000);
    /// assert_eq!(clock.now(), 1_600_000_000);
    /// ```
    pub fn set(&self, secs: u64) {
        self.0.store(secs, Ordering::SeqCst);
    }

    /// Moves the time forward by `by` (whole seconds).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_session_auth::{Clock, FakeClock};
    ///
    /// let clock = FakeClock::at(100);
    /// clock.advance(Duration::from_secs(5));
    /// assert_eq!(clock.now(), 105);
    /// ```
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
