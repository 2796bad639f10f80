//! The `next` validator against a WHATWG URL parser: anything accepted must resolve to this
//! site. A panic here is an open redirect.
#![no_main]
use std::sync::OnceLock;

fn base() -> &'static url::Url {
    static BASE: OnceLock<url::Url> = OnceLock::new();
    BASE.get_or_init(|| url::Url::parse("https://site.example/app/page?x=1").unwrap())
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(next) = std::str::from_utf8(data) else { return };
    if tower_session_auth::fuzzing::is_safe_next(next) {
        let resolved = base().join(next).expect("an accepted target parses");
        assert_eq!(resolved.origin(), base().origin(), "open redirect: {next:?} -> {resolved}");
        assert!(!next.chars().any(|c| c.is_control() || c == '\\'), "{next:?}");
    }
    // The same through the public function, with the value in a query string.
    let query = url::form_urlencoded::Serializer::new(String::new()).append_pair("next", next).finish();
    if let Ok(uri) = format!("/login?{query}").parse::<http::Uri>() {
        let target = tower_session_auth::redirect_target(&uri, "/");
        let resolved = base().join(&target).expect("targets parse");
        assert_eq!(resolved.origin(), base().origin(), "open redirect: {next:?} -> {target}");
    }
});
