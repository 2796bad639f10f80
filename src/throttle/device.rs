//! The known-device cookie: proof that this browser logged in to an account before.
//!
//! The value is `base64url(account ‖ issued ‖ device ‖ tag)`: the account's keyed hash (16
//! bytes, so the cookie does not show the username), the issue time (8 bytes, big-endian
//! seconds), a random device id (16 bytes) and an HMAC-SHA256 tag over the rest, under the
//! throttle's own sub-key of the secret. It is checked in constant time (`ring::hmac::verify`),
//! and only for the account being logged in to.

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::b64;
use crate::key::{Key, Purpose};

pub(crate) type Id = [u8; 16];

const PAYLOAD_LEN: usize = 16 + 8 + 16;
const TAG_LEN: usize = 32;
/// The length of an encoded cookie value: 72 bytes, a multiple of 3, in unpadded base64url.
const VALUE_LEN: usize = (PAYLOAD_LEN + TAG_LEN) / 3 * 4;
/// Domain separation within the throttle's sub-key.
const CONTEXT: &[u8] = b"known-device cookie\0";

fn tag(key: &Key, payload: &[u8]) -> hmac::Tag {
    let mut ctx = hmac::Context::with_key(key.derived(Purpose::LoginThrottle));
    ctx.update(CONTEXT);
    ctx.update(payload);
    ctx.sign()
}

/// A new device id, from the operating system's CSPRNG.
pub(crate) fn new_device_id() -> Id {
    let mut id = [0u8; 16];
    SystemRandom::new()
        .fill(&mut id)
        .expect("the operating system's random number generator failed");
    id
}

/// The cookie value for `device` logged in to `account` at `now`.
pub(crate) fn issue(key: &Key, account: &Id, device: &Id, now: u64) -> String {
    let mut bytes = Vec::with_capacity(PAYLOAD_LEN + TAG_LEN);
    bytes.extend_from_slice(account);
    bytes.extend_from_slice(&now.to_be_bytes());
    bytes.extend_from_slice(device);
    let tag = tag(key, &bytes);
    bytes.extend_from_slice(tag.as_ref());
    b64::encode(b64::URL, bytes)
}

/// The device id of `value` if it is a known-device cookie this key made for `account`, issued
/// no more than `lifetime` seconds before `now` (and not in the future beyond a minute of clock
/// skew).
pub(crate) fn verify(key: &Key, value: &str, account: &Id, now: u64, lifetime: u64) -> Option<Id> {
    if value.len() != VALUE_LEN {
        return None;
    }
    let bytes = b64::decode(b64::URL, value)?;
    let (payload, presented) = bytes.split_at_checked(PAYLOAD_LEN)?;
    let mut ctx = Vec::with_capacity(CONTEXT.len() + PAYLOAD_LEN);
    ctx.extend_from_slice(CONTEXT);
    ctx.extend_from_slice(payload);
    hmac::verify(key.derived(Purpose::LoginThrottle), &ctx, presented).ok()?;
    // Authentic from here on.
    if payload[..16] != account[..] {
        return None;
    }
    let issued = u64::from_be_bytes(payload[16..24].try_into().ok()?);
    if issued > now.saturating_add(60) || now.saturating_sub(issued) >= lifetime {
        return None;
    }
    payload[24..].try_into().ok()
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use proptest::prelude::*;

    use super::*;

    const T0: u64 = 1_700_000_000;
    const DAY: u64 = 86_400;

    fn key() -> Key {
        Key::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn thr_03_round_trip_for_its_account_only() {
        let (susan, david) = ([1u8; 16], [2u8; 16]);
        let device = new_device_id();
        let value = issue(&key(), &susan, &device, T0);
        assert_eq!(value.len(), VALUE_LEN);
        assert_eq!(verify(&key(), &value, &susan, T0, DAY), Some(device));
        assert_eq!(verify(&key(), &value, &david, T0, DAY), None);
        assert_eq!(verify(&Key::generate(), &value, &susan, T0, DAY), None);
        // Expiry at the boundary.
        assert!(verify(&key(), &value, &susan, T0 + DAY - 1, DAY).is_some());
        assert_eq!(verify(&key(), &value, &susan, T0 + DAY, DAY), None);
        // Issued in the future beyond the skew allowance.
        assert!(verify(&key(), &value, &susan, T0 - 60, DAY).is_some());
        assert_eq!(verify(&key(), &value, &susan, T0 - 61, DAY), None);
    }

    #[test]
    fn thr_03_the_tag_is_not_the_session_auth_hash_tag() {
        let account = [1u8; 16];
        let value = issue(&key(), &account, &[3; 16], T0);
        let bytes = URL_SAFE_NO_PAD.decode(&value).unwrap();
        let auth_hash_tag = hmac::sign(key().derived(Purpose::AuthHash), &bytes[..PAYLOAD_LEN]);
        assert_ne!(&bytes[PAYLOAD_LEN..], auth_hash_tag.as_ref());
    }

    proptest! {
        /// Any change to a cookie makes it worthless.
        #[test]
        fn thr_03_tampering_is_refused(index in 0usize..VALUE_LEN, byte in 0u8..128) {
            let account = [7u8; 16];
            let value = issue(&key(), &account, &[9; 16], T0);
            let mut tampered = value.clone().into_bytes();
            prop_assume!(tampered[index] != byte);
            tampered[index] = byte;
            let tampered = String::from_utf8_lossy(&tampered).into_owned();
            prop_assert_eq!(verify(&key(), &tampered, &account, T0, DAY), None);
        }

        /// Arbitrary input never panics and never verifies.
        #[test]
        fn thr_03_arbitrary_values_are_refused(value in ".{0,200}") {
            prop_assert_eq!(verify(&key(), &value, &[0; 16], T0, DAY), None);
        }
    }
}
