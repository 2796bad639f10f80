//! HTTP Basic and token authentication through `AuthLayer`, on the demo's API routes and on
//! purpose-built stacks.

mod common;
#[path = "../examples/demo/app.rs"]
mod demo;
#[path = "../examples/demo/users.rs"]
mod users;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{key, send, Browser, Expect, TestResponse};
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderName, Request, StatusCode};
use tower_session_auth::{login_user, AuthLayer, AuthUser, CurrentUser, SessionDict, SessionLayer};

async fn get_with(app: &Router, uri: &str, headers: &[(&str, &str)]) -> TestResponse {
    let mut req = Request::get(uri);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    send(
        app,
        req.body(Body::empty()).unwrap(),
        &Expect {
            secure: false,
            ..Expect::default()
        },
    )
    .await
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

const BASIC_CHALLENGE: &str = "Basic realm=\"tower-session-auth demo\", charset=\"UTF-8\"";

#[tokio::test]
async fn demo_api_me_with_http_basic() {
    let app = demo::app(key());
    for scheme in ["Basic", "basic", "BASIC"] {
        let value = basic("susan", "hello").replacen("Basic", scheme, 1);
        let res = get_with(&app, "/api/me", &[("authorization", &value)]).await;
        assert_eq!(res.status, StatusCode::OK, "{scheme}");
        assert_eq!(res.headers["content-type"], "application/json");
        assert_eq!(res.body, r#"{"id":"user001","username":"susan"}"#);
        assert!(res.set_cookies.is_empty(), "API auth sets no cookie");
    }
    let res = get_with(
        &app,
        "/api/me",
        &[("authorization", &basic("david", "bye"))],
    )
    .await;
    assert_eq!(res.body, r#"{"id":"user002","username":"david"}"#);

    // RFC 7617's example is well-formed but not a user here.
    let res = get_with(
        &app,
        "/api/me",
        &[("authorization", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers[WWW_AUTHENTICATE], BASIC_CHALLENGE);
    // A browser without credentials gets the challenge too (so it prompts), not a login redirect.
    let res = get_with(&app, "/api/me", &[("accept", "text/html")]).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers[WWW_AUTHENTICATE], BASIC_CHALLENGE);
}

#[tokio::test]
async fn bas_hostile_authorization_headers_are_401() {
    let app = demo::app(key());
    let oversize = format!("Basic {}", "QUFB".repeat(4096));
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("missing", vec![]),
        ("empty", vec![("authorization", "")]),
        ("scheme only", vec![("authorization", "Basic")]),
        (
            "wrong scheme",
            vec![("authorization", "Bearer c3VzYW46aGVsbG8=")],
        ),
        (
            "digest",
            vec![("authorization", "Digest username=\"susan\"")],
        ),
        (
            "bad base64",
            vec![("authorization", "Basic c3VzYW46aGVsbG8")],
        ),
        (
            "trailing garbage",
            vec![("authorization", "Basic c3VzYW46aGVsbG8=xx")],
        ),
        (
            "std alphabet abuse",
            vec![("authorization", "Basic c3VzYW46aGVsbG8=!")],
        ),
        (
            "no colon",
            vec![("authorization", "Basic c3VzYW5oZWxsbw==")],
        ),
        ("empty user", vec![("authorization", "Basic OmhlbGxv")]),
        (
            "control character",
            vec![("authorization", "Basic c3VzYW46aGVsbG8K")],
        ),
        ("NUL", vec![("authorization", "Basic c3VzYW4AOmhlbGxv")]),
        (
            "no separator",
            vec![("authorization", "Basicc3VzYW46aGVsbG8=")],
        ),
        ("oversize", vec![("authorization", &oversize)]),
        (
            "wrong password",
            vec![("authorization", "Basic c3VzYW46aGVsbG8h")],
        ),
        (
            "unknown user",
            vec![("authorization", "Basic bWFsbG9yeTpoZWxsbw==")],
        ),
        (
            "password with colon",
            vec![("authorization", "Basic c3VzYW46aGVsbG86")],
        ),
        (
            "duplicate headers",
            vec![
                ("authorization", "Basic c3VzYW46aGVsbG8="),
                ("authorization", "Basic c3VzYW46aGVsbG8="),
            ],
        ),
    ];
    for (case, headers) in cases {
        let res = get_with(&app, "/api/me", &headers).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(res.headers[WWW_AUTHENTICATE], BASIC_CHALLENGE, "{case}");
        assert!(!res.body.contains("susan"), "{case}: no detail");
    }
    // Non-UTF-8 header bytes cannot even be written by `http` as a str; as bytes they are refused.
    let req = Request::get("/api/me")
        .header(
            AUTHORIZATION,
            http::HeaderValue::from_bytes(b"Basic \xff\xfe").unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&app, req, &Expect::default()).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn demo_api_token_me_with_bearer() {
    let app = demo::app(key());
    for value in [
        "Bearer susan-api-token",
        "bearer susan-api-token",
        "BEARER  susan-api-token ",
    ] {
        let res = get_with(&app, "/api/token/me", &[("authorization", value)]).await;
        assert_eq!(res.status, StatusCode::OK, "{value}");
        assert_eq!(res.body, r#"{"id":"user001","username":"susan"}"#);
    }
    let res = get_with(
        &app,
        "/api/token/me",
        &[("authorization", "Bearer david-api-token")],
    )
    .await;
    assert_eq!(res.body, r#"{"id":"user002","username":"david"}"#);

    let res = get_with(&app, "/api/token/me", &[]).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers[WWW_AUTHENTICATE],
        "Bearer realm=\"tower-session-auth demo\""
    );
    let invalid = "Bearer realm=\"tower-session-auth demo\", error=\"invalid_token\"";
    for value in [
        "Bearer wrong-token",
        "Bearer",
        "Bearer ",
        "Bearersusan-api-token",
        "Bearer susan-api-token extra",
        "Bearer susan-api-token,x",
        "Bearer susan\tapi-token",
    ] {
        let res = get_with(&app, "/api/token/me", &[("authorization", value)]).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{value}");
        assert_eq!(res.headers[WWW_AUTHENTICATE], invalid, "{value}");
    }
    // BEA-04: never from the query string.
    let res = get_with(&app, "/api/token/me?access_token=susan-api-token", &[]).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    // Basic credentials on a token route: 401 with the Bearer challenge.
    let res = get_with(
        &app,
        "/api/token/me",
        &[("authorization", &basic("susan", "hello"))],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let dup = [
        ("authorization", "Bearer susan-api-token"),
        ("authorization", "Bearer susan-api-token"),
    ];
    assert_eq!(
        get_with(&app, "/api/token/me", &dup).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[derive(Clone, Debug)]
struct Named(String);

impl AuthUser for Named {
    type Id = String;
    fn id(&self) -> String {
        self.0.clone()
    }
}

#[tokio::test]
async fn utf8_credentials_and_colons_reach_the_verifier() {
    let gate = AuthLayer::builder()
        .basic("test", |user, password| async move {
            Some(Named(format!("{user}|{password}")))
        })
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/",
            get(|CurrentUser(u): CurrentUser<Named>| async move { u.0 }),
        )
        .route_layer(gate);
    for (value, expected) in [
        ("Basic dGVzdDoxMjPCow==", "test|123£"),
        ("Basic dXNlcjpwYTpzcw==", "user|pa:ss"),
        ("Basic dXNlcjo=", "user|"),
        (&*basic("Zoë ✓", "日本:語"), "Zoë ✓|日本:語"),
    ] {
        let res = get_with(&app, "/", &[("authorization", value)]).await;
        assert_eq!(res.body, expected, "{value}");
    }
}

#[tokio::test]
async fn bea_02_api_key_header() {
    let gate = AuthLayer::builder()
        .bearer("keys", |token| async move {
            (token == "k-123").then(|| Named("svc".into()))
        })
        .token_header(HeaderName::from_static("x-api-key"))
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/",
            get(|CurrentUser(u): CurrentUser<Named>| async move { u.0 }),
        )
        .route_layer(gate);
    assert_eq!(
        get_with(&app, "/", &[("x-api-key", " k-123 ")]).await.body,
        "svc"
    );
    let res = get_with(&app, "/", &[("x-api-key", "k-124")]).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers[WWW_AUTHENTICATE],
        "Bearer realm=\"keys\", error=\"invalid_token\""
    );
    // In header mode `Authorization: Bearer` is not read.
    let res = get_with(&app, "/", &[("authorization", "Bearer k-123")]).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let dup = [("x-api-key", "k-123"), ("x-api-key", "k-123")];
    assert_eq!(
        get_with(&app, "/", &dup).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn one_gate_for_browsers_and_apis() {
    // The same routes accept a session login (browsers) or HTTP Basic (scripts).
    let gate = AuthLayer::builder()
        .user_loader(|id: String| async move { users::by_id(&id) })
        .basic("api", |u, p| async move { users::verify_password(&u, &p) })
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/data",
            get(|CurrentUser(u): CurrentUser<users::User>| async move { u.username }),
        )
        .route_layer(gate)
        .route(
            "/login",
            get(|s: SessionDict| async move {
                login_user(&s, &users::by_id("user002").unwrap(), false).unwrap()
            }),
        )
        .layer(SessionLayer::new(key()));
    let mut browser = Browser::new();
    let res = browser.get(&app, "/data").await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.location(), Some("/login?next=%2Fdata"));
    browser.get(&app, "/login").await;
    assert_eq!(browser.get(&app, "/data").await.body, "david");

    let res = get_with(
        &app,
        "/data",
        &[("authorization", &basic("susan", "hello"))],
    )
    .await;
    assert_eq!(res.body, "susan");
    let res = get_with(&app, "/data", &[("accept", "application/json")]).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers[WWW_AUTHENTICATE],
        "Basic realm=\"api\", charset=\"UTF-8\""
    );
    // Bad credentials are refused even with a valid session: what was presented is judged.
    let req = Request::get("/data")
        .header(
            "cookie",
            browser
                .jar
                .cookie_header(&"/data".parse().unwrap())
                .unwrap(),
        )
        .header("authorization", basic("susan", "wrong"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&app, req, &Expect::default()).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn realm_and_charset_are_checked() {
    let verify = |_u: String, _p: String| async { None::<Named> };
    assert!(AuthLayer::builder()
        .basic("bad\r\nrealm", verify)
        .build()
        .is_err());
    assert!(AuthLayer::builder()
        .basic("ok", verify)
        .basic_charset("UTF 8")
        .build()
        .is_err());
    assert!(AuthLayer::builder()
        .basic("say \"hi\"", verify)
        .build()
        .is_ok());
}

#[tokio::test]
async fn a_401_from_an_api_gate_has_a_short_body() {
    let app = demo::app(key());
    let res = get_with(&app, "/api/me", &[]).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers[WWW_AUTHENTICATE], BASIC_CHALLENGE);
    assert_eq!(res.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        res.body,
        "Authentication required: send credentials as WWW-Authenticate asks.\n"
    );
    let res = get_with(&app, "/api/me", &[("authorization", &basic("susan", "no"))]).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.body, "The credentials were refused.\n");
}

#[tokio::test]
async fn a_verifier_error_is_a_503_not_a_refusal() {
    #[derive(Debug)]
    struct Down;
    impl std::fmt::Display for Down {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("redis://:hunter2@cache unreachable")
        }
    }
    impl std::error::Error for Down {}

    let basic_gate = AuthLayer::builder()
        .basic("api", |_user, _password| async move {
            Err::<Option<users::User>, _>(Down)
        })
        .build()
        .unwrap();
    let token = AuthLayer::builder()
        .bearer("api", |_token| async move {
            Err::<Option<users::User>, _>(Down)
        })
        .build()
        .unwrap();
    let app = Router::new()
        .route("/basic", get(|| async { "x" }))
        .route_layer(basic_gate)
        .merge(
            Router::new()
                .route("/token", get(|| async { "x" }))
                .route_layer(token),
        )
        .layer(SessionLayer::new(key()));
    let session = common::pyjwt(r#"{"cart":"keep"}"#);
    for (path, credentials) in [
        ("/basic", basic("susan", "hello")),
        ("/token", "Bearer susan-api-token".to_owned()),
    ] {
        let res = get_with(
            &app,
            path,
            &[
                ("authorization", &credentials),
                ("cookie", &format!("session={session}")),
            ],
        )
        .await;
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(res.headers["retry-after"], "5");
        assert_eq!(res.headers["cache-control"], "no-store");
        assert!(res.headers.get(WWW_AUTHENTICATE).is_none(), "{path}");
        assert!(res.headers.get("set-cookie").is_none(), "{path}");
        assert!(!res.body.contains("hunter2"), "{}", res.body);
    }
}

/// A user type no gate is built for, for the extractors' messages.
#[derive(Clone)]
struct Other;

/// A gate for scripts only: HTTP Basic against the demo's users.
fn basic_only_gate() -> AuthLayer<users::User> {
    AuthLayer::builder()
        .basic("api", |u, p| async move { users::verify_password(&u, &p) })
        .build()
        .unwrap()
}

/// `res` is the extractors' `500` naming the gate built for `G`.
fn assert_names_gate<G>(res: &TestResponse) {
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    let gate = std::any::type_name::<G>();
    assert!(
        res.body.contains(&format!("built for `{gate}`")),
        "{}",
        res.body
    );
}

#[tokio::test]
async fn a_gate_without_a_session_layer_still_names_its_user_type() {
    // An API-only gate, with no `SessionLayer` to note its user type in: the extractor for
    // another type still names both.
    let app = Router::new()
        .route(
            "/other",
            get(|_: CurrentUser<Other>| async { "unreachable" }),
        )
        .route(
            "/me",
            get(|CurrentUser(u): CurrentUser<users::User>| async move { u.username }),
        )
        .route_layer(basic_only_gate());
    let auth = basic("susan", "hello");
    let res = get_with(&app, "/me", &[("authorization", &auth)]).await;
    assert_eq!((res.status, res.body.as_str()), (StatusCode::OK, "susan"));
    let res = get_with(&app, "/other", &[("authorization", &auth)]).await;
    assert_names_gate::<users::User>(&res);
    let other = std::any::type_name::<Other>();
    assert!(
        res.body.contains(&format!("`CurrentUser<{other}>`")),
        "{}",
        res.body
    );
}

#[tokio::test]
async fn the_nearest_gate_names_the_user_type() {
    // An API gate outside the `SessionLayer` notes its user type in an extension, an optional
    // session gate inside it in the session handle: the extractors answer for the inner one.
    let visitors = AuthLayer::builder()
        .user_loader(|id: String| async move { Some(Named(id)) })
        .optional(true)
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/maybe",
            get(|v: Option<CurrentUser<Named>>| async move { format!("{}", v.is_some()) }),
        )
        .route(
            "/other",
            get(|_: CurrentUser<Other>| async { "unreachable" }),
        )
        .route_layer(visitors)
        .layer(SessionLayer::new(key()))
        .layer(basic_only_gate());
    let auth = basic("susan", "hello");
    let res = get_with(&app, "/maybe", &[("authorization", &auth)]).await;
    assert_eq!((res.status, res.body.as_str()), (StatusCode::OK, "false"));
    let res = get_with(&app, "/other", &[("authorization", &auth)]).await;
    assert_names_gate::<Named>(&res);
}

#[tokio::test]
async fn a_gate_noted_behind_two_session_layers_is_still_named() {
    // A gate between two `SessionLayer`s: the inner layer's handle takes the outer one's note.
    let gate = AuthLayer::builder()
        .user_loader(|id: String| async move { users::by_id(&id) })
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/other",
            get(|_: CurrentUser<Other>| async { "unreachable" }),
        )
        .layer(SessionLayer::new(key()))
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
    assert_names_gate::<users::User>(&b.get(&app, "/other").await);
}
