//! What the throttle tests share: a throttle on a fake clock, requests from an address, and
//! failed and successful attempts.
#![allow(dead_code)]

use http::request::Parts;
use http::StatusCode;
use tower_session_auth::{ClientAddr, LoginThrottle, LoginThrottleBuilder, Refusal};

use super::common::{key, FakeClock};

pub const T0: u64 = 1_700_000_000;

pub fn builder(clock: &FakeClock) -> LoginThrottleBuilder {
    LoginThrottle::builder(key()).clock(clock.clone())
}

/// A request from `peer` with `headers`.
pub fn from(peer: &str, headers: &[(&str, &str)]) -> Parts {
    let mut b = http::Request::post("/login");
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    let (mut parts, ()) = b.body(()).unwrap().into_parts();
    parts.extensions.insert(ClientAddr(peer.parse().unwrap()));
    parts
}

/// One failed attempt, or the refusal.
pub async fn fail(t: &LoginThrottle, parts: &Parts, username: &str) -> Result<(), Refusal> {
    t.check(parts, username).await.map(|a| a.failed())
}

/// One successful attempt; its known-device cookie as a `Cookie` header value.
pub async fn succeed(t: &LoginThrottle, parts: &Parts, username: &str) -> String {
    let attempt = t.check(parts, username).await.expect("allowed");
    let set_cookie = attempt.succeeded().await.expect("a known-device cookie");
    assert!(set_cookie.is_sensitive());
    let text = set_cookie.to_str().unwrap();
    let cookie = cookie::Cookie::parse(text.to_owned()).unwrap();
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.path(), Some("/"));
    assert_eq!(cookie.name(), "__Host-device");
    assert!(
        !text.contains(username),
        "the cookie does not show the username"
    );
    text.split(';').next().unwrap().to_owned()
}

pub fn throttled(r: Result<(), Refusal>, retry_after: u64) {
    let refusal = r.expect_err("throttled");
    assert_eq!(refusal.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refusal.retry_after(), retry_after);
    let res: http::Response<bytes::Bytes> = refusal.into_response();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        res.headers()["retry-after"],
        retry_after.to_string().as_str()
    );
}
