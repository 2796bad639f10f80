//! [`CsrfLayer`], its builder and its configuration.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, Response};
use tower_layer::Layer;

use super::origin::Origin;
use super::service::CsrfService;
use super::CsrfRefusal;
use crate::{ConfigError, Error};

type Hook = Arc<dyn Fn(CsrfRefusal) -> Response<Bytes> + Send + Sync>;

/// When [`CsrfLayer`] requires a session-bound token (see [`csrf_token`](crate::csrf_token)).
///
/// Browsers of the last years send `Sec-Fetch-Site` (and all send `Origin` on cross-origin
/// `POST`s), so the header check alone refuses forged requests from them. A token also covers
/// what sends neither header: old browsers, and anything a proxy strips them from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TokenPolicy {
    /// Never: a request with neither `Sec-Fetch-Site` nor `Origin` passes (it is not from a
    /// browser that could be forged into sending it, or from one too old to tell). The default.
    #[default]
    Never,
    /// Only when neither `Sec-Fetch-Site` nor `Origin` is present.
    WhenNoHeaders,
    /// On every request with an unsafe method, in addition to the header check.
    Always,
}

/// The configuration a built layer shares with its services.
pub(crate) struct Config {
    pub(crate) trusted_origins: Vec<Origin>,
    pub(crate) allow_same_site: bool,
    pub(crate) https: bool,
    pub(crate) origin: Option<Origin>,
    pub(crate) tokens: TokenPolicy,
    pub(crate) token_header: HeaderName,
    pub(crate) refused: Option<Hook>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("trusted_origins", &self.trusted_origins)
            .field("allow_same_site", &self.allow_same_site)
            .field("https", &self.https)
            .field("origin", &self.origin)
            .field("tokens", &self.tokens)
            .field("token_header", &self.token_header)
            .field(
                "refused",
                &self
                    .refused
                    .as_ref()
                    .map(|_| "Fn(CsrfRefusal) -> Response<Bytes>"),
            )
            .finish()
    }
}

/// Refuses cross-site requests with unsafe methods (CSRF): from `Sec-Fetch-Site`, then `Origin`,
/// and, as the [`TokenPolicy`] says, a session-bound token.
///
/// For each request whose method is not `GET`, `HEAD` or `OPTIONS`:
///
/// 1. an `Origin` equal to a [trusted origin](CsrfLayerBuilder::trusted_origin) passes;
/// 2. a `Sec-Fetch-Site` header decides when present: `same-origin` and `none` (typed in the
///    address bar) pass, `same-site` passes only when [allowed](CsrfLayerBuilder::same_site),
///    `cross-site` and anything else are refused;
/// 3. otherwise an `Origin` header decides when present: it passes only if its scheme, host and
///    port are this server's (the [scheme](CsrfLayerBuilder::scheme), `https` by default, with
///    the request's `Host`; or the configured [origin](CsrfLayerBuilder::origin)); `null` never
///    passes;
/// 4. with neither header, the request passes under [`TokenPolicy::Never`] (the default) and
///    needs a token otherwise.
///
/// A required token is read from the `X-CSRF-Token` header (see
/// [`token_header`](CsrfLayerBuilder::token_header)) and checked against the session, so the
/// layer must be inside a [`SessionLayer`](crate::SessionLayer). A form (`Content-Type:
/// application/x-www-form-urlencoded` or `multipart/form-data`) without that header reaches the
/// handler, which must check its `csrf_token` field: take [`CsrfForm<T>`](crate::CsrfForm) in
/// place of axum's `Form<T>`, or call [`verify_csrf_token`](crate::verify_csrf_token). Any other
/// request without a token is refused here.
///
/// A refusal is `403 Forbidden` (never another error, whatever the headers hold) with the
/// [`CsrfRefusal`] in the response's extensions and a `tracing` event at `INFO` that names the
/// reason and the method but no header value; a [`refused`](CsrfLayerBuilder::refused) hook may
/// build another response. The inner service's error type is unchanged.
///
/// Exemptions are made by where the layer is applied (a webhook route outside it), never by path
/// patterns, and this server's scheme is configured, never read from the request.
///
/// # Examples
///
/// ```
/// use tower_session_auth::{CsrfLayer, TokenPolicy};
///
/// let csrf = CsrfLayer::builder()
///     .trusted_origin("https://sso.example")
///     .tokens(TokenPolicy::WhenNoHeaders)
///     .build()?;
/// // Router::new().route(...).layer(csrf).layer(sessions)
/// # Ok::<(), tower_session_auth::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct CsrfLayer {
    config: Arc<Config>,
}

impl Default for CsrfLayer {
    /// The header check alone, for a server reached over `https`: no trusted origins, same-site
    /// requests refused, no tokens.
    fn default() -> Self {
        CsrfLayer::builder()
            .build()
            .expect("the default configuration is valid")
    }
}

impl CsrfLayer {
    /// A builder with the defaults of [`CsrfLayer::default`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::CsrfLayer;
    ///
    /// let csrf = CsrfLayer::builder().same_site(true).build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn builder() -> CsrfLayerBuilder {
        CsrfLayerBuilder {
            trusted_origins: Vec::new(),
            allow_same_site: false,
            scheme: "https".into(),
            origin: None,
            tokens: TokenPolicy::Never,
            token_header: HeaderName::from_static("x-csrf-token"),
            refused: None,
        }
    }

    #[cfg(any(test, fuzzing))]
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }
}

impl<S> Layer<S> for CsrfLayer {
    type Service = CsrfService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CsrfService::new(inner, Arc::clone(&self.config))
    }
}

/// Configures a [`CsrfLayer`]; see [`CsrfLayer::builder`].
#[must_use]
pub struct CsrfLayerBuilder {
    trusted_origins: Vec<String>,
    allow_same_site: bool,
    scheme: String,
    origin: Option<String>,
    tokens: TokenPolicy,
    token_header: HeaderName,
    refused: Option<Hook>,
}

impl fmt::Debug for CsrfLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrfLayerBuilder")
            .field("trusted_origins", &self.trusted_origins)
            .field("allow_same_site", &self.allow_same_site)
            .field("scheme", &self.scheme)
            .field("origin", &self.origin)
            .field("tokens", &self.tokens)
            .field("token_header", &self.token_header)
            .field(
                "refused",
                &self
                    .refused
                    .as_ref()
                    .map(|_| "Fn(CsrfRefusal) -> Response<Bytes>"),
            )
            .finish()
    }
}

impl CsrfLayerBuilder {
    /// Trusts another origin (`https://host[:port]`): its requests pass even though browsers mark
    /// them `cross-site`. Compared by scheme, host (case-insensitively) and port, the default port
    /// filled in; never by prefix or suffix. Call once per origin.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::CsrfLayer;
    ///
    /// // An identity provider that POSTs its answer back to this site.
    /// let csrf = CsrfLayer::builder()
    ///     .trusted_origin("https://sso.example")
    ///     .build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn trusted_origin(mut self, origin: impl Into<String>) -> Self {
        self.trusted_origins.push(origin.into());
        self
    }

    /// Whether `Sec-Fetch-Site: same-site` passes (requests from other hosts of this site, such
    /// as sibling subdomains). Default off: a sibling subdomain is often less trusted than this
    /// one. Without `Sec-Fetch-Site`, sibling origins pass only as trusted origins.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::CsrfLayer;
    ///
    /// let csrf = CsrfLayer::builder().same_site(true).build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn same_site(mut self, allow: bool) -> Self {
        self.allow_same_site = allow;
        self
    }

    /// The scheme browsers reach this server by: `https` (the default) or `http`. With the
    /// request's `Host`, it makes the origin an `Origin` header is compared with. It is never
    /// guessed from the request, which behind a TLS-terminating proxy says `http`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::CsrfLayer;
    ///
    /// // Local development over plain http.
    /// let csrf = CsrfLayer::builder().scheme("http").build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn scheme(mut self, scheme: impl Into<String>) -> Self {
        self.scheme = scheme.into();
        self
    }

    /// This server's origin (`https://host[:port]`), for when the `Host` header that reaches it
    /// is not the one browsers use (a proxy that rewrites it). It replaces the
    /// [scheme](Self::scheme) and the `Host` header in the comparison.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::CsrfLayer;
    ///
    /// let csrf = CsrfLayer::builder().origin("https://app.example").build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// When a session-bound token is required. Default [`TokenPolicy::Never`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{CsrfLayer, TokenPolicy};
    ///
    /// let csrf = CsrfLayer::builder()
    ///     .tokens(TokenPolicy::WhenNoHeaders)
    ///     .build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn tokens(mut self, policy: TokenPolicy) -> Self {
        self.tokens = policy;
        self
    }

    /// The request header a token is read from. Default `X-CSRF-Token`.
    ///
    /// # Examples
    ///
    /// ```
    /// use http::HeaderName;
    /// use tower_session_auth::{CsrfLayer, TokenPolicy};
    ///
    /// let csrf = CsrfLayer::builder()
    ///     .tokens(TokenPolicy::Always)
    ///     .token_header(HeaderName::from_static("x-xsrf-token"))
    ///     .build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn token_header(mut self, header: HeaderName) -> Self {
        self.token_header = header;
        self
    }

    /// Builds the response for a refused request instead of the default plain-text `403`. The
    /// [`CsrfRefusal`] is added to the response's extensions either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http::{header, Response, StatusCode};
    /// use tower_session_auth::CsrfLayer;
    ///
    /// let csrf = CsrfLayer::builder()
    ///     .refused(|reason| {
    ///         Response::builder()
    ///             .status(StatusCode::FORBIDDEN)
    ///             .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
    ///             .body(Bytes::from(format!("<h1>Refused</h1><p>{reason}</p>")))
    ///             .expect("a valid response")
    ///     })
    ///     .build()?;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn refused<F>(mut self, hook: F) -> Self
    where
        F: Fn(CsrfRefusal) -> Response<Bytes> + Send + Sync + 'static,
    {
        self.refused = Some(Arc::new(hook));
        self
    }

    /// Checks the configuration and builds the layer.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] with [`ConfigError::CsrfOrigin`] when a trusted origin or the
    /// own origin is not `http(s)://host[:port]` exactly, with [`ConfigError::CsrfScheme`] when
    /// the scheme is neither `http` nor `https`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{ConfigError, CsrfLayer, Error};
    ///
    /// let slash = CsrfLayer::builder().trusted_origin("https://sso.example/").build();
    /// assert!(matches!(slash, Err(Error::InvalidConfig(ConfigError::CsrfOrigin))));
    /// ```
    pub fn build(self) -> Result<CsrfLayer, Error> {
        let origin = |s: &String| {
            Origin::parse(s.as_bytes()).ok_or(Error::InvalidConfig(ConfigError::CsrfOrigin))
        };
        let trusted_origins = self
            .trusted_origins
            .iter()
            .map(origin)
            .collect::<Result<Vec<_>, _>>()?;
        let own = self.origin.as_ref().map(origin).transpose()?;
        let https = match self.scheme.as_str() {
            "https" => true,
            "http" => false,
            _ => return Err(Error::InvalidConfig(ConfigError::CsrfScheme)),
        };
        Ok(CsrfLayer {
            config: Arc::new(Config {
                trusted_origins,
                allow_same_site: self.allow_same_site,
                https: own.as_ref().map_or(https, Origin::is_https),
                origin: own,
                tokens: self.tokens,
                token_header: self.token_header,
                refused: self.refused,
            }),
        })
    }
}
