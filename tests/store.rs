//! The session-store conformance suite against every store: memory always; standalone Redis and
//! Redis Cluster when their addresses are configured (`.ci/run` starts both).

#[path = "store/conformance.rs"]
mod conformance;

use tower_session_auth::MemoryStore;

#[tokio::test]
async fn memory_store_conforms() {
    conformance::run_all(&MemoryStore::new(), "memory").await;
}
