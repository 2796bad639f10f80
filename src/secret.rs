//! Comparing secrets without leaking where they differ.

use std::sync::OnceLock;

use ring::hmac;
use ring::rand::SystemRandom;

use crate::b64;

/// Whether `a` and `b` are equal, in time that depends on neither's contents.
///
/// For verifiers of API tokens and other secrets: never compare them with `==`, which stops at the
/// first differing byte and so tells an attacker, by its timing, how much of a guess was right.
/// Both sides are MACed with a random per-process key and the tags compared with
/// `ring::hmac::verify`, which is constant-time; the lengths are hidden too.
///
/// Store tokens hashed (a high-entropy token needs only SHA-256), hash what the client sent,
/// and compare the hashes. For passwords use a password hash (argon2, or `ring::pbkdf2::verify`),
/// not this.
///
/// # Examples
///
/// ```
/// use ring::digest::{digest, SHA256};
/// use tower_session_auth::secrets_equal;
///
/// // SHA-256 of "susan-api-token", as stored in the user database.
/// let stored = digest(&SHA256, b"susan-api-token");
/// let presented = "susan-api-token";
/// assert!(secrets_equal(stored.as_ref(), digest(&SHA256, presented.as_bytes()).as_ref()));
/// assert!(!secrets_equal(stored.as_ref(), digest(&SHA256, b"guess").as_ref()));
/// ```
#[must_use]
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    static KEY: OnceLock<hmac::Key> = OnceLock::new();
    let key = KEY.get_or_init(|| {
        hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .expect("the operating system's random number generator failed")
    });
    hmac::verify(key, b, hmac::sign(key, a).as_ref()).is_ok()
}

/// A random 128-bit id, base64url: a login's session id, a session store's record id.
pub(crate) fn random_id() -> String {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut id = [0u8; 16];
    // Without an OS random source no key could have been generated either; an all-zero id then
    // only loses the id's uniqueness, not any cookie's integrity.
    let _ = SystemRandom::new().fill(&mut id);
    b64::encode(b64::URL, id)
}

/// `bytes` in lowercase hexadecimal: the ids of registry entries, store records and throttle
/// counters (one table lookup a nibble; `format!` a byte cost a request thousands of
/// instructions).
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(super::hex(&[]), "");
    }

    use super::*;

    #[test]
    fn compares_contents_and_lengths() {
        assert!(secrets_equal(b"abc", b"abc"));
        assert!(secrets_equal(b"", b""));
        assert!(!secrets_equal(b"abc", b"abd"));
        assert!(!secrets_equal(b"abc", b"abcd"));
        assert!(!secrets_equal(b"abc", b""));
    }
}
