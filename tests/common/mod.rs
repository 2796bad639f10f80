//! A browser-like test client: keeps the crate's public `CookieJar` (feature `test-util`), replays
//! it, and audits every `Set-Cookie`.
#![allow(dead_code, unreachable_pub, unused_imports)]

use std::convert::Infallible;

use axum::body::Body;
use cookie::Cookie;
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::BodyExt;
use tower::{Service, ServiceExt};
use tower_session_auth::{CookieJar, Key};

pub const SECRET: &[u8] = b"test secret of 32 bytes or more, not a real one";

pub fn key() -> Key {
    Key::from_bytes(SECRET).unwrap()
}

/// What every cookie the crate emits must carry, unless a test configures otherwise.
#[derive(Clone, Debug)]
pub struct Expect {
    pub secure: bool,
    pub path: &'static str,
    pub domain: Option<&'static str>,
}

impl Default for Expect {
    fn default() -> Self {
        Expect {
            secure: true,
            path: "/",
            domain: None,
        }
    }
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    pub set_cookies: Vec<Cookie<'static>>,
}

impl TestResponse {
    pub fn set_cookie(&self, name: &str) -> Option<&Cookie<'static>> {
        self.set_cookies.iter().find(|c| c.name() == name)
    }

    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(http::header::LOCATION)
            .map(|v| v.to_str().unwrap())
    }
}

/// Checks one response's `Set-Cookie` headers against SECURITY.md CK-01, 05, 06, 08.
pub fn audit(headers: &HeaderMap, expect: &Expect) -> Vec<Cookie<'static>> {
    let mut cookies: Vec<Cookie<'static>> = Vec::new();
    for value in headers.get_all(SET_COOKIE) {
        assert!(
            value.is_sensitive(),
            "Set-Cookie must be marked sensitive (LOG-01)"
        );
        let text = value.to_str().expect("Set-Cookie is ASCII");
        let c = Cookie::parse(text.to_owned()).expect("Set-Cookie parses");
        assert!(
            !cookies.iter().any(|seen| seen.name() == c.name()),
            "CK-08: two Set-Cookie for {} in one response",
            c.name()
        );
        // CK-05: cookie-octets only.
        assert!(
            c.value()
                .bytes()
                .all(|b| matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)),
            "CK-05: {text}"
        );
        assert!(
            c.name().len() + c.value().len() <= 4096,
            "CK-04: {}",
            c.name()
        );
        // CK-01 (and CK-06 for removals: the same scope as the cookie being removed).
        assert_eq!(
            c.secure(),
            Some(expect.secure).filter(|s| *s),
            "Secure: {text}"
        );
        assert_eq!(c.http_only(), Some(true), "HttpOnly: {text}");
        assert_eq!(
            c.same_site(),
            Some(cookie::SameSite::Lax),
            "SameSite: {text}"
        );
        assert_eq!(c.path(), Some(expect.path), "Path: {text}");
        assert_eq!(c.domain(), expect.domain, "Domain: {text}");
        if c.value().is_empty() {
            assert_eq!(
                c.max_age(),
                Some(cookie::time::Duration::ZERO),
                "removal Max-Age: {text}"
            );
            let expires = c.expires_datetime().expect("removal has Expires");
            assert!(
                expires < cookie::time::OffsetDateTime::now_utc(),
                "removal Expires: {text}"
            );
        }
        cookies.push(c);
    }
    cookies
}

/// A browser for one site: the public `CookieJar`, and the audit of every `Set-Cookie` it gets.
#[derive(Debug, Default)]
pub struct Browser {
    pub jar: CookieJar,
    pub expect: Expect,
}

impl Browser {
    pub fn new() -> Self {
        Self::default()
    }

    /// A browser for a site served over plain http (the demo): its cookies are not `Secure`.
    pub fn plain_http() -> Self {
        Browser {
            expect: Expect {
                secure: false,
                ..Expect::default()
            },
            jar: CookieJar::plain_http(),
        }
    }

    /// Sends `req` with the jar's cookies and stores what comes back.
    pub async fn send<S>(&mut self, svc: &S, mut req: Request<Body>) -> TestResponse
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
    {
        let uri = req.uri().clone();
        if let Some(cookies) = self.jar.cookie_header(&uri) {
            req.headers_mut().insert(COOKIE, cookies);
        }
        let res = send(svc, req, &self.expect).await;
        self.jar.store(&uri, &res.headers);
        res
    }

    pub async fn get<S>(&mut self, svc: &S, uri: &str) -> TestResponse
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
    {
        self.send(
            svc,
            Request::get(uri)
                .header("accept", "text/html")
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    pub async fn post_form<S>(&mut self, svc: &S, uri: &str, form: &str) -> TestResponse
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
    {
        // A browser posting a form of the site's own pages says so (Fetch Metadata).
        let req = Request::post(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html")
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(form.to_owned()))
            .unwrap();
        self.send(svc, req).await
    }
}

/// `app` with every response's `Set-Cookie` audited against `expect` (the audit above), for
/// tests that drive it with the crate's public `TestClient`.
pub fn audited(app: axum::Router, expect: Expect) -> axum::Router {
    app.layer(axum::middleware::map_response(
        move |res: Response<Body>| {
            let expect = expect.clone();
            async move {
                audit(res.headers(), &expect);
                res
            }
        },
    ))
}

/// Sends one request, with no jar, auditing the response's cookies.
pub async fn send<S>(svc: &S, req: Request<Body>, expect: &Expect) -> TestResponse
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
{
    let res = svc.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    TestResponse {
        status: parts.status,
        set_cookies: audit(&parts.headers, expect),
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

pub fn get_with_cookie(uri: &str, cookie: &str) -> Request<Body> {
    Request::get(uri)
        .header(COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

/// Signs `payload` (JSON text) as PyJWT would, with `header` JSON text; for crafting tokens.
pub fn sign(header: &str, payload: &str, secret: &[u8]) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// A PyJWT-style token over `payload` with the test secret.
pub fn pyjwt(payload: &str) -> String {
    sign(r#"{"alg":"HS256","typ":"JWT"}"#, payload, SECRET)
}

/// A clock the test moves by hand: the crate's own (feature `test-util`).
pub use tower_session_auth::FakeClock;

/// The JSON payload of a signed cookie value (a compact JWS), unverified: for inspecting what the
/// crate wrote.
pub fn payload(token: &str) -> serde_json::Map<String, serde_json::Value> {
    let b64 = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b64).unwrap(),
    )
    .unwrap()
}

/// A user whose session auth hash (their password hash) can change.
#[derive(Clone, Debug)]
pub struct Member {
    pub id: u64,
    pub hash: Vec<u8>,
}

impl tower_session_auth::AuthUser for Member {
    type Id = u64;
    fn id(&self) -> u64 {
        self.id
    }
    fn session_auth_hash(&self) -> Option<&[u8]> {
        Some(&self.hash)
    }
}
