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
//! - `tower_sessions_read`: tower-sessions with its `MemoryStore`, the handler reads one key;
//! - `axum_login_auth`: axum-login (its `MemoryStore`) with its `login_required!` gate, the
//!   handler reads the user.
//!
//! With `--sessions N --cookie-dir DIR`, four more stacks hold N distinct sessions each, as a site
//! with many active users does, and write their `Cookie` headers, one a line, to
//! `DIR/<name>.cookies`: `ours_read_many`, `ours_auth_many` (N users, each logged in once),
//! `tower_sessions_read_many` and `axum_login_auth_many` (N users); and `none_many`, no middleware
//! with the same rotation of cookies, their baseline.
//!
//! For each stack it prints `STACK <name> <port> <cookie>` (the `Cookie` header of an existing
//! session, made by the stack itself, or `@<file>` of many), then `READY`, and exits by itself
//! after `--seconds` (default 120).

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
    many_users(1)
}

/// Users 1 to `n`, each with a password hash of their own.
fn many_users(n: u64) -> Arc<HashMap<u64, User>> {
    let user = |id: u64| User {
        id,
        name: if id == 1 {
            "alice".into()
        } else {
            format!("user{id}")
        },
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ${id:022}").into_bytes(),
    };
    Arc::new((1..=n).map(|id| (id, user(id))).collect())
}

/// The next user to log in, in turn, among `n`.
fn next_user(n: u64) -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed) % n + 1
}

impl axum_login::AuthUser for User {
    type Id = u64;
    fn id(&self) -> u64 {
        self.id
    }
    fn session_auth_hash(&self) -> &[u8] {
        &self.password_hash
    }
}

/// axum-login's user store: the same users.
#[derive(Clone)]
struct Backend(Arc<HashMap<u64, User>>);

impl axum_login::AuthnBackend for Backend {
    type User = User;
    type Credentials = ();
    type Error = std::convert::Infallible;

    async fn authenticate(&self, (): ()) -> Result<Option<User>, Self::Error> {
        Ok(None)
    }

    async fn get_user(&self, id: &u64) -> Result<Option<User>, Self::Error> {
        Ok(self.0.get(id).cloned())
    }
}

type AuthSession = axum_login::AuthSession<Backend>;

async fn axum_login_auth(auth: AuthSession) -> String {
    let name = auth.user.map(|u| u.name).unwrap_or_default();
    format!("hello {name}")
}

async fn axum_login_setup(mut auth: AuthSession) -> &'static str {
    let n = auth.backend.0.len() as u64;
    let user = auth.backend.0[&next_user(n)].clone();
    for (k, v) in contents() {
        auth.session.insert(&k, v).await.expect("stored");
    }
    auth.login(&user).await.expect("logged in");
    "logged in"
}

async fn ours_fill_unique(session: SessionDict) -> &'static str {
    static N: AtomicU64 = AtomicU64::new(0);
    for (k, v) in contents() {
        session.insert(&k, v).expect("fits");
    }
    session
        .insert("n", N.fetch_add(1, Ordering::Relaxed))
        .expect("fits");
    "filled"
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

/// `n` distinct `Cookie` headers from `n` requests to `/setup`.
async fn setup_cookies(app: &Router, name: &str, n: usize) -> Vec<String> {
    let mut cookies = Vec::with_capacity(n);
    for _ in 0..n {
        cookies.push(setup_cookie(app, name).await);
    }
    let distinct: std::collections::HashSet<&String> = cookies.iter().collect();
    assert_eq!(distinct.len(), n, "distinct sessions");
    cookies
}

/// The stacks with `n` distinct sessions each.
async fn many_stacks(n: usize) -> Vec<(&'static str, Router, Vec<String>)> {
    let users = many_users(n as u64);
    let sessions = SessionLayer::builder(Key::generate())
        .secure(false)
        .build()
        .expect("valid configuration");
    let store = Arc::clone(&users);
    let gate = AuthLayer::builder()
        .user_loader(move |id: u64| {
            let store = Arc::clone(&store);
            async move { store.get(&id).cloned() }
        })
        .build()
        .expect("valid configuration");
    let mut out = Vec::new();

    let app = Router::new()
        .route("/", get(ours_read))
        .route("/setup", get(ours_fill_unique))
        .layer(sessions);
    let cookies = setup_cookies(&app, "session", n).await;
    // The bare server with the same rotating cookies: wrk's script that rotates them costs the
    // shared cores more than a fixed header, so the `_many` stacks are compared with this.
    let bare = Router::new().route("/", get(none));
    out.push(("none_many", bare, cookies.clone()));
    out.push(("ours_read_many", app, cookies));

    // A layer of its own, as each peer's stack has a store of its own: sharing the read stack's
    // would make its verified-cookie cache start the run full of that stack's 10,000 sessions,
    // which their uses in the read run keep against these for most of it (a site of 20,000).
    let sessions = SessionLayer::builder(Key::generate())
        .secure(false)
        .build()
        .expect("valid configuration");
    let store = Arc::clone(&users);
    let login = move |session: SessionDict| {
        let store = Arc::clone(&store);
        async move {
            for (k, v) in contents() {
                session.insert(&k, v).expect("fits");
            }
            let user = &store[&next_user(store.len() as u64)];
            login_user(&session, user, false).expect("fits");
            "logged in"
        }
    };
    let app = Router::new()
        .route("/", get(ours_auth))
        .route_layer(gate)
        .route("/setup", get(login))
        .layer(sessions);
    let cookies = setup_cookies(&app, "session", n).await;
    out.push(("ours_auth_many", app, cookies));

    let ts = tower_sessions::SessionManagerLayer::new(tower_sessions::MemoryStore::default())
        .with_secure(false);
    let app = Router::new()
        .route("/", get(ts_read))
        .route("/setup", get(ts_fill))
        .layer(ts);
    let cookies = setup_cookies(&app, "id", n).await;
    out.push(("tower_sessions_read_many", app, cookies));

    let (app, _) = axum_login_stack(Arc::clone(&users));
    let cookies = setup_cookies(&app, "id", n).await;
    out.push(("axum_login_auth_many", app, cookies));
    out
}

/// axum-login over tower-sessions 0.14's `MemoryStore`, `/` behind its `login_required!` gate.
fn axum_login_stack(users: Arc<HashMap<u64, User>>) -> (Router, ()) {
    use axum_login::tower_sessions::{MemoryStore, SessionManagerLayer};
    let sessions = SessionManagerLayer::new(MemoryStore::default()).with_secure(false);
    let auth = axum_login::AuthManagerLayerBuilder::new(Backend(users), sessions).build();
    let app = Router::new()
        .route("/", get(axum_login_auth))
        .route_layer(axum_login::login_required!(Backend, login_url = "/login"))
        .route("/setup", get(axum_login_setup))
        .layer(auth);
    (app, ())
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

    let (app, ()) = axum_login_stack(users());
    let cookie = setup_cookie(&app, "id").await;
    out.push(("axum_login_auth", app, cookie));

    out
}

async fn serve(seconds: u64, sessions: usize, cookie_dir: Option<String>) {
    let mut all: Vec<(&'static str, Router, String)> = stacks().await;
    if sessions > 0 {
        let dir = cookie_dir.expect("--sessions needs --cookie-dir");
        for (name, app, cookies) in many_stacks(sessions).await {
            check(&app, &cookies[0]).await;
            check(&app, &cookies[cookies.len() - 1]).await;
            let file = format!("{dir}/{name}.cookies");
            std::fs::write(&file, cookies.join("\n") + "\n").expect("cookie file written");
            all.push((name, app, format!("@{file}")));
        }
    }
    let mut servers = Vec::new();
    for (name, app, cookie) in all {
        if !cookie.starts_with('@') {
            check(&app, &cookie).await;
        }
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
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let number = |flag: &str, default: u64| {
        value(flag).map_or(default, |s| s.parse().expect("a whole number"))
    };
    let seconds = number("--seconds", 120);
    let sessions = number("--sessions", 0) as usize;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(serve(seconds, sessions, value("--cookie-dir")));
}
