//! Where a session lives between requests: the seam between the handle and its storage.
//!
//! The handle ([`SessionDict`](crate::SessionDict)) asks its layer's backend for the session the
//! request carried, asks it whether a change can be kept, and at the end of the request hands the
//! response writer a [`Commit`](super::commit::Commit), whose written session the backend seals
//! into the session cookie's value. The handle and the login code never see which backend it is.
//!
//! The one backend today is [`CookieBackend`]: the whole session in a signed (Microdot's format)
//! or encrypted cookie. A server-side backend plugs in beside it, implementing the same trait: its
//! `load` reads the record a signed id points at, its `seal` saves the record and returns the
//! cookie value that carries the id, and its `check_size` accepts sessions of any size.

mod cookie;

use std::fmt;

pub(crate) use cookie::CookieBackend;

use crate::cache::Miss;
use crate::token::members::Members;
use crate::Error;

/// A place to keep sessions.
pub(crate) trait Backend: fmt::Debug + Send + Sync + 'static {
    /// The session that `sent`, the values of the request's cookies with the session's name,
    /// carries at `now`. Nothing a client sends makes this fail: what does not verify reads as an
    /// empty session.
    fn load(&self, sent: &[&str], now: u64) -> Loaded;

    /// Remembers that the cookie a [`load`](Self::load) verified into `map` is valid, so that
    /// it is not verified again when it comes back: called with [`Loaded::unfiled`] when the
    /// request commits, if its response leaves the browser that cookie (the store step, whose id
    /// cookie outlives the request's changes, files it as it loads). A cookie that the response
    /// replaces (a write, a re-issue) or deletes is not sent again; filing it would cost a cache
    /// insert and a use count, and under many writing sessions it would push out cookies that do
    /// come back.
    fn file(&self, unfiled: Miss, map: &Members);

    /// The backend itself, for tests that look into it.
    #[cfg(test)]
    fn as_any(&self) -> &dyn std::any::Any;

    /// Whether a session of `json_len` bytes of JSON (without the crate's time claims), begun at
    /// `created` (`None`: now), can be kept.
    ///
    /// # Errors
    ///
    /// [`Error::SessionTooLarge`] when it cannot.
    fn check_size(&self, json_len: usize, created: Option<u64>, now: u64) -> Result<(), Error>;

    /// Keeps `json` (the session, without claims), begun at `created` and written `now`, and
    /// returns the session cookie's new value; `None` when it cannot be kept (the browser then
    /// keeps its cookie).
    fn seal(&self, json: Vec<u8>, created: u64, now: u64) -> Option<String>;
}

/// What a backend loaded for a request.
#[derive(Default)]
pub(crate) struct Loaded {
    /// The session map, the crate's `_…` keys included, without time claims.
    pub(crate) map: Members,
    /// When the session began (its absolute-timeout anchor); `None` for a new session.
    pub(crate) created: Option<u64>,
    /// Write the session again even if the request does not change it: it verified under a
    /// fallback key, lacks the crate's anchors, or its idle deadline is due to be pushed back.
    pub(crate) reissue: bool,
    /// A session cookie was sent but did not verify: delete it.
    pub(crate) invalid: bool,
    /// A session cookie was sent that a key holder wrote but this layer cannot use, or not yet
    /// (its `iat` or `nbf` ahead of the clock): never delete it unless the application asks to
    /// ([`SessionDict::delete`](crate::SessionDict::delete)).
    pub(crate) foreign: bool,
    /// The session cookie missed the verified-cookie cache: where to file it
    /// ([`Backend::file`]) if the request ends with the browser keeping it.
    pub(crate) unfiled: Option<Miss>,
}

impl fmt::Debug for Loaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys only: values may be personal data.
        f.debug_struct("Loaded")
            .field("map", &self.map)
            .field("created", &self.created)
            .field("reissue", &self.reissue)
            .field("invalid", &self.invalid)
            .field("foreign", &self.foreign)
            .field("unfiled", &self.unfiled.is_some())
            .finish()
    }
}
