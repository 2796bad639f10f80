//! Tracked logins with a session registry: logging out one device, logging out the others,
//! listing devices, remember-me per device with rotation, and registry outages. Each flow runs
//! against the memory registry and, when configured, standalone Redis and Redis Cluster.

mod common;
#[cfg(feature = "redis")]
#[path = "common/redis.rs"]
mod redis_env;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{key, payload, Browser, FakeClock, Member};
use tower_session_auth::{
    list_sessions, login_user, logout_user, revoke_other_sessions, revoke_session, AuthLayer,
    Registry, SessionDict, SessionLayer,
};

const NOW: u64 = 1_800_000_000;

fn member() -> Member {
    Member {
        id: 7,
        hash: b"password hash".to_vec(),
    }
}

/// A gate that knows member 7 and answers `401` (no login redirect).
fn member_gate() -> AuthLayer<Member> {
    AuthLayer::builder()
        .user_loader(|id: u64| async move { (id == 7).then(member) })
        .redirect_to_login(false)
        .build()
        .unwrap()
}

/// An app whose logins are tracked in `registry`.
pub fn app(registry: impl Registry, clock: &FakeClock) -> Router {
    app_with(
        SessionLayer::builder(key())
            .registry(registry)
            .clock(clock.clone())
            .build()
            .unwrap(),
    )
}

/// The same app over the session layer `sessions`.
fn app_with(sessions: SessionLayer) -> Router {
    let gate = member_gate();
    Router::new()
        .route("/me", get(|| async { "member 7" }))
        .route(
            "/sessions",
            get(|session: SessionDict| async move { Json(list_sessions(&session).await.unwrap()) }),
        )
        .route(
            "/sessions/revoke-others",
            post(|session: SessionDict| async move {
                revoke_other_sessions(&session).await.unwrap().to_string()
            }),
        )
        .route(
            "/sessions/{id}/revoke",
            post(|session: SessionDict, Path(id): Path<String>| async move {
                match revoke_session(&session, &id).await.unwrap() {
                    true => StatusCode::SEE_OTHER,
                    false => StatusCode::NOT_FOUND,
                }
            }),
        )
        .route_layer(gate)
        .route(
            "/login",
            post(|session: SessionDict| async move {
                login_user(&session, &member(), true).unwrap();
                "in"
            }),
        )
        .route(
            "/count",
            get(|session: SessionDict| async move {
                let n = session.get::<u64>("n").unwrap().unwrap_or(0) + 1;
                session.insert("n", n).unwrap();
                n.to_string()
            }),
        )
        .route(
            "/logout",
            post(|session: SessionDict| async move {
                logout_user(&session);
                "out"
            }),
        )
        .layer(sessions)
}

/// A browser that holds only `cookies` of `from`'s jar: a copy an attacker took, or the
/// remember-me cookie alone (the browser was closed).
fn holding(from: &Browser, cookies: &[&str]) -> Browser {
    let mut b = Browser::new();
    for name in cookies {
        if let Some(v) = from.jar.get(name) {
            b.jar.insert(*name, v);
        }
    }
    b
}

async fn me(app: &Router, b: &mut Browser) -> StatusCode {
    b.get(app, "/me").await.status
}

async fn sessions(app: &Router, b: &mut Browser) -> Vec<serde_json::Value> {
    let res = b.get(app, "/sessions").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    serde_json::from_str(&res.body).unwrap()
}

/// Browser `b` restores its login from its remember-me cookie alone (a new browser session), and
/// keeps what it gets back, as the real browser would.
async fn restore_from_remember(app: &Router, b: &mut Browser) -> StatusCode {
    let mut only = holding(b, &["_remember"]);
    let status = me(app, &mut only).await;
    if status == StatusCode::OK {
        *b = only;
    }
    status
}

/// Two browsers, A and B, of one user, with remember-me.
pub async fn two_browsers(registry: impl Registry) {
    let clock = FakeClock::at(NOW);
    let app = app(registry, &clock);
    let (mut a, mut b) = (Browser::new(), Browser::new());
    for browser in [&mut a, &mut b] {
        assert_eq!(
            browser.post_form(&app, "/login", "").await.status,
            StatusCode::OK
        );
        assert!(payload(browser.jar.get("session").unwrap()).contains_key("_sid"));
        assert!(payload(browser.jar.get("_remember").unwrap()).contains_key("rid"));
        assert_eq!(me(&app, browser).await, StatusCode::OK);
    }
    assert_eq!(sessions(&app, &mut a).await.len(), 2);

    // A logs out: copies of A's cookies taken before are refused; B is untouched.
    let a_before = holding(&a, &["session", "_remember"]);
    a.post_form(&app, "/logout", "").await;
    let mut copy = holding(&a_before, &["session"]);
    assert_eq!(me(&app, &mut copy).await, StatusCode::UNAUTHORIZED);
    let mut copy = holding(&a_before, &["_remember"]);
    assert_eq!(me(&app, &mut copy).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &mut b).await, StatusCode::OK);
    assert_eq!(restore_from_remember(&app, &mut b).await, StatusCode::OK);
    let listed = sessions(&app, &mut b).await;
    assert_eq!(listed.len(), 1, "only B is live: {listed:?}");
    assert_eq!(listed[0]["current"], true);

    // A logs in again and logs out everywhere else: B's session and remember-me cookie are
    // refused, A's cookies are untouched.
    a.post_form(&app, "/login", "").await;
    let a_cookies = holding(&a, &["session", "_remember"]);
    assert_eq!(
        a.post_form(&app, "/sessions/revoke-others", "")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        me(&app, &mut holding(&b, &["session"])).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me(&app, &mut holding(&b, &["_remember"])).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me(&app, &mut holding(&a_cookies, &["session"])).await,
        StatusCode::OK
    );
    assert_eq!(restore_from_remember(&app, &mut a).await, StatusCode::OK);
    let listed = sessions(&app, &mut a).await;
    assert_eq!(listed.len(), 1, "only A is live: {listed:?}");
}

/// Twenty parallel requests with one remember-me cookie all succeed, and all get the same
/// successor; the superseded cookie presented after the grace window revokes remember-me.
pub async fn parallel_remember(registry: impl Registry) {
    let clock = FakeClock::at(NOW);
    let app = app(registry, &clock);
    let mut a = Browser::new();
    a.post_form(&app, "/login", "").await;
    let remember = a.jar.get("_remember").unwrap().to_owned();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let app = app.clone();
        let mut only = holding(&a, &["_remember"]);
        tasks.push(tokio::spawn(async move {
            let res = only.get(&app, "/me").await;
            (res.status, only.jar.get("_remember").map(str::to_owned))
        }));
    }
    let mut successors = Vec::new();
    for task in tasks {
        let (status, successor) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        successors.push(successor.expect("a successor remember-me cookie"));
    }
    assert!(successors
        .iter()
        .all(|s| s == &successors[0] && s != &remember));
    let successor = successors[0].clone();
    assert_eq!(sessions(&app, &mut a).await.len(), 1, "one device still");

    // Within the window the old cookie still works; after it, it is a replay.
    clock.advance(Duration::from_secs(31));
    let mut thief = Browser::new();
    thief.jar.insert("_remember", remember);
    assert_eq!(me(&app, &mut thief).await, StatusCode::UNAUTHORIZED);
    let mut owner = Browser::new();
    owner.jar.insert("_remember", successor);
    assert_eq!(
        me(&app, &mut owner).await,
        StatusCode::UNAUTHORIZED,
        "a replay revokes every remember-me cookie of the user"
    );
}

/// Revoking a device by its public id; another user's id is not found.
pub async fn revoke_by_id(registry: impl Registry) {
    let clock = FakeClock::at(NOW);
    let app = app(registry, &clock);
    let (mut a, mut b) = (Browser::new(), Browser::new());
    a.post_form(&app, "/login", "").await;
    clock.advance(Duration::from_secs(5));
    b.post_form(&app, "/login", "").await;
    let listed = sessions(&app, &mut a).await;
    let b_id = listed.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        a.post_form(&app, &format!("/sessions/{b_id}/revoke"), "")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(me(&app, &mut b).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &mut a).await, StatusCode::OK);
    assert_eq!(
        a.post_form(&app, &format!("/sessions/{b_id}/revoke"), "")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The list has what a device page needs.
    let listed = sessions(&app, &mut a).await;
    assert_eq!(listed.len(), 1);
    for field in ["id", "created", "last_seen", "current", "user_agent"] {
        assert!(listed[0].get(field).is_some(), "{field}");
    }
}

#[tokio::test]
async fn reg_01_two_browsers_log_out_one_device_then_the_others_memory() {
    two_browsers(tower_session_auth::MemoryRegistry::new()).await;
}

#[tokio::test]
async fn reg_02_parallel_remember_me_requests_share_one_successor_memory() {
    parallel_remember(tower_session_auth::MemoryRegistry::new()).await;
}

#[tokio::test]
async fn reg_03_a_device_is_revoked_by_its_public_id_memory() {
    revoke_by_id(tower_session_auth::MemoryRegistry::new()).await;
}

/// A registry that fails every call, as one that cannot be reached.
#[derive(Debug, Default)]
struct Down;

impl Registry for Down {
    fn get<'a>(
        &'a self,
        _: &'a str,
        _: &'a [&'a str],
        _: u64,
    ) -> tower_session_auth::RegistryFuture<'a, Vec<Option<tower_session_auth::RegistryEntry>>>
    {
        Box::pin(async { Err(tower_session_auth::RegistryError::new("down")) })
    }
    fn insert<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a tower_session_auth::RegistryEntry,
        _: u64,
    ) -> tower_session_auth::RegistryFuture<'a, ()> {
        Box::pin(async { Err(tower_session_auth::RegistryError::new("down")) })
    }
    fn touch<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: u64,
        _: u64,
    ) -> tower_session_auth::RegistryFuture<'a, ()> {
        Box::pin(async { Err(tower_session_auth::RegistryError::new("down")) })
    }
    fn rotate<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a str,
        _: &'a tower_session_auth::RegistryEntry,
        _: u64,
        _: u64,
    ) -> tower_session_auth::RegistryFuture<'a, tower_session_auth::Rotation> {
        Box::pin(async { Err(tower_session_auth::RegistryError::new("down")) })
    }
    fn remove<'a>(
        &'a self,
        _: &'a str,
        _: &'a tower_session_auth::Removal,
        _: u64,
    ) -> tower_session_auth::RegistryFuture<'a, usize> {
        Box::pin(async { Err(tower_session_auth::RegistryError::new("down")) })
    }
    fn list<'a>(
        &'a self,
        _: &'a str,
        _: u64,
    ) -> tower_session_auth::RegistryFuture<'a, Vec<(String, tower_session_auth::RegistryEntry)>>
    {
        Box::pin(async { Err(tower_session_auth::RegistryError::new("down")) })
    }
}

/// A registry that can be switched off and on, over a memory registry, and counts its calls.
#[derive(Debug, Clone, Default)]
struct Switch {
    inner: tower_session_auth::MemoryRegistry,
    down: Arc<std::sync::atomic::AtomicBool>,
    calls: Arc<std::sync::atomic::AtomicUsize>,
}

impl Switch {
    fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }
}

macro_rules! forward {
    ($self:ident, $call:expr) => {
        if {
            $self
                .calls
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            $self.down.load(std::sync::atomic::Ordering::SeqCst)
        } {
            Box::pin(async { Err(tower_session_auth::RegistryError::new("down")) })
        } else {
            $call
        }
    };
}

impl Registry for Switch {
    fn get<'a>(
        &'a self,
        u: &'a str,
        ids: &'a [&'a str],
        now: u64,
    ) -> tower_session_auth::RegistryFuture<'a, Vec<Option<tower_session_auth::RegistryEntry>>>
    {
        forward!(self, self.inner.get(u, ids, now))
    }
    fn insert<'a>(
        &'a self,
        u: &'a str,
        id: &'a str,
        e: &'a tower_session_auth::RegistryEntry,
        now: u64,
    ) -> tower_session_auth::RegistryFuture<'a, ()> {
        forward!(self, self.inner.insert(u, id, e, now))
    }
    fn touch<'a>(
        &'a self,
        u: &'a str,
        id: &'a str,
        seen: u64,
        now: u64,
    ) -> tower_session_auth::RegistryFuture<'a, ()> {
        forward!(self, self.inner.touch(u, id, seen, now))
    }
    fn rotate<'a>(
        &'a self,
        u: &'a str,
        old: &'a str,
        new: &'a str,
        e: &'a tower_session_auth::RegistryEntry,
        now: u64,
        grace: u64,
    ) -> tower_session_auth::RegistryFuture<'a, tower_session_auth::Rotation> {
        forward!(self, self.inner.rotate(u, old, new, e, now, grace))
    }
    fn remove<'a>(
        &'a self,
        u: &'a str,
        which: &'a tower_session_auth::Removal,
        now: u64,
    ) -> tower_session_auth::RegistryFuture<'a, usize> {
        forward!(self, self.inner.remove(u, which, now))
    }
    fn list<'a>(
        &'a self,
        u: &'a str,
        now: u64,
    ) -> tower_session_auth::RegistryFuture<'a, Vec<(String, tower_session_auth::RegistryEntry)>>
    {
        forward!(self, self.inner.list(u, now))
    }
}

// The same three through the `Registry` trait alone: `MemoryRegistry` answers the layer's login
// check directly, any other registry (this one forwards to a memory registry) through its futures.

#[tokio::test]
async fn reg_01_two_browsers_log_out_one_device_then_the_others_any_registry() {
    let registry = Switch::default();
    two_browsers(registry.clone()).await;
    assert!(registry.calls() > 0);
}

#[tokio::test]
async fn reg_02_parallel_remember_me_requests_share_one_successor_any_registry() {
    let registry = Switch::default();
    parallel_remember(registry.clone()).await;
    assert!(registry.calls() > 0);
}

#[tokio::test]
async fn reg_03_a_device_is_revoked_by_its_public_id_any_registry() {
    let registry = Switch::default();
    revoke_by_id(registry.clone()).await;
    assert!(registry.calls() > 0);
}

/// A login made after the handler has worked for a while (a password hash, a throttle) is
/// registered and written with the same instant: the registry keeps it exactly as long as its
/// cookie lives, not a few seconds less.
#[tokio::test]
async fn ses_04_a_tracked_login_made_late_in_a_slow_request_ends_with_its_cookie() {
    let clock = FakeClock::at(NOW);
    let sessions = SessionLayer::builder(key())
        .registry(tower_session_auth::MemoryRegistry::new())
        .clock(clock.clone())
        .idle_timeout(None)
        .absolute_timeout(Duration::from_secs(3600))
        .build()
        .unwrap();
    let slow = clock.clone();
    let gate = member_gate();
    let app = Router::new()
        .route("/me", get(|| async { "member 7" }))
        .route_layer(gate)
        .route(
            "/slow-login",
            post(move |session: SessionDict| async move {
                let _ = session.get::<u64>("n").unwrap();
                slow.advance(Duration::from_secs(5)); // verifying the password
                login_user(&session, &member(), false).unwrap();
                "in"
            }),
        )
        .layer(sessions);
    let mut b = Browser::new();
    b.post_form(&app, "/slow-login", "").await;
    let cookie = payload(b.jar.get("session").unwrap());
    let deadline = cookie.get("exp").and_then(|e| e.as_u64());
    let deadline = deadline.unwrap_or_else(|| panic!("{cookie:?}"));
    assert!(deadline >= NOW + 3600, "{cookie:?}");
    clock.set(deadline - 2);
    assert_eq!(
        me(&app, &mut b).await,
        StatusCode::OK,
        "known to the registry"
    );
    clock.set(deadline);
    assert_ne!(me(&app, &mut b).await, StatusCode::OK);
}

/// A browser that logs in as another user moves its device to that user: each user lists their
/// own, and the first user's old cookie is refused.
#[tokio::test]
async fn reg_01_logging_in_as_another_user_in_one_browser_moves_the_device() {
    let clock = FakeClock::at(NOW);
    let layer = SessionLayer::builder(key())
        .registry(tower_session_auth::MemoryRegistry::new())
        .clock(clock.clone())
        .build()
        .unwrap();
    let other = || Member {
        id: 8,
        hash: b"another hash".to_vec(),
    };
    let gate = AuthLayer::builder()
        .user_loader(move |id: u64| async move {
            match id {
                7 => Some(member()),
                8 => Some(other()),
                _ => None,
            }
        })
        .redirect_to_login(false)
        .build()
        .unwrap();
    let app = Router::new()
        .route("/me", get(|| async { "someone" }))
        .route(
            "/sessions",
            get(|session: SessionDict| async move { Json(list_sessions(&session).await.unwrap()) }),
        )
        .route_layer(gate)
        .route(
            "/login/{id}",
            post(
                move |session: SessionDict, Path(id): Path<u64>| async move {
                    let user = if id == 7 { member() } else { other() };
                    login_user(&session, &user, false).unwrap();
                    "in"
                },
            ),
        )
        .layer(layer);
    let mut b = Browser::new();
    b.post_form(&app, "/login/7", "").await;
    let first = holding(&b, &["session"]);
    assert_eq!(sessions(&app, &mut b).await.len(), 1);
    b.post_form(&app, "/login/8", "").await;
    let listed = sessions(&app, &mut b).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["current"], true);
    let mut first = first;
    assert_eq!(me(&app, &mut first).await, StatusCode::UNAUTHORIZED);
    b.post_form(&app, "/login/7", "").await;
    assert_eq!(sessions(&app, &mut b).await.len(), 1);
}

#[tokio::test]
async fn reg_04_an_outage_is_a_503_that_changes_no_cookie_and_logs_nobody_out() {
    let clock = FakeClock::at(NOW);
    let switch = Switch::default();
    let app = app(switch.clone(), &clock);
    let mut a = Browser::new();
    a.post_form(&app, "/login", "").await;
    let before = (
        a.jar.get("session").map(str::to_owned),
        a.jar.get("_remember").map(str::to_owned),
    );
    switch.down.store(true, std::sync::atomic::Ordering::SeqCst);
    for cookies in [&["session", "_remember"][..], &["_remember"][..]] {
        let mut b = holding(&a, cookies);
        let res = b.get(&app, "/me").await;
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(res.headers.contains_key("retry-after"));
        assert!(res.set_cookies.is_empty(), "no cookie changed or deleted");
    }
    // A logout during the outage fails visibly and deletes nothing.
    let res = a.post_form(&app, "/logout", "").await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.set_cookies.is_empty());
    // A request without a cookie is not affected.
    let res = Browser::new().get(&app, "/login").await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    // Back up: the same cookies work again.
    switch
        .down
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        (
            a.jar.get("session").map(str::to_owned),
            a.jar.get("_remember").map(str::to_owned)
        ),
        before
    );
    assert_eq!(me(&app, &mut a).await, StatusCode::OK);
}

#[tokio::test]
async fn reg_05_anonymous_requests_never_reach_the_registry() {
    let clock = FakeClock::at(NOW);
    // Every call would fail: anonymous traffic, with or without a session cookie, never makes
    // one.
    let app = app(Down, &clock);
    let mut anon = Browser::new();
    for n in 1..=3 {
        let res = anon.get(&app, "/count").await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.body, n.to_string());
    }
    assert!(!payload(anon.jar.get("session").unwrap()).contains_key("_sid"));
}

#[tokio::test]
async fn reg_06_a_microdot_login_is_adopted_on_first_sight() {
    let clock = FakeClock::at(NOW);
    let registry = tower_session_auth::MemoryRegistry::new();
    let app = app(registry, &clock);
    // A login a stateless layer (or Microdot) wrote: no `_sid`.
    let stateless = SessionLayer::builder(key())
        .clock(clock.clone())
        .build()
        .unwrap();
    let writer = Router::new()
        .route(
            "/login",
            post(|session: SessionDict| async move {
                login_user(&session, &member(), false).unwrap();
            }),
        )
        .layer(stateless);
    let mut a = Browser::new();
    a.post_form(&writer, "/login", "").await;
    assert!(!payload(a.jar.get("session").unwrap()).contains_key("_sid"));
    let res = a.get(&app, "/me").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        payload(a.jar.get("session").unwrap()).contains_key("_sid"),
        "adopted"
    );
    assert_eq!(sessions(&app, &mut a).await.len(), 1);
    // Once adopted, it can be revoked like any other.
    let copy = a.jar.clone();
    a.post_form(&app, "/logout", "").await;
    let mut thief = Browser::new();
    thief.jar = copy;
    thief.jar.remove("_remember");
    assert_eq!(me(&app, &mut thief).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn reg_07_a_logged_in_reader_writes_last_seen_at_most_once_per_quarter_idle_timeout() {
    let clock = FakeClock::at(NOW);
    let registry = Switch::default();
    let app = app(registry.clone(), &clock);
    let mut a = Browser::new();
    a.post_form(&app, "/login", "").await;
    // The default idle timeout is 30 minutes: `last_seen` may be written every 7.5 minutes.
    let before = registry.calls();
    for _ in 0..30 {
        clock.advance(Duration::from_secs(60));
        assert_eq!(me(&app, &mut a).await, StatusCode::OK);
    }
    // Each request reads its entry once; writes come on top.
    let writes = registry.calls() - before - 30;
    assert!(
        (3..=4).contains(&writes),
        "30 minutes of requests wrote last_seen {writes} times"
    );
    let listed = sessions(&app, &mut a).await;
    assert!(listed[0]["last_seen"].as_u64().unwrap() >= NOW + 30 * 60 - 450);
}

#[tokio::test]
async fn reg_07_on_the_memory_registry_last_seen_follows_a_reader_answered_at_once() {
    // The memory registry answers a cached login's check without a future, under one lock of
    // the session: what it records there (the entry's own `last_seen`, its device) decides when
    // the commit writes `last_seen` again and which device the listing marks as this one.
    let clock = FakeClock::at(NOW);
    let registry = tower_session_auth::MemoryRegistry::new();
    let app = app(registry.clone(), &clock);
    let mut a = Browser::new();
    a.post_form(&app, "/login", "").await;
    for _ in 0..30 {
        clock.advance(Duration::from_secs(60));
        assert_eq!(me(&app, &mut a).await, StatusCode::OK);
    }
    let listed = sessions(&app, &mut a).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let last_seen = listed[0]["last_seen"].as_u64().unwrap();
    assert!(
        (NOW + 30 * 60 - 450..=NOW + 30 * 60).contains(&last_seen),
        "last_seen {last_seen} after 30 minutes of requests from {NOW}"
    );
    assert_eq!(
        listed[0]["current"],
        serde_json::Value::Bool(true),
        "{listed:?}"
    );
}

#[tokio::test]
async fn reg_08_the_registry_keeps_digests_never_the_secrets_cookies_carry() {
    use ring::digest::{digest, SHA256};
    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let clock = FakeClock::at(NOW);
    let registry = tower_session_auth::MemoryRegistry::new();
    let app = app(registry.clone(), &clock);
    let mut a = Browser::new();
    a.post_form(&app, "/login", "").await;
    let sid = payload(a.jar.get("session").unwrap())["_sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let rid = payload(a.jar.get("_remember").unwrap())["rid"]
        .as_str()
        .unwrap()
        .to_owned();
    // The user's key: a digest of the user id's JSON (`7`).
    let user = hex(&digest(&SHA256, b"7").as_ref()[..16]);
    let mut ids: Vec<String> = registry
        .list(&user, NOW)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    ids.sort();
    let mut want = vec![
        hex(digest(&SHA256, sid.as_bytes()).as_ref()),
        hex(digest(&SHA256, rid.as_bytes()).as_ref()),
    ];
    want.sort();
    assert_eq!(ids, want);
    // Nor does its Debug output show any id.
    let debug = format!("{registry:?}");
    assert!(!debug.contains(&want[0][..16]) && !debug.contains(&sid));
}

#[tokio::test]
async fn reg_01_login_as_mints_a_tracked_login_that_logout_revokes() {
    let clock = FakeClock::at(NOW);
    let sessions = SessionLayer::builder(key())
        .registry(tower_session_auth::MemoryRegistry::new())
        .clock(clock.clone())
        .build()
        .unwrap();
    let app = Router::new()
        .route("/me", get(|| async { "member 7" }))
        .route_layer(member_gate())
        .route(
            "/logout",
            post(|session: SessionDict| async move { logout_user(&session) }),
        )
        .layer(sessions.clone());
    let mut client = tower_session_auth::TestClient::new(app.clone());
    client.login_as(&sessions, &member(), true).await.unwrap();
    assert!(payload(client.jar.get("session").unwrap()).contains_key("_sid"));
    let copy = client.jar.clone();
    assert_eq!(client.get("/me").await.status, StatusCode::OK);
    client.post_form("/logout", "").await;
    let mut thief = tower_session_auth::TestClient::new(app).with_jar(copy);
    assert_eq!(thief.get("/me").await.status, StatusCode::UNAUTHORIZED);
}

/// The flows against Redis: standalone and cluster, each with a key prefix of its own.
#[cfg(feature = "redis")]
mod on_redis {
    use super::*;
    use tower_session_auth::RedisRegistry;

    async fn standalone(test: &str) -> Option<RedisRegistry> {
        let url = redis_env::standalone_url()?;
        let prefix = format!("{test}{}", redis_env::run_id());
        Some(
            RedisRegistry::builder(url)
                .key_prefix(prefix)
                .build()
                .await
                .unwrap(),
        )
    }

    async fn cluster(test: &str) -> Option<RedisRegistry> {
        let urls = redis_env::cluster_urls()?;
        let prefix = format!("{test}{}", redis_env::run_id());
        Some(
            RedisRegistry::cluster_builder(urls)
                .key_prefix(prefix)
                .build()
                .await
                .unwrap(),
        )
    }

    #[tokio::test]
    async fn reg_01_two_browsers_on_redis_standalone_and_cluster() {
        if let Some(r) = standalone("twob").await {
            two_browsers(r).await;
        }
        if let Some(r) = cluster("twob").await {
            two_browsers(r).await;
        }
    }

    #[tokio::test]
    async fn reg_02_parallel_remember_me_on_redis_standalone_and_cluster() {
        if let Some(r) = standalone("par").await {
            parallel_remember(r).await;
        }
        if let Some(r) = cluster("par").await {
            parallel_remember(r).await;
        }
    }

    #[tokio::test]
    async fn reg_03_revoke_by_id_on_redis_standalone_and_cluster() {
        if let Some(r) = standalone("rev").await {
            revoke_by_id(r).await;
        }
        if let Some(r) = cluster("rev").await {
            revoke_by_id(r).await;
        }
    }

    /// Redis stopped by PID mid-test: `503` with nothing deleted, then the same cookies work.
    #[tokio::test]
    async fn reg_04_redis_stopped_mid_test_is_a_503_then_recovery() {
        // Persisted on every write (as a production Redis would be), so a restart loses nothing.
        let aof = format!("tsa-aof-{}", redis_env::run_id());
        let args = [
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--appenddirname",
            &aof,
        ];
        let Some(mut server) = redis_env::OwnServer::start(&args) else {
            return;
        };
        let registry = RedisRegistry::builder(server.url())
            .timeout(Duration::from_millis(500))
            .build()
            .await
            .unwrap();
        let clock = FakeClock::at(NOW);
        let app = app(registry, &clock);
        let mut a = Browser::new();
        a.post_form(&app, "/login", "").await;
        let session = a.jar.get("session").unwrap().to_owned();
        assert_eq!(me(&app, &mut a).await, StatusCode::OK);

        server.kill();
        let res = tokio::time::timeout(Duration::from_secs(20), a.get(&app, "/me"))
            .await
            .expect("answered within the registry's bound, not hung");
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(res.set_cookies.is_empty(), "nothing deleted or changed");
        let res = a.post_form(&app, "/logout", "").await;
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(res.set_cookies.is_empty());
        // Anonymous requests do not notice.
        let res = Browser::new().get(&app, "/count").await;
        assert_eq!(res.status, StatusCode::OK);

        server.restart();
        assert_eq!(a.jar.get("session"), Some(&*session));
        let mut recovered = None;
        for _ in 0..50 {
            let status = me(&app, &mut a).await;
            if status != StatusCode::SERVICE_UNAVAILABLE {
                recovered = Some(status);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            recovered,
            Some(StatusCode::OK),
            "the same cookies work again"
        );
        drop(server);
        let _ = std::fs::remove_dir_all(std::env::temp_dir().join(aof));
    }
}

#[tokio::test]
async fn reg_04_an_outage_answers_with_the_applications_hook() {
    let clock = FakeClock::at(NOW);
    let switch = Switch::default();
    let sessions = SessionLayer::builder(key())
        .registry(switch.clone())
        .clock(clock.clone())
        .unavailable(|| {
            http::Response::builder()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .header("retry-after", "30")
                .body(bytes::Bytes::from_static(b"back soon"))
                .unwrap()
        })
        .build()
        .unwrap();
    let app = Router::new()
        .route("/me", get(|| async { "member 7" }))
        .route_layer(
            AuthLayer::builder()
                .user_loader(|id: u64| async move { (id == 7).then(member) })
                .build()
                .unwrap(),
        )
        .route(
            "/login",
            post(|s: SessionDict| async move { login_user(&s, &member(), true).unwrap() }),
        )
        .layer(sessions);
    let mut a = Browser::new();
    a.post_form(&app, "/login", "").await;
    switch.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let res = a.get(&app, "/me").await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.body, "back soon");
    assert_eq!(res.headers["retry-after"], "30");
    assert_eq!(res.headers["cache-control"], "no-store");
    assert!(res.set_cookies.is_empty());
}

/// A remember-me cookie without `rid` (Microdot's format) is adopted on first sight; once its
/// device logs out, a copy of it is refused for good, even after a replay was caught.
#[tokio::test]
async fn reg_06_a_revoked_microdot_remember_cookie_is_never_adopted_again() {
    let clock = FakeClock::at(NOW);
    // Microdot's logins carry no auth-hash tag: a layer that shares them adopts untagged logins.
    let app = app_with(
        SessionLayer::builder(key())
            .registry(tower_session_auth::MemoryRegistry::new())
            .adopt_untagged_logins(true)
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    let exp = NOW + 30 * 86_400;
    let microdot = common::pyjwt(&format!(r#"{{"user_id":7,"days":30,"exp":{exp}}}"#));
    let copy = |value: &str| {
        let mut b = Browser::new();
        b.jar.insert("_remember", value);
        b
    };
    let mut owner = copy(&microdot);
    assert_eq!(me(&app, &mut owner).await, StatusCode::OK, "adopted");
    assert!(payload(owner.jar.get("_remember").unwrap()).contains_key("rid"));
    owner.post_form(&app, "/logout", "").await;
    for wait in [0, 31, 3600] {
        clock.advance(Duration::from_secs(wait));
        assert_eq!(
            me(&app, &mut copy(&microdot)).await,
            StatusCode::UNAUTHORIZED,
            "{wait} s after the logout"
        );
    }
}
