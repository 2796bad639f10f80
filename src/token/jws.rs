//! The signed token format of session and remember-me cookies: a compact JWS signed with HS256, byte for byte what PyJWT (and so
//! Microdot) writes.
//!
//! Decoding is strict and ordered so that nothing an attacker sends reaches a JSON parser before
//! its MAC has verified (SECURITY.md JWT-03): length, shape and base64 of the signature first, then
//! `ring::hmac::verify` (constant time) over the exact bytes received, then the header (whose `alg`
//! must be exactly `HS256`), then the payload.

use ring::hmac;
use serde_json::{Map, Value};

use super::{Rejection, MAX_TOKEN_LEN};
use crate::b64;
use crate::Key;

/// `{"alg":"HS256","typ":"JWT"}`, the header PyJWT writes, base64url-encoded.
const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// An HMAC-SHA256 tag is 32 bytes: 43 base64url characters without padding.
const SIG_B64_LEN: usize = 43;

/// Header members that would choose or fetch a key, or demand extensions we do not implement
/// (RFC 7515 §4.1.11, RFC 8725 §3.10). The crate never writes them; a token carrying one is not ours.
const FORBIDDEN_HEADER_MEMBERS: [&str; 5] = ["crit", "jku", "jwk", "x5u", "x5c"];

/// A token whose MAC and header have been checked.
pub(crate) struct Verified<'t> {
    /// Which key verified it: 0 is the current key, anything else a fallback.
    pub(crate) key_index: usize,
    payload_b64: &'t str,
}

impl std::fmt::Debug for Verified<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the payload: it is the session.
        f.debug_struct("Verified")
            .field("key_index", &self.key_index)
            .finish_non_exhaustive()
    }
}

/// Checks the shape, the MAC (under each key in turn) and the header of `token`.
pub(crate) fn verify<'t>(token: &'t str, keys: &[Key]) -> Result<Verified<'t>, Rejection> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Rejection::TooLong);
    }
    // The signature is the last 43 characters, after a dot: found by its length, not by a scan
    // of the token from its end (a dot among them fails to decode below).
    let sig_at = token
        .len()
        .checked_sub(SIG_B64_LEN + 1)
        .filter(|&at| token.as_bytes()[at] == b'.')
        .ok_or(Rejection::Malformed)?;
    let (signed, sig_b64) = (&token[..sig_at], &token[sig_at + 1..]);
    // The header's dot, then none in the payload: vector searches (`str`'s go a word at a time).
    let header_end = memchr::memchr(b'.', signed.as_bytes()).ok_or(Rejection::Malformed)?;
    let (header_b64, payload_b64) = (&signed[..header_end], &signed[header_end + 1..]);
    if memchr::memchr(b'.', payload_b64.as_bytes()).is_some() {
        return Err(Rejection::Malformed);
    }
    // 43 characters decode to 32 bytes, when they are canonical base64url.
    let mut sig = [0u8; 32];
    if b64::decode_into(b64::URL, sig_b64.as_bytes(), &mut sig).map(<[u8]>::len) != Some(32) {
        return Err(Rejection::Malformed);
    }
    let key_index = keys
        .iter()
        .position(|key| hmac::verify(key.hmac(), signed.as_bytes(), &sig).is_ok())
        .ok_or(Rejection::BadSignature)?;
    if header_b64 != HEADER_B64 {
        check_header(header_b64)?;
    }
    Ok(Verified {
        key_index,
        payload_b64,
    })
}

fn check_header(header_b64: &str) -> Result<(), Rejection> {
    let bytes = b64::decode(b64::URL, header_b64).ok_or(Rejection::BadHeader)?;
    // `serde_json` keeps the last of duplicate members, so `{"alg":"HS256","alg":"none"}` has
    // `alg` = "none" here and is refused (SECURITY.md JWT-05).
    let header: Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|_| Rejection::BadHeader)?;
    let alg_ok = header.get("alg").and_then(Value::as_str) == Some("HS256");
    let forbidden = FORBIDDEN_HEADER_MEMBERS
        .iter()
        .any(|m| header.contains_key(*m));
    if alg_ok && !forbidden {
        Ok(())
    } else {
        Err(Rejection::BadHeader)
    }
}

impl Verified<'_> {
    /// Decodes the payload, which must be a JSON object.
    pub(crate) fn payload(&self) -> Result<Map<String, Value>, Rejection> {
        self.with_payload(|json| serde_json::from_slice(json).map_err(|_| Rejection::BadPayload))
    }

    /// `prefix`, then the payload's base64 decoded, as a string the caller keeps; `None` when
    /// the payload is not base64 or not UTF-8. Only the payload is checked for UTF-8: `prefix` is
    /// a `str` already (the token, hundreds of bytes that a check of the whole would read again).
    pub(crate) fn payload_text_after(&self, prefix: &str) -> Option<String> {
        self.with_payload(|json| {
            let json = std::str::from_utf8(json).map_err(|_| Rejection::BadPayload)?;
            let mut text = String::with_capacity(prefix.len() + json.len());
            text.push_str(prefix);
            text.push_str(json);
            Ok(text)
        })
        .ok()
    }

    /// Decodes the payload's base64 (into a buffer on the stack when it is small: most sessions
    /// are) and hands the bytes to `parse`.
    pub(crate) fn with_payload<T>(
        &self,
        parse: impl FnOnce(&[u8]) -> Result<T, Rejection>,
    ) -> Result<T, Rejection> {
        /// Payloads up to this many bytes are decoded on the stack. A larger buffer would cost
        /// more to zero than the allocation it saves.
        const ON_STACK: usize = 384;
        let text = self.payload_b64.as_bytes();
        // Four characters carry three bytes.
        if text.len() <= ON_STACK / 3 * 4 {
            let mut buf = [0u8; ON_STACK];
            parse(b64::decode_into(b64::URL, text, &mut buf).ok_or(Rejection::Malformed)?)
        } else {
            parse(&b64::decode(b64::URL, text).ok_or(Rejection::Malformed)?)
        }
    }
}

/// The length of the token that [`encode`] writes for a payload of `json_len` bytes.
pub(crate) fn encoded_len(json_len: usize) -> usize {
    HEADER_B64.len() + 1 + (json_len * 4).div_ceil(3) + 1 + SIG_B64_LEN
}

/// Signs `json` (a serialised JSON object) with `key`: the compact JWS.
pub(crate) fn encode_json(json: &[u8], key: &Key) -> String {
    // Appended to a buffer of the exact length: nothing zeroed first, nothing checked for UTF-8
    // after (base64 appends ASCII to a `String`), nor grown on the way.
    let mut out = String::with_capacity(encoded_len(json.len()));
    out.push_str(HEADER_B64);
    out.push('.');
    b64::encode_append(b64::URL, json, &mut out);
    let tag = hmac::sign(key.hmac(), out.as_bytes());
    out.push('.');
    b64::encode_append(b64::URL, tag.as_ref(), &mut out);
    out
}

/// Signs a JSON object with `key`.
pub(crate) fn encode(map: &Map<String, Value>, key: &Key) -> String {
    // Serialising a `Map<String, Value>` into memory cannot fail: keys are strings and `Value`
    // holds no non-finite floats.
    let json = serde_json::to_vec(map).unwrap_or_else(|_| b"{}".to_vec());
    encode_json(&json, key)
}

/// RFC 7515 A.1's 64-byte key, for tests and the fuzz targets' seeds.
#[cfg(any(test, fuzzing))]
pub(crate) fn rfc7515_a1_key() -> Key {
    let hex = "0323354b2b0fa5bc837e0665777ba68f5ab328e6f054c928a90f84b2d2502ebf\
               d3fb5a92d20647ef968ab4c377623d223d2e2172052e4f08c0cd9af567d080a3";
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    Key::from_bytes(&bytes).expect("a 64-byte key")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::token::claims::check_time_claims;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    fn a1_key() -> Key {
        rfc7515_a1_key()
    }

    const A1_HEADER: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9";
    const A1_PAYLOAD: &str = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    const A1_SIG: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const A1_EXP: u64 = 1_300_819_380;

    fn a1_token() -> String {
        format!("{A1_HEADER}.{A1_PAYLOAD}.{A1_SIG}")
    }

    /// Signs arbitrary header and payload JSON, as an attacker holding the key could.
    pub(crate) fn sign_raw(header: &str, payload: &str, key: &Key) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let tag = hmac::sign(key.hmac(), signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    fn decode_at(token: &str, key: &Key, now: u64) -> Result<Map<String, Value>, Rejection> {
        let map = verify(token, std::slice::from_ref(key))?.payload()?;
        check_time_claims(&map, now, 0)?;
        Ok(map)
    }

    #[test]
    fn jwt_02_rfc7515_a1_verifies_over_the_received_bytes() {
        let map = decode_at(&a1_token(), &a1_key(), A1_EXP - 1).unwrap();
        assert_eq!(map["iss"], "joe");
        assert_eq!(map["http://example.com/is_root"], true);
    }

    #[test]
    fn jwt_07_rfc7515_a1_expires_at_its_exp() {
        assert_eq!(
            decode_at(&a1_token(), &a1_key(), A1_EXP),
            Err(Rejection::Expired)
        );
    }

    #[test]
    fn encoder_writes_pyjwt_header_bytes() {
        let payload = URL_SAFE_NO_PAD.decode(A1_PAYLOAD).unwrap();
        let out = encode_json(&payload, &a1_key());
        assert_eq!(
            out,
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.SfgggA-oZk7ztlq1i8Uz5VhmPmustakoDa9wAf8uHyQ"
        );
        assert_eq!(out.len(), encoded_len(payload.len()));
        // Written into the buffer it began with: `with_capacity` gives exactly the capacity
        // asked for (`Vec`'s documented guarantee), so a growth would show as a larger one.
        assert_eq!(out.capacity(), out.len());
    }

    #[test]
    fn round_trip() {
        let key = Key::generate();
        let map: Map<String, Value> =
            serde_json::from_str(r#"{"a":1,"b":"ünïcode ✓","c":{"d":[1.5,null,true]},"e":-7}"#)
                .unwrap();
        let token = encode(&map, &key);
        assert_eq!(decode_at(&token, &key, 0).unwrap(), map);
    }

    #[test]
    fn jwt_01_rejects_alg_none_variants() {
        let key = a1_key();
        let rfc7515_a5 = format!("eyJhbGciOiJub25lIn0.{A1_PAYLOAD}.");
        assert_eq!(decode_at(&rfc7515_a5, &key, 0), Err(Rejection::Malformed));
        for alg in [
            "none", "None", "NONE", "nOnE", "hs256", "HS384", "HS512", "RS256",
        ] {
            // Even with a valid HS256 MAC, another alg is refused.
            let token = sign_raw(&format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#), "{}", &key);
            assert_eq!(
                decode_at(&token, &key, 0),
                Err(Rejection::BadHeader),
                "{alg}"
            );
            let unsigned = format!("{}.", token.rsplit_once('.').unwrap().0);
            assert!(decode_at(&unsigned, &key, 0).is_err(), "{alg}");
        }
        let no_alg = sign_raw(r#"{"typ":"JWT"}"#, "{}", &key);
        assert_eq!(decode_at(&no_alg, &key, 0), Err(Rejection::BadHeader));
    }

    #[test]
    fn jwt_01_security_md_vectors_are_rejected() {
        let key = a1_key();
        // Copied from SECURITY.md §3.4 (signed with the A.1 key).
        for (case, token) in [
            ("alg=none + valid MAC", format!("eyJhbGciOiJub25lIn0.{A1_PAYLOAD}.wvrN2g_SnT1WBam-TTQvWhm4oW2pGWy29HrdgyFel4g")),
            ("RS256 header", format!("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.{A1_PAYLOAD}.xHvM7NlF7GQO6s_lC5_i3yO_OuGoIHAHceGBEZyh9s8")),
            ("no alg", format!("eyJ0eXAiOiJKV1QifQ.{A1_PAYLOAD}.jqwdn9iU4Ql-sNmg5_BaRRbcqfDVGkkdX1Fb3ssHAPA")),
            ("hs256", format!("eyJhbGciOiJoczI1NiIsInR5cCI6IkpXVCJ9.{A1_PAYLOAD}.85UEaoEvC5XIVBZ3noThmB7CqPo99yqIRKJcVD3LWTE")),
            ("duplicate alg", format!("eyJhbGciOiJIUzI1NiIsImFsZyI6Im5vbmUifQ.{A1_PAYLOAD}.QtLkiP7pIA4_7eHqACknyU-jWFc4J6Y7OrxBnRcUZFo")),
            ("crit", format!("eyJhbGciOiJIUzI1NiIsImNyaXQiOlsieC11bmtub3duIl0sIngtdW5rbm93biI6MX0.{A1_PAYLOAD}.NGcZROgSQY8H13pExH_LQxS20RS6i4-DzdWIxkKWhG0")),
            ("embedded jwk", format!("eyJhbGciOiJIUzI1NiIsImp3ayI6eyJrdHkiOiJvY3QiLCJrIjoiQUFBQSJ9fQ.{A1_PAYLOAD}.Ub0vbSg4ylnlrMYTK--_-JzmQx6hsnE7Ke9nCFuVDUY")),
        ] {
            assert_eq!(decode_at(&token, &key, 0), Err(Rejection::BadHeader), "{case}");
        }
    }

    #[test]
    fn jwt_04_strict_compact_serialisation() {
        let key = a1_key();
        let a1 = a1_token();
        let signed = format!("{A1_HEADER}.{A1_PAYLOAD}");
        for (case, token, why) in [
            ("empty sig", format!("{signed}."), Rejection::Malformed),
            ("truncated sig", format!("{signed}.dBjftJeZ4CVP-mB92K27ug"), Rejection::Malformed),
            ("sig with =", format!("{signed}.{A1_SIG}="), Rejection::Malformed),
            ("std alphabet", format!("{signed}.dBjftJeZ4CVP+mB92K27uhbUJU1p1r/wW1gFWFOEjXk"), Rejection::Malformed),
            ("non-canonical last char", format!("{signed}.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl"), Rejection::Malformed),
            ("4 segments", format!("{a1}.x"), Rejection::Malformed),
            ("4 segments, the last of 43", format!("{a1}.{A1_SIG}"), Rejection::Malformed),
            ("a dot in the sig", format!("{signed}.dBjftJeZ4CVP-mB92K27uhb.U1p1r_wW1gFWFOEjXk"), Rejection::Malformed),
            ("a sig of 44", format!("{signed}.{A1_SIG}A"), Rejection::Malformed),
            ("non-ASCII in the sig", format!("{signed}.{}x", "é".repeat(21)), Rejection::Malformed),
            ("44 bytes, a dot first", format!(".{A1_SIG}"), Rejection::Malformed),
            ("43 bytes", A1_SIG.to_owned(), Rejection::Malformed),
            ("2 segments", signed.clone(), Rejection::Malformed),
            ("leading space", format!(" {a1}"), Rejection::BadSignature),
            ("tampered payload", format!("{A1_HEADER}.eyJpc3MiOiJqc2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.{A1_SIG}"), Rejection::BadSignature),
            ("too long", format!("{A1_HEADER}.{}.{A1_SIG}", "A".repeat(MAX_TOKEN_LEN)), Rejection::TooLong),
            ("empty", String::new(), Rejection::Malformed),
        ] {
            assert_eq!(decode_at(&token, &key, A1_EXP - 1), Err(why), "{case}");
        }
    }

    #[test]
    fn key_02_text_of_the_jwk_is_not_the_key() {
        let token = format!("{A1_HEADER}.{A1_PAYLOAD}.ZekyXWlxvuCN9H8cuDrZfaRa3pMJhHpv6QKFdUqXbLc");
        assert_eq!(
            decode_at(&token, &a1_key(), A1_EXP - 1),
            Err(Rejection::BadSignature)
        );
        // ... and it does verify under the text, so the vector itself is right.
        let text = Key::from_bytes(
            b"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
        )
        .unwrap();
        assert!(decode_at(&token, &text, A1_EXP - 1).is_ok());
    }

    #[test]
    fn jwt_03_payload_is_parsed_only_after_the_mac_verifies() {
        let key = a1_key();
        let valid = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.bm90IGpzb24.zT5E7emcR5EbAT_CNJiQqi0RknzkwSiNICyv99GfTmQ";
        assert_eq!(decode_at(valid, &key, 0), Err(Rejection::BadPayload));
        let bad_mac = format!("{}.{A1_SIG}", valid.rsplit_once('.').unwrap().0);
        assert_eq!(decode_at(&bad_mac, &key, 0), Err(Rejection::BadSignature));
        let bad_utf8 = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIiwiZXhwIjo5OTk5OTk5OTk5OX3_.j5EKTxa6Cl2NKkkh5sQd01uVh4HFt8JUsLbWC9vOymA";
        assert_eq!(decode_at(bad_utf8, &key, 0), Err(Rejection::BadPayload));
    }

    #[test]
    fn jwt_05_payload_must_be_an_object() {
        // RFC 7520 §4.4: a valid MAC over a payload that is text, not a JSON object.
        let key = Key::from_bytes(
            &URL_SAFE_NO_PAD
                .decode("hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg")
                .unwrap(),
        )
        .unwrap();
        let token = "eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9.SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4.s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0";
        let verified =
            verify(token, std::slice::from_ref(&key)).expect("the RFC 7520 MAC verifies");
        assert_eq!(verified.payload(), Err(Rejection::BadPayload));
        for payload in ["[]", "1", "\"s\"", "null"] {
            let token = sign_raw(r#"{"alg":"HS256","typ":"JWT"}"#, payload, &key);
            assert_eq!(
                decode_at(&token, &key, 0),
                Err(Rejection::BadPayload),
                "{payload}"
            );
        }
    }

    #[test]
    fn jwt_07_time_claims_at_their_boundaries() {
        let key = Key::generate();
        let t = 1_700_000_000u64;
        let exp = sign_raw(r#"{"alg":"HS256"}"#, &format!(r#"{{"exp":{t}}}"#), &key);
        assert!(decode_at(&exp, &key, t - 1).is_ok());
        assert_eq!(decode_at(&exp, &key, t), Err(Rejection::Expired));
        let nbf = sign_raw(r#"{"alg":"HS256"}"#, &format!(r#"{{"nbf":{t}}}"#), &key);
        assert_eq!(decode_at(&nbf, &key, t - 1), Err(Rejection::NotYetValid));
        assert!(decode_at(&nbf, &key, t).is_ok());
        let iat = sign_raw(r#"{"alg":"HS256"}"#, &format!(r#"{{"iat":{t}}}"#), &key);
        assert_eq!(decode_at(&iat, &key, t - 1), Err(Rejection::NotYetValid));
        assert!(decode_at(&iat, &key, t).is_ok());
        // Leeway tolerates skew, and only that much.
        let map = verify(&exp, std::slice::from_ref(&key))
            .unwrap()
            .payload()
            .unwrap();
        assert!(check_time_claims(&map, t + 59, 60).is_ok());
        assert_eq!(check_time_claims(&map, t + 60, 60), Err(Rejection::Expired));
    }

    #[test]
    fn jwt_08_claim_types_are_strict_and_fractions_accepted() {
        let key = Key::generate();
        let t = 1_700_000_000u64;
        for bad in [
            r#""99999999999""#,
            "null",
            "true",
            "[1]",
            "-1",
            "1e300",
            "{}",
        ] {
            let token = sign_raw(r#"{"alg":"HS256"}"#, &format!(r#"{{"exp":{bad}}}"#), &key);
            assert_eq!(
                decode_at(&token, &key, t),
                Err(Rejection::BadClaims),
                "{bad}"
            );
        }
        let later = sign_raw(r#"{"alg":"HS256"}"#, &format!(r#"{{"exp":{t}.5}}"#), &key);
        assert!(decode_at(&later, &key, t).is_ok());
        let earlier = sign_raw(
            r#"{"alg":"HS256"}"#,
            &format!(r#"{{"exp":{}.5}}"#, t - 1),
            &key,
        );
        assert_eq!(decode_at(&earlier, &key, t), Err(Rejection::Expired));
        // SECURITY.md §3.4 "exp is a string", signed with the A.1 key.
        let string_exp = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIiwiZXhwIjoiOTk5OTk5OTk5OTkifQ.6uH8zQBE8Wo2fiH-E4kwo1OSkiyO0vIQCl_ihvXXAFc";
        assert_eq!(
            decode_at(string_exp, &a1_key(), 0),
            Err(Rejection::BadClaims)
        );
        let nbf_future = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIiwiZXhwIjo5OTk5OTk5OTk5OSwibmJmIjo5OTk5OTk5OTk5MH0.OuaS6a39wVI8QjPjU5FbE7ga4SvqNLVxWK2BSNFyOLs";
        assert_eq!(
            decode_at(nbf_future, &a1_key(), t),
            Err(Rejection::NotYetValid)
        );
    }

    #[test]
    fn wrong_key_is_a_bad_signature() {
        let token = encode(&Map::new(), &Key::generate());
        assert_eq!(
            decode_at(&token, &Key::generate(), 0),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn jwt_12_no_panic_on_awkward_input() {
        let key = a1_key();
        for input in [
            "x=yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy£",
            "£.£.£££££££££££££££££££££££££££££££££££££££££",
            "..",
            "...",
            ".",
            "a.b.ccccccccccccccccccccccccccccccccccccccccccc",
        ] {
            assert!(decode_at(input, &key, 0).is_err(), "{input}");
        }
    }
}
