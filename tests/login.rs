//! Login flows through the whole stack (the demo's own router, and purpose-built ones), with a
//! browser-like cookie jar that audits every `Set-Cookie`.

mod common;
#[path = "../examples/demo/app.rs"]
mod demo;
#[path = "../examples/demo/users.rs"]
mod users;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use common::{audit, key, payload, pyjwt, send, sign, Browser, Expect, FakeClock, Member, SECRET};
use http::header::SET_COOKIE;
use http::{Request, StatusCode};
use tower_session_auth::{
    login_cookies, login_user, logout_user, AuthLayer, AuthUser, CookieJar, CurrentUser, Key,
    SessionDict, SessionLayer, TestClient, TestResponse,
};

fn demo_app() -> Router {
    demo::app(key())
}

fn demo_browser() -> Browser {
    Browser::plain_http()
}

/// The demo as a browser sees it: the crate's public `TestClient` (feature `test-util`) over the
/// demo's router, over plain http.
fn demo_client() -> TestClient<Router> {
    let plain = Expect {
        secure: false,
        ..Expect::default()
    };
    TestClient::new(common::audited(demo_app(), plain)).with_jar(CookieJar::plain_http())
}

/// The audited `Set-Cookie` of `name` in `res` (every one is checked against CK-01..08).
fn set_cookie(res: &TestResponse, name: &str) -> Option<cookie::Cookie<'static>> {
    let plain = Expect {
        secure: false,
        ..Expect::default()
    };
    audit(&res.headers, &plain)
        .into_iter()
        .find(|c| c.name() == name)
}

#[tokio::test]
async fn anonymous_login_protected_fresh_logout_flow() {
    let mut b = demo_client();

    let res = b.get("/").await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.location(), Some("/login?next=%2F"));

    let res = b.get("/login?next=%2F").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text().contains("name=\"remember_me\""));
    assert!(
        res.text().contains("action=\"/login?next=%2F\""),
        "{}",
        res.text()
    );

    for (user, password) in [("susan", "wrong"), ("nobody", "hello"), ("susan", "")] {
        let res = b
            .post_form(
                "/login?next=%2F",
                &format!("username={user}&password={password}"),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{user}");
        assert!(res.text().contains("Invalid username or password."));
        assert!(res.headers.get(SET_COOKIE).is_none());
    }
    assert_eq!(
        b.get("/").await.status,
        StatusCode::FOUND,
        "still logged out"
    );

    let res = b
        .post_form("/login?next=%2F", "username=susan&password=hello")
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), Some("/"));
    assert!(set_cookie(&res, "session").is_some());
    assert!(
        set_cookie(&res, "_remember").is_none(),
        "no remember-me unless asked"
    );

    let res = b.get("/").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text().contains("Hello, susan!"));
    let res = b.get("/fresh").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text().contains("Hello, susan!"));

    let res = b.post_form("/logout", "").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), Some("/"));
    let res = b.get("/").await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.location(), Some("/login?next=%2F"));
}

#[tokio::test]
async fn rem_01_02_03_04_remember_me_restores_a_non_fresh_login() {
    let mut b = demo_client();
    let res = b
        .post_form("/login", "username=david&password=bye&remember_me=on")
        .await;
    assert_eq!(res.location(), Some("/"));
    let remember = set_cookie(&res, "_remember").expect("REM-01: a remember-me cookie");
    assert_eq!(remember.max_age(), Some(cookie::time::Duration::days(30)));
    assert_eq!(res.headers[http::header::CACHE_CONTROL], "no-store");

    // The browser closes: the session cookie is gone, the persistent one stays.
    b.jar.remove("session");
    let res = b.get("/").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text().contains("Hello, david!"));
    assert!(
        set_cookie(&res, "session").is_some(),
        "the login is restored into the session"
    );
    assert!(
        set_cookie(&res, "_remember").is_some(),
        "the remember-me cookie is renewed"
    );

    // REM-03: not fresh.
    let res = b.get("/fresh").await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.location(), Some("/login?next=%2Ffresh&reason=fresh"));
    // Logging in again with the password makes it fresh.
    b.post_form("/login?next=%2Ffresh", "username=david&password=bye")
        .await;
    assert_eq!(b.get("/fresh").await.status, StatusCode::OK);

    // REM-04: logout deletes the remember-me cookie, with its scope (audited), for good.
    b.post_form("/login", "username=david&password=bye&remember_me=on")
        .await;
    assert!(b.jar.contains("_remember"));
    let res = b.post_form("/logout", "").await;
    assert_eq!(set_cookie(&res, "_remember").unwrap().value(), "");
    assert!(!b.jar.contains("_remember"));
    assert_eq!(b.get("/").await.status, StatusCode::FOUND);
    b.jar.remove("session");
    assert_eq!(
        b.get("/").await.status,
        StatusCode::FOUND,
        "stays logged out after a restart"
    );
}

#[tokio::test]
async fn login_without_remember_me_deletes_an_earlier_remember_cookie() {
    let mut b = demo_client();
    b.post_form("/login", "username=david&password=bye&remember_me=on")
        .await;
    let res = b.post_form("/login", "username=susan&password=hello").await;
    assert_eq!(
        set_cookie(&res, "_remember").map(|c| c.value().to_owned()),
        Some(String::new())
    );
    b.jar.remove("session");
    assert_eq!(
        b.get("/").await.status,
        StatusCode::FOUND,
        "david is not restored"
    );
}

/// An app with the demo's users: `POST /login` logs a user in with `login_user` (by username,
/// `remember=1` for remember-me), `/` needs a login, `/fresh` a fresh one.
fn login_as_app() -> (Router, SessionLayer) {
    let sessions = SessionLayer::builder(key()).build().unwrap();
    let gate = AuthLayer::builder()
        .user_loader(|id: String| async move { users::by_id(&id) })
        .build()
        .unwrap();
    let fresh = gate.clone().into_builder().fresh(true).build().unwrap();
    let hello = |u: CurrentUser<users::User>| async move { format!("Hello, {}!", u.username) };
    let login = |session: SessionDict, req: Request<Body>| async move {
        let query = req.uri().query().unwrap_or_default().to_owned();
        let user = ["susan", "david"]
            .into_iter()
            .find(|name| query.contains(name))
            .and_then(|name| {
                users::verify_password(name, if name == "susan" { "hello" } else { "bye" })
            })
            .unwrap();
        login_user(&session, &user, query.contains("remember=1")).unwrap();
        "logged in"
    };
    let app = Router::new()
        .route("/", get(hello).route_layer(gate))
        .route("/fresh", get(hello).route_layer(fresh))
        .route("/login", axum::routing::post(login))
        .layer(sessions.clone());
    (common::audited(app, Expect::default()), sessions)
}

/// `login_as` puts exactly what a login through a handler calling `login_user` would have set:
/// the session and, when asked, a remember-me cookie that restores a login that is not fresh.
#[tokio::test]
async fn login_as_is_a_login_without_the_form() {
    let (app, sessions) = login_as_app();
    let susan = users::by_id("user001").unwrap();
    let mut b = TestClient::new(app.clone());
    b.login_as(&sessions, &susan, false).await.unwrap();
    assert!(!b.jar.contains("_remember"));
    let res = b.get("/fresh").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.text(), "Hello, susan!");

    let mut remembered = TestClient::new(app.clone());
    remembered.login_as(&sessions, &susan, true).await.unwrap();
    remembered.jar.remove("session");
    assert_eq!(remembered.get("/").await.text(), "Hello, susan!");
    assert_eq!(
        remembered.get("/fresh").await.status,
        StatusCode::FOUND,
        "restored from remember-me: not fresh"
    );

    // The same cookies as a login through a handler: names, attributes and session keys.
    let minted = login_cookies(&sessions, &susan, true).await.unwrap();
    let by_handler = TestClient::new(app)
        .post_form("/login?user=susan&remember=1", "")
        .await;
    let by_handler = audit(&by_handler.headers, &Expect::default());
    let minted: Vec<_> = minted
        .iter()
        .map(|v| {
            let mut headers = http::HeaderMap::new();
            headers.insert(SET_COOKIE, v.clone());
            audit(&headers, &Expect::default()).remove(0)
        })
        .collect();
    assert_eq!(minted.len(), 2);
    assert_eq!(minted.len(), by_handler.len());
    for (m, h) in minted.iter().zip(&by_handler) {
        assert_eq!(
            (m.name(), m.path(), m.max_age(), m.http_only(), m.secure()),
            (h.name(), h.path(), h.max_age(), h.http_only(), h.secure())
        );
    }
    let keys = |c: &cookie::Cookie<'_>| payload(c.value()).keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&minted[0]), keys(&by_handler[0]));
    assert_eq!(payload(minted[0].value())["_user_id"], "user001");
}

#[tokio::test]
async fn json_clients_get_401() {
    let app = demo_app();
    for accept in [Some("application/json"), Some("*/*"), None] {
        let mut req = Request::get("/");
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        let res = send(&app, req.body(Body::empty()).unwrap(), &Expect::default()).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{accept:?}");
        assert!(res.location().is_none());
    }
}

#[tokio::test]
async fn red_05_next_round_trip() {
    let app = demo_app();
    let mut b = demo_browser();
    let res = b.get(&app, "/?b=c&d=//e").await;
    assert_eq!(
        res.location(),
        Some("/login?next=%2F%3Fb%3Dc%26d%3D%2F%2Fe")
    );
    let res = b
        .post_form(
            &app,
            res.location().unwrap(),
            "username=susan&password=hello",
        )
        .await;
    assert_eq!(res.location(), Some("/?b=c&d=//e"));
    // A request for `//evil.example/x` does not send the browser there after the login.
    let res = demo_browser().get(&app, "//evil.example/x").await;
    if let Some(location) = res.location() {
        let res = demo_browser()
            .post_form(&app, location, "username=susan&password=hello")
            .await;
        let target = res.location().unwrap();
        assert!(
            target.starts_with('/') && !target.starts_with("//"),
            "{target}"
        );
    }
    for hostile in [
        "%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "%2F%09%2Fevil.example",
        "https%3A%2F%2Fevil.example",
    ] {
        let res = demo_browser()
            .post_form(
                &app,
                &format!("/login?next={hostile}"),
                "username=susan&password=hello",
            )
            .await;
        assert_eq!(res.location(), Some("/"), "{hostile}");
    }
}

/// A remember-me cookie signed with the test key.
fn remember_cookie(payload: &str) -> String {
    format!("_remember={}", pyjwt(payload))
}

async fn whoami(app: &Router, cookie: &str) -> common::TestResponse {
    let req = Request::get("/")
        .header("cookie", cookie)
        .header("accept", "text/html")
        .body(Body::empty())
        .unwrap();
    send(
        app,
        req,
        &Expect {
            secure: false,
            ..Expect::default()
        },
    )
    .await
}

#[tokio::test]
async fn rem_02_jwt_10_bad_remember_cookies_are_refused_and_deleted() {
    let clock = FakeClock::at(1_800_000_000);
    let sessions = SessionLayer::builder(key())
        .secure(false)
        .clock(clock.clone())
        .build()
        .unwrap();
    // Users without a session auth hash, so Microdot-format remember cookies can log them in.
    let gate = AuthLayer::builder()
        .user_loader(
            |id: String| async move { users::by_id(&id).map(|u| Plain(u.username.to_owned())) },
        )
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/",
            get(|CurrentUser(u): CurrentUser<Plain>| async move { u.0 }),
        )
        .route_layer(gate)
        .layer(sessions);

    let valid = r#"{"user_id":"user001","days":30,"exp":1800000000.5}"#;
    let res = whoami(&app, &remember_cookie(valid)).await;
    assert_eq!(
        res.status,
        StatusCode::OK,
        "JWT-08: a fractional exp in the future"
    );
    assert_eq!(res.body, "susan");

    let wrong_key = format!(
        "_remember={}",
        sign(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            valid,
            b"some other secret that is long enough!!"
        )
    );
    let cases = [
        (
            "REM-02: expired",
            remember_cookie(r#"{"user_id":"user001","days":30,"exp":1800000000}"#),
        ),
        (
            "expired by half a second",
            remember_cookie(r#"{"user_id":"user001","days":30,"exp":1799999999.5}"#),
        ),
        ("wrong key", wrong_key),
        (
            "no exp",
            remember_cookie(r#"{"user_id":"user001","days":30}"#),
        ),
        (
            "string exp",
            remember_cookie(r#"{"user_id":"user001","days":30,"exp":"99999999999"}"#),
        ),
        (
            "JWT-10: session-shaped",
            remember_cookie(
                r#"{"user_id":"user001","_user_id":"user001","_fresh":true,"days":30,"exp":1900000000}"#,
            ),
        ),
        (
            "JWT-10: session with user_id",
            remember_cookie(r#"{"user_id":"user001","cart":[1]}"#),
        ),
        (
            "Microdot logout token",
            remember_cookie(r#"{"user_id":null,"days":0,"exp":1800000100}"#),
        ),
        (
            "days out of range",
            remember_cookie(r#"{"user_id":"user001","days":401,"exp":1900000000}"#),
        ),
        (
            "empty id",
            remember_cookie(r#"{"user_id":"","days":30,"exp":1900000000}"#),
        ),
        (
            "object id",
            remember_cookie(r#"{"user_id":{"a":1},"days":30,"exp":1900000000}"#),
        ),
        ("not a token", "_remember=garbage".to_owned()),
    ];
    for (case, cookie) in cases {
        let res = whoami(&app, &cookie).await;
        assert_eq!(res.status, StatusCode::FOUND, "{case}");
        let removal = res
            .set_cookie("_remember")
            .unwrap_or_else(|| panic!("{case}: REM-05 deletes it"));
        assert_eq!(removal.value(), "", "{case}");
    }

    // JWT-10 the other way: a real session cookie of a logged-in user, replayed as `_remember`.
    let mut b = Browser {
        expect: Expect {
            secure: false,
            ..Expect::default()
        },
        ..Browser::new()
    };
    let login_app =
        Router::new()
            .route(
                "/login",
                get(|s: SessionDict| async move {
                    login_user(&s, &Plain("susan".into()), false).unwrap()
                }),
            )
            .layer(
                SessionLayer::builder(key())
                    .secure(false)
                    .clock(clock.clone())
                    .build()
                    .unwrap(),
            );
    b.get(&login_app, "/login").await;
    let session_token = b.jar.get("session").unwrap().to_owned();
    let res = whoami(&app, &format!("_remember={session_token}")).await;
    assert_eq!(
        res.status,
        StatusCode::FOUND,
        "a session token is never a remember token"
    );

    // REM-05: an invalid remember-me cookie does not get in the way of a valid session.
    let res = whoami(&app, &format!("session={session_token}; _remember=garbage")).await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn ses_01_login_drops_planted_crate_keys() {
    let planted = pyjwt(
        r#"{"_user_id":"user002","_fresh":true,"_auth_hash":"x","_id":"fixed","_evil":1,"cart":"keep"}"#,
    );
    let app = demo_app();
    let mut b = demo_browser();
    b.jar.insert("session", planted.clone());
    let res = b
        .post_form(&app, "/login", "username=susan&password=hello")
        .await;
    let new = res.set_cookie("session").unwrap().value().to_owned();
    assert_ne!(new, planted);
    let payload = new.split('.').nth(1).unwrap();
    let payload =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap();
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&payload).unwrap();
    assert_eq!(map["_user_id"], "user001");
    assert_eq!(map["_fresh"], true);
    assert!(
        !map.contains_key("cart"),
        "data of a session that was not this user's does not survive the login: {map:?}"
    );
    assert!(!map.contains_key("_evil"));
    assert_ne!(map["_id"], "fixed");
    assert_eq!(
        map["_id"].as_str().unwrap().len(),
        22,
        "SES-08: 128 random bits"
    );
    assert!(b.get(&app, "/").await.body.contains("Hello, susan!"));
}

#[tokio::test]
async fn an_id_the_loader_does_not_know_is_logged_out() {
    let app = demo_app();
    let ghost = pyjwt(r#"{"_user_id":"user999","_fresh":true,"cart":"keep"}"#);
    let res = whoami(&app, &format!("session={ghost}")).await;
    assert_eq!(res.status, StatusCode::FOUND);
    // The stale login is removed from the session; the rest stays.
    let cookie = res.set_cookie("session").expect("the session is rewritten");
    let payload = cookie.value().split('.').nth(1).unwrap();
    let payload =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap();
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&payload).unwrap();
    let app_keys: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|k| !["_created", "exp", "iat"].contains(k))
        .collect();
    assert_eq!(app_keys, ["cart"], "{map:?}");
    // A Microdot-style login of a known user (no auth hash): the demo adopts it and tags it with
    // the user's auth hash (a layer that does not adopt untagged logins refuses it: see
    // `untagged_logins_are_refused_unless_adopted`).
    let microdot = pyjwt(r#"{"_user_id":"user001","_fresh":true}"#);
    let res = whoami(&app, &format!("session={microdot}")).await;
    assert_eq!(res.status, StatusCode::OK);
    let tagged = common::payload(
        res.set_cookie("session")
            .expect("tagged on first sight")
            .value(),
    );
    assert!(tagged["_auth_hash"].is_string(), "{tagged:?}");
}

/// A user known by name, without a session auth hash (like Microdot's users).
#[derive(Clone, Debug)]
struct Plain(String);

impl AuthUser for Plain {
    type Id = String;
    fn id(&self) -> String {
        match self.0.as_str() {
            "susan" => "user001".into(),
            _ => "user002".into(),
        }
    }
}

#[tokio::test]
async fn ses_07_changing_the_auth_hash_ends_sessions_and_remember_cookies() {
    let store: Arc<Mutex<HashMap<u64, Member>>> = Arc::default();
    store.lock().unwrap().insert(
        7,
        Member {
            id: 7,
            hash: b"hash-1".to_vec(),
        },
    );
    let loader_store = store.clone();
    let login_store = store.clone();
    let gate = AuthLayer::builder()
        .user_loader(move |id: u64| {
            let store = loader_store.clone();
            async move { store.lock().unwrap().get(&id).cloned() }
        })
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/",
            get(|CurrentUser(m): CurrentUser<Member>| async move { m.id.to_string() }),
        )
        .route_layer(gate)
        .route(
            "/login",
            get(move |s: SessionDict| {
                let member = login_store.lock().unwrap()[&7].clone();
                async move { login_user(&s, &member, true).unwrap() }
            }),
        )
        .route(
            "/logout",
            get(|s: SessionDict| async move { logout_user(&s) }),
        )
        .layer(SessionLayer::new(key()));

    let mut b = Browser::new();
    b.get(&app, "/login").await;
    let remember = b.jar.get("_remember").unwrap().to_owned();
    assert_eq!(b.get(&app, "/").await.body, "7");
    // Restored from remember-me alone, while the hash is unchanged.
    let mut restored = Browser::new();
    restored.jar.insert("_remember", remember.clone());
    assert_eq!(restored.get(&app, "/").await.body, "7");

    store.lock().unwrap().get_mut(&7).unwrap().hash = b"hash-2".to_vec();
    let res = b.get(&app, "/").await;
    assert_eq!(res.status, StatusCode::FOUND, "the session ended");
    assert_eq!(
        res.set_cookie("_remember").map(|c| c.value()),
        Some(""),
        "and its remember cookie"
    );
    let mut stolen = Browser::new();
    stolen.jar.insert("_remember", remember);
    assert_eq!(
        stolen.get(&app, "/").await.status,
        StatusCode::FOUND,
        "a copied remember cookie too"
    );
}

#[tokio::test]
async fn ses_06_a_cookie_copied_before_logout_stays_valid_until_it_expires() {
    // Documented: without a session auth hash a stateless cookie cannot be revoked early; with
    // one, changing it ends the copy too (see the SES-07 test).
    let gate = AuthLayer::builder()
        .user_loader(
            |id: String| async move { users::by_id(&id).map(|u| Plain(u.username.to_owned())) },
        )
        .build()
        .unwrap();
    let app =
        Router::new()
            .route(
                "/",
                get(|CurrentUser(u): CurrentUser<Plain>| async move { u.0 }),
            )
            .route_layer(gate)
            .route(
                "/login",
                get(|s: SessionDict| async move {
                    login_user(&s, &Plain("susan".into()), false).unwrap()
                }),
            )
            .route(
                "/logout",
                get(|s: SessionDict| async move { logout_user(&s) }),
            )
            .layer(SessionLayer::new(key()));
    let mut b = Browser::new();
    b.get(&app, "/login").await;
    let copy = b.jar.get("session").unwrap().to_owned();
    b.get(&app, "/logout").await;
    assert_eq!(
        b.get(&app, "/").await.status,
        StatusCode::FOUND,
        "this browser is logged out"
    );
    let res = whoami(&app, &format!("session={copy}")).await;
    assert_eq!(
        res.body, "susan",
        "the copy is still valid until its deadline"
    );
}

#[tokio::test]
async fn ses_02_renew_session_keeps_the_login_and_changes_the_cookie() {
    let app =
        Router::new()
            .route(
                "/login",
                get(|s: SessionDict| async move {
                    login_user(&s, &Plain("susan".into()), false).unwrap()
                }),
            )
            .route(
                "/promote",
                get(|s: SessionDict| async move {
                    s.insert("role", "admin").unwrap();
                    tower_session_auth::renew_session(&s).unwrap();
                }),
            )
            .route(
                "/whoami",
                get(|s: SessionDict| async move {
                    tower_session_auth::current_user_id::<String>(&s).unwrap_or_default()
                }),
            )
            .layer(SessionLayer::new(key()));
    let mut b = Browser::new();
    b.get(&app, "/login").await;
    let before = b.jar.get("session").unwrap().to_owned();
    b.get(&app, "/promote").await;
    let after = b.jar.get("session").unwrap().to_owned();
    let id = |token: &str| {
        let payload = token.split('.').nth(1).unwrap();
        let payload =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                .unwrap();
        serde_json::from_slice::<serde_json::Value>(&payload).unwrap()["_id"].clone()
    };
    assert_ne!(id(&before), id(&after), "a new session id");
    assert_eq!(b.get(&app, "/whoami").await.body, "user001");
}

#[tokio::test]
async fn optional_gate_and_option_extractor() {
    let gate = AuthLayer::builder()
        .user_loader(|id: String| async move { users::by_id(&id) })
        .optional(true)
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/",
            get(|user: Option<CurrentUser<users::User>>| async move {
                user.map_or("anonymous".to_owned(), |CurrentUser(u)| {
                    u.username.to_owned()
                })
            }),
        )
        .route_layer(gate)
        .route(
            "/login",
            get(|s: SessionDict| async move {
                login_user(&s, &users::by_id("user002").unwrap(), false).unwrap()
            }),
        )
        .layer(SessionLayer::new(key()));
    let mut b = Browser::new();
    assert_eq!(b.get(&app, "/").await.body, "anonymous");
    b.get(&app, "/login").await;
    assert_eq!(b.get(&app, "/").await.body, "david");
}

#[tokio::test]
async fn unauthorized_hook_and_reason_extension() {
    let gate = AuthLayer::builder()
        .user_loader(|id: String| async move { users::by_id(&id) })
        .unauthorized(|u| {
            let body = format!(
                "{{\"error\":\"{:?}\",\"login\":{:?}}}",
                u.reason, u.login_location
            );
            http::Response::builder()
                .status(403)
                .body(bytes::Bytes::from(body))
                .unwrap()
        })
        .build()
        .unwrap();
    let svc = tower::ServiceBuilder::new()
        .layer(SessionLayer::new(key()))
        .layer(gate)
        .service_fn(|_req: Request<Body>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(Body::empty()))
        });
    let req = Request::get("/x?y=1")
        .header("accept", "text/html")
        .body(Body::empty())
        .unwrap();
    let res = tower::ServiceExt::oneshot(svc, req).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.extensions().get::<tower_session_auth::Reason>(),
        Some(&tower_session_auth::Reason::NotLoggedIn)
    );
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(
        &body[..],
        br#"{"error":"NotLoggedIn","login":Some("/login?next=%2Fx%3Fy%3D1")}"#
    );
}

#[tokio::test]
async fn gate_without_session_layer_is_a_500_naming_it() {
    let gate = AuthLayer::builder()
        .user_loader(|id: String| async move { users::by_id(&id) })
        .build()
        .unwrap();
    let app = Router::new()
        .route("/", get(|| async { "x" }))
        .route_layer(gate);
    let res = send(
        &app,
        Request::get("/").body(Body::empty()).unwrap(),
        &Expect::default(),
    )
    .await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(res.body.contains("SessionLayer"));
}

#[test]
fn auth_layer_configuration_is_checked() {
    let loader = |id: String| async move { users::by_id(&id) };
    for url in [
        "//evil.example/login",
        "login",
        "/login#x",
        "/log in",
        "javascript:alert(1)",
    ] {
        let result = AuthLayer::builder()
            .user_loader(loader)
            .login_url(url)
            .build();
        assert!(result.is_err(), "{url}");
    }
    assert!(
        AuthLayer::<users::User>::builder().build().is_err(),
        "no way to log in"
    );
    assert!(AuthLayer::builder()
        .user_loader(loader)
        .login_url("https://sso.example/login?app=1")
        .build()
        .is_ok());
    let shown = format!(
        "{:?}",
        AuthLayer::builder().user_loader(loader).build().unwrap()
    );
    assert!(shown.contains("User"), "{shown}");
}

#[tokio::test]
async fn a_loader_that_answers_at_once_calls_the_instance_polled_ready() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    use tower::{Layer, Service, ServiceExt};
    use tower_session_auth::Authorize;

    let mut b = demo_browser();
    b.post_form(&demo_app(), "/login", "username=susan&password=hello")
        .await;
    let waiting_check = Authorize::predicate(|_: users::User| async move {
        tokio::task::yield_now().await;
        true
    });
    let gates = [
        AuthLayer::builder().user_loader(|id: String| async move { users::by_id(&id) }),
        AuthLayer::builder()
            .user_loader(|id: String| async move { users::by_id(&id) })
            .authorize(waiting_check),
    ];
    for (waits, gate) in gates.into_iter().enumerate() {
        let (mock, mut handle) = tower_test::mock::pair::<Request<Body>, http::Response<Body>>();
        let mut svc = SessionLayer::new(key()).layer(gate.build().unwrap().layer(mock));
        for _ in 0..2 {
            handle.allow(1);
            svc.ready().await.unwrap();
            let req = get_with_cookies(&b);
            // The instance polled ready is the one called (tower-test's mock panics on any
            // other), by `call` itself when nothing waits: the request reaches the inner
            // service before the response future is first polled.
            let fut = svc.call(req);
            let mut next = std::pin::pin!(handle.next_request());
            let called = next.as_mut().poll(&mut Context::from_waker(Waker::noop()));
            assert_eq!(called.is_ready(), waits == 0, "gate {waits}");
            let fut = tokio::spawn(fut);
            let (req, send_response) = match called {
                Poll::Ready(called) => called,
                // Bounded, so that a call on the wrong instance (which panics in the spawned
                // task) fails the test instead of hanging it.
                Poll::Pending => tokio::time::timeout(std::time::Duration::from_secs(10), next)
                    .await
                    .expect("the inner service is called"),
            }
            .expect("called");
            let user = req.extensions().get::<CurrentUser<users::User>>().unwrap();
            assert_eq!(user.username, "susan");
            send_response.send_response(http::Response::new(Body::from("inner")));
            assert_eq!(fut.await.unwrap().unwrap().status(), StatusCode::OK);
        }
    }
}

#[tokio::test]
async fn poll_ready_and_clone_and_swap_with_tower_test() {
    use tower::{Layer, Service, ServiceExt};
    let (mock, mut handle) = tower_test::mock::pair::<Request<Body>, http::Response<Body>>();
    let gate = AuthLayer::builder()
        .user_loader(|id: String| async move {
            tokio::task::yield_now().await; // a loader that really awaits
            users::by_id(&id)
        })
        .build()
        .unwrap();
    let mut svc = SessionLayer::new(key()).layer(gate.layer(mock));

    // Not ready while the inner service is not.
    handle.allow(0);
    assert!(futures_poll_ready(&mut svc).is_pending());
    handle.allow(1);
    svc.ready().await.unwrap();

    let mut b = demo_browser();
    b.post_form(&demo_app(), "/login", "username=susan&password=hello")
        .await;
    let req = get_with_cookies(&b);
    // `call` hands the future the instance that was polled ready (tower-test's mock panics if a
    // clone that was not polled ready is called), and the user reaches the inner service.
    let fut = tokio::spawn(svc.call(req));
    let (req, send_response) = handle
        .next_request()
        .await
        .expect("the inner service is called");
    assert_eq!(
        req.extensions()
            .get::<CurrentUser<users::User>>()
            .unwrap()
            .username,
        "susan"
    );
    send_response.send_response(http::Response::new(Body::from("inner")));
    let res = fut.await.unwrap().unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // The inner service's error comes through unchanged.
    handle.allow(1);
    svc.ready().await.unwrap();
    let fut = tokio::spawn(svc.call(get_with_cookies(&b)));
    let (_, send_response) = handle.next_request().await.unwrap();
    send_response.send_error(std::io::Error::other("inner failure"));
    let err = fut.await.unwrap().unwrap_err();
    assert_eq!(err.to_string(), "inner failure");
}

/// `GET /` with the cookies `b` holds for it.
fn get_with_cookies(b: &Browser) -> Request<Body> {
    Request::get("/")
        .header(
            "cookie",
            b.jar.cookie_header(&"/".parse().unwrap()).unwrap(),
        )
        .body(Body::empty())
        .unwrap()
}

fn futures_poll_ready<S: tower::Service<R>, R>(
    svc: &mut S,
) -> std::task::Poll<Result<(), S::Error>> {
    let waker = std::task::Waker::noop();
    svc.poll_ready(&mut std::task::Context::from_waker(waker))
}

#[test]
fn key_05_secret_not_in_debug() {
    let key = Key::from_bytes(SECRET).unwrap();
    assert_eq!(format!("{key:?}"), "Key([redacted])");
}

/// A login POST to the demo as a browser on `127.0.0.1:3000` would send it, with one more header.
async fn login_with(app: &Router, name: &str, value: &str) -> common::TestResponse {
    let req = Request::post("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("host", "127.0.0.1:3000")
        .header(name, value)
        .body(Body::from("username=susan&password=hello"))
        .unwrap();
    send(
        app,
        req,
        &Expect {
            secure: false,
            ..Expect::default()
        },
    )
    .await
}

#[tokio::test]
async fn ses_09_the_demo_refuses_cross_site_logins() {
    let app = demo_app();
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("origin", "http://evil.example"),
    ] {
        let res = login_with(&app, name, value).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(res.set_cookies.is_empty());
    }
    for (name, value) in [
        ("sec-fetch-site", "same-origin"),
        ("origin", "http://127.0.0.1:3000"),
    ] {
        assert_eq!(
            login_with(&app, name, value).await.status,
            StatusCode::SEE_OTHER,
            "{name}: {value}"
        );
    }
}

#[tokio::test]
async fn ck_09_pages_behind_the_gate_stay_out_of_caches() {
    let app = demo_app();
    let mut b = demo_browser();
    let res = b.get(&app, "/").await;
    assert_eq!(res.headers["cache-control"], "no-store");
    assert!(
        res.headers.get_all("vary").iter().any(|v| v == "Accept"),
        "302 or 401 depends on Accept"
    );
    b.post_form(&app, "/login", "username=susan&password=hello")
        .await;
    // Without this the back button shows the logged-in page after a logout (seen in Chromium's
    // back/forward cache).
    let res = b.get(&app, "/").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.headers["cache-control"], "no-store");
    assert_eq!(
        b.get(&app, "/counter")
            .await
            .headers
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "it sets a cookie"
    );

    // The application's own caching headers are kept.
    let gate = AuthLayer::builder()
        .user_loader(|id: String| async move { users::by_id(&id) })
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/",
            get(|| async { ([("cache-control", "private, max-age=60")], "mine") }),
        )
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
    assert_eq!(
        b.get(&app, "/").await.headers["cache-control"],
        "private, max-age=60"
    );
}

/// A gated router nested under `/nested`, and a login handler that follows `next` as the demo's
/// does (`redirect_target`).
fn nested_app(gate: AuthLayer<users::User>) -> Router {
    use axum::extract::OriginalUri;
    use axum::response::Redirect;
    let nested = Router::new()
        .route(
            "/foo",
            get(|CurrentUser(u): CurrentUser<users::User>| async move { u.username }),
        )
        .route_layer(gate);
    Router::new()
        .nest("/nested", nested)
        .route(
            "/login",
            axum::routing::post(|s: SessionDict, OriginalUri(uri): OriginalUri| async move {
                login_user(&s, &users::by_id("user001").unwrap(), false).unwrap();
                Redirect::to(&tower_session_auth::redirect_target(&uri, "/"))
            }),
        )
        .layer(SessionLayer::new(key()))
}

#[tokio::test]
async fn a_nested_router_sends_the_user_back_to_the_full_path() {
    let gate = AuthLayer::builder()
        .user_loader(|id: String| async move { users::by_id(&id) })
        .build()
        .unwrap();
    let app = nested_app(gate);
    let mut b = Browser::new();
    let res = b.get(&app, "/nested/foo?x=1").await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.location(), Some("/login?next=%2Fnested%2Ffoo%3Fx%3D1"));
    let res = b
        .post_form(&app, res.location().unwrap(), "username=susan")
        .await;
    assert_eq!(res.location(), Some("/nested/foo?x=1"));
    let res = b.get(&app, "/nested/foo?x=1").await;
    assert_eq!((res.status, res.body.as_str()), (StatusCode::OK, "susan"));

    // The `unauthorized` hook is given the same, full target.
    let gate = AuthLayer::builder()
        .user_loader(|id: String| async move { users::by_id(&id) })
        .unauthorized(|u| {
            http::Response::builder()
                .status(StatusCode::FORBIDDEN)
                .body(bytes::Bytes::from(u.uri.to_string()))
                .unwrap()
        })
        .build()
        .unwrap();
    let res = Browser::new()
        .get(&nested_app(gate), "/nested/foo?x=1")
        .await;
    assert_eq!(res.body, "/nested/foo?x=1");
}

#[tokio::test]
async fn a_login_url_with_its_own_next_keeps_it() {
    let gate = |url: &str| {
        AuthLayer::builder()
            .user_loader(|id: String| async move { users::by_id(&id) })
            .login_url(url)
            .build()
            .unwrap()
    };
    let app = |url: &str| {
        Router::new()
            .route("/x", get(|| async { "x" }))
            .route_layer(gate(url))
            .layer(SessionLayer::new(key()))
    };
    let res = Browser::new()
        .get(&app("/login?next=%2Fdashboard"), "/x?y=1")
        .await;
    assert_eq!(res.location(), Some("/login?next=%2Fdashboard"));
    let location: http::Uri = res.location().unwrap().parse().unwrap();
    assert_eq!(
        tower_session_auth::redirect_target(&location, "DEFAULT"),
        "/dashboard"
    );
    // Another query is kept, and `next` added to it.
    let res = Browser::new()
        .get(&app("/login?lang=en&n=1"), "/x?y=1")
        .await;
    assert_eq!(res.location(), Some("/login?lang=en&n=1&next=%2Fx%3Fy%3D1"));

    // A `next` of its own that the login handler would not follow is refused when building.
    for url in [
        "/login?next=//evil.example",
        "/login?next=%2F%2Fevil.example",
        "/login?next=https%3A%2F%2Fevil.example",
        "/login?next=%2Fa&next=%2Fb",
        "/login?next=",
    ] {
        let result = AuthLayer::builder()
            .user_loader(|id: String| async move { users::by_id(&id) })
            .login_url(url)
            .build();
        assert!(
            matches!(
                result,
                Err(tower_session_auth::Error::InvalidConfig(
                    tower_session_auth::ConfigError::LoginUrl
                ))
            ),
            "{url}"
        );
    }
}

#[test]
fn a_path_login_url_is_held_to_the_next_rule() {
    let build = |url: &str| {
        AuthLayer::builder()
            .user_loader(|id: String| async move { users::by_id(&id) })
            .login_url(url)
            .build()
    };
    // What browsers read as another site: `\` is `/` to them in http(s) URLs, and tabs and
    // newlines are dropped from a URL before it is parsed.
    for url in [
        "/\\evil.example/login",
        "/\\/evil.example/login",
        "/login\\x",
        "\\\\evil.example/login",
        "//evil.example/login",
        "///evil.example/login",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r/evil.example",
        "/\u{0}login",
        "/\u{7f}login",
        "/log in",
        "/lögin",
        "https://sso.example\\@evil.example/login",
        "",
    ] {
        assert!(
            matches!(
                build(url),
                Err(tower_session_auth::Error::InvalidConfig(
                    tower_session_auth::ConfigError::LoginUrl
                ))
            ),
            "{url:?}"
        );
    }
    // Percent-encoded `\`, `/` and tab stay encoded in a `Location`: paths on this site.
    let base = url::Url::parse("https://site.example/app/page").unwrap();
    for url in [
        "/login",
        "/%5Cevil.example/login",
        "/%2F/evil.example",
        "/%09/evil.example",
        "/auth/login?lang=en",
    ] {
        assert!(build(url).is_ok(), "{url}");
        assert_eq!(base.join(url).unwrap().origin(), base.origin(), "{url}");
    }
    assert!(
        build(&format!("/{}", "a".repeat(4096))).is_err(),
        "too long"
    );
}

#[tokio::test]
async fn cors_preflights_pass_the_gate() {
    let gate = AuthLayer::builder()
        .user_loader(|id: String| async move { users::by_id(&id) })
        .build()
        .unwrap();
    let app = |gate: AuthLayer<users::User>| {
        Router::new()
            .route(
                "/x",
                get(|| async { "x" }).options(
                    |user: Option<CurrentUser<users::User>>| async move {
                        format!("preflight, user: {}", user.is_some())
                    },
                ),
            )
            .route_layer(gate)
            .layer(SessionLayer::new(key()))
    };
    let preflight = || {
        Request::options("/x")
            .header("origin", "https://other.example")
            .header("access-control-request-method", "GET")
            .body(Body::empty())
            .unwrap()
    };
    let res = send(&app(gate.clone()), preflight(), &Expect::default()).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body, "preflight, user: false");
    // Even with a login, OPTIONS is not authenticated: the loader does not run for it.
    let mut b = Browser::new();
    let login_app = Router::new()
        .route(
            "/login",
            get(|s: SessionDict| async move {
                login_user(&s, &users::by_id("user001").unwrap(), false).unwrap()
            }),
        )
        .merge(app(gate.clone()));
    b.get(&login_app, "/login").await;
    let res = b.send(&login_app, preflight()).await;
    assert_eq!(res.body, "preflight, user: false");
    // Other methods stay gated.
    let res = send(
        &app(gate.clone()),
        Request::get("/x").body(Body::empty()).unwrap(),
        &Expect::default(),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn gate_options_gates_options_too() {
    let gate = AuthLayer::builder()
        .user_loader(|id: String| async move { users::by_id(&id) })
        .gate_options(true)
        .build()
        .unwrap();
    let app = Router::new()
        .route("/x", get(|| async { "x" }).options(|| async { "options" }))
        .route_layer(gate)
        .layer(SessionLayer::new(key()));
    let req = Request::options("/x")
        .header("origin", "https://other.example")
        .header("access-control-request-method", "GET")
        .body(Body::empty())
        .unwrap();
    let res = send(&app, req, &Expect::default()).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_401_from_a_session_gate_says_what_to_do() {
    let app = demo_app();
    for accept in [Some("application/json"), Some("*/*"), None] {
        let mut req = Request::get("/");
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        let res = send(&app, req.body(Body::empty()).unwrap(), &Expect::default()).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{accept:?}");
        // RFC 9110 §15.5.2: a 401 carries a challenge; no registered scheme means "log in with a
        // session cookie", and browsers ignore schemes they do not know (no password dialog).
        let challenges: Vec<_> = res.headers.get_all("www-authenticate").iter().collect();
        assert_eq!(challenges, ["Session"], "{accept:?}");
        assert_eq!(res.headers["content-type"], "text/plain; charset=utf-8");
        assert_eq!(
            res.body,
            "Login required: log in at /login, then send this request again with the session \
             cookie.\n"
        );
    }
    // The same for a gate that never redirects, whatever the client accepts.
    let gate = AuthLayer::builder()
        .user_loader(|id: String| async move { users::by_id(&id) })
        .redirect_to_login(false)
        .build()
        .unwrap();
    let app = Router::new()
        .route("/", get(|| async { "x" }))
        .route_layer(gate)
        .layer(SessionLayer::new(key()));
    let res = Browser::new().get(&app, "/").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers["www-authenticate"], "Session");
    assert!(res.body.starts_with("Login required"), "{}", res.body);
}

#[tokio::test]
async fn current_user_of_another_type_names_both_types() {
    let gate = |optional: bool| {
        AuthLayer::builder()
            .user_loader(|id: String| async move { users::by_id(&id) })
            .optional(optional)
            .build()
            .unwrap()
    };
    let app = |optional: bool| {
        Router::new()
            .route(
                "/plain",
                get(|CurrentUser(p): CurrentUser<Plain>| async move { p.0 }),
            )
            .route(
                "/maybe-plain",
                get(|p: Option<CurrentUser<Plain>>| async move { format!("{}", p.is_some()) }),
            )
            .route(
                "/user",
                get(|CurrentUser(u): CurrentUser<users::User>| async move { u.username }),
            )
            .route_layer(gate(optional))
            .route(
                "/login",
                get(|s: SessionDict| async move {
                    login_user(&s, &users::by_id("user001").unwrap(), false).unwrap()
                }),
            )
            .layer(SessionLayer::new(key()))
    };
    let (user, plain) = (
        std::any::type_name::<users::User>(),
        std::any::type_name::<Plain>(),
    );
    let app_ = app(false);
    let mut b = Browser::new();
    b.get(&app_, "/login").await;
    for path in ["/plain", "/maybe-plain"] {
        let res = b.get(&app_, path).await;
        assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert!(
            res.body.contains(&format!("`CurrentUser<{plain}>`"))
                && res.body.contains(&format!("built for `{user}`"))
                && !res.body.contains("missing AuthLayer"),
            "{path}: {}",
            res.body
        );
    }
    assert_eq!(b.get(&app_, "/user").await.body, "susan");

    // Behind an optional gate with nobody logged in, `CurrentUser<U>` says to take an `Option`.
    let res = Browser::new().get(&app(true), "/user").await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        res.body.contains("optional") && res.body.contains("Option<CurrentUser<"),
        "{}",
        res.body
    );
    // Without a gate, the rejection still names the missing layer.
    let app = Router::new()
        .route(
            "/",
            get(|CurrentUser(u): CurrentUser<Plain>| async move { u.0 }),
        )
        .layer(SessionLayer::new(key()));
    let res = Browser::new().get(&app, "/").await;
    assert!(res.body.contains("missing AuthLayer"), "{}", res.body);
}

/// A user store that can be taken down: while `down` is set, the loader fails with an error whose
/// message holds a credential.
#[derive(Clone, Default)]
struct FlakyStore {
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl FlakyStore {
    fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    fn gate(&self) -> tower_session_auth::AuthLayerBuilder<users::User> {
        let store = self.clone();
        AuthLayer::builder().user_loader(move |id: String| {
            let down = store.down.load(std::sync::atomic::Ordering::SeqCst);
            async move {
                if down {
                    Err(std::io::Error::other(
                        "postgres://admin:hunter2@db: timed out",
                    ))
                } else {
                    Ok(users::by_id(&id))
                }
            }
        })
    }
}

fn flaky_app(gate: AuthLayer<users::User>) -> Router {
    Router::new()
        .route(
            "/",
            get(|user: Option<CurrentUser<users::User>>| async move {
                user.map_or("anonymous".to_owned(), |CurrentUser(u)| u.username.into())
            }),
        )
        .route_layer(gate)
        .route(
            "/login",
            get(|s: SessionDict| async move {
                login_user(&s, &users::by_id("user001").unwrap(), true).unwrap()
            }),
        )
        .layer(SessionLayer::new(key()))
}

#[tokio::test]
async fn a_loader_error_is_a_503_that_leaves_the_cookies_alone() {
    let store = FlakyStore::default();
    let app = flaky_app(store.gate().build().unwrap());
    let mut b = Browser::new();
    b.get(&app, "/login").await;
    assert!(b.jar.contains("session") && b.jar.contains("_remember"));
    let jar = b.jar.clone();

    store.set_down(true);
    for accept in ["text/html", "application/json"] {
        let req = Request::get("/")
            .header("accept", accept)
            .body(Body::empty())
            .unwrap();
        let res = b.send(&app, req).await;
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{accept}");
        assert_eq!(res.headers["retry-after"], "5");
        assert_eq!(res.headers["cache-control"], "no-store");
        assert!(res.headers.get("set-cookie").is_none(), "{accept}: {res:?}");
        assert!(res.location().is_none());
        assert!(
            !res.body.contains("hunter2") && !res.body.contains("postgres"),
            "{}",
            res.body
        );
    }
    // A login that would be restored from the remember-me cookie: nothing restored, nothing
    // renewed, nothing deleted.
    b.jar.remove("session");
    let res = b.get(&app, "/").await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers.get("set-cookie").is_none(), "{res:?}");
    b.jar = jar.clone();

    // Once the store answers again, the same cookies work.
    store.set_down(false);
    assert_eq!(b.get(&app, "/").await.body, "susan");
    b.jar.remove("session");
    assert_eq!(
        b.get(&app, "/").await.body,
        "susan",
        "restored from _remember"
    );
}

#[tokio::test]
async fn an_optional_gate_and_the_hook_see_a_loader_error_as_unavailable() {
    let store = FlakyStore::default();
    let optional = flaky_app(store.gate().optional(true).build().unwrap());
    let hooked = flaky_app(
        store
            .gate()
            .unauthorized(|u| {
                http::Response::builder()
                    .status(StatusCode::IM_A_TEAPOT)
                    .body(bytes::Bytes::from(format!(
                        "{:?} {:?}",
                        u.reason, u.login_location
                    )))
                    .unwrap()
            })
            .build()
            .unwrap(),
    );
    let mut b = Browser::new();
    b.get(&optional, "/login").await;
    store.set_down(true);
    let res = b.get(&optional, "/").await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers.get("set-cookie").is_none(), "{res:?}");
    let res = b.get(&hooked, "/").await;
    assert_eq!(res.status, StatusCode::IM_A_TEAPOT);
    assert_eq!(res.body, "Unavailable None");
    assert!(res.headers.get("set-cookie").is_none(), "{res:?}");
    // Nobody logged in: the loader is not asked, and the optional gate lets the request through.
    assert_eq!(Browser::new().get(&optional, "/").await.body, "anonymous");
}
