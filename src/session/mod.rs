//! The session middleware: [`SessionLayer`], its service, and the [`SessionDict`] handle.

mod cache;
mod dict;
mod layer;
mod service;

pub(crate) use dict::RememberUpdate;
#[doc(inline)]
pub use dict::SessionDict;
pub(crate) use layer::SessionConfig;
#[doc(inline)]
pub use layer::{SameSite, SessionLayer, SessionLayerBuilder};
#[doc(inline)]
pub use service::{ResponseFuture, SessionService};
