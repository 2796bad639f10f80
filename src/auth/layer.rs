//! `AuthLayer`: the gate's configuration.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, Uri};
use tower_layer::Layer;

use super::authorize::{permission_loader, Authorize, CheckOutcome, PermissionLoader};
use super::lookup::{settle, Looked};
use super::{AuthService, UserLookup};
use crate::redirect::is_valid_login_url;
use crate::{AuthUser, ConfigError, Error};

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
pub(crate) type Loader<U> = Arc<dyn Fn(<U as AuthUser>::Id) -> BoxFuture<Looked<U>> + Send + Sync>;
pub(crate) type BasicVerifier<U> =
    Arc<dyn Fn(String, String) -> BoxFuture<Looked<U>> + Send + Sync>;
pub(crate) type TokenVerifier<U> = Arc<dyn Fn(String) -> BoxFuture<Looked<U>> + Send + Sync>;
type Hook = Arc<dyn Fn(Unauthorized) -> Response<Bytes> + Send + Sync>;

/// Why the gate turned a request away; also put in the rejection response's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// Nobody is logged in and no credentials were sent, or the user loader did not know the
    /// logged-in user, or their session auth hash changed.
    NotLoggedIn,
    /// A login restored from a remember-me cookie reached a route that requires a fresh login,
    /// or the last login with credentials is older than
    /// [`fresh_within`](AuthLayerBuilder::fresh_within) allows. Browsers are sent to log in
    /// again; other clients get `401` with an RFC 9470 `insufficient_user_authentication`
    /// challenge.
    NotFresh,
    /// Credentials were sent (HTTP Basic or a token) and were refused.
    InvalidCredentials,
    /// The user loader or a verifier returned an error: whether the request may pass is not known.
    /// The default response is `503 Service Unavailable` with `Retry-After`; the session and the
    /// remember-me cookie are left as they were (see [`UserLookup`](crate::UserLookup)).
    Unavailable,
    /// Someone is logged in, but the gate's [`authorize`](AuthLayerBuilder::authorize) check
    /// refused them: `403 Forbidden`, never a login redirect (logging in again cannot help).
    Forbidden,
}

/// What the gate knows when it turns a request away: given to the
/// [`unauthorized`](AuthLayerBuilder::unauthorized) hook to build a custom response.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Unauthorized {
    /// Why the request was turned away.
    pub reason: Reason,
    /// The request's target, whole: with the `axum` feature, axum's `OriginalUri` when the route
    /// is inside `Router::nest` (whose prefix the request's own URI has lost there).
    pub uri: Uri,
    /// Where a browser would be sent to log in (`login_url?next=…`), when the gate has a session
    /// login and the client wants HTML.
    pub login_location: Option<String>,
    /// The `WWW-Authenticate` challenges of the configured API schemes, or `Session` for a gate
    /// with only session logins (see [`redirect_to_login`](AuthLayerBuilder::redirect_to_login)):
    /// what a `401` must carry.
    pub challenges: Vec<HeaderValue>,
}

/// Gates the inner service behind a login: a session login (with a redirect to the login page
/// for browsers), HTTP Basic, or a token, and hands the user to handlers as
/// [`CurrentUser<U>`](crate::CurrentUser).
///
/// Stack it inside a [`SessionLayer`](crate::SessionLayer) (the session layer must see the request
/// first). Build it with [`AuthLayer::builder`].
///
/// When nobody is logged in, a browser (a request whose `Accept` names `text/html`) is redirected
/// with `302 Found` to `login_url?next=<path and query>` (with the `axum` feature, the whole path
/// inside `Router::nest`, from axum's `OriginalUri`); other clients get `401` with a short
/// plain-text body and a `WWW-Authenticate` challenge (`Session` for session logins; see
/// [`redirect_to_login`](AuthLayerBuilder::redirect_to_login)). The inner
/// service's error type is unchanged: rejections are responses. A logged-in user whom an
/// [`authorize`](AuthLayerBuilder::authorize) check refuses gets `403 Forbidden` instead (an HTML
/// page for browsers, a short JSON or text body for the others). `OPTIONS` requests (CORS
/// preflights) pass without authentication unless [`gate_options`](AuthLayerBuilder::gate_options)
/// is on.
///
/// # Examples
///
/// ```
/// use tower_session_auth::{AuthLayer, AuthUser};
///
/// #[derive(Clone, Debug)]
/// struct User { id: u64, name: String }
///
/// impl AuthUser for User {
///     type Id = u64;
///     fn id(&self) -> u64 { self.id }
/// }
///
/// let login_required = AuthLayer::builder()
///     .user_loader(|id: u64| async move {
///         // Look the user up in your store; `None` means logged out.
///         (id == 1).then(|| User { id, name: "susan".into() })
///     })
///     .login_url("/login")
///     .build()?;
/// let fresh_login_required = login_required.clone().into_builder().fresh(true).build()?;
/// # Ok::<(), tower_session_auth::Error>(())
/// ```
#[must_use]
pub struct AuthLayer<U: AuthUser> {
    pub(crate) config: Arc<AuthConfig<U>>,
}

impl<U: AuthUser> Clone for AuthLayer<U> {
    fn clone(&self) -> Self {
        AuthLayer {
            config: Arc::clone(&self.config),
        }
    }
}

impl<U: AuthUser> fmt::Debug for AuthLayer<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
    }
}

impl<U: AuthUser> AuthLayer<U> {
    /// Starts configuring a gate.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tower_session_auth::{AuthLayer, AuthUser};
    /// # #[derive(Clone)] struct User { id: u64 }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    /// # async fn load_user(id: u64) -> Option<User> { Some(User { id }) }
    ///
    /// let login_required = AuthLayer::builder().user_loader(load_user).build()?;
    /// let api = AuthLayer::builder()
    ///     .bearer("api", |token: String| async move { (token == "t0k3n").then(|| User { id: 1 }) })
    ///     .build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn builder() -> AuthLayerBuilder<U> {
        AuthLayerBuilder {
            config: AuthConfig {
                session: None,
                basic: None,
                basic_charset: "UTF-8".into(),
                bearer: None,
                token_header: None,
                login_url: "/login".into(),
                fresh: false,
                fresh_within: None,
                authorize: None,
                permissions: None,
                optional: false,
                redirect: true,
                gate_options: false,
                unauthorized: None,
                #[cfg(feature = "axum")]
                user_type: super::gate_user_number::<U>(),
            },
        }
    }

    /// A builder with this layer's settings, to derive a variant (such as a fresh-login gate).
    ///
    /// # Examples
    ///
    /// ```
    /// # use tower_session_auth::{AuthLayer, AuthUser};
    /// # #[derive(Clone)] struct User { id: u64 }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    /// # async fn load_user(id: u64) -> Option<User> { Some(User { id }) }
    ///
    /// let login_required = AuthLayer::builder().user_loader(load_user).build()?;
    /// // The same gate, for pages that need a password typed in this browser session.
    /// let fresh_login_required = login_required.clone().into_builder().fresh(true).build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn into_builder(self) -> AuthLayerBuilder<U> {
        AuthLayerBuilder {
            config: Arc::unwrap_or_clone(self.config),
        }
    }
}

impl<S, U: AuthUser> Layer<S> for AuthLayer<U> {
    type Service = AuthService<S, U>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// Configures an [`AuthLayer`]; every setter takes and returns the builder.
#[must_use]
pub struct AuthLayerBuilder<U: AuthUser> {
    config: AuthConfig<U>,
}

impl<U: AuthUser> Clone for AuthLayerBuilder<U> {
    fn clone(&self) -> Self {
        AuthLayerBuilder {
            config: self.config.clone(),
        }
    }
}

impl<U: AuthUser> fmt::Debug for AuthLayerBuilder<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
    }
}

impl<U: AuthUser> AuthLayerBuilder<U> {
    /// Enables session logins: `loader` turns the logged-in user's id into the user, or `None`
    /// when the id is no longer valid (the request is then treated as logged out, and the login
    /// removed from the session). Requires a [`SessionLayer`](crate::SessionLayer) outside.
    ///
    /// The loader's future returns `Option<U>`, or `Result<Option<U>, E>` to report that the store
    /// could not answer: an `Err` is a `503`, not a logout (see [`UserLookup`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use tower_session_auth::{AuthLayer, AuthUser};
    /// # #[derive(Clone)] struct User { id: u64 }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    /// # async fn load_user(id: u64) -> Option<User> { Some(User { id }) }
    ///
    /// # #[derive(Debug)] struct DbError;
    /// # impl std::fmt::Display for DbError {
    /// #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("db") }
    /// # }
    /// # impl std::error::Error for DbError {}
    /// // A store that cannot fail answers `Option<User>`...
    /// let gate = AuthLayer::builder()
    ///     .user_loader(|id: u64| async move { (id == 1).then(|| User { id }) })
    ///     .build()?;
    ///
    /// // ...one that can answers `Result<Option<User>, E>`: `Err` is a 503, not a logout.
    /// async fn from_db(id: u64) -> Result<Option<User>, DbError> {
    ///     Ok((id == 1).then(|| User { id }))
    /// }
    /// let gate = AuthLayer::builder().user_loader(from_db).build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn user_loader<F, Fut>(mut self, loader: F) -> Self
    where
        F: Fn(U::Id) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: UserLookup<U>,
    {
        self.config.session = Some(Arc::new(move |id| {
            let lookup = loader(id);
            Box::pin(async move { settle(lookup.await) })
        }));
        self
    }

    /// Enables HTTP Basic (RFC 7617), as Microdot's `BasicAuth`: `verifier` gets the username
    /// and password of a well-formed `Authorization: Basic …` header and returns the user, or
    /// `None` to refuse. Refused or malformed credentials get `401` with
    /// `WWW-Authenticate: Basic realm="…", charset="UTF-8"`. Return `Result<Option<U>, E>` to
    /// report that the store could not answer: an `Err` is a `503` (see [`UserLookup`]).
    ///
    /// Compare passwords with a password hash (argon2, `ring::pbkdf2::verify`) and do the same
    /// work for unknown users, so that timing does not tell which usernames exist.
    ///
    /// Basic sends the password with every request, so the verifier hashes it on every request:
    /// a slow password hash on each call, which one client can repeat as fast as it likes. Bound
    /// the hashing (a semaphore around it, answering `503` with `Retry-After` when it is full, as
    /// the demo does), and prefer tokens ([`bearer`](Self::bearer)) for API clients: a token
    /// needs only a fast hash to check.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tower_session_auth::{AuthLayer, AuthUser};
    /// # #[derive(Clone)] struct User { id: u64 }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    /// # async fn load_user(id: u64) -> Option<User> { Some(User { id }) }
    ///
    /// let gate = AuthLayer::builder()
    ///     .basic("my api", |username: String, password: String| async move {
    ///         // Verify `password` against a stored hash here, with the same work for unknown users.
    ///         (username == "susan" && password == "hello").then(|| User { id: 1 })
    ///     })
    ///     .build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn basic<F, Fut>(mut self, realm: impl Into<String>, verifier: F) -> Self
    where
        F: Fn(String, String) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: UserLookup<U>,
    {
        self.config.basic = Some(BasicConfig {
            realm: realm.into(),
            verify: Arc::new(move |user, password| {
                let lookup = verifier(user, password);
                Box::pin(async move { settle(lookup.await) })
            }),
        });
        self
    }

    /// The `charset` advertised in the Basic challenge. Default `UTF-8`, the only value RFC 7617
    /// defines; credentials are always decoded as UTF-8.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tower_session_auth::{AuthLayer, AuthUser};
    /// # #[derive(Clone)] struct User { id: u64 }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    /// # async fn load_user(id: u64) -> Option<User> { Some(User { id }) }
    ///
    /// let gate = AuthLayer::builder()
    ///     .basic("my api", |_user: String, _password: String| async move { None::<User> })
    ///     .basic_charset("UTF-8") // the default, and the only value RFC 7617 defines
    ///     .build()?;
    /// assert!(AuthLayer::builder()
    ///     .basic("my api", |_user: String, _password: String| async move { None::<User> })
    ///     .basic_charset("not a token")
    ///     .build()
    ///     .is_err());
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn basic_charset(mut self, charset: impl Into<String>) -> Self {
        self.config.basic_charset = charset.into();
        self
    }

    /// Enables token authentication, as Microdot's `TokenAuth`: `verifier` gets the token of an
    /// `Authorization: Bearer <token>` header (RFC 6750; or of the header named with
    /// [`token_header`](Self::token_header)) and returns the user, or `None` to refuse. Refused or
    /// malformed tokens get `401` with `WWW-Authenticate: Bearer realm="…",
    /// error="invalid_token"`. Tokens are never read from the query string or the body. Return
    /// `Result<Option<U>, E>` to report that the store could not answer: an `Err` is a `503` (see
    /// [`UserLookup`]).
    ///
    /// Store tokens hashed and compare with [`secrets_equal`](crate::secrets_equal).
    ///
    /// # Examples
    ///
    /// ```
    /// # use tower_session_auth::{AuthLayer, AuthUser};
    /// # #[derive(Clone)] struct User { id: u64 }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    /// # async fn load_user(id: u64) -> Option<User> { Some(User { id }) }
    ///
    /// use ring::digest::{digest, SHA256};
    /// use tower_session_auth::secrets_equal;
    ///
    /// let stored = digest(&SHA256, b"susan-api-token"); // keep only the hash
    /// let gate = AuthLayer::builder()
    ///     .bearer("my api", move |token: String| async move {
    ///         let presented = digest(&SHA256, token.as_bytes());
    ///         secrets_equal(stored.as_ref(), presented.as_ref()).then(|| User { id: 1 })
    ///     })
    ///     .build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn bearer<F, Fut>(mut self, realm: impl Into<String>, verifier: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: UserLookup<U>,
    {
        self.config.bearer = Some(BearerConfig {
            realm: realm.into(),
            verify: Arc::new(move |token| {
                let lookup = verifier(token);
                Box::pin(async move { settle(lookup.await) })
            }),
        });
        self
    }

    /// Reads the token from this header (such as `X-API-Key`) instead of `Authorization: Bearer`.
    /// The whole value, trimmed, is the token.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tower_session_auth::{AuthLayer, AuthUser};
    /// # #[derive(Clone)] struct User { id: u64 }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    /// # async fn load_user(id: u64) -> Option<User> { Some(User { id }) }
    ///
    /// use http::HeaderName;
    ///
    /// // `X-API-Key: <token>` instead of `Authorization: Bearer <token>`.
    /// let gate = AuthLayer::builder()
    ///     .bearer("my api", |key: String| async move { (key == "k3y").then(|| User { id: 1 }) })
    ///     .token_header(HeaderName::from_static("x-api-key"))
    ///     .build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn token_header(mut self, header: HeaderName) -> Self {
        self.config.token_header = Some(header);
        self
    }

    /// Where browsers are sent to log in. Default `/login`. A path on this site, or an absolute
    /// `http(s)` URL; it is used as configured, never built from the request's `Host`.
    ///
    /// The gate adds `next=<the request's path and query>` to the URL's query (keeping what is
    /// there: `/auth?lang=en` becomes `/auth?lang=en&next=%2Fx`), except when the URL has a `next`
    /// of its own: then it is sent as it is, and every login through this gate ends where that
    /// `next` says (`/login?next=%2Fdashboard`).
    ///
    /// A path is held to the rule [`redirect_target`](crate::redirect_target) holds `next` to, so
    /// that no login URL sends browsers to another site: `//evil.example`, `/\evil.example`, `\`
    /// anywhere, spaces, control and non-ASCII characters are refused by [`build`](Self::build), as
    /// are a fragment, two `next` parameters, and a `next` that `redirect_target` would not
    /// follow.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tower_session_auth::{AuthLayer, AuthUser};
    /// # #[derive(Clone)] struct User { id: u64 }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    /// # async fn load_user(id: u64) -> Option<User> { Some(User { id }) }
    ///
    /// use tower_session_auth::{ConfigError, Error};
    ///
    /// let gate = AuthLayer::builder().user_loader(load_user).login_url("/account/login").build()?;
    /// // Every login through this gate ends on the dashboard: no `next` is added.
    /// let gate = AuthLayer::builder()
    ///     .user_loader(load_user)
    ///     .login_url("/login?next=%2Fdashboard")
    ///     .build()?;
    /// // Browsers read `/\evil.example` as another site.
    /// let refused = AuthLayer::builder().user_loader(load_user).login_url("/\\evil.example").build();
    /// assert!(matches!(refused, Err(Error::InvalidConfig(ConfigError::LoginUrl))));
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn login_url(mut self, url: impl Into<String>) -> Self {
        self.config.login_url = url.into();
        self
    }

    /// Requires a fresh login: one made with credentials in this browser session, not restored
    /// from a remember-me cookie (for changing a password or an email address). A remembered login
    /// is sent to log in again. Default off.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tower_session_auth::{AuthLayer, AuthUser};
    /// # #[derive(Clone)] struct User { id: u64 }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    /// # async fn load_user(id: u64) -> Option<User> { Some(User { id }) }
    ///
    /// let login_required = AuthLayer::builder().user_loader(load_user).build()?;
    /// // For the page that changes the password: a login restored by "remember me" is not enough.
    /// let fresh_login_required = login_required.into_builder().fresh(true).build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn fresh(mut self, fresh: bool) -> Self {
        self.config.fresh = fresh;
        self
    }

    /// Requires a session login whose user typed their credentials (called
    /// [`login_user`](crate::login_user)) at most `max_age` ago, for step-up pages such as a
    /// payment or deleting the account. Implies [`fresh`](Self::fresh): a login restored from a
    /// remember-me cookie never qualifies. Default: no time limit.
    ///
    /// The time of the login is kept in the session bound to the user's id, so a later login of
    /// another user in the same browser (here or by a Microdot service sharing the session)
    /// never inherits it. Logging in again as the same user (through `login_user`) renews it
    /// and keeps the session's data, so other open tabs go on working.
    ///
    /// Browsers are sent to the login page, like a login that is not fresh; other clients get
    /// `401` with an RFC 9470 challenge: `WWW-Authenticate: Session
    /// error="insufficient_user_authentication", …, max_age="<seconds>"`. Basic and token logins
    /// are not held to it (their credentials come with every request).
    ///
    /// # Examples
    ///
    /// ```
    /// # use tower_session_auth::{AuthLayer, AuthUser};
    /// # #[derive(Clone)] struct User { id: u64 }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    /// # async fn load_user(id: u64) -> Option<User> { Some(User { id }) }
    /// use std::time::Duration;
    ///
    /// let login_required = AuthLayer::builder().user_loader(load_user).build()?;
    /// // Deleting the account needs a password typed in the last five minutes.
    /// let recent_login_required = login_required
    ///     .into_builder()
    ///     .fresh_within(Duration::from_secs(5 * 60))
    ///     .build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn fresh_within(mut self, max_age: Duration) -> Self {
        self.config.fresh_within = Some(max_age.as_secs());
        self
    }

    /// Adds a check on the logged-in user: a user it refuses gets `403 Forbidden`
    /// ([`Reason::Forbidden`]), HTML for browsers, a short JSON or text body for other clients.
    /// Requests with nobody logged in get the login redirect or `401`, as without a check. Works
    /// for session, Basic and token logins alike.
    ///
    /// Called again (on a builder from [`AuthLayer::into_builder`], say), the checks are joined
    /// with AND: a gate derived from another is never weaker. Join checks with OR by
    /// [`Authorize::or`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{AuthLayer, AuthUser, Authorize};
    /// # #[derive(Clone)] struct User { id: u64, admin: bool }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    /// # async fn load_user(id: u64) -> Option<User> { Some(User { id, admin: id == 1 }) }
    ///
    /// let login_required = AuthLayer::builder().user_loader(load_user).build()?;
    /// let admin_required = login_required
    ///     .clone()
    ///     .into_builder()
    ///     .authorize(Authorize::predicate(|user: User| async move { user.admin }))
    ///     .build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn authorize(mut self, check: Authorize<U>) -> Self {
        self.config.authorize = Some(match self.config.authorize.take() {
            Some(earlier) => earlier.and(check),
            None => check,
        });
        self
    }

    /// Loads a user's permissions for [`Authorize::permission`] checks: at most once per
    /// request, and only when a permission check runs. The future answers the set of the
    /// user's permissions, or `Result<HashSet<String>, E>`: an `Err` is a `503`
    /// ([`Reason::Unavailable`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashSet;
    /// use tower_session_auth::{AuthLayer, AuthUser, Authorize};
    /// # #[derive(Clone)] struct User { id: u64, roles: Vec<String> }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    /// # async fn load_user(id: u64) -> Option<User> { Some(User { id, roles: vec![] }) }
    ///
    /// let gate = AuthLayer::builder()
    ///     .user_loader(load_user)
    ///     .permission_loader(|user: User| async move {
    ///         user.roles.iter().map(|r| format!("role:{r}")).collect::<HashSet<String>>()
    ///     })
    ///     .authorize(Authorize::permission("role:admin"))
    ///     .build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn permission_loader<F, Fut>(mut self, loader: F) -> Self
    where
        F: Fn(U) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: CheckOutcome<HashSet<String>>,
    {
        self.config.permissions = Some(permission_loader(loader));
        self
    }

    /// Lets every request through: with [`CurrentUser<U>`](crate::CurrentUser) when someone is
    /// logged in, without it otherwise (handlers then take `Option<CurrentUser<U>>`). Default off.
    ///
    /// A loader or verifier error is still a `503` ([`Reason::Unavailable`]): whether someone is
    /// logged in is not known then, and a page shown as logged out could lead the handler to
    /// change the session.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tower_session_auth::{AuthLayer, AuthUser};
    /// # #[derive(Clone)] struct User { id: u64 }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    /// # async fn load_user(id: u64) -> Option<User> { Some(User { id }) }
    ///
    /// // A home page that greets a logged-in user and shows a login link to the others; its
    /// // handler takes `Option<CurrentUser<User>>`.
    /// let maybe_logged_in = AuthLayer::builder().user_loader(load_user).optional(true).build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn optional(mut self, optional: bool) -> Self {
        self.config.optional = optional;
        self
    }

    /// Whether browsers are redirected to the login URL. Default on; off answers `401` to every
    /// client (for API routes). Clients that do not accept `text/html` always get `401`.
    ///
    /// The default `401` has a one-line `text/plain` body that says what to do (log in at the
    /// login URL and send the session cookie, or send credentials) and never anything from the
    /// request or a backend, and the `WWW-Authenticate` challenges of the gate's schemes: `Basic`
    /// and `Bearer` for the API schemes configured. A gate with only session logins answers
    /// `WWW-Authenticate: Session`. RFC 9110 §15.5.2 requires at least one challenge in a `401`,
    /// and none of the registered schemes means "log in with a form and send the cookie back":
    /// `Session` (a scheme of this crate, with no parameters) says that, and user agents ignore
    /// schemes they do not know, so no browser shows a password dialog for it, as a `Basic`
    /// challenge would make it. A `403` instead would tell clients that logging in cannot help.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tower_session_auth::{AuthLayer, AuthUser};
    /// # #[derive(Clone)] struct User { id: u64 }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    /// # async fn load_user(id: u64) -> Option<User> { Some(User { id }) }
    ///
    /// // JSON routes behind a session login: a 401 with `WWW-Authenticate: Session`, even for
    /// // clients that accept HTML.
    /// let api_gate = AuthLayer::builder()
    ///     .user_loader(load_user)
    ///     .redirect_to_login(false)
    ///     .build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn redirect_to_login(mut self, redirect: bool) -> Self {
        self.config.redirect = redirect;
        self
    }

    /// Whether `OPTIONS` requests are gated too. Default off: they pass to the inner service
    /// without authentication (no user loader or verifier runs, no
    /// [`CurrentUser`](crate::CurrentUser)), because a CORS preflight is an `OPTIONS` request that
    /// browsers send without cookies or credentials and a `401` to it fails the real request.
    /// Answer preflights with a CORS layer (or a handler) that reveals nothing; turn this on when
    /// `OPTIONS` handlers behind the gate need a user.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tower_session_auth::{AuthLayer, AuthUser};
    /// # #[derive(Clone)] struct User { id: u64 }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    /// # async fn load_user(id: u64) -> Option<User> { Some(User { id }) }
    ///
    /// // `OPTIONS` handlers behind this gate see the user; CORS preflights are then refused.
    /// let gate = AuthLayer::builder().user_loader(load_user).gate_options(true).build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn gate_options(mut self, gate: bool) -> Self {
        self.config.gate_options = gate;
        self
    }

    /// Builds the response for a request the gate turns away, instead of the default `302`,
    /// `401`, `403` or `503`. The [`Reason`] tells the cases apart (nobody logged in,
    /// [`Reason::Forbidden`] for a logged-in user an [`authorize`](Self::authorize) check
    /// refused, …) and is added to the response's extensions either way.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tower_session_auth::{AuthLayer, AuthUser};
    /// # #[derive(Clone)] struct User { id: u64 }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    /// # async fn load_user(id: u64) -> Option<User> { Some(User { id }) }
    ///
    /// use bytes::Bytes;
    /// use http::{header, Response, StatusCode};
    /// use tower_session_auth::Reason;
    ///
    /// let gate = AuthLayer::builder()
    ///     .user_loader(load_user)
    ///     .unauthorized(|u| {
    ///         let (status, body) = match u.reason {
    ///             Reason::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, r#"{"error":"try later"}"#),
    ///             _ => (StatusCode::UNAUTHORIZED, r#"{"error":"login required"}"#),
    ///         };
    ///         let mut response = Response::builder()
    ///             .status(status)
    ///             .header(header::CONTENT_TYPE, "application/json");
    ///         for challenge in u.challenges {
    ///             response = response.header(header::WWW_AUTHENTICATE, challenge);
    ///         }
    ///         response.body(Bytes::from_static(body.as_bytes())).expect("a valid response")
    ///     })
    ///     .build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn unauthorized<F>(mut self, hook: F) -> Self
    where
        F: Fn(Unauthorized) -> Response<Bytes> + Send + Sync + 'static,
    {
        self.config.unauthorized = Some(Arc::new(hook));
        self
    }

    /// Checks the configuration and builds the layer.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when no way of logging in is configured (no user loader, Basic or
    /// token verifier), when a permission check has no permission loader, when a realm holds control characters or the charset is not a token, or
    /// when the login URL breaks the rules of [`login_url`](Self::login_url).
    ///
    /// # Examples
    ///
    /// ```
    /// # use tower_session_auth::{AuthLayer, AuthUser};
    /// # #[derive(Clone)] struct User { id: u64 }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    /// # async fn load_user(id: u64) -> Option<User> { Some(User { id }) }
    ///
    /// use tower_session_auth::{ConfigError, Error};
    ///
    /// let gate = AuthLayer::builder().user_loader(load_user).build()?;
    /// let nothing = AuthLayer::<User>::builder().build();
    /// assert!(matches!(nothing, Err(Error::InvalidConfig(ConfigError::NoLoginMethod))));
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn build(self) -> Result<AuthLayer<U>, Error> {
        let c = &self.config;
        if c.session.is_none() && c.basic.is_none() && c.bearer.is_none() {
            return Err(Error::InvalidConfig(ConfigError::NoLoginMethod));
        }
        let realms = c
            .basic
            .iter()
            .map(|b| &b.realm)
            .chain(c.bearer.iter().map(|b| &b.realm));
        for realm in realms {
            if realm.chars().any(char::is_control) || realm.len() > 1024 {
                return Err(Error::InvalidConfig(ConfigError::Realm));
            }
        }
        let charset = &c.basic_charset;
        let token = !charset.is_empty()
            && charset
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !token {
            return Err(Error::InvalidConfig(ConfigError::BasicCharset));
        }
        if c.token_header.is_some() && c.bearer.is_none() {
            return Err(Error::InvalidConfig(ConfigError::TokenHeaderWithoutBearer));
        }
        let permission_checks = c.authorize.as_ref().is_some_and(|a| a.needs_permissions());
        if permission_checks && c.permissions.is_none() {
            return Err(Error::InvalidConfig(ConfigError::NoPermissionLoader));
        }
        if !is_valid_login_url(&c.login_url) {
            return Err(Error::InvalidConfig(ConfigError::LoginUrl));
        }
        Ok(AuthLayer {
            config: Arc::new(self.config),
        })
    }
}

pub(crate) struct BasicConfig<U> {
    pub(crate) realm: String,
    pub(crate) verify: BasicVerifier<U>,
}

pub(crate) struct BearerConfig<U> {
    pub(crate) realm: String,
    pub(crate) verify: TokenVerifier<U>,
}

impl<U> Clone for BasicConfig<U> {
    fn clone(&self) -> Self {
        BasicConfig {
            realm: self.realm.clone(),
            verify: Arc::clone(&self.verify),
        }
    }
}

impl<U> Clone for BearerConfig<U> {
    fn clone(&self) -> Self {
        BearerConfig {
            realm: self.realm.clone(),
            verify: Arc::clone(&self.verify),
        }
    }
}

pub(crate) struct AuthConfig<U: AuthUser> {
    pub(crate) session: Option<Loader<U>>,
    pub(crate) basic: Option<BasicConfig<U>>,
    pub(crate) basic_charset: String,
    pub(crate) bearer: Option<BearerConfig<U>>,
    /// Read the token from this header instead of `Authorization: Bearer`.
    pub(crate) token_header: Option<HeaderName>,
    pub(crate) login_url: String,
    pub(crate) fresh: bool,
    /// The longest time since the last login with credentials, in seconds.
    pub(crate) fresh_within: Option<u64>,
    pub(crate) authorize: Option<Authorize<U>>,
    pub(crate) permissions: Option<PermissionLoader<U>>,
    pub(crate) optional: bool,
    pub(crate) redirect: bool,
    /// Gate `OPTIONS` requests too (by default they pass, as CORS preflights must).
    pub(crate) gate_options: bool,
    pub(crate) unauthorized: Option<Hook>,
    /// The gate's user type as the session handle notes it (see `gate_user_number`).
    #[cfg(feature = "axum")]
    pub(crate) user_type: usize,
}

impl<U: AuthUser> Clone for AuthConfig<U> {
    fn clone(&self) -> Self {
        AuthConfig {
            session: self.session.clone(),
            basic: self.basic.clone(),
            basic_charset: self.basic_charset.clone(),
            bearer: self.bearer.clone(),
            token_header: self.token_header.clone(),
            login_url: self.login_url.clone(),
            fresh: self.fresh,
            fresh_within: self.fresh_within,
            authorize: self.authorize.clone(),
            permissions: self.permissions.clone(),
            optional: self.optional,
            redirect: self.redirect,
            gate_options: self.gate_options,
            unauthorized: self.unauthorized.clone(),
            #[cfg(feature = "axum")]
            user_type: self.user_type,
        }
    }
}

impl<U: AuthUser> fmt::Debug for AuthConfig<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("user", &std::any::type_name::<U>())
            .field("session", &self.session.is_some())
            .field("basic_realm", &self.basic.as_ref().map(|b| &b.realm))
            .field("bearer_realm", &self.bearer.as_ref().map(|b| &b.realm))
            .field("token_header", &self.token_header)
            .field("login_url", &self.login_url)
            .field("fresh", &self.fresh)
            .field("fresh_within", &self.fresh_within)
            .field("authorize", &self.authorize)
            .field("permission_loader", &self.permissions.is_some())
            .field("optional", &self.optional)
            .field("redirect", &self.redirect)
            .field("gate_options", &self.gate_options)
            .field("unauthorized", &self.unauthorized.is_some())
            .finish()
    }
}
