//! `SessionService`: puts the handle in the request and hands it to the response future.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower_service::Service;

use super::config::SessionConfig;
use super::tracker::TrackFuture;
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
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = SessionFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let session = SessionDict::new(Arc::clone(&self.config), req.headers());
        // Behind another `SessionLayer`, the gates that layer's handle noted still count for the
        // extractors' messages.
        #[cfg_attr(not(feature = "axum"), allow(unused_variables))]
        if let Some(outer) = req.extensions_mut().insert(session.clone()) {
            #[cfg(feature = "axum")]
            session.inherit_gate(&outer);
        }
        let check = checks(&self.config, &session);
        match check {
            // The registry answers before the inner service is called: hand the future the
            // service that was polled ready and keep a fresh clone here.
            Some(check) => {
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                SessionFuture::checking(check, inner, req, session)
            }
            None => SessionFuture::calling(self.inner.call(req), session),
        }
    }
}

/// What the request waits for before the inner service: with a store, its record (when a
/// session cookie was sent); with a registry, the check of its logins. `None` when nothing.
fn checks(config: &Arc<SessionConfig>, session: &SessionDict) -> Option<TrackFuture> {
    let Some(store) = config
        .store
        .as_ref()
        .filter(|_| session.session_cookie_sent())
    else {
        return config.tracker.as_ref()?.check(session);
    };
    let (store, tracker) = (Arc::clone(store), config.tracker.clone());
    let session = session.clone();
    Some(Box::pin(async move {
        super::store::load(&session, &*store).await?;
        if let Some(check) = tracker.and_then(|tracker| tracker.check(&session)) {
            check.await?;
        }
        Ok(())
    }))
}
