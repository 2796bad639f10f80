//! The demo's device pages, with a session registry: the user's live sessions, logging out one of
//! them or all the others, and changing the password (which ends every other session).

use axum::extract::{Path, State};
use axum::http::header::ACCEPT;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tower_session_auth::{
    list_sessions, revoke_other_sessions, revoke_session, update_session_auth_hash, CsrfForm,
    CurrentUser, Error, SessionDict,
};

use super::csrf::hidden_field;
use super::{busy, error_page, escape, page};
use crate::users::{PasswordHashing, User};

/// The routes; the caller puts them behind the login gate.
pub fn routes() -> Router<PasswordHashing> {
    Router::new()
        .route("/sessions", get(sessions))
        .route("/sessions/revoke-others", post(revoke_others))
        .route("/sessions/{id}/revoke", post(revoke))
        .route("/password", post(change_password))
}

/// What a registry error becomes: `503` when it did not answer, `404` in cookie mode (there are
/// no sessions to list).
fn failed(e: &Error) -> Response {
    match e {
        Error::NoRegistry => error_page(
            StatusCode::NOT_FOUND,
            "No session list",
            "<p>This server keeps sessions in cookies only (<code>SESSION_STORE=cookie</code>): \
             there is no list of them to show.</p>",
        ),
        _ => busy(),
    }
}

/// `GET /sessions`: HTML for browsers, a JSON array with `Accept: application/json`.
async fn sessions(session: SessionDict, headers: HeaderMap) -> Response {
    let devices = match list_sessions(&session).await {
        Ok(devices) => devices,
        Err(e) => return failed(&e),
    };
    let wants_json = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        return Json(devices).into_response();
    }
    let token = hidden_field(&session);
    let mut rows = String::new();
    for d in &devices {
        let this = if d.current {
            " <strong>(this browser)</strong>"
        } else {
            ""
        };
        let agent = if d.user_agent.is_empty() {
            "Unknown browser"
        } else {
            &d.user_agent
        };
        rows += &format!(
            "<li>{}{this}<br><small>signed in at {} · last seen {} (Unix time)</small>\
             <form method=\"post\" action=\"/sessions/{}/revoke\">{token}<button>Log out</button></form></li>\n",
            escape(agent),
            d.created,
            d.last_seen,
            escape(&d.id),
        );
    }
    let body = format!(
        "<h1>Your sessions</h1>\n<ul>\n{rows}</ul>\n\
         <form method=\"post\" action=\"/sessions/revoke-others\">{token}<button>Log out all other sessions</button></form>\n\
         <h2>Change password</h2>\n\
         <form method=\"post\" action=\"/password\">{token}\
         <label>Current password <input type=\"password\" name=\"current_password\" autocomplete=\"current-password\"></label>\
         <label>New password <input type=\"password\" name=\"new_password\" autocomplete=\"new-password\"></label>\
         <button>Change password</button></form>\n\
         <p><a href=\"/\">Home</a></p>"
    );
    page("Your sessions", &body).into_response()
}

/// `POST /sessions/revoke-others`
async fn revoke_others(session: SessionDict, _: CsrfForm) -> Response {
    match revoke_other_sessions(&session).await {
        Ok(_) => Redirect::to("/sessions").into_response(),
        Err(e) => failed(&e),
    }
}

/// `POST /sessions/{id}/revoke`: `404` for an id that is not one of this user's sessions.
async fn revoke(session: SessionDict, Path(id): Path<String>, _: CsrfForm) -> Response {
    match revoke_session(&session, &id).await {
        Ok(true) => Redirect::to("/sessions").into_response(),
        Ok(false) => error_page(
            StatusCode::NOT_FOUND,
            "No such session",
            "<p>You have no session with that id.</p>",
        ),
        Err(e) => failed(&e),
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    current_password: String,
    new_password: String,
}

/// `POST /password`: checks the current password, sets the new one, keeps this session and ends
/// every other one.
async fn change_password(
    State(hashing): State<PasswordHashing>,
    axum::Extension(login_throttle): axum::Extension<tower_session_auth::LoginThrottle>,
    parts: axum::http::request::Parts,
    session: SessionDict,
    CurrentUser(user): CurrentUser<User>,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Response {
    if form.new_password.is_empty()
        || form.new_password.len() > 1024
        || form.new_password.chars().any(char::is_control)
    {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Password refused",
            "<p>Choose a password of 1 to 1024 characters, without control characters.</p>",
        );
    }
    // Checking the current password is a password guess like a login's: the same budgets.
    let verified = match super::throttle::verify(
        &login_throttle,
        &hashing,
        &parts,
        user.username,
        form.current_password,
    )
    .await
    {
        Ok((verified, _)) => verified,
        Err(refused) => return refused,
    };
    if verified.is_none() {
        return error_page(
            StatusCode::FORBIDDEN,
            "Password not changed",
            "<p>The current password was wrong.</p>",
        );
    }
    let Some(permit) = hashing.try_permit() else {
        return busy();
    };
    permit
        .set_password(user.id.to_owned(), form.new_password)
        .await;
    let Some(updated) = hashing.users().by_id(user.id) else {
        return busy();
    };
    match update_session_auth_hash(&session, &updated).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(e) => failed(&e),
    }
}
