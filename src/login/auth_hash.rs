//! Session auth hashes: a keyed tag of the user's credentials (such as the password hash) kept in
//! the session, so that changing them ends every session of the user (SECURITY.md SES-07).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::AUTH_HASH;
use crate::key::{KeySet, Purpose};
use crate::SessionDict;

/// Checks the session's stored auth-hash tag against the user's current hash, in constant time
/// (`ring::hmac::verify`). A session without a tag never matches.
pub(crate) fn matches(session: &SessionDict, hash: &[u8]) -> bool {
    let Some(tag) = session.get::<String>(AUTH_HASH).ok().flatten() else {
        return false;
    };
    // A tag and hash that verified before need no second HMAC (one per request otherwise).
    let pair = [tag.as_bytes(), b"\0", hash].concat();
    if session.verified_tags().get(&pair).is_some() {
        return true;
    }
    let Ok(raw) = URL_SAFE_NO_PAD.decode(&tag) else {
        return false;
    };
    let ok = session.key_set().verify(Purpose::AuthHash, hash, &raw);
    if ok {
        session
            .verified_tags()
            .insert(&pair, std::sync::Arc::new(()));
    }
    ok
}

/// The tag of `hash` under the current key, as stored in the session and the remember-me cookie.
pub(crate) fn tag(keys: &KeySet, hash: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(keys.sign(Purpose::AuthHash, hash).as_ref())
}
