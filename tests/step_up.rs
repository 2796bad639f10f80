//! Time-bounded fresh logins (`fresh_within`): at the boundary with the fake clock, bound to the
//! user id (a Microdot-side login of another user never inherits the time), RFC 9470 challenges
//! for API clients, and re-authentication that keeps the session's data.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::extract::Query;
use axum::routing::get;
use axum::Router;
use common::{key, payload, pyjwt};
use http::header::WWW_AUTHENTICATE;
use http::{Request, StatusCode};
use tower_session_auth::{
    is_fresh_within, login_user, AuthLayer, AuthUser, CookieJar, CurrentUser, FakeClock, Reason,
    SessionDict, SessionLayer, TestClient,
};

const T0: u64 = 1_700_000_000;
const FIVE_MINUTES: Duration = Duration::from_secs(300);

#[derive(Clone, Debug)]
struct User {
    id: u64,
}

impl AuthUser for User {
    type Id = u64;
    fn id(&self) -> u64 {
        self.id
    }
}

#[derive(serde::Deserialize)]
struct LoginQuery {
    id: u64,
    remember: Option<bool>,
}

/// `/login?id=N` logs user N in (as a login form would after checking the password); `/cart`
/// puts something in the session; `/` needs a login, `/fresh` a fresh one, `/step-up` one made
/// within five minutes; `/recent` answers `is_fresh_within` without a gate.
fn app(clock: &FakeClock) -> Router {
    let sessions = SessionLayer::builder(key())
        .clock(clock.clone())
        .claimless_sessions(true)
        .build()
        .unwrap();
    let gate = AuthLayer::builder()
        .user_loader(|id: u64| async move { (id < 10).then_some(User { id }) })
        .build()
        .unwrap();
    let fresh = gate.clone().into_builder().fresh(true).build().unwrap();
    let step_up = gate
        .clone()
        .into_builder()
        .fresh_within(FIVE_MINUTES)
        .build()
        .unwrap();
    let who = |u: CurrentUser<User>, s: SessionDict| async move {
        let cart = s.get::<String>("cart").unwrap().unwrap_or_default();
        format!("user {} cart [{cart}]", u.id)
    };
    Router::new()
        .route("/", get(who).route_layer(gate))
        .route("/fresh", get(who).route_layer(fresh))
        .route("/step-up", get(who).route_layer(step_up))
        .route(
            "/login",
            get(|s: SessionDict, Query(q): Query<LoginQuery>| async move {
                login_user(&s, &User { id: q.id }, q.remember.unwrap_or(false)).unwrap();
                "logged in"
            }),
        )
        .route(
            "/cart",
            get(|s: SessionDict| async move { s.insert("cart", "book").unwrap() }),
        )
        .route(
            "/recent",
            get(|s: SessionDict| async move { is_fresh_within(&s, FIVE_MINUTES).to_string() }),
        )
        .layer(sessions)
}

fn client(app: &Router, clock: &FakeClock) -> TestClient<Router> {
    TestClient::new(app.clone()).with_jar(CookieJar::new().with_clock(clock.clone()))
}

#[tokio::test]
async fn fresh_within_holds_at_its_boundary_and_not_a_second_after() {
    let clock = FakeClock::at(T0);
    let app = app(&clock);
    let mut b = client(&app, &clock);
    b.get("/login?id=1").await;
    assert_eq!(b.get("/step-up").await.status, StatusCode::OK);
    assert_eq!(b.get("/recent").await.text(), "true");

    clock.set(T0 + 300);
    assert_eq!(
        b.get("/step-up").await.status,
        StatusCode::OK,
        "exactly 300 s"
    );
    assert_eq!(b.get("/recent").await.text(), "true");

    clock.set(T0 + 301);
    let res = b.get("/step-up").await;
    assert_eq!(res.status, StatusCode::FOUND, "301 s");
    assert_eq!(res.location(), Some("/login?next=%2Fstep-up"));
    assert_eq!(b.get("/recent").await.text(), "false");
    // Still logged in, and still fresh in the boolean sense: only the time limit refuses.
    assert_eq!(b.get("/").await.status, StatusCode::OK);
    assert_eq!(b.get("/fresh").await.status, StatusCode::OK);
}

/// The window is judged by the clock when it is asked, not when the request began: a
/// long-running handler (a stream, an upload) that asks again after the window sees it closed.
#[tokio::test]
async fn fresh_within_is_judged_when_asked_in_a_long_request() {
    let clock = FakeClock::at(T0);
    let sessions = SessionLayer::builder(key())
        .clock(clock.clone())
        .build()
        .unwrap();
    let later = clock.clone();
    let app = Router::new()
        .route(
            "/login",
            get(|s: SessionDict| async move {
                login_user(&s, &User { id: 1 }, false).unwrap();
                "logged in"
            }),
        )
        .route(
            "/long",
            get(move |s: SessionDict| async move {
                let before = is_fresh_within(&s, FIVE_MINUTES);
                later.advance(Duration::from_secs(301));
                format!("{before} {}", is_fresh_within(&s, FIVE_MINUTES))
            }),
        )
        .layer(sessions);
    let mut b = client(&app, &clock);
    b.get("/login").await;
    assert_eq!(b.get("/long").await.text(), "true false");
}

#[tokio::test]
async fn api_clients_get_an_rfc_9470_challenge_with_max_age() {
    let clock = FakeClock::at(T0);
    let app = app(&clock);
    let mut b = client(&app, &clock);
    b.get("/login?id=1").await;
    clock.set(T0 + 301);
    let req = Request::get("/step-up")
        .header("accept", "application/json")
        .body(Body::empty())
        .unwrap();
    let res = b.send(req).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers[WWW_AUTHENTICATE],
        "Session error=\"insufficient_user_authentication\", \
         error_description=\"A more recent login is required\", max_age=\"300\""
    );
    // The boolean fresh gate says the same without a time limit.
    b.jar.remove("session");
    b.get("/login?id=1&remember=true").await;
    b.jar.remove("session");
    let req = Request::get("/fresh")
        .header("accept", "application/json")
        .body(Body::empty())
        .unwrap();
    let res = b.send(req).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers[WWW_AUTHENTICATE],
        "Session error=\"insufficient_user_authentication\", \
         error_description=\"A more recent login is required\""
    );
}

#[tokio::test]
async fn re_authenticating_keeps_the_session_and_its_data() {
    let clock = FakeClock::at(T0);
    let app = app(&clock);
    let mut b = client(&app, &clock);
    b.get("/login?id=1").await;
    b.get("/cart").await;
    clock.set(T0 + 600); // past the step-up limit, within the idle timeout
    assert_eq!(b.get("/step-up").await.status, StatusCode::FOUND);
    // Another tab keeps the cookie of before the re-authentication.
    let mut other_tab = client(&app, &clock);
    other_tab.jar = b.jar.clone();

    b.get("/login?id=1").await;
    let res = b.get("/step-up").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.text(), "user 1 cart [book]", "the data stayed");
    assert_eq!(other_tab.get("/").await.text(), "user 1 cart [book]");
}

#[tokio::test]
async fn a_remembered_login_never_counts_as_recent() {
    let clock = FakeClock::at(T0);
    let app = app(&clock);
    let mut b = client(&app, &clock);
    b.get("/login?id=1&remember=true").await;
    b.jar.remove("session"); // the browser restarts at once
    assert_eq!(b.get("/").await.status, StatusCode::OK);
    assert_eq!(b.get("/step-up").await.status, StatusCode::FOUND);
    assert_eq!(b.get("/recent").await.text(), "false");
}

/// Microdot's `login_user` writes `_user_id` and `_fresh` and keeps the session's other keys: the
/// login time of the earlier user stays in the session, bound to that user's id, and the new user
/// does not inherit it.
#[tokio::test]
async fn a_microdot_login_of_another_user_does_not_inherit_the_login_time() {
    let clock = FakeClock::at(T0);
    let app = app(&clock);
    let mut b = client(&app, &clock);
    b.get("/login?id=1").await;
    assert_eq!(b.get("/step-up").await.status, StatusCode::OK);

    // What Microdot's login of user 2 leaves in the same session.
    let mut session = payload(b.jar.get("session").unwrap());
    assert_eq!(session["_auth_time"]["user_id"], 1);
    session.insert("_user_id".into(), 2.into());
    session.insert("_fresh".into(), true.into());
    for claim in ["exp", "iat", "nbf"] {
        session.remove(claim);
    }
    b.jar.insert(
        "session",
        pyjwt(&serde_json::Value::Object(session).to_string()),
    );
    assert_eq!(b.get("/").await.text(), "user 2 cart []");
    assert_eq!(
        b.get("/fresh").await.status,
        StatusCode::OK,
        "Microdot's `_fresh`"
    );
    let res = b.get("/step-up").await;
    assert_eq!(
        res.status,
        StatusCode::FOUND,
        "user 1's login time is not user 2's"
    );
    assert_eq!(b.get("/recent").await.text(), "false");

    // A login of user 2 through the crate stamps user 2's own time.
    b.get("/login?id=2").await;
    assert_eq!(b.get("/step-up").await.text(), "user 2 cart []");
}

/// The gate's reason for a login that is too old is `NotFresh`, in the response's extensions.
#[tokio::test]
async fn the_reason_is_not_fresh() {
    use tower::ServiceExt;
    let clock = FakeClock::at(T0);
    let app = app(&clock);
    let mut b = client(&app, &clock);
    b.get("/login?id=1").await;
    clock.set(T0 + 301);
    let req = Request::get("/step-up")
        .header(
            "cookie",
            b.jar.cookie_header(&"/step-up".parse().unwrap()).unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.extensions().get::<Reason>(), Some(&Reason::NotFresh));
}
