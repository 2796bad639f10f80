//! `SessionFuture`: the response future of the session service.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use super::response;
use crate::SessionDict;

pin_project! {
    /// The response future of [`SessionService`](crate::SessionService): writes the cookies the
    /// session's changes call for on the inner service's response.
    pub struct SessionFuture<F> {
        #[pin]
        inner: F,
        session: Option<SessionDict>,
    }
}

impl<F, ResBody, E> Future for SessionFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some(session) = this.session.take() {
            response::finish(&session, response.headers_mut());
        }
        Poll::Ready(Ok(response))
    }
}

impl<F> std::fmt::Debug for SessionFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionFuture").finish_non_exhaustive()
    }
}

impl<F> SessionFuture<F> {
    pub(crate) fn new(inner: F, session: SessionDict) -> SessionFuture<F> {
        SessionFuture {
            inner,
            session: Some(session),
        }
    }
}
