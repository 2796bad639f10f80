//! The answer to an attempt the throttle does not let through.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Response, StatusCode};

/// Why [`LoginThrottle::check`](crate::LoginThrottle::check) refused an attempt, before any
/// password was hashed: `429 Too Many Requests` when a budget is spent, `503 Service Unavailable`
/// when every hashing permit is taken or the counter store did not answer. Either way with
/// `Retry-After`, in seconds.
///
/// The same answer is given whether or not the account exists.
///
/// # Examples
///
/// ```
/// # async fn f(throttle: tower_session_auth::LoginThrottle, parts: http::request::Parts) {
/// if let Err(refusal) = throttle.check(&parts, "susan").await {
///     let res: http::Response<bytes::Bytes> = refusal.into_response();
///     assert!(res.headers().contains_key("retry-after"));
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    status: StatusCode,
    retry_after: u64,
}

impl Refusal {
    pub(crate) fn throttled(retry_after: u64) -> Refusal {
        Refusal {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: retry_after.max(1),
        }
    }

    pub(crate) fn unavailable(retry_after: u64) -> Refusal {
        Refusal {
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after: retry_after.max(1),
        }
    }

    /// `429` (a budget is spent) or `503` (too many hashes at once, or no counter store).
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn f(throttle: tower_session_auth::LoginThrottle, parts: http::request::Parts) {
    /// if let Err(refusal) = throttle.check(&parts, "susan").await {
    ///     println!("{} for {} s", refusal.status(), refusal.retry_after());
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Seconds until the client may try again (at least 1), for `Retry-After`.
    ///
    /// # Examples
    ///
    /// See [`status`](Self::status).
    #[must_use]
    pub fn retry_after(&self) -> u64 {
        self.retry_after
    }

    /// The plain-text response: the status, `Retry-After`, `Cache-Control: no-store` and a
    /// one-line body. Build your own from [`status`](Self::status) and
    /// [`retry_after`](Self::retry_after) for a page in your site's style.
    ///
    /// # Examples
    ///
    /// See the type's example.
    #[must_use]
    pub fn into_response<B: From<Bytes>>(self) -> Response<B> {
        let body: &'static [u8] = if self.status == StatusCode::TOO_MANY_REQUESTS {
            b"Too many login attempts: try again later.\n"
        } else {
            b"Too many logins at once: try again in a moment.\n"
        };
        let mut res = Response::new(B::from(Bytes::from_static(body)));
        *res.status_mut() = self.status;
        let headers = res.headers_mut();
        headers.insert(RETRY_AFTER, self.retry_after_value());
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }

    /// `Retry-After` as a header value.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn f(throttle: tower_session_auth::LoginThrottle, parts: http::request::Parts) {
    /// if let Err(refusal) = throttle.check(&parts, "susan").await {
    ///     let value = refusal.retry_after_value();
    ///     assert_eq!(value.to_str().unwrap(), refusal.retry_after().to_string());
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn retry_after_value(&self) -> HeaderValue {
        HeaderValue::from(self.retry_after)
    }
}
