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

/// Put in the request's extensions by an [`AuthLayer`](crate::AuthLayer) the request passes
/// without a [`SessionDict`](crate::SessionDict) (which notes it otherwise), with its user type,
/// so that an extractor can tell a missing gate from a gate built for another user type, or one
/// that let the request through without a user.
#[derive(Debug, Clone, Copy)]
#[cfg(feature = "axum")]
pub(crate) struct GateUser {
    /// `std::any::type_name` of the gate's user type.
    pub(crate) type_name: &'static str,
}

/// The user types of the gates built so far, so that a gate notes its type in the session handle
/// as a number (a plain store on each request, not a lock). A program builds a few gates: the
/// list holds each type once.
#[cfg(feature = "axum")]
static GATE_USER_TYPES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

/// The number that stands for the user type `U` in the session handle (never 0, which means no
/// gate).
#[cfg(feature = "axum")]
pub(crate) fn gate_user_number<U>() -> usize {
    let name = std::any::type_name::<U>();
    let mut types = GATE_USER_TYPES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let index = types.iter().position(|t| *t == name).unwrap_or_else(|| {
        types.push(name);
        types.len() - 1
    });
    index + 1
}

/// The user type that [`gate_user_number`] gave `number`.
#[cfg(feature = "axum")]
pub(crate) fn gate_user_type(number: usize) -> Option<&'static str> {
    let types = GATE_USER_TYPES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    types.get(number.checked_sub(1)?).copied()
}
