//! CSRF protection across layers: `CsrfLayer` inside a `SessionLayer`, tokens rendered by
//! handlers and sent back in a header or a form, logins and logouts in between (SECURITY.md
//! CSRF-01..CSRF-09).

mod common;

use axum::body::{Body, Bytes};
use axum::routing::{get, post};
use axum::Router;
use common::{key, Browser, Member};
use http::{Request, Response, StatusCode};
use proptest::prelude::*;
use serde::Deserialize;
use tower::ServiceExt;
use tower_session_auth::{
    csrf_token, login_user, logout_user, CsrfForm, CsrfLayer, CsrfLayerBuilder, CsrfRefusal, Key,
    SessionDict, SessionLayer, TokenPolicy,
};

#[derive(Deserialize)]
struct Rename {
    name: String,
}

/// A small app: `GET /token` renders a token, `GET /plain` renders none, `POST /api` is guarded
/// by the layer alone, `POST /rename` takes a `CsrfForm`, `POST /login/{id}` and `POST /logout`
/// change the login.
fn app_with(csrf: CsrfLayerBuilder, key: Key, fallbacks: Vec<Key>) -> Router {
    let sessions = SessionLayer::builder(key)
        .fallback_keys(fallbacks)
        .build()
        .unwrap();
    Router::new()
        .route(
            "/token",
            get(|session: SessionDict| async move { csrf_token(&session).unwrap() }),
        )
        .route("/plain", get(|| async { "no form here" }))
        .route("/api", post(|| async { "done" }))
        .route("/button", post(|_: CsrfForm| async { "pressed" }))
        .route(
            "/rename",
            post(|CsrfForm(form): CsrfForm<Rename>| async move { form.name }),
        )
        .route(
            "/login/{id}",
            post(
                |session: SessionDict, axum::extract::Path(id): axum::extract::Path<u64>| async move {
                    let user = Member { id, hash: vec![1] };
                    login_user(&session, &user, false).unwrap();
                    "in"
                },
            ),
        )
        .route(
            "/logout",
            post(|session: SessionDict| async move {
                logout_user(&session);
                "out"
            }),
        )
        .layer(csrf.build().unwrap())
        .layer(sessions)
}

fn app(policy: TokenPolicy) -> Router {
    app_with(CsrfLayer::builder().tokens(policy), key(), Vec::new())
}

/// A `POST` with these headers and body, sent with the browser's cookies.
fn post_req(uri: &str, headers: &[(&str, &str)], body: &str) -> Request<Body> {
    let mut req = Request::post(uri);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.body(Body::from(body.to_owned())).unwrap()
}

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const SAME_ORIGIN: (&str, &str) = ("sec-fetch-site", "same-origin");

async fn token(b: &mut Browser, app: &Router) -> String {
    let res = b.get(app, "/token").await;
    assert_eq!(res.status, StatusCode::OK);
    res.body
}

async fn status_with_token(b: &mut Browser, app: &Router, token: &str) -> StatusCode {
    b.send(app, post_req("/api", &[("x-csrf-token", token)], ""))
        .await
        .status
}

#[tokio::test]
async fn csrf_04_the_seed_is_created_only_when_a_token_is_rendered() {
    let app = app(TokenPolicy::WhenNoHeaders);
    let mut b = Browser::new();
    let res = b.get(&app, "/plain").await;
    assert!(res.set_cookies.is_empty(), "{:?}", res.set_cookies);
    let res = b.get(&app, "/token").await;
    assert!(res.set_cookie("session").is_some());
    // The seed is kept: the next render needs no new cookie.
    let res = b.get(&app, "/token").await;
    assert!(res.set_cookies.is_empty(), "{:?}", res.set_cookies);
}

#[tokio::test]
async fn csrf_05_renders_differ_and_each_verifies_in_the_header_and_in_a_form() {
    let app = app(TokenPolicy::WhenNoHeaders);
    let mut b = Browser::new();
    let (first, second) = (token(&mut b, &app).await, token(&mut b, &app).await);
    assert_ne!(first, second);
    assert_eq!(
        status_with_token(&mut b, &app, &first).await,
        StatusCode::OK
    );
    assert_eq!(
        status_with_token(&mut b, &app, &second).await,
        StatusCode::OK
    );
    let res = b
        .send(
            &app,
            post_req("/rename", &[FORM], &format!("name=ada&csrf_token={second}")),
        )
        .await;
    assert_eq!((res.status, res.body.as_str()), (StatusCode::OK, "ada"));
}

#[tokio::test]
async fn csrf_07_when_no_headers_a_token_is_required_from_the_header_or_the_form() {
    let app = app(TokenPolicy::WhenNoHeaders);
    let mut b = Browser::new();
    let token = token(&mut b, &app).await;
    // Neither header, no token: refused by the layer, or by the form extractor.
    let res = b.send(&app, post_req("/api", &[], "")).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = b.send(&app, post_req("/rename", &[FORM], "name=ada")).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = b
        .send(
            &app,
            post_req("/rename", &[FORM], "name=ada&csrf_token=AAAA"),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // A form that is not urlencoded or multipart is not deferred to the handler.
    let res = b
        .send(
            &app,
            post_req(
                "/api",
                &[("content-type", "text/plain")],
                &format!("csrf_token={token}"),
            ),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // Fetch Metadata or the right Origin: no token needed.
    let res = b.send(&app, post_req("/api", &[SAME_ORIGIN], "")).await;
    assert_eq!(res.status, StatusCode::OK);
    let res = b
        .send(
            &app,
            post_req(
                "/rename",
                &[
                    FORM,
                    ("origin", "https://app.example"),
                    ("host", "app.example"),
                ],
                "name=bob",
            ),
        )
        .await;
    assert_eq!((res.status, res.body.as_str()), (StatusCode::OK, "bob"));
    // Tokenless policy: neither header passes.
    let never = self::app(TokenPolicy::Never);
    let res = b.send(&never, post_req("/api", &[], "")).await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn csrf_07_always_requires_a_token_even_from_the_same_origin() {
    let app = app(TokenPolicy::Always);
    let mut b = Browser::new();
    let token = token(&mut b, &app).await;
    let res = b.send(&app, post_req("/api", &[SAME_ORIGIN], "")).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = b
        .send(
            &app,
            post_req("/api", &[SAME_ORIGIN, ("x-csrf-token", &token)], ""),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    // The header check still runs first: a cross-site request is refused with a token.
    let res = b
        .send(
            &app,
            post_req(
                "/api",
                &[("sec-fetch-site", "cross-site"), ("x-csrf-token", &token)],
                "",
            ),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn csrf_05_another_sessions_token_fails() {
    let app = app(TokenPolicy::WhenNoHeaders);
    let (mut alice, mut mallory) = (Browser::new(), Browser::new());
    let _ = token(&mut alice, &app).await;
    let theirs = token(&mut mallory, &app).await;
    assert_eq!(
        status_with_token(&mut alice, &app, &theirs).await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn csrf_06_tokens_verify_under_fallback_keys_and_not_after_the_key_is_dropped() {
    let old = Key::generate();
    let new = Key::generate();
    let before = app_with(
        CsrfLayer::builder().tokens(TokenPolicy::Always),
        old.clone(),
        Vec::new(),
    );
    let mut b = Browser::new();
    let token = token(&mut b, &before).await;
    let rotated = app_with(
        CsrfLayer::builder().tokens(TokenPolicy::Always),
        new.clone(),
        vec![old],
    );
    assert_eq!(
        status_with_token(&mut b, &rotated, &token).await,
        StatusCode::OK
    );
    let dropped = app_with(
        CsrfLayer::builder().tokens(TokenPolicy::Always),
        new,
        Vec::new(),
    );
    assert_eq!(
        status_with_token(&mut b, &dropped, &token).await,
        StatusCode::FORBIDDEN
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// For any user and any number of renders: tokens made before a login fail after it, tokens
    /// made after it verify until the logout, and none verifies after the logout.
    #[test]
    fn csrf_08_login_and_logout_end_every_earlier_token(user in any::<u64>(), renders in 1usize..4) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let app = app(TokenPolicy::Always);
            let mut b = Browser::new();
            let mut before = Vec::new();
            for _ in 0..renders {
                before.push(token(&mut b, &app).await);
            }
            for t in &before {
                prop_assert_eq!(status_with_token(&mut b, &app, t).await, StatusCode::OK);
            }
            let login = post_req(&format!("/login/{user}"), &[SAME_ORIGIN, ("x-csrf-token", &before[0])], "");
            prop_assert_eq!(b.send(&app, login).await.status, StatusCode::OK);
            for t in &before {
                prop_assert_eq!(status_with_token(&mut b, &app, t).await, StatusCode::FORBIDDEN);
            }
            let during = token(&mut b, &app).await;
            prop_assert!(!before.contains(&during));
            prop_assert_eq!(status_with_token(&mut b, &app, &during).await, StatusCode::OK);
            let logout = post_req("/logout", &[SAME_ORIGIN, ("x-csrf-token", &during)], "");
            prop_assert_eq!(b.send(&app, logout).await.status, StatusCode::OK);
            for t in before.iter().chain([&during]) {
                prop_assert_eq!(status_with_token(&mut b, &app, t).await, StatusCode::FORBIDDEN);
            }
            Ok(())
        })?;
    }

    /// Whatever the headers hold, the answer is the handler's or a `403`, never another error.
    #[test]
    fn csrf_03_any_headers_get_200_or_403(
        method in prop::sample::select(vec!["POST", "PUT", "DELETE", "PATCH", "GET", "FOO"]),
        site in proptest::collection::vec(any::<u8>(), 0..24),
        origin in proptest::collection::vec(any::<u8>(), 0..40),
        host in proptest::collection::vec(any::<u8>(), 0..40),
        token in proptest::collection::vec(any::<u8>(), 0..100),
        content_type in prop::sample::select(vec!["", "application/x-www-form-urlencoded", "text/plain"]),
        policy in prop::sample::select(vec![TokenPolicy::Never, TokenPolicy::WhenNoHeaders, TokenPolicy::Always]),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let status = runtime.block_on(async {
            let mut req = Request::builder().method(method).uri("/api");
            for (name, value) in [
                ("sec-fetch-site", site),
                ("origin", origin),
                ("host", host),
                ("x-csrf-token", token),
                ("content-type", content_type.as_bytes().to_vec()),
            ] {
                if let Ok(value) = http::HeaderValue::from_bytes(&value) {
                    req = req.header(name, value);
                }
            }
            let res = app(policy).oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
            res.status()
        });
        prop_assert!(
            matches!(status, StatusCode::OK | StatusCode::FORBIDDEN | StatusCode::METHOD_NOT_ALLOWED),
            "{status}"
        );
    }
}

#[tokio::test]
async fn csrf_09_the_hook_builds_the_refusal_and_the_reason_is_still_attached() {
    let csrf = CsrfLayer::builder().refused(|reason| {
        Response::builder()
            .status(StatusCode::FORBIDDEN)
            .header("content-type", "text/html")
            .body(Bytes::from(format!("<p>{reason}</p>")))
            .unwrap()
    });
    let app = app_with(csrf, key(), Vec::new());
    let res = app
        .oneshot(post_req("/api", &[("sec-fetch-site", "cross-site")], ""))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(res.headers()["content-type"], "text/html");
    assert_eq!(
        res.extensions().get::<CsrfRefusal>(),
        Some(&CsrfRefusal::CrossSite)
    );
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(
        &body[..],
        b"<p>cross-site request refused (Sec-Fetch-Site)</p>"
    );
}

#[tokio::test]
async fn csrf_10_the_form_extractor_names_the_missing_layer() {
    let sessions = SessionLayer::builder(key()).build().unwrap();
    let app = Router::new()
        .route(
            "/rename",
            post(|CsrfForm(form): CsrfForm<Rename>| async move { form.name }),
        )
        .layer(sessions);
    let res = app
        .oneshot(post_req("/rename", &[FORM, SAME_ORIGIN], "name=ada"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("missing CsrfLayer"));
}

#[tokio::test]
async fn csrf_10_a_cleared_post_without_a_body_reads_as_an_empty_form() {
    let app = app(TokenPolicy::WhenNoHeaders);
    let res = app
        .clone()
        .oneshot(post_req("/button", &[SAME_ORIGIN], ""))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .clone()
        .oneshot(post_req("/rename", &[SAME_ORIGIN], ""))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Without headers, an empty body with no token is refused, not read as a form.
    let res = app.oneshot(post_req("/button", &[], "")).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn csrf_10_a_token_without_a_session_layer_is_a_500_that_names_it() {
    let csrf = CsrfLayer::builder()
        .tokens(TokenPolicy::Always)
        .build()
        .unwrap();
    let app = Router::new()
        .route("/api", post(|| async { "done" }))
        .layer(csrf);
    let res = app
        .oneshot(post_req("/api", &[SAME_ORIGIN, ("x-csrf-token", "t")], ""))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("missing SessionLayer"));
}
