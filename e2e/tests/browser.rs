//! End-to-end test of the demo server (`examples/demo`) in a real browser: headless Chromium,
//! driven through chromedriver (WebDriver) with `fantoccini`.
//!
//! This test is a cargo workspace of its own (`e2e/`), so that fantoccini and its dependencies stay
//! out of the crate's builds. Run it with `bash .ci/browser.sh` (installs `chromium` and
//! `chromium-driver` with apt-get when they are missing), or, from the repository root,
//! `cargo test --manifest-path e2e/Cargo.toml -- --nocapture` on a machine that has them.
//! Without a browser the test prints how to get one and passes, unless `REQUIRE_BROWSER=1`.
//!
//! Environment:
//! - `CHROMIUM`, `CHROMEDRIVER`: the programs to use (default `/usr/bin/chromium` and
//!   `/usr/bin/chromedriver`, else `chromium` / `chromedriver` on `PATH`);
//! - `REQUIRE_BROWSER=1`: a missing browser fails the test instead of skipping it;
//! - `DEMO_BIN`: an already built demo binary, instead of building it here;
//! - `UPDATE_SCREENSHOTS=1`: after a passing walk, copy its screenshots into `docs/screenshots/`
//!   (the README's images); without it the test writes no tracked file.
//!
//! The demo is an example of the main package (`../Cargo.toml`), not of this one, and Cargo gives
//! integration tests only the paths of their own package's `[[bin]]` targets (`CARGO_BIN_EXE_*`).
//! So the test runs `$CARGO build --example demo --manifest-path ../Cargo.toml
//! --message-format=json` itself (the same cargo and profile as the test; the main package's
//! target directory, `target/` or `$CARGO_TARGET_DIR`, where `cargo test` has usually built it
//! already), and takes the executable's path from Cargo's `compiler-artifact` message: a no-op
//! when it is up to date, never a stale binary, and right whatever the target directory is. Cargo
//! has released the build directory lock by the time it runs the test binary, so this does not
//! deadlock even with a shared `CARGO_TARGET_DIR`; the build is bounded by a timeout anyway.
//!
//! Screenshots of the login page and of the logged-in page, the chromedriver and demo logs (and a
//! screenshot and the page source on failure) go to `browser-artifacts/` in this package's
//! target directory (`e2e/target/browser-artifacts/`, or `$CARGO_TARGET_DIR/browser-artifacts/`).

use std::ffi::OsString;
use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fantoccini::cookies::Cookie;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
// chromedriver speaks plain http on loopback, so fantoccini runs without its TLS features, on a
// bare connector (hyper-util's `client-legacy`, which fantoccini itself turns on).
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use url::Url;

/// Building the demo (normally a no-op: `cargo test` or `cargo run --example demo` built it).
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);
/// Each process start: the demo printing its address, chromedriver accepting connections.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Creating the WebDriver session (starts Chromium).
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);
/// The whole walk through the demo.
const WALK_TIMEOUT: Duration = Duration::from_secs(60);
/// One navigation or one wait for the page to show something.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

const SESSION_SECRET: &str = "browser test secret, at least 32 bytes long";

#[tokio::test]
async fn demo_in_headless_chromium() {
    let started = Instant::now();
    let tools = match Tools::find() {
        Ok(tools) => tools,
        Err(missing) => {
            let require = std::env::var_os("REQUIRE_BROWSER").is_some_and(|v| v == "1");
            let message = format!(
                "browser test: {missing}.\n  To run it: `bash .ci/browser.sh` (installs chromium and \
                 chromium-driver with apt-get, then runs this test), or `apt-get install chromium \
                 chromium-driver` and `cargo test --manifest-path e2e/Cargo.toml`."
            );
            assert!(!require, "{message}\n  (failing because REQUIRE_BROWSER=1)");
            // Straight to stderr: libtest captures `eprintln!`, and a skip should be visible.
            let _ = writeln!(
                std::io::stderr(),
                "{message}\n  Skipped (passes without a browser)."
            );
            return;
        }
    };
    say(&format!(
        "{} ({}), {} ({})",
        tools.chromium.display(),
        version(&tools.chromium),
        tools.chromedriver.display(),
        version(&tools.chromedriver)
    ));

    let artifacts = artifacts_dir();
    let demo_bin = demo_binary();
    say(&format!(
        "demo binary {} ready after {:.1?}",
        demo_bin.display(),
        started.elapsed()
    ));

    let walk_started = Instant::now();
    let demo = Demo::start(&demo_bin, &artifacts);
    let driver = ChromeDriver::start(&tools.chromedriver, &artifacts);
    let profile = TempDir::new("tower-session-auth-browser-profile");
    let caps = capabilities(&tools.chromium, &profile.0);
    let connect = async {
        ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
    };
    let client = match tokio::time::timeout(SESSION_TIMEOUT, connect).await {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => panic!(
            "starting Chromium through chromedriver failed: {e}\n(see {})",
            artifacts.join("chromedriver.log").display()
        ),
        Err(_) => panic!("starting Chromium through chromedriver took over {SESSION_TIMEOUT:?}"),
    };
    say(&format!(
        "browser session up after {:.1?}",
        walk_started.elapsed()
    ));

    // The walk runs as its own task so that a failed assertion (a panic) or the timeout still
    // leaves this task a live session to take a screenshot of where it stopped.
    let site = demo.site.clone();
    let mut walk = tokio::spawn(walk(client.clone(), site, artifacts.clone()));
    let outcome = tokio::time::timeout(WALK_TIMEOUT, &mut walk).await;
    walk.abort(); // A no-op unless it timed out.
    let failure = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(if e.is_panic() {
            panic_message(e.into_panic())
        } else {
            format!("the walk did not finish: {e}")
        }),
        Err(_) => Some(format!("the walk took over {WALK_TIMEOUT:?}")),
    };
    if failure.is_some() {
        save_failure_state(&client, &artifacts).await;
        let _ = writeln!(
            std::io::stderr(),
            "browser test failed; artefacts in {}",
            artifacts.display()
        );
    }
    // Ends Chromium cleanly; the guards kill whatever is left either way.
    let _ = tokio::time::timeout(STEP_TIMEOUT, client.close()).await;
    drop(driver);
    drop(demo);
    drop(profile);
    if let Some(failure) = failure {
        panic!("{failure}");
    }
    say(&format!(
        "browser walk passed in {:.1?} ({:.1?} with the demo build)",
        walk_started.elapsed(),
        started.elapsed()
    ));
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        update_screenshots(&artifacts);
    }
}

/// The screenshots a walk takes; the README shows them from `docs/screenshots/`.
const SCREENSHOTS: [&str; 2] = ["login.png", "home.png"];

/// Copies this run's screenshots into the repository's `docs/screenshots/` (`UPDATE_SCREENSHOTS=1`).
fn update_screenshots(artifacts: &Path) {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&docs).expect("create docs/screenshots");
    for name in SCREENSHOTS {
        let png = std::fs::read(artifacts.join(name))
            .unwrap_or_else(|e| panic!("read {}: {e}", artifacts.join(name).display()));
        save(&docs.join(name), &png);
    }
    say(&format!(
        "UPDATE_SCREENSHOTS=1: copied {} into docs/screenshots/",
        SCREENSHOTS.join(" and ")
    ));
}

/// The demo's address, as the browser sees it.
#[derive(Clone)]
struct Site {
    base: Url,
}

impl Site {
    fn url(&self, path_and_query: &str) -> String {
        format!(
            "{}{}",
            self.base.as_str().trim_end_matches('/'),
            path_and_query
        )
    }
}

/// The steps, in one browser session (one cookie jar) from start to end.
async fn walk(c: Client, site: Site, artifacts: PathBuf) {
    step("1. `/` asks to log in, keeping where the user was going");
    goto(&c, &site.url("/")).await;
    let url = wait_for_heading(&c, "Log in").await;
    assert_eq!(
        url.path(),
        "/login",
        "`/` should redirect to the login page, got {url}"
    );
    assert_eq!(query(&url, "next").as_deref(), Some("/"), "`next` in {url}");
    assert_eq!(c.title().await.expect("title"), "Log in");
    let png = c.screenshot().await.expect("screenshot of the login page");
    save(&artifacts.join("login.png"), &png);

    step("2. a wrong password shows the error and logs nobody in");
    log_in(&c, "susan", "wrong password", false).await;
    let url = wait_for_heading(&c, "Log in").await;
    assert_eq!(url.path(), "/login", "after a wrong password: {url}");
    let error = wait_for_text(&c, ".error").await;
    assert_eq!(error, "Invalid username or password.");
    goto(&c, &site.url("/")).await;
    let url = wait_for_heading(&c, "Log in").await;
    assert_eq!(url.path(), "/login", "`/` after a wrong password: {url}");

    step("3. susan logs in without \"remember me\"");
    log_in(&c, "susan", "hello", false).await;
    let url = wait_for_heading(&c, "Hello, susan!").await;
    assert_eq!(url.path(), "/", "after logging in: {url}");
    assert_eq!(url.host_str(), site.base.host_str());
    let png = c.screenshot().await.expect("screenshot of the home page");
    save(&artifacts.join("home.png"), &png);
    let script_cookies = document_cookie(&c).await;
    assert!(
        !script_cookies
            .split(';')
            .any(|c| c.trim_start().starts_with("session=")),
        "the HttpOnly `session` cookie is visible to scripts: document.cookie = {script_cookies:?}"
    );
    let session = cookie(&c, "session")
        .await
        .expect("a `session` cookie after logging in");
    assert_cookie_attributes(&session);
    assert!(
        session.expires_datetime().is_none(),
        "without \"remember me\" the session cookie should end with the browser: {session}"
    );
    assert!(
        cookie(&c, "_remember").await.is_none(),
        "no `_remember` cookie without \"remember me\""
    );

    step("4. the fresh page opens; logging out (the button) logs out");
    c.find(Locator::Css("a[href='/fresh']"))
        .await
        .expect("the link to /fresh")
        .click()
        .await
        .expect("click the link to /fresh");
    let url = wait_for_heading(&c, "Hello, susan!").await;
    assert_eq!(
        url.path(),
        "/fresh",
        "after a password login, /fresh opens: {url}"
    );
    goto(&c, &site.url("/")).await;
    wait_for_heading(&c, "Hello, susan!").await;
    click_and_wait(&c, "form[action='/logout'] button").await;
    let url = wait_for_heading(&c, "Log in").await;
    assert_eq!(url.path(), "/login", "after logging out: {url}");
    goto(&c, &site.url("/")).await;
    let url = wait_for_heading(&c, "Log in").await;
    assert_eq!(url.path(), "/login", "`/` after logging out: {url}");

    step("5. \"remember me\" survives the end of the browser session, but is not a fresh login");
    log_in(&c, "susan", "hello", true).await;
    let url = wait_for_heading(&c, "Hello, susan!").await;
    assert_eq!(
        url.path(),
        "/",
        "after logging in with \"remember me\": {url}"
    );
    let remember = cookie(&c, "_remember")
        .await
        .expect("a `_remember` cookie after logging in with \"remember me\"");
    assert_cookie_attributes(&remember);
    let expires = remember
        .expires_datetime()
        .expect("the `_remember` cookie should outlive the browser session")
        .unix_timestamp();
    let days = (expires - unix_now()) as f64 / 86_400.0;
    assert!(
        (29.9..=30.1).contains(&days),
        "`_remember` should last 30 days, lasts {days:.2}: {remember}"
    );
    // What closing the browser does to a cookie without an expiry.
    c.delete_cookie("session").await.expect("delete `session`");
    assert!(cookie(&c, "session").await.is_none());
    goto(&c, &site.url("/")).await;
    let url = wait_for_heading(&c, "Hello, susan!").await;
    assert_eq!(
        url.path(),
        "/",
        "the remembered login should open `/`: {url}"
    );
    goto(&c, &site.url("/fresh")).await;
    let url = wait_for_heading(&c, "Log in").await;
    assert_eq!(
        url.path(),
        "/login",
        "a login restored by \"remember me\" should not open /fresh: {url}"
    );
    assert_eq!(
        query(&url, "next").as_deref(),
        Some("/fresh"),
        "`next` in {url}"
    );

    step("6. logging out forgets the remembered login too");
    goto(&c, &site.url("/")).await;
    wait_for_heading(&c, "Hello, susan!").await;
    click_and_wait(&c, "form[action='/logout'] button").await;
    let url = wait_for_heading(&c, "Log in").await;
    assert_eq!(url.path(), "/login", "after logging out: {url}");
    goto(&c, &site.url("/")).await;
    let url = wait_for_heading(&c, "Log in").await;
    assert_eq!(url.path(), "/login", "`/` after logging out: {url}");
    refresh(&c).await;
    let url = wait_for_heading(&c, "Log in").await;
    assert_eq!(
        url.path(),
        "/login",
        "`/` reloaded after logging out: {url}"
    );
    let jar = all_cookies(&c).await;
    assert!(
        !jar.iter().any(|c| c.name() == "_remember"),
        "`_remember` should be gone after logging out; the jar has: {}",
        describe(&jar)
    );
    // And closing the browser now does not bring the login back either.
    let _ = c.delete_cookie("session").await;
    goto(&c, &site.url("/")).await;
    let url = wait_for_heading(&c, "Log in").await;
    assert_eq!(
        url.path(),
        "/login",
        "`/` in a new browser session after logging out: {url}"
    );

    step("7. `next` values that browsers read as another site stay on this one");
    for next in ["/%5Cevil.example", "/%09/evil.example"] {
        goto(&c, &site.url(&format!("/login?next={next}"))).await;
        wait_for_heading(&c, "Log in").await;
        let action = c
            .find(Locator::Css("form"))
            .await
            .expect("the login form")
            .attr("action")
            .await
            .expect("the form's action");
        say(&format!("   next={next}: the form posts to {action:?}"));
        log_in(&c, "susan", "hello", false).await;
        wait_for_document(&c).await;
        let url = current_url(&c).await;
        assert_eq!(
            (url.scheme(), url.host_str(), url.port()),
            (site.base.scheme(), site.base.host_str(), site.base.port()),
            "logging in with next={next} left the site: {url}"
        );
        let url = wait_for_heading(&c, "Hello, susan!").await;
        say(&format!("   next={next}: ended on {url}"));
    }

    step("8. pages of another origin that post to /logout and /login are refused (CSRF)");
    // The demo is `127.0.0.1`; the attacker is `localhost` on another port: another site.
    let attacker = Attacker::start(&site);
    goto(&c, &site.url("/")).await;
    wait_for_heading(&c, "Hello, susan!").await;
    let before = cookie(&c, "session")
        .await
        .expect("susan's `session` cookie")
        .value()
        .to_owned();
    for (page, target) in [("/logout", "/logout"), ("/login", "/login")] {
        goto(&c, &attacker.url(page)).await;
        let url = wait_for_heading(&c, "Refused").await;
        assert_eq!(
            (url.host_str(), url.path()),
            (site.base.host_str(), target),
            "the attacker's form should have posted to the demo's {target}: {url}"
        );
        let status = bounded(
            "the navigation's response status",
            c.execute(
                "return performance.getEntriesByType('navigation')[0].responseStatus;",
                Vec::new(),
            ),
        )
        .await;
        assert_eq!(
            status,
            json!(403),
            "the demo's answer to the forged {target}"
        );
        say(&format!(
            "   a form on {} posting to {target}: 403",
            attacker.origin
        ));
    }
    let after = cookie(&c, "session")
        .await
        .expect("the `session` cookie after the forged posts");
    assert_eq!(
        after.value(),
        before,
        "the forged posts changed the session"
    );
    goto(&c, &site.url("/")).await;
    wait_for_heading(&c, "Hello, susan!").await;
}

/// A page of another origin (`http://localhost:PORT`, the demo being on `127.0.0.1`) that posts a
/// form to the demo as soon as it loads: `/logout` posts to the demo's `/logout`, `/login` logs
/// in to the demo as david (login CSRF). Served by a thread for the rest of the test process.
struct Attacker {
    origin: String,
}

impl Attacker {
    fn start(site: &Site) -> Attacker {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the attacker's port");
        let port = listener.local_addr().expect("its address").port();
        let demo = site.base.as_str().trim_end_matches('/').to_owned();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = serve_attack(stream, &demo);
            }
        });
        Attacker {
            origin: format!("http://localhost:{port}"),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }
}

fn serve_attack(mut stream: TcpStream, demo: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(STEP_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request_line.split(' ').nth(1).unwrap_or("/");
    let fields = match path {
        "/logout" => "",
        "/login" => {
            "<input name=\"username\" value=\"david\"><input name=\"password\" value=\"bye\">"
        }
        _ => {
            return stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
        }
    };
    let body = format!(
        "<!doctype html><title>Attacker</title><h1>Attacker</h1>\
         <form id=\"f\" method=\"post\" action=\"{demo}{path}\">{fields}</form>\
         <script>document.getElementById(\"f\").submit();</script>"
    );
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
}

// ---------------------------------------------------------------------------------------------
// Browser helpers. Every wait is bounded by STEP_TIMEOUT.

/// `fut`, or a panic naming `what` when it fails or takes over STEP_TIMEOUT.
async fn bounded<T, E: std::fmt::Display>(
    what: &str,
    fut: impl Future<Output = Result<T, E>>,
) -> T {
    match tokio::time::timeout(STEP_TIMEOUT, fut).await {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => panic!("{what}: {e}"),
        Err(_) => panic!("{what}: no answer within {STEP_TIMEOUT:?}"),
    }
}

async fn goto(c: &Client, url: &str) {
    bounded(&format!("open {url}"), c.goto(url)).await;
}

async fn refresh(c: &Client) {
    bounded("reload", c.refresh()).await;
}

async fn current_url(c: &Client) -> Url {
    bounded("current URL", c.current_url()).await
}

async fn document_cookie(c: &Client) -> String {
    let value = bounded(
        "document.cookie",
        c.execute("return document.cookie;", Vec::new()),
    )
    .await;
    value.as_str().unwrap_or_default().to_owned()
}

async fn all_cookies(c: &Client) -> Vec<Cookie<'static>> {
    bounded("the cookie jar", c.get_all_cookies()).await
}

async fn cookie(c: &Client, name: &str) -> Option<Cookie<'static>> {
    all_cookies(c).await.into_iter().find(|c| c.name() == name)
}

fn describe(jar: &[Cookie<'_>]) -> String {
    let names: Vec<String> = jar.iter().map(|c| c.to_string()).collect();
    format!("[{}]", names.join(", "))
}

/// The demo's cookies are HttpOnly, SameSite=Lax, for the whole site, and not Secure (plain http).
fn assert_cookie_attributes(c: &Cookie<'_>) {
    assert_eq!(c.http_only(), Some(true), "HttpOnly: {c}");
    assert_eq!(c.same_site(), Some(cookie::SameSite::Lax), "SameSite: {c}");
    assert_eq!(c.path(), Some("/"), "Path: {c}");
    assert_ne!(c.secure(), Some(true), "Secure over plain http: {c}");
}

/// Waits until the document has loaded and its `h1` reads `text`; returns the page's URL.
async fn wait_for_heading(c: &Client, text: &str) -> Url {
    let deadline = Instant::now() + STEP_TIMEOUT;
    let mut last = String::new();
    loop {
        if let Ok(Ok(found)) = tokio::time::timeout(STEP_TIMEOUT, heading(c)).await {
            if found == text {
                return current_url(c).await;
            }
            last = found;
        }
        if Instant::now() > deadline {
            let url = current_url(c).await;
            panic!("expected the heading {text:?} at {url}, the page shows {last:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn heading(c: &Client) -> Result<String, fantoccini::error::CmdError> {
    c.find(Locator::Css("h1")).await?.text().await
}

/// The text of the first element matching `css`, once there is one.
async fn wait_for_text(c: &Client, css: &str) -> String {
    let element = bounded(
        &format!("wait for {css}"),
        c.wait()
            .at_most(STEP_TIMEOUT)
            .for_element(Locator::Css(css)),
    )
    .await;
    bounded(&format!("text of {css}"), element.text()).await
}

/// Waits until the document has finished loading.
async fn wait_for_document(c: &Client) {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let state = tokio::time::timeout(
            STEP_TIMEOUT,
            c.execute("return document.readyState;", Vec::new()),
        )
        .await;
        if let Ok(Ok(state)) = state {
            if state == "complete" {
                return;
            }
        }
        assert!(Instant::now() < deadline, "the page did not finish loading");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clicks the element matching `css` and waits until the page it was on is gone (even when the
/// new page has the same URL, as a failed login does).
async fn click_and_wait(c: &Client, css: &str) {
    let old_page = bounded("the page's root", c.find(Locator::Css("html"))).await;
    let target = bounded(&format!("find {css}"), c.find(Locator::Css(css))).await;
    bounded(&format!("click {css}"), target.click()).await;
    let deadline = Instant::now() + STEP_TIMEOUT;
    // A stale element (an error) means the document was replaced.
    while tokio::time::timeout(STEP_TIMEOUT, old_page.tag_name())
        .await
        .is_ok_and(|r| r.is_ok())
    {
        assert!(
            Instant::now() < deadline,
            "clicking {css} did not load a new page"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for_document(c).await;
}

/// Fills in the login form on the current page, as a user would, and submits it.
async fn log_in(c: &Client, username: &str, password: &str, remember_me: bool) {
    for (name, value) in [("username", username), ("password", password)] {
        let css = format!("form input[name='{name}']");
        let input = bounded(&format!("find {css}"), c.find(Locator::Css(&css))).await;
        bounded(&format!("clear {css}"), input.clear()).await;
        bounded(&format!("type into {css}"), input.send_keys(value)).await;
    }
    let checkbox = bounded(
        "find the remember-me checkbox",
        c.find(Locator::Css("form input[name='remember_me']")),
    )
    .await;
    if bounded("remember me?", checkbox.is_selected()).await != remember_me {
        bounded("click remember me", checkbox.click()).await;
    }
    click_and_wait(c, "form button[type='submit']").await;
}

fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Where the browser was when the walk failed: its URL, a screenshot and the page source.
async fn save_failure_state(c: &Client, artifacts: &Path) {
    if let Ok(Ok(url)) = tokio::time::timeout(STEP_TIMEOUT, c.current_url()).await {
        let _ = writeln!(std::io::stderr(), "the browser was at {url}");
    }
    if let Ok(Ok(png)) = tokio::time::timeout(STEP_TIMEOUT, c.screenshot()).await {
        save(&artifacts.join("failure.png"), &png);
    }
    if let Ok(Ok(html)) = tokio::time::timeout(STEP_TIMEOUT, c.source()).await {
        save(&artifacts.join("failure.html"), html.as_bytes());
    }
}

fn capabilities(chromium: &Path, profile: &Path) -> Capabilities {
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
                // A fixed viewport, so the screenshots do not depend on the machine.
                "--window-size=800,600",
            ],
        },
        // WebDriver's own bounds on a page load and a script; ours (STEP_TIMEOUT) come on top.
        "timeouts": { "pageLoad": 10_000, "script": 5_000, "implicit": 0 },
    });
    match caps {
        serde_json::Value::Object(map) => map,
        _ => unreachable!(),
    }
}

// ---------------------------------------------------------------------------------------------
// Processes. Each guard kills its process (group) when dropped, also when the test panics.

/// The browser and its driver.
struct Tools {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

impl Tools {
    /// Both programs, or what is missing.
    fn find() -> Result<Tools, String> {
        let chromium = find_program(
            "CHROMIUM",
            "/usr/bin/chromium",
            &["chromium", "chromium-browser"],
        );
        let chromedriver = find_program("CHROMEDRIVER", "/usr/bin/chromedriver", &["chromedriver"]);
        match (chromium, chromedriver) {
            (Ok(chromium), Ok(chromedriver)) => Ok(Tools {
                chromium,
                chromedriver,
            }),
            (Err(a), Err(b)) => Err(format!("{a}, and {b}")),
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }
}

/// `$env_var` if set (it must exist), else `default`, else the first of `names` on `PATH`.
fn find_program(env_var: &str, default: &str, names: &[&str]) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(env_var) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("{env_var}={} does not exist", path.display()))
        };
    }
    if Path::new(default).is_file() {
        return Ok(default.into());
    }
    let dirs = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&dirs) {
        for name in names {
            let path = dir.join(name);
            if path.is_file() {
                return Ok(path);
            }
        }
    }
    Err(format!(
        "{default} is not installed (nor {} on PATH; set {env_var} to use another)",
        names.join(" or ")
    ))
}

fn version(program: &Path) -> String {
    let output = run_bounded(
        Command::new(program).arg("--version"),
        START_TIMEOUT,
        "--version",
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The demo binary: `DEMO_BIN`, or built here by the cargo that runs this test (see the top).
fn demo_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("DEMO_BIN") {
        return path.into();
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut build = Command::new(cargo);
    build.args([
        "build",
        "--example",
        "demo",
        "--message-format=json-render-diagnostics",
        "--manifest-path",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"),
    ]);
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    // Cargo gives this test process variables describing this package. Passed on, they would look
    // like changed environment to build scripts that watch them (ring's watches
    // CARGO_MANIFEST_DIR), and every run would rebuild ring and the crate, twice.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "OUT_DIR",
            ]
            .contains(&&*name)
        {
            build.env_remove(&*name);
        }
    }
    let output = run_bounded(&mut build, BUILD_TIMEOUT, "cargo build --example demo");
    assert!(
        output.status.success(),
        "cargo build --example demo failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "demo")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported no executable for the demo example")
}

/// Runs `command` to the end, killing it after `timeout`.
fn run_bounded(command: &mut Command, timeout: Duration, what: &str) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for a child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} took over {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    std::process::Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// A child process in a process group of its own; dropping this kills the whole group.
struct Group(Child);

impl Group {
    fn spawn(command: &mut Command, what: &str) -> Group {
        use std::os::unix::process::CommandExt as _;
        let child = command
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        Group(child)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // The group (same id as the leader) takes Chromium's processes with chromedriver.
        let killed_group = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !killed_group {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// The demo server, listening on a free loopback port.
struct Demo {
    site: Site,
    _process: Group,
}

impl Demo {
    fn start(binary: &Path, artifacts: &Path) -> Demo {
        let log = std::fs::File::create(artifacts.join("demo.log")).expect("create demo.log");
        let mut process = Group::spawn(
            Command::new(binary)
                .env("DEMO_ADDR", "127.0.0.1:0")
                .env("SESSION_SECRET", SESSION_SECRET)
                .env_remove("SESSION_SECRET_FALLBACKS")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(log),
            "the demo",
        );
        let stdout = process.0.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            // Keep reading, so that the demo never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Some(Ok(line))) => line,
            Ok(other) => panic!("the demo printed no address: {other:?}"),
            Err(_) => panic!("the demo printed no address within {START_TIMEOUT:?}"),
        };
        let base = line
            .strip_prefix("listening on ")
            .and_then(|url| Url::parse(url).ok())
            .unwrap_or_else(|| panic!("unexpected first line from the demo: {line:?}"));
        say(&format!("demo listening on {base}"));
        Demo {
            site: Site { base },
            _process: process,
        }
    }
}

/// chromedriver on a free loopback port.
struct ChromeDriver {
    url: String,
    _process: Group,
}

impl ChromeDriver {
    fn start(program: &Path, artifacts: &Path) -> ChromeDriver {
        // Another process could take the port between this and chromedriver binding it; then
        // chromedriver exits, and the wait below says so.
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = artifacts.join("chromedriver.log");
        let mut process = Group::spawn(
            Command::new(program)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "chromedriver",
        );
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = process.0.try_wait() {
                panic!("chromedriver exited ({status}); see {}", log.display());
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {addr} within {START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        ChromeDriver {
            url: format!("http://{addr}"),
            _process: process,
        }
    }
}

/// A fresh directory under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------

/// `<target>/browser-artifacts/`, without the last run's failure files. The directory itself stays:
/// another `cargo test` may be running this test at the same time (the last writer wins).
fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("browser-artifacts");
    std::fs::create_dir_all(&dir).expect("create <target>/browser-artifacts");
    for stale in ["failure.png", "failure.html"] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    dir
}

/// Writes `path` atomically (a temporary file, then a rename), so that a concurrent run or a
/// reader never sees half a file.
fn save(path: &Path, bytes: &[u8]) {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(s) => (*s).to_owned(),
            Err(_) => "the walk panicked".to_owned(),
        },
    }
}

fn step(name: &str) {
    say(&format!("-- {name}"));
}

fn say(message: &str) {
    println!("browser: {message}");
}
