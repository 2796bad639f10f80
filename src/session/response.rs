//! The response writer: turns a request's [`Commit`] into `Set-Cookie` headers, and marks the
//! response `Vary: Cookie` when it depended on the session and `Cache-Control: no-store` when it
//! hands out one.

use http::header::{CACHE_CONTROL, SET_COOKIE, VARY};
use http::{HeaderMap, HeaderValue};

use super::commit::{Commit, RememberUpdate, SessionCommit};
use super::config::SessionConfig;
use crate::SessionDict;

/// Adds to a response's `headers` what the request's changes to `session` call for.
pub(crate) fn finish(session: &SessionDict, headers: &mut HeaderMap) {
    write(session.config(), session.commit(), headers);
}

/// [`finish`] by the response future, which gives up its handle: when no other holder remains,
/// the session is committed without its lock.
pub(crate) fn finish_owned(mut session: SessionDict, headers: &mut HeaderMap) {
    match session.commit_unshared() {
        Some(commit) => write(session.config(), commit, headers),
        None => finish(&session, headers),
    }
}

/// Adds the headers `commit` calls for to a response's `headers`.
fn write(config: &SessionConfig, commit: Commit, headers: &mut HeaderMap) {
    let scope = &config.scope;
    let mut handed_out = false;
    match commit.session {
        SessionCommit::Unchanged => {}
        SessionCommit::Delete => {
            headers.append(SET_COOKIE, scope.removal_cookie(&config.session_name));
        }
        SessionCommit::Write { json, created } => {
            let now = commit.now;
            match config.backend.seal(json, created.unwrap_or(now), now) {
                Some(value) => {
                    headers.append(
                        SET_COOKIE,
                        scope.set_cookie(&config.session_name, &value, config.max_age),
                    );
                    handed_out = true;
                }
                // Only a re-issue of a session written elsewhere (a large Microdot session) can
                // get here: changes are size-checked when made. Browsers would drop it, so leave
                // the one they have.
                None => tracing::warn!("session cookie too large to re-issue; left unchanged"),
            }
        }
    }
    if commit.read
        && !headers
            .get_all(VARY)
            .iter()
            .any(|v| v.as_bytes().eq_ignore_ascii_case(b"cookie"))
    {
        headers.append(VARY, HeaderValue::from_static("Cookie"));
    }
    match commit.remember {
        RememberUpdate::None => {}
        RememberUpdate::Set(token) => {
            let value = token.seal(&config.keys);
            let max_age = token.max_age(commit.now);
            headers.append(
                SET_COOKIE,
                scope.set_cookie(&config.remember_name, &value, Some(max_age)),
            );
            handed_out = true;
        }
        RememberUpdate::Delete => {
            headers.append(SET_COOKIE, scope.removal_cookie(&config.remember_name));
        }
    }
    // Keep shared caches from storing a response that hands out a session (SECURITY.md CK-09).
    if handed_out && !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}
