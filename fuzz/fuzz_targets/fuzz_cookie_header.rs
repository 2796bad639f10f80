//! Bytes as a `Cookie` header through the session layer, signed and private, with remember-me.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tower_session_auth::fuzzing::cookie_header(data));
