//! Server-side placement (`SessionLayerBuilder::store`): an id-only cookie, big sessions, writes
//! only on change, no lost updates between concurrent requests, no resurrection after a logout
//! or a delete, failure policies, and the import of stateless cookies.

mod common;
#[cfg(feature = "redis")]
#[path = "common/redis.rs"]
mod redis_env;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use common::{key, payload, Browser, FakeClock, Member};
use serde_json::Value;
use tokio::sync::Semaphore;
use tower_session_auth::{
    login_user, logout_user, AuthLayer, MemoryStore, RegistryError, RegistryFuture, Saved,
    SessionDict, SessionLayer, SessionLayerBuilder, SessionPatch, SessionStore, StoreFailure,
    StoredSession,
};

const NOW: u64 = 1_800_000_000;

/// A memory store that counts its writes and can fail its loads or its saves.
#[derive(Debug, Clone, Default)]
struct Probe {
    inner: MemoryStore,
    writes: Arc<AtomicUsize>,
    fail_loads: Arc<AtomicBool>,
    fail_saves: Arc<AtomicBool>,
}

fn down<'a, T: Send + 'a>() -> RegistryFuture<'a, T> {
    Box::pin(async { Err(RegistryError::new("down")) })
}

impl SessionStore for Probe {
    fn load<'a>(&'a self, id: &'a str, now: u64) -> RegistryFuture<'a, Option<StoredSession>> {
        if self.fail_loads.load(Ordering::SeqCst) {
            return down();
        }
        self.inner.load(id, now)
    }
    fn create<'a>(
        &'a self,
        id: &'a str,
        s: &'a StoredSession,
        now: u64,
    ) -> RegistryFuture<'a, bool> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        if self.fail_saves.load(Ordering::SeqCst) {
            return down();
        }
        self.inner.create(id, s, now)
    }
    fn save<'a>(&'a self, id: &'a str, p: &'a SessionPatch, now: u64) -> RegistryFuture<'a, Saved> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        if self.fail_saves.load(Ordering::SeqCst) {
            return down();
        }
        self.inner.save(id, p, now)
    }
    fn delete<'a>(&'a self, id: &'a str) -> RegistryFuture<'a, ()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(id)
    }
}

/// Two signals for slow requests: how many have read the session; how many may write now.
#[derive(Clone)]
struct Slow {
    loaded: Arc<Semaphore>,
    go: Arc<Semaphore>,
}

impl Default for Slow {
    fn default() -> Self {
        Slow {
            loaded: Arc::new(Semaphore::new(0)),
            go: Arc::new(Semaphore::new(0)),
        }
    }
}

impl Slow {
    /// Waits until `n` slow requests have read their session.
    async fn loaded(&self, n: u32) {
        self.loaded.acquire_many(n).await.unwrap().forget();
    }

    /// Lets `n` slow requests write.
    fn go(&self, n: usize) {
        self.go.add_permits(n);
    }
}

fn member() -> Member {
    Member {
        id: 7,
        hash: b"hash".to_vec(),
    }
}

fn app(sessions: SessionLayer) -> (Router, Slow) {
    let slow = Slow::default();
    let gate = AuthLayer::builder()
        .user_loader(|id: u64| async move { (id == 7).then(member) })
        .redirect_to_login(false)
        .build()
        .unwrap();
    let router = Router::new()
        .route("/me", get(|| async { "member 7" }))
        .route_layer(gate)
        .route(
            "/login",
            post(|s: SessionDict| async move { login_user(&s, &member(), false).unwrap() }),
        )
        .route(
            "/logout",
            post(|s: SessionDict| async move { logout_user(&s) }),
        )
        .route("/delete", post(|s: SessionDict| async move { s.delete() }))
        .route(
            "/get/{key}",
            get(
                |s: SessionDict, axum::extract::Path(k): axum::extract::Path<String>| async move {
                    s.get::<Value>(&k).unwrap().unwrap_or(Value::Null).to_string()
                },
            ),
        )
        .route(
            "/set/{key}/{value}",
            post(
                |s: SessionDict,
                 axum::extract::Path((k, v)): axum::extract::Path<(String, String)>| async move {
                    s.insert(&k, v).unwrap();
                },
            ),
        )
        .route(
            "/big",
            post(|s: SessionDict| async move {
                s.insert("big", "é".repeat(40_000)).unwrap();
            }),
        )
        .route(
            "/slow/{key}/{value}",
            post(
                |State(slow): State<Slow>,
                 s: SessionDict,
                 axum::extract::Path((k, v)): axum::extract::Path<(String, String)>| async move {
                    let _ = s.get::<Value>("_user_id");
                    slow.loaded.add_permits(1);
                    slow.go.acquire().await.unwrap().forget();
                    s.insert(&k, v).unwrap();
                },
            ),
        )
        .with_state(slow.clone())
        .layer(sessions);
    (router, slow)
}

fn layer(store: impl SessionStore) -> SessionLayerBuilder {
    SessionLayer::builder(key())
        .store(store)
        .clock(FakeClock::at(NOW))
}

#[tokio::test]
async fn srv_01_the_cookie_carries_only_an_id_and_big_sessions_round_trip() {
    let (app, _) = app(layer(MemoryStore::new()).build().unwrap());
    let mut b = Browser::new();
    let res = b.post_form(&app, "/big", "").await;
    assert_eq!(res.status, StatusCode::OK);
    let cookie = b.jar.get("session").unwrap().to_owned();
    assert!(
        cookie.len() < 300,
        "an id, not the data: {} bytes",
        cookie.len()
    );
    let members: Vec<String> = payload(&cookie).keys().cloned().collect();
    assert!(members
        .iter()
        .all(|m| m == "_store" || ["iat", "exp", "_created"].contains(&&**m)));
    // 80,000 bytes of JSON, well past what a cookie holds, come back whole.
    let res = b.get(&app, "/get/big").await;
    assert_eq!(res.body.len(), 80_002);
    assert!(res.set_cookies.is_empty());
}

#[tokio::test]
async fn srv_02_a_request_that_only_reads_writes_nothing() {
    let probe = Probe::default();
    let (app, _) = app(layer(probe.clone()).build().unwrap());
    let mut b = Browser::new();
    b.post_form(&app, "/set/a/1", "").await;
    let writes = probe.writes.load(Ordering::SeqCst);
    for _ in 0..5 {
        let res = b.get(&app, "/get/a").await;
        assert_eq!(res.body, "\"1\"");
        assert!(res.set_cookies.is_empty(), "no Set-Cookie");
    }
    assert_eq!(
        probe.writes.load(Ordering::SeqCst),
        writes,
        "no store write"
    );
    // Storing the value already there changes nothing either.
    b.post_form(&app, "/set/a/1", "").await;
    assert_eq!(probe.writes.load(Ordering::SeqCst), writes);
}

#[tokio::test]
async fn srv_03_twenty_concurrent_requests_keep_all_twenty_keys() {
    twenty_concurrent_keys(MemoryStore::new()).await;
}

async fn twenty_concurrent_keys(store: impl SessionStore) {
    let (app, slow) = app(layer(store).build().unwrap());
    let mut b = Browser::new();
    b.post_form(&app, "/set/start/0", "").await;
    // Twenty requests load the same version, then all save.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (app, jar) = (app.clone(), b.jar.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Browser::new();
            c.jar = jar;
            c.post_form(&app, &format!("/slow/k{i}/v{i}"), "")
                .await
                .status
        }));
    }
    slow.loaded(20).await;
    slow.go(20);
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    for i in 0..20 {
        assert_eq!(
            b.get(&app, &format!("/get/k{i}")).await.body,
            format!("\"v{i}\"")
        );
    }
}

#[tokio::test]
async fn srv_04_a_logout_racing_a_slow_write_stays_logged_out() {
    let (app, slow) = app(layer(MemoryStore::new()).build().unwrap());
    let mut b = Browser::new();
    b.post_form(&app, "/login", "").await;
    // Data beside the login, so that the logout keeps the session (it only ends the login).
    b.post_form(&app, "/set/theme/dark", "").await;
    assert_eq!(b.get(&app, "/me").await.status, StatusCode::OK);
    let (slow_app, jar) = (app.clone(), b.jar.clone());
    let task = tokio::spawn(async move {
        let mut c = Browser::new();
        c.jar = jar;
        c.post_form(&slow_app, "/slow/cart/full", "").await
    });
    slow.loaded(1).await;
    b.post_form(&app, "/logout", "").await;
    assert_eq!(b.get(&app, "/me").await.status, StatusCode::UNAUTHORIZED);
    slow.go(1);
    assert_eq!(task.await.unwrap().status, StatusCode::OK);
    assert_eq!(
        b.get(&app, "/me").await.status,
        StatusCode::UNAUTHORIZED,
        "the slow write did not bring the login back"
    );
    assert_eq!(
        b.get(&app, "/get/cart").await.body,
        "\"full\"",
        "and it kept its own change"
    );
}

#[tokio::test]
async fn srv_04_a_deleted_session_is_never_brought_back() {
    let (app, slow) = app(layer(MemoryStore::new()).build().unwrap());
    let mut b = Browser::new();
    b.post_form(&app, "/login", "").await;
    let copy = b.jar.clone();
    let (slow_app, jar) = (app.clone(), b.jar.clone());
    let task = tokio::spawn(async move {
        let mut c = Browser::new();
        c.jar = jar;
        c.post_form(&slow_app, "/slow/cart/full", "").await
    });
    slow.loaded(1).await;
    b.post_form(&app, "/delete", "").await;
    slow.go(1);
    let res = task.await.unwrap();
    assert_eq!(res.status, StatusCode::OK);
    let mut c = Browser::new();
    c.jar = copy;
    assert_eq!(c.get(&app, "/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(c.get(&app, "/get/cart").await.body, "null");
}

#[tokio::test]
async fn srv_05_for_a_key_two_requests_both_change_the_later_save_wins() {
    let (app, slow) = app(layer(MemoryStore::new()).build().unwrap());
    let mut b = Browser::new();
    b.post_form(&app, "/set/color/red", "").await;
    let (slow_app, jar) = (app.clone(), b.jar.clone());
    let task = tokio::spawn(async move {
        let mut c = Browser::new();
        c.jar = jar;
        c.post_form(&slow_app, "/slow/color/blue", "").await
    });
    slow.loaded(1).await;
    b.post_form(&app, "/set/color/green", "").await;
    slow.go(1);
    task.await.unwrap();
    assert_eq!(b.get(&app, "/get/color").await.body, "\"blue\"");
}

#[tokio::test]
async fn srv_06_a_store_that_fails_is_a_503_that_changes_no_cookie() {
    let probe = Probe::default();
    let (app, _) = app(layer(probe.clone()).build().unwrap());
    let mut b = Browser::new();
    b.post_form(&app, "/login", "").await;
    let before = b.jar.get("session").unwrap().to_owned();

    // A load that fails: 503 before the handler runs.
    probe.fail_loads.store(true, Ordering::SeqCst);
    let res = b.get(&app, "/me").await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.set_cookies.is_empty());
    assert!(!res.body.contains("down"), "no backend message in the body");
    probe.fail_loads.store(false, Ordering::SeqCst);

    // A save that fails after the handler: by default, 503 and no cookie change.
    probe.fail_saves.store(true, Ordering::SeqCst);
    let res = b.post_form(&app, "/set/a/1", "").await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.set_cookies.is_empty());
    // A new session that cannot be saved gets no cookie pointing at nothing.
    let res = Browser::new().post_form(&app, "/set/a/1", "").await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.set_cookies.is_empty());
    probe.fail_saves.store(false, Ordering::SeqCst);
    assert_eq!(b.jar.get("session"), Some(&*before));
    assert_eq!(b.get(&app, "/me").await.status, StatusCode::OK);
    assert_eq!(b.get(&app, "/get/a").await.body, "null");
}

#[tokio::test]
async fn srv_06_keep_response_sends_the_handlers_answer_without_cookies() {
    let probe = Probe::default();
    let sessions = layer(probe.clone())
        .store_failure(StoreFailure::KeepResponse)
        .build()
        .unwrap();
    let (app, _) = app(sessions);
    probe.fail_saves.store(true, Ordering::SeqCst);
    let res = Browser::new().post_form(&app, "/set/a/1", "").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.set_cookies.is_empty());
}

#[tokio::test]
async fn srv_07_a_stateless_cookie_is_imported_once_into_a_new_record() {
    let clock = FakeClock::at(NOW);
    let stateless = SessionLayer::builder(key())
        .clock(clock.clone())
        .build()
        .unwrap();
    let (old_app, _) = app(stateless);
    let mut b = Browser::new();
    b.post_form(&old_app, "/login", "").await;
    b.post_form(&old_app, "/set/cart/three", "").await;
    assert!(payload(b.jar.get("session").unwrap()).contains_key("cart"));

    let probe = Probe::default();
    let (app, _) = app(layer(probe.clone()).build().unwrap());
    let res = b.get(&app, "/get/cart").await;
    assert_eq!(res.body, "\"three\"");
    let cookie = b.jar.get("session").unwrap().to_owned();
    assert!(
        payload(&cookie).contains_key("_store"),
        "replaced by an id cookie"
    );
    assert!(!payload(&cookie).contains_key("cart"));
    assert_eq!(probe.writes.load(Ordering::SeqCst), 1, "imported once");
    assert_eq!(
        b.get(&app, "/me").await.status,
        StatusCode::OK,
        "the login came along"
    );
    assert_eq!(b.get(&app, "/get/cart").await.body, "\"three\"");
    assert_eq!(probe.writes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn srv_08_a_login_moves_the_session_to_a_new_record() {
    let probe = Probe::default();
    let (app, _) = app(layer(probe.clone()).build().unwrap());
    let mut b = Browser::new();
    b.post_form(&app, "/set/planted/yes", "").await;
    let before = b.jar.get("session").unwrap().to_owned();
    b.post_form(&app, "/login", "").await;
    let after = b.jar.get("session").unwrap().to_owned();
    assert_ne!(payload(&before)["_store"], payload(&after)["_store"]);
    // The pre-login record is gone: its cookie reads as a new session.
    let mut old = Browser::new();
    old.jar.insert("session", before);
    assert_eq!(old.get(&app, "/get/planted").await.body, "null");
    assert_eq!(
        b.get(&app, "/get/planted").await.body,
        "null",
        "a login starts anew"
    );
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn srv_03_twenty_concurrent_requests_keep_all_twenty_keys_on_redis() {
    use tower_session_auth::RedisRegistry;
    if let Some(url) = redis_env::standalone_url() {
        twenty_concurrent_keys(RedisRegistry::builder(url).build().await.unwrap()).await;
    }
    if let Some(urls) = redis_env::cluster_urls() {
        twenty_concurrent_keys(RedisRegistry::cluster_builder(urls).build().await.unwrap()).await;
    }
}
