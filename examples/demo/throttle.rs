//! The demo's login throttle: `POST /login` and HTTP Basic go through the crate's
//! `LoginThrottle` with its default budgets (10 attempts per client address, then one a minute;
//! 10 per account, then one every 5 minutes; a known device spends a budget of its own), and the
//! same bound on password hashes as before.

use axum::extract::{Request, State};
use axum::http::header::{RETRY_AFTER, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use std::cell::RefCell;
use std::time::Duration;
use tower_session_auth::{Key, LoginThrottle, Refusal};

use crate::users::{PasswordHashing, User};

/// The demo's throttle: the crate's defaults, a known-device cookie without `Secure` (the demo
/// serves plain http), and the demo's bound on password hashes.
pub fn login_throttle(key: Key, hashing: &PasswordHashing) -> LoginThrottle {
    LoginThrottle::builder(key)
        .secure(false)
        .hash_limit(hashing.limit())
        .build()
        .expect("valid throttle configuration")
}

/// Checks a login form's password through the throttle: the user (if the password is right) and
/// the known-device cookie to set, or the refusal page (`429` or `503`, with `Retry-After`) when
/// no password may be checked now. Called only for well-formed credentials.
pub async fn verify(
    throttle: &LoginThrottle,
    hashing: &PasswordHashing,
    parts: &Parts,
    username: &str,
    password: String,
) -> Result<(Option<User>, Option<HeaderValue>), Response> {
    let mut attempt = match throttle.check(parts, username).await {
        Ok(attempt) => attempt,
        Err(refusal) => return Err(refused(refusal).await),
    };
    let Some(permit) = attempt.take_permit() else {
        return Err(super::busy());
    };
    match hashing
        .adopt(permit)
        .verify(username.to_owned(), password)
        .await
    {
        Some(user) => Ok((Some(user), attempt.succeeded().await)),
        None => {
            attempt.failed();
            Ok((None, None))
        }
    }
}

/// Throttles requests with HTTP Basic credentials before the gate verifies them, and hands the
/// attempt's hashing permit to the verifier. A `401` from the gate is a failed attempt; any other
/// answer means the password was right. Requests without Basic credentials pass.
pub async fn basic_attempts(
    State(hashing): State<PasswordHashing>,
    Extension(throttle): Extension<LoginThrottle>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let checked = throttle.check_basic(&parts).await;
    let req = Request::from_parts(parts, body);
    let mut attempt = match checked {
        None => return next.run(req).await,
        Some(Err(refusal)) => return refused(refusal).await,
        Some(Ok(attempt)) => attempt,
    };
    let Some(permit) = attempt.take_permit() else {
        return super::busy();
    };
    let permit = RefCell::new(Some(hashing.adopt(permit)));
    let res = super::BASIC_PERMIT.scope(permit, next.run(req)).await;
    if res.status() == StatusCode::UNAUTHORIZED {
        attempt.failed();
    } else {
        // API clients keep no cookies: no known-device cookie for them.
        let _ = attempt.succeeded().await;
    }
    res
}

/// How long a `429` waits before it is sent: a client that ignores `Retry-After` and keeps
/// guessing gets a trickle of answers per connection instead of a flood (see the README's
/// load-test figures), at the cost of a timer per refusal.
const TARPIT: Duration = Duration::from_millis(250);

/// The page for a refused attempt: "too many attempts" (`429`, after [`TARPIT`]), or the busy
/// page (`503`, at once).
async fn refused(refusal: Refusal) -> Response {
    let mut res = if refusal.status() == StatusCode::TOO_MANY_REQUESTS {
        tokio::time::sleep(TARPIT).await;
        let minutes = refusal.retry_after().div_ceil(60);
        let unit = if minutes == 1 { "minute" } else { "minutes" };
        (
            StatusCode::TOO_MANY_REQUESTS,
            super::page(
                "Too many attempts",
                &format!(
                    "<h1>Too many attempts</h1>\n<p>Too many failed logins: try again in \
                     {minutes} {unit}.</p>\n<p>On a device you have logged in from before, \
                     you can log in now.</p>\n<p><a href=\"/login\">Log in</a></p>"
                ),
            ),
        )
            .into_response()
    } else {
        super::busy()
    };
    res.headers_mut()
        .insert(RETRY_AFTER, refusal.retry_after_value());
    res
}

/// Adds the known-device cookie of a successful login to its response.
pub fn with_known_device(mut res: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(cookie) = cookie {
        res.headers_mut().append(SET_COOKIE, cookie);
    }
    res
}
