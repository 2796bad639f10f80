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
    Browser {
        expect: Expect {
            secure: false,
            ..Expect::default()
        },
        ..Browser::new()
    }
}

/// PBKDF2 pads a short key with zeros, so `hello\0` hashes like `hello`: the form refuses control
/// characters, as the crate's Basic parser does.
#[tokio::test]
async fn the_login_form_refuses_control_characters() {
    let app = demo_app();
    let mut b = demo_browser();
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
