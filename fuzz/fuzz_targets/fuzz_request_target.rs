//! An arbitrary request target through the login redirect builder: the `Location` parses, and
//! its `next` is absent or accepted by the validator and stays on this site.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(uri) = http::Uri::try_from(data) else { return };
    for login_url in ["/login", "/auth/login?lang=en", "https://sso.example/login"] {
        let location = tower_session_auth::fuzzing::login_location(login_url, &uri);
        assert!(location.starts_with(login_url), "{location}");
        let parsed: http::Uri = location.parse().expect("the Location parses");
        let next = tower_session_auth::redirect_target(&parsed, "DEFAULT");
        if next != "DEFAULT" {
            assert!(tower_session_auth::fuzzing::is_safe_next(&next), "{uri} -> {next}");
            let base = url::Url::parse("https://site.example/").unwrap();
            assert_eq!(base.join(&next).unwrap().origin(), base.origin(), "{uri} -> {next}");
        }
    }
});
