//! Where the tests find Redis: the variables `.ci/redis.sh` exports, and `redis-server` on the
//! `PATH` for tests that run a server of their own.
//!
//! Without them a test skips with a loud `SKIPPED:` line on stderr, except under CI (`CI` set),
//! where it fails: there Redis is required.
#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const HOW: &str = "bash .ci/redis.sh cargo test --all-features starts Redis and sets them";

/// Skips (returns `None`) or, under CI, fails.
fn missing<T>(what: &str) -> Option<T> {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("Redis is required under CI (CI is set): {what} ({HOW})");
    }
    // Straight to the process's stderr: the test harness captures `eprintln!`, and would hide the
    // message of a test that passes.
    let _ = writeln!(
        std::io::stderr(),
        "\n**********\nSKIPPED: {what} ({HOW})\n**********\n"
    );
    None
}

/// The standalone server's URL, `TSA_REDIS_URL`.
pub fn standalone_url() -> Option<String> {
    match std::env::var("TSA_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => missing("no standalone Redis: set TSA_REDIS_URL"),
    }
}

/// The cluster's node URLs, `TSA_REDIS_CLUSTER_URLS` (comma-separated).
pub fn cluster_urls() -> Option<Vec<String>> {
    match std::env::var("TSA_REDIS_CLUSTER_URLS") {
        Ok(urls) if !urls.is_empty() => Some(urls.split(',').map(str::to_owned).collect()),
        _ => missing("no Redis Cluster: set TSA_REDIS_CLUSTER_URLS"),
    }
}

/// A string unique to this run of the tests, so that reruns against one server never collide.
pub fn run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("t{}-{nanos}", std::process::id())
}

/// A free port on 127.0.0.1 (free when asked).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `redis-server` this test runs itself, on a port of its own; killed by PID when dropped.
pub struct OwnServer {
    pub port: u16,
    args: Vec<String>,
    child: Option<Child>,
}

impl OwnServer {
    /// Starts `redis-server` with `extra` arguments, or skips (fails under CI) when there is none.
    pub fn start(extra: &[&str]) -> Option<OwnServer> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return missing("no redis-server on the PATH");
        }
        let port = free_port();
        let mut args: Vec<String> = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            &std::env::temp_dir().to_string_lossy(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let mut server = OwnServer {
            port,
            args,
            child: None,
        };
        server.restart();
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// Starts the server again on the same port, and waits until it accepts connections.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new("redis-server")
            .args(&self.args)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "redis-server on port {} never accepted a connection",
            self.port
        );
    }

    /// Kills the server (SIGKILL to its PID) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` (`STOP`, `CONT`) to the server's PID.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.kill();
    }
}
