//! Session lifecycle: idle and absolute timeouts with a fake clock, rolling re-issue, private
//! (encrypted) cookies, and key rotation across formats.

mod common;

use std::time::Duration;

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use common::{get_with_cookie, key, payload, pyjwt, send, Browser, Expect, FakeClock};
use serde_json::Value;
use tower_session_auth::{Key, SessionDict, SessionLayer};

const T0: u64 = 1_800_000_000;

fn app(layer: SessionLayer) -> Router {
    Router::new()
        .route(
            "/get/{key}",
            get(|s: SessionDict, Path(k): Path<String>| async move {
                s.get::<Value>(&k)
                    .unwrap()
                    .map_or("none".to_owned(), |v| v.to_string())
            }),
        )
        .route(
            "/set/{key}/{value}",
            get(
                |s: SessionDict, Path((k, v)): Path<(String, String)>| async move {
                    s.insert(&k, v).unwrap();
                },
            ),
        )
        .layer(layer)
}

#[tokio::test]
async fn ses_03_idle_timeout_at_its_boundary_and_rolling_refresh() {
    let clock = FakeClock::at(T0);
    let layer = SessionLayer::builder(key())
        .clock(clock.clone())
        .idle_timeout(Duration::from_secs(600))
        .absolute_timeout(None)
        .build()
        .unwrap();
    let app = app(layer);
    let mut b = Browser::new();
    b.get(&app, "/set/user/alice").await;
    let issued = b.jar.get("session").unwrap().to_owned();
    assert_eq!(payload(&issued)["exp"], T0 + 600);

    // Before half the idle period: read, no re-issue.
    clock.set(T0 + 299);
    let res = b.get(&app, "/get/user").await;
    assert_eq!(res.body, r#""alice""#);
    assert!(
        res.set_cookies.is_empty(),
        "no Set-Cookie before the refresh share"
    );
    // From half the idle period on: re-issued with a new idle deadline.
    clock.set(T0 + 300);
    let res = b.get(&app, "/get/user").await;
    let renewed = res.set_cookie("session").expect("rolling re-issue");
    assert_eq!(payload(renewed.value())["iat"], T0 + 300);
    assert_eq!(payload(renewed.value())["exp"], T0 + 900);

    // The old cookie, replayed: valid until its idle deadline, and not a second later
    // (SES-05: the server decides, whatever the browser keeps).
    let old = format!("session={issued}");
    clock.set(T0 + 599);
    assert_eq!(
        send(&app, get_with_cookie("/get/user", &old), &Expect::default())
            .await
            .body,
        r#""alice""#
    );
    clock.set(T0 + 600);
    assert_eq!(
        send(&app, get_with_cookie("/get/user", &old), &Expect::default())
            .await
            .body,
        "none"
    );
    // The renewed one lives on (and, half its idle period old, is renewed again).
    assert_eq!(b.get(&app, "/get/user").await.body, r#""alice""#);
    let last_issue = payload(b.jar.get("session").unwrap())["iat"]
        .as_u64()
        .unwrap();
    assert_eq!(last_issue, T0 + 600);
    clock.set(last_issue + 600);
    assert_eq!(
        b.get(&app, "/get/user").await.body,
        "none",
        "idle for the whole period"
    );
}

#[tokio::test]
async fn ses_04_absolute_timeout_is_not_extended_by_activity() {
    let clock = FakeClock::at(T0);
    let layer = SessionLayer::builder(key())
        .clock(clock.clone())
        .idle_timeout(Duration::from_secs(600))
        .absolute_timeout(Duration::from_secs(3600))
        .build()
        .unwrap();
    let app = app(layer);
    let mut b = Browser::new();
    b.get(&app, "/set/user/alice").await;
    // Busy every minute, writing too: still ends at login + 3600.
    for minute in 1..60 {
        clock.set(T0 + minute * 60);
        assert_eq!(
            b.get(&app, "/get/user").await.body,
            r#""alice""#,
            "minute {minute}"
        );
        b.get(&app, &format!("/set/minute/{minute}")).await;
    }
    clock.set(T0 + 3599);
    assert_eq!(b.get(&app, "/get/user").await.body, r#""alice""#);
    let last = b.jar.get("session").unwrap().to_owned();
    assert_eq!(
        payload(&last)["exp"],
        T0 + 3600,
        "exp is the absolute deadline once it is nearer"
    );
    assert_eq!(payload(&last)["_created"], T0);
    clock.set(T0 + 3600);
    assert_eq!(b.get(&app, "/get/user").await.body, "none");
}

#[tokio::test]
async fn timeouts_can_be_turned_off() {
    let clock = FakeClock::at(T0);
    let layer = SessionLayer::builder(key())
        .clock(clock.clone())
        .idle_timeout(None)
        .absolute_timeout(None)
        .claimless_sessions(true)
        .build()
        .unwrap();
    let app = app(layer);
    let mut b = Browser::new();
    b.get(&app, "/set/user/alice").await;
    assert!(!payload(b.jar.get("session").unwrap()).contains_key("exp"));
    clock.set(T0 + 10 * 365 * 86_400);
    let res = b.get(&app, "/get/user").await;
    assert_eq!(res.body, r#""alice""#);
    assert!(res.set_cookies.is_empty());
    // Claim-less Microdot cookies are then read without re-issue.
    let token = pyjwt(r#"{"user":"bob"}"#);
    let res = send(
        &app,
        get_with_cookie("/get/user", &format!("session={token}")),
        &Expect::default(),
    )
    .await;
    assert_eq!(res.body, r#""bob""#);
    assert!(res.set_cookies.is_empty());
}

#[test]
fn timeout_configuration_is_checked() {
    for share in [0.0, -1.0, 1.5, f64::NAN] {
        assert!(
            SessionLayer::builder(key())
                .refresh_share(share)
                .build()
                .is_err(),
            "{share}"
        );
    }
    assert!(SessionLayer::builder(key())
        .idle_timeout(Duration::ZERO)
        .build()
        .is_err());
    assert!(SessionLayer::builder(key())
        .absolute_timeout(Duration::from_secs(401 * 86_400))
        .build()
        .is_err());
}

#[tokio::test]
async fn aead_private_sessions_round_trip_and_hide_their_contents() {
    let layer = SessionLayer::builder(key()).private(true).build().unwrap();
    let app = app(layer);
    let mut b = Browser::new();
    b.get(&app, "/set/secret/hunter2").await;
    let value = b.jar.get("session").unwrap().to_owned();
    assert!(!value.contains('.'), "not a JWS");
    let raw =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &value).unwrap();
    assert!(
        !String::from_utf8_lossy(&raw).contains("hunter2"),
        "the contents are not readable"
    );
    assert_eq!(b.get(&app, "/get/secret").await.body, r#""hunter2""#);

    // The signed layer with the same key does not accept it, nor the private one a signed cookie.
    let signed = app_signed();
    assert_eq!(
        send(
            &signed,
            get_with_cookie("/get/secret", &format!("session={value}")),
            &Expect::default()
        )
        .await
        .body,
        "none"
    );
    let token = pyjwt(r#"{"secret":"x"}"#);
    assert_eq!(
        send(
            &app,
            get_with_cookie("/get/secret", &format!("session={token}")),
            &Expect::default()
        )
        .await
        .body,
        "none"
    );
}

fn app_signed() -> Router {
    app(SessionLayer::new(key()))
}

#[tokio::test]
async fn aead_02_a_private_value_cannot_move_to_another_cookie() {
    let mut b = Browser::new();
    b.get(
        &app(SessionLayer::builder(key()).private(true).build().unwrap()),
        "/set/role/admin",
    )
    .await;
    let value = b.jar.get("session").unwrap().to_owned();
    let other = app(SessionLayer::builder(key())
        .private(true)
        .cookie_name("other")
        .build()
        .unwrap());
    let res = send(
        &other,
        get_with_cookie("/get/role", &format!("other={value}")),
        &Expect::default(),
    )
    .await;
    assert_eq!(res.body, "none");
}

#[tokio::test]
async fn aead_05_private_sessions_still_expire() {
    let clock = FakeClock::at(T0);
    let layer = SessionLayer::builder(key())
        .private(true)
        .clock(clock.clone())
        .idle_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let app = app(layer);
    let mut b = Browser::new();
    b.get(&app, "/set/user/alice").await;
    clock.set(T0 + 59);
    assert_eq!(b.get(&app, "/get/user").await.body, r#""alice""#);
    let cookie = format!("session={}", b.jar.get("session").unwrap());
    clock.set(T0 + 59 + 60);
    assert_eq!(
        send(
            &app,
            get_with_cookie("/get/user", &cookie),
            &Expect::default()
        )
        .await
        .body,
        "none"
    );
}

#[tokio::test]
async fn rot_02_private_cookies_rotate_too() {
    let (k1, k2) = (Key::generate(), Key::generate());
    let mut b = Browser::new();
    b.get(
        &app(SessionLayer::builder(k1.clone())
            .private(true)
            .build()
            .unwrap()),
        "/set/user/alice",
    )
    .await;
    let rotated = app(SessionLayer::builder(k2.clone())
        .fallback_keys([k1])
        .private(true)
        .build()
        .unwrap());
    let res = b.get(&rotated, "/get/user").await;
    assert_eq!(res.body, r#""alice""#);
    let reissued = res
        .set_cookie("session")
        .expect("re-sealed under the current key")
        .value()
        .to_owned();
    let only_k2 = app(SessionLayer::builder(k2).private(true).build().unwrap());
    let res = send(
        &only_k2,
        get_with_cookie("/get/user", &format!("session={reissued}")),
        &Expect::default(),
    )
    .await;
    assert_eq!(res.body, r#""alice""#);
}

#[tokio::test]
async fn reserved_claim_names_are_refused() {
    let app = Router::new()
        .route(
            "/",
            get(|s: SessionDict| async move {
                ["exp", "iat", "nbf", "_created"]
                    .iter()
                    .map(|k| s.insert(k, 1).is_err().to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        )
        .layer(SessionLayer::new(key()));
    let res = send(
        &app,
        http::Request::get("/")
            .body(axum::body::Body::empty())
            .unwrap(),
        &Expect::default(),
    )
    .await;
    assert_eq!(res.body, "true,true,true,true");
}

/// IN-06: a session issued by a clock ahead of this layer's (another server's, or this one's
/// own while it reads a second slow) reads as no session until this clock reaches its `iat`, and
/// is left in place rather than deleted, so the login survives the difference. An expired one is
/// still deleted.
#[tokio::test]
async fn in_06_a_session_issued_by_a_clock_ahead_is_kept_until_it_is_valid() {
    let ahead = FakeClock::at(T0 + 1);
    let issuer = app(SessionLayer::builder(key())
        .clock(ahead.clone())
        .build()
        .unwrap());
    let mut b = Browser::new();
    b.get(&issuer, "/set/user/alice").await;
    let cookie = b.jar.get("session").unwrap().to_owned();
    assert_eq!(payload(&cookie)["iat"], T0 + 1);

    let clock = FakeClock::at(T0);
    let reader = app(SessionLayer::builder(key())
        .clock(clock.clone())
        .build()
        .unwrap());
    let early = read_user(&reader, &cookie).await;
    assert_eq!(early.body, "none");
    assert!(
        early.set_cookie("session").is_none(),
        "a not-yet-valid session is left in place: {:?}",
        early.set_cookies
    );

    clock.set(T0 + 1);
    let valid = read_user(&reader, &cookie).await;
    assert_eq!(valid.body, r#""alice""#);

    // Past its deadline it is deleted, as before.
    let exp = payload(&cookie)["exp"].as_u64().unwrap();
    clock.set(exp);
    let expired = read_user(&reader, &cookie).await;
    assert_eq!(expired.body, "none");
    assert_eq!(expired.set_cookie("session").unwrap().value(), "");
}

/// `GET /get/user` with only `session={cookie}`, from no browser (nothing kept between requests).
async fn read_user(app: &Router, cookie: &str) -> common::TestResponse {
    let req = get_with_cookie("/get/user", &format!("session={cookie}"));
    send(app, req, &Expect::default()).await
}
