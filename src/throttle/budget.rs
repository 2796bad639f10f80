//! A budget of attempts, and the one rule every counter store applies to it.

use std::time::Duration;

/// How many attempts a client address, an account or a known device may make: `burst` at once,
/// then one more every `refill_every`. A token bucket, kept as one number per counter.
///
/// The bucket is stored in its GCRA form ("generic cell rate algorithm", the virtual-scheduling
/// form of a token bucket): one timestamp, the *theoretical arrival time* `tat`, the moment at
/// which the bucket would be full again. With `T = refill_every` and `B = burst`, an attempt at
/// `now` computes `next = max(tat, now) + T`; it is allowed, and `tat` becomes `next`, when
/// `next - now <= B × T`; otherwise it is refused, nothing is stored, and the client may retry in
/// `next - now - B × T` seconds. A fresh counter (or one whose `tat` has passed) allows `B`
/// attempts at once; after that, one every `T`. A counter whose `tat` has passed holds nothing a
/// fresh one would not, so it can be forgotten at `tat`: that is its expiry.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tower_session_auth::Budget;
///
/// // Ten attempts at once, then one a minute.
/// let budget = Budget::new(10, Duration::from_secs(60));
/// assert_eq!(budget.burst(), 10);
/// assert_eq!(budget.refill_every(), Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    burst: u32,
    refill_secs: u64,
}

/// The longest refill interval accepted: a day.
const MAX_REFILL_SECS: u64 = 86_400;

impl Budget {
    /// `burst` attempts at once, then one more every `refill_every` (whole seconds; a fraction is
    /// dropped). The builder refuses a burst of zero and a refill under a second or over a day.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_session_auth::Budget;
    ///
    /// let per_account = Budget::new(10, Duration::from_secs(300));
    /// # let _ = per_account;
    /// ```
    #[must_use]
    pub const fn new(burst: u32, refill_every: Duration) -> Budget {
        Budget {
            burst,
            refill_secs: refill_every.as_secs(),
        }
    }

    /// The attempts allowed at once.
    #[must_use]
    pub const fn burst(&self) -> u32 {
        self.burst
    }

    /// How long one attempt takes to come back.
    #[must_use]
    pub const fn refill_every(&self) -> Duration {
        Duration::from_secs(self.refill_secs)
    }

    pub(crate) fn is_valid(&self) -> bool {
        self.burst >= 1 && (1..=MAX_REFILL_SECS).contains(&self.refill_secs)
    }

    /// The longest a counter of this budget can owe: `burst × refill`, at most 2^32 days.
    pub(crate) fn window(&self) -> u64 {
        u64::from(self.burst).saturating_mul(self.refill_secs)
    }

    /// One attempt at `now` against a counter at `tat` (`None`: no counter): `Ok(new tat)` when
    /// it is allowed, `Err(seconds to wait)` when it is not.
    pub(crate) fn take(&self, tat: Option<u64>, now: u64) -> Result<u64, u64> {
        let next = tat.unwrap_or(now).max(now).saturating_add(self.refill_secs);
        let owed = next - now;
        if owed <= self.window() {
            Ok(next)
        } else {
            Err(owed - self.window())
        }
    }

    /// Gives back one attempt taken earlier: the counter's new `tat`, or `None` when it holds
    /// nothing any more.
    pub(crate) fn give_back(&self, tat: u64, now: u64) -> Option<u64> {
        let back = tat.saturating_sub(self.refill_secs);
        (back > now).then_some(back)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000;

    fn run(budget: Budget, tat: &mut Option<u64>, now: u64) -> Result<(), u64> {
        let next = budget.take(*tat, now)?;
        *tat = Some(next);
        Ok(())
    }

    #[test]
    fn thr_01_burst_then_refused_at_the_boundary() {
        let b = Budget::new(10, Duration::from_secs(60));
        let mut tat = None;
        for i in 0..10 {
            assert_eq!(run(b, &mut tat, T0), Ok(()), "attempt {i}");
        }
        assert_eq!(run(b, &mut tat, T0), Err(60), "the 11th waits one refill");
        // One second short of the refill: still refused, with one second to wait.
        assert_eq!(run(b, &mut tat, T0 + 59), Err(1));
        // At the refill: exactly one more.
        assert_eq!(run(b, &mut tat, T0 + 60), Ok(()));
        assert_eq!(run(b, &mut tat, T0 + 60), Err(60));
    }

    #[test]
    fn thr_02_refill_restores_the_whole_burst() {
        let b = Budget::new(3, Duration::from_secs(10));
        let mut tat = None;
        for _ in 0..3 {
            run(b, &mut tat, T0).unwrap();
        }
        assert!(run(b, &mut tat, T0).is_err());
        // 3 × 10 s later the counter is empty again: three at once, not four.
        for _ in 0..3 {
            assert_eq!(run(b, &mut tat, T0 + 30), Ok(()));
        }
        assert_eq!(run(b, &mut tat, T0 + 30), Err(10));
        // Refills do not pile up beyond the burst after a long pause.
        let mut tat = Some(T0);
        for _ in 0..3 {
            run(b, &mut tat, T0 + 100_000).unwrap();
        }
        assert!(run(b, &mut tat, T0 + 100_000).is_err());
    }

    #[test]
    fn give_back_undoes_one_take() {
        let b = Budget::new(2, Duration::from_secs(10));
        let mut tat = None;
        run(b, &mut tat, T0).unwrap();
        run(b, &mut tat, T0).unwrap();
        assert!(run(b, &mut tat, T0).is_err());
        tat = b.give_back(tat.unwrap(), T0);
        assert_eq!(run(b, &mut tat, T0), Ok(()));
        // Giving back everything leaves no counter.
        assert_eq!(b.give_back(T0 + 10, T0), None);
    }

    proptest::proptest! {
        /// Whatever the timing of the attempts, no stretch of `d` seconds lets more than
        /// `burst + d / refill` through (plus the one at the stretch's end): the bound the load
        /// test's hash count is held to.
        #[test]
        fn thr_02_never_more_than_the_budget_allows(
            burst in 1u32..20,
            refill in 1u64..120,
            gaps in proptest::collection::vec(0u64..90, 1..300),
        ) {
            let b = Budget::new(burst, Duration::from_secs(refill));
            let mut tat = None;
            let mut now = T0;
            let mut allowed = Vec::new();
            for gap in gaps {
                now += gap;
                if run(b, &mut tat, now).is_ok() {
                    allowed.push(now);
                }
            }
            for (i, &start) in allowed.iter().enumerate() {
                for (j, &end) in allowed.iter().enumerate().skip(i) {
                    let most = u64::from(burst) + (end - start) / refill;
                    proptest::prop_assert!((j - i + 1) as u64 <= most,
                        "{} attempts in {} s", j - i + 1, end - start);
                }
            }
        }
    }

    #[test]
    fn validity() {
        assert!(Budget::new(1, Duration::from_secs(1)).is_valid());
        assert!(!Budget::new(0, Duration::from_secs(1)).is_valid());
        assert!(!Budget::new(1, Duration::from_millis(500)).is_valid());
        assert!(!Budget::new(1, Duration::from_secs(86_401)).is_valid());
        // The largest budget cannot overflow.
        let huge = Budget::new(u32::MAX, Duration::from_secs(86_400));
        assert!(huge.take(Some(u64::MAX - 5), u64::MAX - 10).is_ok());
    }
}
