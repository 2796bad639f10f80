//! The demo's CSRF protection: every form is protected by `CsrfLayer`, with a token required
//! when a request carries neither `Sec-Fetch-Site` nor `Origin` (an old browser, or a client
//! that strips them). Each form renders the token in a hidden `csrf_token` field.

use axum::body::Bytes;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{Response, StatusCode};
use tower_session_auth::{csrf_token, CsrfLayer, SessionDict, TokenPolicy};

use super::page;

/// The layer in front of every route. `http` only because the demo serves plain http on
/// loopback; keep the default (`https`) in production.
pub(super) fn layer() -> CsrfLayer {
    CsrfLayer::builder()
        .scheme("http")
        .tokens(TokenPolicy::WhenNoHeaders)
        .refused(|reason| {
            let body = format!(
                "<h1>Refused</h1>\n<p>This site accepts forms only from its own pages \
                 ({reason}).</p>\n<p><a href=\"/\">Home</a></p>"
            );
            Response::builder()
                .status(StatusCode::FORBIDDEN)
                .header(CONTENT_TYPE, super::HTML)
                .header(CACHE_CONTROL, "no-store")
                .body(Bytes::from(page("Refused", &body).0))
                .expect("a valid response")
        })
        .build()
        .expect("valid CSRF configuration")
}

/// The hidden `csrf_token` field of a form. A token is base64url: nothing to escape.
pub(super) fn hidden_field(session: &SessionDict) -> String {
    match csrf_token(session) {
        Ok(token) => format!("<input type=\"hidden\" name=\"csrf_token\" value=\"{token}\">"),
        // The session is full: the form still renders, and posting it from the page passes by
        // its Fetch Metadata.
        Err(_) => String::new(),
    }
}
