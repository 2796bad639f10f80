//! Flash messages: kept in the session across a redirect, consumed once, and only by a handler
//! that takes them; with the axum extractor and without axum.

mod common;

use std::convert::Infallible;

use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use common::{audited, key, Expect};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower_session_auth::{
    login_user, logout_user, AuthUser, Flash, FlashMessage, Level, SessionDict, SessionLayer,
    TestClient,
};

#[derive(Clone)]
struct User(u64);

impl AuthUser for User {
    type Id = u64;
    fn id(&self) -> u64 {
        self.0
    }
}

/// `POST /save` adds two messages and redirects to `/show`, which takes and lists them;
/// `/counter` changes the session without taking them; `/login/N` and `/logout`.
fn app() -> Router {
    let app = Router::new()
        .route(
            "/save",
            post(|flash: Flash| async move {
                flash.success("Saved.").unwrap();
                flash.warning("Check the <date>.").unwrap();
                (StatusCode::SEE_OTHER, [("location", "/show")])
            }),
        )
        .route(
            "/show",
            get(|flash: Flash| async move {
                flash
                    .take()
                    .iter()
                    .map(|m| format!("{}:{}", m.level, m.text))
                    .collect::<Vec<_>>()
                    .join("|")
            }),
        )
        .route(
            "/counter",
            get(|s: SessionDict| async move {
                let n = s.get::<u64>("n").unwrap().unwrap_or(0) + 1;
                s.insert("n", n).unwrap();
                n.to_string()
            }),
        )
        .route(
            "/login/{id}",
            get(
                |s: SessionDict, axum::extract::Path(id): axum::extract::Path<u64>| async move {
                    login_user(&s, &User(id), false).unwrap();
                    Flash::new(&s)
                        .success(format!("Welcome back, {id}"))
                        .unwrap();
                },
            ),
        )
        .route(
            "/logout",
            get(|s: SessionDict| async move {
                logout_user(&s);
                Flash::new(&s).info("You have been logged out").unwrap();
            }),
        )
        .route(
            "/note",
            get(|s: SessionDict| async move { Flash::new(&s).error("Planted.").unwrap() }),
        )
        .layer(SessionLayer::builder(key()).build().unwrap());
    audited(app, Expect::default())
}

#[tokio::test]
async fn messages_survive_the_redirect_and_are_shown_once() {
    let mut b = TestClient::new(app());
    let res = b.post_form("/save", "").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = b.get(res.location().unwrap()).await;
    assert_eq!(res.text(), "success:Saved.|warning:Check the <date>.");
    assert_eq!(b.get("/show").await.text(), "", "consumed once");
}

#[tokio::test]
async fn a_request_that_does_not_take_them_leaves_them() {
    let mut b = TestClient::new(app());
    b.post_form("/save", "").await;
    // A parallel request of the same page (a `fetch`) that reads and writes the session, but
    // takes no messages: the cookie it writes back still holds them.
    let mut xhr = TestClient::new(app());
    xhr.jar = b.jar.clone();
    assert_eq!(xhr.get("/counter").await.text(), "1");
    assert_eq!(xhr.get("/counter").await.text(), "2");
    let res = xhr.get("/show").await;
    assert_eq!(res.text(), "success:Saved.|warning:Check the <date>.");
    // The other tab's cookie still holds them too: they go only where they were taken.
    assert_eq!(
        b.get("/show").await.text(),
        "success:Saved.|warning:Check the <date>."
    );
}

#[tokio::test]
async fn a_logout_message_survives_the_logout_and_a_login_of_another_user_drops_old_ones() {
    let mut b = TestClient::new(app());
    b.get("/login/1").await;
    assert_eq!(b.get("/show").await.text(), "success:Welcome back, 1");
    b.get("/logout").await;
    assert_eq!(b.get("/show").await.text(), "info:You have been logged out");
    assert_eq!(b.get("/show").await.text(), "");

    // A message waiting from before a login of another user is not theirs to see.
    b.get("/note").await;
    b.get("/login/2").await;
    assert_eq!(b.get("/show").await.text(), "success:Welcome back, 2");
}

#[tokio::test]
async fn the_key_is_the_crates_and_a_foreign_value_reads_as_no_messages() {
    let session_layer = SessionLayer::builder(key())
        .claimless_sessions(true)
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/",
            get(|s: SessionDict| async move {
                let refused = s.insert("_flash", "x").is_err();
                let present = s.contains_key("_flash");
                let messages = Flash::new(&s).take();
                format!("{refused} {present} {}", messages.len())
            }),
        )
        .layer(session_layer);
    let mut b = TestClient::new(app);
    // A session whose `_flash` is not a list of messages (written by another program).
    b.jar
        .insert("session", common::pyjwt(r#"{"_flash":"not a list"}"#));
    assert_eq!(b.get("/").await.text(), "true true 0");
}

/// Without axum: `Flash::new` on the request's `SessionDict`, in a plain tower service.
#[tokio::test]
async fn flash_without_axum() {
    let service = tower::ServiceBuilder::new()
        .layer(SessionLayer::builder(key()).build().unwrap())
        .service_fn(|req: Request<Full<Bytes>>| async move {
            let flash = Flash::new(req.extensions().get::<SessionDict>().unwrap());
            let body = if req.uri().path() == "/add" {
                flash.push(Level::Error, "Payment refused.").unwrap();
                String::new()
            } else {
                serde_json::to_string(&flash.take()).unwrap()
            };
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
        });
    let mut b = TestClient::new(service);
    b.get("/add").await;
    let messages: Vec<FlashMessage> = serde_json::from_slice(&b.get("/take").await.body).unwrap();
    assert_eq!(
        messages,
        [FlashMessage {
            level: Level::Error,
            text: "Payment refused.".into()
        }]
    );
    assert_eq!(b.get("/take").await.text(), "[]");
}
