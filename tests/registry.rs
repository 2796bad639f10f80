//! The registry conformance suite against every registry: memory always; standalone Redis and
//! Redis Cluster when their addresses are configured (`.ci/run` starts both).

#[path = "registry/conformance.rs"]
mod conformance;

use tower_session_auth::MemoryRegistry;

#[tokio::test]
async fn memory_registry_conforms() {
    conformance::run_all(&MemoryRegistry::new(), "memory").await;
}
