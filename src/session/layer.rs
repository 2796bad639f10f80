//! `SessionLayer`: the configuration, validated once when the layer is built.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cookie::Cookie;
use http::HeaderValue;
use tower_layer::Layer;

use super::cache::{Cache, VerifiedCache};
use super::SessionService;
use crate::clock::{Clock, SystemClock};
use crate::{Error, Key};

/// Browsers cap cookie lifetimes at 400 days (RFC 6265bis §5.5).
pub(crate) const MAX_COOKIE_AGE_SECS: u64 = 400 * 86_400;

/// Browsers keep at most 4096 bytes of cookie name and value (RFC 6265bis §5.6).
pub(crate) const MAX_COOKIE_LEN: usize = 4096;

/// A session unused for 30 minutes ends (OWASP: 15 to 30 minutes for low-risk applications).
const DEFAULT_IDLE_TIMEOUT: u64 = 30 * 60;
/// A session ends 12 hours after it began, however active.
const DEFAULT_ABSOLUTE_TIMEOUT: u64 = 12 * 60 * 60;
/// An unchanged session is re-issued once half its idle period has passed.
const DEFAULT_REFRESH_SHARE: f64 = 0.5;

/// Browsers ignore attribute values longer than 1024 bytes (RFC 6265bis §5.6).
const MAX_ATTRIBUTE_LEN: usize = 1024;

/// The `SameSite` attribute of the crate's cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// Sent only with requests that start on this site.
    Strict,
    /// Also sent on top-level navigations from other sites (links). The default.
    Lax,
    /// Sent with every request, including cross-site ones. Requires `Secure`.
    None,
}

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
            config: SessionConfig {
                keys: vec![key],
                session: CookieScope::new("session"),
                remember_name: "_remember".into(),
                max_age: None,
                clock: Arc::new(SystemClock),
                leeway: 0,
                private: false,
                idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
                absolute_timeout: Some(DEFAULT_ABSOLUTE_TIMEOUT),
                refresh_share: DEFAULT_REFRESH_SHARE,
                claimless_sessions: true,
                cache: VerifiedCache::default(),
                auth_hashes: Cache::default(),
            },
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
#[derive(Debug)]
#[must_use]
pub struct SessionLayerBuilder {
    config: SessionConfig,
}

impl SessionLayerBuilder {
    /// The session cookie's name. Default `session`, as Microdot.
    ///
    /// For new deployments prefer `__Host-session`: browsers then refuse the cookie from anything
    /// but this exact host over HTTPS, so a sibling subdomain cannot plant one.
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.config.session.name = name.into();
        self
    }

    /// The remember-me cookie's name. Default `_remember`, as Microdot.
    pub fn remember_cookie_name(mut self, name: impl Into<String>) -> Self {
        self.config.remember_name = name.into();
        self
    }

    /// The `Path` of both cookies. Default `/`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.config.session.path = path.into();
        self
    }

    /// The `Domain` of both cookies. Default none: the cookie goes back to this host only.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.config.session.domain = Some(domain.into());
        self
    }

    /// Whether browsers send the cookies over HTTPS only. Default on; turn it off only to develop
    /// over plain `http://`.
    pub fn secure(mut self, secure: bool) -> Self {
        self.config.session.secure = secure;
        self
    }

    /// Whether scripts are kept from reading the cookies. Default on.
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.config.session.http_only = http_only;
        self
    }

    /// The `SameSite` attribute of both cookies. Default [`SameSite::Lax`].
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.config.session.same_site = same_site;
        self
    }

    /// Makes the session cookie persistent, with this `Max-Age` (whole seconds, at most 400
    /// days). By default the cookie ends when the browser session ends.
    ///
    /// `Max-Age` only tells the browser when to drop the cookie; it is not a server-side expiry.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.config.max_age = Some(max_age.as_secs());
        self
    }

    /// Keys that still verify cookies but never sign new ones, for rotating the secret without
    /// logging everyone out. A cookie that verifies under a fallback key is re-signed with the
    /// current key in the same response.
    pub fn fallback_keys(mut self, keys: impl IntoIterator<Item = Key>) -> Self {
        self.config.keys.truncate(1);
        self.config.keys.extend(keys);
        self
    }

    /// Encrypts the session (AES-256-GCM with a key derived from the session key) instead of
    /// only signing it, so the browser cannot read it. Default off: the signed format is
    /// Microdot's, and Microdot cannot read private cookies. Remember-me cookies stay signed.
    pub fn private(mut self, private: bool) -> Self {
        self.config.private = private;
        self
    }

    /// Ends a session that has not been used for this long, checked on the server from a signed
    /// anchor (`Max-Age` and `Expires` are never trusted). Default 30 minutes; `None` for no idle
    /// timeout. A request that reads the session counts as use (an [`AuthLayer`](crate::AuthLayer)
    /// always reads it).
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.config.idle_timeout = timeout.into().map(|d| d.as_secs());
        self
    }

    /// Ends a session this long after it began (at login, or its first write), however active it
    /// is. Default 12 hours; `None` for no absolute timeout.
    pub fn absolute_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.config.absolute_timeout = timeout.into().map(|d| d.as_secs());
        self
    }

    /// Which share of the idle timeout must pass before an unchanged session is re-issued with a
    /// new idle deadline (rolling sessions). Default 0.5: at most one `Set-Cookie` per half idle
    /// period, rather than one per request. Between 0 (exclusive) and 1.
    pub fn refresh_share(mut self, share: f64) -> Self {
        self.config.refresh_share = share;
        self
    }

    /// Whether sessions without the crate's time anchors are accepted. Microdot writes none, so
    /// the default (on) is needed to share sessions with a Microdot service; such a session is
    /// re-issued with anchors set to now. A copied anchorless cookie is then accepted whenever it
    /// is replayed, as it would be by Microdot: turn this off once no Microdot service writes
    /// the cookie.
    pub fn claimless_sessions(mut self, accept: bool) -> Self {
        self.config.claimless_sessions = accept;
        self
    }

    /// Tolerance for clock skew when checking `exp`, `nbf` and `iat`. Default zero; at most 60
    /// seconds.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.config.leeway = leeway.as_secs();
        self
    }

    /// The time source for every expiry rule. Default [`SystemClock`]; tests inject their own.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.config.clock = Arc::new(clock);
        self
    }

    /// Checks the configuration and builds the layer.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when browsers would refuse the cookies or they would be unsafe:
    /// a name that is not an HTTP token, `Path` or `Domain` with separators or control characters
    /// or over 1024 bytes, a `__Host-` name without `Secure`, with a `Domain` or with a `Path`
    /// other than `/`, a `__Secure-` name without `Secure`, `SameSite=None` without `Secure`,
    /// `Max-Age` over 400 days, the same name for both cookies, or more than 8 keys or a leeway
    /// over 60 seconds.
    pub fn build(self) -> Result<SessionLayer, Error> {
        let c = &self.config;
        c.session.validate(&c.session.name)?;
        c.session.validate(&c.remember_name)?;
        if c.session.name == c.remember_name {
            return Err(Error::InvalidConfig(
                "the session and remember cookies need different names",
            ));
        }
        if c.max_age.is_some_and(|age| age > MAX_COOKIE_AGE_SECS) {
            return Err(Error::InvalidConfig("max_age is over 400 days"));
        }
        if c.keys.len() > 8 {
            return Err(Error::InvalidConfig(
                "at most 8 keys, each tried on every cookie",
            ));
        }
        if c.leeway > 60 {
            return Err(Error::InvalidConfig("leeway is over 60 seconds"));
        }
        if !(c.refresh_share > 0.0 && c.refresh_share <= 1.0) {
            return Err(Error::InvalidConfig("refresh_share must be in (0, 1]"));
        }
        let timeouts = [c.idle_timeout, c.absolute_timeout];
        if timeouts
            .iter()
            .flatten()
            .any(|&t| t == 0 || t > MAX_COOKIE_AGE_SECS)
        {
            return Err(Error::InvalidConfig(
                "timeouts must be between 1 second and 400 days",
            ));
        }
        let mut config = self.config;
        config.session.attributes = config.session.render_attributes();
        Ok(SessionLayer {
            config: Arc::new(config),
        })
    }
}

/// Everything the service and the session handle need, shared behind one `Arc`.
pub(crate) struct SessionConfig {
    /// The current key first, then the fallbacks.
    pub(crate) keys: Vec<Key>,
    /// Name and attributes of the session cookie; the remember cookie shares the attributes.
    pub(crate) session: CookieScope,
    pub(crate) remember_name: String,
    /// `Max-Age` of the session cookie, in seconds; `None` for a browser-session cookie.
    pub(crate) max_age: Option<u64>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) leeway: u64,
    /// Encrypt instead of only signing.
    pub(crate) private: bool,
    pub(crate) idle_timeout: Option<u64>,
    pub(crate) absolute_timeout: Option<u64>,
    pub(crate) refresh_share: f64,
    pub(crate) claimless_sessions: bool,
    /// Cookies this configuration has verified; a new configuration (a new key set) starts empty.
    pub(crate) cache: VerifiedCache,
    /// Auth-hash tags already checked against a user's hash: the key is the tag followed by the
    /// hash, so a hit proves the same pair verified before (a changed hash misses).
    pub(crate) auth_hashes: Cache<()>,
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("keys", &self.keys.len())
            .field("session", &self.session)
            .field("remember_name", &self.remember_name)
            .field("max_age", &self.max_age)
            .field("clock", &self.clock)
            .field("leeway", &self.leeway)
            .field("private", &self.private)
            .field("idle_timeout", &self.idle_timeout)
            .field("absolute_timeout", &self.absolute_timeout)
            .field("refresh_share", &self.refresh_share)
            .field("claimless_sessions", &self.claimless_sessions)
            .finish()
    }
}

impl SessionConfig {
    pub(crate) fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Whether a session issued at `issued` and begun at `created` should be re-issued now: it
    /// lacks the crate's anchors (a Microdot cookie), or the refresh share of its idle period has
    /// passed.
    pub(crate) fn refresh_due(&self, created: Option<u64>, issued: Option<u64>, now: u64) -> bool {
        let timeouts = self.idle_timeout.is_some() || self.absolute_timeout.is_some();
        match (created, issued, self.idle_timeout) {
            (Some(_), Some(issued), Some(idle)) => {
                let after = (idle as f64 * self.refresh_share).ceil() as u64;
                now >= issued.saturating_add(after)
            }
            (Some(_), Some(_), None) => false,
            _ => timeouts,
        }
    }

    /// Appends the crate's claims for a session begun at `created`, issued `now`, as JSON members:
    /// `"_created":…,"exp":…,"iat":…`. `exp` is the earlier of the two deadlines, so PyJWT
    /// (Microdot) enforces them too.
    pub(crate) fn push_claims(&self, created: u64, now: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\"_created\":");
        push_decimal(out, created);
        if let Some(exp) = self.expiry(created, now) {
            out.extend_from_slice(b",\"exp\":");
            push_decimal(out, exp);
        }
        out.extend_from_slice(b",\"iat\":");
        push_decimal(out, now);
    }

    /// The length of what [`push_claims`](Self::push_claims) writes, without writing it.
    pub(crate) fn claims_len(&self, created: u64, now: u64) -> usize {
        let exp = self
            .expiry(created, now)
            .map_or(0, |exp| 7 + decimal_len(exp));
        11 + decimal_len(created) + exp + 7 + decimal_len(now)
    }

    fn expiry(&self, created: u64, now: u64) -> Option<u64> {
        let idle = self.idle_timeout.map(|t| now.saturating_add(t));
        let absolute = self.absolute_timeout.map(|t| created.saturating_add(t));
        idle.into_iter().chain(absolute).min()
    }

    /// `Set-Cookie` for `name=value` with the configured scope; `max_age` in seconds.
    ///
    /// Written directly from the attributes rendered once by [`SessionLayerBuilder::build`] (with
    /// the `cookie` crate, so the text is the same) instead of through a `cookie::Cookie` per
    /// response.
    pub(crate) fn set_cookie(&self, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
        let attributes = &self.session.attributes;
        let mut line = Vec::with_capacity(name.len() + 1 + value.len() + attributes.len() + 30);
        line.extend_from_slice(name.as_bytes());
        line.push(b'=');
        line.extend_from_slice(value.as_bytes());
        line.extend_from_slice(attributes.as_bytes());
        if let Some(age) = max_age {
            line.extend_from_slice(b"; Max-Age=");
            push_decimal(&mut line, age.min(MAX_COOKIE_AGE_SECS));
        }
        // Names, paths and domains are checked in `build` and values are base64url, so the header
        // is always valid; an empty header would be harmless if it were not.
        let mut value = HeaderValue::from_maybe_shared(Bytes::from(line))
            .unwrap_or(HeaderValue::from_static(""));
        value.set_sensitive(true);
        value
    }

    /// `Set-Cookie` that deletes `name`: the same scope it was set with, an empty value,
    /// `Max-Age=0` and an `Expires` in the past (SECURITY.md CK-06).
    pub(crate) fn removal_cookie(&self, name: &str) -> HeaderValue {
        let mut cookie = self.session.cookie(name, "");
        cookie.make_removal();
        let mut value =
            HeaderValue::from_str(&cookie.to_string()).unwrap_or(HeaderValue::from_static(""));
        value.set_sensitive(true);
        value
    }
}

/// Appends `n` in decimal.
pub(crate) fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// How many decimal digits `n` has.
pub(crate) fn decimal_len(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// The name and attributes shared by the crate's cookies.
#[derive(Debug, Clone)]
pub(crate) struct CookieScope {
    pub(crate) name: String,
    path: String,
    domain: Option<String>,
    secure: bool,
    http_only: bool,
    same_site: SameSite,
    /// `; HttpOnly; SameSite=Lax; Secure; Path=/`…: every attribute but `Max-Age`, rendered once
    /// when the layer is built.
    attributes: String,
}

impl CookieScope {
    fn render_attributes(&self) -> String {
        let line = self.cookie("n", "").to_string();
        line.strip_prefix("n=").unwrap_or_default().to_owned()
    }

    fn new(name: &str) -> CookieScope {
        CookieScope {
            name: name.into(),
            path: "/".into(),
            domain: None,
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            attributes: String::new(),
        }
    }

    pub(super) fn cookie<'c>(&'c self, name: &'c str, value: &'c str) -> Cookie<'c> {
        let mut cookie = Cookie::build((name, value))
            .path(self.path.as_str())
            .secure(self.secure)
            .http_only(self.http_only)
            .same_site(match self.same_site {
                SameSite::Strict => cookie::SameSite::Strict,
                SameSite::Lax => cookie::SameSite::Lax,
                SameSite::None => cookie::SameSite::None,
            })
            .build();
        if let Some(domain) = &self.domain {
            cookie.set_domain(domain.as_str());
        }
        cookie
    }

    fn validate(&self, name: &str) -> Result<(), Error> {
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(Error::InvalidConfig("cookie names must be HTTP tokens"));
        }
        let attribute_ok = |v: &str| {
            v.len() <= MAX_ATTRIBUTE_LEN && v.bytes().all(|b| b.is_ascii_graphic() && b != b';')
        };
        if !self.path.starts_with('/') || !attribute_ok(&self.path) {
            return Err(Error::InvalidConfig(
                "the path must start with `/` and hold no `;`, spaces or control characters",
            ));
        }
        if let Some(domain) = &self.domain {
            if domain.is_empty() || !attribute_ok(domain) {
                return Err(Error::InvalidConfig(
                    "the domain is empty or holds invalid characters",
                ));
            }
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(Error::InvalidConfig("SameSite=None requires Secure"));
        }
        // Browsers match the prefixes case-insensitively (RFC 6265bis §5.4).
        let has_prefix = |prefix: &str| {
            name.len() >= prefix.len()
                && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
        };
        if has_prefix("__Secure-") && !self.secure {
            return Err(Error::InvalidConfig("a `__Secure-` cookie requires Secure"));
        }
        if has_prefix("__Host-") && (!self.secure || self.domain.is_some() || self.path != "/") {
            return Err(Error::InvalidConfig(
                "a `__Host-` cookie requires Secure, Path=/ and no Domain",
            ));
        }
        Ok(())
    }
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
