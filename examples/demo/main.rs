//! The demo server: `cargo run --example demo`, then open http://127.0.0.1:3000/counter.
//!
//! Environment:
//! - `DEMO_ADDR`: the address to listen on (default `127.0.0.1:3000`; port 0 picks a free one);
//! - `SESSION_SECRET`: the signing secret, used as its UTF-8 bytes like Microdot does (at least 32
//!   bytes). Without it a random key is generated and sessions end with the process;
//! - `SESSION_SECRET_FALLBACKS`: optional comma-separated old secrets, still accepted and re-signed
//!   with `SESSION_SECRET` (key rotation);
//! - `SESSION_STORE`: where logins are tracked, so they can be listed and revoked: `memory` (the
//!   default: this process's memory), `redis://HOST:PORT` (shared by every instance; build with
//!   `--features redis`), or `cookie` (stateless signed cookies, nothing to revoke);
//! - `SESSION_PLACEMENT`: where the sessions' data lives: `cookie` (the default, Microdot's
//!   format) or `store` (server-side, in the same backend as `SESSION_STORE`: memory or Redis;
//!   the cookie then carries only an id).

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
    let store = match std::env::var("SESSION_STORE").as_deref() {
        Err(_) | Ok("" | "memory") => app::Store::Memory,
        Ok("cookie") => app::Store::Cookie,
        Ok(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
            match redis_store(url).await {
                Ok(store) => store,
                Err(e) => {
                    eprintln!("SESSION_STORE: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        Ok(_) => {
            eprintln!("SESSION_STORE: expected `memory`, `cookie` or a redis:// URL");
            return ExitCode::from(2);
        }
    };
    let placement = match std::env::var("SESSION_PLACEMENT").as_deref() {
        Err(_) | Ok("" | "cookie") => app::Placement::Cookie,
        Ok("store") => app::Placement::Store,
        Ok(_) => {
            eprintln!("SESSION_PLACEMENT: expected `cookie` or `store`");
            return ExitCode::from(2);
        }
    };
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
    let app = app::app_with_placement(key, fallbacks, store, placement)
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("server error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The Redis registry at `url`.
#[cfg(feature = "redis")]
async fn redis_store(url: &str) -> Result<app::Store, String> {
    let registry = tower_session_auth::RedisRegistry::builder(url)
        .build()
        .await
        .map_err(|e| e.to_string())?;
    Ok(app::Store::Redis(registry))
}

#[cfg(not(feature = "redis"))]
async fn redis_store(_: &str) -> Result<app::Store, String> {
    Err("this demo was built without Redis: run it with `--features redis`".into())
}
