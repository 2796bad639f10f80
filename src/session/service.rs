//! `SessionService` and its response future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::layer::SessionConfig;
use crate::SessionDict;

/// The service made by [`SessionLayer`](crate::SessionLayer): puts a [`SessionDict`] in the
/// request's extensions, calls the inner service, and writes the cookies the session's changes
/// call for on its response.
#[derive(Clone, Debug)]
pub struct SessionService<S> {
    pub(crate) inner: S,
    pub(crate) config: Arc<SessionConfig>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let session = SessionDict::new(Arc::clone(&self.config), req.headers());
        req.extensions_mut().insert(session.clone());
        ResponseFuture {
            inner: self.inner.call(req),
            session: Some(session),
        }
    }
}

pin_project! {
    /// The response future of [`SessionService`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        session: Option<SessionDict>,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some(session) = this.session.take() {
            session.write_cookies(response.headers_mut());
        }
        Poll::Ready(Ok(response))
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
