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
