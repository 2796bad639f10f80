//! `TestClient`: drives a tower service as a browser would, with a cookie jar.

use std::fmt;
use std::future::poll_fn;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, COOKIE, LOCATION};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower_service::Service;

use super::{login_cookies, CookieJar};
use crate::{AuthUser, Error, Remember, SessionLayer};

/// A client for tests that sends requests to any tower service (an axum `Router`, a
/// `ServiceBuilder` stack) and keeps the cookies of the responses in a [`CookieJar`], as a
/// browser does: each request carries the cookies that match its path, each response's
/// `Set-Cookie` headers add, replace and remove cookies.
///
/// [`get`](Self::get) and [`post_form`](Self::post_form) send what a browser sends
/// (`Accept: text/html`, a form body) with an `http_body_util::Full<Bytes>` body, which axum's
/// `Router` and hyper services accept; [`send`](Self::send) sends any request, with any body.
/// [`login_as`](Self::login_as) logs a user in without going through the login form.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tower_session_auth::Error> {
/// use axum::{routing::get, Router};
/// use http::StatusCode;
/// use tower_session_auth::{
///     AuthLayer, AuthUser, CurrentUser, Key, SessionLayer, TestClient,
/// };
///
/// #[derive(Clone)]
/// struct User { id: u64 }
/// impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
///
/// let sessions = SessionLayer::new(Key::generate());
/// let gate = AuthLayer::builder()
///     .user_loader(|id: u64| async move { (id == 1).then(|| User { id }) })
///     .build()?;
/// let app = Router::new()
///     .route("/", get(|user: CurrentUser<User>| async move { format!("user {}", user.id) }))
///     .layer(gate)
///     .layer(sessions.clone());
///
/// let mut browser = TestClient::new(app);
/// let res = browser.get("/").await;
/// assert_eq!(res.status, StatusCode::FOUND);
/// assert_eq!(res.location(), Some("/login?next=%2F"));
///
/// browser.login_as(&sessions, &User { id: 1 }, false).await?;
/// assert_eq!(browser.get("/").await.text(), "user 1");
/// # Ok(())
/// # }
/// ```
pub struct TestClient<S> {
    service: S,
    /// The browser's cookies: read them, plant or remove some.
    pub jar: CookieJar,
}

impl<S> fmt::Debug for TestClient<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestClient")
            .field("service", &std::any::type_name::<S>())
            .field("jar", &self.jar)
            .finish()
    }
}

/// A response as a test reads it: status, headers and the whole body.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TestResponse {
    /// The status code.
    pub status: StatusCode,
    /// The headers, `Set-Cookie` included.
    pub headers: HeaderMap,
    /// The body, read to its end.
    pub body: Bytes,
}

impl TestResponse {
    /// The body as text (invalid UTF-8 replaced).
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::TestResponse;
    /// # fn check(res: &TestResponse) {
    /// assert!(res.text().contains("Welcome"));
    /// # }
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `Location` header, for redirects.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::TestResponse;
    /// # fn check(res: &TestResponse) {
    /// assert_eq!(res.location(), Some("/login?next=%2Fadmin"));
    /// # }
    /// ```
    pub fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }
}

impl<S> TestClient<S> {
    /// A client for `service` with an empty cookie jar for an `https` site.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{CookieJar, TestClient};
    /// # let app = tower::service_fn(|_: http::Request<String>| async {
    /// #     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    /// # });
    ///
    /// let browser = TestClient::new(app.clone());
    /// // For a development server over plain http, whose cookies are not `Secure`:
    /// let browser = TestClient::new(app).with_jar(CookieJar::plain_http());
    /// ```
    pub fn new(service: S) -> TestClient<S> {
        TestClient {
            service,
            jar: CookieJar::new(),
        }
    }

    /// Uses `jar` (another client's, one for a plain-`http` site, or one with a
    /// [`FakeClock`](crate::FakeClock)) instead of the empty one.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{CookieJar, FakeClock, TestClient};
    /// # let app = tower::service_fn(|_: http::Request<String>| async {
    /// #     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    /// # });
    ///
    /// let clock = FakeClock::at(1_700_000_000);
    /// let browser = TestClient::new(app).with_jar(CookieJar::new().with_clock(clock.clone()));
    /// ```
    pub fn with_jar(mut self, jar: CookieJar) -> TestClient<S> {
        self.jar = jar;
        self
    }

    /// Puts in the jar the cookies [`login_user`](crate::login_user) would have set for `user`
    /// through `layer` (the session layer of the service under test): the client is then logged
    /// in as `user`, with a remember-me cookie if `remember` asks for one.
    ///
    /// # Errors
    ///
    /// As [`login_cookies`].
    ///
    /// # Examples
    ///
    /// See [`TestClient`].
    pub async fn login_as<U: AuthUser>(
        &mut self,
        layer: &SessionLayer,
        user: &U,
        remember: impl Into<Remember>,
    ) -> Result<(), Error> {
        let mut headers = HeaderMap::new();
        for value in login_cookies(layer, user, remember).await? {
            headers.append(http::header::SET_COOKIE, value);
        }
        self.jar.store(&http::Uri::from_static("/"), &headers);
        Ok(())
    }

    /// Sends `req` with the jar's cookies for its path (replacing any `Cookie` header it has),
    /// waits for the service, reads the whole body, and stores the response's cookies.
    ///
    /// # Panics
    ///
    /// When the service or the response body fails: a test has nothing better to do.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use http::Request;
    /// use tower_session_auth::TestClient;
    /// # let app = tower::service_fn(|_: Request<String>| async {
    /// #     Ok::<_, std::convert::Infallible>(http::Response::new(String::from("{}")))
    /// # });
    ///
    /// let mut client = TestClient::new(app);
    /// let req = Request::get("/api/me")
    ///     .header("authorization", "Bearer t0k3n")
    ///     .body(String::new())
    ///     .unwrap();
    /// let res = client.send(req).await;
    /// # assert_eq!(res.text(), "{}");
    /// # }
    /// ```
    pub async fn send<ReqBody, ResBody>(&mut self, mut req: Request<ReqBody>) -> TestResponse
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
        S::Error: fmt::Debug,
        ResBody: http_body::Body,
        ResBody::Error: fmt::Debug,
    {
        let uri = req.uri().clone();
        req.headers_mut().remove(COOKIE);
        if let Some(cookies) = self.jar.cookie_header(&uri) {
            req.headers_mut().insert(COOKIE, cookies);
        }
        poll_fn(|cx| self.service.poll_ready(cx))
            .await
            .expect("the service is ready");
        let res = self.service.call(req).await.expect("the service answers");
        let (parts, body) = res.into_parts();
        let body = body
            .collect()
            .await
            .expect("the body can be read")
            .to_bytes();
        self.jar.store(&uri, &parts.headers);
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// Sends `GET uri` as a browser does, with `Accept: text/html`.
    ///
    /// # Panics
    ///
    /// When `uri` is not a valid request target, or as [`send`](Self::send).
    ///
    /// # Examples
    ///
    /// See [`TestClient`].
    pub async fn get<ResBody>(&mut self, uri: &str) -> TestResponse
    where
        S: Service<Request<Full<Bytes>>, Response = Response<ResBody>>,
        S::Error: fmt::Debug,
        ResBody: http_body::Body,
        ResBody::Error: fmt::Debug,
    {
        let req = Request::get(uri)
            .header(ACCEPT, HeaderValue::from_static("text/html"))
            .body(Full::new(Bytes::new()))
            .expect("a valid request target");
        self.send(req).await
    }

    /// Sends `POST uri` with `form` (already `application/x-www-form-urlencoded`, such as
    /// `"username=susan&password=hello"`) as a browser submits one of the site's own forms: with
    /// `Sec-Fetch-Site: same-origin`, so a [`CsrfLayer`](crate::CsrfLayer) lets it through. To
    /// test a cross-site post, or one from a browser without Fetch Metadata, build the request
    /// and [`send`](Self::send) it.
    ///
    /// # Panics
    ///
    /// When `uri` is not a valid request target, or as [`send`](Self::send).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tower_session_auth::TestClient;
    /// # use http_body_util::{BodyExt, Full};
    /// # let app = tower::service_fn(|req: http::Request<Full<bytes::Bytes>>| async move {
    /// #     let body = req.into_body().collect().await.unwrap().to_bytes();
    /// #     Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(body)))
    /// # });
    ///
    /// let mut browser = TestClient::new(app);
    /// let res = browser.post_form("/login", "username=susan&password=hello").await;
    /// # assert_eq!(res.text(), "username=susan&password=hello");
    /// # }
    /// ```
    pub async fn post_form<ResBody>(&mut self, uri: &str, form: &str) -> TestResponse
    where
        S: Service<Request<Full<Bytes>>, Response = Response<ResBody>>,
        S::Error: fmt::Debug,
        ResBody: http_body::Body,
        ResBody::Error: fmt::Debug,
    {
        let req = Request::post(uri)
            .header(ACCEPT, HeaderValue::from_static("text/html"))
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .header("sec-fetch-site", HeaderValue::from_static("same-origin"))
            .body(Full::new(Bytes::copy_from_slice(form.as_bytes())))
            .expect("a valid request target");
        self.send(req).await
    }
}
