//! `SessionFuture`: the response future of the session service.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::response;
use super::tracker::TrackFuture;
use crate::store::StoreFailure;
use crate::SessionDict;

pin_project! {
    /// The response future of [`SessionService`](crate::SessionService): with a registry, waits
    /// for it before and after the inner service; then writes the cookies the session's changes
    /// call for on the inner service's response.
    pub struct SessionFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody>,
        session: Option<SessionDict>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        /// The registry checks the request's logins; then the inner service is called.
        Checking {
            check: TrackFuture,
            inner: Option<S>,
            req: Option<Request<ReqBody>>,
        },
        Calling {
            #[pin]
            fut: S::Future,
        },
        /// The registry records what the request changed and the store saves it; then the
        /// cookies are written.
        Committing {
            commit: CommitFuture,
            response: Option<S::Response>,
        },
    }
}

impl<S, ReqBody, ResBody> Future for SessionFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<Bytes>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Checking { check, inner, req } => {
                    if let Err(error) = ready!(check.as_mut().poll(cx)) {
                        return Poll::Ready(Ok(unavailable(this.session.take(), &error)));
                    }
                    let (Some(mut inner), Some(req)) = (inner.take(), req.take()) else {
                        unreachable!("the check is polled to completion once");
                    };
                    let fut = inner.call(req);
                    this.state.set(State::Calling { fut });
                }
                StateProj::Calling { fut } => {
                    let response = ready!(fut.poll(cx))?;
                    let commit = this.session.as_ref().and_then(commits);
                    match commit {
                        Some(commit) => this.state.set(State::Committing {
                            commit,
                            response: Some(response),
                        }),
                        None => return Poll::Ready(Ok(finish(this.session.take(), response))),
                    }
                }
                StateProj::Committing { commit, response } => {
                    let result = ready!(commit.as_mut().poll(cx));
                    let Some(response) = response.take() else {
                        unreachable!("the commit is polled to completion once");
                    };
                    return Poll::Ready(Ok(match result {
                        Ok(()) => finish(this.session.take(), response),
                        Err((error, StoreFailure::KeepResponse)) => {
                            tracing::error!(
                                kind = error.kind(),
                                "session store did not save this request's changes; response \
                                 sent, cookies left as they were"
                            );
                            let session = this.session.take();
                            if let Some(session) = &session {
                                session.leave_cookies_alone();
                            }
                            finish(session, response)
                        }
                        Err((error, _)) => unavailable(this.session.take(), &error),
                    }));
                }
            }
        }
    }
}

/// What the response waits for after the inner service: the registry's record of the request's
/// logins and logouts, then the store's save of its changes. A failure says which policy
/// applies: the registry's is always `503`.
type CommitFuture =
    Pin<Box<dyn Future<Output = Result<(), (crate::RegistryError, StoreFailure)>> + Send>>;

fn commits(session: &SessionDict) -> Option<CommitFuture> {
    let config = session.config();
    if config.tracker.is_none() && config.store.is_none() {
        return None;
    }
    let track = config
        .tracker
        .as_ref()
        .and_then(|tracker| tracker.commit(session));
    let store = config.store.clone().filter(|_| session.was_loaded());
    if track.is_none() && store.is_none() {
        return None;
    }
    let session = session.clone();
    Some(Box::pin(async move {
        if let Some(track) = track {
            track.await.map_err(|e| (e, StoreFailure::Unavailable))?;
        }
        if let Some(store) = store {
            let failure = session.config().store_failure;
            super::store::save(&session, &*store)
                .await
                .map_err(|e| (e, failure))?;
        }
        Ok(())
    }))
}

/// Writes the session's cookies on `response`.
fn finish<B>(session: Option<SessionDict>, mut response: Response<B>) -> Response<B> {
    if let Some(session) = session {
        response::finish_owned(session, response.headers_mut());
    }
    response
}

/// The answer when the registry did not: `503` with `Retry-After`, and no cookie changed, so an
/// outage never logs anyone out. The backend's message is never logged nor sent.
fn unavailable<B: From<Bytes>>(
    session: Option<SessionDict>,
    error: &crate::RegistryError,
) -> Response<B> {
    tracing::warn!(
        kind = error.kind(),
        "session registry or store did not answer; 503, cookies left as they were"
    );
    let hook = session
        .as_ref()
        .and_then(|s| s.config().unavailable.as_ref());
    let mut response = match hook {
        Some(hook) => (hook.0)().map(B::from),
        None => {
            let mut response = Response::new(B::from(Bytes::from_static(
                b"503 Service Unavailable: sessions cannot be checked right now; try again shortly\n",
            )));
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            let headers = response.headers_mut();
            headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response
        }
    };
    let headers = response.headers_mut();
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Some(session) = session {
        session.leave_cookies_alone();
        response::finish_owned(session, response.headers_mut());
    }
    response
}

impl<S, ReqBody> std::fmt::Debug for SessionFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionFuture").finish_non_exhaustive()
    }
}

impl<S, ReqBody> SessionFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    /// Calls `inner` at once.
    pub(crate) fn calling(fut: S::Future, session: SessionDict) -> Self {
        SessionFuture {
            state: State::Calling { fut },
            session: Some(session),
        }
    }

    /// Waits for `check`, then calls `inner` (the service that was polled ready).
    pub(crate) fn checking(
        check: TrackFuture,
        inner: S,
        req: Request<ReqBody>,
        session: SessionDict,
    ) -> Self {
        SessionFuture {
            state: State::Checking {
                check,
                inner: Some(inner),
                req: Some(req),
            },
            session: Some(session),
        }
    }
}
