//! `CookieJar`: the cookies of one site, kept as a browser keeps them.

use std::fmt;
use std::sync::Arc;

use cookie::Cookie;
use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue, Uri};

use crate::{Clock, SystemClock};

/// The cookies a browser keeps for one site (one host), for [`TestClient`](crate::TestClient).
///
/// [`store`](Self::store) applies a response's `Set-Cookie` headers as RFC 6265bis says a user
/// agent does: a cookie is identified by its name and `Path` (the default path is the request
/// path's directory), a later one replaces it, `Max-Age` (which wins over `Expires`) or a past
/// `Expires` removes it, and expired cookies are not sent. A jar for a plain-`http` site
/// ([`plain_http`](Self::plain_http)) refuses `Secure` cookies; every jar refuses `__Secure-` and
/// `__Host-` cookies that break their prefix's rules. [`cookie_header`](Self::cookie_header) is
/// the `Cookie` header a browser would send to a path: the cookies whose path matches, the
/// longest paths first. `Domain` is kept but not checked: the jar is for one host.
///
/// # Examples
///
/// ```
/// use http::{header::SET_COOKIE, HeaderMap, Uri};
/// use tower_session_auth::CookieJar;
///
/// let mut jar = CookieJar::new();
/// let mut headers = HeaderMap::new();
/// headers.append(SET_COOKIE, "session=abc; Path=/; Secure; HttpOnly".parse().unwrap());
/// headers.append(SET_COOKIE, "pref=dark; Path=/settings".parse().unwrap());
/// jar.store(&Uri::from_static("/login"), &headers);
/// assert_eq!(jar.get("session"), Some("abc"));
/// assert_eq!(jar.cookie_header(&Uri::from_static("/")).unwrap(), "session=abc");
/// assert_eq!(jar.cookie_header(&Uri::from_static("/settings/a")).unwrap(), "pref=dark; session=abc");
///
/// let mut removal = HeaderMap::new();
/// removal.append(SET_COOKIE, "session=; Path=/; Max-Age=0".parse().unwrap());
/// jar.store(&Uri::from_static("/logout"), &removal);
/// assert!(!jar.contains("session"));
/// ```
#[derive(Clone)]
pub struct CookieJar {
    cookies: Vec<Stored>,
    clock: Arc<dyn Clock>,
    secure_origin: bool,
    /// Creation order, for ties in the `Cookie` header.
    counter: u64,
}

#[derive(Clone)]
struct Stored {
    name: String,
    value: String,
    path: String,
    /// Seconds since the epoch by the jar's clock; `None` for a browser-session cookie.
    expires: Option<i64>,
    secure: bool,
    created: u64,
}

impl fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names and paths only: cookie values are credentials.
        f.debug_struct("CookieJar")
            .field(
                "cookies",
                &self
                    .cookies
                    .iter()
                    .map(|c| format!("{}; Path={}", c.name, c.path))
                    .collect::<Vec<_>>(),
            )
            .field("secure_origin", &self.secure_origin)
            .finish_non_exhaustive()
    }
}

impl Default for CookieJar {
    fn default() -> Self {
        CookieJar::new()
    }
}

impl CookieJar {
    /// An empty jar for an `https` site, timing `Max-Age` by the system clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::CookieJar;
    ///
    /// assert!(!CookieJar::new().contains("session"));
    /// ```
    pub fn new() -> CookieJar {
        CookieJar {
            cookies: Vec::new(),
            clock: Arc::new(SystemClock),
            secure_origin: true,
            counter: 0,
        }
    }

    /// An empty jar for a plain-`http` site (a development server): `Secure` cookies are refused,
    /// as browsers refuse them from an insecure origin.
    ///
    /// # Examples
    ///
    /// ```
    /// use http::{header::SET_COOKIE, HeaderMap, Uri};
    /// use tower_session_auth::CookieJar;
    ///
    /// let mut jar = CookieJar::plain_http();
    /// let mut headers = HeaderMap::new();
    /// headers.append(SET_COOKIE, "session=abc; Path=/; Secure".parse().unwrap());
    /// jar.store(&Uri::from_static("/"), &headers);
    /// assert!(!jar.contains("session"));
    /// ```
    pub fn plain_http() -> CookieJar {
        CookieJar {
            secure_origin: false,
            ..CookieJar::new()
        }
    }

    /// Times `Max-Age` and `Expires` by `clock` (a [`FakeClock`](crate::FakeClock) shared with the
    /// session layer) instead of the system clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use http::{header::SET_COOKIE, HeaderMap, Uri};
    /// use tower_session_auth::{CookieJar, FakeClock};
    ///
    /// let clock = FakeClock::at(1_700_000_000);
    /// let mut jar = CookieJar::new().with_clock(clock.clone());
    /// let mut headers = HeaderMap::new();
    /// headers.append(SET_COOKIE, "_remember=r; Path=/; Max-Age=60".parse().unwrap());
    /// jar.store(&Uri::from_static("/"), &headers);
    /// clock.advance(Duration::from_secs(59));
    /// assert!(jar.contains("_remember"));
    /// clock.advance(Duration::from_secs(1)); // 60 seconds: gone
    /// assert!(!jar.contains("_remember"));
    /// ```
    pub fn with_clock(mut self, clock: impl Clock) -> CookieJar {
        self.clock = Arc::new(clock);
        self
    }

    /// The value of the cookie `name` that has not expired (of the one with the longest path,
    /// when several paths hold one).
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::CookieJar;
    ///
    /// let mut jar = CookieJar::new();
    /// jar.insert("session", "abc");
    /// assert_eq!(jar.get("session"), Some("abc"));
    /// ```
    pub fn get(&self, name: &str) -> Option<&str> {
        let now = self.now();
        self.cookies
            .iter()
            .filter(|c| c.name == name && c.live(now))
            .max_by_key(|c| c.path.len())
            .map(|c| c.value.as_str())
    }

    /// Whether the jar holds a cookie `name` that has not expired.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::CookieJar;
    ///
    /// let mut jar = CookieJar::new();
    /// jar.insert("session", "abc");
    /// assert!(jar.contains("session"));
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Puts a cookie in the jar as if the site had set it with `Path=/` and no `Max-Age`
    /// (replacing one of that name and path): for planting a crafted or copied cookie.
    ///
    /// # Examples
    ///
    /// ```
    /// use http::Uri;
    /// use tower_session_auth::CookieJar;
    ///
    /// let mut jar = CookieJar::new();
    /// jar.insert("session", "copied-from-another-browser");
    /// assert_eq!(
    ///     jar.cookie_header(&Uri::from_static("/")).unwrap(),
    ///     "session=copied-from-another-browser"
    /// );
    /// ```
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let stored = Stored {
            name: name.into(),
            value: value.into(),
            path: "/".into(),
            expires: None,
            secure: false,
            created: 0,
        };
        self.put(stored);
    }

    /// Removes every cookie `name` (whatever its path), as a user clearing it would; whether
    /// there was one.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::CookieJar;
    ///
    /// let mut jar = CookieJar::new();
    /// jar.insert("session", "abc");
    /// assert!(jar.remove("session"));
    /// assert!(!jar.contains("session"));
    /// ```
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.cookies.len();
        self.cookies.retain(|c| c.name != name);
        before != self.cookies.len()
    }

    /// Applies the `Set-Cookie` headers of a response to a request for `request_uri`, as a
    /// browser does. Headers that do not parse as cookies are ignored, as browsers ignore them.
    ///
    /// # Examples
    ///
    /// ```
    /// use http::{header::SET_COOKIE, HeaderMap, Uri};
    /// use tower_session_auth::CookieJar;
    ///
    /// let mut jar = CookieJar::new();
    /// let mut headers = HeaderMap::new();
    /// // No `Path`: the default is the request path's directory, `/account`.
    /// headers.append(SET_COOKIE, "tab=2".parse().unwrap());
    /// jar.store(&Uri::from_static("/account/settings"), &headers);
    /// assert!(jar.cookie_header(&Uri::from_static("/")).is_none());
    /// assert_eq!(jar.cookie_header(&Uri::from_static("/account")).unwrap(), "tab=2");
    /// ```
    pub fn store(&mut self, request_uri: &Uri, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let Ok(cookie) = Cookie::parse(text.to_owned()) else {
                continue;
            };
            self.store_one(request_uri, &cookie);
        }
    }

    fn store_one(&mut self, request_uri: &Uri, cookie: &Cookie<'_>) {
        let secure = cookie.secure().unwrap_or(false);
        if secure && !self.secure_origin {
            return;
        }
        let path = match cookie.path() {
            Some(p) if p.starts_with('/') => p.to_owned(),
            _ => default_path(request_uri.path()),
        };
        let name = cookie.name();
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("__secure-") && !secure {
            return;
        }
        if lower.starts_with("__host-") && !(secure && path == "/" && cookie.domain().is_none()) {
            return;
        }
        let now = self.now();
        let expires = match (cookie.max_age(), cookie.expires_datetime()) {
            (Some(age), _) => Some(now.saturating_add(age.whole_seconds())),
            (None, Some(at)) => Some(at.unix_timestamp()),
            (None, None) => None,
        };
        let stored = Stored {
            name: name.to_owned(),
            value: cookie.value().to_owned(),
            path,
            expires,
            secure,
            created: 0,
        };
        if stored.live(now) {
            self.put(stored);
        } else {
            self.cookies
                .retain(|c| !(c.name == stored.name && c.path == stored.path));
        }
    }

    /// The `Cookie` header a browser would send with a request for `uri`, or `None` when no
    /// cookie matches its path.
    ///
    /// # Examples
    ///
    /// ```
    /// use http::Uri;
    /// use tower_session_auth::CookieJar;
    ///
    /// let mut jar = CookieJar::new();
    /// assert!(jar.cookie_header(&Uri::from_static("/")).is_none());
    /// jar.insert("a", "1");
    /// jar.insert("b", "2");
    /// assert_eq!(jar.cookie_header(&Uri::from_static("/x")).unwrap(), "a=1; b=2");
    /// ```
    pub fn cookie_header(&self, uri: &Uri) -> Option<HeaderValue> {
        let now = self.now();
        let path = uri.path();
        let mut matching: Vec<&Stored> = self
            .cookies
            .iter()
            .filter(|c| c.live(now) && path_matches(path, &c.path))
            .filter(|c| self.secure_origin || !c.secure)
            .collect();
        if matching.is_empty() {
            return None;
        }
        matching.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then(a.created.cmp(&b.created))
        });
        let header = matching
            .iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect::<Vec<_>>()
            .join("; ");
        HeaderValue::try_from(header).ok()
    }

    fn now(&self) -> i64 {
        i64::try_from(self.clock.now()).unwrap_or(i64::MAX)
    }

    /// Stores `stored`, replacing the cookie of the same name and path (keeping its creation
    /// time, as RFC 6265bis §5.7 says).
    fn put(&mut self, mut stored: Stored) {
        if let Some(old) = self
            .cookies
            .iter_mut()
            .find(|c| c.name == stored.name && c.path == stored.path)
        {
            stored.created = old.created;
            *old = stored;
            return;
        }
        self.counter += 1;
        stored.created = self.counter;
        self.cookies.push(stored);
    }
}

impl Stored {
    fn live(&self, now: i64) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

/// RFC 6265bis §5.1.4: the directory of the request path.
fn default_path(path: &str) -> String {
    match path.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => path[..i].into(),
    }
}

/// RFC 6265bis §5.1.4: whether a request for `path` gets a cookie with `cookie_path`.
fn path_matches(path: &str, cookie_path: &str) -> bool {
    path == cookie_path
        || (path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::FakeClock;

    fn set(jar: &mut CookieJar, uri: &'static str, cookies: &[&str]) {
        let mut headers = HeaderMap::new();
        for c in cookies {
            headers.append(SET_COOKIE, c.parse().unwrap());
        }
        jar.store(&Uri::from_static(uri), &headers);
    }

    fn header(jar: &CookieJar, uri: &'static str) -> Option<String> {
        jar.cookie_header(&Uri::from_static(uri))
            .map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn debug_shows_names_never_values() {
        let mut jar = CookieJar::new();
        jar.insert("session", "s3cr3t-value");
        let debug = format!("{jar:?}");
        assert!(debug.contains("session; Path=/"), "{debug}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
    }

    #[test]
    fn paths_match_as_rfc_6265bis_says() {
        assert!(path_matches("/a", "/a"));
        assert!(path_matches("/a/b", "/a"));
        assert!(path_matches("/a/b", "/a/"));
        assert!(path_matches("/anything", "/"));
        assert!(!path_matches("/ab", "/a"));
        assert!(!path_matches("/", "/a"));
        assert_eq!(default_path("/a/b/c"), "/a/b");
        assert_eq!(default_path("/a"), "/");
        assert_eq!(default_path(""), "/");
    }

    #[test]
    fn a_cookie_is_replaced_by_name_and_path_and_removed_by_max_age_or_expires() {
        let mut jar = CookieJar::new();
        set(&mut jar, "/", &["s=1; Path=/", "s=2; Path=/app"]);
        assert_eq!(header(&jar, "/app/x").unwrap(), "s=2; s=1");
        set(&mut jar, "/", &["s=3; Path=/"]);
        assert_eq!(header(&jar, "/app/x").unwrap(), "s=2; s=3");
        // Removal at another path leaves the cookie of `/` alone (CK-06's point).
        set(&mut jar, "/", &["s=; Path=/app; Max-Age=0"]);
        assert_eq!(header(&jar, "/app/x").unwrap(), "s=3");
        set(
            &mut jar,
            "/",
            &["s=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"],
        );
        assert!(header(&jar, "/").is_none());
        // Max-Age wins over Expires.
        set(
            &mut jar,
            "/",
            &["t=1; Path=/; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT"],
        );
        assert_eq!(jar.get("t"), Some("1"));
    }

    #[test]
    fn max_age_counts_by_the_jar_clock() {
        let clock = FakeClock::at(1_000);
        let mut jar = CookieJar::new().with_clock(clock.clone());
        set(&mut jar, "/", &["r=1; Path=/; Max-Age=10"]);
        clock.set(1_009);
        assert_eq!(header(&jar, "/").unwrap(), "r=1");
        clock.set(1_010);
        assert!(header(&jar, "/").is_none());
    }

    #[test]
    fn secure_and_prefixed_cookies_follow_browser_rules() {
        let mut plain = CookieJar::plain_http();
        set(&mut plain, "/", &["a=1; Secure", "b=2"]);
        assert_eq!(header(&plain, "/").unwrap(), "b=2");
        let mut jar = CookieJar::new();
        set(
            &mut jar,
            "/",
            &[
                "__Host-a=1; Secure; Path=/",
                "__Host-b=1; Secure; Path=/x",
                "__Host-c=1; Path=/",
                "__Secure-d=1",
                "__secure-e=1; Secure",
            ],
        );
        assert_eq!(header(&jar, "/x").unwrap(), "__Host-a=1; __secure-e=1");
    }
}
