//! Key rotation with session auth hashes, remember-me lifetimes and prefixes, what a login keeps,
//! and sessions shared with Microdot (claim-less, untagged, or JSON this crate cannot read).

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use http::StatusCode;
use serde_json::Value;
use tower_session_auth::{
    login_user, AuthLayer, ConfigError, CurrentUser, Error, Key, SessionDict, SessionLayer,
    SessionLayerBuilder,
};

use common::{key, payload, pyjwt, Browser, FakeClock, Member};

const T0: u64 = 1_800_000_000;
const DAY: u64 = 86_400;

type Store = Arc<Mutex<HashMap<u64, Member>>>;

fn store() -> Store {
    let store: Store = Arc::default();
    for id in [7, 8] {
        store.lock().unwrap().insert(
            id,
            Member {
                id,
                hash: format!("hash-of-{id}").into_bytes(),
            },
        );
    }
    store
}

/// `/` is gated and answers the user's id; `/login/{id}` logs `id` in with remember-me;
/// `/note/{text}` stores a note, `/note` reads it.
fn app(layer: SessionLayer, store: &Store) -> Router {
    let loader_store = store.clone();
    let login_store = store.clone();
    let gate = AuthLayer::builder()
        .user_loader(move |id: u64| {
            let store = loader_store.clone();
            async move { store.lock().unwrap().get(&id).cloned() }
        })
        .build()
        .unwrap();
    Router::new()
        .route(
            "/",
            get(|CurrentUser(m): CurrentUser<Member>| async move { m.id.to_string() }),
        )
        .route_layer(gate)
        .route(
            "/login/{id}",
            get(move |s: SessionDict, Path(id): Path<u64>| {
                let member = login_store.lock().unwrap()[&id].clone();
                async move { login_user(&s, &member, true).unwrap() }
            }),
        )
        .route(
            "/note/{text}",
            get(|s: SessionDict, Path(text): Path<String>| async move {
                s.insert("note", text).unwrap()
            }),
        )
        .route(
            "/note",
            get(|s: SessionDict| async move {
                s.get::<String>("note")
                    .unwrap()
                    .unwrap_or_else(|| "none".into())
            }),
        )
        .layer(layer)
}

fn builder(key: Key, clock: &FakeClock) -> SessionLayerBuilder {
    SessionLayer::builder(key)
        .clock(clock.clone())
        .absolute_timeout(None)
        .idle_timeout(None)
}

#[tokio::test]
async fn rot_05_a_user_who_came_back_during_a_rotation_stays_logged_in() {
    let (old, new) = (Key::generate(), Key::generate());
    let clock = FakeClock::at(T0);
    let users = store();
    let before = app(builder(old.clone(), &clock).build().unwrap(), &users);
    let mut b = Browser::new();
    b.get(&before, "/login/7").await;
    assert_eq!(b.get(&before, "/").await.body, "7");

    // The new key signs; the old one still verifies. The user comes back once.
    let rotating = app(
        builder(new.clone(), &clock)
            .fallback_keys([old])
            .build()
            .unwrap(),
        &users,
    );
    let res = b.get(&rotating, "/").await;
    assert_eq!(res.body, "7");
    assert!(
        res.set_cookie("session").is_some(),
        "re-signed and re-tagged"
    );
    assert!(
        res.set_cookie("_remember").is_some(),
        "the remember-me cookie too"
    );

    // The fallback is removed: the session and the remember-me cookie both still work.
    let after = app(builder(new, &clock).build().unwrap(), &users);
    assert_eq!(b.get(&after, "/").await.body, "7", "the session");
    let remember_after_rotation = b.jar.get("_remember").unwrap().to_owned();
    let mut remembered = Browser::new();
    remembered
        .jar
        .insert("_remember", remember_after_rotation.clone());
    assert_eq!(
        remembered.get(&after, "/").await.body,
        "7",
        "the remember-me cookie"
    );
    // And the auth hash still revokes them.
    users.lock().unwrap().get_mut(&7).unwrap().hash = b"changed".to_vec();
    assert_eq!(b.get(&after, "/").await.status, StatusCode::FOUND);
    let mut remembered = Browser::new();
    remembered.jar.insert("_remember", remember_after_rotation);
    assert_eq!(remembered.get(&after, "/").await.status, StatusCode::FOUND);
}

#[tokio::test]
async fn rem_08_a_remember_cookie_ends_days_after_the_login_however_often_used() {
    let clock = FakeClock::at(T0);
    let users = store();
    let app = app(builder(key(), &clock).build().unwrap(), &users);
    let mut b = Browser::new();
    b.get(&app, "/login/7").await; // 30 days
    let mut latest = b.jar.get("_remember").unwrap().to_owned();
    // Used every ten days from a browser that has only the remember-me cookie: each restore
    // re-issues it, never for longer than the login has left.
    for day in [10, 20, 29] {
        clock.set(T0 + day * DAY);
        let mut thief = Browser::new();
        thief.jar.insert("_remember", latest.clone());
        let res = thief.get(&app, "/").await;
        assert_eq!(res.body, "7", "day {day}");
        let renewed = res.set_cookie("_remember").unwrap();
        assert_eq!(
            renewed.max_age().unwrap().whole_seconds() as u64,
            (30 - day) * DAY,
            "day {day}"
        );
        assert_eq!(payload(renewed.value())["exp"], T0 + 30 * DAY);
        latest = renewed.value().to_owned();
    }
    clock.set(T0 + 30 * DAY);
    let mut thief = Browser::new();
    thief.jar.insert("_remember", latest);
    assert_eq!(thief.get(&app, "/").await.status, StatusCode::FOUND);
}

#[tokio::test]
async fn ck_10_a_prefixed_session_cookie_gets_a_prefixed_remember_cookie() {
    let clock = FakeClock::at(T0);
    let users = store();
    let layer = builder(key(), &clock)
        .cookie_name("__Host-session")
        .build()
        .unwrap();
    let mut b = Browser::new();
    let res = b.get(&app(layer, &users), "/login/7").await;
    assert!(res.set_cookie("__Host-remember").is_some());
    assert!(res.set_cookie("_remember").is_none());
    for (session, remember) in [
        ("__Host-session", "_remember"),
        ("__Host-session", "__Secure-remember"),
        ("__Secure-session", "remember"),
    ] {
        let refused = builder(key(), &clock)
            .cookie_name(session)
            .remember_cookie_name(remember)
            .build();
        assert!(
            matches!(
                refused,
                Err(Error::InvalidConfig(ConfigError::RememberCookiePrefix))
            ),
            "{session} with {remember}"
        );
    }
    let secure = builder(key(), &clock)
        .cookie_name("__Secure-session")
        .build()
        .unwrap();
    let res = Browser::new().get(&app(secure, &users), "/login/7").await;
    assert!(res.set_cookie("__Secure-remember").is_some());
}

#[tokio::test]
async fn ses_10_only_a_login_of_the_same_user_keeps_the_sessions_data() {
    let clock = FakeClock::at(T0);
    let users = store();
    let app = app(builder(key(), &clock).build().unwrap(), &users);
    let mut b = Browser::new();
    // Data planted before the login (or left by the browser's previous user) does not survive.
    b.get(&app, "/note/planted").await;
    b.get(&app, "/login/7").await;
    assert_eq!(b.get(&app, "/note").await.body, "none");
    // The same user logging in again (a re-authentication) keeps it.
    b.get(&app, "/note/mine").await;
    b.get(&app, "/login/7").await;
    assert_eq!(b.get(&app, "/note").await.body, "mine");
    // Another user does not get it.
    b.get(&app, "/login/8").await;
    assert_eq!(b.get(&app, "/note").await.body, "none");
}

#[tokio::test]
async fn ses_07_untagged_logins_are_refused_unless_adopted() {
    let clock = FakeClock::at(T0);
    let users = store();
    // What Microdot's `login_user` writes: no anchors, no auth-hash tag.
    let microdot = pyjwt(r#"{"_user_id":7,"_fresh":true}"#);
    let strict = app(
        builder(key(), &clock)
            .claimless_sessions(true)
            .build()
            .unwrap(),
        &users,
    );
    let mut b = Browser::new();
    b.jar.insert("session", microdot.clone());
    assert_eq!(b.get(&strict, "/").await.status, StatusCode::FOUND);

    let adopting = app(
        builder(key(), &clock)
            .claimless_sessions(true)
            .adopt_untagged_logins(true)
            .build()
            .unwrap(),
        &users,
    );
    let mut b = Browser::new();
    b.jar.insert("session", microdot.clone());
    let res = b.get(&adopting, "/").await;
    assert_eq!(res.body, "7");
    let tagged = payload(res.set_cookie("session").unwrap().value());
    assert!(tagged["_auth_hash"].is_string(), "tagged on first sight");
    // Once tagged, a password change ends it ...
    users.lock().unwrap().get_mut(&7).unwrap().hash = b"changed".to_vec();
    assert_eq!(b.get(&adopting, "/").await.status, StatusCode::FOUND);
    // ... while a copy of the untagged cookie is adopted again (documented: rotate the key).
    let mut copy = Browser::new();
    copy.jar.insert("session", microdot);
    assert_eq!(copy.get(&adopting, "/").await.body, "7");
}

#[tokio::test]
async fn jwt_09_a_copied_claimless_login_is_refused_by_default() {
    let clock = FakeClock::at(T0 + 10 * 365 * DAY);
    let users = store();
    let default = app(builder(key(), &clock).build().unwrap(), &users);
    let mut b = Browser::new();
    b.jar
        .insert("session", pyjwt(r#"{"_user_id":7,"_fresh":true}"#));
    let res = b.get(&default, "/").await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert!(
        res.set_cookie("session").is_none(),
        "refused, and left in place for the Microdot service that may have written it"
    );
    // Not only logins: a claim-less session's data is not read either.
    let mut b = Browser::new();
    b.jar.insert("session", pyjwt(r#"{"note":"old"}"#));
    let res = b.get(&default, "/note").await;
    assert_eq!(res.body, "none");
    assert!(res.set_cookies.is_empty());
}

#[tokio::test]
async fn in_07_a_verified_session_is_never_deleted_for_its_json() {
    let clock = FakeClock::at(T0);
    let users = store();
    let app = app(
        builder(key(), &clock)
            .claimless_sessions(true)
            .build()
            .unwrap(),
        &users,
    );
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
    for json in [
        r#"{"a":NaN}"#,
        r#"{"a":Infinity}"#,
        r#"{"a":"\ud800"}"#,
        deep.as_str(),
    ] {
        let mut b = Browser::new();
        b.jar.insert("session", pyjwt(json));
        let res = b.get(&app, "/note").await;
        assert_eq!(res.body, "none", "{json}");
        assert!(res.set_cookies.is_empty(), "{json}: {:?}", res.set_cookies);
    }
    // A forged one is still deleted.
    let mut b = Browser::new();
    let forged = common::sign(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"a":NaN}"#,
        b"another secret, thirty-two bytes long",
    );
    b.jar.insert("session", forged);
    let res = b.get(&app, "/note").await;
    assert_eq!(res.set_cookie("session").map(|c| c.value()), Some(""));
}

#[tokio::test]
async fn ses_07_rot_05_a_rotation_never_revives_a_revoked_remember_cookie() {
    let (old, new) = (Key::generate(), Key::generate());
    let clock = FakeClock::at(T0);
    let users = store();
    let before = app(builder(old.clone(), &clock).build().unwrap(), &users);
    let mut b = Browser::new();
    b.get(&before, "/login/7").await;
    let revoked_remember = b.jar.get("_remember").unwrap().to_owned();
    // The password changes and the user logs in again: the first remember cookie is revoked.
    users.lock().unwrap().get_mut(&7).unwrap().hash = b"new password".to_vec();
    b.get(&before, "/login/7").await;
    let session = b.jar.get("session").unwrap().to_owned();
    // During a rotation, the valid session is sent beside the revoked remember cookie.
    let rotating = app(
        builder(new.clone(), &clock)
            .fallback_keys([old])
            .build()
            .unwrap(),
        &users,
    );
    let mut thief = Browser::new();
    thief.jar.insert("session", session);
    thief.jar.insert("_remember", revoked_remember);
    let res = thief.get(&rotating, "/").await;
    assert_eq!(res.body, "7", "the session itself is valid");
    assert!(
        res.set_cookie("_remember").is_none(),
        "the revoked remember-me cookie is not re-tagged"
    );
    let after = app(builder(new, &clock).build().unwrap(), &users);
    let mut remembered = Browser::new();
    remembered
        .jar
        .insert("_remember", thief.jar.get("_remember").unwrap().to_owned());
    assert_eq!(remembered.get(&after, "/").await.status, StatusCode::FOUND);
}

#[tokio::test]
async fn ses_07_a_tag_that_is_not_a_string_is_never_adopted() {
    let clock = FakeClock::at(T0);
    let users = store();
    let adopting = app(
        builder(key(), &clock)
            .claimless_sessions(true)
            .adopt_untagged_logins(true)
            .build()
            .unwrap(),
        &users,
    );
    for tag in ["null", "1", "{}", "[]"] {
        let mut b = Browser::new();
        b.jar.insert(
            "session",
            pyjwt(&format!(
                r#"{{"_user_id":7,"_fresh":true,"_auth_hash":{tag}}}"#
            )),
        );
        assert_eq!(
            b.get(&adopting, "/").await.status,
            StatusCode::FOUND,
            "{tag}"
        );
    }
}

#[tokio::test]
async fn rem_05_a_tossed_refused_session_keeps_the_victims_remember_cookie() {
    let clock = FakeClock::at(T0);
    let users = store();
    let app = app(builder(key(), &clock).build().unwrap(), &users);
    // The attacker (user 8) logs in, then revokes their own session by changing their password.
    let mut attacker = Browser::new();
    attacker.get(&app, "/login/8").await;
    let tossed = attacker.jar.get("session").unwrap().to_owned();
    users.lock().unwrap().get_mut(&8).unwrap().hash = b"changed".to_vec();
    // The victim (user 7) has only a remember-me cookie; a sibling subdomain tosses the session.
    let mut victim = Browser::new();
    victim.get(&app, "/login/7").await;
    victim.jar.remove("session");
    victim.jar.insert("session", tossed);
    let res = victim.get(&app, "/").await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert!(
        res.set_cookie("_remember").is_none(),
        "the victim's remember-me cookie is not deleted"
    );
    victim.jar.remove("session");
    assert_eq!(victim.get(&app, "/").await.body, "7");
}

#[tokio::test]
async fn in_07_emptying_an_unusable_session_does_not_delete_it() {
    let clock = FakeClock::at(T0);
    let users = store();
    let app = app(builder(key(), &clock).build().unwrap(), &users).route(
        "/touch",
        get(|s: SessionDict| async move {
            s.insert("x", 1).unwrap();
            s.remove::<Value>("x").unwrap();
        }),
    );
    let mut b = Browser::new();
    // A key holder's session this layer does not use (no anchors, claim-less refused).
    b.jar.insert("session", pyjwt(r#"{"note":"microdot"}"#));
    let res = b.get(&app, "/touch").await;
    assert!(res.set_cookies.is_empty(), "{:?}", res.set_cookies);
}

#[tokio::test]
async fn rem_08_a_microdot_remember_token_counts_from_its_exp() {
    let clock = FakeClock::at(T0);
    let users = store();
    // Microdot's tokens carry no auth-hash tag: adopted, as a layer shared with Microdot does.
    let app = app(
        builder(key(), &clock)
            .adopt_untagged_logins(true)
            .build()
            .unwrap(),
        &users,
    );
    // Microdot's token: no `auth_time`, issued 20 days ago for 30 days.
    let microdot = pyjwt(&format!(
        r#"{{"user_id":7,"days":30,"exp":{}}}"#,
        T0 + 10 * DAY
    ));
    let mut thief = Browser::new();
    thief.jar.insert("_remember", microdot);
    let res = thief.get(&app, "/").await;
    assert_eq!(res.body, "7");
    let renewed = res.set_cookie("_remember").unwrap().value().to_owned();
    assert_eq!(payload(&renewed)["auth_time"], T0 - 20 * DAY);
    assert_eq!(payload(&renewed)["exp"], T0 + 10 * DAY, "not extended");
    // Restored again nine days later, it still ends on day 10.
    clock.set(T0 + 9 * DAY);
    let mut again = Browser::new();
    again.jar.insert("_remember", renewed);
    let res = again.get(&app, "/").await;
    assert_eq!(res.body, "7");
    assert_eq!(
        payload(res.set_cookie("_remember").unwrap().value())["exp"],
        T0 + 10 * DAY
    );
    // A token whose `exp` lies beyond `auth_time + days` ends at `auth_time + days`.
    let long = pyjwt(&format!(
        r#"{{"user_id":7,"days":30,"exp":{},"auth_time":{}}}"#,
        T0 + 100 * DAY,
        T0 - 30 * DAY
    ));
    let mut b = Browser::new();
    b.jar.insert("_remember", long);
    assert_eq!(b.get(&app, "/").await.status, StatusCode::FOUND);
}
