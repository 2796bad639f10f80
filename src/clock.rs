//! The time source behind every expiry rule, injectable so tests can move it.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time, in whole seconds since the Unix epoch.
///
/// Every time rule of the crate (token `exp`, `nbf` and `iat`, remember-me expiry) reads the time
/// from the layer's clock, so a test can check each rule at its boundary. The default is
/// [`SystemClock`].
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use tower_session_auth::Clock;
///
/// #[derive(Debug, Default)]
/// struct FakeClock(AtomicU64);
///
/// impl Clock for FakeClock {
///     fn now(&self) -> u64 {
///         self.0.load(Ordering::Relaxed)
///     }
/// }
///
/// let clock = Arc::new(FakeClock::default());
/// clock.0.store(1_700_000_000, Ordering::Relaxed);
/// assert_eq!(clock.now(), 1_700_000_000);
/// ```
pub trait Clock: fmt::Debug + Send + Sync + 'static {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now(&self) -> u64;
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}
