//! The session-store conformance suite against every store: memory always; standalone Redis and
//! Redis Cluster when their addresses are configured (`.ci/run` starts both).

#[path = "store/conformance.rs"]
mod conformance;
#[cfg(feature = "redis")]
#[path = "common/redis.rs"]
mod redis_env;

use tower_session_auth::MemoryStore;
#[cfg(feature = "redis")]
use tower_session_auth::RedisRegistry;

#[tokio::test]
async fn memory_store_conforms() {
    conformance::run_all(&MemoryStore::new(), "memory").await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_standalone_store_conforms() {
    let Some(url) = redis_env::standalone_url() else {
        return;
    };
    let store = RedisRegistry::builder(url).build().await.unwrap();
    conformance::run_all(&store, &redis_env::run_id()).await;
    corrupt_record_reads_as_a_new_session(&store, &redis_env::run_id()).await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_cluster_store_conforms() {
    let Some(urls) = redis_env::cluster_urls() else {
        return;
    };
    let store = RedisRegistry::cluster_builder(urls).build().await.unwrap();
    conformance::run_all(&store, &redis_env::run_id()).await;
}

/// A record that is not one (written by something else) reads as no session, with a `warn`.
#[cfg(feature = "redis")]
async fn corrupt_record_reads_as_a_new_session(store: &RedisRegistry, run: &str) {
    use tower_session_auth::SessionStore;
    let url = redis_env::standalone_url().unwrap();
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let id = format!("{run}-corrupt");
    let key = format!("tsa:s:{{{id}}}");
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("v")
        .arg("1")
        .arg("c")
        .arg("1")
        .arg("e")
        .arg("99999999999")
        .arg("d:a")
        .arg("{not json")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(store.load(&id, 1_800_000_000).await.unwrap().is_none());
}
