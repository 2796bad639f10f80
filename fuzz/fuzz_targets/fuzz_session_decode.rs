//! Bytes as a session cookie value through the JWS codec (RFC 7515 A.1's key).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tower_session_auth::fuzzing::session_decode(data));
