//! The response future of [`CsrfService`](super::CsrfService).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

pin_project! {
    /// The response future of [`CsrfService`](crate::CsrfService): the inner service's, or a
    /// refusal ready at once.
    pub struct CsrfFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Inner { #[pin] future: F },
        Refused { response: Option<Response<B>> },
    }
}

impl<F, B> CsrfFuture<F, B> {
    pub(crate) fn inner(future: F) -> Self {
        CsrfFuture {
            kind: Kind::Inner { future },
        }
    }

    pub(crate) fn refused(response: Response<B>) -> Self {
        CsrfFuture {
            kind: Kind::Refused {
                response: Some(response),
            },
        }
    }
}

impl<F, B, E> Future for CsrfFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx),
            KindProj::Refused { response } => Poll::Ready(Ok(response
                .take()
                .expect("CsrfFuture polled after completion"))),
        }
    }
}

impl<F, B> std::fmt::Debug for CsrfFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.kind {
            Kind::Inner { .. } => "Inner",
            Kind::Refused { .. } => "Refused",
        };
        f.debug_struct("CsrfFuture").field("state", &state).finish()
    }
}
