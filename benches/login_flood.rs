//! A password-guessing flood against the login throttle, on loopback, bounded in time. Not a
//! benchmark by itself: run without `--run` (as `cargo bench` does) it prints how to use it and
//! exits. `bash scripts/login_flood.sh` builds and runs it.
//!
//! `login_flood --run [--seconds N] [--connections C]` serves, on 127.0.0.1, a cheap page
//! (`GET /cheap`, through `SessionLayer`) and a login (`POST /login`: `LoginThrottle::check`,
//! then PBKDF2-HMAC-SHA256 with 100,000 iterations on a blocking thread, as the demo hashes).
//! Then, for N seconds each (default 10):
//!
//! 1. **baseline**: one client on 127.0.0.3 fetches `/cheap` in a loop;
//! 2. **flood, throttled**: the same, while C connections (default 32) from 127.0.0.2 post wrong
//!    passwords as fast as the server answers, sprayed over many usernames and aimed at one;
//! 3. **flood, unthrottled**: the same flood against budgets too large to matter, so only the
//!    bound on concurrent hashes stands between the flood and the cores.
//!
//! It prints the cheap page's median and 99th-percentile latency in each phase, the flood's
//! answers by status, and the hashes computed beside what the budgets allow. Every socket is on
//! loopback; the server and the clients share this machine's cores.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket};
use tower_session_auth::{Budget, HashLimit, Key, LoginThrottle, SessionDict, SessionLayer};

const ITERATIONS: NonZeroU32 = match NonZeroU32::new(100_000) {
    Some(n) => n,
    None => unreachable!(),
};

#[derive(Clone)]
struct Server {
    throttle: LoginThrottle,
    hashes: Arc<AtomicU64>,
    /// How long a `429` waits before it is sent (a tarpit), if at all.
    tarpit: Duration,
}

async fn cheap(session: SessionDict) -> &'static str {
    let _ = session.get::<u64>("n");
    "ok"
}

async fn login(
    State(server): State<Server>,
    ConnectInfo(_peer): ConnectInfo<SocketAddr>,
    parts: Parts,
    body: String,
) -> Response {
    let username = form_value(&body, "username");
    let password = form_value(&body, "password");
    let mut attempt = match server.throttle.check(&parts, &username).await {
        Ok(attempt) => attempt,
        Err(refusal) => {
            if refusal.status() == StatusCode::TOO_MANY_REQUESTS && !server.tarpit.is_zero() {
                // A client that ignores `Retry-After` waits for its refusals: a flood over a
                // few connections becomes a trickle, at the cost of a timer per refusal.
                tokio::time::sleep(server.tarpit).await;
            }
            return refusal.into_response::<axum::body::Body>();
        }
    };
    let permit = attempt.take_permit();
    let hashes = Arc::clone(&server.hashes);
    let ok = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        hashes.fetch_add(1, Ordering::Relaxed);
        let mut out = [0u8; 32];
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            ITERATIONS,
            b"salt",
            password.as_bytes(),
            &mut out,
        );
        out[0] == 0xFF && out[1] == 0xFF && out[2] == 0xFF // never, in practice
    })
    .await
    .unwrap_or(false);
    if ok {
        let _ = attempt.succeeded().await;
        StatusCode::SEE_OTHER.into_response()
    } else {
        attempt.failed();
        (StatusCode::UNAUTHORIZED, "invalid username or password").into_response()
    }
}

fn form_value(body: &str, name: &str) -> String {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

/// Serves the app on a free loopback port, on its own runtime (two worker threads).
fn serve(throttle: LoginThrottle, hashes: Arc<AtomicU64>, tarpit: Duration) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let sessions = SessionLayer::builder(Key::generate())
                .secure(false)
                .build()
                .expect("valid");
            let app = Router::new()
                .route("/cheap", get(cheap))
                .route("/login", post(login))
                .with_state(Server {
                    throttle,
                    hashes,
                    tarpit,
                })
                .layer(sessions);
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .expect("serve");
        });
    });
    rx.recv().expect("the server started")
}

/// A keep-alive HTTP/1.1 connection from a loopback address.
struct Conn {
    stream: BufReader<tokio::net::TcpStream>,
    server: SocketAddr,
}

impl Conn {
    async fn open(server: SocketAddr, from: &str) -> Conn {
        let socket = TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::new(from.parse::<IpAddr>().expect("ip"), 0))
            .expect("bind");
        let stream = socket.connect(server).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Conn {
            stream: BufReader::new(stream),
            server,
        }
    }

    /// Sends one request and reads the answer; its status.
    async fn send(&mut self, method: &str, path: &str, body: &str) -> std::io::Result<u16> {
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            self.server,
            body.len()
        );
        self.stream.get_mut().write_all(req.as_bytes()).await?;
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status = line.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut length = 0usize;
        loop {
            line.clear();
            if self.stream.read_line(&mut line).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        self.stream.read_exact(&mut body).await?;
        Ok(status)
    }
}

struct Phase {
    median: Duration,
    p99: Duration,
    samples: usize,
    flood: BTreeMap<u16, u64>,
    hashes: u64,
}

/// One phase: the cheap client for `seconds`, with `connections` flooding or none.
async fn phase(server: SocketAddr, hashes: &AtomicU64, seconds: u64, connections: usize) -> Phase {
    let before = hashes.load(Ordering::Relaxed);
    let stop = Arc::new(AtomicBool::new(false));
    let answers: Arc<Mutex<BTreeMap<u16, u64>>> = Arc::default();
    let mut flooders = Vec::new();
    for c in 0..connections {
        let (stop, answers) = (Arc::clone(&stop), Arc::clone(&answers));
        flooders.push(tokio::spawn(async move {
            let mut conn = Conn::open(server, "127.0.0.2").await;
            let mut mine = BTreeMap::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                // Half aimed at one account, half sprayed over many.
                let user = if i.is_multiple_of(2) {
                    "susan".to_owned()
                } else {
                    format!("user{c}x{i}")
                };
                let body = format!("username={user}&password=guess{i}");
                match conn.send("POST", "/login", &body).await {
                    Ok(status) => *mine.entry(status).or_insert(0) += 1,
                    Err(_) => conn = Conn::open(server, "127.0.0.2").await,
                }
            }
            let mut all = answers.lock().expect("lock");
            for (status, n) in mine {
                *all.entry(status).or_insert(0) += n;
            }
        }));
    }
    // Let the flood get going before measuring.
    if connections > 0 {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut cheap = Conn::open(server, "127.0.0.3").await;
    let mut latencies = Vec::new();
    let end = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < end {
        let t = Instant::now();
        let status = cheap.send("GET", "/cheap", "").await.expect("cheap page");
        latencies.push(t.elapsed());
        assert_eq!(status, 200);
        // A browser-like pace, not a second flood.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for f in flooders {
        let _ = f.await;
    }
    // Hashes still running when the flood stopped are counted once they finish.
    tokio::time::sleep(Duration::from_millis(500)).await;
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    let flood = answers.lock().expect("lock").clone();
    Phase {
        median: at(0.5),
        p99: at(0.99),
        samples: latencies.len(),
        flood,
        hashes: hashes.load(Ordering::Relaxed) - before,
    }
}

fn print(name: &str, p: &Phase) {
    let flood: Vec<String> = p.flood.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    println!(
        "{name:<22} cheap median {:>8.1?}  p99 {:>8.1?}  ({} requests)  flood answers [{}]  hashes {}",
        p.median,
        p.p99,
        p.samples,
        flood.join(", "),
        p.hashes
    );
}

fn arg(name: &str) -> Option<u64> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1)?.parse().ok()
}

fn main() {
    if !std::env::args().any(|a| a == "--run") {
        println!(
            "login_flood: a password-guessing flood against the login throttle, on loopback.\n\
             Run: bash scripts/login_flood.sh (or this binary with --run [--seconds N] [--connections C])"
        );
        return;
    }
    let seconds = arg("--seconds").unwrap_or(10);
    let connections = arg("--connections").unwrap_or(32) as usize;
    let limit = HashLimit::for_this_machine();
    // A new throttle (and counters) for each phase: the default budgets, or budgets too large
    // to matter.
    let throttle = |throttled: bool| {
        let unlimited = Budget::new(u32::MAX, Duration::from_secs(1));
        let builder = LoginThrottle::builder(Key::generate()).hash_limit(limit.clone());
        let builder = if throttled {
            builder
        } else {
            builder.per_address(unlimited).per_account(unlimited)
        };
        builder.build().expect("valid")
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "{seconds} s per phase, {connections} flooding connections from 127.0.0.2, the cheap \
         client on 127.0.0.3; at most {} hashes at once; {} cores",
        limit.max(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let tarpit = Duration::from_millis(arg("--tarpit-ms").unwrap_or(250));
    let run = |throttle: LoginThrottle, tarpit: Duration, flooders: usize| {
        let hashes = Arc::new(AtomicU64::new(0));
        let server = serve(throttle, Arc::clone(&hashes), tarpit);
        rt.block_on(phase(server, &hashes, seconds, flooders))
    };
    let baseline = run(throttle(true), Duration::ZERO, 0);
    print("baseline", &baseline);
    let at_once = run(throttle(true), Duration::ZERO, connections);
    print("throttled, 429 at once", &at_once);
    let tarpitted = run(throttle(true), tarpit, connections);
    print(
        &format!("throttled, 429 +{}ms", tarpit.as_millis()),
        &tarpitted,
    );
    let open = run(throttle(false), Duration::ZERO, connections);
    print("unthrottled", &open);

    // What the default budgets allow one address over a phase (plus the warm-up): the burst of
    // 10, then one a minute.
    let allowed = 10 + (seconds + 1) / 60 + 1;
    let ratio = |p: &Phase| p.median.as_secs_f64() / baseline.median.as_secs_f64();
    for (name, p) in [
        ("throttled, 429 at once", &at_once),
        ("throttled, tarpit", &tarpitted),
        ("unthrottled", &open),
    ] {
        println!(
            "{name:<22} cheap median {:.2}x the baseline; {} hashes computed (the budgets allow {allowed})",
            ratio(p),
            p.hashes
        );
    }
    let ok = ratio(&tarpitted) <= 2.0 && tarpitted.hashes <= allowed && at_once.hashes <= allowed;
    println!(
        "{}: with the tarpit, a median within 2x and no more hashes than the budgets allow",
        if ok { "PASS" } else { "FAIL" }
    );
    if !ok {
        std::process::exit(1);
    }
}
