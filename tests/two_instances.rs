//! Two demo processes sharing one Redis: a logout on one instance is refused at once on the other.
//!
//! The demo binary is the one `cargo test` builds with the test's features
//! (`target/<profile>/examples/demo`); the test needs `--features redis` (`.ci/run` passes
//! `--all-features`) and a Redis (`bash .ci/redis.sh cargo test --all-features`).
#![cfg(feature = "redis")]

#[path = "common/redis.rs"]
mod redis_env;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SECRET: &str = "two instances share this secret, 32+ bytes long";

/// One demo process, killed when dropped.
struct Instance {
    child: Child,
    addr: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The demo binary next to this test's binary, if it was built with Redis.
fn demo_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let demo = exe.parent()?.parent()?.join("examples").join("demo");
    demo.is_file().then_some(demo)
}

fn spawn(demo: &PathBuf, redis_url: &str) -> Instance {
    let mut child = Command::new(demo)
        .env("DEMO_ADDR", "127.0.0.1:0")
        .env("SESSION_SECRET", SECRET)
        .env("SESSION_STORE", redis_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the demo starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("the demo said {line:?}"))
        .to_owned();
    Instance { child, addr }
}

/// One HTTP/1.1 request over a fresh connection; the status and the `Set-Cookie` pairs.
fn request(addr: &str, method: &str, path: &str, cookie: &str, form: &str) -> (u16, Vec<String>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/html\r\nConnection: close\r\n\
         Sec-Fetch-Site: same-origin\r\n"
    );
    if !cookie.is_empty() {
        head += &format!("Cookie: {cookie}\r\n");
    }
    if !form.is_empty() || method == "POST" {
        head += &format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            form.len()
        );
    }
    stream
        .write_all(format!("{head}\r\n{form}").as_bytes())
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let cookies = response
        .lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .filter(|c| !c.ends_with('='))
        .collect();
    (status, cookies)
}

#[test]
fn reg_09_a_logout_on_one_instance_is_refused_at_once_on_the_other() {
    let Some(url) = redis_env::standalone_url() else {
        return;
    };
    let Some(demo) = demo_binary() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "the demo example was not built next to this test"
        );
        eprintln!("SKIPPED: the demo example was not built (run `cargo test --all-features`)");
        return;
    };
    let (a, b) = (spawn(&demo, &url), spawn(&demo, &url));

    let (status, cookies) = request(
        &a.addr,
        "POST",
        "/login",
        "",
        "username=susan&password=hello&remember_me=on",
    );
    assert_eq!(status, 303);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("session="))
        .expect("a session cookie")
        .clone();
    let remember = cookies
        .iter()
        .find(|c| c.starts_with("_remember="))
        .expect("a remember-me cookie")
        .clone();
    let both = format!("{session}; {remember}");

    // The login made on A is good on B.
    assert_eq!(request(&b.addr, "GET", "/", &session, "").0, 200);
    // A logs out; at once, B refuses copies of both cookies.
    assert_eq!(request(&a.addr, "POST", "/logout", &both, "").0, 303);
    assert_eq!(request(&b.addr, "GET", "/", &session, "").0, 302);
    assert_eq!(request(&b.addr, "GET", "/", &remember, "").0, 302);
}
