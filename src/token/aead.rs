//! Private (encrypted) session cookies: AES-256-GCM from `ring`, for sessions whose contents the
//! browser must not read. Not Microdot's format; the signed JWS stays the default.
//!
//! A value is `base64url(nonce ‖ ciphertext ‖ tag)` with a fresh random 96-bit nonce per seal and
//! associated data `[FORMAT_VERSION] ‖ cookie name`, so a value cannot be moved to another cookie
//! or read by another format version (SECURITY.md AEAD-01 to AEAD-05). The key is derived from
//! the session key by HKDF with its own label (KEY-03).
//!
//! With random nonces, rotate the key long before 2^32 seals (NIST SP 800-38D §8.3). Plaintexts
//! are not compressed before sealing (RFC 8725 §3.6).

use ring::aead::{Aad, Nonce, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

use super::{Rejection, MAX_TOKEN_LEN};
use crate::b64;
use crate::Key;

/// Bumped whenever the plaintext layout changes; part of the associated data.
const FORMAT_VERSION: u8 = 1;
const TAG_LEN: usize = 16;

/// The length of a sealed value for a plaintext of `len` bytes.
pub(crate) fn encoded_len(len: usize) -> usize {
    ((NONCE_LEN + len + TAG_LEN) * 4).div_ceil(3)
}

/// Encrypts `plaintext` for the cookie `name` with a random nonce.
pub(crate) fn seal(plaintext: &[u8], key: &Key, name: &str) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    // The OS generator only fails when there is none, in which case `Key::generate` could not
    // have run either; a zero nonce would then repeat, so refuse to seal instead.
    if SystemRandom::new().fill(&mut nonce).is_err() {
        tracing::error!("no random nonce available; private cookie not written");
        return String::new();
    }
    seal_with_nonce(plaintext, key, name, nonce)
}

pub(crate) fn seal_with_nonce(
    plaintext: &[u8],
    key: &Key,
    name: &str,
    nonce: [u8; NONCE_LEN],
) -> String {
    let mut buf = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    buf.extend_from_slice(&nonce);
    buf.extend_from_slice(plaintext);
    let tag = key
        .aead()
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(name)),
            &mut buf[NONCE_LEN..],
        )
        .expect("plaintexts under 4 KiB are far below AES-GCM's limit");
    buf.extend_from_slice(tag.as_ref());
    b64::encode(b64::URL, buf)
}

/// Decrypts a value of the cookie `name`, trying each key in turn; the plaintext and the index of
/// the key that opened it. Checks come first: length, canonical base64url, room for a nonce and
/// a tag. On a tag failure nothing of the buffer is returned (AEAD-03).
pub(crate) fn open(token: &str, keys: &[Key], name: &str) -> Result<(Vec<u8>, usize), Rejection> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Rejection::TooLong);
    }
    let sealed = b64::decode(b64::URL, token).ok_or(Rejection::Malformed)?;
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(Rejection::Malformed);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let aad = aad(name);
    for (index, key) in keys.iter().enumerate() {
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Rejection::Malformed)?;
        let mut buf = ciphertext.to_vec();
        if let Ok(plaintext) = key
            .aead()
            .open_in_place(nonce, Aad::from(aad.as_slice()), &mut buf)
        {
            let len = plaintext.len();
            buf.truncate(len);
            return Ok((buf, index));
        }
    }
    Err(Rejection::BadSignature)
}

fn aad(name: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(1 + name.len());
    aad.push(FORMAT_VERSION);
    aad.extend_from_slice(name.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use ring::aead::{LessSafeKey, UnboundKey, AES_256_GCM};

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn aead_01_known_answers_of_the_primitive() {
        // McGrew-Viega test cases 13 and 14: AES-256-GCM, zero key and nonce, no AAD.
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[0u8; 32]).unwrap());
        let nonce = || Nonce::assume_unique_for_key([0u8; 12]);
        let tag = key
            .seal_in_place_separate_tag(nonce(), Aad::empty(), &mut [])
            .unwrap();
        assert_eq!(tag.as_ref(), unhex("530f8afbc74536b9a963b4f1c4cb738b"));
        let mut block = [0u8; 16];
        let tag = key
            .seal_in_place_separate_tag(nonce(), Aad::empty(), &mut block)
            .unwrap();
        assert_eq!(block.to_vec(), unhex("cea7403d4d606b6e074ec5d3baf39d18"));
        assert_eq!(tag.as_ref(), unhex("d0d1c8a799996bf0265b98b5d48ab919"));
    }

    #[test]
    fn aead_01_fresh_nonce_per_seal() {
        let key = Key::generate();
        let (a, b) = (seal(b"{}", &key, "session"), seal(b"{}", &key, "session"));
        assert_ne!(a, b);
        assert_eq!(
            open(&a, std::slice::from_ref(&key), "session").unwrap().0,
            b"{}"
        );
        assert_eq!(
            open(&b, std::slice::from_ref(&key), "session").unwrap().0,
            b"{}"
        );
        assert_eq!(a.len(), encoded_len(2));
    }

    #[test]
    fn aead_02_bound_to_the_cookie_name() {
        let key = Key::generate();
        let sealed = seal(br#"{"user":"alice"}"#, &key, "session");
        assert_eq!(
            open(&sealed, std::slice::from_ref(&key), "other"),
            Err(Rejection::BadSignature)
        );
        assert!(open(&sealed, &[key], "session").is_ok());
    }

    #[test]
    fn aead_03_04_tampering_and_bad_input_fail() {
        let key = Key::generate();
        let keys = [key.clone()];
        let sealed = seal(br#"{"user":"alice"}"#, &key, "session");
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            let tampered = URL_SAFE_NO_PAD.encode(&bytes);
            assert_eq!(
                open(&tampered, &keys, "session"),
                Err(Rejection::BadSignature),
                "byte {i}"
            );
            bytes[i] ^= 1;
        }
        for bad in [
            "",
            "AAAA",
            "!!!!",
            &format!("{sealed}="),
            &"A".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert!(open(bad, &keys, "session").is_err(), "{bad:.20}");
        }
        assert_eq!(
            open(&sealed, &[Key::generate()], "session"),
            Err(Rejection::BadSignature)
        );
    }

    /// Regression from `fuzz_private_open` (a 3765-byte input): a value sealed from a plaintext
    /// too large for a cookie is refused before decoding; the session layer never writes one.
    #[test]
    fn jwt_11_oversize_sealed_values_are_refused() {
        let key = Key::generate();
        let fits = vec![b'W'; 3000];
        let sealed = seal(&fits, &key, "session");
        assert!(sealed.len() <= MAX_TOKEN_LEN);
        assert_eq!(
            open(&sealed, std::slice::from_ref(&key), "session")
                .unwrap()
                .0,
            fits
        );
        let sealed = seal(&[b'W'; 3765], &key, "session");
        assert!(sealed.len() > MAX_TOKEN_LEN);
        assert_eq!(open(&sealed, &[key], "session"), Err(Rejection::TooLong));
    }

    #[test]
    fn key_03_private_key_is_not_the_signing_key() {
        // A value sealed under a key made from the raw secret bytes does not open.
        let key = Key::generate();
        let raw = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key.as_bytes()[..32]).unwrap());
        let mut body = br#"{"a":1}"#.to_vec();
        let nonce = [7u8; 12];
        let tag = raw
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad("session")),
                &mut body,
            )
            .unwrap();
        let mut value = nonce.to_vec();
        value.extend_from_slice(&body);
        value.extend_from_slice(tag.as_ref());
        assert_eq!(
            open(&URL_SAFE_NO_PAD.encode(value), &[key], "session"),
            Err(Rejection::BadSignature)
        );
    }
}
