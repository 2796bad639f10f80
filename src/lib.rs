#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

pub mod auth;
mod clock;
mod codec;
mod cookie_header;
mod error;
mod key;
mod login;
mod private;
mod redirect;
mod secret;
pub mod session;

#[doc(no_inline)]
pub use auth::{AuthLayer, CurrentUser};
pub use clock::{Clock, SystemClock};
pub use error::Error;
pub use key::Key;
pub use login::{
    current_user_id, is_fresh, login_user, logout_user, renew_session, AuthUser, Remember,
};
pub use redirect::redirect_target;
pub use secret::secrets_equal;
#[doc(no_inline)]
pub use session::{SameSite, SessionDict, SessionLayer};

#[cfg(feature = "axum")]
mod extract;
#[cfg(feature = "axum")]
pub use extract::MissingLayer;

#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
