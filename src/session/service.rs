//! `SessionService`: puts the handle in the request and hands it to the response future.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::config::SessionConfig;
use super::SessionFuture;
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
    type Future = SessionFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let session = SessionDict::new(Arc::clone(&self.config), req.headers());
        req.extensions_mut().insert(session.clone());
        SessionFuture::new(self.inner.call(req), session)
    }
}
