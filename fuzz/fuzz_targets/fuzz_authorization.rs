//! Bytes as an `Authorization` (or API-key) header through the Basic and Bearer parsers.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tower_session_auth::fuzzing::authorization(data));
