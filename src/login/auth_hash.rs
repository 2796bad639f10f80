//! Session auth hashes: a keyed tag of the user's credentials (such as the password hash) kept in
//! the session, so that changing them ends every session of the user (SECURITY.md SES-07).

use std::sync::Arc;

use serde_json::Value;

use super::{remember, AUTH_HASH, USER_ID};
use crate::b64;
use crate::cache::{allocation, constant_time_eq};
use crate::key::{KeySet, Purpose};
use crate::token::members::{arc_heap_bytes, Memo};
use crate::SessionDict;

/// Checks the session's stored auth-hash tag against the user's current hash, in constant time
/// (`ring::hmac::verify`).
///
/// A session without a tag matches only when the layer adopts untagged logins (those Microdot's
/// `login_user` writes); it is then tagged with `hash`, so that from now on it ends with the
/// user's other sessions. A tag made under a fallback key is made again under the current key,
/// in the session and in the remember-me cookie, so that retiring the old key logs nobody out.
pub(crate) fn matches(session: &SessionDict, hash: &[u8]) -> bool {
    // A tag and hash that verified under the current key need no second HMAC, nor even reading
    // the tag, while the browser sends the same cookie: remembered with the cached session (and
    // ignored once this request changed the tag). A new cookie (a write re-issues it) is
    // verified in full anyway, and pays one HMAC more for its tag.
    let verified = session.with_memo(Memo::AuthHash, &[AUTH_HASH], |m: &Vec<u8>| {
        constant_time_eq(m, hash)
    });
    if verified == Some(true) {
        return true;
    }
    // The stored tag is read where it lies in the session, not copied out of it.
    let keys = session.key_set();
    let verified = session.with_str(AUTH_HASH, |stored| {
        stored.map(|stored| verify(keys, stored, hash))
    });
    let Some(verified) = verified else {
        if session.adopts_untagged_logins() && !session.contains_key(AUTH_HASH) {
            tracing::info!("untagged login adopted: tagged with the user's auth hash");
            retag(session, hash);
            return true;
        }
        // No tag, or one that is not a string: not a login of this user.
        return false;
    };
    match verified {
        None => false,
        Some(0) => {
            let bytes = arc_heap_bytes::<Vec<u8>>() + allocation(hash.len());
            session.set_memo(
                Memo::AuthHash,
                &[AUTH_HASH],
                || Arc::new(hash.to_vec()),
                bytes,
            );
            true
        }
        Some(_) => {
            tracing::debug!("auth-hash tag made under a fallback key; tagged again");
            retag(session, hash);
            true
        }
    }
}

/// Which key `stored` is the tag of `hash` under, if any.
fn verify(keys: &KeySet, stored: &str, hash: &[u8]) -> Option<usize> {
    // A tag is an HMAC-SHA256: 32 bytes. What decodes to more is none, as it would not verify.
    let mut raw = [0; 32];
    let raw = b64::decode_into(b64::URL, stored.as_bytes(), &mut raw)?;
    keys.verify(Purpose::AuthHash, hash, raw)
}

/// Tags the session's login, and its remember-me cookie if that is still valid for the user, with
/// `hash` under the current key.
fn retag(session: &SessionDict, hash: &[u8]) {
    let tag = tag(session.key_set(), hash);
    // Only the tag changes, and it has a fixed length: a session that fitted still fits.
    if session
        .insert_value(AUTH_HASH, Value::String(tag.clone()))
        .is_err()
    {
        tracing::warn!("session too large to store a new auth-hash tag");
        return;
    }
    if let Some(user_id) = session.get::<Value>(USER_ID).ok().flatten() {
        let adopt = session.adopts_untagged_logins();
        remember::retag(session, &user_id, &tag, |old| match old {
            Some(old) => verify(session.key_set(), old, hash).is_some(),
            None => adopt,
        });
    }
}

/// The tag of `hash` under the current key, as stored in the session and the remember-me cookie.
pub(crate) fn tag(keys: &KeySet, hash: &[u8]) -> String {
    b64::encode(b64::URL, keys.sign(Purpose::AuthHash, hash).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Key;

    /// A tag verifies only as the 43 characters of its 32 bytes: decoded on the stack, anything
    /// longer, shorter or not base64url is no tag.
    #[test]
    fn a_tag_verifies_only_whole() {
        let (old, new) = (Key::generate(), Key::generate());
        let mut keys = KeySet::new(new);
        keys.set_fallbacks([old.clone()]);
        let good = tag(&keys, b"hash");
        assert_eq!(verify(&keys, &good, b"hash"), Some(0));
        assert_eq!(
            verify(&keys, &tag(&KeySet::new(old), b"hash"), b"hash"),
            Some(1)
        );
        assert_eq!(verify(&keys, &good, b"other hash"), None);
        let raw = b64::decode(b64::URL, &good).unwrap();
        let longer = b64::encode(b64::URL, [&raw[..], &[0]].concat());
        let shorter = b64::encode(b64::URL, &raw[..31]);
        for bad in [
            &longer[..],
            &shorter,
            &good[..42],
            "",
            "not a tag!",
            &format!("{good}="),
        ] {
            assert_eq!(verify(&keys, bad, b"hash"), None, "{bad:?}");
        }
    }
}
