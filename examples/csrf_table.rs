//! The CSRF decision table: every combination of method × `Sec-Fetch-Site` × `Origin` × `Host`
//! × the layer's options, each run through `CsrfLayer`, printed as one JSON object per line.
//!
//! `cargo run --example csrf_table`. The same rows are run through `tower-http`'s CSRF layer by
//! `tests/csrf_differential.rs` and through Microdot's CSRF extension by `.ci/interop.py`; both
//! list where those differ from this crate and why.
//!
//! Each line: `method`, `sec_fetch_site`, `origin`, `host` (`null` when the header is absent),
//! `same_site` (allowed or not), `trusted` (a trusted origin or `null`), `scheme` (this server's),
//! and `crate`: `pass`, `refuse`, or `token` (neither header: passes under `TokenPolicy::Never`,
//! needs a token under the other policies).

use std::convert::Infallible;

use http::{Request, Response, StatusCode};
use tower::{Layer as _, ServiceExt};
use tower_session_auth::{CsrfLayer, CsrfRefusal, TokenPolicy};

pub const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
pub const FETCH_SITES: [Option<&str>; 7] = [
    None,
    Some(""),
    Some("same-origin"),
    Some("none"),
    Some("same-site"),
    Some("cross-site"),
    Some("Same-Origin"),
];
pub const ORIGINS: [Option<&str>; 14] = [
    None,
    Some(""),
    Some("null"),
    Some("https://app.example"),
    Some("http://app.example"),
    Some("https://APP.example"),
    Some("https://app.example:443"),
    Some("https://app.example:8443"),
    Some("https://app.example/"),
    Some("https://sso.example"),
    Some("https://sso.example:443"),
    Some("https://a.sso.example"),
    Some("https://evil.example"),
    Some("not a url"),
];
pub const HOSTS: [Option<&str>; 5] = [
    None,
    Some("app.example"),
    Some("app.example:443"),
    Some("app.example:8443"),
    Some("evil.example"),
];
pub const TRUSTED: [Option<&str>; 2] = [None, Some("https://sso.example")];
pub const SCHEMES: [&str; 2] = ["https", "http"];

/// One request and one configuration of the layer.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub method: &'static str,
    pub sec_fetch_site: Option<&'static str>,
    pub origin: Option<&'static str>,
    pub host: Option<&'static str>,
    pub same_site: bool,
    pub trusted: Option<&'static str>,
    pub scheme: &'static str,
}

/// What this crate decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Refuse,
    /// Neither header: the token policy decides.
    Token,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Refuse => "refuse",
            Outcome::Token => "token",
        }
    }
}

/// Every row of the table, in a fixed order.
pub fn rows() -> Vec<Row> {
    let mut rows = Vec::new();
    for method in METHODS {
        for sec_fetch_site in FETCH_SITES {
            for origin in ORIGINS {
                for host in HOSTS {
                    for same_site in [false, true] {
                        for trusted in TRUSTED {
                            for scheme in SCHEMES {
                                rows.push(Row {
                                    method,
                                    sec_fetch_site,
                                    origin,
                                    host,
                                    same_site,
                                    trusted,
                                    scheme,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    rows
}

/// The request of a row: a path-only target, so `Host` is the request's authority.
pub fn request(row: &Row) -> Request<String> {
    let mut req = Request::builder().method(row.method).uri("/form");
    for (name, value) in [
        ("sec-fetch-site", row.sec_fetch_site),
        ("origin", row.origin),
        ("host", row.host),
    ] {
        if let Some(value) = value {
            req = req.header(name, value);
        }
    }
    req.body(String::new()).expect("a valid request")
}

/// The row through `CsrfLayer` with a token policy, so that "neither header" shows.
pub async fn through_crate(row: &Row) -> Outcome {
    let mut layer = CsrfLayer::builder()
        .same_site(row.same_site)
        .scheme(row.scheme)
        .tokens(TokenPolicy::WhenNoHeaders);
    if let Some(trusted) = row.trusted {
        layer = layer.trusted_origin(trusted);
    }
    let service = layer
        .build()
        .expect("a valid configuration")
        .layer(tower::service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(bytes::Bytes::new()))
        }));
    let response = service.oneshot(request(row)).await.expect("infallible");
    match (
        response.status(),
        response.extensions().get::<CsrfRefusal>(),
    ) {
        (StatusCode::OK, None) => Outcome::Pass,
        (StatusCode::FORBIDDEN, Some(CsrfRefusal::MissingToken)) => Outcome::Token,
        (StatusCode::FORBIDDEN, Some(_)) => Outcome::Refuse,
        (status, reason) => panic!("unexpected answer {status} {reason:?} to {row:?}"),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    for row in rows() {
        let outcome = through_crate(&row).await;
        let line = serde_json::json!({
            "method": row.method,
            "sec_fetch_site": row.sec_fetch_site,
            "origin": row.origin,
            "host": row.host,
            "same_site": row.same_site,
            "trusted": row.trusted,
            "scheme": row.scheme,
            "crate": outcome.name(),
        });
        println!("{line}");
    }
}
