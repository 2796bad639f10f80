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
mod b64;
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
// Tier 2: the session middleware and its backends, and the registry of live logins.
mod registry;
mod session;
mod store;
// Tier 3: logging in and out.
mod flash;
mod login;
// Tier 4: the gate, CSRF protection, the axum extractors, and the login throttle.
mod auth;
mod csrf;
#[cfg(feature = "axum")]
mod extract;
mod throttle;
// Tier 5: helpers for the application's tests.
#[cfg(feature = "test-util")]
mod test_util;

// Every public item is here, at the root, and nowhere else.
pub use auth::{
    AuthFuture, AuthLayer, AuthLayerBuilder, AuthService, Authorize, CheckOutcome, CurrentUser,
    Reason, Unauthorized, UserLookup,
};
pub use clock::{Clock, SystemClock};
pub use cookie::scope::SameSite;
#[cfg(feature = "axum")]
pub use csrf::CsrfForm;
pub use csrf::{
    csrf_token, verify_csrf_token, CsrfFuture, CsrfLayer, CsrfLayerBuilder, CsrfRefusal,
    CsrfService, TokenPolicy,
};
pub use error::{ConfigError, Error};
#[cfg(feature = "axum")]
pub use extract::MissingLayer;
pub use flash::{Flash, FlashMessage, Level};
pub use key::Key;
pub use login::{
    current_user_id, is_fresh, is_fresh_within, list_sessions, login_user, logout_user,
    renew_session, revoke_other_sessions, revoke_session, update_session_auth_hash, AuthUser,
    Remember, SessionInfo,
};
pub use redirect::redirect_target;
pub use registry::{
    EntryKind, MemoryRegistry, Registry, RegistryEntry, RegistryError, RegistryFuture, Removal,
    Rotation,
};
#[cfg(feature = "redis")]
pub use registry::{RedisRegistry, RedisRegistryBuilder};
pub use secret::secrets_equal;
pub use session::{SessionDict, SessionFuture, SessionLayer, SessionLayerBuilder, SessionService};
pub use store::{MemoryStore, Saved, SessionPatch, SessionStore, StoreFailure, StoredSession};
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub use test_util::{login_cookies, CookieJar, FakeClock, TestClient, TestResponse};
#[cfg(feature = "redis")]
pub use throttle::RedisCounters;
pub use throttle::{
    Attempt, Budget, BudgetKind, Charge, ClientAddr, CounterStore, ForwardedHeader, HashLimit,
    HashPermit, LoginThrottle, LoginThrottleBuilder, MemoryCounters, Refusal, StoreFuture,
    ThrottleEvent, ThrottleOutcome, Verdict,
};

#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
