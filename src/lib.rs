#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Tier 0: no imports from the rest of the crate but each other.
mod cache;
mod clock;
mod decimal;
mod error;
mod key;
mod redirect;
mod secret;
// Tier 1: the token formats and cookies on the wire.
mod cookie;
mod token;
// Tier 2: the session middleware and its backends.
mod session;
// Tier 3: logging in and out.
mod login;
// Tier 4: the gate, the axum extractors, and the login throttle.
mod auth;
#[cfg(feature = "axum")]
mod extract;
mod throttle;

// Every public item is here, at the root, and nowhere else.
pub use auth::{
    AuthFuture, AuthLayer, AuthLayerBuilder, AuthService, CurrentUser, Reason, Unauthorized,
    UserLookup,
};
pub use clock::{Clock, SystemClock};
pub use cookie::scope::SameSite;
pub use error::{ConfigError, Error};
#[cfg(feature = "axum")]
pub use extract::MissingLayer;
pub use key::Key;
pub use login::{
    current_user_id, is_fresh, login_user, logout_user, renew_session, AuthUser, Remember,
};
pub use redirect::redirect_target;
pub use secret::secrets_equal;
pub use session::{SessionDict, SessionFuture, SessionLayer, SessionLayerBuilder, SessionService};
#[cfg(feature = "redis")]
pub use throttle::RedisStore;
pub use throttle::{
    Attempt, Budget, BudgetKind, Charge, ClientAddr, CounterStore, ForwardedHeader, HashLimit,
    HashPermit, LoginThrottle, LoginThrottleBuilder, MemoryStore, Refusal, StoreFuture,
    ThrottleEvent, ThrottleOutcome, Verdict,
};

#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
