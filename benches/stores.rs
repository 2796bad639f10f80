//! What the session registry and the server-side session store cost a request, beside
//! tower-sessions' stores, in one binary (BENCHMARKS.md, "Session registry and server-side
//! store").
//!
//! Every case is driven as in `compare.rs`: a tower service polled ready (`ready().await`, then
//! `call`) over a trivial handler answering an empty `200`, on a current-thread tokio runtime
//! (with its I/O and timer drivers on, which the Redis clients need, for every case alike), each
//! iteration building the same `GET /account` request with the stack's own `Cookie`.
//!
//! - `registry`: a logged-in session (made by `login_user`, since anonymous sessions never reach
//!   the registry) whose handler reads one key, in the stateless cookie, with `MemoryRegistry`
//!   and with `RedisRegistry`.
//! - `store`: server-side placement (`SessionLayerBuilder::store`) with `MemoryStore` and with a
//!   `RedisRegistry`, beside tower-sessions' `MemoryStore` (0.15 and 0.14) and
//!   tower-sessions-redis-store (whose newest release is built on tower-sessions 0.14): read one
//!   key and write one key of the 96-byte session `compare.rs` uses, and the same in a session
//!   of 16 KiB of JSON.
//!
//! The Redis cases need `TSA_REDIS_URL` (`bash .ci/redis.sh cargo bench --manifest-path
//! benches/Cargo.toml --bench stores`); without it they are skipped with a loud message. Before
//! timing, each Redis case sends 100 requests and prints how many commands Redis processed per
//! request (`INFO commandstats`, where the commands a Lua script runs count beside its
//! `EVALSHA`), and the handlers assert what they read.
//!
//! With `BENCH_COUNT=<group/case>=<n>` the binary runs that one case n times outside criterion,
//! for valgrind (`scripts/bench_stores.sh`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Debug;
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use http::header::SET_COOKIE;
use http::HeaderValue;
use serde_json::{Map, Value};
use tokio::runtime::Runtime;
use tower::util::ServiceFn;
use tower::{service_fn, Layer, Service, ServiceExt};
use tower_sessions_redis_store::fred::prelude as fred;
use tower_sessions_redis_store::fred::types::InfoKind;

#[path = "harness.rs"]
mod harness;
use harness::*;

/// The session every stack starts from, as in `compare.rs`: 96 bytes of JSON.
const CONTENTS: &str = r#"{"user":"alice","n":42,"theme":"dark","cart":[1,2,3],"lang":"en-GB","last_page":"/orders/1234"}"#;

/// The size of the big session, serialised as one JSON object.
const BIG: usize = 16 * 1024;

/// [`CONTENTS`], or [`CONTENTS`] with a `notes` string that brings it to exactly [`BIG`] bytes
/// of JSON.
fn contents(big: bool) -> Map<String, Value> {
    let mut map: Map<String, Value> = serde_json::from_str(CONTENTS).expect("valid JSON");
    if big {
        map.insert("notes".into(), Value::String(String::new()));
        let short = serde_json::to_string(&map).expect("serialisable").len();
        map.insert("notes".into(), Value::String("n".repeat(BIG - short)));
        assert_eq!(
            serde_json::to_string(&map).expect("serialisable").len(),
            BIG
        );
    }
    map
}

/// `handler` behind `layer`.
fn on<L: Layer<ServiceFn<H>>, H>(layer: &L, handler: H) -> L::Service {
    layer.layer(service_fn(handler))
}

/// Counting mode, for valgrind (`scripts/bench_stores.sh`): `BENCH_COUNT=<group/case>=<n>` runs
/// only that case, once, then n times, outside criterion.
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

/// A criterion group and its name.
struct Group<'c> {
    name: &'static str,
    criterion: BenchmarkGroup<'c, WallTime>,
}

/// How a case checks itself once before timing.
#[derive(Clone, Copy)]
enum Expect {
    /// A read: no `Set-Cookie` (nothing changed).
    NoSetCookie,
    /// A write: whatever the stack does (printed).
    Any,
}

/// Checks the case once, counts Redis' commands per request when `redis` is given, then times
/// it (or, in counting mode, runs it).
fn case<S>(
    g: &mut Group<'_>,
    rt: &Runtime,
    name: &str,
    svc: S,
    cookie: HeaderValue,
    expect: Expect,
    redis: Option<&RedisInfo>,
) where
    S: Service<Req, Response = Res> + Clone + 'static,
    S::Error: Debug,
    S::Future: 'static,
{
    let full_name = format!("{}/{name}", g.name);
    let counting = count_mode();
    if counting.is_some_and(|(only, _)| *only != full_name) {
        return;
    }
    let res = once(rt, &svc, Some(&cookie));
    assert!(res.status().is_success(), "{full_name}: {}", res.status());
    let set_cookie = res.headers().contains_key(SET_COOKIE);
    if matches!(expect, Expect::NoSetCookie) {
        assert!(!set_cookie, "{full_name}: a read sent Set-Cookie");
    }
    let commands = redis.map(|info| {
        const N: u64 = 100;
        let before = info.commandstats(rt);
        rt.block_on(timed(svc.clone(), cookie.clone(), N));
        let after = info.commandstats(rt);
        per_request(&before, &after, N)
    });
    eprintln!(
        "{full_name}: Cookie header {} bytes, Set-Cookie {}{}",
        cookie.len(),
        if set_cookie { "yes" } else { "no" },
        commands.map_or(String::new(), |c| format!(
            ", Redis commands/request (commands a script runs count too): {c}"
        )),
    );
    if let Some((_, iters)) = counting {
        rt.block_on(timed(svc.clone(), cookie.clone(), 1));
        // A clone, as criterion's loop gets: the service is dropped after the count.
        let elapsed = rt.block_on(timed(svc.clone(), cookie.clone(), *iters));
        eprintln!("{full_name}: {iters} iterations in {elapsed:?}");
        return;
    }
    g.criterion.bench_function(name, |b| {
        b.to_async(rt)
            .iter_custom(|iters| timed(svc.clone(), cookie.clone(), iters));
    });
}

/// The timed loop: `iters` requests, one after the other, each built here.
async fn timed<S>(mut svc: S, cookie: HeaderValue, iters: u64) -> Duration
where
    S: Service<Req, Response = Res>,
    S::Error: Debug,
{
    let start = Instant::now();
    for _ in 0..iters {
        let req = request(Some(&cookie));
        let ready = svc.ready().await.expect("ready");
        let res = ready.call(req).await.expect("infallible");
        black_box(res);
    }
    start.elapsed()
}

// ---------------------------------------------------------------- Redis

/// The Redis server's URL, or `None` (with a loud message, once) when `TSA_REDIS_URL` is unset.
fn redis_url() -> Option<&'static str> {
    static URL: OnceLock<Option<String>> = OnceLock::new();
    URL.get_or_init(|| {
        let url = std::env::var("TSA_REDIS_URL").ok().filter(|u| !u.is_empty());
        if url.is_none() {
            eprintln!();
            eprintln!("!!!!!!!! TSA_REDIS_URL is not set: SKIPPING every Redis case of this bench.");
            eprintln!("!!!!!!!! Run it as `bash .ci/redis.sh cargo bench --manifest-path benches/Cargo.toml --bench stores`");
            eprintln!("!!!!!!!! or set TSA_REDIS_URL=redis://127.0.0.1:PORT for a running server.");
            eprintln!();
        }
        url
    })
    .as_deref()
}

/// A fred client of the bench's own (not one a stack times), for `INFO`.
struct RedisInfo(fred::Client);

fn fred_client(rt: &Runtime, url: &str) -> fred::Client {
    use fred::ClientLike;
    let config = fred::Config::from_url(url).expect("a valid Redis URL");
    let client = fred::Client::new(config, None, None, None);
    rt.block_on(async {
        client.init().await.expect("Redis reachable");
    });
    client
}

impl RedisInfo {
    /// `calls` per command from `INFO commandstats`.
    fn commandstats(&self, rt: &Runtime) -> BTreeMap<String, u64> {
        use fred::ClientLike;
        let info: String = rt
            .block_on(self.0.info(Some(InfoKind::CommandStats)))
            .expect("INFO");
        info.lines()
            .filter_map(|line| {
                let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
                let calls = rest.strip_prefix("calls=")?.split(',').next()?;
                Some((name.to_owned(), calls.parse().ok()?))
            })
            .collect()
    }
}

/// The commands between two `INFO commandstats`, per request (the `INFO` itself left out).
fn per_request(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>, n: u64) -> String {
    let mut parts = Vec::new();
    for (name, &calls) in after {
        let delta = calls - before.get(name).copied().unwrap_or(0);
        let delta = if name == "info" { delta - 1 } else { delta };
        if delta > 0 {
            parts.push(format!("{name} {}", delta as f64 / n as f64));
        }
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

// ---------------------------------------------------------------- ours

mod ours {
    use super::*;
    use tower_session_auth::{login_user, AuthUser, SessionDict};

    #[derive(Clone)]
    struct Alice;

    impl AuthUser for Alice {
        type Id = u64;
        fn id(&self) -> u64 {
            1
        }
    }

    fn session(req: &Req) -> &SessionDict {
        req.extensions().get::<SessionDict>().expect("SessionLayer")
    }

    fn fill_with(req: &Req, big: bool) {
        let session = session(req);
        for (k, v) in contents(big) {
            session.insert(&k, v).expect("fits");
        }
    }

    pub(super) async fn fill(req: Req) -> Result<Res, Infallible> {
        fill_with(&req, false);
        Ok(ok())
    }

    pub(super) async fn fill_big(req: Req) -> Result<Res, Infallible> {
        fill_with(&req, true);
        Ok(ok())
    }

    /// A login, then the data (a login keeps the data of the same user only).
    pub(super) async fn login(req: Req) -> Result<Res, Infallible> {
        login_user(session(&req), &Alice, false).expect("fits");
        fill_with(&req, false);
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
}

fn layer(
    configure: impl FnOnce(
        tower_session_auth::SessionLayerBuilder,
    ) -> tower_session_auth::SessionLayerBuilder,
) -> tower_session_auth::SessionLayer {
    // Defaults otherwise: idle timeout 30 minutes, so the registry's `last_seen` write (at most
    // once per quarter of it) and the cookie's re-issue do not happen within a run.
    configure(tower_session_auth::SessionLayer::builder(
        tower_session_auth::Key::generate(),
    ))
    .build()
    .expect("valid configuration")
}

/// The session cookie `issuer` sets on a request without a cookie.
fn issued<S>(rt: &Runtime, issuer: &S) -> HeaderValue
where
    S: Service<Req, Response = Res> + Clone,
    S::Error: Debug,
{
    cookie_from(&once(rt, issuer, None), "session")
}

async fn redis_registry(url: &str) -> tower_session_auth::RedisRegistry {
    // A prefix of this run's own, so that runs never see each other's entries.
    let prefix = format!("tsa-bench-{}", std::process::id());
    tower_session_auth::RedisRegistry::builder(url)
        .key_prefix(prefix)
        .build()
        .await
        .expect("Redis reachable")
}

fn registry(c: &mut Criterion, rt: &Runtime, info: Option<&RedisInfo>) {
    let mut g = Group {
        name: "registry",
        criterion: c.benchmark_group("registry"),
    };
    // The same request through no middleware (with one of ours' login cookies).
    let stateless = layer(|b| b);
    let cookie = issued(rt, &on(&stateless, ours::login));
    let empty = service_fn(|_req: Req| async { Ok::<_, Infallible>(ok()) });
    case(
        &mut g,
        rt,
        "no_middleware",
        empty,
        cookie.clone(),
        Expect::NoSetCookie,
        None,
    );
    let read = on(&stateless, ours::read);
    case(
        &mut g,
        rt,
        "cookie_read_login",
        read,
        cookie,
        Expect::NoSetCookie,
        None,
    );

    let memory = layer(|b| b.registry(tower_session_auth::MemoryRegistry::new()));
    let cookie = issued(rt, &on(&memory, ours::login));
    let read = on(&memory, ours::read);
    case(
        &mut g,
        rt,
        "memory_read_login",
        read,
        cookie,
        Expect::NoSetCookie,
        None,
    );

    if let (Some(url), Some(info)) = (redis_url(), info) {
        let registry = rt.block_on(redis_registry(url));
        let redis = layer(|b| b.registry(registry));
        let cookie = issued(rt, &on(&redis, ours::login));
        let read = on(&redis, ours::read);
        case(
            &mut g,
            rt,
            "redis_read_login",
            read,
            cookie,
            Expect::NoSetCookie,
            Some(info),
        );
    }
    g.criterion.finish();
}

/// The four store cases of one of our layers: read and write one key, in the 96-byte session
/// and in the 16 KiB one.
fn ours_store_cases(
    g: &mut Group<'_>,
    rt: &Runtime,
    prefix: &str,
    layer: &tower_session_auth::SessionLayer,
    info: Option<&RedisInfo>,
    big_fits: bool,
) {
    let sizes: &[(&str, bool)] = if big_fits {
        &[("", false), ("_16k", true)]
    } else {
        &[("", false)]
    };
    for &(suffix, big) in sizes {
        let cookie = if big {
            issued(rt, &on(layer, ours::fill_big))
        } else {
            issued(rt, &on(layer, ours::fill))
        };
        let read = on(layer, ours::read);
        let name = format!("{prefix}_read_one_key{suffix}");
        case(
            g,
            rt,
            &name,
            read,
            cookie.clone(),
            Expect::NoSetCookie,
            info,
        );
        let write = on(layer, ours::write);
        let name = format!("{prefix}_write_one_key{suffix}");
        case(g, rt, &name, write, cookie, Expect::Any, info);
    }
}

// ---------------------------------------------------------------- tower-sessions

/// The handlers, for tower-sessions 0.15 and 0.14 alike (same API).
macro_rules! tower_sessions_handlers {
    ($module:ident, $krate:ident) => {
        mod $module {
            use super::*;
            use $krate::Session;

            fn session(req: &Req) -> Session {
                req.extensions()
                    .get::<Session>()
                    .cloned()
                    .expect("SessionManagerLayer")
            }

            async fn fill_with(req: Req, big: bool) -> Result<Res, Infallible> {
                let session = session(&req);
                for (k, v) in contents(big) {
                    session.insert(&k, v).await.expect("stored");
                }
                Ok(ok())
            }

            pub(super) async fn fill(req: Req) -> Result<Res, Infallible> {
                fill_with(req, false).await
            }

            pub(super) async fn fill_big(req: Req) -> Result<Res, Infallible> {
                fill_with(req, true).await
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
    };
}

tower_sessions_handlers!(ts015, tower_sessions);
tower_sessions_handlers!(ts014, tower_sessions_014);

/// The four store cases of a tower-sessions layer (`$krate`'s `SessionManagerLayer` over
/// `$store`, its defaults: an unsigned random id in the cookie `id`).
macro_rules! tower_sessions_cases {
    ($g:expr, $rt:expr, $prefix:expr, $handlers:ident, $krate:ident, $store:expr, $info:expr) => {{
        let layer = $krate::SessionManagerLayer::new($store);
        for (suffix, big) in [("", false), ("_16k", true)] {
            let issued = if big {
                once($rt, &on(&layer, $handlers::fill_big), None)
            } else {
                once($rt, &on(&layer, $handlers::fill), None)
            };
            let cookie = cookie_from(&issued, "id");
            let name = format!("{}_read_one_key{suffix}", $prefix);
            let read = on(&layer, $handlers::read);
            case(
                $g,
                $rt,
                &name,
                read,
                cookie.clone(),
                Expect::NoSetCookie,
                $info,
            );
            let name = format!("{}_write_one_key{suffix}", $prefix);
            let write = on(&layer, $handlers::write);
            case($g, $rt, &name, write, cookie, Expect::Any, $info);
        }
    }};
}

fn store(c: &mut Criterion, rt: &Runtime, info: Option<&RedisInfo>) {
    let mut g = Group {
        name: "store",
        criterion: c.benchmark_group("store"),
    };
    // Ours in cookie placement, for reference (a 16 KiB session does not fit in a cookie).
    let cookie_layer = layer(|b| b);
    ours_store_cases(&mut g, rt, "ours_cookie", &cookie_layer, None, false);
    let memory = layer(|b| b.store(tower_session_auth::MemoryStore::new()));
    ours_store_cases(&mut g, rt, "ours_memory", &memory, None, true);
    tower_sessions_cases!(
        &mut g,
        rt,
        "ts015_memory",
        ts015,
        tower_sessions,
        tower_sessions::MemoryStore::default(),
        None
    );
    tower_sessions_cases!(
        &mut g,
        rt,
        "ts014_memory",
        ts014,
        tower_sessions_014,
        tower_sessions_014::MemoryStore::default(),
        None
    );
    if let (Some(url), Some(info)) = (redis_url(), info) {
        let registry = rt.block_on(redis_registry(url));
        let redis = layer(|b| b.store(registry));
        ours_store_cases(&mut g, rt, "ours_redis", &redis, Some(info), true);
        // One connection, as ours uses (redis-rs' ConnectionManager).
        let client = fred_client(rt, url);
        tower_sessions_cases!(
            &mut g,
            rt,
            "ts014_redis",
            ts014,
            tower_sessions_014,
            tower_sessions_redis_store::RedisStore::new(client),
            Some(info)
        );
    }
    g.criterion.finish();
}

// ---------------------------------------------------------------- main

fn all(c: &mut Criterion) {
    // I/O and timer drivers on: the Redis clients need them (every case runs on this runtime).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let info = redis_url().map(|url| RedisInfo(fred_client(&rt, url)));
    registry(c, &rt, info.as_ref());
    store(c, &rt, info.as_ref());
}

fn main() {
    if count_mode().is_some() {
        all(&mut Criterion::default());
        return;
    }
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .configure_from_args();
    all(&mut c);
    c.final_summary();
}
