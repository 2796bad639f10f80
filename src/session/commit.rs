//! What a request changed, as a value: the handle makes it when the response is ready, and the
//! response writer turns it into `Set-Cookie` headers through the backend.

use crate::token::remember::RememberToken;

/// What becomes of the session.
pub(crate) enum SessionCommit {
    /// Nothing changed: no `Set-Cookie`.
    Unchanged,
    /// The session is written anew.
    Write {
        /// The session map as compact JSON, without the crate's time claims.
        json: Vec<u8>,
        /// When the session began; `None` for a session that begins now (a login, a first
        /// write).
        created: Option<u64>,
    },
    /// The session ends: its cookie is deleted.
    Delete,
}

impl std::fmt::Debug for SessionCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the session's contents.
        match self {
            SessionCommit::Unchanged => f.write_str("Unchanged"),
            SessionCommit::Write { json, created } => f
                .debug_struct("Write")
                .field("json_len", &json.len())
                .field("created", created)
                .finish(),
            SessionCommit::Delete => f.write_str("Delete"),
        }
    }
}

/// What the response does to the remember-me cookie.
#[derive(Debug, Default)]
pub(crate) enum RememberUpdate {
    #[default]
    None,
    /// Issue this token, sealed when the response is written (so that a later change in the
    /// same request, such as a new auth-hash tag, is part of it).
    Set(RememberToken),
    Delete,
}

/// Everything a request's changes call for.
#[derive(Debug)]
pub(crate) struct Commit {
    pub(crate) session: SessionCommit,
    pub(crate) remember: RememberUpdate,
    /// Whether the session was read: the response then depends on the request's cookies.
    pub(crate) read: bool,
    /// The request's instant ([`SessionDict::now`](crate::SessionDict)): the written cookies'
    /// times agree with what the registry and the store were told.
    pub(crate) now: u64,
}
