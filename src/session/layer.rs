//! `SessionLayer`: the configuration, validated once when the layer is built.

use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::backend::CookieBackend;
use super::config::{SessionConfig, UnavailableHook};
use super::SessionService;
use crate::clock::{Clock, SystemClock};
use crate::cookie::scope::{has_prefix, CookieScope, SameSite};
use crate::cookie::MAX_COOKIE_AGE_SECS;
use crate::key::KeySet;
use crate::registry::{MemoryRegistry, Registry};
use crate::store::{SessionStore, StoreFailure};
use crate::token::session::SessionFormat;
use crate::{ConfigError, Error, Key};

/// A session unused for 30 minutes ends (OWASP: 15 to 30 minutes for low-risk applications).
const DEFAULT_IDLE_TIMEOUT: u64 = 30 * 60;
/// A session ends 12 hours after it began, however active.
const DEFAULT_ABSOLUTE_TIMEOUT: u64 = 12 * 60 * 60;
/// An unchanged session is re-issued once half its idle period has passed.
const DEFAULT_REFRESH_SHARE: f64 = 0.5;

/// Adds a [`SessionDict`](crate::SessionDict) to every request and writes the session and
/// remember-me cookies on the response.
///
/// Build one with [`SessionLayer::builder`] (or [`SessionLayer::new`] for the defaults), then
/// stack it outside any [`AuthLayer`](crate::AuthLayer).
///
/// The defaults are secure: the cookie is called `session` (Microdot's name), with `Path=/`,
/// `Secure`, `HttpOnly`, `SameSite=Lax`, no `Domain`, and no `Max-Age` (it ends with the browser
/// session). Turn `Secure` off only for development over plain `http://`.
///
/// Each layer caches the cookies it has verified, bounded to 16,384 sessions and 16 MiB (its
/// estimate of their decoded size); a session that decodes to more than 64 KiB is not cached
/// but verified on each request.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tower_session_auth::{Key, SameSite, SessionLayer};
///
/// let layer = SessionLayer::builder(Key::generate())
///     .cookie_name("__Host-session")
///     .same_site(SameSite::Strict)
///     .max_age(Duration::from_secs(7 * 86_400))
///     .build()?;
/// # Ok::<(), tower_session_auth::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct SessionLayer {
    pub(crate) config: Arc<SessionConfig>,
}

impl SessionLayer {
    /// A layer with the default settings, signing with `key`.
    pub fn new(key: Key) -> SessionLayer {
        SessionLayer::builder(key)
            .build()
            .expect("the default configuration is valid")
    }

    /// Starts configuring a layer that signs with `key`.
    pub fn builder(key: Key) -> SessionLayerBuilder {
        SessionLayerBuilder {
            keys: KeySet::new(key),
            session_name: "session".into(),
            remember_name: None,
            scope: CookieScope::default(),
            max_age: None,
            clock: Arc::new(SystemClock),
            leeway: 0,
            private: false,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            absolute_timeout: Some(DEFAULT_ABSOLUTE_TIMEOUT),
            refresh_share: DEFAULT_REFRESH_SHARE,
            claimless_sessions: false,
            adopt_untagged_logins: false,
            registry: None,
            local_registry: None,
            store: None,
            store_failure: StoreFailure::default(),
            unavailable: None,
        }
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// Configures a [`SessionLayer`]; every setter takes and returns the builder.
#[derive(Debug, Clone)]
#[must_use]
pub struct SessionLayerBuilder {
    keys: KeySet,
    session_name: String,
    /// `None`: `_remember`, with the session cookie's `__Host-` or `__Secure-` prefix.
    remember_name: Option<String>,
    scope: CookieScope,
    max_age: Option<u64>,
    clock: Arc<dyn Clock>,
    leeway: u64,
    private: bool,
    idle_timeout: Option<u64>,
    absolute_timeout: Option<u64>,
    refresh_share: f64,
    claimless_sessions: bool,
    adopt_untagged_logins: bool,
    registry: Option<Arc<dyn Registry>>,
    /// The same registry, when it is a [`MemoryRegistry`].
    local_registry: Option<MemoryRegistry>,
    store: Option<Arc<dyn SessionStore>>,
    store_failure: StoreFailure,
    unavailable: Option<UnavailableHook>,
}

impl SessionLayerBuilder {
    /// The session cookie's name. Default `session`, as Microdot.
    ///
    /// For new deployments prefer `__Host-session`: browsers then refuse the cookie from anything
    /// but this exact host over HTTPS, so a sibling subdomain cannot plant one.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, SessionLayer};
    ///
    /// let layer = SessionLayer::builder(Key::generate())
    ///     .cookie_name("__Host-session")
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.session_name = name.into();
        self
    }

    /// The remember-me cookie's name. Default `_remember`, as Microdot; with a session cookie
    /// named `__Host-…` or `__Secure-…`, the default takes the same prefix (`__Host-remember`),
    /// and a name without it is refused: otherwise a sibling subdomain could plant its own
    /// remember-me cookie and log the victim into the attacker's account.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, SessionLayer};
    ///
    /// let layer = SessionLayer::builder(Key::generate())
    ///     .cookie_name("__Host-session")
    ///     .remember_cookie_name("__Host-remember")
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn remember_cookie_name(mut self, name: impl Into<String>) -> Self {
        self.remember_name = Some(name.into());
        self
    }

    /// The `Path` of both cookies. Default `/`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, SessionLayer};
    ///
    /// let layer = SessionLayer::builder(Key::generate()).path("/app").build()?;
    /// # let _ = layer;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.scope.path = path.into();
        self
    }

    /// The `Domain` of both cookies. Default none: the cookie goes back to this host only.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, SessionLayer};
    ///
    /// // Shared by every subdomain of example.com: prefer no Domain unless they need it.
    /// let layer = SessionLayer::builder(Key::generate())
    ///     .domain("example.com")
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.scope.domain = Some(domain.into());
        self
    }

    /// Whether browsers send the cookies over HTTPS only. Default on; turn it off only to develop
    /// over plain `http://`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, SessionLayer};
    ///
    /// // Development over plain http on loopback only.
    /// let layer = SessionLayer::builder(Key::generate()).secure(false).build()?;
    /// # let _ = layer;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn secure(mut self, secure: bool) -> Self {
        self.scope.secure = secure;
        self
    }

    /// Whether scripts are kept from reading the cookies. Default on.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, SessionLayer};
    ///
    /// let layer = SessionLayer::builder(Key::generate()).http_only(true).build()?;
    /// # let _ = layer;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.scope.http_only = http_only;
        self
    }

    /// The `SameSite` attribute of both cookies. Default [`SameSite::Lax`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, SameSite, SessionLayer};
    ///
    /// let layer = SessionLayer::builder(Key::generate())
    ///     .same_site(SameSite::Strict)
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.scope.same_site = same_site;
        self
    }

    /// Makes the session cookie persistent, with this `Max-Age` (whole seconds, at most 400
    /// days). By default the cookie ends when the browser session ends.
    ///
    /// `Max-Age` only tells the browser when to drop the cookie; it is not a server-side expiry.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_session_auth::{Key, SessionLayer};
    ///
    /// let layer = SessionLayer::builder(Key::generate())
    ///     .max_age(Duration::from_secs(7 * 86_400))
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age.as_secs());
        self
    }

    /// Keys that still verify cookies but never sign new ones, for rotating the secret without
    /// logging everyone out. A cookie that verifies under a fallback key is re-signed with the
    /// current key in the same response.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, SessionLayer};
    ///
    /// let (new, old) = (Key::generate(), Key::generate());
    /// // Sign with `new`; cookies signed with `old` still verify and are re-signed.
    /// let layer = SessionLayer::builder(new).fallback_keys([old]).build()?;
    /// # let _ = layer;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn fallback_keys(mut self, keys: impl IntoIterator<Item = Key>) -> Self {
        self.keys.set_fallbacks(keys);
        self
    }

    /// Encrypts the session (AES-256-GCM with a key derived from the session key) instead of
    /// only signing it, so the browser cannot read it. Default off: the signed format is
    /// Microdot's, and Microdot cannot read private cookies. Remember-me cookies stay signed.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, SessionLayer};
    ///
    /// let layer = SessionLayer::builder(Key::generate()).private(true).build()?;
    /// # let _ = layer;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn private(mut self, private: bool) -> Self {
        self.private = private;
        self
    }

    /// Ends a session that has not been used for this long, checked on the server from a signed
    /// anchor (`Max-Age` and `Expires` are never trusted). Default 30 minutes; `None` for no idle
    /// timeout. A request that reads the session counts as use (an [`AuthLayer`](crate::AuthLayer)
    /// always reads it).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_session_auth::{Key, SessionLayer};
    ///
    /// let layer = SessionLayer::builder(Key::generate())
    ///     .idle_timeout(Duration::from_secs(15 * 60))
    ///     .build()?;
    /// let never_idle = SessionLayer::builder(Key::generate()).idle_timeout(None).build()?;
    /// # let _ = layer;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.idle_timeout = timeout.into().map(|d| d.as_secs());
        self
    }

    /// Ends a session this long after it began (at login, or its first write), however active it
    /// is. Default 12 hours; `None` for no absolute timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_session_auth::{Key, SessionLayer};
    ///
    /// let layer = SessionLayer::builder(Key::generate())
    ///     .absolute_timeout(Duration::from_secs(8 * 3600))
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn absolute_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.absolute_timeout = timeout.into().map(|d| d.as_secs());
        self
    }

    /// Which share of the idle timeout must pass before an unchanged session is re-issued with a
    /// new idle deadline (rolling sessions). Default 0.5: at most one `Set-Cookie` per half idle
    /// period, rather than one per request. Between 0 (exclusive) and 1.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, SessionLayer};
    ///
    /// // Push the idle deadline back at most once per quarter of the idle period.
    /// let layer = SessionLayer::builder(Key::generate()).refresh_share(0.25).build()?;
    /// # let _ = layer;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn refresh_share(mut self, share: f64) -> Self {
        self.refresh_share = share;
        self
    }

    /// Whether sessions without the crate's time anchors are accepted. Default off. Microdot writes
    /// none, so turn it on to share sessions with a Microdot service; such a session is then
    /// re-issued with anchors set to now, and the copy of it that a thief may hold stays valid
    /// whenever it is replayed, as it would be for Microdot itself, until the shared key is
    /// rotated. Turn it off again once no Microdot service writes the cookie.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, SessionLayer};
    ///
    /// // Share logins with a Microdot service that signs with the same secret.
    /// let shared_with_microdot = SessionLayer::builder(Key::generate())
    ///     .claimless_sessions(true)
    ///     .adopt_untagged_logins(true)
    ///     .build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn claimless_sessions(mut self, accept: bool) -> Self {
        self.claimless_sessions = accept;
        self
    }

    /// Whether logins without a session auth-hash tag are accepted for users that have a session
    /// auth hash ([`AuthUser::session_auth_hash`](crate::AuthUser::session_auth_hash)). Default
    /// off: such logins are refused. Microdot's `login_user` writes no tag, so turn it on (with
    /// [`claimless_sessions`](Self::claimless_sessions)) to share logins with a Microdot service.
    /// An untagged login is then tagged with the user's current hash on its first gated request,
    /// and from then on ends with the user's other sessions when the hash changes; logins this
    /// crate writes are always tagged. A copy of an untagged cookie taken before a password change
    /// is still accepted after it: rotate the shared key to end those.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, SessionLayer};
    ///
    /// let layer = SessionLayer::builder(Key::generate())
    ///     .claimless_sessions(true)
    ///     .adopt_untagged_logins(true)
    ///     .build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn adopt_untagged_logins(mut self, adopt: bool) -> Self {
        self.adopt_untagged_logins = adopt;
        self
    }

    /// Tolerance for clock skew when checking `exp`, `nbf` and `iat`. Default zero; at most 60
    /// seconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_session_auth::{Key, SessionLayer};
    ///
    /// let layer = SessionLayer::builder(Key::generate())
    ///     .leeway(Duration::from_secs(5))
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.as_secs();
        self
    }

    /// The time source for every expiry rule. Default [`SystemClock`]; tests inject their own.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, SessionLayer};
    ///
    /// use tower_session_auth::Clock;
    ///
    /// #[derive(Debug)]
    /// struct Fixed(u64);
    /// impl Clock for Fixed {
    ///     fn now(&self) -> u64 {
    ///         self.0
    ///     }
    /// }
    ///
    /// let layer = SessionLayer::builder(Key::generate())
    ///     .clock(Fixed(1_700_000_000))
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Tracks logins in `registry`, so that they can be revoked: logging out then ends every copy
    /// of the session cookie and its remember-me cookie, a user can list their sessions and end
    /// the others ([`list_sessions`](crate::list_sessions),
    /// [`revoke_session`](crate::revoke_session),
    /// [`revoke_other_sessions`](crate::revoke_other_sessions)). Default none: sessions are
    /// stateless signed cookies, valid until they expire.
    ///
    /// The session cookie keeps Microdot's format and gains an `_sid` member, the login's secret
    /// id; the registry keeps only its SHA-256. A logged-in session whose id the registry does not
    /// know reads as logged out. Anonymous sessions are not tracked: requests without a login
    /// never reach the registry. When the registry does not answer, a request that carries a
    /// login is answered `503` without calling the inner service and without changing any
    /// cookie.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, MemoryRegistry, SessionLayer};
    ///
    /// let layer = SessionLayer::builder(Key::generate())
    ///     .registry(MemoryRegistry::new())
    ///     .build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn registry(mut self, registry: impl Registry) -> Self {
        // The crate's own in-memory registry answers a login check without a future.
        self.local_registry = (&registry as &dyn std::any::Any)
            .downcast_ref::<MemoryRegistry>()
            .cloned();
        self.registry = Some(Arc::new(registry));
        self
    }

    /// Keeps the sessions' data in `store` (server-side placement): the session cookie then
    /// carries only a signed id (with the same keys, rotation and timeouts as a cookie session),
    /// sessions may hold up to 1 MiB of JSON, and concurrent requests lose no update (each saves
    /// only the keys it changed; for a key two requests both changed, the later save wins). A
    /// save never brings back a session that a logout or a revocation ended meanwhile. Default
    /// none: the whole session is in the cookie, as Microdot keeps it.
    ///
    /// [`SessionDict`](crate::SessionDict) works the same either way, and a request that only
    /// reads writes nothing. A store that does not answer before the inner service is a `503`
    /// that changes no cookie; after it, see [`store_failure`](Self::store_failure). A
    /// stateless session cookie that arrives is imported once into a new record; a deployment
    /// that switches back to cookie placement reads the id cookies as empty sessions (its users
    /// are logged out, and their data stays in the store until it expires).
    ///
    /// Microdot cannot read a server-side session.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, MemoryStore, SessionLayer};
    ///
    /// let layer = SessionLayer::builder(Key::generate())
    ///     .store(MemoryStore::new())
    ///     .build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn store(mut self, store: impl SessionStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// What happens when saving a request's changes to the [`store`](Self::store) fails after
    /// the inner service answered. Default [`StoreFailure::Unavailable`]: a `503` instead of the
    /// response, and no cookie changed, so the client knows its change was not kept and never
    /// holds a cookie that points at nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, MemoryStore, SessionLayer, StoreFailure};
    ///
    /// let layer = SessionLayer::builder(Key::generate())
    ///     .store(MemoryStore::new())
    ///     .store_failure(StoreFailure::KeepResponse)
    ///     .build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn store_failure(mut self, failure: StoreFailure) -> Self {
        self.store_failure = failure;
        self
    }

    /// The response sent instead of a plain `503` when the [`registry`](Self::registry) or the
    /// [`store`](Self::store) does not answer: a page in the site's style, a JSON error. Whatever
    /// it returns, the browser's cookies are left as they are and the response is marked
    /// `Cache-Control: no-store` unless it says otherwise. Keep a `Retry-After` header.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http::{Response, StatusCode};
    /// use tower_session_auth::{Key, MemoryRegistry, SessionLayer};
    ///
    /// let layer = SessionLayer::builder(Key::generate())
    ///     .registry(MemoryRegistry::new())
    ///     .unavailable(|| {
    ///         Response::builder()
    ///             .status(StatusCode::SERVICE_UNAVAILABLE)
    ///             .header("retry-after", "10")
    ///             .header("content-type", "text/html; charset=utf-8")
    ///             .body(Bytes::from_static(b"<h1>Back in a moment</h1>"))
    ///             .unwrap()
    ///     })
    ///     .build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn unavailable<F>(mut self, hook: F) -> Self
    where
        F: Fn() -> http::Response<bytes::Bytes> + Send + Sync + 'static,
    {
        self.unavailable = Some(UnavailableHook(Arc::new(hook)));
        self
    }

    /// Checks the configuration and builds the layer.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`], naming the rule, when browsers would refuse the cookies or they
    /// would be unsafe: a name that is not an HTTP token, `Path` or `Domain` with separators or
    /// control characters or over 1024 bytes, a `__Host-` name without `Secure`, with a `Domain`
    /// or with a `Path` other than `/`, a `__Secure-` name without `Secure`, `SameSite=None`
    /// without `Secure`, `Max-Age` over 400 days, the same name for both cookies, more than 8 keys,
    /// or a leeway over 60 seconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{ConfigError, Error, Key, SessionLayer};
    ///
    /// let refused = SessionLayer::builder(Key::generate()).path("app").build();
    /// assert!(matches!(refused, Err(Error::InvalidConfig(ConfigError::Path))));
    /// ```
    pub fn build(mut self) -> Result<SessionLayer, Error> {
        let refuse = |rule| Err(Error::InvalidConfig(rule));
        let prefix = ["__Host-", "__Secure-"]
            .into_iter()
            .find(|p| has_prefix(&self.session_name, p));
        let remember_name = match (self.remember_name.take(), prefix) {
            (Some(name), Some(p)) if !has_prefix(&name, p) => {
                return refuse(ConfigError::RememberCookiePrefix)
            }
            (Some(name), _) => name,
            (None, Some(p)) => format!("{p}remember"),
            (None, None) => "_remember".into(),
        };
        self.scope.validate(&self.session_name)?;
        self.scope.validate(&remember_name)?;
        if self.session_name == remember_name {
            return refuse(ConfigError::SameCookieNames);
        }
        if self.max_age.is_some_and(|age| age > MAX_COOKIE_AGE_SECS) {
            return refuse(ConfigError::MaxAge);
        }
        if self.keys.all().len() > 8 {
            return refuse(ConfigError::TooManyKeys);
        }
        if self.leeway > 60 {
            return refuse(ConfigError::Leeway);
        }
        if !(self.refresh_share > 0.0 && self.refresh_share <= 1.0) {
            return refuse(ConfigError::RefreshShare);
        }
        let timeouts = [self.idle_timeout, self.absolute_timeout];
        if timeouts
            .iter()
            .flatten()
            .any(|&t| t == 0 || t > MAX_COOKIE_AGE_SECS)
        {
            return refuse(ConfigError::Timeout);
        }
        let backend = self.cookie_backend();
        let mut scope = self.scope;
        scope.render();
        Ok(SessionLayer {
            config: Arc::new(SessionConfig {
                backend: Box::new(backend),
                keys: self.keys,
                session_name: self.session_name,
                remember_name,
                scope,
                max_age: self.max_age,
                clock: self.clock,
                leeway: self.leeway,
                adopt_untagged_logins: self.adopt_untagged_logins,
                tracker: self
                    .registry
                    .as_ref()
                    .map(|r| crate::login::tracker(Arc::clone(r), self.local_registry.clone())),
                registry: self.registry,
                store: self.store,
                store_failure: self.store_failure,
                unavailable: self.unavailable,
                idle_timeout: self.idle_timeout,
                absolute_timeout: self.absolute_timeout,
            }),
        })
    }

    /// The cookie backend this configuration makes.
    pub(crate) fn cookie_backend(&self) -> CookieBackend {
        let format = SessionFormat {
            keys: self.keys.clone(),
            cookie_name: self.session_name.clone(),
            private: self.private,
            leeway: self.leeway,
            idle_timeout: self.idle_timeout,
            absolute_timeout: self.absolute_timeout,
            claimless: self.claimless_sessions,
            tracking_memo: self.registry.is_some(),
        };
        CookieBackend::new(format, self.refresh_share)
    }
}
