//! `login_cookies`: the cookies of a login, without the login form.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue};

use crate::session::finish;
use crate::{login_user, AuthUser, Error, Remember, SessionDict, SessionLayer};

/// The `Set-Cookie` values that [`login_user`] would send for `user` through `layer`, on a
/// browser with no session yet: the session cookie, and the remember-me cookie when `remember`
/// asks for one. They are made by `login_user` itself, with the layer's keys, clock and cookie
/// attributes, so a test that starts with them tests exactly what a logged-in browser sends.
/// [`TestClient::login_as`](crate::TestClient::login_as) puts them in a client's jar.
///
/// With a [`registry`](crate::SessionLayerBuilder::registry), the login is registered too, as
/// the layer would register it, so the cookies are those of a tracked login.
///
/// # Errors
///
/// As [`login_user`]; [`Error::Registry`] when the registry did not answer.
///
/// # Examples
///
/// ```
/// use tower_session_auth::{login_cookies, AuthUser, Key, SessionLayer};
///
/// #[derive(Clone)]
/// struct User { id: u64 }
/// impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tower_session_auth::Error> {
/// let layer = SessionLayer::new(Key::generate());
/// let cookies = login_cookies(&layer, &User { id: 1 }, true).await?;
/// assert_eq!(cookies.len(), 2); // the session and `_remember`
/// assert!(cookies[0].to_str().unwrap().starts_with("session="));
/// # Ok(())
/// # }
/// ```
pub async fn login_cookies<U: AuthUser>(
    layer: &SessionLayer,
    user: &U,
    remember: impl Into<Remember>,
) -> Result<Vec<HeaderValue>, Error> {
    let session = SessionDict::new(Arc::clone(&layer.config), &HeaderMap::new());
    login_user(&session, user, remember)?;
    let commit = (layer.config.tracker.as_ref()).and_then(|tracker| tracker.commit(&session));
    if let Some(commit) = commit {
        commit.await.map_err(Error::Registry)?;
    }
    let mut headers = HeaderMap::new();
    finish(&session, &mut headers);
    Ok(headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .cloned()
        .collect())
}
