//! Why the CSRF check refused a request, and the default `403` response.

use std::fmt;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};

/// Why [`CsrfLayer`](crate::CsrfLayer) (or [`CsrfForm`](crate::CsrfForm)) refused a request.
///
/// Every refusal is a `403 Forbidden` unless a [`refused`](crate::CsrfLayerBuilder::refused) hook
/// builds another response; the reason is added to the response's extensions either way, for
/// outer layers that count or log refusals.
///
/// # Examples
///
/// ```
/// use tower_session_auth::CsrfRefusal;
///
/// assert_eq!(
///     CsrfRefusal::CrossSite.to_string(),
///     "cross-site request refused (Sec-Fetch-Site)",
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CsrfRefusal {
    /// The browser said the request comes from another site: `Sec-Fetch-Site: cross-site`, or
    /// `same-site` when same-site requests are not allowed, or a value the Fetch standard does not
    /// define.
    CrossSite,
    /// Without `Sec-Fetch-Site`, the `Origin` is neither this server's origin nor a trusted one
    /// (this includes `Origin: null` and origins that do not parse).
    ForeignOrigin,
    /// A token was required (by the [`TokenPolicy`](crate::TokenPolicy)) and none was sent.
    MissingToken,
    /// The token sent is not one of this session's tokens: made for another session, before a
    /// login or logout, under a key no longer configured, or altered.
    InvalidToken,
}

impl fmt::Display for CsrfRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CsrfRefusal::CrossSite => "cross-site request refused (Sec-Fetch-Site)",
            CsrfRefusal::ForeignOrigin => "request from another origin refused (Origin)",
            CsrfRefusal::MissingToken => "CSRF token missing",
            CsrfRefusal::InvalidToken => "CSRF token invalid",
        })
    }
}

impl std::error::Error for CsrfRefusal {}

/// The default refusal: `403`, a short plain-text body, never cached.
pub(crate) fn forbidden(refusal: CsrfRefusal) -> Response<Bytes> {
    let body = format!("403 Forbidden: {refusal}\n");
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = StatusCode::FORBIDDEN;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
