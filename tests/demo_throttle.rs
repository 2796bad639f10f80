//! The demo's login throttle over real HTTP on loopback, each client from its own loopback
//! address (127.0.0.x), as `cargo run --example demo` serves it: with axum's `ConnectInfo`
//! (SECURITY.md THR).

mod common;
#[path = "../examples/demo/app.rs"]
mod demo;
#[path = "../examples/demo/users.rs"]
mod users;

use std::net::{IpAddr, SocketAddr};

use common::key;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use users::PasswordHashing;

/// The demo, served on a free loopback port with the connection's address.
async fn serve(hashing: PasswordHashing) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app =
        demo::app_with_hashing(key(), hashing).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `name=value` of the cookie `name` set by this reply.
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.split(';').next().unwrap().to_owned())
            .find(|c| c.starts_with(&format!("{name}=")))
    }
}

/// One HTTP/1.1 request from the loopback address `from`.
async fn send(server: SocketAddr, from: &str, head: &str, body: &str) -> Reply {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    let mut stream = socket.connect(server).await.unwrap();
    let request = format!(
        "{head}\r\nHost: {server}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

async fn login(server: SocketAddr, from: &str, form: &str, extra: &str) -> Reply {
    // A guessing script sends whatever headers pass the demo's CSRF check; the throttle is what
    // stops it.
    let head = format!(
        "POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Sec-Fetch-Site: same-origin{extra}"
    );
    send(server, from, &head, form).await
}

fn is_throttled(r: &Reply) {
    assert_eq!(r.status, 429, "{r:?}");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 300, "{r:?}");
    assert!(r.body.contains("Too many attempts"), "{r:?}");
    assert!(r.cookie("session").is_none(), "no login: {r:?}");
}

#[tokio::test]
async fn thr_10_ten_failures_then_429_even_with_the_right_password() {
    let hashing = PasswordHashing::for_this_machine();
    let server = serve(hashing.clone()).await;
    let attacker = "127.0.0.2";
    for i in 0..10 {
        // A new X-Forwarded-For each time: the demo trusts no proxy, so it changes nothing.
        let spoof = format!("\r\nX-Forwarded-For: 10.9.8.{i}");
        let r = login(server, attacker, "username=susan&password=guess", &spoof).await;
        assert_eq!(r.status, 401, "attempt {i}: {r:?}");
    }
    let r = login(server, attacker, "username=susan&password=hello", "").await;
    is_throttled(&r);
    // Both budgets are spent; the account's (five minutes, less what the test took) is longer.
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 240, "{r:?}");
    // Another account from the same client: the address's budget is spent too.
    is_throttled(&login(server, attacker, "username=david&password=bye", "").await);
    assert_eq!(
        hashing.hashes_started(),
        10,
        "no hash after the budget was spent"
    );
    // Another client is not affected.
    let r = login(server, "127.0.0.9", "username=david&password=bye", "").await;
    assert_eq!(r.status, 303, "{r:?}");
}

#[tokio::test]
async fn thr_10_susan_on_her_known_device_still_logs_in() {
    let server = serve(PasswordHashing::for_this_machine()).await;
    // Susan logged in on her laptop earlier: the demo set her known-device cookie.
    let laptop = "127.0.0.3";
    let r = login(server, laptop, "username=susan&password=hello", "").await;
    assert_eq!(r.status, 303, "{r:?}");
    let device = r.cookie("device").expect("a known-device cookie");
    assert!(r.cookie("session").is_some());
    // The attacker spends its address's budget and susan's account's.
    for _ in 0..10 {
        login(server, "127.0.0.2", "username=susan&password=guess", "").await;
    }
    is_throttled(&login(server, "127.0.0.2", "username=susan&password=hello", "").await);
    // A browser without the cookie is throttled for susan's account...
    is_throttled(&login(server, "127.0.0.4", "username=susan&password=hello", "").await);
    // ... but her laptop logs in.
    let with_device = format!("\r\nCookie: {device}");
    let r = login(
        server,
        laptop,
        "username=susan&password=hello",
        &with_device,
    )
    .await;
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.header("location"), Some("/"));
    let session = r.cookie("session").expect("logged in");
    // And the session works.
    let home = send(
        server,
        laptop,
        &format!("GET / HTTP/1.1\r\nAccept: text/html\r\nCookie: {session}"),
        "",
    )
    .await;
    assert_eq!(home.status, 200, "{home:?}");
    assert!(home.body.contains("Hello, susan!"));
    // The attacker's address stays throttled.
    is_throttled(&login(server, "127.0.0.2", "username=susan&password=hello", "").await);
}

#[tokio::test]
async fn thr_10_basic_is_throttled_like_the_form() {
    let hashing = PasswordHashing::for_this_machine();
    let server = serve(hashing.clone()).await;
    let basic =
        |credentials: &str| format!("GET /api/me HTTP/1.1\r\nAuthorization: Basic {credentials}");
    for _ in 0..10 {
        // susan:guess
        let r = send(server, "127.0.0.5", &basic("c3VzYW46Z3Vlc3M="), "").await;
        assert_eq!(r.status, 401, "{r:?}");
    }
    // susan:hello
    let r = send(server, "127.0.0.5", &basic("c3VzYW46aGVsbG8="), "").await;
    assert_eq!(r.status, 429, "{r:?}");
    assert!(r.header("retry-after").is_some());
    assert_eq!(hashing.hashes_started(), 10);
    // The form shares the budgets.
    is_throttled(&login(server, "127.0.0.5", "username=david&password=bye", "").await);
    // Another client's Basic login works, and spends nothing (a success gives its attempt back).
    let r = send(server, "127.0.0.6", &basic("ZGF2aWQ6Ynll"), "").await;
    assert_eq!(r.status, 200, "{r:?}");
}
