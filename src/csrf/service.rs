//! [`CsrfService`]: the check applied to each request.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use tower_service::Service;

use super::check::{check, Verdict};
use super::future::CsrfFuture;
use super::layer::{Config, TokenPolicy};
use super::refusal::forbidden;
use super::{verify_csrf_token, CsrfRefusal};
use crate::SessionDict;

/// What the layer decided about a request it let through, in the request's extensions: whether
/// the handler must still check a form's `csrf_token` field (for [`CsrfForm`](crate::CsrfForm)).
/// Without the `axum` feature nothing reads it (`CsrfForm` is the reader).
#[derive(Clone)]
#[cfg_attr(not(feature = "axum"), allow(dead_code))]
pub(crate) struct Cleared {
    pub(crate) form_token_required: bool,
    pub(crate) config: Arc<Config>,
}

/// The service of [`CsrfLayer`](crate::CsrfLayer): refuses forged requests before they reach
/// the inner service.
#[derive(Clone)]
pub struct CsrfService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> CsrfService<S> {
    pub(crate) fn new(inner: S, config: Arc<Config>) -> Self {
        CsrfService { inner, config }
    }
}

impl<S: fmt::Debug> fmt::Debug for CsrfService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrfService")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish()
    }
}

/// What to do with a request: refuse it, or let it through telling the handler whether a form
/// token is still to be checked.
enum Outcome {
    Refuse(CsrfRefusal),
    Misconfigured,
    Through { form_token_required: bool },
}

fn decide<B>(config: &Config, req: &Request<B>) -> Outcome {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let needs_token = match check(config, req.method(), req.uri(), req.headers()) {
        Verdict::Refuse(refusal) => return Outcome::Refuse(refusal),
        Verdict::Pass => !safe && config.tokens == TokenPolicy::Always,
        Verdict::NoHeaders => config.tokens != TokenPolicy::Never,
    };
    if !needs_token {
        return Outcome::Through {
            form_token_required: false,
        };
    }
    match req.headers().get(&config.token_header) {
        Some(token) => {
            let Some(session) = req.extensions().get::<SessionDict>() else {
                return Outcome::Misconfigured;
            };
            let valid = token
                .to_str()
                .is_ok_and(|token| verify_csrf_token(session, token));
            if valid {
                Outcome::Through {
                    form_token_required: false,
                }
            } else {
                Outcome::Refuse(CsrfRefusal::InvalidToken)
            }
        }
        None if is_form(req.headers()) => Outcome::Through {
            form_token_required: true,
        },
        None => Outcome::Refuse(CsrfRefusal::MissingToken),
    }
}

/// Whether the body is a form a handler parses (`application/x-www-form-urlencoded` or
/// `multipart/form-data`), whose `csrf_token` field the handler checks.
fn is_form(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/x-www-form-urlencoded")
        || essence.eq_ignore_ascii_case("multipart/form-data")
}

/// The refusal response: the hook's or the default `403`, the reason in its extensions, and an
/// event that names the reason and the method, never a header value.
pub(crate) fn refuse<B: From<Bytes>>(
    config: &Config,
    refusal: CsrfRefusal,
    method: &Method,
) -> Response<B> {
    tracing::info!(reason = %refusal, method = %method, "CSRF check refused a request");
    let response = match &config.refused {
        Some(hook) => hook(refusal),
        None => forbidden(refusal),
    };
    let mut response = response.map(B::from);
    response.extensions_mut().insert(refusal);
    response
}

fn misconfigured<B: From<Bytes>>() -> Response<B> {
    let message = "missing SessionLayer: CsrfLayer checks tokens against the session and needs \
                   `SessionLayer` outside it (add it after the CsrfLayer with `Router::layer`)";
    tracing::error!("{message}");
    let mut response = Response::new(B::from(Bytes::from_static(message.as_bytes())));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CsrfService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = CsrfFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        match decide(&self.config, &req) {
            Outcome::Refuse(refusal) => {
                CsrfFuture::refused(refuse(&self.config, refusal, req.method()))
            }
            Outcome::Misconfigured => CsrfFuture::refused(misconfigured()),
            Outcome::Through {
                form_token_required,
            } => {
                req.extensions_mut().insert(Cleared {
                    form_token_required,
                    config: Arc::clone(&self.config),
                });
                CsrfFuture::inner(self.inner.call(req))
            }
        }
    }
}
