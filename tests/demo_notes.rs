//! The demo's notes: a 16 KiB list of notes kept across requests with server-side placement (on
//! memory, and on Redis when configured), and a clear `413` in cookie placement.

mod common;
#[path = "../examples/demo/app.rs"]
mod demo;
#[cfg(feature = "redis")]
#[path = "common/redis.rs"]
mod redis_env;
#[path = "../examples/demo/users.rs"]
mod users;

use axum::Router;
use common::{key, Browser};
use http::StatusCode;

/// A note of exactly `n` bytes of text that HTML and forms must escape, ending in `tag`.
fn note(n: usize, tag: char) -> String {
    let mut text: String = "<a&b> ".repeat(n / 6 + 1);
    text.truncate(n - 1);
    text.push(tag);
    text
}

fn form(text: &str) -> String {
    format!("text={}", urlencode(text))
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn keeps_a_16_kib_list(app: Router) {
    let mut b = Browser::plain_http();
    for tag in ['1', '2', '3', '4'] {
        let res = b
            .post_form(&app, "/notes", &form(&note(4 * 1024, tag)))
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    }
    assert!(
        b.jar.get("session").unwrap().len() < 300,
        "the cookie carries an id"
    );
    let res = b.get(&app, "/notes").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains("4 notes"), "{}", &res.body[..300]);
    let total: usize = 4 * note(4 * 1024, '1').len();
    assert!(total >= 16 * 1024);
    assert!(res.body.contains(&format!("{total} bytes")));
    // A note of 16 KiB on its own fits too.
    let res = b
        .post_form(&app, "/notes", &form(&note(16 * 1024 - 7, 'x')))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(b.get(&app, "/notes").await.body.contains("5 notes"));
    // The counter works the same in either placement.
    assert_eq!(b.get(&app, "/counter").await.body, "counter: 1");
    assert_eq!(b.get(&app, "/counter").await.body, "counter: 2");
}

#[tokio::test]
async fn srv_01_the_demo_keeps_16_kib_of_notes_server_side() {
    let app = demo::app_with_placement(
        key(),
        Vec::new(),
        demo::Store::Memory,
        demo::Placement::Store,
    );
    keeps_a_16_kib_list(app).await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn srv_01_the_demo_keeps_16_kib_of_notes_on_redis() {
    let Some(url) = redis_env::standalone_url() else {
        return;
    };
    let registry = tower_session_auth::RedisRegistry::builder(url)
        .build()
        .await
        .unwrap();
    let app = demo::app_with_placement(
        key(),
        Vec::new(),
        demo::Store::Redis(registry),
        demo::Placement::Store,
    );
    keeps_a_16_kib_list(app).await;
}

#[tokio::test]
async fn in_cookie_placement_a_note_too_big_is_a_413_that_says_why() {
    let app = demo::app(key());
    let mut b = Browser::plain_http();
    let res = b.post_form(&app, "/notes", &form("a small note")).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = b
        .post_form(&app, "/notes", &form(&note(8 * 1024, '1')))
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(res.body.contains("SESSION_PLACEMENT=store"), "{}", res.body);
    assert!(res.set_cookies.is_empty(), "the session stays as it was");
    assert!(b.get(&app, "/notes").await.body.contains("1 notes"));
    // Over 16 KiB is refused in either placement.
    let app = demo::app_with_placement(
        key(),
        Vec::new(),
        demo::Store::Memory,
        demo::Placement::Store,
    );
    let res = Browser::plain_http()
        .post_form(&app, "/notes", &form(&note(17 * 1024, '1')))
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
}
