//! The demo's admin pages and flash messages, over its Router with the crate's `TestClient`.

mod common;
#[path = "../examples/demo/app.rs"]
mod demo;
#[path = "../examples/demo/users.rs"]
mod users;

use axum::body::Body;
use axum::Router;
use common::{audited, key, Expect};
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Request, StatusCode};
use tower_session_auth::{CookieJar, TestClient, TestResponse};

fn browser() -> TestClient<Router> {
    let plain = Expect {
        secure: false,
        ..Expect::default()
    };
    TestClient::new(audited(demo::app(key()), plain)).with_jar(CookieJar::plain_http())
}

async fn log_in(b: &mut TestClient<Router>, form: &str) {
    let res = b.post_form("/login", form).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{form}");
}

async fn api_admin(token: Option<&str>) -> TestResponse {
    let mut req = Request::get("/api/admin");
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    browser().send(req.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn admin_is_for_susan_only() {
    let mut anonymous = browser();
    let res = anonymous.get("/admin").await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.location(), Some("/login?next=%2Fadmin"));

    let mut david = browser();
    log_in(&mut david, "username=david&password=bye").await;
    let res = david.get("/admin").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.headers[CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(res.text().contains("<h1>Forbidden</h1>"), "{}", res.text());
    // Refused, not logged out.
    assert_eq!(david.get("/").await.status, StatusCode::OK);

    let mut susan = browser();
    log_in(&mut susan, "username=susan&password=hello").await;
    let res = susan.get("/admin").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text().contains("Hello, susan: you are an admin."));
}

#[tokio::test]
async fn api_admin_answers_json_by_token() {
    let res = api_admin(Some("susan-api-token")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.headers[CONTENT_TYPE], "application/json");
    let json: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(
        json,
        serde_json::json!({ "admin": true, "username": "susan" })
    );

    let res = api_admin(Some("david-api-token")).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.headers[CONTENT_TYPE], "application/json");
    let json: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(json["error"], "forbidden");

    for token in [None, Some("not-a-token")] {
        let res = api_admin(token).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(res.headers[CONTENT_TYPE], "application/json");
        assert!(res.headers[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer realm="));
    }
    // A browser's session is not a token: this route takes tokens only.
    let mut susan = browser();
    log_in(&mut susan, "username=susan&password=hello").await;
    let req = Request::get("/api/admin").body(Body::empty()).unwrap();
    assert_eq!(susan.send(req).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn welcome_back_once_after_login_and_logged_out_once_after_logout() {
    let mut b = browser();
    let res = b.get("/admin").await;
    let login = res.location().unwrap().to_owned();
    let res = b.get(&login).await;
    assert!(!res.text().contains("flash"), "no message before the login");

    let res = b.post_form(&login, "username=susan&password=hello").await;
    assert_eq!(res.location(), Some("/admin"));
    let res = b.get("/admin").await;
    assert!(res.text().contains("Welcome back, susan"), "{}", res.text());
    assert!(
        !b.get("/admin").await.text().contains("Welcome back"),
        "once"
    );
    assert!(!b.get("/").await.text().contains("Welcome back"));

    let res = b.post_form("/logout", "").await;
    assert_eq!(res.location(), Some("/"));
    let res = b.get("/").await;
    let login = res.location().unwrap().to_owned();
    let res = b.get(&login).await;
    assert!(
        res.text().contains("You have been logged out"),
        "{}",
        res.text()
    );
    let res = b.get(&login).await;
    assert!(
        !res.text().contains("You have been logged out"),
        "a reload shows nothing"
    );
}

#[tokio::test]
async fn the_welcome_is_on_whatever_page_comes_next() {
    let mut b = browser();
    log_in(&mut b, "username=david&password=bye").await;
    let res = b.get("/").await;
    assert!(res.text().contains("Welcome back, david"), "{}", res.text());
    assert!(!b.get("/").await.text().contains("Welcome back"));
}

/// Sends one raw HTTP/1.1 request to `addr` and returns the status code and the body.
async fn raw_http(addr: std::net::SocketAddr, path: &str, headers: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The same answers over a real socket, from the demo served by axum on loopback.
#[tokio::test]
async fn over_a_socket() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, demo::app(key())).await });
    let (status, body) = raw_http(
        addr,
        "/api/admin",
        "Authorization: Bearer susan-api-token\r\n",
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.contains(r#"{"admin":true,"username":"susan"}"#),
        "{body}"
    );
    let (status, body) = raw_http(
        addr,
        "/api/admin",
        "Authorization: Bearer david-api-token\r\n",
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.contains(r#"{"error":"forbidden"}"#), "{body}");
    assert_eq!(raw_http(addr, "/api/admin", "").await.0, 401);
    assert_eq!(
        raw_http(addr, "/admin", "Accept: text/html\r\n").await.0,
        302
    );
    server.abort();
}
