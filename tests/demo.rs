//! The demo's own behaviour over its Router: what its login form accepts, how it bounds password
//! hashing, and the pages it answers with.

mod common;
#[path = "../examples/demo/app.rs"]
mod demo;
#[path = "../examples/demo/users.rs"]
mod users;

use std::time::Duration;

use axum::body::Body;
use axum::Router;
use common::{key, send, Browser, Expect};
use http::{Request, StatusCode};
use users::PasswordHashing;

fn demo_app() -> Router {
    demo::app(key())
}

fn demo_browser() -> Browser {
    Browser::plain_http()
}

/// PBKDF2 pads a short key with zeros, so `hello\0` hashes like `hello`: the form refuses control
/// characters, as the crate's Basic parser does.
#[tokio::test]
async fn the_login_form_refuses_control_characters() {
    let app = demo_app();
    let mut b = demo_browser();
    // The form first, as a browser does (its CSRF token starts the session).
    b.get(&app, "/login").await;
    for form in [
        "username=susan&password=hello%00",
        "username=susan&password=hello%00%00",
        "username=susan%00&password=hello",
        "username=susan&password=hel%0Alo",
        "username=susan&password=hello%7F",
    ] {
        let res = b.post_form(&app, "/login", form).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{form}");
        assert!(res.body.contains("Invalid username or password."), "{form}");
        assert!(res.set_cookies.is_empty(), "{form}");
    }
    assert_eq!(b.get(&app, "/").await.status, StatusCode::FOUND);
    let res = b
        .post_form(&app, "/login", "username=susan&password=hello")
        .await;
    assert_eq!(
        res.status,
        StatusCode::SEE_OTHER,
        "the real password still works"
    );
}

/// Answers within a second, or fails: a request that would wait for a hashing permit fails here.
async fn at_once<T>(response: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(1), response)
        .await
        .expect("answered at once, not queued")
}

#[tokio::test]
async fn a_login_is_503_at_once_while_every_hashing_permit_is_taken() {
    let hashing = PasswordHashing::new(1);
    let app = demo::app_with_hashing(key(), hashing.clone());
    let mut b = demo_browser();

    let held = hashing.try_permit().expect("a free permit");
    let res = at_once(b.post_form(&app, "/login", "username=susan&password=hello")).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers["retry-after"], "1");
    assert!(res.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(res.set_cookies.is_empty());
    assert_eq!(hashing.hashes_started(), 0, "no hash ran");

    drop(held);
    let res = b
        .post_form(&app, "/login", "username=susan&password=hello")
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(hashing.hashes_started(), 1);
    assert!(hashing.try_permit().is_some(), "the permit came back");
}

fn basic_me(credentials: Option<&str>) -> Request<Body> {
    let mut req = Request::get("/api/me");
    if let Some(c) = credentials {
        req = req.header("authorization", c);
    }
    req.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn basic_is_503_at_once_while_every_hashing_permit_is_taken() {
    let hashing = PasswordHashing::new(1);
    let app = demo::app_with_hashing(key(), hashing.clone());
    let expect = Expect::default();
    // susan:hello
    let susan = Some("Basic c3VzYW46aGVsbG8=");

    let held = hashing.try_permit().expect("a free permit");
    let res = at_once(send(&app, basic_me(susan), &expect)).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers["retry-after"], "1");
    assert_eq!(hashing.hashes_started(), 0, "no hash ran");
    // Nothing to hash: the gate answers as usual.
    let res = at_once(send(&app, basic_me(None), &expect)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);

    drop(held);
    let res = send(&app, basic_me(susan), &expect).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body, r#"{"id":"user001","username":"susan"}"#);
    // susan:wrong
    let res = send(&app, basic_me(Some("Basic c3VzYW46d3Jvbmc=")), &expect).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(hashing.hashes_started(), 2);
    assert!(hashing.try_permit().is_some(), "the permit came back");
}

const VIEWPORT: &str = r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#;

fn is_html_page(res: &common::TestResponse) -> bool {
    res.headers
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"))
        && res.body.starts_with("<!doctype html>")
        && res.body.contains(VIEWPORT)
}

#[tokio::test]
async fn every_page_fits_a_phone_screen() {
    let app = demo_app();
    let mut b = demo_browser();
    let res = b.get(&app, "/login").await;
    assert!(is_html_page(&res), "login: {}", res.body);
    let res = b
        .post_form(&app, "/login", "username=susan&password=wrong")
        .await;
    assert!(is_html_page(&res), "wrong password: {}", res.body);
    b.post_form(&app, "/login", "username=susan&password=hello")
        .await;
    for path in ["/", "/fresh"] {
        let res = b.get(&app, path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert!(is_html_page(&res), "{path}: {}", res.body);
    }
}

#[tokio::test]
async fn a_wrong_password_keeps_the_username_escaped() {
    let app = demo_app();
    let mut b = demo_browser();
    let res = b
        .post_form(&app, "/login", "username=susan&password=wrong")
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res.body.contains(r#"value="susan""#), "{}", res.body);

    // `<b>"x'&` as typed, kept as text in the attribute.
    let res = b
        .post_form(&app, "/login", "username=%3Cb%3E%22x%27%26&password=wrong")
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(
        res.body.contains(r#"value="&lt;b&gt;&quot;x&#39;&amp;""#),
        "{}",
        res.body
    );
    assert!(!res.body.contains("<b>"), "{}", res.body);

    // A fresh form is empty.
    let res = b.get(&app, "/login").await;
    assert!(
        !res.body.contains("name=\"username\" value="),
        "{}",
        res.body
    );
}

const FRESH_NOTICE: &str = "needs your password";

#[tokio::test]
async fn a_remembered_login_sent_to_fresh_is_told_why() {
    let app = demo_app();
    let mut b = demo_browser();
    b.post_form(&app, "/login", "username=david&password=bye&remember_me=on")
        .await;
    // The browser closes: the remembered login comes back without the session.
    b.jar.remove("session");
    assert_eq!(b.get(&app, "/").await.status, StatusCode::OK);

    let res = b.get(&app, "/fresh").await;
    assert_eq!(res.status, StatusCode::FOUND);
    let location = res.location().unwrap().to_owned();
    assert_eq!(location, "/login?next=%2Ffresh&reason=fresh");
    let res = b.get(&app, &location).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains(FRESH_NOTICE), "{}", res.body);
    // The form still goes back to /fresh.
    assert!(res.body.contains(r#"action="/login?next=%2Ffresh""#));
    let res = b
        .post_form(&app, "/login?next=%2Ffresh", "username=david&password=bye")
        .await;
    assert_eq!(res.location(), Some("/fresh"));
    assert_eq!(b.get(&app, "/fresh").await.status, StatusCode::OK);

    // Nobody logged in: the usual redirect, and no notice.
    let mut anonymous = demo_browser();
    let res = anonymous.get(&app, "/fresh").await;
    assert_eq!(res.location(), Some("/login?next=%2Ffresh"));
    let res = anonymous.get(&app, "/login?next=%2Ffresh").await;
    assert!(!res.body.contains(FRESH_NOTICE), "{}", res.body);
}

#[tokio::test]
async fn errors_get_small_pages() {
    let app = demo_app();
    let mut b = demo_browser();

    let res = b.get(&app, "/no/such/page").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(is_html_page(&res), "404: {}", res.body);
    assert!(res.body.contains("Not found"), "{}", res.body);

    for (method, path, allow) in [
        ("POST", "/counter", "GET,HEAD"),
        ("DELETE", "/login", "GET,HEAD,POST"),
        ("GET", "/logout", "POST"),
    ] {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("accept", "text/html")
            .header("sec-fetch-site", "same-origin")
            .body(Body::empty())
            .unwrap();
        let res = b.send(&app, req).await;
        assert_eq!(
            res.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert!(is_html_page(&res), "405: {}", res.body);
        assert_eq!(res.headers["allow"], allow, "{method} {path}");
        assert!(res.body.contains(method), "{}", res.body);
    }

    let req = Request::post("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "cross-site")
        .body(Body::from("username=susan&password=hello"))
        .unwrap();
    let res = b.send(&app, req).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(is_html_page(&res), "403: {}", res.body);

    // 401s keep their challenges; a browser shows the page when the Basic prompt is dismissed.
    let res = b.get(&app, "/api/me").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(is_html_page(&res), "401: {}", res.body);
    assert!(res.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic realm="));
    let res = send(
        &app,
        Request::get("/api/token/me")
            .header("authorization", "Bearer nope")
            .header("accept", "text/html")
            .body(Body::empty())
            .unwrap(),
        &Expect::default(),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(is_html_page(&res), "401: {}", res.body);
    assert!(res.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    let res = send(
        &app,
        Request::get("/")
            .header("accept", "application/json")
            .body(Body::empty())
            .unwrap(),
        &Expect::default(),
    )
    .await;
    // An API client keeps the crate's short plain-text answer, not a page.
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(!is_html_page(&res), "401: {}", res.body);
    assert_eq!(res.headers["content-type"], "text/plain; charset=utf-8");
}
