//! The session middleware: [`SessionLayer`], its service, and the [`SessionDict`] handle.

mod cache;
mod dict;
mod layer;
mod service;

pub(crate) use dict::RememberUpdate;
#[doc(inline)]
pub use dict::SessionDict;
#[doc(inline)]
pub use layer::{SameSite, SessionLayer, SessionLayerBuilder};
pub(crate) use layer::{SessionConfig, MAX_COOKIE_LEN};
#[doc(inline)]
pub use service::{ResponseFuture, SessionService};
