//! The demo's own behaviour over its Router: what its login form accepts, how it bounds password
//! hashing, and the pages it answers with.

mod common;
#[path = "../examples/demo/app.rs"]
mod demo;
#[path = "../examples/demo/users.rs"]
mod users;

use axum::Router;
use common::{key, Browser, Expect};
use http::StatusCode;

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
