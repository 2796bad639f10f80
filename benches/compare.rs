//! Per-request cost of this crate's middleware against its peers, in one binary.
//!
//! Every case drives a tower service that was polled ready (`ready().await`, then `call`) over a
//! trivial handler answering an empty `200`, on a current-thread tokio runtime. Each iteration
//! builds its request the same way (same method, URI and headers; only the `Cookie` value is the
//! stack's own), so the cases differ only by their middleware and by what the handler does with
//! the session. Subtract `baseline/no_middleware` to get a stack's overhead:
//! `python3 scripts/bench_report.py` does that and writes BENCHMARKS.md's tables.
//!
//! Every stack starts from an existing session (or login) holding the same contents
//! ([`CONTENTS`]), made once by the stack itself before timing, and every case is checked once
//! before timing (the handler saw the value, `Set-Cookie` present exactly when expected).
//! Handlers assert what they read, so a cookie that stopped verifying fails loudly instead of
//! timing the anonymous path.
//!
//! The crate keeps a cache of recently verified cookies, and most cases send one session again
//! and again, so they time its warm path. The `_uncached` cases of ours take 1,048,576 distinct
//! sessions in turn, more than a case sends requests, so that no request sends a cookie seen
//! before and every one verifies its cookie. (With 65,536 taken again and again, a quarter of the
//! requests found their cookie cached: the cache kept those it had seen twice.) Each case says on
//! stderr how many requests it sent and how many distinct cookies it had.
//!
//! `cargo bench --manifest-path benches/Cargo.toml --bench compare` from the repository root
//! (about two and a half minutes on 2 cores; this directory is a cargo workspace of its own); one
//! case: `cargo bench --manifest-path benches/Cargo.toml --bench compare -- ours/read_one_key`.
//! With `BENCH_COUNT=<group/case>=<n>` the binary runs that one case n times outside criterion,
//! for valgrind (`scripts/bench_instructions.sh`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Debug;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, Response};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::runtime::Runtime;
use tower::util::ServiceFn;
use tower::{service_fn, Layer, Service, ServiceBuilder, ServiceExt};

mod many;

#[path = "harness.rs"]
mod harness;
use harness::*;

/// The session every stack starts from: 96 bytes of JSON.
const CONTENTS: &str = r#"{"user":"alice","n":42,"theme":"dark","cart":[1,2,3],"lang":"en-GB","last_page":"/orders/1234"}"#;

fn contents() -> Map<String, Value> {
    serde_json::from_str(CONTENTS).expect("valid JSON")
}

/// A criterion benchmark group, or (in counting mode) the case to run a fixed number of times.
struct Group<'c> {
    name: &'static str,
    criterion: BenchmarkGroup<'c, WallTime>,
}

impl<'c> Group<'c> {
    fn new(c: &'c mut Criterion, name: &'static str) -> Group<'c> {
        Group {
            name,
            criterion: c.benchmark_group(name),
        }
    }

    fn finish(self) {
        self.criterion.finish();
    }
}

/// Counting mode, for instruction counts and profiles under valgrind
/// (`scripts/bench_instructions.sh`): `BENCH_COUNT=<group/case>=<iterations>` runs only that case,
/// once, then that many times, outside criterion.
fn count_mode() -> Option<&'static (String, u64)> {
    static MODE: OnceLock<Option<(String, u64)>> = OnceLock::new();
    MODE.get_or_init(|| {
        let spec = std::env::var("BENCH_COUNT").ok()?;
        let (case, iters) = spec
            .rsplit_once('=')
            .expect("BENCH_COUNT=<group/case>=<iterations>");
        Some((case.to_owned(), iters.parse().expect("a whole number")))
    })
    .as_ref()
}

/// Checks the case once, then times it.
fn case<S>(
    group: &mut Group<'_>,
    rt: &Runtime,
    name: &str,
    svc: S,
    cookies: Vec<HeaderValue>,
    expect_set_cookie: bool,
) where
    S: Service<Req, Response = Res> + Clone + 'static,
    S::Error: Debug,
    S::Future: 'static,
{
    let full_name = format!("{}/{name}", group.name);
    let counting = count_mode();
    if counting.is_some_and(|(only, _)| *only != full_name) {
        return;
    }
    let cookies: Arc<[HeaderValue]> = cookies.into();
    let res = once(rt, &svc, cookies.first());
    let cookie_len = cookies.first().map_or(0, HeaderValue::len);
    let distinct = cookies.len();
    eprintln!("{full_name}: request Cookie header {cookie_len} bytes, {distinct} distinct");
    assert!(res.status().is_success(), "{full_name}: {}", res.status());
    assert_eq!(
        res.headers().contains_key(SET_COOKIE),
        expect_set_cookie,
        "{full_name}: unexpected Set-Cookie state: {:?}",
        res.headers()
    );
    if let Some((_, iters)) = counting {
        // Cookies beyond the ones the loop takes prime the layer's cache first (untimed), so a
        // case of distinct sessions is counted against a full cache, as in its steady state.
        let loop_len = (*iters as usize + 1).min(cookies.len());
        if cookies.len() > loop_len {
            rt.block_on(prime(svc.clone(), &cookies[loop_len..]));
        }
        rt.block_on(timed(svc.clone(), Arc::clone(&cookies), 1));
        // Clones, as criterion's loop gets: the cookies and the service are dropped here, after
        // the count, not inside `timed` (65,536 cookies freed there cost about 8k instructions a
        // request when spread over 2,000 of them).
        let elapsed = rt.block_on(timed(svc.clone(), Arc::clone(&cookies), *iters));
        drop((svc, cookies));
        eprintln!("{full_name}: {iters} iterations in {elapsed:?}");
        return;
    }
    // The cookies are taken in turn across criterion's calls (warm-up and samples), not from
    // the first again at each: a case of distinct sessions sends each one once while it has
    // enough of them.
    let turn = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    group.criterion.bench_function(name, |b| {
        b.to_async(rt).iter_custom(|iters| {
            sent.fetch_add(iters, Ordering::Relaxed);
            timed_from(svc.clone(), Arc::clone(&cookies), iters, Arc::clone(&turn))
        });
    });
    let sent = sent.load(Ordering::Relaxed);
    if distinct > 1 && sent > 0 {
        let again = sent.saturating_sub(distinct as u64);
        eprintln!(
            "{full_name}: {sent} requests, {distinct} distinct cookies, {again} sent a cookie again"
        );
    }
}

/// The timed loop: `iters` requests, one after the other, each built here.
async fn timed<S>(svc: S, cookies: Arc<[HeaderValue]>, iters: u64) -> Duration
where
    S: Service<Req, Response = Res>,
    S::Error: Debug,
{
    timed_from(svc, cookies, iters, Arc::new(AtomicUsize::new(0))).await
}

/// [`timed`], taking the cookies in turn from `next` on, and leaving there the one that
/// follows the last taken.
async fn timed_from<S>(
    mut svc: S,
    cookies: Arc<[HeaderValue]>,
    iters: u64,
    next: Arc<AtomicUsize>,
) -> Duration
where
    S: Service<Req, Response = Res>,
    S::Error: Debug,
{
    // Requests take the cookies in turn (most cases have one; none for `no_cookie`).
    let mut turn = next.load(Ordering::Relaxed) % cookies.len().max(1);
    let start = Instant::now();
    for _ in 0..iters {
        let req = request(cookies.get(turn));
        turn = if turn + 1 < cookies.len() {
            turn + 1
        } else {
            0
        };
        let ready = svc.ready().await.expect("ready");
        let res = ready.call(req).await.expect("infallible");
        black_box(res);
    }
    let elapsed = start.elapsed();
    next.store(turn, Ordering::Relaxed);
    elapsed
}

/// Sends one request with each of `cookies`, uncounted: not `timed`, which callgrind counts.
async fn prime<S>(mut svc: S, cookies: &[HeaderValue])
where
    S: Service<Req, Response = Res>,
    S::Error: Debug,
{
    for cookie in cookies {
        let res = svc
            .ready()
            .await
            .expect("ready")
            .call(request(Some(cookie)));
        black_box(res.await.expect("infallible"));
    }
}

/// `handler` behind `layer`.
fn on<L: Layer<ServiceFn<H>>, H>(layer: &L, handler: H) -> L::Service {
    layer.layer(service_fn(handler))
}

// ---------------------------------------------------------------- users, shared by auth stacks

/// The logged-in user of both auth stacks, with a password hash as session auth hash (which
/// axum-login requires; ours checks it too when given).
#[derive(Clone, Debug)]
struct User {
    id: u64,
    name: String,
    password_hash: Vec<u8>,
}

fn users() -> Arc<HashMap<u64, User>> {
    let alice = User {
        id: 1,
        name: "alice".into(),
        password_hash: b"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_vec(),
    };
    Arc::new(HashMap::from([(1, alice)]))
}

impl tower_session_auth::AuthUser for User {
    type Id = u64;
    fn id(&self) -> u64 {
        self.id
    }
    fn session_auth_hash(&self) -> Option<&[u8]> {
        Some(&self.password_hash)
    }
}

/// The same user without a session auth hash: ours then skips the HMAC of it.
#[derive(Clone, Debug)]
struct PlainUser(User);

impl tower_session_auth::AuthUser for PlainUser {
    type Id = u64;
    fn id(&self) -> u64 {
        self.0.id
    }
}

impl axum_login::AuthUser for User {
    type Id = u64;
    fn id(&self) -> u64 {
        self.id
    }
    fn session_auth_hash(&self) -> &[u8] {
        &self.password_hash
    }
}

// ---------------------------------------------------------------- baseline

async fn empty(_req: Req) -> Result<Res, Infallible> {
    Ok(ok())
}

fn baseline(c: &mut Criterion, rt: &Runtime) {
    // The cookie is one of ours, so the request is built exactly as in the cookie cases.
    let cookie = ours_cookie(rt, ours_layer(false));
    let mut g = Group::new(c, "baseline");
    case(
        &mut g,
        rt,
        "no_middleware",
        service_fn(empty),
        vec![cookie],
        false,
    );
    case(
        &mut g,
        rt,
        "no_middleware_no_cookie",
        service_fn(empty),
        vec![],
        false,
    );
    // Target (a) where most users would meet it: inside an axum `Router`, whose routing puts
    // `MatchedPath` into the request's extensions before a `Router::layer` runs. The baseline of
    // `ours/no_cookie_axum_router`.
    case(
        &mut g,
        rt,
        "axum_router_no_cookie",
        axum_router::service(None),
        vec![],
        false,
    );
    g.finish();
}

mod axum_router {
    use super::*;
    use axum::routing::get;
    use tower::util::MapResponse;

    /// The router's responses, with the body replaced by the benchmark's empty one.
    pub(super) type Service = MapResponse<axum::Router, fn(Response<axum::body::Body>) -> Res>;

    /// One route answering an empty `200`, behind `layer` when given (`Router::layer`: after
    /// routing, as axum applies it).
    pub(super) fn service(layer: Option<tower_session_auth::SessionLayer>) -> Service {
        let router = axum::Router::new().route("/account", get(|| async {}));
        let router = match layer {
            Some(layer) => router.layer(layer),
            None => router,
        };
        let empty_body: fn(Response<axum::body::Body>) -> Res = |res| res.map(|_| Body::default());
        MapResponse::new(router, empty_body)
    }
}

// ---------------------------------------------------------------- ours

mod ours {
    use super::*;
    use tower_session_auth::{login_user, CurrentUser, SessionDict};

    fn session(req: &Req) -> &SessionDict {
        req.extensions().get::<SessionDict>().expect("SessionLayer")
    }

    pub(super) async fn fill(req: Req) -> Result<Res, Infallible> {
        let session = session(&req);
        for (k, v) in contents() {
            session.insert(&k, v).expect("fits");
        }
        Ok(ok())
    }

    /// [`fill`] with a different `n` each time, so that every session cookie is distinct.
    pub(super) async fn fill_unique(req: Req) -> Result<Res, Infallible> {
        let session = session(&req);
        for (k, v) in contents() {
            session.insert(&k, v).expect("fits");
        }
        session.insert("n", next_visit()).expect("fits");
        Ok(ok())
    }

    pub(super) async fn login(req: Req) -> Result<Res, Infallible> {
        let session = session(&req);
        for (k, v) in contents() {
            session.insert(&k, v).expect("fits");
        }
        let alice = users()[&1].clone();
        login_user(session, &alice, false).expect("fits");
        Ok(ok())
    }

    pub(super) async fn login_plain(req: Req) -> Result<Res, Infallible> {
        let session = session(&req);
        for (k, v) in contents() {
            session.insert(&k, v).expect("fits");
        }
        let alice = PlainUser(users()[&1].clone());
        login_user(session, &alice, false).expect("fits");
        Ok(ok())
    }

    pub(super) async fn read(req: Req) -> Result<Res, Infallible> {
        let user = session(&req).get::<String>("user").expect("a string");
        assert_eq!(user.as_deref(), Some("alice"));
        Ok(ok())
    }

    pub(super) async fn write(req: Req) -> Result<Res, Infallible> {
        session(&req).insert("visits", next_visit()).expect("fits");
        Ok(ok())
    }

    pub(super) async fn current_user(req: Req) -> Result<Res, Infallible> {
        let CurrentUser(user) = req
            .extensions()
            .get::<CurrentUser<User>>()
            .expect("AuthLayer let the request through");
        assert_eq!(user.name, "alice");
        Ok(ok())
    }

    pub(super) async fn current_plain_user(req: Req) -> Result<Res, Infallible> {
        let CurrentUser(PlainUser(user)) = req
            .extensions()
            .get::<CurrentUser<PlainUser>>()
            .expect("AuthLayer let the request through");
        assert_eq!(user.name, "alice");
        Ok(ok())
    }
}

fn ours_layer(private: bool) -> tower_session_auth::SessionLayer {
    // Defaults otherwise (idle timeout 30 minutes, re-issued after 15: longer than a run).
    tower_session_auth::SessionLayer::builder(tower_session_auth::Key::generate())
        .private(private)
        .build()
        .expect("valid configuration")
}

/// How many distinct sessions the `_uncached` cases of ours take in turn: more than such a case
/// sends requests (about 800,000 in its 2 s), so that every request verifies its cookie afresh,
/// as a server with many more active sessions than its cache holds (16,384) would. In counting
/// mode, one per request.
const UNCACHED_SESSIONS: usize = 1 << 20;

/// In counting mode, sessions sent before the count (untimed) to fill the cache: twice its
/// capacity.
const PRIMING_SESSIONS: usize = 32_768;

fn uncached_sessions() -> usize {
    distinct_sessions(UNCACHED_SESSIONS)
}

/// `n` distinct sessions for a timed run; in counting mode, one per counted request and
/// [`PRIMING_SESSIONS`] more (see [`case`]).
fn distinct_sessions(n: usize) -> usize {
    distinct_sessions_primed(n, PRIMING_SESSIONS)
}

/// [`distinct_sessions`] with `priming` sessions to fill the cache first, in counting mode.
fn distinct_sessions_primed(n: usize, priming: usize) -> usize {
    count_mode().map_or(n, |(_, iters)| n.min(*iters as usize + 1) + priming)
}

/// Whether this run times `name`: in counting mode the one case; under criterion, the cases the
/// command line's filter names (a substring; any filter with regex syntax keeps every case), so
/// that one case does not pay for every other case's set-up.
fn wanted(name: &str) -> bool {
    match count_mode() {
        Some((only, _)) => only == name,
        None => criterion_filter().is_none_or(|filter| {
            name.contains(filter) || filter.contains(|c: char| "^$.*+?()[]{}|\\".contains(c))
        }),
    }
}

/// Where criterion writes its results: `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`,
/// else `target/criterion` beside this benchmark's manifest.
fn criterion_dir() -> std::path::PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("criterion")
}

/// The positional filter criterion was given, if any.
fn criterion_filter() -> Option<&'static str> {
    static FILTER: OnceLock<Option<String>> = OnceLock::new();
    FILTER
        .get_or_init(|| {
            // Criterion's options that take a value as the next argument.
            const WITH_VALUE: [&str; 14] = [
                "--warm-up-time",
                "--measurement-time",
                "--sample-size",
                "--save-baseline",
                "--baseline",
                "--load-baseline",
                "--output-format",
                "--color",
                "--profile-time",
                "--noise-threshold",
                "--confidence-level",
                "--significance-level",
                "--nresamples",
                "--plotting-backend",
            ];
            let mut args = std::env::args().skip(1);
            while let Some(arg) = args.next() {
                if arg.starts_with('-') {
                    if WITH_VALUE.contains(&arg.as_str()) {
                        args.next();
                    }
                    continue;
                }
                return Some(arg);
            }
            None
        })
        .as_deref()
}

/// `n` session cookies, each issued by a request to `issuer` (without a cookie).
fn distinct_cookies<S>(rt: &Runtime, issuer: &S, n: usize) -> Vec<HeaderValue>
where
    S: Service<Req, Response = Res> + Clone,
    S::Error: Debug,
{
    let cookies: Vec<HeaderValue> = (0..n)
        .map(|_| cookie_from(&once(rt, issuer, None), "session"))
        .collect();
    let unique: std::collections::HashSet<&HeaderValue> = cookies.iter().collect();
    assert_eq!(unique.len(), n, "session cookies are distinct");
    cookies
}

/// A session cookie holding [`CONTENTS`], issued by `layer` itself.
fn ours_cookie(rt: &Runtime, layer: tower_session_auth::SessionLayer) -> HeaderValue {
    let svc = ServiceBuilder::new().layer(layer).service_fn(ours::fill);
    cookie_from(&once(rt, &svc, None), "session")
}

fn ours(c: &mut Criterion, rt: &Runtime) {
    use tower_session_auth::AuthLayer;

    let mut g = Group::new(c, "ours");

    let layer = ours_layer(false);
    let cookie = ours_cookie(rt, layer.clone());
    case(&mut g, rt, "no_cookie", on(&layer, empty), vec![], false);
    // Over `baseline/axum_router_no_cookie`: the same router with the layer.
    case(
        &mut g,
        rt,
        "no_cookie_axum_router",
        axum_router::service(Some(layer.clone())),
        vec![],
        false,
    );
    case(
        &mut g,
        rt,
        "read_one_key",
        on(&layer, ours::read),
        vec![cookie.clone()],
        false,
    );
    case(
        &mut g,
        rt,
        "write_one_key",
        on(&layer, ours::write),
        vec![cookie],
        true,
    );

    // The read again, with a different session on each request (the verified-cookie cache misses).
    let uncached = uncached_sessions();
    if wanted("ours/read_one_key_uncached") {
        let cookies = distinct_cookies(rt, &on(&layer, ours::fill_unique), uncached);
        let read = on(&layer, ours::read);
        case(&mut g, rt, "read_one_key_uncached", read, cookies, false);
    }

    let layer = ours_layer(true);
    let cookie = ours_cookie(rt, layer.clone());
    case(
        &mut g,
        rt,
        "private_read_one_key",
        on(&layer, ours::read),
        vec![cookie.clone()],
        false,
    );
    case(
        &mut g,
        rt,
        "private_write_one_key",
        on(&layer, ours::write),
        vec![cookie],
        true,
    );

    // SessionLayer outside AuthLayer, a logged-in session made by `login_user`.
    let layer = ours_layer(false);
    let login = ServiceBuilder::new()
        .layer(layer.clone())
        .service_fn(ours::login);
    let cookie = cookie_from(&once(rt, &login, None), "session");
    let store = users();
    let gate = AuthLayer::builder()
        .user_loader(move |id: u64| {
            let store = Arc::clone(&store);
            async move { store.get(&id).cloned() }
        })
        .build()
        .expect("valid configuration");
    let svc = ServiceBuilder::new()
        .layer(layer.clone())
        .layer(gate)
        .service_fn(ours::current_user);
    case(&mut g, rt, "auth_loader", svc.clone(), vec![cookie], false);
    // Logged in with a different session on each request (the verified-cookie cache misses).
    if wanted("ours/auth_loader_uncached") {
        let cookies = distinct_cookies(rt, &login, uncached);
        case(&mut g, rt, "auth_loader_uncached", svc, cookies, false);
    }

    // The same without a session auth hash (no HMAC of it per request).
    let login = ServiceBuilder::new()
        .layer(layer.clone())
        .service_fn(ours::login_plain);
    let cookie = cookie_from(&once(rt, &login, None), "session");
    let store = users();
    let gate = AuthLayer::builder()
        .user_loader(move |id: u64| {
            let store = Arc::clone(&store);
            async move { store.get(&id).cloned().map(PlainUser) }
        })
        .build()
        .expect("valid configuration");
    let svc = ServiceBuilder::new()
        .layer(layer)
        .layer(gate)
        .service_fn(ours::current_plain_user);
    case(&mut g, rt, "auth_loader_no_hash", svc, vec![cookie], false);

    g.finish();
}

// ---------------------------------------------------------------- floors

/// The least two of the targets can cost, measured in the same run, to show how far each is from
/// what no implementation of this design can avoid.
mod floor {
    use super::*;
    use http::header::{CACHE_CONTROL, VARY};
    use std::collections::hash_map::RandomState;
    use std::future::Future;
    use std::hash::BuildHasher;
    use std::pin::Pin;
    use std::sync::atomic::AtomicBool;
    use std::sync::Mutex;
    use std::task::{ready, Context, Poll, Waker};
    use tower_session_auth::CurrentUser;

    /// The least a session layer that puts a handle in the request's extensions does on a request
    /// without a cookie: a shared handle (an `Arc`), a clone of it in the extensions for the
    /// handler, and a look at it once the response is ready. Nothing else: no cookie lookup, no
    /// configuration, no response headers.
    #[derive(Clone)]
    pub(super) struct HandleOnly<S>(pub(super) S);

    #[derive(Clone, Default)]
    struct Handle(Arc<AtomicBool>);

    impl<S: Service<Req, Response = Res>> Service<Req> for HandleOnly<S> {
        type Response = Res;
        type Error = S::Error;
        type Future = HandleFuture<S::Future>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.0.poll_ready(cx)
        }

        fn call(&mut self, mut req: Req) -> Self::Future {
            let handle = Handle::default();
            req.extensions_mut().insert(handle.clone());
            HandleFuture {
                inner: self.0.call(req),
                handle,
            }
        }
    }

    pin_project_lite::pin_project! {
        pub(super) struct HandleFuture<F> {
            #[pin]
            inner: F,
            handle: Handle,
        }
    }

    impl<F: Future<Output = Result<Res, E>>, E> Future for HandleFuture<F> {
        type Output = Result<Res, E>;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let this = self.project();
            let res = ready!(this.inner.poll(cx));
            black_box(this.handle.0.load(Ordering::Relaxed));
            Poll::Ready(res)
        }
    }

    /// What a cache of verified login cookies keeps, at the least: the token it was made from,
    /// the user's id, and what the user's session auth hash was at login.
    pub(super) struct Verified {
        token: Box<[u8]>,
        user_id: u64,
        auth_hash: Vec<u8>,
    }

    type Loader =
        Arc<dyn Fn(u64) -> Pin<Box<dyn Future<Output = Option<User>> + Send>> + Send + Sync>;

    /// The least a session layer and a login gate of this design do for a logged-in request
    /// whose cookie was verified before, in one service rather than two:
    /// - find the session cookie in the `Cookie` header (`memchr`, as the crate does);
    /// - look its token up in a map of verified tokens under one lock (a keyed hash of its last
    ///   16 bytes, the whole token compared in constant time);
    /// - put a per-request session handle (an `Arc`'d `Mutex`, since a handler may change the
    ///   session) in the extensions;
    /// - read the user id under the handle's lock, run the user loader (a boxed future, polled
    ///   once), compare the user's auth hash in constant time, put `CurrentUser` in the
    ///   extensions;
    /// - on the response, `Cache-Control: no-store` and `Vary: Cookie`, as the crate's security
    ///   defaults require.
    ///
    /// Nothing else: no eviction or admission policy, no time claims or timeouts, no remember-me
    /// cookie, no error paths (it panics where the crate answers 401). So it is a floor, not an
    /// implementation.
    #[derive(Clone)]
    pub(super) struct GateOnly<S> {
        inner: S,
        hasher: RandomState,
        cache: Arc<Mutex<HashMap<u64, Arc<Verified>>>>,
        loader: Loader,
    }

    /// The request's session handle.
    #[derive(Clone)]
    struct FloorSession(Arc<Mutex<Option<Arc<Verified>>>>);

    fn key(hasher: &RandomState, token: &[u8]) -> u64 {
        let tail = token
            .last_chunk::<16>()
            .expect("a token of 16 bytes or more");
        hasher.hash_one(u128::from_ne_bytes(*tail))
    }

    fn eq_ct(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        let (mut blocks_a, mut blocks_b) = (a.chunks_exact(32), b.chunks_exact(32));
        let mut lanes = [0u64; 4];
        for (x, y) in (&mut blocks_a).zip(&mut blocks_b) {
            for (lane, (x, y)) in lanes
                .iter_mut()
                .zip(x.chunks_exact(8).zip(y.chunks_exact(8)))
            {
                let word = |w: &[u8]| u64::from_ne_bytes(w.try_into().expect("8 bytes"));
                *lane |= word(x) ^ word(y);
            }
        }
        let mut diff = lanes.iter().fold(0, |d, lane| d | lane);
        for (x, y) in blocks_a.remainder().iter().zip(blocks_b.remainder()) {
            diff |= u64::from(x ^ y);
        }
        black_box(diff) == 0
    }

    /// The value of the cookie `session`, if the request sent one.
    fn session_cookie(headers: &http::HeaderMap) -> Option<&[u8]> {
        for header in headers.get_all(COOKIE) {
            let mut rest = header.as_bytes();
            loop {
                let (pair, next) = match memchr::memchr(b';', rest) {
                    Some(end) => (&rest[..end], Some(&rest[end + 1..])),
                    None => (rest, None),
                };
                if let Some(value) = pair.trim_ascii().strip_prefix(b"session=") {
                    return Some(value);
                }
                match next {
                    Some(next) => rest = next,
                    None => break,
                }
            }
        }
        None
    }

    impl<S> GateOnly<S> {
        /// The gate over `inner`, with `users` behind its loader and `cookie` (a login of user
        /// 1) among the verified tokens.
        pub(super) fn new(inner: S, users: Arc<HashMap<u64, User>>, cookie: &HeaderValue) -> Self {
            let headers = http::HeaderMap::from_iter([(COOKIE, cookie.clone())]);
            let token = session_cookie(&headers).expect("a session cookie");
            let hasher = RandomState::new();
            let verified = Verified {
                token: token.into(),
                user_id: 1,
                auth_hash: users[&1].password_hash.clone(),
            };
            let cache = HashMap::from([(key(&hasher, token), Arc::new(verified))]);
            let loader: Loader = Arc::new(move |id| {
                let users = Arc::clone(&users);
                Box::pin(async move { users.get(&id).cloned() })
            });
            GateOnly {
                inner,
                hasher,
                cache: Arc::new(Mutex::new(cache)),
                loader,
            }
        }

        fn lookup(&self, token: &[u8]) -> Option<Arc<Verified>> {
            let cache = self.cache.lock().expect("not poisoned");
            cache
                .get(&key(&self.hasher, token))
                .filter(|v| eq_ct(&v.token, token))
                .cloned()
        }
    }

    impl<S: Service<Req, Response = Res>> Service<Req> for GateOnly<S> {
        type Response = Res;
        type Error = S::Error;
        type Future = GateFuture<S::Future>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, mut req: Req) -> Self::Future {
            // The session layer's part.
            let found = session_cookie(req.headers()).and_then(|token| self.lookup(token));
            let handle = FloorSession(Arc::new(Mutex::new(found)));
            req.extensions_mut().insert(handle.clone());
            // The gate's part.
            let id = (handle.0.lock().expect("not poisoned").as_ref())
                .expect("a verified login")
                .user_id;
            let mut loading = (self.loader)(id);
            let mut now = Context::from_waker(Waker::noop());
            let Poll::Ready(Some(user)) = loading.as_mut().poll(&mut now) else {
                panic!("the floor's loader answers at once, with a user");
            };
            let session = handle.0.lock().expect("not poisoned");
            let verified = session.as_ref().expect("a verified login");
            assert!(eq_ct(&verified.auth_hash, &user.password_hash));
            drop(session);
            req.extensions_mut().insert(CurrentUser(user));
            GateFuture {
                inner: self.inner.call(req),
                handle,
            }
        }
    }

    pin_project_lite::pin_project! {
        pub(super) struct GateFuture<F> {
            #[pin]
            inner: F,
            handle: FloorSession,
        }
    }

    impl<F: Future<Output = Result<Res, E>>, E> Future for GateFuture<F> {
        type Output = Result<Res, E>;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let this = self.project();
            let mut res = ready!(this.inner.poll(cx))?;
            // What the session layer looks at: whether the handler changed the session.
            black_box(this.handle.0.lock().expect("not poisoned").is_some());
            let headers = res.headers_mut();
            headers
                .entry(CACHE_CONTROL)
                .or_insert_with(|| HeaderValue::from_static("no-store"));
            if !headers
                .get_all(VARY)
                .iter()
                .any(|v| v.as_bytes().eq_ignore_ascii_case(b"cookie"))
            {
                headers.append(VARY, HeaderValue::from_static("Cookie"));
            }
            Poll::Ready(Ok(res))
        }
    }

    /// A handler (behind no middleware) that computes one HMAC-SHA256 over `len` bytes, what
    /// signing a session cookie of that length costs, and nothing else.
    pub(super) fn sign(
        len: usize,
    ) -> impl Fn(Req) -> std::future::Ready<Result<Res, Infallible>> + Clone {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[7; 32]);
        let input: Arc<[u8]> = vec![b'e'; len].into();
        move |_req| {
            black_box(ring::hmac::sign(&key, black_box(&input)));
            std::future::ready(Ok(ok()))
        }
    }
}

fn floors(c: &mut Criterion, rt: &Runtime) {
    let mut g = Group::new(c, "floor");
    // Over `baseline/no_middleware_no_cookie`: the floor of target (a) for this design.
    case(
        &mut g,
        rt,
        "handle_in_extensions",
        floor::HandleOnly(service_fn(empty)),
        vec![],
        false,
    );
    // Over `baseline/no_middleware`: the HMAC that `ours/write_one_key` must compute, over its
    // exact signing input (the cookie value up to the last `.`).
    let layer = ours_layer(false);
    let cookie = ours_cookie(rt, layer.clone());
    let written = once(rt, &on(&layer, ours::write), Some(&cookie));
    let set_cookie = cookie_from(&written, "session");
    let value = set_cookie.to_str().expect("ASCII");
    let signed = value
        .strip_prefix("session=")
        .and_then(|v| v.rsplit_once('.'))
        .expect("a JWS")
        .0
        .len();
    eprintln!("floor/hmac_of_written_cookie: signing input {signed} bytes");
    case(
        &mut g,
        rt,
        "hmac_of_written_cookie",
        service_fn(floor::sign(signed)),
        vec![cookie],
        false,
    );
    // Over `baseline/no_middleware`, beside `ours/auth_loader`: the least a session layer and a
    // login gate of this design do for a request logged in with a cookie verified before.
    let login = ServiceBuilder::new()
        .layer(layer.clone())
        .service_fn(ours::login);
    let cookie = cookie_from(&once(rt, &login, None), "session");
    let gate = floor::GateOnly::new(service_fn(ours::current_user), users(), &cookie);
    case(&mut g, rt, "gate_one_user", gate, vec![cookie], false);
    g.finish();
}

// ---------------------------------------------------------------- tower-sessions

mod tower_sessions_stack {
    use super::*;
    use tower_sessions::Session;

    fn session(req: &Req) -> Session {
        req.extensions()
            .get::<Session>()
            .cloned()
            .expect("SessionManagerLayer")
    }

    pub(super) async fn fill(req: Req) -> Result<Res, Infallible> {
        let session = session(&req);
        for (k, v) in contents() {
            session.insert(&k, v).await.expect("stored");
        }
        Ok(ok())
    }

    pub(super) async fn read(req: Req) -> Result<Res, Infallible> {
        let user: Option<String> = session(&req).get("user").await.expect("a string");
        assert_eq!(user.as_deref(), Some("alice"));
        Ok(ok())
    }

    pub(super) async fn write(req: Req) -> Result<Res, Infallible> {
        session(&req)
            .insert("visits", next_visit())
            .await
            .expect("stored");
        Ok(ok())
    }
}

fn tower_sessions(c: &mut Criterion, rt: &Runtime) {
    use tower_sessions::{MemoryStore, SessionManagerLayer};

    // Its defaults: a plain (unsigned) random session id in the cookie `id`, data in the store.
    let layer = SessionManagerLayer::new(MemoryStore::default());
    let fill = ServiceBuilder::new()
        .layer(layer.clone())
        .service_fn(tower_sessions_stack::fill);
    let cookie = cookie_from(&once(rt, &fill, None), "id");

    let mut g = Group::new(c, "tower_sessions");
    let read = on(&layer, tower_sessions_stack::read);
    case(
        &mut g,
        rt,
        "read_one_key",
        read,
        vec![cookie.clone()],
        false,
    );
    let write = on(&layer, tower_sessions_stack::write);
    case(&mut g, rt, "write_one_key", write, vec![cookie], true);
    g.finish();
}

// ---------------------------------------------------------------- axum-login

mod axum_login_stack {
    use super::*;
    use axum_login::{AuthSession, AuthnBackend, UserId};

    /// An in-memory user store, as the user loader of ours.
    #[derive(Clone)]
    pub(super) struct Backend {
        pub(super) users: Arc<HashMap<u64, User>>,
    }

    impl AuthnBackend for Backend {
        type User = User;
        type Credentials = ();
        type Error = Infallible;

        async fn authenticate(&self, (): ()) -> Result<Option<User>, Infallible> {
            Ok(self.users.get(&1).cloned())
        }

        async fn get_user(&self, id: &UserId<Self>) -> Result<Option<User>, Infallible> {
            Ok(self.users.get(id).cloned())
        }
    }

    fn auth_session(req: &Req) -> &AuthSession<Backend> {
        req.extensions()
            .get::<AuthSession<Backend>>()
            .expect("AuthManagerLayer")
    }

    pub(super) async fn login(req: Req) -> Result<Res, Infallible> {
        let mut auth = auth_session(&req).clone();
        for (k, v) in contents() {
            auth.session.insert(&k, v).await.expect("stored");
        }
        let alice = auth.backend.users[&1].clone();
        auth.login(&alice).await.expect("logged in");
        Ok(ok())
    }

    pub(super) async fn current_user(req: Req) -> Result<Res, Infallible> {
        let user = auth_session(&req).user.as_ref().expect("logged in");
        assert_eq!(user.name, "alice");
        Ok(ok())
    }
}

fn axum_login(c: &mut Criterion, rt: &Runtime) {
    use axum_login::tower_sessions::{MemoryStore, SessionManagerLayer};
    use axum_login::AuthManagerLayerBuilder;

    let backend = axum_login_stack::Backend { users: users() };
    let sessions = SessionManagerLayer::new(MemoryStore::default());
    let layer = AuthManagerLayerBuilder::new(backend, sessions).build();
    let login = ServiceBuilder::new()
        .layer(layer.clone())
        .service_fn(axum_login_stack::login);
    let cookie = cookie_from(&once(rt, &login, None), "id");
    // No `login_required!` gate: it is an axum `from_fn` middleware (axum's body type) and would
    // only add to axum-login's time; the handler checks the user instead.
    let svc = ServiceBuilder::new()
        .layer(layer)
        .service_fn(axum_login_stack::current_user);

    let mut g = Group::new(c, "axum_login");
    case(&mut g, rt, "authenticated", svc, vec![cookie], false);
    g.finish();
}

// ---------------------------------------------------------------- axum-extra SignedCookieJar

mod signed_jar {
    use super::*;
    use axum::response::IntoResponse;
    use axum_extra::extract::cookie::{Cookie, Key, SameSite, SignedCookieJar};

    pub(super) fn key() -> Key {
        Key::generate()
    }

    fn session_cookie(json: String) -> Cookie<'static> {
        // The attributes ours sets.
        Cookie::build(("session", json))
            .path("/")
            .secure(true)
            .http_only(true)
            .same_site(SameSite::Lax)
            .build()
    }

    /// Copies the jar's `Set-Cookie` headers onto `res`, as axum does for a handler returning
    /// `(jar, response)`.
    fn set_cookies(jar: SignedCookieJar, res: &mut Res) {
        let parts = jar.into_response();
        for value in parts.headers().get_all(SET_COOKIE) {
            res.headers_mut().append(SET_COOKIE, value.clone());
        }
    }

    /// The `Cookie` header for a signed cookie holding [`CONTENTS`].
    pub(super) fn cookie(key: &Key) -> HeaderValue {
        let jar = SignedCookieJar::new(key.clone()).add(session_cookie(CONTENTS.into()));
        let mut res = ok();
        set_cookies(jar, &mut res);
        cookie_from(&res, "session")
    }

    /// The session map from the signed cookie.
    fn load(jar: &SignedCookieJar) -> Map<String, Value> {
        let cookie = jar.get("session").expect("a valid signed cookie");
        serde_json::from_str(cookie.value()).expect("a JSON map")
    }

    pub(super) fn read(req: Req, key: Key) -> Result<Res, Infallible> {
        let jar = SignedCookieJar::from_headers(req.headers(), key);
        let map = load(&jar);
        let user = map.get("user").map(String::deserialize).transpose();
        assert_eq!(user.expect("a string").as_deref(), Some("alice"));
        Ok(ok())
    }

    pub(super) fn read_write(req: Req, key: Key) -> Result<Res, Infallible> {
        let jar = SignedCookieJar::from_headers(req.headers(), key);
        let mut map = load(&jar);
        let user = map.get("user").map(String::deserialize).transpose();
        assert_eq!(user.expect("a string").as_deref(), Some("alice"));
        map.insert("visits".into(), next_visit().into());
        let json = serde_json::to_string(&map).expect("serialisable");
        let jar = jar.add(session_cookie(json));
        let mut res = ok();
        set_cookies(jar, &mut res);
        Ok(res)
    }
}

fn axum_extra_signed(c: &mut Criterion, rt: &Runtime) {
    let key = signed_jar::key();
    let cookie = signed_jar::cookie(&key);
    let svc = |h: fn(Req, axum_extra::extract::cookie::Key) -> Result<Res, Infallible>| {
        let key = key.clone();
        service_fn(move |req| std::future::ready(h(req, key.clone())))
    };

    let mut g = Group::new(c, "axum_extra_signed");
    case(
        &mut g,
        rt,
        "read",
        svc(signed_jar::read),
        vec![cookie.clone()],
        false,
    );
    let read_write = svc(signed_jar::read_write);
    case(&mut g, rt, "read_write", read_write, vec![cookie], true);
    g.finish();
}

// ---------------------------------------------------------------- main

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}

fn all(c: &mut Criterion) {
    let rt = runtime();
    baseline(c, &rt);
    floors(c, &rt);
    ours(c, &rt);
    tower_sessions(c, &rt);
    axum_login(c, &rt);
    axum_extra_signed(c, &rt);
    many::all(c, &rt);
}

/// Short runs, so that the whole suite fits in a few minutes on a shared machine; the command
/// line's `--warm-up-time`, `--measurement-time` and `--sample-size` override them.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(20)
}

fn main() {
    if count_mode().is_some() {
        all(&mut Criterion::default());
        return;
    }
    let mut c = config().configure_from_args();
    all(&mut c);
    c.final_summary();
}
