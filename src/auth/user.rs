//! `CurrentUser<U>`: the authenticated user, as the gate hands it to handlers.

use std::ops::Deref;

/// The user that [`AuthLayer`](crate::AuthLayer) authenticated, in the request's extensions.
///
/// With the `axum` feature it is an extractor: `CurrentUser<U>` in a handler behind the gate, or
/// `Option<CurrentUser<U>>` on pages that work with and without a login (behind an optional gate).
/// Without axum, read it with `req.extensions().get::<CurrentUser<U>>()`.
#[derive(Debug, Clone)]
pub struct CurrentUser<U>(pub U);

impl<U> Deref for CurrentUser<U> {
    type Target = U;

    fn deref(&self) -> &U {
        &self.0
    }
}

impl<U> CurrentUser<U> {
    /// The user.
    pub fn into_inner(self) -> U {
        self.0
    }
}

/// Put in the request's extensions by every [`AuthLayer`](crate::AuthLayer) the request passes,
/// with its user type, so that an extractor can tell a missing gate from a gate built for
/// another user type, or one that let the request through without a user.
#[derive(Debug, Clone, Copy)]
#[cfg(feature = "axum")]
pub(crate) struct GateUser {
    /// `std::any::type_name` of the gate's user type.
    pub(crate) type_name: &'static str,
}
