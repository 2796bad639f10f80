//! Flash messages: short messages kept in the session for the next page that shows them.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, SessionDict};

/// The session key the messages are kept under (the crate's, so handlers cannot clobber it).
const FLASH: &str = "_flash";

/// How a [`FlashMessage`] should be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Level {
    /// Something the user may like to know.
    Info,
    /// Something the user did worked.
    Success,
    /// Something the user should look at.
    Warning,
    /// Something the user did failed.
    Error,
}

impl Level {
    /// The level's name in lowercase (`"info"`, `"success"`, `"warning"`, `"error"`), as a CSS
    /// class would use it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::Level;
    ///
    /// assert_eq!(Level::Warning.as_str(), "warning");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Success => "success",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One flash message: its level and its text (plain text: escape it when you put it in HTML).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlashMessage {
    /// How to show it.
    pub level: Level,
    /// What it says.
    pub text: String,
}

/// The flash messages of a session: add messages on one request (before a redirect, say), take
/// them on the next page that shows them.
///
/// Messages are kept in the session (under the crate's `_flash` key) until a handler calls
/// [`take`](Self::take): a request that does not take them, such as a parallel `fetch` of the
/// same page, leaves them in place, and once taken they are gone. They survive a logout (so the
/// login page can say "You have been logged out") but not a login of another user. Like all
/// session data they are signed, not encrypted.
///
/// With the `axum` feature `Flash` is an extractor; without it, build one from the request's
/// [`SessionDict`] with [`Flash::new`].
///
/// # Examples
///
/// ```
/// use tower_session_auth::{Flash, Level, SessionDict};
///
/// fn after_save(session: &SessionDict) -> Result<(), tower_session_auth::Error> {
///     Flash::new(session).success("Your changes were saved.")
/// }
///
/// fn next_page(session: &SessionDict) -> String {
///     Flash::new(session)
///         .take()
///         .into_iter()
///         .map(|m| format!("<p class=\"{}\">{}</p>", m.level, m.text)) // escape `m.text` in real HTML
///         .collect()
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Flash {
    session: SessionDict,
}

impl Flash {
    /// The flash messages of `session`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Flash, SessionDict};
    ///
    /// fn messages(session: &SessionDict) -> usize {
    ///     Flash::new(session).take().len()
    /// }
    /// ```
    pub fn new(session: &SessionDict) -> Flash {
        Flash {
            session: session.clone(),
        }
    }

    /// Adds a message, after those already waiting.
    ///
    /// # Errors
    ///
    /// [`Error::SessionTooLarge`] if the session would no longer fit in a cookie; the messages are
    /// then unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Flash, Level, SessionDict};
    ///
    /// fn warn(session: &SessionDict) -> Result<(), tower_session_auth::Error> {
    ///     Flash::new(session).push(Level::Warning, "Your password expires in 3 days.")
    /// }
    /// ```
    pub fn push(&self, level: Level, text: impl Into<String>) -> Result<(), Error> {
        let mut messages = self.waiting();
        messages.push(FlashMessage {
            level,
            text: text.into(),
        });
        let value = serde_json::to_value(&messages).map_err(Error::Serialize)?;
        self.session.insert_value(FLASH, value)
    }

    /// Adds an [`Info`](Level::Info) message.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f(session: &tower_session_auth::SessionDict) -> Result<(), tower_session_auth::Error> {
    /// tower_session_auth::Flash::new(session).info("You have been logged out.")
    /// # }
    /// ```
    pub fn info(&self, text: impl Into<String>) -> Result<(), Error> {
        self.push(Level::Info, text)
    }

    /// Adds a [`Success`](Level::Success) message.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f(session: &tower_session_auth::SessionDict) -> Result<(), tower_session_auth::Error> {
    /// tower_session_auth::Flash::new(session).success("Welcome back, susan")
    /// # }
    /// ```
    pub fn success(&self, text: impl Into<String>) -> Result<(), Error> {
        self.push(Level::Success, text)
    }

    /// Adds a [`Warning`](Level::Warning) message.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f(session: &tower_session_auth::SessionDict) -> Result<(), tower_session_auth::Error> {
    /// tower_session_auth::Flash::new(session).warning("Your subscription ends tomorrow.")
    /// # }
    /// ```
    pub fn warning(&self, text: impl Into<String>) -> Result<(), Error> {
        self.push(Level::Warning, text)
    }

    /// Adds an [`Error`](Level::Error) message.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f(session: &tower_session_auth::SessionDict) -> Result<(), tower_session_auth::Error> {
    /// tower_session_auth::Flash::new(session).error("The payment was refused.")
    /// # }
    /// ```
    pub fn error(&self, text: impl Into<String>) -> Result<(), Error> {
        self.push(Level::Error, text)
    }

    /// Takes the waiting messages, oldest first: they are removed from the session, so no later
    /// request sees them.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Flash, SessionDict};
    ///
    /// fn banner(session: &SessionDict) -> Vec<String> {
    ///     Flash::new(session).take().into_iter().map(|m| m.text).collect()
    /// }
    /// ```
    #[must_use = "taken messages are gone from the session: show them"]
    pub fn take(&self) -> Vec<FlashMessage> {
        let messages = self.waiting();
        if self.session.contains_key(FLASH) {
            self.session.remove_value(FLASH);
        }
        messages
    }

    /// The waiting messages, left in place. A value that is not a list of messages (written by
    /// something else) reads as none.
    fn waiting(&self) -> Vec<FlashMessage> {
        match self.session.get::<Value>(FLASH) {
            Ok(Some(value)) => serde_json::from_value(value).unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}
