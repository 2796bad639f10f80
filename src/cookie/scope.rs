//! The attributes the crate's cookies share (`Path`, `Domain`, `Secure`, `HttpOnly`, `SameSite`),
//! checked once when a layer is built, and the `Set-Cookie` lines written with them.

use bytes::Bytes;
use cookie::Cookie;
use http::HeaderValue;

use super::MAX_COOKIE_AGE_SECS;
use crate::decimal::push_decimal;
use crate::{ConfigError, Error};

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

/// The attributes shared by the crate's cookies.
#[derive(Debug, Clone)]
pub(crate) struct CookieScope {
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) secure: bool,
    pub(crate) http_only: bool,
    pub(crate) same_site: SameSite,
    /// `; HttpOnly; SameSite=Lax; Secure; Path=/`…: every attribute but `Max-Age`, rendered once
    /// by [`CookieScope::render`].
    attributes: String,
}

impl Default for CookieScope {
    /// The secure defaults: `Path=/`, `Secure`, `HttpOnly`, `SameSite=Lax`, no `Domain`.
    fn default() -> CookieScope {
        CookieScope {
            path: "/".into(),
            domain: None,
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            attributes: String::new(),
        }
    }
}

impl CookieScope {
    /// Renders the attributes once, for [`set_cookie`](Self::set_cookie).
    pub(crate) fn render(&mut self) {
        let line = self.cookie("n", "").to_string();
        self.attributes = line.strip_prefix("n=").unwrap_or_default().to_owned();
    }

    pub(crate) fn cookie<'c>(&'c self, name: &'c str, value: &'c str) -> Cookie<'c> {
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

    /// `Set-Cookie` for `name=value` with this scope; `max_age` in seconds.
    ///
    /// Written directly from the attributes rendered once (with the `cookie` crate, so the text is
    /// the same) instead of through a `cookie::Cookie` per response.
    pub(crate) fn set_cookie(&self, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
        let attributes = &self.attributes;
        let mut line = Vec::with_capacity(name.len() + 1 + value.len() + attributes.len() + 30);
        line.extend_from_slice(name.as_bytes());
        line.push(b'=');
        line.extend_from_slice(value.as_bytes());
        line.extend_from_slice(attributes.as_bytes());
        if let Some(age) = max_age {
            line.extend_from_slice(b"; Max-Age=");
            push_decimal(&mut line, age.min(MAX_COOKIE_AGE_SECS));
        }
        // Names, paths and domains are checked in `validate` and values are base64url, so the
        // header is always valid; an empty header would be harmless if it were not.
        let mut value = HeaderValue::from_maybe_shared(Bytes::from(line))
            .unwrap_or(HeaderValue::from_static(""));
        value.set_sensitive(true);
        value
    }

    /// `Set-Cookie` that deletes `name`: the same scope it was set with, an empty value,
    /// `Max-Age=0` and an `Expires` in the past (SECURITY.md CK-06).
    pub(crate) fn removal_cookie(&self, name: &str) -> HeaderValue {
        let mut cookie = self.cookie(name, "");
        cookie.make_removal();
        let mut value =
            HeaderValue::from_str(&cookie.to_string()).unwrap_or(HeaderValue::from_static(""));
        value.set_sensitive(true);
        value
    }

    /// Checks that a cookie called `name` with this scope is one browsers keep and that is safe.
    pub(crate) fn validate(&self, name: &str) -> Result<(), Error> {
        let refuse = |rule| Err(Error::InvalidConfig(rule));
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return refuse(ConfigError::CookieName);
        }
        let attribute_ok = |v: &str| {
            v.len() <= MAX_ATTRIBUTE_LEN && v.bytes().all(|b| b.is_ascii_graphic() && b != b';')
        };
        if !self.path.starts_with('/') || !attribute_ok(&self.path) {
            return refuse(ConfigError::Path);
        }
        if let Some(domain) = &self.domain {
            if domain.is_empty() || !attribute_ok(domain) {
                return refuse(ConfigError::Domain);
            }
        }
        if self.same_site == SameSite::None && !self.secure {
            return refuse(ConfigError::SameSiteNoneWithoutSecure);
        }
        if has_prefix(name, "__Secure-") && !self.secure {
            return refuse(ConfigError::CookiePrefix);
        }
        if has_prefix(name, "__Host-")
            && (!self.secure || self.domain.is_some() || self.path != "/")
        {
            return refuse(ConfigError::CookiePrefix);
        }
        Ok(())
    }
}

/// Whether `name` has the cookie prefix `prefix`; browsers match prefixes case-insensitively
/// (RFC 6265bis §5.4).
pub(crate) fn has_prefix(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
