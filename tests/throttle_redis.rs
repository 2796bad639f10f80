//! Redis-shared counters across two layers (SECURITY.md THR-11): two throttles, as two
//! instances behind one load balancer would have, spend the same budgets through one Redis.
//!
//! Needs `TSA_REDIS_URL` (such as `redis://127.0.0.1:6379`). Without it the test says so loudly
//! and passes, unless `CI` is set: then it fails, so CI can never skip it silently.
#![cfg(feature = "redis")]

mod common;

use common::{key, FakeClock};
use http::request::Parts;
use http::StatusCode;
use ring::rand::{SecureRandom, SystemRandom};
use tower_session_auth::{ClientAddr, Error, LoginThrottle, RedisCounters};

const T0: u64 = 1_700_000_000;

fn redis_url() -> Option<String> {
    match std::env::var("TSA_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set but TSA_REDIS_URL is not: the Redis test cannot run")
        }
        _ => {
            // Straight to stderr: the test harness captures `eprintln!` of passing tests.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                "\n\
                 ******************************************************************\n\
                 * SKIPPED: Redis-shared counters across two layers.              *\n\
                 * Set TSA_REDIS_URL=redis://127.0.0.1:PORT to run this test.     *\n\
                 ******************************************************************\n"
                    .as_bytes(),
            );
            None
        }
    }
}

/// A key prefix of its own for each run, so runs never see each other's counters.
fn prefix() -> String {
    let mut bytes = [0u8; 8];
    SystemRandom::new().fill(&mut bytes).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("tsa-test:{hex}:")
}

fn instance(url: &str, prefix: &str, clock: &FakeClock) -> LoginThrottle {
    let store = RedisCounters::open(url).unwrap().key_prefix(prefix);
    LoginThrottle::builder(key())
        .clock(clock.clone())
        .store(store)
        .build()
        .unwrap()
}

fn from(peer: &str) -> Parts {
    let (mut parts, ()) = http::Request::post("/login").body(()).unwrap().into_parts();
    parts.extensions.insert(ClientAddr(peer.parse().unwrap()));
    parts
}

#[tokio::test]
async fn thr_11_redis_shared_counters_across_two_layers() {
    let Some(url) = redis_url() else { return };
    let prefix = prefix();
    let clock = FakeClock::at(T0);
    let (a, b) = (
        instance(&url, &prefix, &clock),
        instance(&url, &prefix, &clock),
    );
    let attacker = from("203.0.113.9");
    // Five failures through each instance: ten from one address, over ten accounts.
    for i in 0..10 {
        let instance = if i % 2 == 0 { &a } else { &b };
        let attempt = instance
            .check(&attacker, &format!("user{i}"))
            .await
            .unwrap_or_else(|r| panic!("attempt {i}: {r:?}"));
        attempt.failed();
    }
    // The eleventh is refused by both: the address's budget is spent for the whole fleet.
    for instance in [&a, &b] {
        let refusal = instance.check(&attacker, "user99").await.unwrap_err();
        assert_eq!(refusal.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refusal.retry_after(), 60);
    }
    // Refill at the boundary, seen by both.
    clock.advance(std::time::Duration::from_secs(59));
    assert_eq!(b.check(&attacker, "x").await.unwrap_err().retry_after(), 1);
    clock.advance(std::time::Duration::from_secs(1));
    a.check(&attacker, "x").await.unwrap().failed();
    assert!(b.check(&attacker, "y").await.is_err());

    // Account budgets are shared too, and a known-device cookie issued by one instance is
    // honoured by the other (same key).
    let laptop = from("198.51.100.7");
    let cookie = a
        .check(&laptop, "susan")
        .await
        .unwrap()
        .succeeded()
        .await
        .unwrap();
    for i in 0..10 {
        let instance = if i % 2 == 0 { &a } else { &b };
        if let Ok(attempt) = instance
            .check(&from(&format!("192.0.2.{i}")), "susan")
            .await
        {
            attempt.failed();
        }
    }
    let refusal = a.check(&from("192.0.2.200"), "susan").await.unwrap_err();
    assert_eq!(refusal.status(), StatusCode::TOO_MANY_REQUESTS);
    let value = cookie
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut with_cookie = from("198.51.100.7");
    with_cookie.headers.insert("cookie", value.parse().unwrap());
    let attempt = b
        .check(&with_cookie, "susan")
        .await
        .expect("a known device");
    // A success gives its attempt back in Redis too.
    attempt.succeeded().await;
    for _ in 0..10 {
        b.check(&with_cookie, "susan").await.unwrap().failed();
    }
    assert!(a.check(&with_cookie, "susan").await.is_err());
}

#[tokio::test]
async fn thr_08_an_unreachable_redis_is_503() {
    // A port nothing listens on: connection refused, within the timeouts.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let store = RedisCounters::open(&format!("redis://127.0.0.1:{port}")).unwrap();
    let throttle = LoginThrottle::builder(key()).store(store).build().unwrap();
    let started = std::time::Instant::now();
    let refusal = throttle
        .check(&from("203.0.113.9"), "susan")
        .await
        .unwrap_err();
    assert_eq!(refusal.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Bounded by the store's deadline (not a timing assertion on the throttle's speed: a
    // deadline of seconds, not a measurement).
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(matches!(
        RedisCounters::open("http://example.com"),
        Err(Error::CounterStore(_))
    ));
}
