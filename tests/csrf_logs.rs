//! A CSRF refusal logs its reason, never a header value (SECURITY.md CSRF-09). Alone in its test
//! binary: a `tracing` capture shares callsites with every test running beside it.

#[path = "common/logs.rs"]
mod logs;

use axum::body::Body;
use axum::routing::post;
use axum::Router;
use http::{Request, StatusCode};
use tower::ServiceExt;
use tower_session_auth::{CsrfLayer, CsrfRefusal, Key, SessionLayer, TokenPolicy};

fn app(policy: TokenPolicy) -> Router {
    let csrf = CsrfLayer::builder().tokens(policy).build().unwrap();
    let sessions = SessionLayer::builder(Key::generate()).build().unwrap();
    Router::new()
        .route("/api", post(|| async { "done" }))
        .layer(csrf)
        .layer(sessions)
}

fn post_req(uri: &str, headers: &[(&str, &str)], body: &str) -> Request<Body> {
    let mut req = Request::post(uri);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test]
async fn csrf_09_a_refusal_is_403_with_its_reason_and_an_event_without_header_values() {
    let (captured, _guard) = logs::capture_logs();

    let cases = [
        (
            vec![
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://evil-one.example"),
            ],
            CsrfRefusal::CrossSite,
        ),
        (
            vec![
                ("origin", "https://evil-two.example"),
                ("host", "app.example"),
            ],
            CsrfRefusal::ForeignOrigin,
        ),
        (
            vec![("origin", "null"), ("host", "app.example")],
            CsrfRefusal::ForeignOrigin,
        ),
        (vec![("host", "app.example")], CsrfRefusal::MissingToken),
        (
            vec![("x-csrf-token", "not-a-token-value")],
            CsrfRefusal::InvalidToken,
        ),
    ];
    for (headers, reason) in cases {
        let res = app(TokenPolicy::WhenNoHeaders)
            .oneshot(post_req("/api", &headers, ""))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert_eq!(res.extensions().get::<CsrfRefusal>(), Some(&reason));
    }
    let logs = captured.text();
    assert_eq!(
        logs.matches("CSRF check refused a request").count(),
        5,
        "{logs}"
    );
    for value in [
        "evil-one",
        "evil-two",
        "null",
        "app.example",
        "not-a-token-value",
    ] {
        assert!(!logs.contains(value), "{value} in {logs}");
    }
}
