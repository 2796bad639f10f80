//! What the throttle tells the application and the logs.

use std::fmt;

/// One decision of the login throttle, for the hook set with
/// [`LoginThrottleBuilder::on_event`](crate::LoginThrottleBuilder::on_event). The same decision is
/// also a `tracing` event.
///
/// The account and the address are keyed hashes (HMAC-SHA256 under a sub-key of the secret,
/// 16 bytes in hex): the same account or address always gives the same text, so attacks can be
/// followed and counted, but the text does not show the username or the address, and the
/// password never reaches the throttle.
///
/// # Examples
///
/// ```
/// use tower_session_auth::{Key, LoginThrottle, ThrottleOutcome};
///
/// let throttle = LoginThrottle::builder(Key::generate())
///     .on_event(|event| {
///         if let ThrottleOutcome::Throttled(budget) = event.outcome {
///             eprintln!("{budget:?} budget spent for {:?}", event.account);
///         }
///     })
///     .build()?;
/// # let _ = throttle;
/// # Ok::<(), tower_session_auth::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThrottleEvent {
    /// What was decided.
    pub outcome: ThrottleOutcome,
    /// The account's keyed hash; `None` for an empty username.
    pub account: Option<String>,
    /// The client address's keyed hash (an IPv6 address by its /64); `None` when the request
    /// carried no connection address.
    pub address: Option<String>,
    /// Whether the browser showed a valid known-device cookie for the account.
    pub known_device: bool,
    /// For a refusal, the seconds in its `Retry-After`.
    pub retry_after: Option<u64>,
}

/// What the throttle decided about one login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ThrottleOutcome {
    /// Refused with `429`: this budget is spent.
    Throttled(BudgetKind),
    /// Refused with `503`: every hashing permit was taken.
    Busy,
    /// Refused with `503`: the counter store did not answer.
    StoreFailed,
    /// The password was checked and was wrong (or the account does not exist).
    Failed,
    /// The password was checked and was right.
    Succeeded,
}

/// Which budget an attempt spends from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetKind {
    /// The client address's.
    Address,
    /// The account's (attempts from browsers that are not known devices of the account).
    Account,
    /// A known device's own (attempts from a browser with the account's known-device cookie).
    Device,
}

impl fmt::Display for BudgetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BudgetKind::Address => "address",
            BudgetKind::Account => "account",
            BudgetKind::Device => "device",
        })
    }
}

/// Records `event` as a `tracing` event, at a level that matches its weight.
pub(crate) fn trace(event: &ThrottleEvent) {
    let account = event.account.as_deref().unwrap_or("-");
    let address = event.address.as_deref().unwrap_or("-");
    let known_device = event.known_device;
    match event.outcome {
        ThrottleOutcome::Throttled(budget) => tracing::warn!(
            budget = %budget,
            account,
            address,
            known_device,
            retry_after = event.retry_after,
            "login attempt throttled"
        ),
        ThrottleOutcome::Busy => tracing::warn!(
            account,
            address,
            "login attempt refused: every password-hashing permit is taken"
        ),
        ThrottleOutcome::StoreFailed => tracing::error!(
            account,
            address,
            "login attempt refused: the throttle's counter store did not answer"
        ),
        ThrottleOutcome::Failed => {
            tracing::info!(account, address, known_device, "login attempt failed");
        }
        ThrottleOutcome::Succeeded => {
            tracing::debug!(account, address, known_device, "login attempt succeeded");
        }
    }
}
