//! Secrets stay out of logs and `Debug` output (SECURITY.md LOG-01, LOG-02, KEY-05): the demo is
//! driven through a login, a remember-me restore, a logout, forged cookies and Basic credentials,
//! and nothing secret shows in what the crate logged or printed.

mod common;
#[path = "../examples/demo/app.rs"]
mod demo;
#[path = "common/logs.rs"]
mod logs;
#[path = "../examples/demo/users.rs"]
mod users;

use common::{key, pyjwt, send, Browser, Expect, SECRET};

#[tokio::test]
async fn log_01_02_events_name_what_happened_never_the_values() {
    let (captured, _guard) = logs::capture_logs();

    let app = demo::app(key());
    let mut b = Browser {
        expect: Expect {
            secure: false,
            ..Expect::default()
        },
        ..Browser::new()
    };
    b.post_form(
        &app,
        "/login",
        "username=susan&password=hello&remember_me=on",
    )
    .await;
    let jar_values = |b: &Browser| {
        ["session", "_remember"]
            .iter()
            .filter_map(|n| b.jar.get(n).map(str::to_owned))
            .collect::<Vec<_>>()
    };
    let mut cookies: Vec<String> = jar_values(&b);
    b.jar.remove("session");
    b.get(&app, "/").await; // restored from remember-me
    cookies.extend(jar_values(&b));
    b.post_form(&app, "/logout", "").await;
    let wrong_key = common::sign(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"a":1}"#,
        b"another secret, thirty-two bytes long",
    );
    let tampered = format!("session={wrong_key}; _remember=garbage");
    let req = http::Request::get("/")
        .header("cookie", &tampered)
        .header("accept", "text/html");
    send(
        &app,
        req.body(axum::body::Body::empty()).unwrap(),
        &Expect {
            secure: false,
            ..Expect::default()
        },
    )
    .await;
    let basic = http::Request::get("/api/me").header("authorization", "Basic c3VzYW46aGVsbG8=");
    send(
        &app,
        basic.body(axum::body::Body::empty()).unwrap(),
        &Expect::default(),
    )
    .await;

    let logs = captured.text();
    for event in [
        "user logged in",
        "login restored from a remember-me cookie",
        "user logged out",
        "session cookie rejected reason=\"bad_signature\"",
        "remember-me cookie rejected reason=\"malformed\"",
    ] {
        assert!(
            logs.contains(event),
            "LOG-02: no `{event}` event in:\n{logs}"
        );
    }
    let secret = std::str::from_utf8(SECRET).unwrap();
    let header = pyjwt("{}");
    let mut forbidden: Vec<&str> = cookies.iter().map(String::as_str).collect();
    forbidden.push(wrong_key.split('.').nth(2).unwrap());
    forbidden.extend([
        secret,
        "c3VzYW46aGVsbG8=",
        "hello",
        header.split('.').next().unwrap(),
    ]);
    for value in forbidden {
        // Cookie values are long; any 20-character piece of one would be a leak.
        let piece = &value[..value.len().min(20)];
        assert!(
            !logs.contains(piece),
            "LOG-01: `{piece}` appears in the logs:\n{logs}"
        );
    }
}

#[test]
fn key_05_debug_output_holds_no_secret() {
    let layer = tower_session_auth::SessionLayer::new(key());
    let gate = tower_session_auth::AuthLayer::builder()
        .user_loader(|id: String| async move { users::by_id(&id) })
        .build()
        .unwrap();
    let shown = format!("{layer:?} {gate:?} {:?}", key());
    assert!(
        !shown.contains(std::str::from_utf8(&SECRET[..12]).unwrap()),
        "{shown}"
    );
    let err = tower_session_auth::Key::from_bytes(b"short secret").unwrap_err();
    assert!(!err.to_string().contains("short secret"));
}

#[tokio::test]
async fn a_loader_error_is_logged_by_its_type_never_its_message() {
    use axum::routing::get;
    use tower_session_auth::{login_user, AuthLayer, SessionDict, SessionLayer};

    let (captured, _guard) = logs::capture_logs();

    let gate = AuthLayer::builder()
        .user_loader(|_id: String| async move {
            Err::<Option<users::User>, _>(std::io::Error::other(
                "postgres://admin:hunter2@db: timed out",
            ))
        })
        .build()
        .unwrap();
    let app = axum::Router::new()
        .route("/", get(|| async { "x" }))
        .route_layer(gate)
        .route(
            "/login",
            get(|s: SessionDict| async move {
                login_user(&s, &users::by_id("user001").unwrap(), false).unwrap()
            }),
        )
        .layer(SessionLayer::new(key()));
    let mut b = Browser::new();
    b.get(&app, "/login").await;
    let res = b.get(&app, "/").await;
    assert_eq!(res.status, http::StatusCode::SERVICE_UNAVAILABLE);
    assert!(!res.body.contains("hunter2"), "{}", res.body);

    let logs = captured.text();
    assert!(
        logs.contains("WARN") && logs.contains("error_type=\"std::io::error::Error\""),
        "{logs}"
    );
    assert!(
        !logs.contains("hunter2") && !logs.contains("postgres"),
        "{logs}"
    );
}
