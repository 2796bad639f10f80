//! The demo's CSRF protection over its Router: every form carries a `csrf_token`, cross-site and
//! foreign-origin posts are refused, same-origin ones work as before, and a post with neither
//! `Sec-Fetch-Site` nor `Origin` needs the token of a form rendered for the same cookies.

mod common;
#[path = "../examples/demo/app.rs"]
mod demo;
#[path = "../examples/demo/users.rs"]
mod users;

use axum::body::Body;
use axum::Router;
use common::{key, Browser, TestResponse};
use http::{Request, StatusCode};

const HOST: &str = "127.0.0.1:3000";
const LOGIN: &str = "username=susan&password=hello";

fn demo_app() -> Router {
    demo::app(key())
}

/// A form `POST` to the demo with exactly these headers (and `Host`).
fn post(path: &str, headers: &[(&str, &str)], form: &str) -> Request<Body> {
    let mut req = Request::post(path)
        .header("host", HOST)
        .header("accept", "text/html")
        .header("content-type", "application/x-www-form-urlencoded");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.body(Body::from(form.to_owned())).unwrap()
}

/// The value of the page's hidden `csrf_token` field.
fn token_in(page: &TestResponse) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = page.body.find(marker).expect("a csrf_token field") + marker.len();
    let len = page.body[start..].find('"').unwrap();
    page.body[start..start + len].to_owned()
}

fn logged_in(res: &TestResponse) -> bool {
    res.status == StatusCode::SEE_OTHER && res.location() == Some("/")
}

#[tokio::test]
async fn csrf_11_every_form_of_the_demo_carries_a_token() {
    let app = demo_app();
    let mut b = Browser::plain_http();
    let form = b.get(&app, "/login").await;
    assert!(form
        .body
        .contains("<input type=\"hidden\" name=\"csrf_token\" value=\""));
    let token = token_in(&form);
    assert_eq!(token.len(), 86);
    // Each render is masked anew.
    assert_ne!(token_in(&b.get(&app, "/login").await), token);
    let res = b.post_form(&app, "/login", LOGIN).await;
    assert!(logged_in(&res), "{res:?}");
    let home = b.get(&app, "/").await;
    assert!(home.body.contains("action=\"/logout\""));
    assert!(!token_in(&home).is_empty());
}

#[tokio::test]
async fn csrf_11_cross_site_and_foreign_origin_logins_are_refused() {
    let app = demo_app();
    for headers in [
        &[("sec-fetch-site", "cross-site")][..],
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://evil.example"),
        ],
        &[("origin", "http://evil.example")],
        &[("origin", "null")],
        &[("origin", "https://127.0.0.1:3000")],
    ] {
        let mut b = Browser::plain_http();
        let token = token_in(&b.get(&app, "/login").await);
        let form = format!("{LOGIN}&csrf_token={token}");
        let res = b.send(&app, post("/login", headers, &form)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(res.set_cookies.is_empty(), "{headers:?}: {res:?}");
        assert!(res.body.contains("Refused"), "{}", res.body);
        assert_eq!(
            b.get(&app, "/").await.status,
            StatusCode::FOUND,
            "not logged in"
        );
    }
}

#[tokio::test]
async fn csrf_11_same_origin_logins_work_as_before() {
    let app = demo_app();
    for headers in [
        &[("sec-fetch-site", "same-origin")][..],
        &[
            ("sec-fetch-site", "same-origin"),
            ("origin", "http://127.0.0.1:3000"),
        ],
        &[("origin", "http://127.0.0.1:3000")],
    ] {
        let mut b = Browser::plain_http();
        let res = b.send(&app, post("/login", headers, LOGIN)).await;
        assert!(logged_in(&res), "{headers:?}: {res:?}");
        assert_eq!(b.get(&app, "/").await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn csrf_11_without_headers_a_login_needs_the_token_of_its_own_form() {
    let app = demo_app();
    let mut b = Browser::plain_http();
    let mut other = Browser::plain_http();
    let token = token_in(&b.get(&app, "/login").await);
    let theirs = token_in(&other.get(&app, "/login").await);

    for form in [
        LOGIN.to_owned(),
        format!("{LOGIN}&csrf_token="),
        format!("{LOGIN}&csrf_token={theirs}"),
        format!("{LOGIN}&csrf_token={}", &token[..85]),
    ] {
        let res = b.send(&app, post("/login", &[], &form)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{form}");
        assert!(res.set_cookies.is_empty(), "{form}");
    }
    assert_eq!(b.get(&app, "/").await.status, StatusCode::FOUND);

    let res = b
        .send(
            &app,
            post("/login", &[], &format!("{LOGIN}&csrf_token={token}")),
        )
        .await;
    assert!(logged_in(&res), "{res:?}");
    assert_eq!(b.get(&app, "/").await.status, StatusCode::OK);
    // The login replaced the seed: the pre-login token no longer logs anyone in or out.
    let res = b
        .send(&app, post("/logout", &[], &format!("csrf_token={token}")))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(b.get(&app, "/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn csrf_11_a_forged_logout_leaves_the_session_alone() {
    let app = demo_app();
    let mut b = Browser::plain_http();
    assert!(logged_in(&b.post_form(&app, "/login", LOGIN).await));
    for headers in [
        &[("sec-fetch-site", "cross-site")][..],
        &[("origin", "http://localhost:3000")],
        &[],
    ] {
        let res = b.send(&app, post("/logout", headers, "")).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(res.set_cookies.is_empty(), "{headers:?}: {res:?}");
        assert_eq!(b.get(&app, "/").await.status, StatusCode::OK);
    }
    // The home page's own form logs out, with or without Fetch Metadata.
    let token = token_in(&b.get(&app, "/").await);
    let res = b
        .send(&app, post("/logout", &[], &format!("csrf_token={token}")))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get(&app, "/").await.status, StatusCode::FOUND);
}
