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
