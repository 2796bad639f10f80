//! The session-store conformance suite: the same cases, generic over [`SessionStore`], run
//! against every implementation (memory, standalone Redis, Redis Cluster).

use serde_json::{json, Map, Value};
use tower_session_auth::{Saved, SessionPatch, SessionStore, StoredSession};

const NOW: u64 = 1_800_000_000;

fn record(data: Value, expires: u64) -> StoredSession {
    StoredSession {
        data: data.as_object().unwrap().clone(),
        version: 1,
        created: NOW,
        expires,
    }
}

fn patch(loaded_version: u64, set: Value, remove: &[&str]) -> SessionPatch {
    SessionPatch {
        loaded_version,
        set: set.as_object().unwrap().clone(),
        remove: remove.iter().map(|k| k.to_string()).collect(),
        expires: NOW + 1000,
    }
}

/// Runs every case against `store`; `run` makes the record ids unique to this run.
pub async fn run_all(store: &dyn SessionStore, run: &str) {
    let id = |case: &str| format!("{run}-{case}");
    large_round_trip(store, &id("large")).await;
    create_never_overwrites(store, &id("create")).await;
    versioned_save(store, &id("versioned")).await;
    concurrent_disjoint_writes_merge(store, &id("merge")).await;
    no_resurrection(store, &id("resurrect")).await;
    expiry(store, &id("expiry")).await;
}

async fn large_round_trip(s: &dyn SessionStore, id: &str) {
    // 64 KiB and more, with text that JSON must escape.
    let big: String = "\"notes\"\\ é ✓ \n".repeat(6000);
    assert!(big.len() > 64 * 1024);
    let mut data = Map::new();
    data.insert("big".into(), Value::String(big.clone()));
    data.insert("n".into(), json!(u64::MAX));
    data.insert("f".into(), json!(0.1));
    let r = StoredSession {
        data,
        version: 1,
        created: NOW,
        expires: NOW + 100,
    };
    assert!(s.create(id, &r, NOW).await.unwrap());
    let loaded = s.load(id, NOW).await.unwrap().unwrap();
    assert_eq!(loaded.data, r.data);
    assert_eq!(loaded.version, 1);
    assert_eq!(loaded.created, NOW);
    assert_eq!(loaded.expires, NOW + 100);
}

async fn create_never_overwrites(s: &dyn SessionStore, id: &str) {
    assert!(s
        .create(id, &record(json!({"a": 1}), NOW + 100), NOW)
        .await
        .unwrap());
    assert!(!s
        .create(id, &record(json!({"a": 2}), NOW + 100), NOW)
        .await
        .unwrap());
    assert_eq!(s.load(id, NOW).await.unwrap().unwrap().data["a"], 1);
}

async fn versioned_save(s: &dyn SessionStore, id: &str) {
    s.create(id, &record(json!({"a": 1, "b": 2}), NOW + 100), NOW)
        .await
        .unwrap();
    let saved = s
        .save(id, &patch(1, json!({"a": 10}), &["b"]), NOW)
        .await
        .unwrap();
    assert_eq!(saved, Saved::Saved { version: 2 });
    let loaded = s.load(id, NOW).await.unwrap().unwrap();
    assert_eq!(Value::Object(loaded.data), json!({"a": 10}));
    assert_eq!(loaded.version, 2);
    assert_eq!(loaded.expires, NOW + 1000, "a save sets the new deadline");
}

async fn concurrent_disjoint_writes_merge(s: &dyn SessionStore, id: &str) {
    s.create(id, &record(json!({"shared": 0}), NOW + 100), NOW)
        .await
        .unwrap();
    // Both loaded version 1; the second save lands on version 2.
    let first = patch(1, json!({"x": 1, "shared": 1}), &[]);
    assert_eq!(
        s.save(id, &first, NOW).await.unwrap(),
        Saved::Saved { version: 2 }
    );
    let second = patch(1, json!({"y": 2, "shared": 2}), &[]);
    assert_eq!(
        s.save(id, &second, NOW).await.unwrap(),
        Saved::Merged { version: 3 }
    );
    let loaded = s.load(id, NOW).await.unwrap().unwrap();
    // Disjoint keys both stay; for the key both changed, the later save wins.
    assert_eq!(
        Value::Object(loaded.data),
        json!({"x": 1, "y": 2, "shared": 2})
    );
}

async fn no_resurrection(s: &dyn SessionStore, id: &str) {
    s.create(id, &record(json!({"_user_id": 7}), NOW + 100), NOW)
        .await
        .unwrap();
    s.delete(id).await.unwrap();
    let cart = patch(1, json!({"cart": [1]}), &[]);
    assert_eq!(s.save(id, &cart, NOW).await.unwrap(), Saved::Gone);
    assert!(s.load(id, NOW).await.unwrap().is_none());
    // Deleting what is not there is not an error.
    s.delete(id).await.unwrap();
}

async fn expiry(s: &dyn SessionStore, id: &str) {
    s.create(id, &record(json!({"a": 1}), NOW + 10), NOW)
        .await
        .unwrap();
    assert!(s.load(id, NOW + 9).await.unwrap().is_some());
    assert!(s.load(id, NOW + 10).await.unwrap().is_none());
    let late = patch(1, json!({"a": 2}), &[]);
    assert_eq!(
        s.save(id, &late, NOW + 10).await.unwrap(),
        Saved::Gone,
        "an expired record is not saved into"
    );
    // Its id can be used again.
    assert!(s
        .create(id, &record(json!({"a": 3}), NOW + 100), NOW + 10)
        .await
        .unwrap());
}
