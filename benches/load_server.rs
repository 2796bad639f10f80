//! The server `scripts/bench_load.sh` drives with wrk. Not a benchmark by itself: run
//! without `--serve` (as `cargo bench` does) it prints how to use it and exits.
//!
//! `load_server --serve [--seconds N]` listens on 127.0.0.1 (loopback only), one free port per
//! stack, all serving the same axum handler shape on `/`:
//!
//! - `none`: no middleware, the handler answers `hello`;
//! - `ours_read`: `SessionLayer`, the handler reads one key;
//! - `ours_write`: `SessionLayer`, the handler writes one key (a `Set-Cookie` per response);
//! - `ours_auth`: `SessionLayer` + `AuthLayer` with a user loader, the handler reads the user;
//! - `tower_sessions_read`: tower-sessions with its `MemoryStore`, the handler reads one key.
//!
//! For each stack it prints `STACK <name> <port> <cookie>` (the `Cookie` header of an existing
//! session, made by the stack itself), then `READY`, and exits by itself after `--seconds`
//! (default 120).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderValue, Request, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{Map, Value};
use tower::ServiceExt;
use tower_session_auth::{
    login_user, AuthLayer, AuthUser, CurrentUser, Key, SessionDict, SessionLayer,
};

/// The session contents of `benches/compare.rs`.
const CONTENTS: &str = r#"{"user":"alice","n":42,"theme":"dark","cart":[1,2,3],"lang":"en-GB","last_page":"/orders/1234"}"#;

#[derive(Clone, Debug)]
struct User {
    id: u64,
    name: String,
    password_hash: Vec<u8>,
}

impl AuthUser for User {
    type Id = u64;
    fn id(&self) -> u64 {
        self.id
    }
    fn session_auth_hash(&self) -> Option<&[u8]> {
        Some(&self.password_hash)
    }
}

fn users() -> Arc<HashMap<u64, User>> {
    let alice = User {
        id: 1,
        name: "alice".into(),
        password_hash: b"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_vec(),
    };
    Arc::new(HashMap::from([(1, alice)]))
}

fn contents() -> Map<String, Value> {
    serde_json::from_str(CONTENTS).expect("valid JSON")
}

async fn none() -> &'static str {
    "hello"
}

async fn ours_read(session: SessionDict) -> String {
    let user = session.get::<String>("user").ok().flatten();
    format!("hello {}", user.as_deref().unwrap_or("nobody"))
}

async fn ours_write(session: SessionDict) -> &'static str {
    static VISITS: AtomicU64 = AtomicU64::new(0);
    let _ = session.insert("visits", VISITS.fetch_add(1, Ordering::Relaxed));
    "hello"
}

async fn ours_auth(CurrentUser(user): CurrentUser<User>) -> String {
    format!("hello {}", user.name)
}

async fn ours_fill(session: SessionDict) -> &'static str {
    for (k, v) in contents() {
        session.insert(&k, v).expect("fits");
    }
    "filled"
}

async fn ours_login(session: SessionDict) -> &'static str {
    for (k, v) in contents() {
        session.insert(&k, v).expect("fits");
    }
    login_user(&session, &users()[&1], false).expect("fits");
    "logged in"
}

async fn ts_read(session: tower_sessions::Session) -> String {
    let user: Option<String> = session.get("user").await.ok().flatten();
    format!("hello {}", user.as_deref().unwrap_or("nobody"))
}

async fn ts_fill(session: tower_sessions::Session) -> &'static str {
    for (k, v) in contents() {
        session.insert(&k, v).await.expect("stored");
    }
    "filled"
}

/// `name=value` of the `Set-Cookie` that `app` answers `GET /setup` with.
async fn setup_cookie(app: &Router, name: &str) -> String {
    let res: Response<Body> = app
        .clone()
        .oneshot(Request::get("/setup").body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let prefix = format!("{name}=");
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&prefix))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie from /setup"))
        .to_owned()
}

/// Checks that `/` answers 200 with the cookie, before any load.
async fn check(app: &Router, cookie: &str) {
    let mut req = Request::get("/").body(Body::empty()).expect("request");
    if !cookie.is_empty() {
        req.headers_mut()
            .insert(COOKIE, HeaderValue::from_str(cookie).expect("header"));
    }
    let res = app.clone().oneshot(req).await.expect("infallible");
    assert!(res.status().is_success(), "status {}", res.status());
}

async fn stacks() -> Vec<(&'static str, Router, String)> {
    // `Secure` off: wrk speaks plain http (it ignores Set-Cookie anyway).
    let sessions = SessionLayer::builder(Key::generate())
        .secure(false)
        .build()
        .expect("valid configuration");
    let store = users();
    let gate = AuthLayer::builder()
        .user_loader(move |id: u64| {
            let store = Arc::clone(&store);
            async move { store.get(&id).cloned() }
        })
        .build()
        .expect("valid configuration");

    let mut out = Vec::new();
    out.push(("none", Router::new().route("/", get(none)), String::new()));

    let app = Router::new()
        .route("/", get(ours_read))
        .route("/setup", get(ours_fill))
        .layer(sessions.clone());
    let cookie = setup_cookie(&app, "session").await;
    out.push(("ours_read", app, cookie));

    let app = Router::new()
        .route("/", get(ours_write))
        .route("/setup", get(ours_fill))
        .layer(sessions.clone());
    let cookie = setup_cookie(&app, "session").await;
    out.push(("ours_write", app, cookie));

    let app = Router::new()
        .route("/", get(ours_auth))
        .route_layer(gate)
        .route("/setup", get(ours_login))
        .layer(sessions);
    let cookie = setup_cookie(&app, "session").await;
    out.push(("ours_auth", app, cookie));

    let ts = tower_sessions::SessionManagerLayer::new(tower_sessions::MemoryStore::default())
        .with_secure(false);
    let app = Router::new()
        .route("/", get(ts_read))
        .route("/setup", get(ts_fill))
        .layer(ts);
    let cookie = setup_cookie(&app, "id").await;
    out.push(("tower_sessions_read", app, cookie));

    out
}

async fn serve(seconds: u64) {
    let mut servers = Vec::new();
    for (name, app, cookie) in stacks().await {
        check(&app, &cookie).await;
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind on loopback");
        let port = listener.local_addr().expect("bound").port();
        let cookie = if cookie.is_empty() { "-" } else { &cookie };
        println!("STACK {name} {port} {cookie}");
        servers.push(tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        }));
    }
    println!("READY");
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    eprintln!("load_server: {seconds} s are up, exiting");
    for server in servers {
        server.abort();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--serve") {
        println!(
            "load_server: run by scripts/bench_load.sh (`--serve [--seconds N]`); nothing to do"
        );
        return;
    }
    let seconds = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.parse().expect("--seconds takes a whole number"))
        .unwrap_or(120);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(serve(seconds));
}
