//! One login attempt: [`LoginThrottle::check`] before the password is hashed, and [`Attempt`]
//! to report how it went.

use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::Ordering;

use http::request::Parts;
use http::HeaderValue;
use ring::hmac;

use super::address::{client_ip, counted_bytes};
use super::device::{self, Id};
use super::event::{trace, BudgetKind, ThrottleEvent, ThrottleOutcome};
use super::hashing::HashPermit;
use super::login_throttle::LoginThrottle;
use super::refusal::Refusal;
use super::store::{Charge, Verdict};
use crate::cookie::parse::find_two;
use crate::key::{Key, Purpose};

/// How long a client waits after the counter store failed.
const STORE_RETRY_AFTER: u64 = 5;
/// How long a client waits when every hashing permit is taken.
const BUSY_RETRY_AFTER: u64 = 1;

impl LoginThrottle {
    /// Decides whether a login attempt for `username` may check its password, **before** the
    /// password is hashed; call it first in the login handler.
    ///
    /// - The client address comes from the connection ([`ClientAddr`](crate::ClientAddr), or
    ///   axum's `ConnectInfo<SocketAddr>`), or from the forwarding header through trusted proxies
    ///   only. The account is `username` trimmed and lowercased; an empty one has no account
    ///   budget, so it spends the address budget only and never throttles other accounts.
    ///   Unknown usernames are counted exactly like known ones: the throttle never asks whether
    ///   the account exists.
    /// - A browser whose known-device cookie is valid for this account spends the device's own
    ///   budget. Any other attempt spends one attempt from the address budget and one from the
    ///   account budget, atomically: if either is spent, neither is charged and the answer is a
    ///   `429` [`Refusal`] whose `Retry-After` says when both allow an attempt again.
    /// - Then a hashing permit is taken; when every permit is in use the budgets are given back
    ///   and the answer is `503` with `Retry-After: 1`.
    ///
    /// The attempt is counted from here, so a client that hangs up during the hash has spent it
    /// too, and concurrent attempts cannot overrun a budget. Report the result with
    /// [`Attempt::succeeded`] (which gives the attempt back and issues the known-device cookie)
    /// or [`Attempt::failed`].
    ///
    /// # Errors
    ///
    /// A [`Refusal`] (`429` or `503`, with `Retry-After`) when the attempt may not check a
    /// password now.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr};
    /// use tower_session_auth::{ClientAddr, Key, LoginThrottle};
    ///
    /// fn verify_password(_username: &str, password: &str) -> bool {
    ///     password == "hello" // a slow password hash in real life
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), tower_session_auth::Error> {
    /// let throttle = LoginThrottle::builder(Key::generate()).build()?;
    /// let mut req = http::Request::post("/login").body(()).unwrap();
    /// req.extensions_mut().insert(ClientAddr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))));
    /// let (parts, ()) = req.into_parts();
    ///
    /// for _ in 0..10 {
    ///     let attempt = throttle.check(&parts, "susan").await.expect("within the budget");
    ///     assert!(!verify_password("susan", "guess"));
    ///     attempt.failed();
    /// }
    /// // The eleventh is refused before any hash, even with the right password: the address
    /// // and the account have spent their budgets, and the account's refills in five minutes.
    /// let refusal = throttle.check(&parts, "susan").await.unwrap_err();
    /// assert_eq!(refusal.status(), http::StatusCode::TOO_MANY_REQUESTS);
    /// assert!(refusal.retry_after() > 240);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn check(&self, parts: &Parts, username: &str) -> Result<Attempt, Refusal> {
        let inner = &self.0;
        let now = inner.clock.now();
        let account = account_id(&inner.key, username);
        let address =
            client_ip(parts, &inner.proxies, inner.forwarded).map(|ip| address_id(&inner.key, ip));
        if address.is_none() && !inner.warned_no_address.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "login throttle: the request carries no client address (axum's ConnectInfo or \
                 ClientAddr), so only account budgets apply"
            );
        }
        let device = account.and_then(|account| {
            let [values, _] = find_two(&parts.headers, [&inner.cookie_name, "\0none"]);
            values
                .iter()
                .find_map(|v| device::verify(&inner.key, v, &account, now, inner.device_lifetime))
        });
        let mut charges = Vec::with_capacity(2);
        let mut kinds = Vec::with_capacity(2);
        if let Some(device) = device {
            charges.push(charge(
                "d",
                &keyed(&inner.key, b"device\0", &device),
                inner.per_device,
            ));
            kinds.push(BudgetKind::Device);
        } else {
            if let Some(address) = &address {
                charges.push(charge("a", address, inner.per_address));
                kinds.push(BudgetKind::Address);
            }
            if let Some(account) = &account {
                charges.push(charge("u", account, inner.per_account));
                kinds.push(BudgetKind::Account);
            }
        }
        let mut attempt = Attempt {
            throttle: self.clone(),
            charges,
            permit: None,
            account,
            address,
            device,
        };
        match inner.store.spend(&attempt.charges, now).await {
            Ok(Verdict::Spent) => {}
            Ok(Verdict::Refused {
                retry_after,
                charge,
            }) => {
                let kind = kinds.get(charge).copied().unwrap_or(BudgetKind::Address);
                attempt.report(ThrottleOutcome::Throttled(kind), Some(retry_after));
                return Err(Refusal::throttled(retry_after));
            }
            Err(e) => {
                tracing::error!(error = %e, "login throttle: counter store failed");
                attempt.report(ThrottleOutcome::StoreFailed, Some(STORE_RETRY_AFTER));
                return Err(Refusal::unavailable(STORE_RETRY_AFTER));
            }
        }
        let Some(permit) = inner.hash_limit.try_acquire() else {
            // A busy server does not spend the client's budgets.
            if let Err(e) = inner.store.refund(&attempt.charges, now).await {
                tracing::warn!(error = %e, "login throttle: counter store failed on refund");
            }
            attempt.report(ThrottleOutcome::Busy, Some(BUSY_RETRY_AFTER));
            return Err(Refusal::unavailable(BUSY_RETRY_AFTER));
        };
        attempt.permit = Some(permit);
        Ok(attempt)
    }

    /// [`check`](Self::check) for a request with HTTP Basic credentials, with the username from
    /// its `Authorization` header (parsed as strictly as the gate parses it); `None` when the
    /// request carries no well-formed Basic credentials, which the gate refuses without hashing.
    /// For a middleware in front of an [`AuthLayer`](crate::AuthLayer) with
    /// [`basic`](crate::AuthLayerBuilder::basic): report the gate's answer (`401` or not) with
    /// [`Attempt::failed`] or [`Attempt::succeeded`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr};
    /// use tower_session_auth::{ClientAddr, Key, LoginThrottle};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), tower_session_auth::Error> {
    /// let throttle = LoginThrottle::builder(Key::generate()).build()?;
    /// let mut req = http::Request::get("/api/me")
    ///     .header("authorization", "Basic c3VzYW46aGVsbG8=") // susan:hello
    ///     .body(())
    ///     .unwrap();
    /// req.extensions_mut().insert(ClientAddr(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    /// let (parts, ()) = req.into_parts();
    /// let attempt = throttle.check_basic(&parts).await.expect("Basic credentials");
    /// assert!(attempt.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn check_basic(&self, parts: &Parts) -> Option<Result<Attempt, Refusal>> {
        let username = crate::auth::basic_username(&parts.headers)?;
        Some(self.check(parts, &username).await)
    }
}

/// A login attempt the throttle let through, holding one hashing permit until the hash ends.
/// Report how the password check went with [`succeeded`](Self::succeeded) or
/// [`failed`](Self::failed); an attempt dropped without either counts as failed (its budgets
/// stay spent).
#[must_use = "report the result with `succeeded` or `failed`"]
pub struct Attempt {
    throttle: LoginThrottle,
    charges: Vec<Charge>,
    permit: Option<HashPermit>,
    account: Option<Id>,
    address: Option<Id>,
    device: Option<Id>,
}

impl fmt::Debug for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempt")
            .field("known_device", &self.device.is_some())
            .field("holds_permit", &self.permit.is_some())
            .finish_non_exhaustive()
    }
}

impl Attempt {
    /// The hashing permit, to move into the task that hashes the password (such as
    /// `tokio::task::spawn_blocking`): it is then held until the hash ends, even if the client
    /// hangs up and the handler is dropped. `None` once taken. Without taking it, the permit is
    /// held until the attempt is reported or dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn f(throttle: tower_session_auth::LoginThrottle, parts: http::request::Parts) {
    /// let Ok(mut attempt) = throttle.check(&parts, "susan").await else { return };
    /// let permit = attempt.take_permit();
    /// let ok = tokio::task::spawn_blocking(move || {
    ///     let _permit = permit; // released when the hash ends
    ///     false // verify the password here
    /// })
    /// .await
    /// .unwrap_or(false);
    /// if !ok {
    ///     attempt.failed();
    /// }
    /// # }
    /// ```
    pub fn take_permit(&mut self) -> Option<HashPermit> {
        self.permit.take()
    }

    /// The password was right: gives back the attempt (a successful login spends no budget) and
    /// returns the `Set-Cookie` of the known-device cookie for this account (a new device, or
    /// the same device re-issued with a new lifetime). Add it to the response; it is `None` for
    /// an empty username.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn f(throttle: tower_session_auth::LoginThrottle, parts: http::request::Parts) {
    /// let Ok(attempt) = throttle.check(&parts, "susan").await else { return };
    /// let mut res = http::Response::new(());
    /// if let Some(cookie) = attempt.succeeded().await {
    ///     res.headers_mut().append(http::header::SET_COOKIE, cookie);
    /// }
    /// # }
    /// ```
    pub async fn succeeded(mut self) -> Option<HeaderValue> {
        drop(self.permit.take());
        let inner = &self.throttle.0;
        let now = inner.clock.now();
        if let Err(e) = inner.store.refund(&self.charges, now).await {
            tracing::warn!(error = %e, "login throttle: counter store failed on refund");
        }
        self.report(ThrottleOutcome::Succeeded, None);
        let account = self.account?;
        let device = self.device.unwrap_or_else(device::new_device_id);
        let value = device::issue(&inner.key, &account, &device, now);
        Some(
            inner
                .scope
                .set_cookie(&inner.cookie_name, &value, Some(inner.device_lifetime)),
        )
    }

    /// The password was wrong, or the account does not exist: the attempt stays spent.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn f(throttle: tower_session_auth::LoginThrottle, parts: http::request::Parts) {
    /// if let Ok(attempt) = throttle.check(&parts, "susan").await {
    ///     attempt.failed();
    /// }
    /// # }
    /// ```
    pub fn failed(self) {
        self.report(ThrottleOutcome::Failed, None);
    }

    fn report(&self, outcome: ThrottleOutcome, retry_after: Option<u64>) {
        let event = ThrottleEvent {
            outcome,
            account: self.account.as_ref().map(hex),
            address: self.address.as_ref().map(hex),
            known_device: self.device.is_some(),
            retry_after,
        };
        trace(&event);
        if let Some(hook) = &self.throttle.0.hook {
            hook(&event);
        }
    }
}

/// The account `username` names: trimmed and lowercased, then hashed under the throttle's key;
/// `None` when nothing is left.
fn account_id(key: &Key, username: &str) -> Option<Id> {
    let name = username.trim();
    if name.is_empty() {
        return None;
    }
    Some(keyed(key, b"account\0", name.to_lowercase().as_bytes()))
}

fn address_id(key: &Key, ip: IpAddr) -> Id {
    keyed(key, b"address\0", &counted_bytes(ip))
}

/// The first 16 bytes of HMAC-SHA256(throttle sub-key, `context ‖ data`).
fn keyed(key: &Key, context: &[u8], data: &[u8]) -> Id {
    let mut ctx = hmac::Context::with_key(key.derived(Purpose::LoginThrottle));
    ctx.update(context);
    ctx.update(data);
    let tag = ctx.sign();
    let mut id = [0u8; 16];
    id.copy_from_slice(&tag.as_ref()[..16]);
    id
}

fn charge(prefix: &str, id: &Id, budget: super::budget::Budget) -> Charge {
    Charge {
        key: format!("{prefix}:{}", hex(id)),
        budget,
    }
}

fn hex(id: &Id) -> String {
    crate::secret::hex(id)
}
