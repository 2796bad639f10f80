//! The demo's routes, shared with the integration tests so they drive exactly what the demo serves.

use std::cell::RefCell;

use axum::extract::Request;
use axum::extract::{Form, OriginalUri, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tower_session_auth::{
    login_user, logout_user, redirect_target, AuthLayer, CurrentUser, Key, SessionDict,
    SessionLayer,
};

use crate::users::{self, HashPermit, PasswordHashing, User};

/// The demo application, its sessions signed with `key`.
#[allow(dead_code)] // used by the tests that include this file
pub fn app(key: Key) -> Router {
    app_with_fallbacks(key, Vec::new())
}

/// The demo application, signing with `key` and still accepting cookies signed with `fallbacks`
/// (re-signed with `key` in the same response).
pub fn app_with_fallbacks(key: Key, fallbacks: Vec<Key>) -> Router {
    build(key, fallbacks, PasswordHashing::for_this_machine())
}

/// The demo application with its password hashing bounded by `hashing`, so a test can hold the
/// permits.
#[allow(dead_code)] // used by the tests that include this file
pub fn app_with_hashing(key: Key, hashing: PasswordHashing) -> Router {
    build(key, Vec::new(), hashing)
}

fn build(key: Key, fallbacks: Vec<Key>, hashing: PasswordHashing) -> Router {
    // `Secure` is off only because the demo serves plain http on loopback; browsers would not send
    // a `Secure` cookie back over http. Keep the default (on) in production.
    let sessions = SessionLayer::builder(key)
        .fallback_keys(fallbacks)
        .secure(false)
        .build()
        .expect("valid session configuration");
    let login_required = AuthLayer::builder()
        .user_loader(|id: String| async move { users::by_id(&id) })
        .login_url("/login")
        .build()
        .expect("valid gate configuration");
    let fresh_login_required = login_required
        .clone()
        .into_builder()
        .fresh(true)
        .build()
        .expect("valid gate configuration");

    // API routes: HTTP Basic with the same users, and bearer tokens. Basic hashes the password on
    // every request, within the same bound as the login form: `hashing_permit_for_basic` takes
    // the permit before the gate, and the verifier hashes with it (or refuses without one).
    let basic = AuthLayer::builder()
        .basic("tower-session-auth demo", |username, password| async move {
            let permit = BASIC_PERMIT.try_with(|p| p.borrow_mut().take()).ok()??;
            permit.verify(username, password).await
        })
        .build()
        .expect("valid gate configuration");
    let token = AuthLayer::builder()
        .bearer("tower-session-auth demo", |token| async move {
            users::verify_api_token(&token)
        })
        .build()
        .expect("valid gate configuration");

    let protected = Router::new()
        .route("/", get(index))
        .route_layer(login_required);
    let api_basic = Router::new()
        .route("/api/me", get(me))
        .route_layer(basic)
        .route_layer(middleware::from_fn_with_state(
            hashing.clone(),
            hashing_permit_for_basic,
        ));
    let api_token = Router::new()
        .route("/api/token/me", get(me))
        .route_layer(token);
    let fresh = Router::new()
        .route("/fresh", get(fresh_page))
        .route_layer(fresh_login_required);
    Router::new()
        .merge(protected)
        .merge(fresh)
        .merge(api_basic)
        .merge(api_token)
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/counter", get(counter))
        .with_state(hashing)
        // Login and logout are POSTs that only this site may send (login CSRF).
        .layer(middleware::from_fn(same_origin_posts))
        .layer(sessions)
}

tokio::task_local! {
    /// The hashing permit taken for the Basic request being served, for its verifier.
    static BASIC_PERMIT: RefCell<Option<HashPermit>>;
}

/// Takes a hashing permit for a request with Basic credentials before the gate verifies them,
/// answering `503` at once when every permit is taken. Requests without Basic credentials need
/// no hash and pass.
async fn hashing_permit_for_basic(
    State(hashing): State<PasswordHashing>,
    req: Request,
    next: Next,
) -> Response {
    let basic = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.as_bytes().get(..5))
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"basic"));
    if !basic {
        return next.run(req).await;
    }
    let Some(permit) = hashing.try_permit() else {
        return busy();
    };
    BASIC_PERMIT
        .scope(RefCell::new(Some(permit)), next.run(req))
        .await
}

/// `503` with `Retry-After: 1`: every hashing permit is taken.
fn busy() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(RETRY_AFTER, "1")],
        page(
            "Busy",
            "<h1>Busy</h1>\n<p>Too many logins at once. Try again in a moment.</p>",
        ),
    )
        .into_response()
}

/// Refuses state-changing requests that a browser says come from another site, so no other site
/// can log a visitor in or out (SECURITY.md SES-09). `SameSite=Lax` alone does not stop a
/// cross-site login POST, which needs no cookie. Clients that send neither header (curl, tests)
/// are not browsers and pass.
async fn same_origin_posts(req: Request, next: Next) -> Response {
    let refused = {
        let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let header = |name| {
            req.headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        let cross_site = match (header("sec-fetch-site"), header("origin")) {
            (Some(site), _) => !matches!(site, "same-origin" | "none"),
            (None, Some(origin)) => {
                let host = header("host").unwrap_or_default();
                origin != format!("http://{host}") && origin != format!("https://{host}")
            }
            (None, None) => false,
        };
        unsafe_method && cross_site
    };
    if refused {
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    next.run(req).await
}

/// `GET /counter`: adds one to the session's `counter` and shows it.
async fn counter(session: SessionDict) -> impl IntoResponse {
    // A missing or unreadable value starts from zero.
    let n = session
        .get::<i64>("counter")
        .ok()
        .flatten()
        .unwrap_or(0)
        .saturating_add(1);
    let body = match session.insert("counter", n) {
        Ok(()) => format!("counter: {n}"),
        Err(e) => format!("counter: {n} (not saved: {e})"),
    };
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], body)
}

/// `GET /` (login required).
async fn index(CurrentUser(user): CurrentUser<User>) -> Html<String> {
    page(
        "Home",
        &format!(
            "<h1>Hello, {}!</h1>\n<p><a href=\"/fresh\">A page that needs a fresh login</a></p>\n\
             <form method=\"post\" action=\"/logout\"><button type=\"submit\">Log out</button></form>",
            escape(user.username)
        ),
    )
}

/// `GET /fresh` (fresh login required: a login restored by "remember me" must log in again).
async fn fresh_page(CurrentUser(user): CurrentUser<User>) -> Html<String> {
    page(
        "Fresh",
        &format!(
            "<h1>Hello, {}!</h1>\n<p>You logged in with your password in this browser session.</p>\n\
             <p><a href=\"/\">Home</a></p>",
            escape(user.username)
        ),
    )
}

/// `GET /api/me` and `GET /api/token/me`: who the credentials belong to, as JSON.
async fn me(CurrentUser(user): CurrentUser<User>) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "id": user.id, "username": user.username }))
}

/// `GET /login`: the form, keeping `next` so the login ends where the user was going.
async fn login_form(OriginalUri(uri): OriginalUri) -> Html<String> {
    login_page(&uri, None)
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    remember_me: Option<String>,
}

/// `POST /login`: verify, log in, and go to the safe `next` (default `/`).
async fn login(
    State(hashing): State<PasswordHashing>,
    session: SessionDict,
    OriginalUri(uri): OriginalUri,
    Form(form): Form<LoginForm>,
) -> Response {
    let (username, password) = (form.username, form.password);
    // Refused before any hashing (PBKDF2 would read `hello\0` as `hello`).
    let verified = if users::well_formed(&username, &password) {
        // At most a few hashes at once; beyond that, `503` at once rather than a queue.
        let Some(permit) = hashing.try_permit() else {
            return busy();
        };
        permit.verify(username, password).await
    } else {
        None
    };
    let Some(user) = verified else {
        // The same answer for an unknown user, a wrong password and a malformed one.
        return (
            StatusCode::UNAUTHORIZED,
            login_page(&uri, Some("Invalid username or password.")),
        )
            .into_response();
    };
    if let Err(e) = login_user(&session, &user, form.remember_me.is_some()) {
        return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
    }
    // 303 See Other: the browser follows with a GET, never repeating the POST.
    Redirect::to(&redirect_target(&uri, "/")).into_response()
}

/// `POST /logout`: log out (keeping the rest of the session) and go home.
async fn logout(session: SessionDict) -> Redirect {
    logout_user(&session);
    Redirect::to("/")
}

fn login_page(uri: &axum::http::Uri, error: Option<&str>) -> Html<String> {
    // The form posts back to `/login` with the same (validated) `next`.
    let next = redirect_target(uri, "/");
    let action = format!(
        "/login?next={}",
        percent_encoding::utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC)
    );
    let error = error.map_or(String::new(), |e| {
        format!("<p class=\"error\" role=\"alert\">{}</p>\n", escape(e))
    });
    page(
        "Log in",
        &format!(
            "<h1>Log in</h1>\n{error}<form method=\"post\" action=\"{action}\">\n\
             <p><label>Username <input name=\"username\" autocomplete=\"username\" required></label></p>\n\
             <p><label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label></p>\n\
             <p><label><input name=\"remember_me\" type=\"checkbox\"> Remember me</label></p>\n\
             <p><button type=\"submit\">Log in</button></p>\n</form>"
        ),
    )
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n\
         <style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;line-height:1.5}}\
         .error{{color:#b00020}}input:not([type]),input[type=password]{{width:100%}}</style></head>\n\
         <body>\n{body}\n</body></html>\n"
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
