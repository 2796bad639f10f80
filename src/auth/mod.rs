//! The login gate: [`AuthLayer`], its service, and [`CurrentUser`].

mod accept;
mod authorize;
mod basic;
mod bearer;
mod layer;
mod lookup;
mod scheme;
mod service;
mod user;

pub use authorize::{Authorize, CheckOutcome};
pub use layer::{AuthLayer, AuthLayerBuilder, Reason, Unauthorized};
pub use lookup::UserLookup;
pub use service::{AuthFuture, AuthService};
pub use user::CurrentUser;
#[cfg(feature = "axum")]
pub(crate) use user::{gate_user_number, gate_user_type, GateUser};

/// The username of the request's one well-formed `Authorization: Basic` header, parsed as the
/// gate parses it; for the login throttle.
pub(crate) fn basic_username(headers: &http::HeaderMap) -> Option<String> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    basic::parse(value).map(|c| c.username)
}

#[cfg(fuzzing)]
pub(crate) fn fuzz_basic(value: &http::HeaderValue) -> Option<(String, String)> {
    basic::parse(value).map(|c| (c.username, c.password))
}

#[cfg(fuzzing)]
pub(crate) fn fuzz_bearer(value: &http::HeaderValue) -> Option<String> {
    bearer::parse_authorization(value).or_else(|| bearer::parse_header(value))
}
