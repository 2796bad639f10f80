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
///
/// On Linux it reads the kernel's coarse real-time clock (`CLOCK_REALTIME_COARSE`: the time at
/// the last timer tick, without the arithmetic of the precise clock; 6 ns a read against 40 for
/// [`SystemTime::now`] on the machine of the benchmarks), except in the last 50 ms of each second,
/// where it reads the precise clock: the coarse clock trails the precise one by at most a tick
/// (1 to 10 ms), so outside that window both are in the same second, and the answer is always
/// the precise clock's.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(seconds) = coarse_seconds() {
            return seconds;
        }
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// Nanoseconds before each second's end in which the coarse clock is not trusted with the
/// second: five ticks of the slowest kernel timer (100 Hz).
#[cfg(any(target_os = "linux", target_os = "android"))]
const COARSE_MARGIN_NS: i64 = 50_000_000;

/// The seconds of the coarse real-time clock, when they are the precise clock's.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn coarse_seconds() -> Option<u64> {
    let coarse = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
    let seconds = u64::try_from(coarse.tv_sec).ok()?;
    (coarse.tv_nsec < 1_000_000_000 - COARSE_MARGIN_NS).then_some(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn precise() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
    }

    /// Read back to back with the precise clock across two changes of the second (at most two
    /// seconds of reads), the system clock always says a second between the precise clock's
    /// before and after it: never the second before.
    #[test]
    fn the_system_clock_tells_the_precise_clocks_second_across_its_changes() {
        let start = precise();
        let (mut reads, mut last) = (0u64, start);
        while last < start + 2 {
            let before = precise();
            let now = SystemClock.now();
            last = precise();
            assert!(
                (before..=last).contains(&now),
                "{before} <= {now} <= {last}, after {reads} reads"
            );
            reads += 1;
        }
        assert!(reads > 1_000, "{reads}");
    }
}
