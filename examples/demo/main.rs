//! The demo server: `cargo run --example demo`, then open http://127.0.0.1:3000/counter.
//!
//! Environment:
//! - `DEMO_ADDR`: the address to listen on (default `127.0.0.1:3000`; port 0 picks a free one);
//! - `SESSION_SECRET`: the signing secret, used as its UTF-8 bytes like Microdot does (at least 32
//!   bytes). Without it a random key is generated and sessions end with the process;
//! - `SESSION_SECRET_FALLBACKS`: optional comma-separated old secrets, still accepted and re-signed
//!   with `SESSION_SECRET` (key rotation).

mod app;
mod users;

use std::io::Write as _;
use std::process::ExitCode;

use tower_session_auth::Key;

#[tokio::main]
async fn main() -> ExitCode {
    let key = match std::env::var("SESSION_SECRET") {
        Ok(secret) => match Key::from_bytes(secret.as_bytes()) {
            Ok(key) => key,
            Err(e) => {
                eprintln!("SESSION_SECRET: {e}");
                return ExitCode::from(2);
            }
        },
        Err(std::env::VarError::NotPresent) => {
            eprintln!(
                "warning: SESSION_SECRET is not set; using a generated key, so sessions end when \
                 this process does"
            );
            Key::generate()
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            eprintln!("SESSION_SECRET: not valid UTF-8");
            return ExitCode::from(2);
        }
    };
    let mut fallbacks = Vec::new();
    if let Ok(list) = std::env::var("SESSION_SECRET_FALLBACKS") {
        for secret in list.split(',').filter(|s| !s.is_empty()) {
            match Key::from_bytes(secret.as_bytes()) {
                Ok(key) => fallbacks.push(key),
                Err(e) => {
                    eprintln!("SESSION_SECRET_FALLBACKS: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    }
    let addr = std::env::var("DEMO_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("DEMO_ADDR {addr}: {e}");
            return ExitCode::from(2);
        }
    };
    let local = listener
        .local_addr()
        .expect("a bound socket has an address");
    println!("listening on http://{local}");
    let _ = std::io::stdout().flush();
    // With the connection's address (`ConnectInfo`), which the login throttle counts by.
    let app = app::app_with_fallbacks(key, fallbacks)
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("server error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
