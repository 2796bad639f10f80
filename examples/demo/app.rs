//! The demo's routes, shared with the integration tests so they drive exactly what the demo serves.

#[path = "admin.rs"]
mod admin;

use std::cell::RefCell;

use axum::body::Bytes;
use axum::extract::Request;
use axum::extract::{OriginalUri, State};
use axum::http::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tower_session_auth::{
    login_user, logout_user, redirect_target, AuthLayer, CsrfForm, CurrentUser, Flash, Key,
    MemoryRegistry, MemoryStore, Reason, SessionDict, SessionLayer, Unauthorized,
};

use crate::users::{self, HashPermit, PasswordHashing, User};

// The device pages (with a session registry); a path of its own so the tests that include this
// file find it too.
#[path = "sessions.rs"]
mod sessions;

/// Where the demo keeps track of its sessions (`SESSION_STORE`).
#[derive(Debug)]
#[allow(dead_code)] // not every test that includes this file picks a store
pub enum Store {
    /// Stateless signed cookies only: nothing to revoke, nothing to list.
    Cookie,
    /// Tracked logins in this process's memory (the default).
    Memory,
    /// Tracked logins in Redis, shared by every instance.
    #[cfg(feature = "redis")]
    Redis(tower_session_auth::RedisRegistry),
}

#[path = "csrf.rs"]
mod csrf;

// The notes pages: a session too big for a cookie.
#[path = "notes.rs"]
mod notes;

/// Where the demo keeps its sessions' data (`SESSION_PLACEMENT`).
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)] // not every test that includes this file picks a placement
pub enum Placement {
    /// In the cookie, as Microdot keeps it (the default).
    Cookie,
    /// Server-side, in the session store; the cookie carries an id.
    Store,
}

#[path = "throttle.rs"]
mod throttle;

/// The demo application, its sessions signed with `key`.
#[allow(dead_code)] // used by the tests that include this file
pub fn app(key: Key) -> Router {
    app_with_fallbacks(key, Vec::new())
}

/// The demo application, signing with `key` and still accepting cookies signed with `fallbacks`
/// (re-signed with `key` in the same response).
pub fn app_with_fallbacks(key: Key, fallbacks: Vec<Key>) -> Router {
    app_with_store(key, fallbacks, Store::Memory)
}

/// The demo application with its sessions tracked in `store`, their data in the cookie.
pub fn app_with_store(key: Key, fallbacks: Vec<Key>, store: Store) -> Router {
    app_with_placement(key, fallbacks, store, Placement::Cookie)
}

/// The demo application with its sessions tracked in `store` and their data where `placement`
/// says (`SESSION_PLACEMENT`).
pub fn app_with_placement(
    key: Key,
    fallbacks: Vec<Key>,
    store: Store,
    placement: Placement,
) -> Router {
    build(
        key,
        fallbacks,
        PasswordHashing::for_this_machine(),
        store,
        placement,
    )
}

/// The demo application with its password hashing bounded by `hashing`, so a test can hold the
/// permits.
#[allow(dead_code)] // used by the tests that include this file
pub fn app_with_hashing(key: Key, hashing: PasswordHashing) -> Router {
    build(key, Vec::new(), hashing, Store::Memory, Placement::Cookie)
}

fn build(
    key: Key,
    fallbacks: Vec<Key>,
    hashing: PasswordHashing,
    store: Store,
    placement: Placement,
) -> Router {
    let login_throttle = throttle::login_throttle(key.clone(), &hashing);
    // `Secure` is off only because the demo serves plain http on loopback; browsers would not send
    // a `Secure` cookie back over http. Keep the default (on) in production.
    // The demo shares its users' logins with Microdot services that sign with the same secret:
    // Microdot's sessions carry no time anchors and no auth-hash tag.
    let sessions = SessionLayer::builder(key)
        .fallback_keys(fallbacks)
        .claimless_sessions(true)
        .adopt_untagged_logins(true)
        .secure(false);
    // With server-side placement the data goes to the same backend as the registry (memory, or
    // the Redis one), or to memory in cookie mode.
    let sessions = match (store, placement) {
        (Store::Cookie, Placement::Cookie) => sessions,
        (Store::Cookie, Placement::Store) => sessions.store(MemoryStore::new()),
        (Store::Memory, Placement::Cookie) => sessions.registry(MemoryRegistry::new()),
        (Store::Memory, Placement::Store) => sessions
            .registry(MemoryRegistry::new())
            .store(MemoryStore::new()),
        #[cfg(feature = "redis")]
        (Store::Redis(registry), Placement::Cookie) => sessions.registry(registry),
        #[cfg(feature = "redis")]
        (Store::Redis(registry), Placement::Store) => {
            sessions.registry(registry.clone()).store(registry)
        }
    }
    .build()
    .expect("valid session configuration");
    let users = hashing.users().clone();
    let login_required = AuthLayer::builder()
        .user_loader(move |id: String| {
            let user = users.by_id(&id);
            async move { user }
        })
        .login_url("/login")
        .build()
        .expect("valid gate configuration");
    let fresh_login_required = login_required
        .clone()
        .into_builder()
        .fresh(true)
        .unauthorized(turned_away)
        .build()
        .expect("valid gate configuration");

    // API routes: HTTP Basic with the same users, and bearer tokens. Basic hashes the password on
    // every request, within the same budgets and bound as the login form:
    // `throttle::basic_attempts` takes the permit before the gate, and the verifier hashes with
    // it (or refuses without one).
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
        .merge(sessions::routes())
        .route_layer(login_required.clone());
    let api_basic = Router::new()
        .route("/api/me", get(me))
        .route_layer(basic)
        .route_layer(middleware::from_fn_with_state(
            hashing.clone(),
            throttle::basic_attempts,
        ))
        .route_layer(middleware::from_fn(html_401_for_browsers));
    let api_token = Router::new()
        .route("/api/token/me", get(me))
        .route_layer(token)
        .route_layer(middleware::from_fn(html_401_for_browsers));
    let fresh = Router::new()
        .route("/fresh", get(fresh_page))
        .route_layer(fresh_login_required);
    Router::new()
        .merge(protected)
        .merge(fresh)
        .merge(api_basic)
        .merge(api_token)
        .merge(admin::routes(&login_required))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/counter", get(counter))
        .merge(notes::routes())
        // After every route: it applies to the routes registered so far.
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(hashing)
        // Login and logout are POSTs that only this site may send (login CSRF).
        .layer(csrf::layer())
        .layer(axum::Extension(login_throttle))
        .layer(sessions)
}

tokio::task_local! {
    /// The hashing permit taken for the Basic request being served, for its verifier.
    static BASIC_PERMIT: RefCell<Option<HashPermit>>;
}

/// `503` with `Retry-After: 1`: every hashing permit is taken.
pub(crate) fn busy() -> Response {
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
async fn index(
    CurrentUser(user): CurrentUser<User>,
    flash: Flash,
    session: SessionDict,
) -> Html<String> {
    page(
        "Home",
        &format!(
            "{}<h1>Hello, {}!</h1>\n<p><a href=\"/fresh\">A page that needs a fresh login</a></p>\n\
             <p><a href=\"/sessions\">Your sessions</a></p>\n\
             <form method=\"post\" action=\"/logout\">{}<button type=\"submit\">Log out</button></form>",
            admin::messages(&flash),
            escape(user.username),
            csrf::hidden_field(&session)
        ),
    )
}

/// `GET /fresh` (fresh login required: a login restored by "remember me" must log in again).
async fn fresh_page(CurrentUser(user): CurrentUser<User>, flash: Flash) -> Html<String> {
    page(
        "Fresh",
        &format!(
            "{}<h1>Hello, {}!</h1>\n<p>You logged in with your password in this browser session.</p>\n\
             <p><a href=\"/\">Home</a></p>",
            admin::messages(&flash),
            escape(user.username)
        ),
    )
}

/// `GET /api/me` and `GET /api/token/me`: who the credentials belong to, as JSON.
async fn me(CurrentUser(user): CurrentUser<User>) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "id": user.id, "username": user.username }))
}

/// `GET /login`: the form, keeping `next` so the login ends where the user was going.
async fn login_form(
    OriginalUri(uri): OriginalUri,
    flash: Flash,
    session: SessionDict,
) -> Html<String> {
    let Html(form) = login_page(&uri, &session, "", None);
    Html(form.replacen("<h1>", &format!("{}<h1>", admin::messages(&flash)), 1))
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
    axum::Extension(login_throttle): axum::Extension<tower_session_auth::LoginThrottle>,
    parts: axum::http::request::Parts,
    session: SessionDict,
    OriginalUri(uri): OriginalUri,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Response {
    let (username, password) = (form.username, form.password);
    // Refused before any hashing (PBKDF2 would read `hello\0` as `hello`).
    let (verified, known_device) = if users::well_formed(&username, &password) {
        // Throttled (`429`) before any hash, and at most a few hashes at once (`503`).
        match throttle::verify(&login_throttle, &hashing, &parts, &username, password).await {
            Ok(checked) => checked,
            Err(refused) => return refused,
        }
    } else {
        (None, None)
    };
    let Some(user) = verified else {
        // The same answer for an unknown user, a wrong password and a malformed one; the username
        // stays in the form, so only the password needs typing again.
        let typed: String = username.chars().filter(|c| !c.is_control()).collect();
        return (
            StatusCode::UNAUTHORIZED,
            login_page(
                &uri,
                &session,
                &typed,
                Some("Invalid username or password."),
            ),
        )
            .into_response();
    };
    if let Err(e) = login_user(&session, &user, form.remember_me.is_some()) {
        return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
    }
    // Shown once by the next page; a session too full for it loses only the message.
    let _ = Flash::new(&session).success(format!("Welcome back, {}", user.username));
    // 303 See Other: the browser follows with a GET, never repeating the POST.
    let res = Redirect::to(&redirect_target(&uri, "/")).into_response();
    throttle::with_known_device(res, known_device)
}

/// `POST /logout`: log out (keeping the rest of the session) and go home.
async fn logout(session: SessionDict, _: CsrfForm) -> Redirect {
    logout_user(&session);
    let _ = Flash::new(&session).info("You have been logged out");
    Redirect::to("/")
}

/// The login form, `username` pre-filled. Reached from the fresh gate (`reason=fresh`), it says
/// why a remembered login must type its password again.
fn login_page(
    uri: &Uri,
    session: &SessionDict,
    username: &str,
    error: Option<&str>,
) -> Html<String> {
    // The form posts back to `/login` with the same (validated) `next`.
    let next = redirect_target(uri, "/");
    let action = format!(
        "/login?next={}",
        percent_encoding::utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC)
    );
    let from_fresh_gate = form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .any(|(name, value)| name == "reason" && value == "fresh");
    let message = match error {
        Some(e) => format!("<p class=\"error\" role=\"alert\">{}</p>\n", escape(e)),
        None if from_fresh_gate => "<p class=\"notice\" role=\"status\">You are logged in from an \
             earlier visit (\u{201c}remember me\u{201d}), but this page needs your password: please \
             type it again.</p>\n"
            .to_owned(),
        None => String::new(),
    };
    // Focus goes where the typing starts.
    let (username_focus, password_focus) = if username.is_empty() {
        (" autofocus", "")
    } else {
        ("", " autofocus")
    };
    let value = if username.is_empty() {
        String::new()
    } else {
        format!(" value=\"{}\"", escape(username))
    };
    let csrf = csrf::hidden_field(session);
    page(
        "Log in",
        &format!(
            "<h1>Log in</h1>\n{message}<form method=\"post\" action=\"{action}\">{csrf}\n\
             <p><label>Username <input name=\"username\"{value} autocomplete=\"username\" required{username_focus}></label></p>\n\
             <p><label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required{password_focus}></label></p>\n\
             <p><label><input name=\"remember_me\" type=\"checkbox\"> Remember me</label></p>\n\
             <p><button type=\"submit\">Log in</button></p>\n</form>"
        ),
    )
}

/// The fresh gate's answer when it turns a request away: the login redirect, telling a remembered
/// login why `/fresh` asks for the password again; a page when the user store is down; for other
/// clients, the crate's plain-text `401`.
fn turned_away(u: Unauthorized) -> axum::http::Response<Bytes> {
    if u.reason == Reason::Unavailable {
        let mut res = axum::http::Response::new(Bytes::from(
            page(
                "Try again",
                "<h1>Try again in a moment</h1>\n<p>The user store did not answer.</p>",
            )
            .0,
        ));
        *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        let headers = res.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(HTML));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
        return res;
    }
    if let Some(mut location) = u.login_location {
        if u.reason == Reason::NotFresh {
            location.push_str(if location.contains('?') { "&" } else { "?" });
            location.push_str("reason=fresh");
        }
        if let Ok(location) = HeaderValue::try_from(location) {
            let mut res = axum::http::Response::new(Bytes::new());
            *res.status_mut() = StatusCode::FOUND;
            res.headers_mut().insert(LOCATION, location);
            return res;
        }
    }
    // A client that does not want HTML: the crate's own answer, a short text and the challenges.
    let mut res = axum::http::Response::new(Bytes::from_static(
        b"Login required: log in at /login, then send this request again with the session cookie.\n",
    ));
    *res.status_mut() = StatusCode::UNAUTHORIZED;
    let headers = res.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    for challenge in u.challenges {
        headers.append(WWW_AUTHENTICATE, challenge);
    }
    res
}

/// An API gate's `401` for a browser (whose `Accept` names HTML): the same status and challenges,
/// with a small page in the demo's style, shown when the Basic prompt is dismissed. Other clients
/// keep the crate's plain-text answer.
async fn html_401_for_browsers(req: Request, next: Next) -> Response {
    let wants_html = req
        .headers()
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"));
    let res = next.run(req).await;
    if !wants_html || res.status() != StatusCode::UNAUTHORIZED {
        return res;
    }
    let (mut parts, _) = res.into_parts();
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static(HTML));
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let body = page(
        "Not logged in",
        "<h1>Not logged in</h1>\n<p>This page needs credentials.</p>\n\
         <p><a href=\"/login\">Log in</a> \u{b7} <a href=\"/\">Home</a></p>",
    )
    .0;
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// The fallback for paths no route serves.
async fn not_found() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "<p>There is no page here.</p>",
    )
}

/// The fallback for a route asked with a method it does not serve; axum adds `Allow`.
async fn method_not_allowed(method: Method) -> Response {
    error_page(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
        &format!(
            "<p>This page does not answer {} requests.</p>",
            escape(method.as_str())
        ),
    )
}

/// A small page for an error `status`: a heading, `message` (HTML) and a link home.
pub(crate) fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!("<h1>{title}</h1>\n{message}\n<p><a href=\"/\">Home</a></p>");
    (status, page(title, &body)).into_response()
}

const HTML: &str = "text/html; charset=utf-8";

pub(crate) fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\n\
         <style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}\
         .error{{color:#b00020}}.notice{{color:#5f4b00}}input:not([type]),input[type=password]{{width:100%}}</style></head>\n\
         <body>\n{body}\n</body></html>\n"
    ))
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
