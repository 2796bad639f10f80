//! The CSRF header check on arbitrary header bytes (four fields split at `\n`): it decides
//! without panicking, and an `Origin` it accepts as this server's own is, by the WHATWG URL
//! parser, the same origin as `scheme://Host`. A panic here is a CSRF bypass or a crash.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |&b| b == b'\n');
    let site = parts.next().unwrap_or_default();
    let origin = parts.next().unwrap_or_default();
    let host = parts.next().unwrap_or_default();
    let token = parts.next().unwrap_or_default();
    tower_session_auth::fuzzing::csrf_headers(site, origin, host, token);
    for https in [true, false] {
        if !tower_session_auth::fuzzing::csrf_own_origin_passes(origin, host, https) {
            continue;
        }
        let scheme = if https { "https" } else { "http" };
        let (Ok(origin), Ok(host)) = (std::str::from_utf8(origin), std::str::from_utf8(host)) else {
            panic!("accepted non-UTF-8 origin {origin:?} or host {host:?}");
        };
        let (Ok(theirs), Ok(ours)) =
            (url::Url::parse(origin), url::Url::parse(&format!("{scheme}://{host}")))
        else {
            continue; // the WHATWG parser refuses one of them: nothing to compare
        };
        assert_eq!(
            theirs.origin(),
            ours.origin(),
            "Origin {origin:?} accepted as {scheme}://{host}"
        );
    }
});
