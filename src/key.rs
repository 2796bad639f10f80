//! The secret that signs session and remember-me cookies.

use std::fmt;
use std::sync::Arc;

use ring::rand::{SecureRandom, SystemRandom};
use ring::{aead, hkdf, hmac};

use crate::Error;

/// The shortest key accepted: the output size of SHA-256 (RFC 7518 §3.2).
pub(crate) const MIN_KEY_LEN: usize = 32;

/// A secret key for HMAC-SHA256, at least 32 bytes long.
///
/// The key is used as raw bytes, exactly as PyJWT uses a `str` key (its UTF-8 bytes), so a Rust
/// service and a Microdot service configured with the same secret read each other's cookies.
/// A passphrase is not a key: generate one with [`Key::generate`] and store it base64-encoded in
/// your secret store, then decode it yourself before calling [`Key::from_bytes`].
///
/// `Key` is cheap to clone. Its `Debug` output never shows the bytes.
///
/// # Examples
///
/// ```
/// use tower_session_auth::Key;
///
/// let key = Key::generate();
/// assert_eq!(format!("{key:?}"), "Key([redacted])");
///
/// assert!(Key::from_bytes(b"too short").is_err());
///
/// // In production: random bytes from your secret store, such as a generated key's bytes.
/// let stored: Vec<u8> = key.as_bytes().to_vec();
/// let key = Key::from_bytes(&stored)?;
/// # Ok::<(), tower_session_auth::Error>(())
/// ```
#[derive(Clone)]
pub struct Key(Arc<KeyInner>);

struct KeyInner {
    bytes: Box<[u8]>,
    /// The raw bytes as an HMAC-SHA256 key: what signs session and remember-me cookies, as
    /// PyJWT uses a key.
    hmac: hmac::Key,
    /// One HKDF-derived HMAC key per [`Purpose`], in its order (SECURITY.md KEY-03).
    purposes: [hmac::Key; Purpose::ALL.len()],
    /// HKDF-derived AES-256-GCM key for private cookies (SECURITY.md KEY-03, AEAD-01).
    aead: aead::LessSafeKey,
}

/// What a derived HMAC sub-key is for. Each purpose has its own HKDF label, so a tag made for one
/// purpose never verifies for another; a new purpose is one variant and one label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Tags of users' session auth hashes, stored in the session and the remember-me cookie.
    AuthHash,
    /// The ids a session registry derives: the successor of a used remember-me token, and the
    /// session it restores, the same for every request that presents the token.
    Registry,
    /// Tags of a session's CSRF seed: the unmasked value of every CSRF token of that session.
    CsrfToken,
    /// The login throttle: tags of known-device cookies, and the keyed hashes of accounts and
    /// client addresses that name its counters (each use with its own prefix in the data).
    LoginThrottle,
}

impl Purpose {
    /// Every purpose, in the order of `KeyInner::purposes`.
    const ALL: [Purpose; 4] = [
        Purpose::AuthHash,
        Purpose::Registry,
        Purpose::CsrfToken,
        Purpose::LoginThrottle,
    ];

    /// The HKDF `info` label. Changing one invalidates every tag made for that purpose.
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::AuthHash => b"tower-session-auth v1 session-auth-hash HMAC-SHA256",
            Purpose::Registry => b"tower-session-auth v1 registry-ids HMAC-SHA256",
            Purpose::CsrfToken => b"tower-session-auth v1 csrf-token HMAC-SHA256",
            Purpose::LoginThrottle => b"tower-session-auth v1 login-throttle HMAC-SHA256",
        }
    }
}

/// The HKDF `info` label of the private-cookie key.
const AEAD_INFO: &[u8] = b"tower-session-auth v1 private-cookie AES-256-GCM";

impl Key {
    /// Uses `bytes` as the key.
    ///
    /// # Errors
    ///
    /// [`Error::WeakKey`] when `bytes` is shorter than 32 bytes, or when all its bytes are equal
    /// (such as 32 zero bytes, a placeholder rather than a secret).
    pub fn from_bytes(bytes: &[u8]) -> Result<Key, Error> {
        let degenerate = bytes.windows(2).all(|w| w[0] == w[1]);
        if bytes.len() < MIN_KEY_LEN || degenerate {
            return Err(Error::WeakKey { len: bytes.len() });
        }
        Ok(Key(Arc::new(KeyInner {
            bytes: bytes.into(),
            hmac: hmac::Key::new(hmac::HMAC_SHA256, bytes),
            purposes: Purpose::ALL.map(|purpose| derive(bytes, purpose.label())),
            aead: derive_aead(bytes),
        })))
    }

    /// A new random 64-byte key from the operating system's CSPRNG.
    ///
    /// # Panics
    ///
    /// If the operating system has no random source, which `ring` reports as an error; there is
    /// no safe way to go on without one.
    #[must_use]
    pub fn generate() -> Key {
        let mut bytes = [0u8; 64];
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the operating system's random number generator failed");
        Key::from_bytes(&bytes).expect("64 random bytes are a valid key")
    }

    /// The raw key bytes, for storing a generated key. Handle them as a secret.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0.bytes
    }

    /// The key that signs cookies: the raw bytes, as PyJWT uses them.
    pub(crate) fn hmac(&self) -> &hmac::Key {
        &self.0.hmac
    }

    /// The sub-key that seals private cookies.
    pub(crate) fn aead(&self) -> &aead::LessSafeKey {
        &self.0.aead
    }

    /// The HMAC sub-key derived for `purpose`.
    pub(crate) fn derived(&self, purpose: Purpose) -> &hmac::Key {
        &self.0.purposes[purpose as usize]
    }
}

/// The keys a layer holds: the current key, which signs, then the fallback keys, which only
/// verify (SECURITY.md ROT-01).
#[derive(Clone, Debug)]
pub(crate) struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    pub(crate) fn new(current: Key) -> KeySet {
        KeySet {
            keys: vec![current],
        }
    }

    /// Replaces the fallback keys.
    pub(crate) fn set_fallbacks(&mut self, fallbacks: impl IntoIterator<Item = Key>) {
        self.keys.truncate(1);
        self.keys.extend(fallbacks);
    }

    /// The key every new cookie and tag is made with.
    pub(crate) fn current(&self) -> &Key {
        &self.keys[0]
    }

    /// Every key, the current one first: what a cookie or tag may verify under.
    pub(crate) fn all(&self) -> &[Key] {
        &self.keys
    }

    /// An HMAC tag of `data` for `purpose`, under the current key.
    pub(crate) fn sign(&self, purpose: Purpose, data: &[u8]) -> hmac::Tag {
        hmac::sign(self.current().derived(purpose), data)
    }

    /// Which key `tag` is the `purpose` tag of `data` under (0: the current key), compared in
    /// constant time (`ring::hmac::verify`); `None` for none.
    pub(crate) fn verify(&self, purpose: Purpose, data: &[u8], tag: &[u8]) -> Option<usize> {
        self.keys
            .iter()
            .position(|key| hmac::verify(key.derived(purpose), data, tag).is_ok())
    }
}

fn derive_aead(ikm: &[u8]) -> aead::LessSafeKey {
    let info = [AEAD_INFO];
    let key: aead::UnboundKey = hkdf::Salt::new(hkdf::HKDF_SHA256, b"")
        .extract(ikm)
        .expand(&info, &aead::AES_256_GCM)
        .expect("32 bytes is a valid HKDF-SHA256 output length")
        .into();
    aead::LessSafeKey::new(key)
}

fn derive(ikm: &[u8], info: &'static [u8]) -> hmac::Key {
    let info = [info];
    hkdf::Salt::new(hkdf::HKDF_SHA256, b"")
        .extract(ikm)
        .expand(&info, hmac::HMAC_SHA256)
        .expect("32 bytes is a valid HKDF-SHA256 output length")
        .into()
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_01_refuses_keys_shorter_than_32_bytes() {
        assert!(matches!(
            Key::from_bytes(
                &[7u8; 31][..]
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ i as u8)
                    .collect::<Vec<_>>()
            ),
            Err(Error::WeakKey { len: 31 })
        ));
        assert!(Key::from_bytes(b"secret").is_err());
        assert!(Key::from_bytes(b"your-256-bit-secret").is_err());
        assert!(Key::from_bytes(b"0123456789abcdef0123456789abcdef").is_ok());
    }

    #[test]
    fn key_06_refuses_degenerate_keys() {
        assert!(Key::from_bytes(&[0u8; 32]).is_err());
        assert!(Key::from_bytes(&[b'a'; 64]).is_err());
    }

    #[test]
    fn key_04_generate_is_random_and_long() {
        let (a, b) = (Key::generate(), Key::generate());
        assert_eq!(a.as_bytes().len(), 64);
        assert_ne!(a.as_bytes(), b.as_bytes());
    }

    #[test]
    fn key_03_sub_keys_differ_by_purpose() {
        let key = Key::generate();
        let tag = hmac::sign(key.hmac(), b"x");
        assert!(hmac::verify(key.hmac(), b"x", tag.as_ref()).is_ok());
        for purpose in Purpose::ALL {
            assert!(hmac::verify(key.derived(purpose), b"x", tag.as_ref()).is_err());
            let own = hmac::sign(key.derived(purpose), b"x");
            for other in Purpose::ALL.into_iter().filter(|&o| o != purpose) {
                assert!(hmac::verify(key.derived(other), b"x", own.as_ref()).is_err());
            }
        }
    }

    #[test]
    fn key_05_debug_is_redacted() {
        let key = Key::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap();
        let shown = format!("{key:?} {key:#?}");
        assert!(!shown.contains("0123"), "{shown}");
        assert!(shown.contains("redacted"));
    }
}
