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
/// On Linux and Android it reads the kernel's coarse real-time clock (`CLOCK_REALTIME_COARSE`:
/// the time at the last timer tick, without the arithmetic of the precise clock; 6 ns a read
/// against 40 for [`SystemTime::now`] on the machine of the benchmarks), except in the last 50 ms
/// of each second, where it reads the precise clock. The coarse clock trails the precise one by a
/// timer tick (1 to 10 ms), so the answer is the precise clock's second, unless the kernel's
/// timekeeping stalls for more than 50 ms (a virtual CPU held by its host): a read then gives
/// the second before, never a later one. That is this server's clock running up to a second
/// slow for a moment: a deadline (`exp`, an idle or absolute timeout) is kept up to a second
/// late, and a cookie another server issued in that second reads as no session for that
/// request (it is left in place, not deleted), as with any two servers whose clocks differ,
/// unless the layer has a [`leeway`](crate::SessionLayerBuilder::leeway) of a second or more.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(seconds) = coarse_clock().and_then(trusted_seconds) {
            return seconds;
        }
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// Nanoseconds before each second's end in which the coarse clock is not trusted with the
/// second: five ticks of a 100 Hz kernel timer, the slowest common one.
#[cfg(any(target_os = "linux", target_os = "android", test))]
const COARSE_MARGIN_NS: i64 = 50_000_000;

/// The coarse real-time clock, as seconds and nanoseconds; `None` when it cannot be read (a
/// sandbox that filters the call): the precise clock is read instead.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn coarse_clock() -> Option<(i64, i64)> {
    use rustix::time::{clock_gettime_dynamic, ClockId, DynamicClockId};
    let coarse = clock_gettime_dynamic(DynamicClockId::Known(ClockId::RealtimeCoarse)).ok()?;
    Some((coarse.tv_sec, coarse.tv_nsec))
}

/// The seconds of a coarse reading when they are taken for the precise clock's: not in the last
/// [`COARSE_MARGIN_NS`] of a second, nor before 1970.
#[cfg(any(target_os = "linux", target_os = "android", test))]
fn trusted_seconds((seconds, nanos): (i64, i64)) -> Option<u64> {
    if nanos >= 1_000_000_000 - COARSE_MARGIN_NS {
        return None;
    }
    u64::try_from(seconds).ok()
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

    /// A coarse reading is taken for the precise clock's second up to 50 ms before the next
    /// one, and never before 1970.
    #[test]
    fn a_coarse_reading_is_trusted_only_far_from_the_next_second() {
        assert_eq!(trusted_seconds((1_800_000_000, 0)), Some(1_800_000_000));
        assert_eq!(
            trusted_seconds((1_800_000_000, 949_999_999)),
            Some(1_800_000_000)
        );
        assert_eq!(trusted_seconds((1_800_000_000, 950_000_000)), None);
        assert_eq!(trusted_seconds((1_800_000_000, 999_999_999)), None);
        assert_eq!(trusted_seconds((-1, 0)), None);
    }

    /// Read back to back with the precise clock across two changes of the second (at most two
    /// seconds of reads), the system clock never says a later second than the precise clock's
    /// after it, nor more than one second before the precise clock's before it; and it says the
    /// precise second on almost every read (all but a stall of the kernel's timekeeping).
    #[test]
    fn the_system_clock_tells_the_precise_clocks_second_across_its_changes() {
        let start = precise();
        let (mut reads, mut exact, mut last) = (0u64, 0u64, start);
        while last < start + 2 {
            let before = precise();
            let now = SystemClock.now();
            last = precise();
            assert!(
                (before - 1..=last).contains(&now),
                "{before} - 1 <= {now} <= {last}, after {reads} reads"
            );
            reads += 1;
            exact += u64::from((before..=last).contains(&now));
        }
        assert!(reads > 1_000, "{reads}");
        assert!(
            exact * 100 >= reads * 99,
            "{exact} of {reads} reads in the precise second"
        );
    }
}
