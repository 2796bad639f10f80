//! Cross-site request forgery (CSRF) protection, one role per file:
//!
//! - `check`: the header check (`Sec-Fetch-Site`, then `Origin`), a pure function of the method,
//!   the headers and the configuration;
//! - `origin`: origins parsed and compared by scheme, host and port;
//! - `layer`: [`CsrfLayer`], its builder and the [`TokenPolicy`];
//! - `service` and `future`: the check applied to each request, and the `403` when it refuses;
//! - `refusal`: [`CsrfRefusal`], the reason put in a refusal's extensions;
//! - `token`: session-bound tokens ([`csrf_token`], [`verify_csrf_token`]);
//! - `form`: the [`CsrfForm`] extractor (feature `axum`).
//!
//! `tower-http`'s `csrf` layer implements the same header algorithm (Go 1.25's), but it cannot
//! allow same-site requests, compares `Origin` with `Host` without the scheme, lets every request
//! with neither header through (no token fallback), exempts by path predicate and has no session
//! to bind a token to; so the check lives here. `tests/csrf_differential.rs` runs one table of
//! requests through both and lists every intended difference.

mod check;
#[cfg(feature = "axum")]
mod form;
mod future;
mod layer;
mod origin;
mod refusal;
mod service;
mod token;

#[cfg(feature = "axum")]
pub use form::CsrfForm;
pub use future::CsrfFuture;
pub use layer::{CsrfLayer, CsrfLayerBuilder, TokenPolicy};
pub use refusal::CsrfRefusal;
pub use service::CsrfService;
pub use token::{csrf_token, verify_csrf_token};

#[cfg(fuzzing)]
pub(crate) fn fuzz_own_origin_passes(origin: &[u8], host: &[u8], https: bool) -> bool {
    let (Ok(origin), Ok(host)) = (
        http::HeaderValue::from_bytes(origin),
        http::HeaderValue::from_bytes(host),
    ) else {
        return false;
    };
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::ORIGIN, origin);
    headers.insert(http::header::HOST, host);
    let scheme = if https { "https" } else { "http" };
    let layer = CsrfLayer::builder().scheme(scheme).build().unwrap();
    check::check(
        layer.config(),
        &http::Method::POST,
        &http::Uri::from_static("/"),
        &headers,
    ) == check::Verdict::Pass
}

#[cfg(fuzzing)]
pub(crate) fn fuzz_headers(site: &[u8], origin: &[u8], host: &[u8], token: &[u8]) {
    let mut headers = http::HeaderMap::new();
    for (name, value) in [
        ("sec-fetch-site", site),
        ("origin", origin),
        ("host", host),
        ("x-csrf-token", token),
    ] {
        if let Ok(value) = http::HeaderValue::from_bytes(value) {
            headers.insert(name, value);
        }
    }
    for policy in [
        TokenPolicy::Never,
        TokenPolicy::WhenNoHeaders,
        TokenPolicy::Always,
    ] {
        let layer = CsrfLayer::builder()
            .tokens(policy)
            .same_site(true)
            .trusted_origin("https://sso.example")
            .build()
            .unwrap();
        let _ = check::check(
            layer.config(),
            &http::Method::POST,
            &http::Uri::from_static("/"),
            &headers,
        );
    }
    if let Ok(token) = std::str::from_utf8(token) {
        let key = crate::Key::from_bytes(b"a fixed fuzzing key, 32 bytes or more").unwrap();
        let _ = token::open(&crate::key::KeySet::new(key), &[0u8; 32], token);
    }
}
