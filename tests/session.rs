//! The session layer end to end: cookies in, cookies out, through an axum router and through a
//! plain tower service.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use common::{get_with_cookie, key, pyjwt, send, sign, Browser, Expect, FakeClock, SECRET};
use http::header::{CACHE_CONTROL, SET_COOKIE, VARY};
use http::{Request, Response, StatusCode};
use serde_json::Value;
use tower::ServiceExt;
use tower_session_auth::{ConfigError, Error, Key, SameSite, SessionDict, SessionLayer};

fn routes() -> Router {
    Router::new()
        .route(
            "/get/{key}",
            get(|s: SessionDict, Path(k): Path<String>| async move {
                match s.get::<Value>(&k).unwrap() {
                    Some(v) => v.to_string(),
                    None => "none".into(),
                }
            }),
        )
        .route(
            "/set/{key}/{value}",
            get(
                |s: SessionDict, Path((k, v)): Path<(String, String)>| async move {
                    s.insert(&k, v).unwrap();
                    "set"
                },
            ),
        )
        .route(
            "/len",
            get(|s: SessionDict| async move { s.len().to_string() }),
        )
        .route("/noop", get(|| async { "ok" }))
        .route(
            "/delete",
            get(|s: SessionDict| async move {
                s.delete();
                "deleted"
            }),
        )
        .route(
            "/delete-then-set",
            get(|s: SessionDict| async move {
                s.delete();
                s.insert("fresh", 1).unwrap();
                "ok"
            }),
        )
        .route(
            "/clear",
            get(|s: SessionDict| async move {
                s.clear();
                "cleared"
            }),
        )
        .route(
            "/big/{n}",
            get(|s: SessionDict, Path(n): Path<usize>| async move {
                match s.insert("big", "x".repeat(n)) {
                    Ok(()) => (StatusCode::OK, "stored".to_owned()),
                    Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                }
            }),
        )
}

fn app(layer: SessionLayer) -> Router {
    routes().layer(layer)
}

fn default_app() -> Router {
    app(SessionLayer::new(key()))
}

/// The default layer, but accepting sessions without time anchors, as Microdot writes them: the
/// fixtures signed with `pyjwt` are such sessions.
fn microdot_app() -> Router {
    app(SessionLayer::builder(key())
        .claimless_sessions(true)
        .build()
        .unwrap())
}

#[tokio::test]
async fn round_trip_through_the_cookie() {
    let app = default_app();
    let mut b = Browser::new();
    let res = b.get(&app, "/set/name/Zoë").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.set_cookie("session").is_some());
    assert_eq!(b.get(&app, "/get/name").await.body, r#""Zoë""#);
    b.get(&app, "/set/n2/x").await;
    assert_eq!(b.get(&app, "/get/name").await.body, r#""Zoë""#);
    assert_eq!(b.get(&app, "/len").await.body, "2");
}

#[tokio::test]
async fn ck_01_default_attributes_and_browser_session_lifetime() {
    let app = default_app();
    let mut b = Browser::new(); // audits Secure, HttpOnly, SameSite=Lax, Path=/, no Domain
    let res = b.get(&app, "/set/a/1").await;
    let c = res.set_cookie("session").unwrap();
    assert_eq!(
        c.max_age(),
        None,
        "CK-07: a browser-session cookie by default"
    );
    assert_eq!(c.expires(), None);
    assert_eq!(res.headers[CACHE_CONTROL], "no-store", "CK-09");
    assert_eq!(res.headers[VARY], "Cookie");
}

#[tokio::test]
async fn ck_07_persistent_max_age() {
    let layer = SessionLayer::builder(key())
        .max_age(std::time::Duration::from_secs(3600))
        .build()
        .unwrap();
    let res = Browser::new().get(&app(layer), "/set/a/1").await;
    let c = res.set_cookie("session").unwrap();
    assert_eq!(c.max_age(), Some(cookie::time::Duration::seconds(3600)));
}

#[tokio::test]
async fn no_set_cookie_unless_the_session_changed() {
    let app = default_app();
    let mut b = Browser::new();
    for uri in ["/noop", "/len", "/get/a"] {
        let res = b.get(&app, uri).await;
        assert!(
            res.headers.get(SET_COOKIE).is_none(),
            "{uri} without a cookie"
        );
    }
    b.get(&app, "/set/a/1").await;
    for uri in ["/noop", "/len", "/get/a", "/get/missing"] {
        let res = b.get(&app, uri).await;
        assert!(res.headers.get(SET_COOKIE).is_none(), "{uri} with a cookie");
        assert!(res.headers.get(CACHE_CONTROL).is_none(), "{uri}");
    }
    // Storing the value already there changes nothing: no Set-Cookie, the idle timer not reset.
    assert_eq!(b.get(&app, "/set/a/1").await.set_cookies.len(), 0);
    assert_eq!(b.get(&app, "/set/a/2").await.set_cookies.len(), 1);
}

#[tokio::test]
async fn bad_tokens_read_as_an_empty_session() {
    let app = default_app();
    let mut b = Browser::new();
    b.get(&app, "/set/user/alice").await;
    let good = b.jar.get("session").unwrap().to_owned();
    let (signed, sig) = good.rsplit_once('.').unwrap();
    let (header, payload) = signed.split_once('.').unwrap();
    let mut flipped = payload.to_owned().into_bytes();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let other_key = Key::generate();
    let forged = {
        let layer = SessionLayer::new(other_key);
        let res = Browser::new()
            .get(&app_with(layer), "/set/user/alice")
            .await;
        res.set_cookie("session").unwrap().value().to_owned()
    };
    let cases = [
        ("tampered payload", format!("{header}.{flipped}.{sig}")),
        ("truncated", good[..good.len() - 5].to_owned()),
        ("padded", format!("{good}=")),
        ("extra segment", format!("{good}.x")),
        ("wrong key", forged),
        ("alg none", format!("eyJhbGciOiJub25lIn0.{payload}.")),
        ("garbage", "%%%not a token%%%".to_owned()),
        ("emoji", "🍪".to_owned()),
    ];
    for (case, token) in cases {
        let res = send(
            &app,
            get_with_cookie("/get/user", &format!("session={token}")),
            &Expect::default(),
        )
        .await;
        assert_eq!(res.status, StatusCode::OK, "{case}");
        assert_eq!(res.body, "none", "{case}");
        // IN-06: the bad cookie is deleted.
        let removal = res
            .set_cookie("session")
            .unwrap_or_else(|| panic!("{case}: no removal"));
        assert_eq!(removal.value(), "", "{case}");
    }
}

fn app_with(layer: SessionLayer) -> Router {
    app(layer)
}

#[tokio::test]
async fn jwt_09_microdot_sessions_without_time_claims_are_accepted_and_reissued() {
    // What Microdot writes for `session['counter'] = 5; session['name'] = 'Zoë'`.
    let token = pyjwt(r#"{"counter": 5, "name": "Zo\u00eb", "nested": {"a": [1.5, null]}}"#);
    let clock = FakeClock::at(1_800_000_000);
    let app = app(SessionLayer::builder(key())
        .claimless_sessions(true)
        .clock(clock)
        .build()
        .unwrap());
    let res = send(
        &app,
        get_with_cookie("/get/nested", &format!("session={token}")),
        &Expect::default(),
    )
    .await;
    assert_eq!(res.body, r#"{"a":[1.5,null]}"#);
    // Re-issued at once with the crate's anchors set to now (a copied Microdot cookie thereby
    // gains one absolute period; documented).
    let reissued = res.set_cookie("session").expect("re-issued with anchors");
    let payload = reissued.value().split('.').nth(1).unwrap();
    let payload =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap();
    let map: serde_json::Map<String, Value> = serde_json::from_slice(&payload).unwrap();
    assert_eq!(map["_created"], 1_800_000_000u64);
    assert_eq!(map["iat"], 1_800_000_000u64);
    assert_eq!(
        map["exp"],
        1_800_000_000u64 + 30 * 60,
        "exp = the earlier deadline (idle)"
    );
    assert_eq!(map["counter"], 5);
}

#[tokio::test]
async fn jwt_09_strict_mode_refuses_sessions_without_anchors() {
    let clock = FakeClock::at(1_800_000_000);
    // Strict is the default.
    let strict = app(SessionLayer::builder(key())
        .clock(clock.clone())
        .build()
        .unwrap());
    let claimless = format!("session={}", pyjwt(r#"{"user":"alice"}"#));
    let res = send(
        &strict,
        get_with_cookie("/get/user", &claimless),
        &Expect::default(),
    )
    .await;
    assert_eq!(res.body, "none");
    // Authentic (a key holder, such as a Microdot service, wrote it): left in place.
    assert!(res.set_cookies.is_empty(), "{:?}", res.set_cookies);
    // Its own cookies have anchors and are read.
    let mut b = Browser::new();
    b.get(&strict, "/set/user/alice").await;
    assert_eq!(b.get(&strict, "/get/user").await.body, r#""alice""#);
    // Opted in, an anchorless cookie is accepted whenever it is replayed (documented).
    let lenient = app(SessionLayer::builder(key())
        .clock(clock.clone())
        .claimless_sessions(true)
        .build()
        .unwrap());
    clock.set(4_000_000_000);
    assert_eq!(
        send(
            &lenient,
            get_with_cookie("/get/user", &claimless),
            &Expect::default()
        )
        .await
        .body,
        r#""alice""#
    );
}

#[tokio::test]
async fn jwt_10_a_remember_token_is_not_a_session() {
    let token = pyjwt(r#"{"user_id":"user001","days":30,"exp":99999999999}"#);
    let res = send(
        &default_app(),
        get_with_cookie("/get/user_id", &format!("session={token}")),
        &Expect::default(),
    )
    .await;
    assert_eq!(res.body, "none");
}

#[tokio::test]
async fn ck_04_a_reissue_that_would_not_fit_is_skipped() {
    // A Microdot session just under the limit: re-issuing it with anchors would overflow.
    let mut n = 2900;
    let token = loop {
        let token = pyjwt(&format!(r#"{{"big":"{}"}}"#, "x".repeat(n)));
        if "session=".len() + token.len() > 4090 {
            break token;
        }
        n += 1;
    };
    let res = send(
        &microdot_app(),
        get_with_cookie("/get/big", &format!("session={token}")),
        &Expect::default(),
    )
    .await;
    assert!(res.body.len() > 2900, "the session is read");
    assert!(
        res.set_cookies.is_empty(),
        "no cookie the browser would drop"
    );
}

#[tokio::test]
async fn jwt_07_expired_session_is_anonymous() {
    let clock = FakeClock::at(1_800_000_000);
    let layer = SessionLayer::builder(key())
        .claimless_sessions(true)
        .clock(clock.clone())
        .build()
        .unwrap();
    let app = app(layer);
    let token = pyjwt(r#"{"user":"alice","exp":1800000100}"#);
    let cookie = format!("session={token}");
    let res = send(
        &app,
        get_with_cookie("/get/user", &cookie),
        &Expect::default(),
    )
    .await;
    assert_eq!(res.body, r#""alice""#);
    clock.set(1_800_000_100);
    let res = send(
        &app,
        get_with_cookie("/get/user", &cookie),
        &Expect::default(),
    )
    .await;
    assert_eq!(res.body, "none");
    // The crate's time claims are not part of the application's map.
    clock.set(1_800_000_000);
    let res = send(
        &app,
        get_with_cookie("/get/exp", &cookie),
        &Expect::default(),
    )
    .await;
    assert_eq!(res.body, "none");
}

#[tokio::test]
async fn ck_06_removal_repeats_path_and_domain() {
    for (path, domain) in [("/", None), ("/app", Some("example.com")), ("/a/b", None)] {
        let mut builder = SessionLayer::builder(key()).path(path);
        if let Some(d) = domain {
            builder = builder.domain(d);
        }
        let app = app(builder.build().unwrap());
        let path: &'static str = Box::leak(path.to_owned().into_boxed_str());
        let mut b = Browser {
            expect: Expect {
                secure: true,
                path,
                domain,
            },
            ..Browser::new()
        };
        let set = b.get(&app, "/set/a/1").await;
        assert!(set.set_cookie("session").is_some());
        let del = b.get(&app, "/delete").await;
        let removal = del.set_cookie("session").expect("removal cookie");
        assert_eq!(removal.value(), "");
        assert_eq!(removal.path(), Some(path)); // also audited
        assert_eq!(removal.domain(), domain);
        assert!(!b.jar.contains("session"));
        // Deleting again with no cookie still answers the explicit request.
        assert_eq!(b.get(&app, "/len").await.body, "0");
    }
}

#[tokio::test]
async fn ck_08_delete_then_set_is_one_set_cookie() {
    let app = default_app();
    let mut b = Browser::new();
    b.get(&app, "/set/a/1").await;
    let res = b.get(&app, "/delete-then-set").await; // the audit fails on two for one name
    assert_ne!(res.set_cookie("session").unwrap().value(), "");
    assert_eq!(b.get(&app, "/len").await.body, "1");
}

#[tokio::test]
async fn clear_removes_the_cookie() {
    let app = default_app();
    let mut b = Browser::new();
    b.get(&app, "/set/a/1").await;
    let res = b.get(&app, "/clear").await;
    assert_eq!(res.set_cookie("session").unwrap().value(), "");
    // Clearing an empty session with no cookie writes nothing.
    assert!(Browser::new()
        .get(&app, "/clear")
        .await
        .set_cookies
        .is_empty());
}

#[tokio::test]
async fn ck_04_no_silent_loss_over_4096_bytes() {
    let app = default_app();
    let mut b = Browser::new();
    b.get(&app, "/set/keep/me").await;
    // {"big":"x…","keep":"me"}: the largest n whose cookie is exactly 4096 bytes.
    let mut n = 2900;
    let exact = loop {
        let res = send(
            &app,
            get_with_cookie(
                &format!("/big/{n}"),
                b.jar
                    .cookie_header(&"/".parse().unwrap())
                    .unwrap()
                    .to_str()
                    .unwrap(),
            ),
            &Expect::default(),
        )
        .await;
        if res.status != StatusCode::OK {
            break n - 1;
        }
        n += 1;
    };
    let res = b.get(&app, &format!("/big/{exact}")).await;
    let c = res.set_cookie("session").unwrap();
    assert_eq!(
        c.name().len() + c.value().len(),
        4096,
        "the largest session fills the limit exactly"
    );
    let before = b.jar.get("session").unwrap().to_owned();
    let res = b.get(&app, &format!("/big/{}", exact + 1)).await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(res.body.contains("too large"), "{}", res.body);
    assert!(
        res.headers.get(SET_COOKIE).is_none(),
        "the browser keeps its cookie"
    );
    assert_eq!(b.jar.get("session").unwrap(), before);
    assert_eq!(b.get(&app, "/get/keep").await.body, r#""me""#);
}

#[tokio::test]
async fn in_02_duplicate_session_cookies() {
    let app = microdot_app();
    let valid = pyjwt(r#"{"user":"alice"}"#);
    let other = pyjwt(r#"{"user":"mallory"}"#);
    let invalid = sign(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"user":"eve"}"#,
        b"another secret of thirty-two bytes or so",
    );
    for header in [
        format!("session={valid}; session={invalid}"),
        format!("session={invalid}; session={valid}"),
    ] {
        let res = send(
            &app,
            get_with_cookie("/get/user", &header),
            &Expect::default(),
        )
        .await;
        assert_eq!(res.body, r#""alice""#, "{header}");
    }
    let both = format!("session={valid}; session={other}");
    let res = send(
        &app,
        get_with_cookie("/get/user", &both),
        &Expect::default(),
    )
    .await;
    assert_eq!(
        res.body, "none",
        "two valid sessions that disagree: anonymous"
    );
    // A conflict deletes nothing: a removal would hit this host's cookie and leave a cookie tossed
    // from a sibling domain in place, logging the victim into the attacker's session next time.
    let res = send(
        &app,
        get_with_cookie("/get/user", &both),
        &Expect::default(),
    )
    .await;
    assert!(
        res.set_cookies.is_empty(),
        "no deletion on a conflict: {:?}",
        res.set_cookies
    );
    for header in [
        format!("session={valid}; session={invalid}"),
        format!("session={invalid}; session={invalid}"),
    ] {
        let res = send(
            &app,
            get_with_cookie("/get/user", &header),
            &Expect::default(),
        )
        .await;
        assert!(
            res.set_cookie("session")
                .is_none_or(|c| !c.value().is_empty()),
            "{header}: no deletion with several cookies"
        );
    }
    // More than four cookies of the name: none is trusted, whatever their order.
    let tossed = format!(
        "session={other}; session={other}; session={other}; session={other}; session={valid}"
    );
    let res = send(
        &app,
        get_with_cookie("/get/user", &tossed),
        &Expect::default(),
    )
    .await;
    assert_eq!(res.body, "none", "tossed cookies ahead of the real one");
    assert!(res.set_cookies.is_empty());
    let same = format!("session={valid}; session={valid}");
    let res = send(
        &app,
        get_with_cookie("/get/user", &same),
        &Expect::default(),
    )
    .await;
    assert_eq!(res.body, r#""alice""#);
    // IN-01: the same across several Cookie headers.
    let req = Request::get("/get/user")
        .header("cookie", format!("a=1; session={invalid}"))
        .header("cookie", format!("session={valid}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req, &Expect::default()).await.body, r#""alice""#);
}

#[tokio::test]
async fn in_03_cookie_names_are_case_sensitive() {
    let layer = SessionLayer::builder(key())
        .claimless_sessions(true)
        .cookie_name("__Host-session")
        .build()
        .unwrap();
    let app = app(layer);
    let valid = pyjwt(r#"{"user":"alice"}"#);
    for name in ["__HOST-session", "session", "__host-session"] {
        let res = send(
            &app,
            get_with_cookie("/get/user", &format!("{name}={valid}")),
            &Expect::default(),
        )
        .await;
        assert_eq!(res.body, "none", "{name}");
    }
    let res = send(
        &app,
        get_with_cookie("/get/user", &format!("__Host-session={valid}")),
        &Expect::default(),
    )
    .await;
    assert_eq!(res.body, r#""alice""#);
}

#[test]
fn ck_02_ck_03_cookie_prefix_and_samesite_rules() {
    let bad = [
        (
            ConfigError::CookiePrefix,
            SessionLayer::builder(key())
                .cookie_name("__Host-s")
                .secure(false)
                .build(),
        ),
        (
            ConfigError::CookiePrefix,
            SessionLayer::builder(key())
                .cookie_name("__Host-s")
                .domain("site.example")
                .build(),
        ),
        (
            ConfigError::CookiePrefix,
            SessionLayer::builder(key())
                .cookie_name("__host-s")
                .path("/app")
                .build(),
        ),
        (
            ConfigError::CookiePrefix,
            SessionLayer::builder(key())
                .cookie_name("__HOST-s")
                .secure(false)
                .build(),
        ),
        (
            ConfigError::CookiePrefix,
            SessionLayer::builder(key())
                .cookie_name("__Secure-s")
                .secure(false)
                .build(),
        ),
        (
            ConfigError::CookiePrefix,
            SessionLayer::builder(key())
                .cookie_name("__secure-s")
                .secure(false)
                .build(),
        ),
        (
            ConfigError::CookiePrefix,
            SessionLayer::builder(key())
                .remember_cookie_name("__Host-r")
                .path("/x")
                .build(),
        ),
        (
            ConfigError::SameSiteNoneWithoutSecure,
            SessionLayer::builder(key())
                .same_site(SameSite::None)
                .secure(false)
                .build(),
        ),
        (
            ConfigError::CookieName,
            SessionLayer::builder(key()).cookie_name("bad name").build(),
        ),
        (
            ConfigError::CookieName,
            SessionLayer::builder(key()).cookie_name("").build(),
        ),
        (
            ConfigError::CookieName,
            SessionLayer::builder(key()).cookie_name("a;b").build(),
        ),
        (
            ConfigError::Path,
            SessionLayer::builder(key())
                .path("/a; Domain=evil.example")
                .build(),
        ),
        (
            ConfigError::Path,
            SessionLayer::builder(key()).path("relative").build(),
        ),
        (
            ConfigError::Domain,
            SessionLayer::builder(key()).domain("a b").build(),
        ),
        (
            ConfigError::SameCookieNames,
            SessionLayer::builder(key())
                .remember_cookie_name("session")
                .build(),
        ),
        (
            ConfigError::MaxAge,
            SessionLayer::builder(key())
                .max_age(std::time::Duration::from_secs(401 * 86_400))
                .build(),
        ),
    ];
    for (rule, result) in bad {
        match result {
            Err(Error::InvalidConfig(refused)) => assert_eq!(refused, rule),
            other => panic!("expected {rule:?}, got {other:?}"),
        }
    }
    let good = [
        SessionLayer::builder(key())
            .cookie_name("__Host-session")
            .build(),
        SessionLayer::builder(key())
            .cookie_name("__Secure-session")
            .domain("site.example")
            .build(),
        SessionLayer::builder(key())
            .same_site(SameSite::None)
            .build(),
        SessionLayer::builder(key()).secure(false).build(),
    ];
    for (i, result) in good.into_iter().enumerate() {
        assert!(result.is_ok(), "case {i}");
    }
}

#[tokio::test]
async fn rot_01_02_03_rotation_with_fallback_keys() {
    let (k1, k2) = (Key::generate(), Key::generate());
    let mut b = Browser::new();
    let old = app(SessionLayer::new(k1.clone()));
    b.get(&old, "/set/user/alice").await;
    let k1_cookie = b.jar.get("session").unwrap().to_owned();

    let rotated = app(SessionLayer::builder(k2.clone())
        .fallback_keys([k1.clone()])
        .build()
        .unwrap());
    let res = b.get(&rotated, "/get/user").await;
    assert_eq!(res.body, r#""alice""#, "a fallback key still verifies");
    let reissued = res
        .set_cookie("session")
        .expect("ROT-02: re-issued under the current key");
    // ROT-01: it verifies under K2 alone and not under K1 alone.
    let only_k2 = app(SessionLayer::new(k2.clone()));
    let only_k1 = app(SessionLayer::new(k1.clone()));
    let cookie = format!("session={}", reissued.value());
    assert_eq!(
        send(
            &only_k2,
            get_with_cookie("/get/user", &cookie),
            &Expect::default()
        )
        .await
        .body,
        r#""alice""#
    );
    assert_eq!(
        send(
            &only_k1,
            get_with_cookie("/get/user", &cookie),
            &Expect::default()
        )
        .await
        .body,
        "none"
    );
    // Once re-issued, no more re-issues.
    assert!(b.get(&rotated, "/get/user").await.set_cookies.is_empty());
    // ROT-03: a removed key's cookies are refused at once.
    let res = send(
        &only_k2,
        get_with_cookie("/get/user", &format!("session={k1_cookie}")),
        &Expect::default(),
    )
    .await;
    assert_eq!(res.body, "none");
}

#[tokio::test]
async fn typed_access_reserved_keys_and_debug() {
    let token = pyjwt(r#"{"n":5,"s":"text","_user_id":"u1","secret":"hunter2"}"#);
    let layer = SessionLayer::builder(key())
        .claimless_sessions(true)
        .build()
        .unwrap();
    let svc = layer_service(layer, |session: SessionDict| {
        assert_eq!(session.get::<u32>("n").unwrap(), Some(5));
        assert!(
            matches!(session.get::<u32>("s"), Err(Error::Deserialize)),
            "a type mismatch is an error"
        );
        assert_eq!(session.get::<u32>("missing").unwrap(), None);
        assert_eq!(
            session.get::<String>("_user_id").unwrap().as_deref(),
            Some("u1")
        );
        assert!(matches!(
            session.insert("_user_id", "u2"),
            Err(Error::ReservedKey)
        ));
        assert!(matches!(
            session.remove::<Value>("_fresh"),
            Err(Error::ReservedKey)
        ));
        assert!(session.contains_key("s"));
        assert_eq!(session.keys(), ["_user_id", "n", "s", "secret"]);
        assert_eq!(session.remove::<Value>("n").unwrap(), Some(Value::from(5)));
        assert_eq!(session.len(), 3);
        assert!(!session.is_empty());
        let debug = format!("{session:?}");
        assert!(
            !debug.contains("hunter2") && debug.contains("secret"),
            "{debug}"
        );
    });
    let res = send(
        &svc,
        get_with_cookie("/", &format!("session={token}")),
        &Expect::default(),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.set_cookies.len(), 1, "the removal of `n` is written");
}

/// A plain tower service (no axum routing) that runs `check` on the request's session.
fn layer_service(
    layer: SessionLayer,
    check: impl Fn(SessionDict) + Clone + Send + 'static,
) -> impl tower::Service<
    Request<Body>,
    Response = Response<Body>,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone {
    tower::ServiceBuilder::new()
        .layer(layer)
        .service_fn(move |req: Request<Body>| {
            let check = check.clone();
            async move {
                check(
                    req.extensions()
                        .get::<SessionDict>()
                        .expect("SessionLayer adds it")
                        .clone(),
                );
                Ok::<_, std::convert::Infallible>(Response::new(Body::empty()))
            }
        })
}

#[tokio::test]
async fn app_cache_control_is_kept() {
    let app = Router::new()
        .route(
            "/",
            get(|s: SessionDict| async move {
                s.insert("a", 1).unwrap();
                ([(CACHE_CONTROL, "private, max-age=0")], "ok")
            }),
        )
        .layer(SessionLayer::new(key()));
    let res = send(
        &app,
        Request::get("/").body(Body::empty()).unwrap(),
        &Expect::default(),
    )
    .await;
    assert_eq!(res.headers[CACHE_CONTROL], "private, max-age=0");
}

#[tokio::test]
async fn extractor_without_the_layer_names_it() {
    let app: Router = routes();
    let res = app
        .oneshot(Request::get("/len").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(body.contains("SessionLayer"), "{body}");
}

#[test]
fn key_05_config_debug_shows_no_secret() {
    let layer = SessionLayer::new(key());
    let shown = format!("{layer:?}");
    assert!(
        !shown.contains(std::str::from_utf8(&SECRET[..10]).unwrap()),
        "{shown}"
    );
}

#[tokio::test]
async fn a_handle_kept_past_the_response_still_gets_its_cookie() {
    // The response writer commits without the session's lock when it holds the last handle; a
    // handler that keeps one (a task it spawned, here a list) takes the locked path. Both write
    // the same changes.
    let kept: Arc<std::sync::Mutex<Vec<SessionDict>>> = Arc::default();
    let (keeper, peeker) = (Arc::clone(&kept), Arc::clone(&kept));
    let app = Router::new()
        .route(
            "/peek",
            get(move |s: SessionDict| async move {
                let value = s.get::<String>("kept").unwrap().unwrap_or_default();
                peeker.lock().unwrap().push(s);
                value
            }),
        )
        .route(
            "/keep/{value}",
            get(move |s: SessionDict, Path(value): Path<String>| {
                let keeper = Arc::clone(&keeper);
                async move {
                    s.insert("kept", &value).unwrap();
                    keeper.lock().unwrap().push(s);
                }
            }),
        )
        .route(
            "/drop/{value}",
            get(|s: SessionDict, Path(value): Path<String>| async move {
                s.insert("dropped", &value).unwrap();
            }),
        )
        .route(
            "/get/{key}",
            get(|s: SessionDict, Path(key): Path<String>| async move {
                s.get::<String>(&key).unwrap().unwrap_or_default()
            }),
        )
        .layer(SessionLayer::new(key()));
    let mut b = Browser::new();
    let res = b.get(&app, "/keep/a").await;
    assert!(res.set_cookie("session").is_some(), "{:?}", res.set_cookies);
    assert_eq!(kept.lock().unwrap().len(), 1);
    let res = b.get(&app, "/drop/b").await;
    assert!(res.set_cookie("session").is_some(), "{:?}", res.set_cookies);
    assert_eq!(b.get(&app, "/get/kept").await.body, "a");
    assert_eq!(b.get(&app, "/get/dropped").await.body, "b");
    // A read through a kept handle writes no cookie, as through a dropped one.
    let res = b.get(&app, "/peek").await;
    assert_eq!(res.body, "a");
    assert!(res.set_cookie("session").is_none(), "{:?}", res.set_cookies);
    assert_eq!(kept.lock().unwrap().len(), 2);
}
