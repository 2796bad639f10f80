//! What the login throttle's events say: hashes of the account and the address, never the
//! username, an address or a cookie (SECURITY.md THR). Alone in its test binary: a `tracing`
//! capture shares callsites with every test running beside it.

mod common;
#[path = "throttle/helpers.rs"]
mod helpers;
#[path = "common/logs.rs"]
mod logs;

use std::sync::{Arc, Mutex};

use common::FakeClock;
use helpers::*;
use tower_session_auth::{BudgetKind, ThrottleEvent, ThrottleOutcome};

#[tokio::test]
async fn thr_09_events_carry_hashes_never_names_addresses_or_cookies() {
    let (captured, _guard) = logs::capture_logs();

    let clock = FakeClock::at(T0);
    let events: Arc<Mutex<Vec<ThrottleEvent>>> = Arc::default();
    let seen = Arc::clone(&events);
    let t = builder(&clock)
        .on_event(move |e| seen.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    let device = succeed(&t, &from("198.51.100.77", &[]), "susanna").await;
    let client = from("203.0.113.99", &[]);
    for _ in 0..10 {
        fail(&t, &client, "susanna").await.unwrap();
    }
    throttled(fail(&t, &client, "susanna").await, 300);
    let laptop = from("198.51.100.77", &[("cookie", &device)]);
    fail(&t, &laptop, "susanna").await.unwrap();

    let events = events.lock().unwrap();
    assert_eq!(events.len(), 13);
    assert_eq!(events[0].outcome, ThrottleOutcome::Succeeded);
    assert_eq!(events[1].outcome, ThrottleOutcome::Failed);
    let refused = &events[11];
    assert_eq!(
        refused.outcome,
        ThrottleOutcome::Throttled(BudgetKind::Account)
    );
    assert_eq!(refused.retry_after, Some(300));
    assert!(!refused.known_device);
    assert!(events[12].known_device);
    // The same account and address give the same hashes; different ones differ.
    assert_eq!(refused.account, events[0].account);
    assert_ne!(refused.address, events[0].address);
    let account = refused.account.clone().unwrap();
    assert_eq!(account.len(), 32);

    let logs = captured.text();
    assert!(logs.contains("login attempt throttled"), "{logs}");
    assert!(logs.contains(&account), "{logs}");
    assert!(logs.contains("budget=account"), "{logs}");
    let cookie_value = device.split_once('=').unwrap().1;
    for secret in [
        "susanna",
        "203.0.113.99",
        "198.51.100.77",
        cookie_value,
        &cookie_value[..20],
    ] {
        assert!(!logs.contains(secret), "{secret} in the logs: {logs}");
    }
    let shown = format!("{t:?} {events:?}");
    assert!(!shown.contains("susanna") && !shown.contains(cookie_value));
}
