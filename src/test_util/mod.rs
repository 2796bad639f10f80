//! Helpers for testing an application built on the crate (feature `test-util`): a
//! [`TestClient`] that drives any tower service with a browser's [`CookieJar`], the session
//! cookies of a logged-in user in one line ([`login_cookies`], [`TestClient::login_as`]), and a
//! [`FakeClock`] to move time by hand.

mod client;
mod clock;
mod jar;
mod login;

pub use client::{TestClient, TestResponse};
pub use clock::FakeClock;
pub use jar::CookieJar;
pub use login::login_cookies;
