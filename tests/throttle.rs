//! The login throttle through its public API, with a fake clock: every budget at its boundary,
//! refill, the known-device bypass, the empty username, trusted proxies, the hashing bound, the
//! counter store failing, and what the events say (SECURITY.md THR).

mod common;

use std::time::Duration;

use common::{key, FakeClock};
use http::header::COOKIE;
use http::StatusCode;
use tower_session_auth::{
    Budget, Charge, CounterStore, Error, HashLimit, LoginThrottle, LoginThrottleBuilder,
    StoreFuture, Verdict,
};

#[path = "throttle/helpers.rs"]
mod helpers;
use helpers::*;

#[tokio::test]
async fn thr_01_02_address_budget_at_its_boundary_and_refill() {
    let clock = FakeClock::at(T0);
    let t = builder(&clock).build().unwrap();
    let attacker = from("203.0.113.9", &[]);
    // Ten attempts on ten accounts: the address budget (10, then one a minute).
    for i in 0..10 {
        fail(&t, &attacker, &format!("user{i}")).await.unwrap();
    }
    throttled(fail(&t, &attacker, "user99").await, 60);
    // Another client is not affected.
    fail(&t, &from("198.51.100.1", &[]), "user99")
        .await
        .unwrap();
    clock.advance(std::time::Duration::from_secs(59));
    throttled(fail(&t, &attacker, "user99").await, 1);
    clock.advance(std::time::Duration::from_secs(1));
    fail(&t, &attacker, "user99").await.unwrap();
    throttled(fail(&t, &attacker, "user98").await, 60);
    // A long pause refills the whole burst, and no more.
    clock.advance(std::time::Duration::from_secs(3600));
    for i in 0..10 {
        fail(&t, &attacker, &format!("other{i}")).await.unwrap();
    }
    throttled(fail(&t, &attacker, "other99").await, 60);
}

#[tokio::test]
async fn thr_01_02_account_budget_across_addresses() {
    let clock = FakeClock::at(T0);
    let t = builder(&clock).build().unwrap();
    // Ten addresses, one attempt each, all on susan (10, then one every 5 minutes).
    for i in 0..10 {
        fail(&t, &from(&format!("192.0.2.{i}"), &[]), "susan")
            .await
            .unwrap();
    }
    let fresh = from("192.0.2.200", &[]);
    throttled(fail(&t, &fresh, "susan").await, 300);
    // Usernames are trimmed and lowercased: the same account.
    throttled(fail(&t, &fresh, " SUSAN ").await, 300);
    // The address itself still has its budget for other accounts.
    fail(&t, &fresh, "david").await.unwrap();
    clock.advance(std::time::Duration::from_secs(299));
    throttled(fail(&t, &fresh, "susan").await, 1);
    clock.advance(std::time::Duration::from_secs(1));
    fail(&t, &fresh, "susan").await.unwrap();
    throttled(fail(&t, &fresh, "susan").await, 300);
}

#[tokio::test]
async fn thr_01_a_refusal_spends_nothing_and_a_success_gives_back() {
    let clock = FakeClock::at(T0);
    let t = builder(&clock).build().unwrap();
    let client = from("203.0.113.9", &[]);
    for _ in 0..9 {
        fail(&t, &client, "susan").await.unwrap();
    }
    // A success gives its attempt back: still one left after it.
    succeed(&t, &client, "susan").await;
    fail(&t, &client, "susan").await.unwrap();
    // Both budgets are spent; the answer waits for the later one (the account's five minutes).
    // Hammering while refused does not push the wait further.
    for _ in 0..100 {
        throttled(fail(&t, &client, "susan").await, 300);
    }
    clock.advance(std::time::Duration::from_secs(60));
    throttled(fail(&t, &client, "susan").await, 240);
    // The address alone has refilled: another account is fine.
    fail(&t, &client, "david").await.unwrap();
    clock.advance(std::time::Duration::from_secs(240));
    fail(&t, &client, "susan").await.unwrap();
}

#[tokio::test]
async fn thr_03_a_known_device_is_not_locked_out() {
    let clock = FakeClock::at(T0);
    let t = builder(&clock).build().unwrap();
    // Susan logged in from her laptop once.
    let device = succeed(&t, &from("198.51.100.7", &[]), "susan").await;
    // An attacker spends susan's account budget from many addresses, and its own.
    for i in 0..10 {
        let _ = fail(&t, &from(&format!("203.0.113.{i}"), &[]), "susan").await;
    }
    for _ in 0..20 {
        let _ = fail(&t, &from("203.0.113.1", &[]), "susan").await;
    }
    throttled(fail(&t, &from("198.51.100.8", &[]), "susan").await, 300);
    // Her laptop still logs in, from her address or even from the attacker's.
    for peer in ["198.51.100.7", "203.0.113.1"] {
        clock.advance(std::time::Duration::from_secs(1));
        let laptop = from(peer, &[("cookie", &device)]);
        let again = succeed(&t, &laptop, "Susan").await;
        assert_ne!(again, device, "re-issued with a new lifetime");
    }
    // The cookie is worth nothing for another account...
    let laptop = from("198.51.100.7", &[("cookie", &device)]);
    for _ in 0..10 {
        fail(&t, &laptop, "david").await.unwrap();
    }
    throttled(fail(&t, &laptop, "david").await, 300);
    // ... nor once tampered with, nor once expired.
    let mut forged = device.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    throttled(
        fail(&t, &from("198.51.100.9", &[("cookie", &forged)]), "susan").await,
        298, // two seconds after the account's budget was spent
    );
    clock.advance(std::time::Duration::from_secs(180 * 86_400));
    for i in 0..10 {
        let _ = fail(&t, &from(&format!("203.0.113.{i}"), &[]), "susan").await;
    }
    throttled(fail(&t, &laptop, "susan").await, 300);
}

#[tokio::test]
async fn thr_03_a_known_device_has_a_budget_of_its_own() {
    let clock = FakeClock::at(T0);
    let t = builder(&clock).build().unwrap();
    let device = succeed(&t, &from("198.51.100.7", &[]), "susan").await;
    let laptop = from("198.51.100.7", &[(COOKIE.as_str(), &device)]);
    for _ in 0..10 {
        fail(&t, &laptop, "susan").await.unwrap();
    }
    throttled(fail(&t, &laptop, "susan").await, 60);
    // It did not spend the account's budget or the address's.
    fail(&t, &from("198.51.100.7", &[]), "susan").await.unwrap();
}

#[tokio::test]
async fn thr_05_an_empty_username_never_throttles_every_account() {
    let clock = FakeClock::at(T0);
    let t = builder(&clock).build().unwrap();
    // Empty usernames from many addresses: each spends its address budget only.
    for i in 0..50 {
        for name in ["", "   ", "\t"] {
            let _ = fail(&t, &from(&format!("203.0.113.{i}"), &[]), name).await;
        }
    }
    // Nobody else is throttled, whatever the account.
    for name in ["susan", "david", "x"] {
        fail(&t, &from("198.51.100.1", &[]), name).await.unwrap();
    }
    // And from one address, empty usernames spend that address's budget like any other.
    let one = from("192.0.2.1", &[]);
    for _ in 0..10 {
        fail(&t, &one, "").await.unwrap();
    }
    throttled(fail(&t, &one, "").await, 60);
    throttled(fail(&t, &one, "susan").await, 60);
}

#[tokio::test]
async fn thr_05_unknown_usernames_are_counted_like_known_ones() {
    let run = |name: &'static str| async move {
        let clock = FakeClock::at(T0);
        let t = builder(&clock).build().unwrap();
        let mut answers = Vec::new();
        for i in 0..12 {
            let r = fail(&t, &from(&format!("192.0.2.{i}"), &[]), name).await;
            answers.push(r.err().map(|r| (r.status(), r.retry_after())));
        }
        answers
    };
    let known = run("susan").await;
    assert_eq!(known, run("no-such-user").await);
    assert!(known[10].is_some(), "the 11th is refused: {known:?}");
}

#[tokio::test]
async fn thr_04_forwarded_headers_only_through_trusted_proxies() {
    let clock = FakeClock::at(T0);
    // No trusted proxy: a rotating X-Forwarded-For does not give new budgets.
    let t = builder(&clock).build().unwrap();
    for i in 0..10 {
        let xff = format!("10.1.1.{i}");
        fail(&t, &from("203.0.113.9", &[("x-forwarded-for", &xff)]), "a")
            .await
            .unwrap_or_else(|_| panic!("attempt {i}"));
    }
    let spoofed = from("203.0.113.9", &[("x-forwarded-for", "10.1.1.99")]);
    throttled(fail(&t, &spoofed, "b").await, 60);

    // Behind a trusted proxy: the right-most untrusted hop is the client, and what the client
    // wrote to its left cannot change it.
    let t = builder(&clock)
        .trusted_proxies(["10.0.0.0/8"])
        .build()
        .unwrap();
    for i in 0..10 {
        let xff = format!("6.6.6.{i}, 203.0.113.9, 10.0.0.3");
        fail(&t, &from("10.0.0.2", &[("x-forwarded-for", &xff)]), "a")
            .await
            .unwrap();
    }
    let spoofed = from("10.0.0.2", &[("x-forwarded-for", "1.2.3.4, 203.0.113.9")]);
    throttled(fail(&t, &spoofed, "b").await, 60);
    // Another client behind the same proxy has its own budget.
    let other = from("10.0.0.2", &[("x-forwarded-for", "198.51.100.4")]);
    fail(&t, &other, "b").await.unwrap();
}

#[tokio::test]
async fn thr_07_every_permit_taken_is_503_and_spends_no_budget() {
    let clock = FakeClock::at(T0);
    let limit = HashLimit::new(1);
    let t = builder(&clock).hash_limit(limit.clone()).build().unwrap();
    let client = from("203.0.113.9", &[]);
    let held = limit.try_acquire().unwrap();
    for _ in 0..20 {
        let refusal = t.check(&client, "susan").await.unwrap_err();
        assert_eq!(refusal.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refusal.retry_after(), 1);
    }
    drop(held);
    // An attempt holds the permit until it is reported, or until its taken permit is dropped.
    let mut attempt = t.check(&client, "susan").await.unwrap();
    assert!(t.check(&client, "susan").await.is_err());
    let permit = attempt.take_permit().unwrap();
    assert!(attempt.take_permit().is_none());
    attempt.failed();
    assert!(t.check(&client, "susan").await.is_err(), "still hashing");
    drop(permit);
    // The twenty refusals spent nothing: nine more attempts fit in the budget.
    for _ in 0..9 {
        fail(&t, &client, "susan").await.unwrap();
    }
    throttled(fail(&t, &client, "susan").await, 300);
}

#[derive(Debug)]
struct Down;

impl CounterStore for Down {
    fn spend<'a>(&'a self, _: &'a [Charge], _: u64) -> StoreFuture<'a, Verdict> {
        Box::pin(async { Err(Error::CounterStore("connection refused".into())) })
    }
    fn refund<'a>(&'a self, _: &'a [Charge], _: u64) -> StoreFuture<'a, ()> {
        Box::pin(async { Err(Error::CounterStore("connection refused".into())) })
    }
}

#[tokio::test]
async fn thr_08_a_failing_store_is_503_and_hashes_nothing() {
    let limit = HashLimit::new(1);
    let t = LoginThrottle::builder(key())
        .store(Down)
        .hash_limit(limit.clone())
        .build()
        .unwrap();
    let refusal = t
        .check(&from("203.0.113.9", &[]), "susan")
        .await
        .unwrap_err();
    assert_eq!(refusal.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refusal.retry_after(), 5);
    assert!(limit.try_acquire().is_some(), "no permit was taken");
}

#[tokio::test]
async fn without_a_connection_address_only_account_budgets_apply() {
    let clock = FakeClock::at(T0);
    let t = builder(&clock).build().unwrap();
    let (anonymous, ()) = http::Request::post("/login").body(()).unwrap().into_parts();
    for i in 0..30 {
        fail(&t, &anonymous, &format!("user{i}")).await.unwrap();
    }
    for _ in 0..10 {
        fail(&t, &anonymous, "susan").await.unwrap();
    }
    throttled(fail(&t, &anonymous, "susan").await, 300);
}

#[test]
fn thr_configuration_is_checked() {
    use tower_session_auth::ConfigError;
    let refused = |b: LoginThrottleBuilder| match b.build() {
        Err(Error::InvalidConfig(rule)) => rule,
        other => panic!("{other:?}"),
    };
    let b = || LoginThrottle::builder(key());
    assert_eq!(
        refused(b().per_address(Budget::new(0, Duration::from_secs(60)))),
        ConfigError::Budget
    );
    assert_eq!(
        refused(b().per_device(Budget::new(1, Duration::ZERO))),
        ConfigError::Budget
    );
    assert_eq!(
        refused(b().trusted_proxies(["10.0.0.0/40"])),
        ConfigError::TrustedProxy
    );
    assert_eq!(
        refused(b().device_lifetime(Duration::from_secs(401 * 86_400))),
        ConfigError::ThrottleLimit
    );
    assert_eq!(
        refused(b().secure(false).device_cookie_name("__Host-device")),
        ConfigError::CookiePrefix
    );
    assert_eq!(
        refused(b().device_cookie_name("a b")),
        ConfigError::CookieName
    );
    // Plain http gets an unprefixed default name.
    assert!(b().secure(false).build().is_ok());
}

#[tokio::test]
async fn check_basic_takes_the_username_from_the_authorization_header() {
    let clock = FakeClock::at(T0);
    let t = builder(&clock).build().unwrap();
    // susan:wrong from ten addresses spends susan's account budget.
    for i in 0..10 {
        let parts = from(
            &format!("192.0.2.{i}"),
            &[("authorization", "Basic c3VzYW46d3Jvbmc=")],
        );
        t.check_basic(&parts).await.unwrap().unwrap().failed();
    }
    let parts = from("192.0.2.99", &[("authorization", "basic c3VzYW46aGVsbG8=")]);
    let refusal = t.check_basic(&parts).await.unwrap().unwrap_err();
    assert_eq!(refusal.status(), StatusCode::TOO_MANY_REQUESTS);
    // No credentials, malformed ones, or two headers: nothing to check.
    for headers in [
        vec![],
        vec![("authorization", "Basic !!!")],
        vec![("authorization", "Bearer abc")],
        vec![
            ("authorization", "Basic c3VzYW46aGVsbG8="),
            ("authorization", "Basic c3VzYW46aGVsbG8="),
        ],
    ] {
        assert!(t.check_basic(&from("192.0.2.99", &headers)).await.is_none());
    }
}
