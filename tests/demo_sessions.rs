//! The demo's device pages with its default in-memory registry: listing sessions, logging out one
//! device or all the others, changing the password, and what logout revokes.

mod common;
#[path = "../examples/demo/app.rs"]
mod demo;
#[path = "../examples/demo/users.rs"]
mod users;

use axum::body::Body;
use axum::Router;
use common::{key, Browser, TestResponse};
use http::{Request, StatusCode};

fn demo_app() -> Router {
    demo::app(key())
}

/// A form POST from the demo's own pages.
async fn post(b: &mut Browser, app: &Router, uri: &str, form: &str) -> TestResponse {
    b.post_form(app, uri, form).await
}

async fn log_in(app: &Router, user: &str, password: &str) -> Browser {
    let mut b = Browser::plain_http();
    let form = format!("username={user}&password={password}&remember_me=on");
    let res = post(&mut b, app, "/login", &form).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    b
}

async fn sessions_json(app: &Router, b: &mut Browser) -> Vec<serde_json::Value> {
    let req = Request::get("/sessions")
        .header("accept", "application/json")
        .body(Body::empty())
        .unwrap();
    let res = b.send(app, req).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    serde_json::from_str(&res.body).unwrap()
}

async fn home(app: &Router, b: &mut Browser) -> StatusCode {
    b.get(app, "/").await.status
}

/// A browser holding only these cookies of `from`.
fn holding(from: &Browser, names: &[&str]) -> Browser {
    let mut b = Browser::plain_http();
    for name in names {
        if let Some(v) = from.jar.get(name) {
            b.jar.insert(*name, v);
        }
    }
    b
}

#[tokio::test]
async fn the_sessions_page_lists_and_revokes_devices() {
    let app = demo_app();
    let mut a = log_in(&app, "susan", "hello").await;
    let mut b = log_in(&app, "susan", "hello").await;
    let mut d = log_in(&app, "david", "bye").await;

    let listed = sessions_json(&app, &mut a).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    for s in &listed {
        assert!(s["id"].is_string() && s["created"].is_u64() && s["last_seen"].is_u64());
        assert!(s["current"].is_boolean() && s["user_agent"].is_string());
    }
    assert_eq!(listed.iter().filter(|s| s["current"] == true).count(), 1);
    let b_id = listed.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The HTML page has a button per session and one for the others.
    let page = a.get(&app, "/sessions").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&format!("/sessions/{b_id}/revoke")));
    assert!(page.body.contains("/sessions/revoke-others"));

    // Another user's session id is not found.
    let res = post(&mut d, &app, &format!("/sessions/{b_id}/revoke"), "").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(home(&app, &mut b).await, StatusCode::OK);

    let res = post(&mut a, &app, &format!("/sessions/{b_id}/revoke"), "").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), Some("/sessions"));
    assert_eq!(
        home(&app, &mut holding(&b, &["session"])).await,
        StatusCode::FOUND
    );
    assert_eq!(
        home(&app, &mut holding(&b, &["_remember"])).await,
        StatusCode::FOUND
    );
    assert_eq!(home(&app, &mut a).await, StatusCode::OK);
    assert_eq!(home(&app, &mut d).await, StatusCode::OK);
}

#[tokio::test]
async fn revoke_others_keeps_this_browser_only() {
    let app = demo_app();
    let mut a = log_in(&app, "susan", "hello").await;
    let mut b = log_in(&app, "susan", "hello").await;
    let mut c = log_in(&app, "susan", "hello").await;
    let res = post(&mut a, &app, "/sessions/revoke-others", "").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), Some("/sessions"));
    for other in [&mut b, &mut c] {
        assert_eq!(
            home(&app, &mut holding(other, &["session"])).await,
            StatusCode::FOUND
        );
        assert_eq!(
            home(&app, &mut holding(other, &["_remember"])).await,
            StatusCode::FOUND
        );
    }
    assert_eq!(home(&app, &mut a).await, StatusCode::OK);
    assert_eq!(sessions_json(&app, &mut a).await.len(), 1);
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_and_keeps_this_one() {
    let app = demo_app();
    let mut a = log_in(&app, "susan", "hello").await;
    let mut b = log_in(&app, "susan", "hello").await;
    let res = post(
        &mut a,
        &app,
        "/password",
        "current_password=wrong&new_password=hello2",
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(home(&app, &mut b).await, StatusCode::OK);

    let res = post(
        &mut a,
        &app,
        "/password",
        "current_password=hello&new_password=hello2",
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), Some("/"));
    assert_eq!(
        home(&app, &mut a).await,
        StatusCode::OK,
        "this session stays"
    );
    assert_eq!(
        home(&app, &mut holding(&a, &["_remember"])).await,
        StatusCode::OK,
        "and so does its remember-me cookie"
    );
    assert_eq!(
        home(&app, &mut holding(&b, &["session"])).await,
        StatusCode::FOUND
    );
    assert_eq!(
        home(&app, &mut holding(&b, &["_remember"])).await,
        StatusCode::FOUND
    );
    // The new password logs in; the old one no longer does.
    log_in(&app, "susan", "hello2").await;
    let mut e = Browser::plain_http();
    let res = post(&mut e, &app, "/login", "username=susan&password=hello").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_revokes_copies_of_this_browsers_cookies() {
    let app = demo_app();
    let mut a = log_in(&app, "susan", "hello").await;
    let copy = holding(&a, &["session", "_remember"]);
    let res = post(&mut a, &app, "/logout", "").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        home(&app, &mut holding(&copy, &["session"])).await,
        StatusCode::FOUND
    );
    assert_eq!(
        home(&app, &mut holding(&copy, &["_remember"])).await,
        StatusCode::FOUND
    );
}

#[tokio::test]
async fn in_cookie_mode_there_is_no_session_list() {
    let app = demo::app_with_store(key(), Vec::new(), demo::Store::Cookie);
    let mut a = log_in(&app, "susan", "hello").await;
    assert_eq!(a.get(&app, "/sessions").await.status, StatusCode::NOT_FOUND);
    // Logout still works as a stateless logout.
    post(&mut a, &app, "/logout", "").await;
    assert_eq!(home(&app, &mut a).await, StatusCode::FOUND);
}

/// The device pages' forms carry the CSRF token: a post with neither `Sec-Fetch-Site` nor
/// `Origin` needs it, and one from another site is refused whatever it carries.
#[tokio::test]
async fn the_session_forms_are_protected_against_forgery() {
    let app = demo_app();
    let mut a = log_in(&app, "susan", "hello").await;
    let mut b = log_in(&app, "susan", "hello").await;
    let bare = |uri: &str, form: &str, site: Option<&str>| {
        let mut req = Request::post(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html");
        if let Some(site) = site {
            req = req.header("sec-fetch-site", site);
        }
        req.body(Body::from(form.to_owned())).unwrap()
    };
    for uri in ["/sessions/revoke-others", "/password"] {
        let form = "current_password=hello&new_password=owned";
        let res = a.send(&app, bare(uri, form, None)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{uri} without a token");
        let res = a.send(&app, bare(uri, form, Some("cross-site"))).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{uri} from another site");
    }
    assert_eq!(
        home(&app, &mut b).await,
        StatusCode::OK,
        "nothing was revoked"
    );
    // The token the page renders makes the same bare post pass.
    let page = a.get(&app, "/sessions").await.body;
    let token = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a token in the page")
        .to_owned();
    let res = a
        .send(
            &app,
            bare(
                "/sessions/revoke-others",
                &format!("csrf_token={token}"),
                None,
            ),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        home(&app, &mut holding(&b, &["session"])).await,
        StatusCode::FOUND
    );
}
