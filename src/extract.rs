//! axum extractors (feature `axum`).

use std::fmt;

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use crate::auth::GateUser;
use crate::{CurrentUser, Flash, SessionDict};

/// The rejection of an extractor that the stack in front of the route cannot serve: a `500` whose
/// body says what to change. It is a bug in the application's wiring, never the client's fault.
///
/// The message names the missing layer; for [`CurrentUser<U>`](crate::CurrentUser) behind an
/// [`AuthLayer`](crate::AuthLayer) built for another user type, it names both types; and for
/// `CurrentUser<U>` on a request the gate let through without a user (an optional gate, or an
/// `OPTIONS` request), it says to take `Option<CurrentUser<U>>`.
#[derive(Debug, Clone, Copy)]
pub struct MissingLayer {
    kind: Kind,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Layer {
        extractor: &'static str,
        layer: &'static str,
    },
    WrongUserType {
        wanted: &'static str,
        gate: &'static str,
    },
    NoUser {
        wanted: &'static str,
    },
}

impl MissingLayer {
    pub(crate) const fn new(extractor: &'static str, layer: &'static str) -> MissingLayer {
        MissingLayer {
            kind: Kind::Layer { extractor, layer },
        }
    }

    /// Why `CurrentUser<U>` is not in `parts`: no gate, a gate for another user type, or a gate
    /// that let the request through without a user.
    fn no_current_user<U>(parts: &Parts) -> MissingLayer {
        let wanted = std::any::type_name::<U>();
        // A gate notes its user type in the session handle, or without one in an extension. The
        // handle's note first: an extension can only come from a gate outside the `SessionLayer`,
        // so a gate with a note is the nearer one.
        let gate = parts
            .extensions
            .get::<SessionDict>()
            .and_then(SessionDict::gate_user)
            .or_else(|| {
                parts
                    .extensions
                    .get::<GateUser>()
                    .map(|gate| gate.type_name)
            });
        let kind = match gate {
            None => return MissingLayer::new("CurrentUser", "AuthLayer"),
            Some(gate) if gate != wanted => Kind::WrongUserType { wanted, gate },
            Some(_) => Kind::NoUser { wanted },
        };
        MissingLayer { kind }
    }
}

impl fmt::Display for MissingLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Layer { extractor, layer } => write!(
                f,
                "missing {layer}: the `{extractor}` extractor needs `{layer}` around this route \
                 (add it with `Router::layer`)"
            ),
            Kind::WrongUserType { wanted, gate } => write!(
                f,
                "wrong user type: the `CurrentUser<{wanted}>` extractor is behind an `AuthLayer` \
                 built for `{gate}`; take `CurrentUser<{gate}>`, or build the gate for `{wanted}`"
            ),
            Kind::NoUser { wanted } => write!(
                f,
                "no user: the `AuthLayer` in front of this route let the request through without \
                 one (the gate is optional, or this is an OPTIONS request, which it does not gate); \
                 take `Option<CurrentUser<{wanted}>>`"
            ),
        }
    }
}

impl std::error::Error for MissingLayer {}

impl IntoResponse for MissingLayer {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SessionDict {
    type Rejection = MissingLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<SessionDict>()
            .cloned()
            .ok_or(MissingLayer::new("SessionDict", "SessionLayer"))
    }
}

impl<S: Send + Sync, U: Clone + Send + Sync + 'static> FromRequestParts<S> for CurrentUser<U> {
    type Rejection = MissingLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<CurrentUser<U>>() {
            Some(user) => Ok(user.clone()),
            None => Err(MissingLayer::no_current_user::<U>(parts)),
        }
    }
}

/// `Option<CurrentUser<U>>`: `None` when the gate (an optional one) let the request through
/// without a user. Behind a gate built for another user type it is refused, with both types
/// named, rather than always `None`.
impl<S: Send + Sync, U: Clone + Send + Sync + 'static>
    axum_core::extract::OptionalFromRequestParts<S> for CurrentUser<U>
{
    type Rejection = MissingLayer;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<CurrentUser<U>>() {
            return Ok(Some(user.clone()));
        }
        match MissingLayer::no_current_user::<U>(parts) {
            rejection @ MissingLayer {
                kind: Kind::WrongUserType { .. },
            } => Err(rejection),
            _ => Ok(None),
        }
    }
}

/// The session's flash messages; the rejection names the missing `SessionLayer`.
impl<S: Send + Sync> FromRequestParts<S> for Flash {
    type Rejection = MissingLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<SessionDict>()
            .map(Flash::new)
            .ok_or(MissingLayer::new("Flash", "SessionLayer"))
    }
}
