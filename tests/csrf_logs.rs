//! A CSRF refusal logs its reason, never a header value (SECURITY.md CSRF-09). Alone in its test
//! binary: a `tracing` capture shares callsites with every test running beside it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::routing::post;
use axum::Router;
use http::{Request, StatusCode};
use tower::ServiceExt;
use tower_session_auth::{CsrfLayer, CsrfRefusal, Key, SessionLayer, TokenPolicy};
use tracing_subscriber::fmt::MakeWriter;

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

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test]
async fn csrf_09_a_refusal_is_403_with_its_reason_and_an_event_without_header_values() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

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
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
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
