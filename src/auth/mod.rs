//! The login gate: [`AuthLayer`], its service, and [`CurrentUser`].

mod basic;
mod bearer;
mod layer;
mod scheme;
mod service;
mod user;

#[doc(inline)]
pub use layer::{AuthLayer, AuthLayerBuilder, Reason, Unauthorized};
#[doc(inline)]
pub use service::{AuthService, ResponseFuture};
#[doc(inline)]
pub use user::CurrentUser;
