//! The cases of a site with many users: a different session (or user) on most requests, sessions
//! of several sizes, a working set that recurs among one-off cookies, and the floor that any
//! reader of this wire format pays without a cache, each beside its peers in the same run.
//!
//! - `baseline/cold_cookie{,_20_keys,_2900b}`: no middleware; the handler reads the `Cookie`
//!   header once. The same cookies, in the same turn, as the floors below and
//!   `ours/read_{20_keys,2900b}_uncached`, whose overheads are taken over it (and of the same
//!   contents and number as `ours/read_one_key_uncached`'s, which `compare.rs` makes with a layer
//!   of its own): a million cookies in turn are fetched from memory, which the request a server
//!   just read never is.
//! - `floor/verify_every_time{,_20_keys,_2900b}`: no middleware; the handler finds the session
//!   cookie, checks its HMAC-SHA256 (ring), base64url-decodes and parses its payload into a
//!   `serde_json` map, checks `exp` and reads one key. The same cookies, in the same turn, as
//!   the `baseline/cold_cookie*` cases: the least a reader of this format pays without a cache.
//! - `floor/verify_lazily{,_2900b}`: the same as `floor/verify_every_time{,_2900b}`, but decoding
//!   only the members the handler reads (the rest stay raw JSON, borrowed, split by
//!   `serde_json`): what a reader that decodes values on demand, as this crate does, pays without
//!   a cache when `serde_json` finds the members (the crate's own scan of compact JSON takes
//!   fewer instructions).
//! - `floor/verify_lazily_in_layer`: `floor/verify_lazily` inside a layer that hands the session
//!   to the handler in the request's extensions and looks at it on the response, as this crate's
//!   design (and tower-sessions') does. What that floor costs as a session layer of this shape,
//!   with no cache; not the least such a layer could pay: it splits the JSON with `serde_json`,
//!   as `floor/verify_lazily` does, which costs more instructions than the crate's own scan.
//! - `floor/scan_in_layer`: the same layer made as cheap as it can be for these cookies: the
//!   payload decoded into a handle of one block, the members found by a one-pass scan that does
//!   not check the JSON, the handler's string taken without a parser. Cheaper than any layer that
//!   must take every cookie a browser may send: a goal it misses is out of reach of this shape of
//!   layer.
//! - `floor/scan_in_cached_layer`: `floor/scan_in_layer` that also looks the cookie up in the
//!   least a cache's index can be (one line of tags, no lock) and records the miss in that line:
//!   the least a layer with a cache of verified cookies pays on a cookie it has not seen.
//! - `floor/seal_2900b`: the least a write into a ~2.9 KB session pays: the decoded map (made
//!   before timing) with one key changed, serialised, base64url-encoded and signed.
//! - `ours/…_uncached`: [`SMALL`] (or [`LARGE`]) distinct sessions in turn, more than the case
//!   sends requests: no cookie comes twice, so every request misses the verified-cookie cache.
//!   `tower_sessions/…_uncached`: [`PEER_SMALL`] (or [`PEER_LARGE`]) in turn; its store has no
//!   cache to miss, and fewer sessions keep its map smaller (and faster) than ours would make it.
//! - `ours/read_hot_set{,_flooded}`: 2,048 recurring sessions, seen twice before timing; in
//!   `_flooded`, after 65,536 earlier one-off valid cookies, then the hot set, then 100,000
//!   one-off valid cookies, and with [`FLOOD_PER_READ`] more before each timed read (untimed).
//!   `read_hot_set` sends the same one-off cookies to a twin layer instead, so the two cases do
//!   the same work and differ only in what the measured layer's cache saw. The timed reads go
//!   through the hot set in a fixed shuffled order, not the order its sessions were first seen:
//!   read in that order, the blocks a cache allocated one after another are fetched ahead by the
//!   CPU's prefetchers, which flattered every case read before a flood.
//! - `floor/hot_set{,_spread}`: the least a cache can touch on a hit of the hot set (one index
//!   probe, one block holding the token and the session), with its 2,048 blocks alone or each
//!   among 7 others as in a full cache, and the same cooling between reads as
//!   `ours/read_hot_set`: what the spread costs any cache.
//! - `paired/hot_set` (not a criterion case): the hot-set target measured in interleaved blocks,
//!   `ours/read_hot_set{,_flooded}`, `floor/hot_set{,_spread}` and a handler with no middleware
//!   in turn, so that the ratio is taken between reads made moments apart; see
//!   [`paired_hot_set`].
//! - `ours/auth_many_users`, `axum_login/authenticated_many_users`: a different user, each with
//!   their own session and password hash, on each request.

use super::*;
use base64_simd::URL_SAFE_NO_PAD;
use std::time::{SystemTime, UNIX_EPOCH};
use tower_session_auth::{AuthLayer, Key, SessionDict, SessionLayer};

/// Distinct sessions of ours of the small sizes: more than a case sends requests in its 2 s
/// (about 800,000 at most), so none is sent twice.
const SMALL: usize = 1 << 20;
/// Distinct ~2.9 KB sessions of ours: more than such a case sends requests (about 200,000).
const LARGE: usize = 1 << 18;
/// Distinct sessions of the peers' small cases: 4 times our cache's 16,384 entries.
const PEER_SMALL: usize = 65_536;
/// Distinct ~2.9 KB sessions of the peers (each decodes to about 30 KiB in tower-sessions'
/// memory store).
const PEER_LARGE: usize = 8_192;
/// The recurring sessions of the hot-set cases.
const HOT: usize = 2_048;
/// One-off valid cookies sent before the hot set is timed again.
const FLOOD: usize = 100_000;
/// One-off valid cookies sent before the hot set is first seen, so that the flood crosses a
/// halving of the cache's use counts (every 131,072 uses of the cache).
const EARLIER: usize = 65_536;
/// One-off cookies sent (untimed) before each timed read of `ours/read_hot_set_flooded`.
const FLOOD_PER_READ: usize = 2;
/// The users of the many-users cases. Ours takes [`SMALL`] sessions among them (several per
/// user), so that no cookie comes twice; axum-login one per user.
const USERS: u64 = 65_536;

/// The sizes of session the uncached cases read.
#[derive(Clone, Copy)]
enum Size {
    /// [`CONTENTS`]: 96 bytes of JSON.
    OneKey,
    /// 20 keys, 378 bytes of JSON.
    Keys20,
    /// [`CONTENTS`] and a list of 41 recently viewed products: ~2.9 KB of JSON.
    Large,
}

impl Size {
    fn contents(self) -> Map<String, Value> {
        let mut map = contents();
        match self {
            Size::OneKey => {}
            Size::Keys20 => {
                let extra: Map<String, Value> = serde_json::from_str(
                    r#"{"currency":"EUR","tz":"Europe/Berlin","consent":true,"ab_bucket":17,"plan":"pro","date_format":"dd.mm.yyyy","flash":null,"region":"eu-west-1","items_in_cart":3,"beta":false,"referrer":"newsletter-2026-11","screen":"1440x900","visits_total":318,"csrf_seed":"kQ3v9ZrT0pX2mW7yB4nL8sDf"}"#,
                )
                .expect("valid JSON");
                map.extend(extra);
            }
            Size::Large => {
                let recent: Vec<Value> = (0..41)
                    .map(|i| {
                        let id = 100_000 + i * 37;
                        serde_json::json!({
                            "path": format!("/products/{id}"),
                            "title": format!("Product {id}"),
                            "t": 1_733_400_000 + i * 61,
                        })
                    })
                    .collect();
                map.insert("recent".into(), recent.into());
            }
        }
        map
    }

    fn suffix(self) -> &'static str {
        match self {
            Size::OneKey => "",
            Size::Keys20 => "_20_keys",
            Size::Large => "_2900b",
        }
    }

    /// Distinct sessions of ours.
    fn distinct(self) -> usize {
        match self {
            Size::OneKey | Size::Keys20 => distinct_sessions(SMALL),
            // The byte budget holds a few hundred: 2,048 fill it.
            Size::Large => distinct_sessions_primed(LARGE, 2_048),
        }
    }

    /// Distinct sessions of tower-sessions.
    fn peer_distinct(self) -> usize {
        match self {
            Size::OneKey | Size::Keys20 => distinct_sessions(PEER_SMALL),
            Size::Large => distinct_sessions_primed(PEER_LARGE, 2_048),
        }
    }
}

/// The baseline of the cases that send a cookie no request sent before: no middleware, and a
/// handler that reads the `Cookie` header's bytes once (a search for a byte no cookie holds).
/// Taken in turn from a million cookies, each one's bytes come from memory, not from a cache, as
/// they never do on a server, where the request was just read off the socket: the uncached cases
/// are measured over this, so that fetching the cookie is the harness's cost, not the middleware's.
async fn read_cookie(req: Req) -> Result<Res, Infallible> {
    let cookie = req.headers().get(COOKIE).expect("a Cookie header");
    black_box(memchr::memchr(0, cookie.as_bytes()));
    Ok(ok())
}

/// A fresh layer of ours and its key (the floor verifies with the same key).
fn new_layer() -> (Key, SessionLayer) {
    let key = Key::generate();
    let layer = SessionLayer::builder(key.clone())
        .build()
        .expect("valid configuration");
    (key, layer)
}

/// A handler of ours that fills the session with `map` and a `n` of its own, so every cookie is
/// distinct.
fn ours_fill(
    map: Map<String, Value>,
) -> impl Fn(Req) -> std::future::Ready<Result<Res, Infallible>> + Clone {
    let map = Arc::new(map);
    move |req: Req| {
        let session = req.extensions().get::<SessionDict>().expect("SessionLayer");
        for (k, v) in map.iter() {
            session.insert(k, v).expect("fits");
        }
        session.insert("n", next_visit()).expect("fits");
        std::future::ready(Ok(ok()))
    }
}

/// `n` distinct session cookies of `map`, issued by `layer`.
fn ours_cookies(
    rt: &Runtime,
    layer: &SessionLayer,
    map: Map<String, Value>,
    n: usize,
) -> Vec<HeaderValue> {
    distinct_cookies(rt, &layer.layer(service_fn(ours_fill(map))), n)
}

// ---------------------------------------------------------------- the floor

mod floor {
    use super::*;
    use std::hash::BuildHasher;
    use std::sync::atomic::AtomicU32;

    /// The header every signed cookie of ours carries, base64url-encoded.
    const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

    fn now() -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64()
    }

    /// The request's session cookie.
    fn session_cookie(req: &Req) -> &str {
        let header = req.headers().get(COOKIE).expect("a Cookie header");
        header
            .to_str()
            .expect("ASCII")
            .split(';')
            .find_map(|pair| pair.trim().strip_prefix("session="))
            .expect("a session cookie")
    }

    /// The payload (base64url) of the session cookie `value`, once its header and HMAC are
    /// checked (ring, constant time).
    fn verified<'a>(value: &'a str, key: &ring::hmac::Key) -> &'a str {
        let (signed, sig) = value.rsplit_once('.').expect("a JWS");
        let (head, payload) = signed.split_once('.').expect("a JWS");
        assert_eq!(head, HEADER_B64);
        let mut tag = [0u8; 32];
        let tag = URL_SAFE_NO_PAD
            .decode(sig.as_bytes(), base64_simd::Out::from_slice(&mut tag))
            .expect("base64");
        ring::hmac::verify(key, signed.as_bytes(), tag).expect("a valid MAC");
        payload
    }

    /// The request's session cookie, found, its header and HMAC checked (ring, constant time), its
    /// payload base64url-decoded: what both floors do before parsing.
    fn verified_payload(req: &Req, key: &ring::hmac::Key) -> Vec<u8> {
        let payload = verified(session_cookie(req), key);
        URL_SAFE_NO_PAD.decode_to_vec(payload).expect("base64")
    }

    /// A handler, behind no middleware, that verifies the request's session cookie as a reader
    /// without a cache must: find it, check the header and the HMAC (ring, constant time),
    /// base64url-decode the payload, parse it as a JSON map, check `exp`; then read `user`.
    pub(super) fn verify_every_time(
        key: &Key,
    ) -> impl Fn(Req) -> std::future::Ready<Result<Res, Infallible>> + Clone {
        let key = Arc::new(ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            key.as_bytes(),
        ));
        move |req: Req| {
            let json = verified_payload(&req, &key);
            let map: Map<String, Value> = serde_json::from_slice(&json).expect("a JSON map");
            let exp = map.get("exp").and_then(Value::as_f64).expect("exp");
            assert!(now() < exp, "expired");
            let user = map.get("user").map(String::deserialize).transpose();
            assert_eq!(user.expect("a string").as_deref(), Some("alice"));
            std::future::ready(Ok(ok()))
        }
    }

    /// [`verify_every_time`] that parses only what the handler reads: the payload's members are
    /// split as raw JSON (serde_json's `RawValue`, borrowed: no allocation per member), and only
    /// `exp` and `user` are decoded. What decoding values on demand would save a reader of one
    /// key of a large session.
    pub(super) fn verify_lazily(
        key: &Key,
    ) -> impl Fn(Req) -> std::future::Ready<Result<Res, Infallible>> + Clone {
        let key = Arc::new(ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            key.as_bytes(),
        ));
        move |req: Req| {
            let json = verified_payload(&req, &key);
            let members: Vec<(&str, &serde_json::value::RawValue)> =
                serde_json::from_slice::<RawMembers<'_>>(&json)
                    .expect("a JSON map")
                    .0;
            let raw = |name: &str| {
                members
                    .iter()
                    .rev()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.get())
            };
            let exp: f64 = serde_json::from_str(raw("exp").expect("exp")).expect("a number");
            assert!(now() < exp, "expired");
            let user: String = serde_json::from_str(raw("user").expect("user")).expect("a string");
            assert_eq!(user, "alice");
            std::future::ready(Ok(ok()))
        }
    }

    /// [`verify_lazily`] as a session middleware of this design would run it: a layer that
    /// verifies the cookie the same way, checks `exp`, and hands the session to the handler in
    /// the request's extensions (a shared handle: the payload, owned, and where each member lies
    /// in it, since a handle outlives the request's headers), then looks at the handle once the
    /// response is ready (whether the handler changed the session). The handler finds the handle
    /// and decodes `user` from it. Nothing else: no cache, no configuration, no error paths (it
    /// panics where a layer answers without a session), no response headers, no lock on the
    /// handle (read-only here; a handle a handler may change needs one). The lazy floor run as a
    /// session layer that hands over the session this way (tower-sessions' does too) would run
    /// it. Not the least such a layer could pay: the members are split by `serde_json`'s map
    /// reader, as in [`verify_lazily`] (the crate scans compact JSON in one pass, for fewer
    /// instructions), and the handle takes two blocks (the payload and the `Arc`) where the
    /// crate's takes one.
    #[derive(Clone)]
    pub(super) struct LazyLayer<S> {
        inner: S,
        key: Arc<ring::hmac::Key>,
    }

    impl<S> LazyLayer<S> {
        pub(super) fn new(inner: S, key: &Key) -> Self {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
            LazyLayer {
                inner,
                key: Arc::new(key),
            }
        }
    }

    /// The session a [`LazyLayer`] hands the handler.
    #[derive(Clone)]
    pub(super) struct LazySession(Arc<LazyState>);

    struct LazyState {
        json: Vec<u8>,
        /// Each member's key and raw value, as byte ranges of `json`.
        members: Vec<[u32; 4]>,
        changed: std::sync::atomic::AtomicBool,
    }

    impl LazySession {
        /// The raw JSON of member `name`, the last of that name.
        fn raw(&self, name: &str) -> Option<&str> {
            let s = &self.0;
            let text = |at: usize, end: usize| std::str::from_utf8(&s.json[at..end]).ok();
            s.members.iter().rev().find_map(|&[k, k_end, v, v_end]| {
                (&s.json[k as usize..k_end as usize] == name.as_bytes())
                    .then(|| text(v as usize, v_end as usize))
                    .flatten()
            })
        }
    }

    impl<S: Service<Req, Response = Res>> Service<Req> for LazyLayer<S> {
        type Response = Res;
        type Error = S::Error;
        type Future = LazyFuture<S::Future, LazySession>;

        fn poll_ready(
            &mut self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), S::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, mut req: Req) -> Self::Future {
            let json = verified_payload(&req, &self.key);
            let members = {
                use serde::de::DeserializeSeed;
                let mut de = serde_json::Deserializer::from_slice(&json);
                let members = MemberRanges(json.as_ptr() as usize)
                    .deserialize(&mut de)
                    .expect("a JSON map");
                de.end().expect("nothing after the map");
                members
            };
            let session = LazySession(Arc::new(LazyState {
                json,
                members,
                changed: Default::default(),
            }));
            let exp: f64 =
                serde_json::from_str(session.raw("exp").expect("exp")).expect("a number");
            assert!(now() < exp, "expired");
            req.extensions_mut().insert(session.clone());
            LazyFuture {
                inner: self.inner.call(req),
                session,
            }
        }
    }

    /// What a floor layer looks at on the response: whether the handler changed the session.
    pub(super) trait Changed {
        fn changed(&self) -> bool;
    }

    impl Changed for LazySession {
        fn changed(&self) -> bool {
            self.0.changed.load(Ordering::Relaxed)
        }
    }

    pin_project_lite::pin_project! {
        /// The response of a floor layer: the inner service's, once the layer has looked at the
        /// session it handed over.
        pub(super) struct LazyFuture<F, H> {
            #[pin]
            inner: F,
            session: H,
        }
    }

    impl<F: std::future::Future<Output = Result<Res, E>>, E, H: Changed> std::future::Future
        for LazyFuture<F, H>
    {
        type Output = Result<Res, E>;

        fn poll(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Self::Output> {
            let this = self.project();
            let res = std::task::ready!(this.inner.poll(cx));
            black_box(this.session.changed());
            std::task::Poll::Ready(res)
        }
    }

    /// The handler behind a [`LazyLayer`]: it finds the session and decodes `user`.
    pub(super) async fn lazy_read(req: Req) -> Result<Res, Infallible> {
        let session = req.extensions().get::<LazySession>().expect("LazyLayer");
        let user: String =
            serde_json::from_str(session.raw("user").expect("user")).expect("a string");
        assert_eq!(user, "alice");
        Ok(ok())
    }

    /// Reads a JSON object into where each member's key and raw value lie in the input, which
    /// starts at the address it holds: [start, end) of the key, then of the value.
    struct MemberRanges(usize);

    impl<'de> serde::de::DeserializeSeed<'de> for MemberRanges {
        type Value = Vec<[u32; 4]>;

        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> serde::de::Visitor<'de> for MemberRanges {
        type Value = Vec<[u32; 4]>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let at = |part: &str| (part.as_ptr() as usize - self.0) as u32;
            let mut members = Vec::with_capacity(16);
            while let Some((k, v)) =
                map.next_entry::<&'de str, &'de serde_json::value::RawValue>()?
            {
                let (k_at, v_at) = (at(k), at(v.get()));
                members.push([
                    k_at,
                    k_at + k.len() as u32,
                    v_at,
                    v_at + v.get().len() as u32,
                ]);
            }
            Ok(members)
        }
    }

    /// A JSON object's members as borrowed raw JSON, in order.
    struct RawMembers<'a>(Vec<(&'a str, &'a serde_json::value::RawValue)>);

    impl<'de> serde::Deserialize<'de> for RawMembers<'de> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Visit;
            impl<'de> serde::de::Visitor<'de> for Visit {
                type Value = RawMembers<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<RawMembers<'de>, A::Error> {
                    let mut members = Vec::with_capacity(16);
                    while let Some(member) = map.next_entry::<&'de str, _>()? {
                        members.push(member);
                    }
                    Ok(RawMembers(members))
                }
            }
            d.deserialize_map(Visit)
        }
    }

    /// The most bytes of payload a [`ScanLayer`]'s handle holds (a one-key session's is about
    /// 170).
    const SCAN_JSON: usize = 384;
    /// The most members a [`ScanLayer`]'s handle holds (a one-key session has 9).
    const SCAN_MEMBERS: usize = 16;

    /// [`LazyLayer`] with every part of it made as cheap as it can be for the one-key cookies,
    /// so that what it costs is at most what any session layer of this shape pays on a cookie it
    /// has not seen: the payload is decoded into the handle itself and the handle is one block
    /// (the payload, its members' places and the changed flag, of fixed sizes that fit the
    /// one-key sessions and nothing larger); the members are found in one pass over the compact
    /// JSON, without checking it ([`scan_members`]); `exp` is read by `str::parse`. Cheaper than
    /// any layer that must take every cookie a browser may send (which checks the JSON it splits,
    /// as the crate's scan does, and holds payloads of any size), so a goal it does not reach is
    /// out of reach of this shape of layer.
    ///
    /// With a [`Probe`] it also looks the cookie up in the least a cache's index can be, and
    /// records the miss there ([`Probe::miss`]): the least a layer that keeps a cache of verified
    /// cookies (the hot-set target needs one) pays on a cookie it has not seen.
    #[derive(Clone)]
    pub(super) struct ScanLayer<S> {
        inner: S,
        key: Arc<ring::hmac::Key>,
        probe: Option<Arc<Probe>>,
    }

    impl<S> ScanLayer<S> {
        pub(super) fn new(inner: S, key: &Key, probed: bool) -> Self {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
            ScanLayer {
                inner,
                key: Arc::new(key),
                probe: probed.then(|| Arc::new(Probe::new())),
            }
        }
    }

    /// Lines of a [`Probe`]'s index: 32,768 slots of 4 bytes (128 KiB), for 16,384 entries (the
    /// crate's cache's count) kept at most half full.
    const PROBE_LINES: usize = 2048;

    /// One line of memory of a [`Probe`]'s index: 16 slots, each a token's tag or 0.
    #[repr(align(64))]
    #[derive(Default)]
    struct ProbeLine([AtomicU32; 16]);

    /// The least a cache of verified cookies must touch on a cookie it does not hold: one line of
    /// its index, found from a keyed hash of the token's last 16 bytes (as the crate's cache
    /// keys it), whose slots hold tags; no lock, no entries (a tag that matches would still need
    /// its token compared, which this floor never needs). A cache that keeps a recurring working
    /// set through a flood of one-off cookies must also record each one it sees; the least that
    /// costs is a tag written in the line already read.
    pub(super) struct Probe {
        keys: [u64; 2],
        lines: Box<[ProbeLine]>,
    }

    impl Probe {
        fn new() -> Probe {
            let seed = std::collections::hash_map::RandomState::new();
            Probe {
                keys: [seed.hash_one(1u8) | 1, seed.hash_one(2u8) | 1],
                lines: (0..PROBE_LINES).map(|_| ProbeLine::default()).collect(),
            }
        }

        /// Whether `token` is not in the index; if not, records that it was seen, in the same
        /// line.
        fn miss(&self, token: &[u8]) -> bool {
            let tail = u128::from_ne_bytes(*token.last_chunk::<16>().expect("a token"));
            // A folded multiply, keyed: foldhash's mix, the crate's cache's hash.
            let mixed = u128::from(tail as u64 ^ self.keys[0])
                * u128::from((tail >> 64) as u64 ^ self.keys[1]);
            let hash = mixed as u64 ^ (mixed >> 64) as u64;
            let line = &self.lines[(hash >> 40) as usize % PROBE_LINES].0;
            let tag = hash as u32 | 1;
            let found = line.iter().any(|slot| slot.load(Ordering::Relaxed) == tag);
            if !found {
                line[(hash >> 32) as usize % 16].store(tag, Ordering::Relaxed);
            }
            !found
        }
    }

    /// The session a [`ScanLayer`] hands the handler.
    #[derive(Clone)]
    pub(super) struct ScanSession(Arc<ScanState>);

    struct ScanState {
        json: [u8; SCAN_JSON],
        /// Each member's key and raw value, as byte ranges of `json`.
        members: [[u16; 4]; SCAN_MEMBERS],
        len: usize,
        changed: std::sync::atomic::AtomicBool,
    }

    impl ScanSession {
        /// The raw JSON of member `name`, the last of that name.
        fn raw(&self, name: &str) -> Option<&[u8]> {
            let s = &self.0;
            s.members[..s.len]
                .iter()
                .rev()
                .find(|&&[k, k_end, _, _]| &s.json[k as usize..k_end as usize] == name.as_bytes())
                .map(|&[_, _, v, v_end]| &s.json[v as usize..v_end as usize])
        }
    }

    impl Changed for ScanSession {
        fn changed(&self) -> bool {
            self.0.changed.load(Ordering::Relaxed)
        }
    }

    impl<S: Service<Req, Response = Res>> Service<Req> for ScanLayer<S> {
        type Response = Res;
        type Error = S::Error;
        type Future = LazyFuture<S::Future, ScanSession>;

        fn poll_ready(
            &mut self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), S::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, mut req: Req) -> Self::Future {
            let value = session_cookie(&req);
            if let Some(probe) = &self.probe {
                // No entry is ever inserted, only tags (each overwritten long before its
                // cookie comes again): every cookie misses, and is verified.
                black_box(probe.miss(value.as_bytes()));
            }
            let payload = verified(value, &self.key);
            let mut json = [0u8; SCAN_JSON];
            let len = URL_SAFE_NO_PAD
                .decode(
                    payload.as_bytes(),
                    base64_simd::Out::from_slice(&mut json[..]),
                )
                .expect("base64, of a one-key session")
                .len();
            let (members, members_len) = scan_members(&json[..len]);
            let session = ScanSession(Arc::new(ScanState {
                json,
                members,
                len: members_len,
                changed: Default::default(),
            }));
            let exp: f64 = std::str::from_utf8(session.raw("exp").expect("exp"))
                .expect("UTF-8")
                .parse()
                .expect("a number");
            assert!(now() < exp, "expired");
            req.extensions_mut().insert(session.clone());
            LazyFuture {
                inner: self.inner.call(req),
                session,
            }
        }
    }

    /// The handler behind a [`ScanLayer`]: it finds the session and decodes `user`, a string
    /// without escapes.
    pub(super) async fn scan_read(req: Req) -> Result<Res, Infallible> {
        let session = req.extensions().get::<ScanSession>().expect("ScanLayer");
        let raw = session.raw("user").expect("user");
        let text = raw
            .strip_prefix(b"\"")
            .and_then(|raw| raw.strip_suffix(b"\""))
            .filter(|text| !text.contains(&b'\\'))
            .expect("a string without escapes");
        let user = String::from(std::str::from_utf8(text).expect("UTF-8"));
        assert_eq!(user, "alice");
        Ok(ok())
    }

    /// Where each member's key and raw value lie in `json`, a compact JSON object (no space
    /// between its tokens, as this format's writers make it), found in one pass that does not
    /// check the JSON (the HMAC vouched for it; a layer taking any cookie must): [start, end) of
    /// the key, then of the value, and how many members.
    fn scan_members(json: &[u8]) -> ([[u16; 4]; SCAN_MEMBERS], usize) {
        let mut members = [[0u16; 4]; SCAN_MEMBERS];
        assert_eq!(json.first(), Some(&b'{'), "a JSON object");
        if json.get(1) == Some(&b'}') {
            return (members, 0);
        }
        let (mut at, mut len) = (1, 0);
        loop {
            assert_eq!(json[at], b'"', "a key");
            let key_end = string_end(json, at + 1);
            assert_eq!(json[key_end + 1], b':', "a member");
            let value = key_end + 2;
            let value_end = value_end(json, value);
            members[len] = [at + 1, key_end, value, value_end].map(|at| at as u16);
            len += 1;
            match json[value_end] {
                b',' => at = value_end + 1,
                b'}' => return (members, len),
                _ => panic!("not compact JSON"),
            }
        }
    }

    /// Where the string whose contents start at `at` ends: its closing quote.
    fn string_end(json: &[u8], mut at: usize) -> usize {
        loop {
            match json[at] {
                b'"' => return at,
                b'\\' => at += 2,
                _ => at += 1,
            }
        }
    }

    /// Where the value that starts at `at` ends: the `,` or `}` after it.
    fn value_end(json: &[u8], mut at: usize) -> usize {
        let mut depth = 0u32;
        loop {
            match json[at] {
                b'"' => at = string_end(json, at + 1),
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth == 0 => return at,
                b'}' | b']' => depth -= 1,
                b',' if depth == 0 => return at,
                _ => {}
            }
            at += 1;
        }
    }

    /// A handler, behind no middleware, that writes what a write of one key into `map` must:
    /// the decoded map (made before timing, not copied) and the new key serialised with the
    /// time claims, base64url-encoded and signed, as a `Set-Cookie` value.
    pub(super) fn seal(
        map: Map<String, Value>,
    ) -> impl Fn(Req) -> std::future::Ready<Result<Res, Infallible>> + Clone {
        struct With<'m>(&'m Map<String, Value>, Value);
        impl serde::Serialize for With<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let visits = ("visits".to_owned(), self.1.clone());
                let rest = self.0.iter().filter(|(k, _)| *k != "visits");
                s.collect_map(rest.chain([(&visits.0, &visits.1)]))
            }
        }
        let key = Arc::new(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[7; 64]));
        let map = Arc::new(map);
        move |_req: Req| {
            let mut json =
                serde_json::to_vec(&With(&map, next_visit().into())).expect("serialisable");
            json.pop();
            json.extend_from_slice(
                b",\"_created\":1733400000,\"exp\":1733401800,\"iat\":1733400000}",
            );
            let mut token = String::with_capacity(64 + json.len() * 4 / 3);
            token.push_str("session=");
            token.push_str(HEADER_B64);
            token.push('.');
            URL_SAFE_NO_PAD.encode_append(&json, &mut token);
            let tag = ring::hmac::sign(&key, &token.as_bytes()[8..]);
            token.push('.');
            URL_SAFE_NO_PAD.encode_append(tag.as_ref(), &mut token);
            token.push_str("; HttpOnly; SameSite=Lax; Secure; Path=/");
            let mut res = ok();
            let value = HeaderValue::from_str(&token).expect("a header value");
            res.headers_mut().insert(SET_COOKIE, value);
            std::future::ready(Ok(res))
        }
    }

    /// The least a cache of verified cookies can touch on a hit, to show what a flood costs
    /// whatever the cache: an index from a keyed hash of the token's last 32 bytes to one
    /// allocation that holds the token (compared whole, eight bytes at a time, without branching)
    /// and the session's JSON, in which `user` is found and decoded. No middleware, no clock, no
    /// use counts, no reference counts: one index probe and one block per hit.
    #[derive(Clone)]
    pub(super) struct HotSet(Arc<HotIndex>);

    struct HotIndex {
        hasher: std::collections::hash_map::RandomState,
        /// The token's length and the block: the token, then the session's JSON.
        entries: HashMap<u64, (usize, Box<[u8]>)>,
    }

    impl HotSet {
        /// Holds each of `hot` (`session=<token>` cookies) with `json`. `spread` > 1: among
        /// `spread` − 1 other entries of the same size each, allocated in turn with them (the
        /// layout of a full cache whose recurring entries were made among others), so the hot
        /// set's blocks lie apart; 1: only the hot set, its blocks side by side.
        pub(super) fn new(hot: &[HeaderValue], json: &[u8], spread: usize) -> HotSet {
            use std::hash::BuildHasher;
            let hasher = std::collections::hash_map::RandomState::new();
            let mut entries = HashMap::with_capacity(hot.len() * spread);
            let mut filler = 0u64;
            for cookie in hot {
                let token = token(cookie).as_bytes();
                for _ in 1..spread {
                    // Never looked up: a token's worth of bytes under a hash of their own, the
                    // filler's number written into the bytes hashed (the token's last 32).
                    filler += 1;
                    let mut other = vec![b'x'; token.len() + json.len()];
                    other[token.len() - 8..token.len()].copy_from_slice(&filler.to_le_bytes());
                    let hash = hasher.hash_one(&other[token.len() - 32..token.len()]);
                    let filed = entries.insert(hash, (token.len(), other.into_boxed_slice()));
                    assert!(filed.is_none(), "each filler under a hash of its own");
                }
                let hash = hasher.hash_one(&token[token.len() - 32..]);
                let block = [token, json].concat().into_boxed_slice();
                assert!(entries.insert(hash, (token.len(), block)).is_none());
            }
            // Every entry kept: as many as a full cache of ours holds when `spread` is 8.
            assert_eq!(entries.len(), hot.len() * spread);
            HotSet(Arc::new(HotIndex { hasher, entries }))
        }

        /// A handler, behind no middleware, that finds the request's session in the set.
        pub(super) fn handler(
            &self,
        ) -> impl Fn(Req) -> std::future::Ready<Result<Res, Infallible>> + Clone {
            let set = Arc::clone(&self.0);
            move |req: Req| {
                use std::hash::BuildHasher;
                let header = req.headers().get(COOKIE).expect("a Cookie header");
                let token = token(header).as_bytes();
                let hash = set.hasher.hash_one(&token[token.len() - 32..]);
                let (len, block) = set.entries.get(&hash).expect("a hit");
                assert!(*len == token.len() && same(&block[..*len], token));
                let json = std::str::from_utf8(&block[*len..]).expect("UTF-8");
                let at = json.find(r#""user":"#).expect("user") + 7;
                let user: &str = serde_json::Deserializer::from_str(&json[at..])
                    .into_iter()
                    .next()
                    .expect("a value")
                    .expect("a string");
                assert_eq!(user, "alice");
                std::future::ready(Ok(ok()))
            }
        }
    }

    /// The token of a `session=<token>` cookie.
    fn token(cookie: &HeaderValue) -> &str {
        cookie
            .to_str()
            .expect("ASCII")
            .strip_prefix("session=")
            .expect("a session cookie")
    }

    /// Whether `a` and `b` (of one length) are equal, eight bytes at a time, without branching.
    fn same(a: &[u8], b: &[u8]) -> bool {
        let diff = a.chunks(8).zip(b.chunks(8)).fold(0u64, |diff, (x, y)| {
            let word = |w: &[u8]| {
                let mut bytes = [0u8; 8];
                bytes[..w.len()].copy_from_slice(w);
                u64::from_ne_bytes(bytes)
            };
            diff | (word(x) ^ word(y))
        });
        black_box(diff) == 0
    }

    /// Valid session cookies of `key`, each never sent before: what a flood of one-off visitors
    /// sends. Signed here (a cookie of ours, byte for byte), so that making one costs less than
    /// a request through the layer.
    pub(super) struct OneOffs {
        key: ring::hmac::Key,
        n: u64,
        now: u64,
    }

    impl OneOffs {
        pub(super) fn new(key: &Key) -> OneOffs {
            OneOffs {
                key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes()),
                n: 1 << 40,
                now: now() as u64,
            }
        }

        pub(super) fn next(&mut self) -> HeaderValue {
            self.n += 1;
            let (n, now) = (self.n, self.now);
            let json = format!(
                r#"{{"_created":{now},"cart":[1,2,3],"exp":{},"iat":{now},"lang":"en-GB","last_page":"/orders/1234","n":{n},"theme":"dark","user":"alice"}}"#,
                now + 1800
            );
            let mut cookie = format!("session={HEADER_B64}.");
            URL_SAFE_NO_PAD.encode_append(json, &mut cookie);
            let tag = ring::hmac::sign(&self.key, &cookie.as_bytes()[8..]);
            cookie.push('.');
            URL_SAFE_NO_PAD.encode_append(tag.as_ref(), &mut cookie);
            HeaderValue::from_str(&cookie).expect("a header value")
        }
    }
}

// ---------------------------------------------------------------- uncached reads and writes

async fn ours_read(req: Req) -> Result<Res, Infallible> {
    let session = req.extensions().get::<SessionDict>().expect("SessionLayer");
    let user = session.get::<String>("user").expect("a string");
    assert_eq!(user.as_deref(), Some("alice"));
    Ok(ok())
}

async fn ours_write(req: Req) -> Result<Res, Infallible> {
    let session = req.extensions().get::<SessionDict>().expect("SessionLayer");
    session.insert("visits", next_visit()).expect("fits");
    Ok(ok())
}

fn uncached(c: &mut Criterion, rt: &Runtime) {
    for size in [Size::OneKey, Size::Keys20, Size::Large] {
        let read = match size {
            Size::OneKey => "read_one_key_uncached".to_owned(),
            _ => format!("read{}_uncached", size.suffix()),
        };
        let floor_name = format!("verify_every_time{}", size.suffix());
        // `ours/read_one_key_uncached` (the one-key size) is timed with the other cases of ours.
        let ours_name = match size {
            Size::OneKey => None,
            _ => Some(read.clone()),
        };
        let lazy_name = match size {
            Size::OneKey => Some("verify_lazily"),
            Size::Large => Some("verify_lazily_2900b"),
            Size::Keys20 => None,
        };
        let cold_name = format!("cold_cookie{}", size.suffix());
        let wants_cold = wanted(&format!("baseline/{cold_name}"));
        let wants_floor = wanted(&format!("floor/{floor_name}"))
            || lazy_name.is_some_and(|name| wanted(&format!("floor/{name}")))
            || (matches!(size, Size::OneKey)
                && [
                    "verify_lazily_in_layer",
                    "scan_in_layer",
                    "scan_in_cached_layer",
                ]
                .iter()
                .any(|name| wanted(&format!("floor/{name}"))));
        let wants_ours = ours_name
            .as_ref()
            .is_some_and(|name| wanted(&format!("ours/{name}")));
        if wants_cold || wants_floor || wants_ours {
            let (key, layer) = new_layer();
            let cookies = ours_cookies(rt, &layer, size.contents(), size.distinct());
            let mut g = Group::new(c, "baseline");
            case(
                &mut g,
                rt,
                &cold_name,
                service_fn(read_cookie),
                cookies.clone(),
                false,
            );
            g.finish();
            let mut g = Group::new(c, "floor");
            let svc = service_fn(floor::verify_every_time(&key));
            case(&mut g, rt, &floor_name, svc, cookies.clone(), false);
            if let Some(name) = lazy_name {
                let svc = service_fn(floor::verify_lazily(&key));
                case(&mut g, rt, name, svc, cookies.clone(), false);
            }
            if matches!(size, Size::OneKey) {
                let svc = floor::LazyLayer::new(service_fn(floor::lazy_read), &key);
                case(
                    &mut g,
                    rt,
                    "verify_lazily_in_layer",
                    svc,
                    cookies.clone(),
                    false,
                );
                for (name, probed) in [("scan_in_layer", false), ("scan_in_cached_layer", true)] {
                    let svc = floor::ScanLayer::new(service_fn(floor::scan_read), &key, probed);
                    case(&mut g, rt, name, svc, cookies.clone(), false);
                }
            }
            g.finish();
            if let Some(name) = ours_name {
                let mut g = Group::new(c, "ours");
                case(&mut g, rt, &name, on(&layer, ours_read), cookies, false);
                g.finish();
            }
        }
        if wanted(&format!("tower_sessions/{read}")) {
            let mut g = Group::new(c, "tower_sessions");
            let (svc, cookies) = ts_sessions(rt, size.contents(), size.peer_distinct());
            let read_svc = on(&svc, super::tower_sessions_stack::read);
            case(&mut g, rt, &read, read_svc, cookies, false);
            g.finish();
        }
    }

    // Writes of one key, a different session each request.
    if wanted("ours/write_one_key_uncached") {
        let (_, layer) = new_layer();
        let cookies = ours_cookies(rt, &layer, contents(), distinct_sessions(SMALL));
        let mut g = Group::new(c, "ours");
        let svc = on(&layer, ours_write);
        case(&mut g, rt, "write_one_key_uncached", svc, cookies, true);
        g.finish();
    }
    if wanted("tower_sessions/write_one_key_uncached") {
        let (layer, cookies) = ts_sessions(rt, contents(), distinct_sessions(PEER_SMALL));
        let mut g = Group::new(c, "tower_sessions");
        let svc = on(&layer, super::tower_sessions_stack::write);
        case(&mut g, rt, "write_one_key_uncached", svc, cookies, true);
        g.finish();
    }

    // A write of one key into a ~2.9 KB session, the same session each request.
    if wanted("ours/write_2900b") || wanted("floor/seal_2900b") {
        let (_, layer) = new_layer();
        let cookie = ours_cookies(rt, &layer, Size::Large.contents(), 1);
        let mut g = Group::new(c, "floor");
        let seal = service_fn(floor::seal(Size::Large.contents()));
        case(&mut g, rt, "seal_2900b", seal, cookie.clone(), true);
        g.finish();
        let mut g = Group::new(c, "ours");
        case(
            &mut g,
            rt,
            "write_2900b",
            on(&layer, ours_write),
            cookie,
            true,
        );
        g.finish();
    }
    if wanted("tower_sessions/write_2900b") {
        let (layer, cookies) = ts_sessions(rt, Size::Large.contents(), 1);
        let mut g = Group::new(c, "tower_sessions");
        let svc = on(&layer, super::tower_sessions_stack::write);
        case(&mut g, rt, "write_2900b", svc, cookies, true);
        g.finish();
    }
}

/// tower-sessions' layer (its defaults, `MemoryStore`) and the `id` cookies of `n` sessions
/// holding `map`.
fn ts_sessions(
    rt: &Runtime,
    map: Map<String, Value>,
    n: usize,
) -> (
    tower_sessions::SessionManagerLayer<tower_sessions::MemoryStore>,
    Vec<HeaderValue>,
) {
    use tower_sessions::{MemoryStore, Session, SessionManagerLayer};
    let layer = SessionManagerLayer::new(MemoryStore::default());
    let map = Arc::new(map);
    let fill = layer.layer(service_fn(move |req: Req| {
        let map = Arc::clone(&map);
        async move {
            let session = req.extensions().get::<Session>().cloned().expect("layer");
            for (k, v) in map.iter() {
                session.insert(k, v).await.expect("stored");
            }
            Ok::<_, Infallible>(ok())
        }
    }));
    let cookies = (0..n)
        .map(|_| cookie_from(&once(rt, &fill, None), "id"))
        .collect();
    (layer, cookies)
}

// ---------------------------------------------------------------- the hot set and the flood

/// `items` in a fixed pseudo-random order (a Fisher–Yates shuffle driven by xorshift), the same
/// on every run.
fn shuffled<T>(items: Vec<T>) -> Vec<T> {
    shuffled_with(0, items)
}

/// `items` in a fixed pseudo-random order of its own for each `seed`.
fn shuffled_with<T>(seed: u64, mut items: Vec<T>) -> Vec<T> {
    let mut x = (0x2545_f491_4f6c_dd1d_u64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1;
    for i in (1..items.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        items.swap(i, (x % (i as u64 + 1)) as usize);
    }
    items
}

/// Times reads of `hot` in turn (shuffled). With `flood`, [`FLOOD_PER_READ`] one-off cookies go
/// through the same service before each read, outside the timing. In counting mode, the loop of
/// [`case`]: one pass over the hot set as it stands after the set-up.
fn hot_case<S, F>(
    group: &mut Group<'_>,
    rt: &Runtime,
    name: &str,
    svc: S,
    hot: Vec<HeaderValue>,
    flood: (F, floor::OneOffs),
) where
    S: Service<Req, Response = Res> + Clone + 'static,
    S::Error: Debug,
    S::Future: 'static,
    F: Service<Req, Response = Res> + 'static,
    F::Error: Debug,
    F::Future: 'static,
{
    // Read in another order than the one the sessions were first seen (and allocated) in: a
    // site's recurring visitors do not come back in the order they arrived, and a walk in
    // allocation order would let the CPU's prefetchers fetch each session's block ahead.
    let hot = shuffled(hot);
    if count_mode().is_some() {
        case(group, rt, name, svc, hot, false);
        return;
    }
    let hot: Arc<[HeaderValue]> = hot.into();
    let flood = std::rc::Rc::new(std::cell::Cell::new(Some(flood)));
    group.criterion.bench_function(name, |b| {
        b.to_async(rt).iter_custom(|iters| {
            let (mut svc, hot, flood) = (svc.clone(), Arc::clone(&hot), flood.clone());
            async move {
                // Taken for this batch and put back after it: one batch runs at a time.
                let mut cooling = flood.take().expect("one batch at a time");
                let mut timed = Duration::ZERO;
                for i in 0..iters {
                    let cookie = &hot[i as usize % hot.len()];
                    timed += hot_read(&mut svc, cookie, &mut cooling).await;
                }
                flood.set(Some(cooling));
                timed
            }
        });
    });
}

/// A layer of ours that has seen the hot set twice, its reading service, and the one-off
/// cookies that cool the CPU's caches between timed reads. With `flooded`, the one-offs go to
/// this layer: 65,536 earlier visitors first (so that the cache's use counts are halved during
/// the flood), then the hot set twice (so its sessions count as recurring), then 100,000. Else
/// they go to a twin layer of its own, so that both do the same work between timed reads and
/// differ only in what the measured layer's cache has seen.
#[allow(clippy::type_complexity)]
fn hot_layer(
    rt: &Runtime,
    flooded: bool,
) -> (
    impl Service<Req, Response = Res, Error = Infallible, Future: 'static> + Clone + 'static,
    Vec<HeaderValue>,
    (
        impl Service<Req, Response = Res, Error = Infallible, Future: 'static> + Clone + 'static,
        floor::OneOffs,
    ),
) {
    let (key, layer) = new_layer();
    let hot = ours_cookies(rt, &layer, contents(), HOT);
    let svc = on(&layer, ours_read);
    let (twin_key, twin) = new_layer();
    let (flood_key, flood_svc) = if flooded {
        (key, svc.clone())
    } else {
        (twin_key, on(&twin, ours_read))
    };
    let mut one_offs = floor::OneOffs::new(&flood_key);
    let send = |svc: &_, cookies: &mut dyn Iterator<Item = HeaderValue>| {
        for cookie in cookies {
            let res = once(rt, svc, Some(&cookie));
            assert!(res.status().is_success());
        }
    };
    send(&flood_svc, &mut (0..EARLIER).map(|_| one_offs.next()));
    send(&svc, &mut hot.iter().cloned());
    send(&svc, &mut hot.iter().cloned());
    send(&flood_svc, &mut (0..FLOOD).map(|_| one_offs.next()));
    (svc, hot, (flood_svc, one_offs))
}

fn hot_set(c: &mut Criterion, rt: &Runtime) {
    for flooded in [false, true] {
        let name = if flooded {
            "read_hot_set_flooded"
        } else {
            "read_hot_set"
        };
        if !wanted(&format!("ours/{name}")) {
            continue;
        }
        let (svc, hot, flood) = hot_layer(rt, flooded);
        let mut g = Group::new(c, "ours");
        hot_case(&mut g, rt, name, svc, hot, flood);
        g.finish();
    }
}

/// Blocks of the paired hot-set measurement (odd, for a median).
const PAIRED_BLOCKS: usize = 31;

/// One pass over `hot`: each read timed alone, after [`FLOOD_PER_READ`] one-off cookies sent
/// (untimed) through `cooling`. Returns the mean time of a read.
async fn hot_pass<S, F>(svc: &mut S, hot: &[HeaderValue], cooling: &mut (F, floor::OneOffs)) -> f64
where
    S: Service<Req, Response = Res>,
    S::Error: Debug,
    F: Service<Req, Response = Res>,
    F::Error: Debug,
{
    let mut timed = Duration::ZERO;
    for cookie in hot {
        timed += hot_read(svc, cookie, cooling).await;
    }
    timed.as_nanos() as f64 / hot.len() as f64
}

/// One read of the hot set, timed alone, after [`FLOOD_PER_READ`] one-off cookies sent
/// (untimed) through `cooling`.
async fn hot_read<S, F>(
    svc: &mut S,
    cookie: &HeaderValue,
    cooling: &mut (F, floor::OneOffs),
) -> Duration
where
    S: Service<Req, Response = Res>,
    S::Error: Debug,
    F: Service<Req, Response = Res>,
    F::Error: Debug,
{
    for _ in 0..FLOOD_PER_READ {
        let req = request(Some(&cooling.1.next()));
        let ready = cooling.0.ready().await.expect("ready");
        black_box(ready.call(req).await.expect("infallible"));
    }
    let req = request(Some(cookie));
    let start = Instant::now();
    let ready = svc.ready().await.expect("ready");
    let res = ready.call(req).await.expect("infallible");
    black_box(res);
    start.elapsed()
}

/// `paired/hot_set`: the hot-set target measured in interleaved blocks rather than in criterion
/// cases seconds apart, whose ratio a shared machine's drift swamps (the runs of one round ranged
/// 0.61–2.29). Five arms read 2,048 recurring sessions (the flooded layer its own, the others
/// those of the layer before the flood), each in one shuffled order, the same way as
/// `ours/read_hot_set{,_flooded}` (each read timed alone, after two one-off cookies through a
/// layer of ours): a handler with no middleware (the overheads' baseline), our layer before the
/// flood, the flooded layer, and `floor/hot_set{,_spread}`. Each of [`PAIRED_BLOCKS`] blocks
/// runs one pass of each arm, in an order drawn anew for each block, after one untimed block of
/// warm-up. In each block, the target is (flooded − bare) ÷ (before − bare), and its floor
/// ((before − bare) + (spread − alone)) ÷ (before − bare): what a full cache's layout adds to any
/// cache's hit. The medians over the blocks, their quartiles and each arm's per-block means go to
/// `<criterion dir>/paired/hot_set.json`, where `scripts/bench_report.py` reads them. Run by
/// `cargo bench` only (not under `--test` or `--list`). With `PAIRED_HOT_SET_ARM` set to an arm's
/// name (`bare`, `before`, `flooded`, `floor_alone` or `floor_spread`), every arm is set up as
/// usual but only that one runs, `PAIRED_HOT_SET_PASSES` passes (40 unless set, no warm-up), each
/// pass's mean printed to stderr and no report written: one arm alone, for `perf record`.
fn paired_hot_set(rt: &Runtime) {
    let benching = std::env::args().any(|arg| arg == "--bench")
        && !std::env::args().any(|arg| arg == "--test" || arg == "--list");
    if count_mode().is_some() || !benching || !wanted("paired/hot_set") {
        return;
    }
    const ARMS: [&str; 5] = ["bare", "before", "flooded", "floor_alone", "floor_spread"];
    // The layer before the flood's twin, which has taken the flood in its place, cools the CPU's
    // caches between the reads of every arm but the flooded one, which its own flood cools.
    let (mut before, hot, mut cooling) = hot_layer(rt, false);
    let (mut flooded, flooded_hot, mut flood) = hot_layer(rt, true);
    let json = serde_json::to_vec(&contents()).expect("serialisable");
    let mut alone = service_fn(floor::HotSet::new(&hot, &json, 1).handler());
    let mut spread = service_fn(floor::HotSet::new(&hot, &json, 8).handler());
    let mut bare = service_fn(empty);
    let (hot, flooded_hot) = (shuffled(hot), shuffled(flooded_hot));
    // One pass of an arm: the mean time of its reads.
    macro_rules! pass {
        ($arm:expr) => {
            match $arm {
                0 => hot_pass(&mut bare, &hot, &mut cooling).await,
                1 => hot_pass(&mut before, &hot, &mut cooling).await,
                2 => hot_pass(&mut flooded, &flooded_hot, &mut flood).await,
                3 => hot_pass(&mut alone, &hot, &mut cooling).await,
                _ => hot_pass(&mut spread, &hot, &mut cooling).await,
            }
        };
    }
    // One arm alone, for a profile of it (`perf record`): each pass's mean printed, no report.
    if let Ok(name) = std::env::var("PAIRED_HOT_SET_ARM") {
        let arm = ARMS
            .iter()
            .position(|a| *a == name)
            .unwrap_or_else(|| panic!("PAIRED_HOT_SET_ARM: one of {ARMS:?}, not {name:?}"));
        let passes: usize = std::env::var("PAIRED_HOT_SET_PASSES").map_or(40, |passes| {
            passes
                .parse()
                .expect("PAIRED_HOT_SET_PASSES: a number of passes")
        });
        rt.block_on(async {
            for _ in 0..passes {
                eprintln!("paired/hot_set: {name} alone, {:.0} ns a read", pass!(arm));
            }
        });
        return;
    }
    let mut means: [Vec<f64>; ARMS.len()] = Default::default();
    rt.block_on(async {
        for block in 0..=PAIRED_BLOCKS {
            let mut got = [0.0; ARMS.len()];
            // A new order in each block (the same on every run), so that no arm always follows
            // the same other one.
            for arm in shuffled_with(block as u64, (0..ARMS.len()).collect()) {
                got[arm] = pass!(arm);
            }
            // Block 0 warms up.
            if block > 0 {
                for (arm, mean) in got.into_iter().enumerate() {
                    means[arm].push(mean);
                }
            }
        }
    });
    // (median, first quartile, third quartile) of each block's `ratio`, over the blocks where
    // our layer added anything before the flood.
    let summary = |ratio: &dyn Fn(usize) -> f64| {
        let mut ratios: Vec<f64> = (0..PAIRED_BLOCKS)
            .filter(|&b| means[1][b] > means[0][b])
            .map(ratio)
            .collect();
        assert!(
            !ratios.is_empty(),
            "paired/hot_set: the layer added nothing"
        );
        ratios.sort_by(f64::total_cmp);
        // Interpolated between the two nearest ranks.
        let at = |q: f64| {
            let rank = (ratios.len() - 1) as f64 * q;
            let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
            ratios[low] + (ratios[high] - ratios[low]) * (rank - low as f64)
        };
        (at(0.5), at(0.25), at(0.75), ratios.len())
    };
    let over = |arm: usize, b: usize| means[arm][b] - means[0][b];
    let target = summary(&|b| over(2, b) / over(1, b));
    let floor = summary(&|b| (over(1, b) + means[4][b] - means[3][b]) / over(1, b));
    let arm_median = |arm: usize| {
        let mut v = means[arm].clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    eprintln!(
        "paired/hot_set: flooded ÷ before (overheads) median {:.3} (quartiles {:.3}–{:.3}), \
         floor {:.3} ({:.3}–{:.3}), {} blocks; ns per read: {}",
        target.0,
        target.1,
        target.2,
        floor.0,
        floor.1,
        floor.2,
        target.3,
        ARMS.iter()
            .enumerate()
            .map(|(arm, name)| format!("{name} {:.0}", arm_median(arm)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let quartiles = |(mid, q1, q3, blocks): (f64, f64, f64, usize)| serde_json::json!({ "median": mid, "q1": q1, "q3": q3, "blocks": blocks });
    let per_arm: Map<String, Value> = ARMS
        .iter()
        .zip(&means)
        .map(|(name, v)| (name.to_string(), serde_json::json!(v)))
        .collect();
    let report = serde_json::json!({
        "target": quartiles(target),
        "floor": quartiles(floor),
        "reads_per_block_and_arm": HOT,
        "ns_per_read": per_arm,
    });
    let dir = criterion_dir().join("paired");
    std::fs::create_dir_all(&dir).expect("the criterion directory is writable");
    std::fs::write(dir.join("hot_set.json"), report.to_string()).expect("written");
}

/// The floor of the hot-set cases: [`floor::HotSet`] holding the same 2,048 sessions, alone
/// (`floor/hot_set`) or each among 7 others as a full cache holds them (`floor/hot_set_spread`:
/// 16,384 entries), with the same one-off cookies sent to a layer of ours between timed reads as
/// in `ours/read_hot_set`, which cool the CPU's caches alike. What the spread adds here is what a
/// flood adds to a hit in any cache that keeps 16,384 entries and its recurring ones among them.
fn hot_set_floor(c: &mut Criterion, rt: &Runtime) {
    for (name, spread) in [("hot_set", 1), ("hot_set_spread", 8)] {
        if !wanted(&format!("floor/{name}")) {
            continue;
        }
        let (_, layer) = new_layer();
        let hot = ours_cookies(rt, &layer, contents(), HOT);
        let json = serde_json::to_vec(&contents()).expect("serialisable");
        let set = floor::HotSet::new(&hot, &json, spread);
        let (twin_key, twin) = new_layer();
        let cooling = (on(&twin, ours_read), floor::OneOffs::new(&twin_key));
        let mut g = Group::new(c, "floor");
        hot_case(&mut g, rt, name, service_fn(set.handler()), hot, cooling);
        g.finish();
    }
}

// ---------------------------------------------------------------- many users

#[derive(Clone, Debug)]
struct Member {
    id: u64,
    password_hash: Vec<u8>,
}

impl Member {
    fn new(id: u64) -> Member {
        Member {
            id,
            password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ${id:022}")
                .into_bytes(),
        }
    }
}

impl tower_session_auth::AuthUser for Member {
    type Id = u64;
    fn id(&self) -> u64 {
        self.id
    }
    fn session_auth_hash(&self) -> Option<&[u8]> {
        Some(&self.password_hash)
    }
}

impl axum_login::AuthUser for Member {
    type Id = u64;
    fn id(&self) -> u64 {
        self.id
    }
    fn session_auth_hash(&self) -> &[u8] {
        &self.password_hash
    }
}

fn members() -> Arc<HashMap<u64, Member>> {
    Arc::new((1..=USERS).map(|id| (id, Member::new(id))).collect())
}

/// The next user to log in, in turn.
fn next_member(users: &HashMap<u64, Member>) -> Member {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let id = NEXT.fetch_add(1, Ordering::Relaxed) % USERS + 1;
    users[&id].clone()
}

async fn ours_member(req: Req) -> Result<Res, Infallible> {
    let tower_session_auth::CurrentUser(user) = req
        .extensions()
        .get::<tower_session_auth::CurrentUser<Member>>()
        .expect("AuthLayer let the request through");
    assert!(user.id >= 1);
    Ok(ok())
}

#[derive(Clone)]
struct Members(Arc<HashMap<u64, Member>>);

impl axum_login::AuthnBackend for Members {
    type User = Member;
    type Credentials = ();
    type Error = Infallible;

    async fn authenticate(&self, (): ()) -> Result<Option<Member>, Infallible> {
        Ok(None)
    }

    async fn get_user(&self, id: &u64) -> Result<Option<Member>, Infallible> {
        Ok(self.0.get(id).cloned())
    }
}

fn many_users(c: &mut Criterion, rt: &Runtime) {
    let n = distinct_sessions(SMALL);
    let peer_n = distinct_sessions(USERS as usize);
    if wanted("ours/auth_many_users") {
        let users = members();
        let (_, layer) = new_layer();
        let store = Arc::clone(&users);
        let login = layer.layer(service_fn(move |req: Req| {
            let session = req.extensions().get::<SessionDict>().expect("SessionLayer");
            for (k, v) in contents() {
                session.insert(&k, v).expect("fits");
            }
            let user = next_member(&store);
            tower_session_auth::login_user(session, &user, false).expect("fits");
            std::future::ready(Ok::<_, Infallible>(ok()))
        }));
        let cookies = distinct_cookies(rt, &login, n);
        let store = Arc::clone(&users);
        let gate = AuthLayer::builder()
            .user_loader(move |id: u64| {
                let store = Arc::clone(&store);
                async move { store.get(&id).cloned() }
            })
            .build()
            .expect("valid configuration");
        let svc = ServiceBuilder::new()
            .layer(layer)
            .layer(gate)
            .service_fn(ours_member);
        let mut g = Group::new(c, "ours");
        case(&mut g, rt, "auth_many_users", svc, cookies, false);
        g.finish();
    }
    if wanted("axum_login/authenticated_many_users") {
        use axum_login::tower_sessions::{MemoryStore, SessionManagerLayer};
        use axum_login::{AuthManagerLayerBuilder, AuthSession};
        let users = members();
        let backend = Members(Arc::clone(&users));
        let sessions = SessionManagerLayer::new(MemoryStore::default());
        let layer = AuthManagerLayerBuilder::new(backend, sessions).build();
        let store = Arc::clone(&users);
        let login = layer.layer(service_fn(move |req: Req| {
            let mut auth = req
                .extensions()
                .get::<AuthSession<Members>>()
                .cloned()
                .expect("AuthManagerLayer");
            let user = next_member(&store);
            async move {
                for (k, v) in contents() {
                    auth.session.insert(&k, v).await.expect("stored");
                }
                auth.login(&user).await.expect("logged in");
                Ok::<_, Infallible>(ok())
            }
        }));
        let cookies: Vec<HeaderValue> = (0..peer_n)
            .map(|_| cookie_from(&once(rt, &login, None), "id"))
            .collect();
        let svc = layer.layer(service_fn(|req: Req| {
            let auth = req
                .extensions()
                .get::<AuthSession<Members>>()
                .expect("AuthManagerLayer");
            assert!(auth.user.as_ref().expect("logged in").id >= 1);
            std::future::ready(Ok::<_, Infallible>(ok()))
        }));
        let mut g = Group::new(c, "axum_login");
        case(&mut g, rt, "authenticated_many_users", svc, cookies, false);
        g.finish();
    }
}

pub(super) fn all(c: &mut Criterion, rt: &Runtime) {
    uncached(c, rt);
    hot_set(c, rt);
    hot_set_floor(c, rt);
    paired_hot_set(rt);
    many_users(c, rt);
}
