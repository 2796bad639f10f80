//! Entry points for the `fuzz/` targets. Compiled only with `--cfg fuzzing`, which cargo-fuzz
//! sets; not part of the public API.
#![allow(missing_docs, unreachable_pub)]

use std::sync::OnceLock;

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue, Uri};

use crate::{Key, SessionDict, SessionLayer};

fn key() -> &'static Key {
    // RFC 7515 A.1's key, so the seed tokens of SECURITY.md verify.
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(crate::token::jws::rfc7515_a1_key)
}

/// The JWS codec on arbitrary bytes: verify, payload, time claims; and the members scan, which
/// must accept exactly the JSON objects a decoded map accepts, and read the same members, its
/// compact scan answering only as `serde_json`'s does.
pub fn session_decode(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let decoded = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(token);
    // The compact scan answers only as serde_json's does.
    crate::token::members::compact_agrees(token);
    // After a token's worth of bytes, as a session cookie's members are scanned.
    let scanned = crate::token::members::Members::scan(format!("t.k.n{token}"), 5, |_, _| false);
    match (scanned, decoded) {
        (Ok(scanned), Ok(decoded)) => assert_eq!(scanned.to_map(), decoded),
        (Err(_), Err(_)) => {}
        (scanned, decoded) => panic!(
            "the scan and a decoded map disagree: {:?} against {:?}",
            scanned.is_ok(),
            decoded.is_ok()
        ),
    }
    if let Ok(verified) = crate::token::jws::verify(token, std::slice::from_ref(key())) {
        if let Ok(map) = verified.payload() {
            let _ = crate::token::claims::check_time_claims(&map, 1_300_819_379, 0);
        }
    }
}

/// Private-mode opening on arbitrary bytes; and a sealed value opens to what was sealed when it
/// fits in a cookie, and is refused as too long when it does not.
pub fn private_open(data: &[u8]) {
    if let Ok(token) = std::str::from_utf8(data) {
        let _ = crate::token::aead::open(token, std::slice::from_ref(key()), "session");
    }
    let sealed = crate::token::aead::seal(data, key(), "session");
    let opened = crate::token::aead::open(&sealed, std::slice::from_ref(key()), "session");
    if sealed.len() <= crate::token::MAX_TOKEN_LEN {
        assert_eq!(opened.expect("a sealed value that fits opens").0, data);
    } else {
        // Longer than any cookie: refused before decoding (JWT-11, AEAD-04).
        assert_eq!(opened, Err(crate::token::Rejection::TooLong));
    }
}

/// A whole `Cookie` header through the session layer: lookup, duplicates, decoding, and the
/// remember-me restore path, in both formats.
pub fn cookie_header(data: &[u8]) {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.append(COOKIE, value);
    for private in [false, true] {
        let layer = SessionLayer::builder(key().clone())
            .private(private)
            .build()
            .unwrap();
        let session = SessionDict::new(layer.config, &headers);
        let _ = session.len();
        let _: Option<serde_json::Value> = crate::current_user_id(&session);
        let mut out = HeaderMap::new();
        crate::session::finish(&session, &mut out);
    }
}

/// The Basic and Bearer parsers on an arbitrary `Authorization` value.
pub fn authorization(data: &[u8]) {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    if let Some(c) = crate::auth::fuzz_basic(&value) {
        assert!(!c.0.is_empty() && !c.0.contains(':'));
        assert!(!c.0.chars().chain(c.1.chars()).any(char::is_control));
    }
    let _ = crate::auth::fuzz_bearer(&value);
}

/// The `next` validator.
pub fn is_safe_next(next: &str) -> bool {
    crate::redirect::is_safe_next(next)
}

/// The login redirect builder.
pub fn login_location(login_url: &str, uri: &Uri) -> String {
    crate::redirect::login_location(login_url, uri)
}

/// Whether the CSRF check lets a `POST` through with only this `Origin` and `Host` (no
/// `Sec-Fetch-Site`), for a server reached over `https` or not: the own-origin comparison.
pub fn csrf_own_origin_passes(origin: &[u8], host: &[u8], https: bool) -> bool {
    crate::csrf::fuzz_own_origin_passes(origin, host, https)
}

/// The CSRF check on arbitrary `Sec-Fetch-Site`, `Origin`, `Host` and token bytes, under each
/// token policy and with a trusted origin: it must decide without panicking.
pub fn csrf_headers(site: &[u8], origin: &[u8], host: &[u8], token: &[u8]) {
    crate::csrf::fuzz_headers(site, origin, host, token)
}
