//! The session middleware, one role per file:
//!
//! - `layer`: [`SessionLayer`] and its builder, which validate the configuration once;
//! - `config`: what a built layer shares with every request;
//! - `service` and `future`: put a [`SessionDict`] in each request, and write its changes on the
//!   response;
//! - `handle`: the [`SessionDict`] itself, the map and this request's changes;
//! - `commit`: what a request changed, as a value;
//! - `response`: the response writer (`Set-Cookie`, `Vary`, `Cache-Control`);
//! - `backend`: where sessions are kept (the cookie backend today), the seam new backends plug
//!   into.

pub(crate) mod backend;
mod commit;
mod config;
mod future;
mod handle;
mod layer;
mod response;
mod service;
mod store;
mod tracker;

pub(crate) use commit::RememberUpdate;
pub use future::SessionFuture;
pub use handle::SessionDict;
pub use layer::{SessionLayer, SessionLayerBuilder};
#[cfg(any(test, fuzzing, feature = "test-util"))]
pub(crate) use response::finish;
pub use service::SessionService;
pub(crate) use tracker::{LoginKeys, TrackFuture, Tracked, TrackedLogin, Tracker};
