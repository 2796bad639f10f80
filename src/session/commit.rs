//! What a request changed, as a value: the handle makes it when the response is ready, and the
//! response writer turns it into `Set-Cookie` headers through the backend.

/// What becomes of the session.
#[derive(Debug)]
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

/// What the response does to the remember-me cookie.
#[derive(Default)]
pub(crate) enum RememberUpdate {
    #[default]
    None,
    Set {
        value: String,
        max_age: u64,
    },
    Delete,
}

impl std::fmt::Debug for RememberUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The value is a credential.
        f.write_str(match self {
            RememberUpdate::None => "None",
            RememberUpdate::Set { .. } => "Set",
            RememberUpdate::Delete => "Delete",
        })
    }
}

/// Everything a request's changes call for.
#[derive(Debug)]
pub(crate) struct Commit {
    pub(crate) session: SessionCommit,
    pub(crate) remember: RememberUpdate,
    /// Whether the session was read: the response then depends on the request's cookies.
    pub(crate) read: bool,
}
