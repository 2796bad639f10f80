//! Bytes as a private cookie value; and bytes sealed then opened must come back unchanged.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tower_session_auth::fuzzing::private_open(data));
