//! Session-bound CSRF tokens: a random seed kept in the session, its HMAC under the CSRF sub-key,
//! masked with fresh random bytes at every render.
//!
//! A token is `base64url(mask ‖ (tag ⊕ mask))`, 86 characters, where `tag` is
//! HMAC-SHA256(`Key::derived(CsrfToken)`, seed). The mask makes every render different (so a
//! compression side channel such as BREACH learns nothing from a page that repeats it); the tag
//! makes a token worthless without the server's key, even to someone who read the seed; the seed
//! ties it to one session and one login (a login and a logout drop it).

use ring::rand::{SecureRandom, SystemRandom};

use crate::b64;
use crate::key::{KeySet, Purpose};
use crate::login::CSRF_SEED;
use crate::{Error, SessionDict};

/// Bytes of the per-session seed.
const SEED_LEN: usize = 32;
/// Bytes of an HMAC-SHA256 tag, and of a mask.
const TAG_LEN: usize = 32;
/// Characters of a token: 64 bytes in unpadded base64url.
pub(crate) const TOKEN_CHARS: usize = 86;

/// A CSRF token for a form or a `fetch()` header, valid for this session until its next login or
/// logout (not for a fixed time).
///
/// The first call in a session creates the session's random seed, which the session then keeps:
/// the response sets the session cookie. Pages that render no token set no cookie for it. Every
/// call returns a different string (each is masked with new random bytes) and every one of them
/// verifies, so a page may render as many forms as it likes.
///
/// Put it in a hidden `csrf_token` field of each form (checked by
/// [`CsrfForm`](crate::CsrfForm) or [`verify_csrf_token`]) or send it from JavaScript in the
/// `X-CSRF-Token` header (checked by [`CsrfLayer`](crate::CsrfLayer)).
///
/// # Errors
///
/// [`Error::SessionTooLarge`] if the session has no seed yet and one more would not fit in a
/// cookie.
///
/// # Examples
///
/// ```
/// use tower_session_auth::{csrf_token, SessionDict};
///
/// fn form(session: &SessionDict) -> Result<String, tower_session_auth::Error> {
///     let token = csrf_token(session)?; // base64url: nothing to escape in HTML
///     Ok(format!(
///         r#"<form method="post" action="/logout">
///              <input type="hidden" name="csrf_token" value="{token}">
///              <button>Log out</button>
///            </form>"#
///     ))
/// }
/// ```
pub fn csrf_token(session: &SessionDict) -> Result<String, Error> {
    let seed = match seed(session) {
        Some(seed) => seed,
        None => {
            let seed: [u8; SEED_LEN] = random();
            session.insert_value(CSRF_SEED, b64::encode(b64::URL, seed).into())?;
            seed
        }
    };
    Ok(seal(session.key_set(), &seed, random()))
}

/// Whether `token` is a CSRF token of this session (from [`csrf_token`]), under the current key
/// or a fallback key. Compared in constant time; never creates a seed.
///
/// Use it where [`CsrfForm`](crate::CsrfForm) does not fit: a form parsed by other means, or a
/// token in a multipart body.
///
/// # Examples
///
/// ```
/// use tower_session_auth::{verify_csrf_token, SessionDict};
///
/// fn may_delete(session: &SessionDict, form_field: Option<&str>) -> bool {
///     form_field.is_some_and(|token| verify_csrf_token(session, token))
/// }
/// ```
#[must_use]
pub fn verify_csrf_token(session: &SessionDict, token: &str) -> bool {
    match seed(session) {
        Some(seed) => open(session.key_set(), &seed, token),
        None => false,
    }
}

/// The session's seed, if it has a well-formed one.
fn seed(session: &SessionDict) -> Option<[u8; SEED_LEN]> {
    let stored = session.get::<String>(CSRF_SEED).ok().flatten()?;
    let bytes = b64::decode(b64::URL, stored)?;
    bytes.try_into().ok()
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random number generator failed");
    bytes
}

/// The token of `seed` under the current key, masked with `mask`.
pub(crate) fn seal(keys: &KeySet, seed: &[u8], mask: [u8; TAG_LEN]) -> String {
    let tag = keys.sign(Purpose::CsrfToken, seed);
    let mut token = [0u8; 2 * TAG_LEN];
    token[..TAG_LEN].copy_from_slice(&mask);
    for (i, byte) in tag.as_ref().iter().enumerate() {
        token[TAG_LEN + i] = byte ^ mask[i];
    }
    b64::encode(b64::URL, token)
}

/// Whether `token` unmasks to the tag of `seed` under any of `keys` (`ring::hmac::verify`: constant
/// time). Anything that is not 86 base64url characters is refused before decoding.
pub(crate) fn open(keys: &KeySet, seed: &[u8], token: &str) -> bool {
    if token.len() != TOKEN_CHARS {
        return false;
    }
    let Some(bytes) = b64::decode(b64::URL, token) else {
        return false;
    };
    let Some((mask, masked)) = bytes.split_at_checked(TAG_LEN) else {
        return false;
    };
    if masked.len() != TAG_LEN {
        return false;
    }
    let tag: Vec<u8> = masked.iter().zip(mask).map(|(b, m)| b ^ m).collect();
    keys.verify(Purpose::CsrfToken, seed, &tag).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Key;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use proptest::prelude::*;

    fn keys(seed: u8) -> KeySet {
        let bytes: Vec<u8> = (0..32u8)
            .map(|i| i.wrapping_mul(7).wrapping_add(seed))
            .collect();
        KeySet::new(Key::from_bytes(&bytes).unwrap())
    }

    proptest! {
        #[test]
        fn csrf_05_every_mask_verifies_and_renders_differ(
            seed in any::<[u8; SEED_LEN]>(), a in any::<[u8; TAG_LEN]>(), b in any::<[u8; TAG_LEN]>()
        ) {
            let keys = keys(1);
            let (ta, tb) = (seal(&keys, &seed, a), seal(&keys, &seed, b));
            prop_assert_eq!(ta.len(), TOKEN_CHARS);
            prop_assert!(open(&keys, &seed, &ta));
            prop_assert!(open(&keys, &seed, &tb));
            prop_assert_eq!(ta == tb, a == b);
        }

        #[test]
        fn csrf_05_a_tampered_token_fails(
            seed in any::<[u8; SEED_LEN]>(), mask in any::<[u8; TAG_LEN]>(),
            index in 0..2 * TAG_LEN, bit in 0..8u8,
        ) {
            let keys = keys(1);
            let token = seal(&keys, &seed, mask);
            let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
            bytes[index] ^= 1 << bit;
            let tampered = URL_SAFE_NO_PAD.encode(&bytes);
            // Flipping a mask bit changes the unmasked tag too: only both flips together cancel.
            prop_assert!(!open(&keys, &seed, &tampered));
        }

        #[test]
        fn csrf_05_another_sessions_token_fails(
            seed in any::<[u8; SEED_LEN]>(), other in any::<[u8; SEED_LEN]>(),
            mask in any::<[u8; TAG_LEN]>(),
        ) {
            prop_assume!(seed != other);
            let keys = keys(1);
            prop_assert!(!open(&keys, &other, &seal(&keys, &seed, mask)));
        }

        #[test]
        fn csrf_06_fallback_keys_verify_and_other_keys_do_not(
            seed in any::<[u8; SEED_LEN]>(), mask in any::<[u8; TAG_LEN]>(),
        ) {
            let old = keys(1);
            let token = seal(&old, &seed, mask);
            let mut rotated = keys(2);
            prop_assert!(!open(&rotated, &seed, &token));
            rotated.set_fallbacks([old.current().clone()]);
            prop_assert!(open(&rotated, &seed, &token));
        }

        #[test]
        fn csrf_05_any_string_is_refused_without_panic(token in ".{0,100}", seed in any::<[u8; SEED_LEN]>()) {
            prop_assert!(!open(&keys(1), &seed, &token));
        }
    }

    #[test]
    fn csrf_05_the_tag_is_not_the_session_auth_hash_tag() {
        let keys = keys(1);
        let seed = [9u8; SEED_LEN];
        let auth_hash_tag = keys.sign(Purpose::AuthHash, &seed);
        let mut token = [0u8; 2 * TAG_LEN];
        token[TAG_LEN..].copy_from_slice(auth_hash_tag.as_ref());
        assert!(!open(&keys, &seed, &URL_SAFE_NO_PAD.encode(token)));
        assert!(open(&keys, &seed, &seal(&keys, &seed, [0; TAG_LEN])));
    }
}
