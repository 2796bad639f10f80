//! The demo's notes: a per-session list of notes, up to 16 KiB each, too large for a cookie. With
//! `SESSION_PLACEMENT=store` the list lives server-side and grows as far as the store allows; in
//! cookie placement a note that would not fit is refused with `413` and a clear message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tower_session_auth::{CsrfForm, Error, SessionDict};

use super::csrf::hidden_field;
use super::{error_page, escape, page};
use crate::users::PasswordHashing;

/// The longest note, in bytes.
const MAX_NOTE: usize = 16 * 1024;

/// `GET /notes` and `POST /notes`.
pub fn routes() -> Router<PasswordHashing> {
    Router::new().route("/notes", get(list).post(add))
}

/// The session's notes, oldest first.
fn notes(session: &SessionDict) -> Vec<String> {
    session
        .get::<Vec<String>>("notes")
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// `GET /notes`: the list, and a form to add one.
async fn list(session: SessionDict) -> Response {
    let notes = notes(&session);
    let items: String = notes
        .iter()
        .map(|n| format!("<li><pre>{}</pre></li>\n", escape(n)))
        .collect();
    let total: usize = notes.iter().map(String::len).sum();
    let body = format!(
        "<h1>Notes</h1>\n<p>{} notes, {total} bytes, kept in this session.</p>\n<ol>\n{items}</ol>\n\
         <form method=\"post\" action=\"/notes\">{}<textarea name=\"text\" rows=\"6\" \
         maxlength=\"{MAX_NOTE}\"></textarea><button>Add</button></form>\n<p><a href=\"/\">Home</a></p>",
        notes.len(),
        hidden_field(&session),
    );
    page("Notes", &body).into_response()
}

#[derive(Deserialize)]
struct NoteForm {
    text: String,
}

/// `POST /notes`: adds a note and goes back to the list.
async fn add(session: SessionDict, CsrfForm(form): CsrfForm<NoteForm>) -> Response {
    if form.text.len() > MAX_NOTE {
        return error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Note too long",
            &format!("<p>A note holds at most {MAX_NOTE} bytes.</p>"),
        );
    }
    let mut notes = notes(&session);
    notes.push(form.text);
    match session.insert("notes", notes) {
        Ok(()) => Redirect::to("/notes").into_response(),
        Err(Error::SessionTooLarge { size, limit }) => error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Session full",
            &format!(
                "<p>This note does not fit: the session would take {size} bytes, and this server \
                 keeps sessions in a cookie of at most {limit} bytes. Run the demo with \
                 <code>SESSION_PLACEMENT=store</code> to keep them on the server instead.</p>"
            ),
        ),
        Err(_) => error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Not saved",
            "<p>The note could not be saved.</p>",
        ),
    }
}
