//! Authorization in the gate: checks on the loaded user, joined with AND and OR; `403` for a
//! logged-in user who is refused, the login redirect or `401` for nobody logged in, for session,
//! Basic and bearer logins alike. Driven with the crate's `TestClient`.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use common::{audited, key, Expect};
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, VARY, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use tower_session_auth::{
    AuthLayer, AuthLayerBuilder, AuthUser, Authorize, ConfigError, CookieJar, CurrentUser, Error,
    Reason, SessionLayer, TestClient, TestResponse,
};

#[derive(Clone, Debug)]
struct User {
    id: u64,
    admin: bool,
    active: bool,
}

impl AuthUser for User {
    type Id = u64;
    fn id(&self) -> u64 {
        self.id
    }
}

/// 1: an active admin; 2: an active user; 3: an inactive admin.
fn find(id: u64) -> Option<User> {
    match id {
        1 => Some(User {
            id,
            admin: true,
            active: true,
        }),
        2 => Some(User {
            id,
            admin: false,
            active: true,
        }),
        3 => Some(User {
            id,
            admin: true,
            active: false,
        }),
        _ => None,
    }
}

fn admin() -> Authorize<User> {
    Authorize::predicate(|u: User| async move { u.admin })
}

fn active() -> Authorize<User> {
    Authorize::predicate(|u: User| async move { u.active })
}

fn session_gate() -> AuthLayerBuilder<User> {
    AuthLayer::builder().user_loader(|id: u64| async move { find(id) })
}

/// A page behind `gate`, answering the user's id, and the session layer to log in through.
fn app(gate: AuthLayer<User>) -> (Router, SessionLayer) {
    let sessions = SessionLayer::builder(key()).build().unwrap();
    let app = Router::new()
        .route(
            "/page",
            get(|u: CurrentUser<User>| async move { u.id.to_string() }),
        )
        .layer(gate)
        .layer(sessions.clone());
    (audited(app, Expect::default()), sessions)
}

async fn api_get(client: &mut TestClient<Router>, headers: &[(&str, &str)]) -> TestResponse {
    let mut req = Request::get("/page");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    client.send(req.body(Body::empty()).unwrap()).await
}

/// Whether each of users 1, 2 and 3 gets the page behind `check`.
async fn who_passes(check: Authorize<User>) -> [bool; 3] {
    who_passes_gate(session_gate().authorize(check).build().unwrap()).await
}

/// Whether each of users 1, 2 and 3 gets the page behind `gate`.
async fn who_passes_gate(gate: AuthLayer<User>) -> [bool; 3] {
    let (app, sessions) = app(gate);
    let mut passes = [false; 3];
    for (i, pass) in passes.iter_mut().enumerate() {
        let mut b = TestClient::new(app.clone());
        b.login_as(&sessions, &find(i as u64 + 1).unwrap(), false)
            .await
            .unwrap();
        let res = b.get("/page").await;
        assert!(
            matches!(res.status, StatusCode::OK | StatusCode::FORBIDDEN),
            "{:?}",
            res.status
        );
        *pass = res.status == StatusCode::OK;
    }
    passes
}

#[tokio::test]
async fn loaders_and_checks_that_wait_decide_as_those_that_answer_at_once() {
    // The gate settles a loader or a check that is ready when first polled inside `call`; one
    // that waits is finished by the response future. Both give the same answers.
    let waiting_loader = || {
        AuthLayer::builder().user_loader(|id: u64| async move {
            tokio::task::yield_now().await;
            find(id)
        })
    };
    let waiting_admin = || {
        Authorize::predicate(|u: User| async move {
            tokio::task::yield_now().await;
            u.admin
        })
    };
    let admins = [true, false, true];
    let gates = [
        session_gate().authorize(admin()),
        waiting_loader().authorize(admin()),
        session_gate().authorize(waiting_admin()),
        waiting_loader().authorize(waiting_admin()),
    ];
    for gate in gates {
        assert_eq!(who_passes_gate(gate.build().unwrap()).await, admins);
    }
    assert_eq!(
        who_passes_gate(waiting_loader().build().unwrap()).await,
        [true; 3]
    );
}

#[tokio::test]
async fn checks_join_with_and_and_or() {
    assert_eq!(who_passes(admin()).await, [true, false, true]);
    assert_eq!(who_passes(active()).await, [true, true, false]);
    assert_eq!(
        who_passes(admin().and(active())).await,
        [true, false, false]
    );
    assert_eq!(who_passes(admin().or(active())).await, [true, true, true]);
    let nobody = Authorize::predicate(|_: User| async { false });
    assert_eq!(
        who_passes(nobody.clone().or(admin())).await,
        [true, false, true]
    );
    assert_eq!(who_passes(admin().and(nobody)).await, [false, false, false]);
    // `authorize` called twice joins with AND: a derived gate is never weaker.
    let gate = session_gate()
        .authorize(admin())
        .build()
        .unwrap()
        .into_builder()
        .authorize(active())
        .build()
        .unwrap();
    let (app, sessions) = app(gate);
    for (id, status) in [
        (1, StatusCode::OK),
        (2, StatusCode::FORBIDDEN),
        (3, StatusCode::FORBIDDEN),
    ] {
        let mut b = TestClient::new(app.clone());
        b.login_as(&sessions, &find(id).unwrap(), false)
            .await
            .unwrap();
        assert_eq!(b.get("/page").await.status, status, "user {id}");
    }
}

#[tokio::test]
async fn checks_stop_as_soon_as_the_answer_is_known() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = {
        let calls = Arc::clone(&calls);
        Authorize::predicate(move |_: User| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { true }
        })
    };
    let (app, sessions) = app(session_gate()
        .authorize(admin().or(counted.clone()).and(admin().and(counted)))
        .build()
        .unwrap());
    let mut b = TestClient::new(app.clone());
    b.login_as(&sessions, &find(1).unwrap(), false)
        .await
        .unwrap();
    assert_eq!(b.get("/page").await.status, StatusCode::OK);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "only the AND's right side ran"
    );
    let mut b = TestClient::new(app);
    b.login_as(&sessions, &find(2).unwrap(), false)
        .await
        .unwrap();
    assert_eq!(b.get("/page").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the OR's right side ran, not the AND's"
    );
}

#[tokio::test]
async fn session_logins_anonymous_302_or_401_denied_403() {
    let (app, sessions) = app(session_gate().authorize(admin()).build().unwrap());

    // Nobody logged in: what a gate without a check answers.
    let mut anonymous = TestClient::new(app.clone());
    let res = anonymous.get("/page").await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.location(), Some("/login?next=%2Fpage"));
    let res = api_get(&mut anonymous, &[("accept", "application/json")]).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers[WWW_AUTHENTICATE], "Session");

    // Logged in, refused: 403, HTML for the browser, JSON or text for the others.
    let mut david = TestClient::new(app.clone());
    david
        .login_as(&sessions, &find(2).unwrap(), false)
        .await
        .unwrap();
    let res = david.get("/page").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.headers[CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(res.text().contains("<h1>Forbidden</h1>"), "{}", res.text());
    assert!(res.location().is_none());
    assert!(res.headers.get(WWW_AUTHENTICATE).is_none());
    assert_eq!(res.headers["cache-control"], "no-store");
    assert!(res.headers.get_all(VARY).iter().any(|v| v == "Accept"));
    let res = api_get(&mut david, &[("accept", "application/json")]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.headers[CONTENT_TYPE], "application/json");
    let json: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(json["error"], "forbidden");
    let res = api_get(&mut david, &[]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.headers[CONTENT_TYPE], "text/plain; charset=utf-8");
    // A refusal is not a logout: the session stays, and nothing is written.
    assert!(res.headers.get("set-cookie").is_none());

    let mut susan = TestClient::new(app);
    susan
        .login_as(&sessions, &find(1).unwrap(), false)
        .await
        .unwrap();
    let res = susan.get("/page").await;
    assert_eq!((res.status, res.text()), (StatusCode::OK, "1".to_owned()));
}

/// Basic and bearer logins: refused credentials and none at all are `401`; a verified user
/// whom the check refuses is `403`.
#[tokio::test]
async fn basic_and_bearer_logins_401_without_credentials_403_when_denied() {
    let gate = AuthLayer::builder()
        .basic("api", |user: String, password: String| async move {
            match (user.as_str(), password.as_str()) {
                ("susan", "hello") => find(1),
                ("david", "bye") => find(2),
                _ => None,
            }
        })
        .bearer("api", |token: String| async move {
            match token.as_str() {
                "susan-token" => find(1),
                "david-token" => find(2),
                _ => None,
            }
        })
        .authorize(admin())
        .build()
        .unwrap();
    let (app, _) = app(gate);
    let mut client = TestClient::new(app);
    let basic = |u: &str, p: &str| format!("Basic {}", STANDARD.encode(format!("{u}:{p}")));
    let cases = [
        (None, StatusCode::UNAUTHORIZED),
        (Some(basic("susan", "wrong")), StatusCode::UNAUTHORIZED),
        (Some("Bearer nope".to_owned()), StatusCode::UNAUTHORIZED),
        (Some(basic("david", "bye")), StatusCode::FORBIDDEN),
        (Some("Bearer david-token".to_owned()), StatusCode::FORBIDDEN),
        (Some(basic("susan", "hello")), StatusCode::OK),
        (Some("Bearer susan-token".to_owned()), StatusCode::OK),
    ];
    for (authorization, status) in cases {
        let mut req = Request::get("/page").header(ACCEPT, "application/json");
        if let Some(value) = &authorization {
            req = req.header(AUTHORIZATION, value);
        }
        let res = client.send(req.body(Body::empty()).unwrap()).await;
        assert_eq!(res.status, status, "{authorization:?}");
        match status {
            StatusCode::FORBIDDEN => {
                assert!(res.headers.get(WWW_AUTHENTICATE).is_none());
                assert_eq!(res.headers[CONTENT_TYPE], "application/json");
            }
            StatusCode::UNAUTHORIZED => {
                let challenges: Vec<_> = res.headers.get_all(WWW_AUTHENTICATE).iter().collect();
                assert_eq!(challenges.len(), 2, "Basic and Bearer");
            }
            _ => assert_eq!(res.text(), "1"),
        }
    }
}

/// The permission loader runs at most once per request however many permission checks there are,
/// and never when no permission check runs.
#[tokio::test]
async fn permissions_load_at_most_once_per_request() {
    let loads = Arc::new(AtomicUsize::new(0));
    let gate = session_gate()
        .permission_loader({
            let loads = Arc::clone(&loads);
            move |u: User| {
                loads.fetch_add(1, Ordering::SeqCst);
                async move {
                    let mut set = HashSet::new();
                    set.insert("read".to_owned());
                    if u.admin {
                        set.insert("write".to_owned());
                    }
                    set
                }
            }
        })
        .authorize(
            Authorize::permission("missing")
                .or(Authorize::permission("write"))
                .and(Authorize::permission("read")),
        )
        .build()
        .unwrap();
    let (app, sessions) = app(gate);
    let mut susan = TestClient::new(app.clone());
    susan
        .login_as(&sessions, &find(1).unwrap(), false)
        .await
        .unwrap();
    assert_eq!(susan.get("/page").await.status, StatusCode::OK);
    assert_eq!(loads.load(Ordering::SeqCst), 1, "three checks, one load");
    let mut david = TestClient::new(app.clone());
    david
        .login_as(&sessions, &find(2).unwrap(), false)
        .await
        .unwrap();
    assert_eq!(david.get("/page").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        loads.load(Ordering::SeqCst),
        2,
        "one more request, one more load"
    );
    // Nobody logged in: no user, no check, no load.
    assert_eq!(
        TestClient::new(app).get("/page").await.status,
        StatusCode::FOUND
    );
    assert_eq!(loads.load(Ordering::SeqCst), 2);

    // A permission check without a loader is refused when the gate is built.
    let refused = session_gate()
        .authorize(Authorize::permission("write"))
        .build();
    assert!(matches!(
        refused,
        Err(Error::InvalidConfig(ConfigError::NoPermissionLoader))
    ));
}

#[derive(Debug)]
struct Down;
impl std::fmt::Display for Down {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("postgres://admin:secret@db/down")
    }
}
impl std::error::Error for Down {}

/// A check or permission store that cannot answer is a `503`, not a `403`: whether the user may
/// pass is not known.
#[tokio::test]
async fn a_check_that_cannot_answer_is_503() {
    let failing_check = Authorize::predicate(|_: User| async { Err::<bool, _>(Down) });
    let failing_loader = session_gate()
        .permission_loader(|_: User| async { Err::<HashSet<String>, _>(Down) })
        .authorize(Authorize::permission("read"));
    for gate in [
        session_gate().authorize(failing_check).build().unwrap(),
        failing_loader.build().unwrap(),
    ] {
        let (app, sessions) = app(gate);
        let mut b = TestClient::new(app);
        b.login_as(&sessions, &find(1).unwrap(), false)
            .await
            .unwrap();
        let res = b.get("/page").await;
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!res.text().contains("secret"));
        assert!(res.headers.get("set-cookie").is_none());
    }
}

/// The `unauthorized` hook tells a refused user from nobody logged in, and the reason rides in
/// the response's extensions either way.
#[tokio::test]
async fn the_hook_and_the_extensions_tell_forbidden_from_not_logged_in() {
    let gate = session_gate()
        .authorize(admin())
        .unauthorized(|u| {
            let body = match u.reason {
                Reason::Forbidden => "hook: forbidden",
                Reason::NotLoggedIn => "hook: log in",
                _ => "hook: other",
            };
            Response::new(Bytes::from_static(body.as_bytes()))
        })
        .build()
        .unwrap();
    let (app, sessions) = app(gate);
    let mut anonymous = TestClient::new(app.clone());
    assert_eq!(anonymous.get("/page").await.text(), "hook: log in");
    let mut david = TestClient::new(app.clone());
    david
        .login_as(&sessions, &find(2).unwrap(), false)
        .await
        .unwrap();
    assert_eq!(david.get("/page").await.text(), "hook: forbidden");

    // The extensions, read below the session layer.
    use tower::ServiceExt;
    let gate = session_gate().authorize(admin()).build().unwrap();
    let inner = Router::new()
        .route("/page", get(|| async { "ok" }))
        .layer(gate);
    let mut jar = CookieJar::new();
    let mut headers = http::HeaderMap::new();
    for value in tower_session_auth::login_cookies(&sessions, &find(2).unwrap(), false)
        .await
        .unwrap()
    {
        headers.append(http::header::SET_COOKIE, value);
    }
    jar.store(&"/".parse().unwrap(), &headers);
    let req = Request::get("/page")
        .header(
            "cookie",
            jar.cookie_header(&"/page".parse().unwrap()).unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    let res = tower::ServiceBuilder::new()
        .layer(sessions)
        .service(inner)
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(res.extensions().get::<Reason>(), Some(&Reason::Forbidden));
}

/// An optional gate lets a refused user through, without `CurrentUser`.
#[tokio::test]
async fn an_optional_gate_passes_a_refused_user_without_the_user() {
    let gate = session_gate()
        .optional(true)
        .authorize(admin())
        .build()
        .unwrap();
    let sessions = SessionLayer::builder(key()).build().unwrap();
    let app = Router::new()
        .route(
            "/page",
            get(|u: Option<CurrentUser<User>>| async move {
                u.map_or("nobody".to_owned(), |u| u.id.to_string())
            }),
        )
        .layer(gate)
        .layer(sessions.clone());
    let mut david = TestClient::new(app.clone());
    david
        .login_as(&sessions, &find(2).unwrap(), false)
        .await
        .unwrap();
    assert_eq!(david.get("/page").await.text(), "nobody");
    let mut susan = TestClient::new(app);
    susan
        .login_as(&sessions, &find(1).unwrap(), false)
        .await
        .unwrap();
    assert_eq!(susan.get("/page").await.text(), "1");
}
