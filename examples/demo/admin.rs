//! The demo's pages for admins, and its flash messages.
//!
//! - `GET /admin`: login required, admins only (susan is one, david is not): a refused user gets
//!   the crate's `403` page, an anonymous browser the login redirect;
//! - `GET /api/admin`: the same check behind bearer tokens, answering JSON: `200` for susan's
//!   token, `403` for david's, `401` without credentials;
//! - flash messages: "Welcome back, NAME" after a login, "You have been logged out" after a
//!   logout, each shown once by the next page that renders them.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use tower_session_auth::{AuthLayer, Authorize, CurrentUser, Flash, Reason, Unauthorized};

use super::{escape, page};
use crate::users::{self, User};

/// The admins' user ids (a real application reads roles from its store).
const ADMINS: [&str; 1] = ["user001"];

/// The permissions of `user`: `admin` for the admins.
async fn permissions(user: User) -> HashSet<String> {
    let mut permissions = HashSet::new();
    if ADMINS.contains(&user.id) {
        permissions.insert("admin".to_owned());
    }
    permissions
}

/// `/admin` behind `login_required` with the admin check, and `/api/admin` behind bearer tokens
/// with the same check.
pub fn routes<S: Clone + Send + Sync + 'static>(login_required: &AuthLayer<User>) -> Router<S> {
    let admins_only = login_required
        .clone()
        .into_builder()
        .permission_loader(permissions)
        .authorize(Authorize::permission("admin"))
        .build()
        .expect("valid gate configuration");
    let api_admins_only = AuthLayer::builder()
        .bearer("tower-session-auth demo", |token: String| async move {
            users::verify_api_token(&token)
        })
        .permission_loader(permissions)
        .authorize(Authorize::permission("admin"))
        .unauthorized(json_refusal)
        .build()
        .expect("valid gate configuration");
    Router::new()
        .route("/admin", get(admin_page).route_layer(admins_only))
        .route("/api/admin", get(admin_api).route_layer(api_admins_only))
}

/// `GET /admin`.
async fn admin_page(CurrentUser(user): CurrentUser<User>, flash: Flash) -> Html<String> {
    page(
        "Admin",
        &format!(
            "{}<h1>Admin</h1>\n<p>Hello, {}: you are an admin.</p>\n<p><a href=\"/\">Home</a></p>",
            messages(&flash),
            escape(user.username)
        ),
    )
}

/// `GET /api/admin`.
async fn admin_api(CurrentUser(user): CurrentUser<User>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "admin": true, "username": user.username }))
}

/// The API gate's refusals, all JSON: `403` for a user who is not an admin, `401` (with the
/// challenges) without valid credentials, `503` when the store does not answer.
fn json_refusal(u: Unauthorized) -> axum::http::Response<Bytes> {
    let (status, error) = match u.reason {
        Reason::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
        Reason::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        _ => (StatusCode::UNAUTHORIZED, "unauthorized"),
    };
    let body = serde_json::json!({ "error": error }).to_string();
    let mut res = axum::http::Response::new(Bytes::from(body));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for challenge in u.challenges {
        headers.append(WWW_AUTHENTICATE, challenge);
    }
    res
}

/// The waiting flash messages as HTML, taken: they are shown once.
pub fn messages(flash: &Flash) -> String {
    flash
        .take()
        .into_iter()
        .map(|m| {
            format!(
                "<p class=\"flash {}\" role=\"status\">{}</p>\n",
                m.level,
                escape(&m.text)
            )
        })
        .collect()
}
