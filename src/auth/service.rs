//! `AuthService` and its response future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};

use bytes::Bytes;
use http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER, VARY, WWW_AUTHENTICATE,
};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::accept::{accepts_html, accepts_json};
use super::authorize::Answered;
use super::layer::{AuthConfig, BoxFuture, Reason, Unauthorized};
use super::lookup::Looked;
use super::{basic, bearer};
use crate::login::{auth_hash_matches, current_user_id, end_refused_login, fresh_within, is_fresh};
use crate::redirect::login_location;
use crate::{AuthUser, CurrentUser, SessionDict};

/// The service made by [`AuthLayer`](crate::AuthLayer).
pub struct AuthService<S, U: AuthUser> {
    pub(crate) inner: S,
    pub(crate) config: Arc<AuthConfig<U>>,
}

impl<S: Clone, U: AuthUser> Clone for AuthService<S, U> {
    fn clone(&self) -> Self {
        AuthService {
            inner: self.inner.clone(),
            config: Arc::clone(&self.config),
        }
    }
}

impl<S: fmt::Debug, U: AuthUser> fmt::Debug for AuthService<S, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish()
    }
}

/// What the synchronous part of authentication decided.
enum Decision<U> {
    /// Turn the request away.
    Reject(Reason),
    /// The gate cannot work: no `SessionLayer` outside it.
    Misconfigured,
    /// Run the user loader (or a verifier), then decide.
    Load(Pending<U>),
}

/// A user loader's or verifier's future, and what to do with its answer.
struct Pending<U> {
    user: BoxFuture<Looked<U>>,
    /// A session login (else credentials): logged out if the user is unknown or their auth hash
    /// changed. The session is the request's handle: the one `authenticate` found when the
    /// answer comes at once, else looked up in the request when it comes.
    session_login: bool,
    /// The reason given when the future answers `None`.
    failure: Reason,
}

impl<U: AuthUser> Pending<U> {
    /// Accepts or refuses what the future answered, for the request whose session handle is
    /// `session`. An error changes nothing: not knowing the user is no reason to log them out.
    fn settle(&self, looked: Looked<U>, session: Option<&SessionDict>) -> Result<U, Reason> {
        let user = match looked {
            Ok(user) => user,
            Err(error_type) => {
                // The type name only: the message may quote a connection string or a query.
                let source = if self.session_login {
                    "user loader"
                } else {
                    "credential verifier"
                };
                tracing::warn!(
                    source,
                    error_type,
                    "the user store did not answer; 503, session left as it was"
                );
                return Err(Reason::Unavailable);
            }
        };
        let session = match (self.session_login, session) {
            (false, _) => return user.ok_or(self.failure),
            (true, Some(session)) => session,
            // Not reached: `decide` starts a session login only with a session. Refused
            // rather than accepted without the checks below.
            (true, None) => return Err(self.failure),
        };
        let Some(user) = user else {
            tracing::info!("logged-in user unknown to the user loader; logged out");
            end_refused_login(session);
            return Err(self.failure);
        };
        if let Some(hash) = user.session_auth_hash() {
            if !auth_hash_matches(session, hash) {
                tracing::info!("session auth hash changed; logged out");
                end_refused_login(session);
                return Err(self.failure);
            }
        }
        Ok(user)
    }
}

impl<S, U, ReqBody, ResBody> Service<Request<ReqBody>> for AuthService<S, U>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    U: AuthUser,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = AuthFuture<S, ReqBody, U>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        note_gate(&self.config, &mut req);
        if req.method() == Method::OPTIONS && !self.config.gate_options {
            // CORS preflights carry no credentials: a 401 would fail the real request.
            return AuthFuture {
                state: State::Calling {
                    fut: self.inner.call(req),
                    private: false,
                },
            };
        }
        let (decision, session) = authenticate(&self.config, &req);
        let state = match decision {
            Decision::Load(mut pending) => {
                // A loader that answers at once (a map in memory, a cache) is settled here, and
                // the request goes straight to the inner service. Polling with a waker that does
                // nothing is sound: a future that is not ready wakes the waker of its latest
                // poll, which will be the response future's.
                let mut now = Context::from_waker(Waker::noop());
                if let Poll::Ready(looked) = pending.user.as_mut().poll(&mut now) {
                    let next = after_lookup(&self.config, pending.settle(looked, session));
                    return AuthFuture {
                        state: next.start(&mut self.inner, req, &self.config),
                    };
                }
                // The loader runs before the inner service is called: hand the future the
                // service that was polled ready and keep a fresh clone here.
                State::Loading {
                    pending,
                    inner: Some(take_ready(&mut self.inner)),
                    req: Some(req),
                    config: Arc::clone(&self.config),
                }
            }
            Decision::Reject(reason) if self.config.optional => {
                tracing::trace!(reason = ?reason, "optional gate: no user");
                State::Calling {
                    fut: self.inner.call(req),
                    private: false,
                }
            }
            Decision::Reject(reason) => State::Done {
                res: Some(reject(&self.config, reason, &req)),
            },
            Decision::Misconfigured => State::Done {
                res: Some(misconfigured()),
            },
        };
        AuthFuture { state }
    }
}

/// Records the gate's user type for the axum extractors, which name it when a handler asks for
/// another type: in the session handle when there is one, else in an extension of its own.
#[cfg(feature = "axum")]
fn note_gate<U: AuthUser, B>(config: &AuthConfig<U>, req: &mut Request<B>) {
    match req.extensions().get::<SessionDict>() {
        Some(session) => session.note_gate(config.user_type),
        None => {
            req.extensions_mut().insert(super::GateUser {
                type_name: std::any::type_name::<U>(),
            });
        }
    }
}

/// Without axum, no extractor asks.
#[cfg(not(feature = "axum"))]
fn note_gate<U: AuthUser, B>(_config: &AuthConfig<U>, _req: &mut Request<B>) {}

/// Finds who the request claims to be, without awaiting anything. Credentials for a configured
/// API scheme decide when present; otherwise the session does. Also returns the request's
/// session handle, when it has one, for settling the loader's answer without looking it up again.
fn authenticate<'r, U: AuthUser, B>(
    config: &Arc<AuthConfig<U>>,
    req: &'r Request<B>,
) -> (Decision<U>, Option<&'r SessionDict>) {
    let session = req.extensions().get::<SessionDict>();
    (decide(config, req.headers(), session), session)
}

fn decide<U: AuthUser>(
    config: &Arc<AuthConfig<U>>,
    headers: &HeaderMap,
    session: Option<&SessionDict>,
) -> Decision<U> {
    if let Some(decision) = api_credentials(config, headers) {
        return decision;
    }
    let Some(loader) = &config.session else {
        return Decision::Reject(Reason::NotLoggedIn);
    };
    let Some(session) = session else {
        return Decision::Misconfigured;
    };
    let Some(id) = current_user_id::<U::Id>(session) else {
        return Decision::Reject(Reason::NotLoggedIn);
    };
    if config.fresh && !is_fresh(session) {
        return Decision::Reject(Reason::NotFresh);
    }
    if let Some(max_age) = config.fresh_within {
        if !fresh_within(session, max_age) {
            return Decision::Reject(Reason::NotFresh);
        }
    }
    Decision::Load(Pending {
        user: loader(id),
        session_login: true,
        failure: Reason::NotLoggedIn,
    })
}

/// HTTP Basic or a token, when the gate takes them and the request carries them.
fn api_credentials<U: AuthUser>(
    config: &AuthConfig<U>,
    headers: &HeaderMap,
) -> Option<Decision<U>> {
    if config.basic.is_none() && config.bearer.is_none() {
        return None;
    }
    let refuse = || Some(Decision::Reject(Reason::InvalidCredentials));
    let verify = |user: BoxFuture<Looked<U>>| {
        Some(Decision::Load(Pending {
            user,
            session_login: false,
            failure: Reason::InvalidCredentials,
        }))
    };
    let mut values = headers.get_all(AUTHORIZATION).iter();
    if let Some(value) = values.next() {
        if values.next().is_some() {
            return refuse(); // SECURITY.md BAS-07: never guess which one counts
        }
        let scheme = value
            .as_bytes()
            .split(|&b| b == b' ')
            .next()
            .unwrap_or_default();
        if let Some(basic) = config
            .basic
            .as_ref()
            .filter(|_| scheme.eq_ignore_ascii_case(b"basic"))
        {
            return match basic::parse(value) {
                Some(c) => verify((basic.verify)(c.username, c.password)),
                None => refuse(),
            };
        }
        let bearer = config
            .bearer
            .as_ref()
            .filter(|_| config.token_header.is_none());
        if let Some(bearer) = bearer.filter(|_| scheme.eq_ignore_ascii_case(b"bearer")) {
            return match bearer::parse_authorization(value) {
                Some(token) => verify((bearer.verify)(token)),
                None => refuse(),
            };
        }
        if config.session.is_none() {
            return refuse(); // a scheme this gate does not take
        }
    }
    let bearer = config.bearer.as_ref()?;
    let mut values = headers.get_all(config.token_header.as_ref()?).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return refuse();
    }
    match bearer::parse_header(value) {
        Some(token) => verify((bearer.verify)(token)),
        None => refuse(),
    }
}

/// Whether the request presented a token (for `error="invalid_token"`).
fn token_presented<U: AuthUser>(config: &AuthConfig<U>, headers: &HeaderMap) -> bool {
    match config.bearer.as_ref().map(|_| &config.token_header) {
        Some(Some(header)) => headers.contains_key(header),
        Some(None) => headers
            .get_all(AUTHORIZATION)
            .iter()
            .any(|v| v.as_bytes().len() >= 6 && v.as_bytes()[..6].eq_ignore_ascii_case(b"bearer")),
        None => false,
    }
}

/// The request's target as the client sent it. Inside axum's `Router::nest` the request's URI
/// has lost the nest's prefix, and axum keeps the whole one as `OriginalUri`: a login redirect
/// built from the stripped one would send the user back to another page.
fn original_uri<B>(req: &Request<B>) -> &Uri {
    #[cfg(feature = "axum")]
    if let Some(axum::extract::OriginalUri(uri)) = req.extensions().get() {
        return uri;
    }
    req.uri()
}

fn reject<U: AuthUser, ResBody: From<Bytes>, ReqBody>(
    config: &AuthConfig<U>,
    reason: Reason,
    req: &Request<ReqBody>,
) -> Response<ResBody> {
    let (uri, headers) = (original_uri(req), req.headers());
    let login = config.session.is_some()
        && config.redirect
        && matches!(reason, Reason::NotLoggedIn | Reason::NotFresh)
        && accepts_html(headers);
    if reason == Reason::Unavailable {
        if let Some(session) = req.extensions().get::<SessionDict>() {
            // Whatever the gate did to the session (a login restored from a remember-me cookie,
            // a re-issue) is undone: the browser keeps the cookies it has.
            session.leave_cookies_alone();
        }
    }
    let mut challenges = Vec::new();
    if reason == Reason::NotFresh {
        // RFC 9470 §3: the login is too old, not missing.
        challenges.push(step_up_challenge(config.fresh_within));
    }
    if let Some(b) = &config.basic {
        challenges.push(basic::challenge(&b.realm, &config.basic_charset));
    }
    if let Some(b) = &config.bearer {
        let invalid = reason == Reason::InvalidCredentials && token_presented(config, headers);
        challenges.push(bearer::challenge(&b.realm, invalid));
    }
    if challenges.is_empty() {
        // A session-only gate: see `AuthLayerBuilder::redirect_to_login` for why `Session`.
        challenges.push(HeaderValue::from_static("Session"));
    }
    if reason == Reason::Forbidden {
        // A 403 asks for no credentials: logging in again cannot help.
        challenges.clear();
    }
    let unauthorized = Unauthorized {
        reason,
        uri: uri.clone(),
        login_location: login.then(|| login_location(&config.login_url, uri)),
        challenges,
    };
    let mut response = match &config.unauthorized {
        Some(hook) => hook(unauthorized).map(ResBody::from),
        None if reason == Reason::Forbidden => forbidden(headers),
        None => default_rejection(unauthorized, config),
    };
    response.extensions_mut().insert(reason);
    let headers = response.headers_mut();
    keep_out_of_caches(headers);
    if (config.session.is_some() && config.redirect) || reason == Reason::Forbidden {
        // A redirect for browsers, a 401 for the others (or a 403 page, JSON or text): the
        // answer depends on `Accept`.
        headers.append(VARY, HeaderValue::from_static("Accept"));
    }
    response
}

/// The `WWW-Authenticate` challenge of a session login that is too old (RFC 9470 §3), with
/// `max_age` when the gate has a time limit.
fn step_up_challenge(max_age: Option<u64>) -> HeaderValue {
    let mut challenge = String::from(
        "Session error=\"insufficient_user_authentication\", \
         error_description=\"A more recent login is required\"",
    );
    if let Some(max_age) = max_age {
        challenge.push_str(&format!(", max_age=\"{max_age}\""));
    }
    // Digits and fixed ASCII text only.
    HeaderValue::try_from(challenge).unwrap_or_else(|_| HeaderValue::from_static("Session"))
}

/// The default `403` for a logged-in user the gate's check refused: a small HTML page for
/// browsers, a JSON object for clients that name `application/json`, a line of text otherwise.
/// Nothing from the request or the check is in it.
fn forbidden<ResBody: From<Bytes>>(headers: &HeaderMap) -> Response<ResBody> {
    let (content_type, body): (&'static str, &'static str) = if accepts_html(headers) {
        (
            "text/html; charset=utf-8",
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>403 Forbidden</title></head>\n<body><h1>Forbidden</h1>\
             <p>Your account does not have access to this page.</p></body></html>\n",
        )
    } else if accepts_json(headers) {
        (
            "application/json",
            "{\"error\":\"forbidden\",\"message\":\"this account does not have access\"}",
        )
    } else {
        (
            "text/plain; charset=utf-8",
            "Forbidden: this account does not have access.\n",
        )
    };
    let mut response = Response::new(ResBody::from(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = StatusCode::FORBIDDEN;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Marks a response `Cache-Control: no-store` unless the application chose its own caching: a
/// page made for a logged-in user must not come back from a shared cache, nor from the browser's
/// back/forward cache after a logout.
fn keep_out_of_caches(headers: &mut HeaderMap) {
    headers
        .entry(CACHE_CONTROL)
        .or_insert_with(|| HeaderValue::from_static("no-store"));
}

fn default_rejection<U: AuthUser, ResBody: From<Bytes>>(
    unauthorized: Unauthorized,
    config: &AuthConfig<U>,
) -> Response<ResBody> {
    if unauthorized.reason == Reason::Unavailable {
        return unavailable();
    }
    if let Some(location) = unauthorized
        .login_location
        .and_then(|l| HeaderValue::try_from(l).ok())
    {
        let mut response = Response::new(ResBody::from(Bytes::new()));
        *response.status_mut() = StatusCode::FOUND;
        response.headers_mut().insert(LOCATION, location);
        return response;
    }
    let body = unauthorized_text(unauthorized.reason, config);
    let mut response = Response::new(ResBody::from(Bytes::from(body)));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    for challenge in unauthorized.challenges {
        headers.append(WWW_AUTHENTICATE, challenge);
    }
    response
}

/// The body of a default `401`: what the client must do, in a line. It names the configured login
/// URL and nothing from the request or a backend.
fn unauthorized_text<U: AuthUser>(reason: Reason, config: &AuthConfig<U>) -> String {
    let api = config.basic.is_some() || config.bearer.is_some();
    let login = &config.login_url;
    match reason {
        Reason::InvalidCredentials => "The credentials were refused.\n".into(),
        Reason::NotFresh => format!(
            "A fresh login is required: log in again at {login}, then send this request again \
             with the session cookie.\n"
        ),
        _ if config.session.is_none() => {
            "Authentication required: send credentials as WWW-Authenticate asks.\n".into()
        }
        _ if api => format!(
            "Login required: log in at {login} and send the session cookie, or send credentials \
             as WWW-Authenticate asks.\n"
        ),
        _ => format!(
            "Login required: log in at {login}, then send this request again with the session \
             cookie.\n"
        ),
    }
}

/// How long a client is asked to wait before trying again after a `503`, in seconds.
const RETRY_AFTER_SECONDS: &str = "5";

/// The default answer when the user store did not answer: `503` with `Retry-After`, kept out of
/// caches, and a body that says nothing of the backend.
fn unavailable<ResBody: From<Bytes>>() -> Response<ResBody> {
    let body = "The service is unavailable for a moment: try again in a few seconds.\n";
    let mut response = Response::new(ResBody::from(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn misconfigured<ResBody: From<Bytes>>() -> Response<ResBody> {
    let message = "missing SessionLayer: AuthLayer with a user loader needs `SessionLayer` \
                   outside it (add it after the AuthLayer with `Router::layer`)";
    tracing::error!("{message}");
    let mut response = Response::new(ResBody::from(Bytes::from_static(message.as_bytes())));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

/// What the gate's check answered, as the gate acts on it.
fn authorized(answer: Answered<bool>) -> Result<(), Reason> {
    match answer {
        Ok(true) => Ok(()),
        Ok(false) => {
            tracing::info!("logged-in user refused by the gate's check; 403");
            Err(Reason::Forbidden)
        }
        Err(error_type) => {
            tracing::warn!(
                source = "authorization check",
                error_type,
                "the check could not answer; 503, session left as it was"
            );
            Err(Reason::Unavailable)
        }
    }
}

/// The inner service, which was polled ready, for a future that calls it later; a clone stays
/// in its place.
fn take_ready<S: Clone>(inner: &mut S) -> S {
    let clone = inner.clone();
    std::mem::replace(inner, clone)
}

/// What the gate does once it knows the user.
enum Next<U> {
    /// Calls the inner service, with the user when there is one (an optional gate lets
    /// anonymous requests through).
    Call(Option<U>),
    /// Runs the gate's authorization check first.
    Authorize(BoxFuture<Answered<bool>>, U),
    /// Answers without calling the inner service.
    Reject(Reason),
}

/// What follows the user loader's (or verifier's) settled answer.
fn after_lookup<U: AuthUser>(config: &AuthConfig<U>, outcome: Result<U, Reason>) -> Next<U> {
    match outcome {
        Ok(user) => match &config.authorize {
            Some(check) => {
                Next::Authorize(check.run(user.clone(), config.permissions.clone()), user)
            }
            None => Next::Call(Some(user)),
        },
        Err(reason) => refused(config, reason),
    }
}

/// A refusal, which an optional gate turns into an anonymous call (unless the user store did not
/// answer: that is a `503` either way).
fn refused<U: AuthUser>(config: &AuthConfig<U>, reason: Reason) -> Next<U> {
    if config.optional && reason != Reason::Unavailable {
        Next::Call(None)
    } else {
        Next::Reject(reason)
    }
}

impl<U: AuthUser> Next<U> {
    /// The state that carries it out. `inner` was polled ready; a check that is ready at once is
    /// acted on here too.
    fn start<S, ReqBody, ResBody>(
        self,
        inner: &mut S,
        mut req: Request<ReqBody>,
        config: &Arc<AuthConfig<U>>,
    ) -> State<S, ReqBody, U>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
        ResBody: From<Bytes>,
    {
        match self {
            Next::Call(Some(user)) => {
                req.extensions_mut().insert(CurrentUser(user));
                State::Calling {
                    fut: inner.call(req),
                    private: true,
                }
            }
            Next::Call(None) => State::Calling {
                fut: inner.call(req),
                private: false,
            },
            Next::Reject(reason) => State::Done {
                res: Some(reject(config, reason, &req)),
            },
            Next::Authorize(mut check, user) => {
                let mut now = Context::from_waker(Waker::noop());
                if let Poll::Ready(answer) = check.as_mut().poll(&mut now) {
                    let next = match authorized(answer) {
                        Ok(()) => Next::Call(Some(user)),
                        Err(reason) => refused(config, reason),
                    };
                    return next.start(inner, req, config);
                }
                State::Authorizing {
                    check,
                    user: Some(user),
                    inner: Some(take_ready(inner)),
                    req: Some(req),
                    config: Arc::clone(config),
                }
            }
        }
    }
}

pin_project! {
    /// The response future of [`AuthService`].
    pub struct AuthFuture<S, ReqBody, U>
    where
        S: Service<Request<ReqBody>>,
        U: AuthUser,
    {
        #[pin]
        state: State<S, ReqBody, U>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody, U>
    where
        S: Service<Request<ReqBody>>,
        U: AuthUser,
    {
        Loading {
            pending: Pending<U>,
            inner: Option<S>,
            req: Option<Request<ReqBody>>,
            config: Arc<AuthConfig<U>>,
        },
        Authorizing {
            check: BoxFuture<Answered<bool>>,
            user: Option<U>,
            inner: Option<S>,
            req: Option<Request<ReqBody>>,
            config: Arc<AuthConfig<U>>,
        },
        Calling {
            #[pin]
            fut: S::Future,
            // The response is for an authenticated user: keep it out of caches.
            private: bool,
        },
        Done {
            res: Option<S::Response>,
        },
    }
}

impl<S, U, ReqBody, ResBody> Future for AuthFuture<S, ReqBody, U>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    U: AuthUser,
    ResBody: From<Bytes>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            let next = match state.as_mut().project() {
                StateProj::Calling { fut, private } => {
                    let private = *private;
                    return fut.poll(cx).map_ok(|mut response| {
                        if private {
                            keep_out_of_caches(response.headers_mut());
                        }
                        response
                    });
                }
                StateProj::Done { res } => {
                    return Poll::Ready(Ok(res.take().expect("polled after completion")))
                }
                StateProj::Authorizing {
                    check,
                    user,
                    inner,
                    req,
                    config,
                } => {
                    let answer = ready!(check.as_mut().poll(cx));
                    let req = req.take().expect("polled after completion");
                    let mut inner = inner.take().expect("polled after completion");
                    let user = user.take().expect("polled after completion");
                    let next = match authorized(answer) {
                        Ok(()) => Next::Call(Some(user)),
                        Err(reason) => refused(config, reason),
                    };
                    next.start(&mut inner, req, config)
                }
                StateProj::Loading {
                    pending,
                    inner,
                    req,
                    config,
                } => {
                    let looked = ready!(pending.user.as_mut().poll(cx));
                    let req = req.take().expect("polled after completion");
                    let session = req.extensions().get::<SessionDict>();
                    let next = after_lookup(config, pending.settle(looked, session));
                    let mut inner = inner.take().expect("polled after completion");
                    next.start(&mut inner, req, config)
                }
            };
            state.set(next);
        }
    }
}

impl<S, ReqBody, U> fmt::Debug for AuthFuture<S, ReqBody, U>
where
    S: Service<Request<ReqBody>>,
    U: AuthUser,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthFuture").finish_non_exhaustive()
    }
}
