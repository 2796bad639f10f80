//! axum extractors (feature `axum`).

use std::fmt;

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use crate::SessionDict;

/// The rejection of an extractor whose layer is missing from the stack: a `500` that names the
/// layer to add. It is a bug in the application's wiring, never the client's fault.
#[derive(Debug, Clone, Copy)]
pub struct MissingLayer {
    extractor: &'static str,
    layer: &'static str,
}

impl MissingLayer {
    pub(crate) const fn new(extractor: &'static str, layer: &'static str) -> MissingLayer {
        MissingLayer { extractor, layer }
    }
}

impl fmt::Display for MissingLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "missing {layer}: the `{extractor}` extractor needs `{layer}` around this route \
             (add it with `Router::layer`)",
            extractor = self.extractor,
            layer = self.layer,
        )
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

impl<S: Send + Sync, U: Clone + Send + Sync + 'static> FromRequestParts<S>
    for crate::CurrentUser<U>
{
    type Rejection = MissingLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<crate::CurrentUser<U>>()
            .cloned()
            .ok_or(MissingLayer::new("CurrentUser", "AuthLayer"))
    }
}

/// `Option<CurrentUser<U>>`: `None` when the gate (an optional one) let the request through
/// without a user.
impl<S: Send + Sync, U: Clone + Send + Sync + 'static>
    axum_core::extract::OptionalFromRequestParts<S> for crate::CurrentUser<U>
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<crate::CurrentUser<U>>().cloned())
    }
}
