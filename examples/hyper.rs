//! The crate without axum: `SessionLayer` and `AuthLayer` on a plain tower service, served with
//! hyper. `cargo run --example hyper`, then try:
//!
//! ```text
//! curl -i -c jar -b jar -X POST 'http://127.0.0.1:3001/login?user_id=user001&remember=30'
//! curl -i -c jar -b jar http://127.0.0.1:3001/private
//! curl -i -c jar -b jar http://127.0.0.1:3001/session
//! ```
//!
//! **A test harness, not a template:** `POST /login` logs anyone in as any user id, with no
//! password, so that the interop check can create logins. A real login handler verifies
//! credentials first (see the `demo` example).
//!
//! Routes (also what the Microdot interop check in `.ci/interop.py` drives):
//! - `GET /session`: the whole session as JSON, crate keys included;
//! - `POST /session`: merges a JSON object into the session (keys without a leading `_`);
//! - `POST /login?user_id=ID&remember=DAYS`: logs `ID` in (a JSON value, else a string);
//! - `POST /logout`: logs out;
//! - `GET /whoami`: `{"user_id": …, "fresh": …}`, restoring a login from `_remember`;
//! - `GET /private`: behind `AuthLayer` (401 for this API-style example), `hello, ID`.
//!
//! Environment: `DEMO_ADDR` (default `127.0.0.1:3001`) and `SESSION_SECRET` as in the demo.

use std::convert::Infallible;
use std::io::Write as _;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::{json, Map, Value};
use tower::{service_fn, ServiceBuilder, ServiceExt};
use tower_session_auth::{
    current_user_id, is_fresh, login_user, logout_user, AuthLayer, AuthUser, CurrentUser, Key,
    SessionDict, SessionLayer,
};

/// Any JSON value as a user id, so Microdot's string and integer ids both work.
#[derive(Clone, Debug)]
struct User(Value);

impl AuthUser for User {
    type Id = Value;
    fn id(&self) -> Value {
        self.0.clone()
    }
}

type Body = Full<Bytes>;

fn respond(status: StatusCode, content_type: &str, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("valid response")
}

fn json(value: Value) -> Response<Body> {
    respond(StatusCode::OK, "application/json", value.to_string())
}

async fn handle(req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let session = req
        .extensions()
        .get::<SessionDict>()
        .cloned()
        .expect("SessionLayer is outside this service");
    let query: Map<String, Value> =
        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
    let response = match (req.method().clone(), req.uri().path()) {
        (Method::GET, "/session") => {
            let map: Map<String, Value> = session
                .keys()
                .into_iter()
                .filter_map(|k| Some((k.clone(), session.get::<Value>(&k).ok()??)))
                .collect();
            json(Value::Object(map))
        }
        (Method::POST, "/session") => {
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            match serde_json::from_slice::<Map<String, Value>>(&body) {
                Ok(map) => {
                    let result: Result<(), _> =
                        map.into_iter().try_for_each(|(k, v)| session.insert(&k, v));
                    match result {
                        Ok(()) => json(json!({"ok": true})),
                        Err(e) => respond(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "text/plain",
                            e.to_string(),
                        ),
                    }
                }
                Err(e) => respond(StatusCode::BAD_REQUEST, "text/plain", e.to_string()),
            }
        }
        (Method::POST, "/login") => {
            let id = query
                .get("user_id")
                .and_then(Value::as_str)
                .unwrap_or("user001");
            let id = serde_json::from_str(id).unwrap_or_else(|_| Value::String(id.into()));
            let days = query
                .get("remember")
                .and_then(Value::as_str)
                .and_then(|d| d.parse().ok())
                .unwrap_or(0);
            match login_user(
                &session,
                &User(id),
                tower_session_auth::Remember::days(days),
            ) {
                Ok(()) => json(json!({"ok": true})),
                Err(e) => respond(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain",
                    e.to_string(),
                ),
            }
        }
        (Method::POST, "/logout") => {
            logout_user(&session);
            json(json!({"ok": true}))
        }
        (Method::GET, "/whoami") => {
            let id: Option<Value> = current_user_id(&session);
            json(json!({"user_id": id, "fresh": is_fresh(&session)}))
        }
        (Method::GET, "/private") => {
            let user = req.extensions().get::<CurrentUser<User>>().cloned();
            match user {
                Some(CurrentUser(User(id))) => {
                    respond(StatusCode::OK, "text/plain", format!("hello, {id}"))
                }
                None => respond(
                    StatusCode::UNAUTHORIZED,
                    "text/plain",
                    "unauthorized".into(),
                ),
            }
        }
        _ => respond(StatusCode::NOT_FOUND, "text/plain", "not found".into()),
    };
    Ok(response)
}

#[tokio::main]
async fn main() {
    let key = match std::env::var("SESSION_SECRET") {
        Ok(secret) => Key::from_bytes(secret.as_bytes()).unwrap_or_else(|e| {
            eprintln!("SESSION_SECRET: {e}");
            std::process::exit(2)
        }),
        Err(_) => {
            eprintln!("warning: SESSION_SECRET is not set; sessions end with this process");
            Key::generate()
        }
    };
    // `Secure` is off only because this example serves plain http on loopback. It shares sessions
    // with Microdot, whose sessions carry no time anchors.
    let sessions = SessionLayer::builder(key)
        .claimless_sessions(true)
        .secure(false)
        .build()
        .expect("valid configuration");
    // `/private` needs a login; every other route takes an optional gate, so one service serves
    // both (an axum app would put the gate on the private routes only).
    let gate = |optional: bool| {
        AuthLayer::builder()
            .user_loader(|id: Value| async move { Some(User(id)) })
            .redirect_to_login(false)
            .optional(optional)
            .build()
            .expect("valid configuration")
    };
    let (required, optional) = (gate(false), gate(true));
    let app = service_fn(move |req: Request<Incoming>| {
        let gate = if req.uri().path() == "/private" {
            required.clone()
        } else {
            optional.clone()
        };
        ServiceBuilder::new()
            .layer(gate)
            .service_fn(handle)
            .oneshot(req)
    });
    let app = ServiceBuilder::new().layer(sessions).service(app);

    let addr = std::env::var("DEMO_ADDR").unwrap_or_else(|_| "127.0.0.1:3001".into());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .unwrap_or_else(|e| {
            eprintln!("DEMO_ADDR {addr}: {e}");
            std::process::exit(2)
        });
    println!(
        "listening on http://{}",
        listener.local_addr().expect("bound")
    );
    let _ = std::io::stdout().flush();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
