//! What every benchmark binary shares: the request each case sends, the empty response, the
//! cookie a response sets, and one request sent outside any timing.
#![allow(dead_code)]

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::header::{ACCEPT, COOKIE, HOST, SET_COOKIE, USER_AGENT};
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use tokio::runtime::Runtime;
use tower::{Service, ServiceExt};

pub type Body = Full<Bytes>;
pub type Req = Request<Body>;
pub type Res = Response<Body>;

/// The value the write cases store: different on every request, so that no stack can skip
/// the write as a no-op (tower-sessions does skip inserting an equal value).
pub fn next_visit() -> u64 {
    static VISITS: AtomicU64 = AtomicU64::new(0);
    VISITS.fetch_add(1, Ordering::Relaxed)
}

/// The request every case sends, built inside the timed loop.
pub fn request(cookie: Option<&HeaderValue>) -> Req {
    let mut builder = Request::builder()
        .method("GET")
        .uri("/account")
        .header(HOST, HeaderValue::from_static("bench.example"))
        .header(ACCEPT, HeaderValue::from_static("text/html"))
        .header(
            USER_AGENT,
            HeaderValue::from_static("tower-session-auth-bench"),
        );
    if let Some(cookie) = cookie {
        builder = builder.header(COOKIE, cookie.clone());
    }
    builder.body(Body::default()).expect("valid request")
}

pub fn ok() -> Res {
    Response::new(Body::default())
}

/// `name=value` of the first `Set-Cookie` named `name`, as a request's `Cookie` header.
pub fn cookie_from(res: &Res, name: &str) -> HeaderValue {
    let prefix = format!("{name}=");
    let set_cookie = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ASCII Set-Cookie"))
        .find(|v| v.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no Set-Cookie for {name}: {:?}", res.headers()));
    let pair = set_cookie.split(';').next().expect("split yields one item");
    HeaderValue::from_str(pair).expect("valid header")
}

/// Sends one request (outside any timing).
pub fn once<S>(rt: &Runtime, svc: &S, cookie: Option<&HeaderValue>) -> Res
where
    S: Service<Req, Response = Res> + Clone,
    S::Error: Debug,
{
    rt.block_on(svc.clone().oneshot(request(cookie)))
        .expect("infallible")
}
