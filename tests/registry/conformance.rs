//! The registry conformance suite: the same cases, generic over [`Registry`], run against every
//! implementation (memory, standalone Redis, Redis Cluster).

use tower_session_auth::{EntryKind, Registry, RegistryEntry, Removal, Rotation};

const NOW: u64 = 1_800_000_000;

pub fn entry(kind: EntryKind, device: &str, expires: u64) -> RegistryEntry {
    RegistryEntry {
        kind,
        device: device.into(),
        created: NOW,
        last_seen: NOW,
        expires,
        user_agent: "Firefox on Linux".into(),
        rotated: None,
    }
}

/// A user key of its own for each case, so that cases never see each other's entries even on a
/// shared server.
fn user(case: &str, run: &str) -> String {
    format!("{run}-{case}")
}

/// Runs every case against `registry`; `run` makes the user keys unique to this run.
pub async fn run_all(registry: &dyn Registry, run: &str) {
    insert_get_and_idempotence(registry, &user("insert", run)).await;
    expiry(registry, &user("expiry", run)).await;
    touch_never_recreates(registry, &user("touch", run)).await;
    removal(registry, &user("removal", run)).await;
    rotation(registry, &user("rotation", run)).await;
    replay_revokes_remember(registry, &user("replay", run)).await;
    users_are_apart(registry, &user("apart-a", run), &user("apart-b", run)).await;
    list_is_exact(registry, &user("list", run)).await;
    revoked_remember_entries_stay_revoked(registry, &user("tomb", run)).await;
}

/// A removed remember-me entry leaves a tombstone: absent to `get` and `list`, never added again
/// by `insert`, unknown to `rotate`, until it expires.
async fn revoked_remember_entries_stay_revoked(r: &dyn Registry, u: &str) {
    let e = entry(EntryKind::Remember, "D", NOW + 100);
    for which in [
        Removal::Device("D".into()),
        Removal::Ids(vec!["r".into()]),
        Removal::Remember,
        Removal::AllDevicesBut("other".into()),
    ] {
        let id = format!("r-{which:?}");
        r.insert(u, &id, &e, NOW).await.unwrap();
        let which = match which {
            Removal::Ids(_) => Removal::Ids(vec![id.clone()]),
            w => w,
        };
        assert_eq!(r.remove(u, &which, NOW).await.unwrap(), 1, "{which:?}");
        assert_eq!(r.remove(u, &which, NOW).await.unwrap(), 0, "already gone");
        r.insert(u, &id, &e, NOW + 1).await.unwrap();
        assert!(
            r.get(u, &[&id], NOW + 1).await.unwrap()[0].is_none(),
            "{which:?}"
        );
        assert_eq!(
            r.rotate(u, &id, "next", &e, NOW + 1, 30).await.unwrap(),
            Rotation::Unknown
        );
        assert!(r.list(u, NOW + 1).await.unwrap().is_empty());
    }
    // Once expired, the id is free again.
    let id = "r-Remember";
    r.insert(
        u,
        id,
        &entry(EntryKind::Remember, "D", NOW + 200),
        NOW + 100,
    )
    .await
    .unwrap();
    assert!(r.get(u, &[id], NOW + 100).await.unwrap()[0].is_some());
}

async fn insert_get_and_idempotence(r: &dyn Registry, u: &str) {
    let first = entry(EntryKind::Session, "dev-1", NOW + 100);
    r.insert(u, "id-1", &first, NOW).await.unwrap();
    let mut other = first.clone();
    other.device = "dev-2".into();
    // Adding again never overwrites.
    r.insert(u, "id-1", &other, NOW).await.unwrap();
    let got = r.get(u, &["id-1", "id-2"], NOW).await.unwrap();
    assert_eq!(got, vec![Some(first), None]);
}

async fn expiry(r: &dyn Registry, u: &str) {
    r.insert(u, "short", &entry(EntryKind::Session, "d", NOW + 10), NOW)
        .await
        .unwrap();
    assert!(r.get(u, &["short"], NOW + 9).await.unwrap()[0].is_some());
    assert!(
        r.get(u, &["short"], NOW + 10).await.unwrap()[0].is_none(),
        "an entry reads as absent from its `expires` on"
    );
    assert!(r.list(u, NOW + 10).await.unwrap().is_empty());
    // An entry that is already expired is not added.
    r.insert(u, "dead", &entry(EntryKind::Session, "d", NOW), NOW)
        .await
        .unwrap();
    assert!(r.get(u, &["dead"], NOW - 1).await.unwrap()[0].is_none());
}

async fn touch_never_recreates(r: &dyn Registry, u: &str) {
    r.insert(u, "t", &entry(EntryKind::Session, "d", NOW + 100), NOW)
        .await
        .unwrap();
    r.touch(u, "t", NOW + 5, NOW + 5).await.unwrap();
    assert_eq!(
        r.get(u, &["t"], NOW + 5).await.unwrap()[0]
            .as_ref()
            .unwrap()
            .last_seen,
        NOW + 5
    );
    r.remove(u, &Removal::Ids(vec!["t".into()]), NOW + 6)
        .await
        .unwrap();
    r.touch(u, "t", NOW + 7, NOW + 7).await.unwrap();
    assert!(
        r.get(u, &["t"], NOW + 7).await.unwrap()[0].is_none(),
        "touching a removed entry must not bring it back"
    );
}

async fn removal(r: &dyn Registry, u: &str) {
    for (id, kind, device) in [
        ("a-s", EntryKind::Session, "A"),
        ("a-r", EntryKind::Remember, "A"),
        ("b-s", EntryKind::Session, "B"),
        ("b-r", EntryKind::Remember, "B"),
        ("c-s", EntryKind::Session, "C"),
    ] {
        r.insert(u, id, &entry(kind, device, NOW + 100), NOW)
            .await
            .unwrap();
    }
    let ids = ["a-s", "a-r", "b-s", "b-r", "c-s"];
    let live =
        |got: Vec<Option<RegistryEntry>>| got.iter().map(Option::is_some).collect::<Vec<_>>();
    assert_eq!(
        r.remove(u, &Removal::Device("B".into()), NOW)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        live(r.get(u, &ids, NOW).await.unwrap()),
        [true, true, false, false, true]
    );
    assert_eq!(
        r.remove(u, &Removal::AllDevicesBut("A".into()), NOW)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        live(r.get(u, &ids, NOW).await.unwrap()),
        [true, true, false, false, false]
    );
    assert_eq!(r.remove(u, &Removal::Remember, NOW).await.unwrap(), 1);
    assert_eq!(
        live(r.get(u, &ids, NOW).await.unwrap()),
        [true, false, false, false, false]
    );
    assert_eq!(
        r.remove(u, &Removal::Ids(vec!["a-s".into(), "nope".into()]), NOW)
            .await
            .unwrap(),
        1
    );
    assert!(r.list(u, NOW).await.unwrap().is_empty());
}

async fn rotation(r: &dyn Registry, u: &str) {
    let old = entry(EntryKind::Remember, "D", NOW + 1000);
    r.insert(u, "r0", &old, NOW).await.unwrap();
    let next = entry(EntryKind::Remember, "D", NOW + 1000);
    assert_eq!(
        r.rotate(u, "r0", "r1", &next, NOW + 1, 30).await.unwrap(),
        Rotation::Rotated
    );
    let got = r.get(u, &["r0", "r1"], NOW + 1).await.unwrap();
    assert_eq!(
        got[0].as_ref().unwrap().rotated,
        Some(("r1".to_string(), NOW + 1))
    );
    assert_eq!(got[1].as_ref(), Some(&next));
    // Within the grace window, the same successor: parallel requests all succeed.
    for at in [NOW + 1, NOW + 31] {
        assert_eq!(
            r.rotate(u, "r0", "r1", &next, at, 30).await.unwrap(),
            Rotation::Repeated
        );
    }
    // The successor is a remember-me entry of its own, usable once.
    assert_eq!(
        r.rotate(u, "r1", "r2", &next, NOW + 40, 30).await.unwrap(),
        Rotation::Rotated
    );
    // A session entry is never rotated, and an unknown id is unknown.
    r.insert(u, "s", &entry(EntryKind::Session, "D", NOW + 100), NOW)
        .await
        .unwrap();
    assert_eq!(
        r.rotate(u, "s", "x", &next, NOW, 30).await.unwrap(),
        Rotation::Unknown
    );
    assert_eq!(
        r.rotate(u, "nope", "x", &next, NOW, 30).await.unwrap(),
        Rotation::Unknown
    );
}

async fn replay_revokes_remember(r: &dyn Registry, u: &str) {
    let e = entry(EntryKind::Remember, "D", NOW + 1000);
    r.insert(u, "r0", &e, NOW).await.unwrap();
    r.insert(
        u,
        "other-device",
        &entry(EntryKind::Remember, "E", NOW + 1000),
        NOW,
    )
    .await
    .unwrap();
    r.insert(
        u,
        "session",
        &entry(EntryKind::Session, "E", NOW + 1000),
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(
        r.rotate(u, "r0", "r1", &e, NOW, 30).await.unwrap(),
        Rotation::Rotated
    );
    // After the grace window, the superseded token is a replay.
    assert_eq!(
        r.rotate(u, "r0", "r1", &e, NOW + 31, 30).await.unwrap(),
        Rotation::Replayed
    );
    let got = r
        .get(u, &["r0", "r1", "other-device", "session"], NOW + 31)
        .await
        .unwrap();
    assert!(
        got[..3].iter().all(Option::is_none),
        "every remember-me entry goes"
    );
    assert!(got[3].is_some(), "sessions stay");
}

async fn users_are_apart(r: &dyn Registry, a: &str, b: &str) {
    r.insert(
        a,
        "same-id",
        &entry(EntryKind::Session, "A", NOW + 100),
        NOW,
    )
    .await
    .unwrap();
    assert!(r.get(b, &["same-id"], NOW).await.unwrap()[0].is_none());
    assert_eq!(
        r.remove(b, &Removal::Ids(vec!["same-id".into()]), NOW)
            .await
            .unwrap(),
        0
    );
    assert!(r.get(a, &["same-id"], NOW).await.unwrap()[0].is_some());
}

async fn list_is_exact(r: &dyn Registry, u: &str) {
    for i in 0..5 {
        r.insert(
            u,
            &format!("l{i}"),
            &entry(EntryKind::Session, &format!("D{i}"), NOW + 10 + i),
            NOW,
        )
        .await
        .unwrap();
    }
    let mut listed: Vec<String> = r
        .list(u, NOW + 12)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    listed.sort();
    assert_eq!(listed, ["l3", "l4"]);
}
