//! [`CsrfForm`]: axum's `Form<T>` with the `csrf_token` field checked (feature `axum`).

use axum::extract::Form;
use axum_core::body::Body;
use axum_core::extract::{FromRequest, Request};
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::StatusCode;
use serde::de::value::MapDeserializer;
use serde::de::{DeserializeOwned, IgnoredAny};

use super::refusal::CsrfRefusal;
use super::service::{refuse, Cleared};
use super::verify_csrf_token;
use crate::extract::MissingLayer;
use crate::SessionDict;

/// The name of the form field that carries the token.
const FIELD: &str = "csrf_token";

/// An `application/x-www-form-urlencoded` body deserialised as `T` (as axum's `Form<T>`), after
/// its `csrf_token` field was checked when [`CsrfLayer`](crate::CsrfLayer) asked for it.
///
/// The layer lets a form without a token header through only when the handler can check the
/// form's field: this extractor does, and refuses the request (the layer's `403`, or its
/// [`refused`](crate::CsrfLayerBuilder::refused) hook's response) when the field is missing or
/// not a token of this session. When the layer already cleared the request (by its headers, or a
/// token header) the field is not needed. `T` ignores the `csrf_token` field as any unknown
/// field, unless it denies unknown fields. A cleared request without a `Content-Type` reads as an
/// empty form (`422` if `T` needs fields). `CsrfForm` alone (`T` = [`IgnoredAny`]) checks the
/// token and keeps nothing, for forms with no other field (a logout button).
///
/// Without a `CsrfLayer` (or a `SessionLayer`) in front of the route, it is a `500` that says
/// which layer is missing ([`MissingLayer`]).
///
/// # Examples
///
/// ```
/// use axum::{routing::post, Router};
/// use serde::Deserialize;
/// use tower_session_auth::{CsrfForm, CsrfLayer, Key, SessionLayer, TokenPolicy};
///
/// #[derive(Deserialize)]
/// struct Rename { name: String }
///
/// async fn rename(CsrfForm(form): CsrfForm<Rename>) -> String {
///     format!("renamed to {}", form.name)
/// }
///
/// async fn logout(_: CsrfForm) -> &'static str {
///     "logged out"
/// }
///
/// let csrf = CsrfLayer::builder().tokens(TokenPolicy::WhenNoHeaders).build()?;
/// let sessions = SessionLayer::builder(Key::generate()).build()?;
/// let app: Router = Router::new()
///     .route("/rename", post(rename))
///     .route("/logout", post(logout))
///     .layer(csrf)
///     .layer(sessions);
/// # Ok::<(), tower_session_auth::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CsrfForm<T = IgnoredAny>(pub T);

impl<S, T> FromRequest<S> for CsrfForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Some(cleared) = req.extensions().get::<Cleared>().cloned() else {
            return Err(MissingLayer::new("CsrfForm", "CsrfLayer").into_response());
        };
        if !cleared.form_token_required {
            // Cleared by its headers and sent without a body (a logout button posted by
            // `fetch()`): the fields of an empty form, rather than axum's `415`.
            if !req.headers().contains_key(CONTENT_TYPE) {
                return empty_form().ok_or_else(|| {
                    (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "the form's fields are missing",
                    )
                        .into_response()
                });
            }
            return form(req, state).await;
        }
        let Some(session) = req.extensions().get::<SessionDict>().cloned() else {
            return Err(MissingLayer::new("CsrfForm", "SessionLayer").into_response());
        };
        let (parts, body) = req.into_parts();
        let method = parts.method.clone();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let token = form_urlencoded::parse(&bytes)
            .find(|(name, _)| name == FIELD)
            .map(|(_, value)| value);
        let refusal = match token {
            None => Some(CsrfRefusal::MissingToken),
            Some(token) if !verify_csrf_token(&session, &token) => Some(CsrfRefusal::InvalidToken),
            Some(_) => None,
        };
        if let Some(refusal) = refusal {
            return Err(refuse::<Body>(&cleared.config, refusal, &method));
        }
        form(Request::from_parts(parts, Body::from(bytes)), state).await
    }
}

/// `T` from a form with no fields; `None` when `T` needs some.
fn empty_form<T: DeserializeOwned>() -> Option<CsrfForm<T>> {
    let fields = std::iter::empty::<(String, String)>();
    T::deserialize(MapDeserializer::<_, serde::de::value::Error>::new(fields))
        .ok()
        .map(CsrfForm)
}

async fn form<S: Send + Sync, T: DeserializeOwned>(
    req: Request,
    state: &S,
) -> Result<CsrfForm<T>, Response> {
    Form::<T>::from_request(req, state)
        .await
        .map(|Form(value)| CsrfForm(value))
        .map_err(IntoResponse::into_response)
}
