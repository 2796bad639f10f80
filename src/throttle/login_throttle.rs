//! [`LoginThrottle`] and its builder.

use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use super::address::{ForwardedHeader, Network};
use super::budget::Budget;
use super::event::ThrottleEvent;
use super::hashing::HashLimit;
use super::memory::MemoryCounters;
use super::store::CounterStore;
use crate::clock::{Clock, SystemClock};
use crate::cookie::scope::CookieScope;
use crate::cookie::MAX_COOKIE_AGE_SECS;
use crate::key::Key;
use crate::{ConfigError, Error};

/// The hook called with every [`ThrottleEvent`].
pub(crate) type Hook = Arc<dyn Fn(&ThrottleEvent) + Send + Sync>;

/// Throttles password checks: a budget of attempts per client address and per account, a
/// known-device cookie that keeps an account's owner out of the account's budget, and a bound
/// on the hashes running at once. See [the module docs](crate#login-throttling) in the README
/// and [`LoginThrottle::check`] for how a login handler uses it.
///
/// Cheap to clone (an `Arc` inside): build one and share it between every route that checks
/// passwords, so they spend the same budgets.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tower_session_auth::{Budget, Key, LoginThrottle};
///
/// let throttle = LoginThrottle::builder(Key::generate())
///     .per_address(Budget::new(10, Duration::from_secs(60)))
///     .per_account(Budget::new(10, Duration::from_secs(300)))
///     .trusted_proxies(["10.0.0.0/8"])
///     .build()?;
/// # let _ = throttle;
/// # Ok::<(), tower_session_auth::Error>(())
/// ```
#[derive(Clone)]
pub struct LoginThrottle(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) key: Key,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) store: Arc<dyn CounterStore>,
    pub(crate) per_address: Budget,
    pub(crate) per_account: Budget,
    pub(crate) per_device: Budget,
    pub(crate) proxies: Vec<Network>,
    pub(crate) forwarded: ForwardedHeader,
    pub(crate) hash_limit: HashLimit,
    pub(crate) cookie_name: String,
    pub(crate) scope: CookieScope,
    pub(crate) device_lifetime: u64,
    pub(crate) hook: Option<Hook>,
    /// Whether the missing connection address has been reported.
    pub(crate) warned_no_address: AtomicBool,
}

impl fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.0;
        f.debug_struct("LoginThrottle")
            .field("per_address", &i.per_address)
            .field("per_account", &i.per_account)
            .field("per_device", &i.per_device)
            .field("trusted_proxies", &i.proxies.len())
            .field("forwarded", &i.forwarded)
            .field("store", &i.store)
            .field("hash_limit", &i.hash_limit)
            .field("cookie_name", &i.cookie_name)
            .field("device_lifetime", &i.device_lifetime)
            .field("hook", &i.hook.as_ref().map(|_| "Fn(&ThrottleEvent)"))
            .finish_non_exhaustive()
    }
}

impl LoginThrottle {
    /// A builder with the defaults: 10 attempts per client address, then one a minute; 10 per
    /// account, then one every 5 minutes; 10 per known device, then one a minute; no trusted
    /// proxy; counters in a [`MemoryCounters`]; [`HashLimit::for_this_machine`]; a known-device
    /// cookie named `__Host-device` that lasts 180 days. `key` signs the known-device cookies
    /// and keys the hashes that name the counters: give every instance that shares a counter
    /// store the same key.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, LoginThrottle};
    ///
    /// let throttle = LoginThrottle::builder(Key::generate()).build()?;
    /// # let _ = throttle;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn builder(key: Key) -> LoginThrottleBuilder {
        LoginThrottleBuilder {
            key,
            clock: Arc::new(SystemClock),
            store: None,
            per_address: Budget::new(10, Duration::from_secs(60)),
            per_account: Budget::new(10, Duration::from_secs(300)),
            per_device: Budget::new(10, Duration::from_secs(60)),
            proxies: Vec::new(),
            forwarded: ForwardedHeader::default(),
            hash_limit: None,
            cookie_name: None,
            secure: true,
            device_lifetime: Duration::from_secs(180 * 86_400),
            hook: None,
        }
    }
}

/// Configures a [`LoginThrottle`]; see [`LoginThrottle::builder`] for the defaults.
#[must_use]
pub struct LoginThrottleBuilder {
    key: Key,
    clock: Arc<dyn Clock>,
    store: Option<Arc<dyn CounterStore>>,
    per_address: Budget,
    per_account: Budget,
    per_device: Budget,
    proxies: Vec<String>,
    forwarded: ForwardedHeader,
    hash_limit: Option<HashLimit>,
    cookie_name: Option<String>,
    secure: bool,
    device_lifetime: Duration,
    hook: Option<Hook>,
}

impl fmt::Debug for LoginThrottleBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginThrottleBuilder")
            .field("per_address", &self.per_address)
            .field("per_account", &self.per_account)
            .field("per_device", &self.per_device)
            .field("trusted_proxies", &self.proxies)
            .finish_non_exhaustive()
    }
}

impl LoginThrottleBuilder {
    /// The budget of every client address, over every account (default: 10, then one a minute).
    /// It stops one client from guessing many accounts' passwords; a shared address (an office
    /// behind NAT) shares it, but known devices do not spend it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_session_auth::{Budget, Key, LoginThrottle};
    ///
    /// let throttle = LoginThrottle::builder(Key::generate())
    ///     .per_address(Budget::new(20, Duration::from_secs(30)))
    ///     .build()?;
    /// # let _ = throttle;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn per_address(mut self, budget: Budget) -> Self {
        self.per_address = budget;
        self
    }

    /// The budget of every account, over every client address that is not one of the account's
    /// known devices (default: 10, then one every 5 minutes). It stops a guessing attack spread
    /// over many addresses; known devices do not spend it, so spending it locks out nobody who
    /// logged in from that browser before.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_session_auth::{Budget, Key, LoginThrottle};
    ///
    /// let throttle = LoginThrottle::builder(Key::generate())
    ///     .per_account(Budget::new(5, Duration::from_secs(600)))
    ///     .build()?;
    /// # let _ = throttle;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn per_account(mut self, budget: Budget) -> Self {
        self.per_account = budget;
        self
    }

    /// The budget of each known device, for its account (default: 10, then one a minute). An
    /// attempt from a browser with a valid known-device cookie for the account spends this
    /// instead of the address and account budgets.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_session_auth::{Budget, Key, LoginThrottle};
    ///
    /// let throttle = LoginThrottle::builder(Key::generate())
    ///     .per_device(Budget::new(5, Duration::from_secs(60)))
    ///     .build()?;
    /// # let _ = throttle;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn per_device(mut self, budget: Budget) -> Self {
        self.per_device = budget;
        self
    }

    /// The reverse proxies whose forwarding header is believed: addresses (`192.0.2.1`, `::1`)
    /// or networks (`10.0.0.0/8`). Default: none, so the client address is always the
    /// connection's peer. When the peer is one of these, the client is the right-most hop of
    /// [`forwarded_header`](Self::forwarded_header) that is not one of these; hops to its left
    /// were written by the client and are never read.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{ConfigError, Error, Key, LoginThrottle};
    ///
    /// let throttle = LoginThrottle::builder(Key::generate())
    ///     .trusted_proxies(["127.0.0.1", "10.0.0.0/8", "fd00::/8"])
    ///     .build()?;
    /// # let _ = throttle;
    /// let refused = LoginThrottle::builder(Key::generate())
    ///     .trusted_proxies(["proxy.internal"])
    ///     .build();
    /// assert!(matches!(refused, Err(Error::InvalidConfig(ConfigError::TrustedProxy))));
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn trusted_proxies<I, S>(mut self, proxies: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.proxies = proxies.into_iter().map(|p| p.as_ref().to_owned()).collect();
        self
    }

    /// The header trusted proxies write: `X-Forwarded-For` (the default) or `Forwarded`. Only
    /// this one is read; configure the one your proxy *appends to*, or a client can write the
    /// other one whole.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{ForwardedHeader, Key, LoginThrottle};
    ///
    /// let throttle = LoginThrottle::builder(Key::generate())
    ///     .trusted_proxies(["10.0.0.1"])
    ///     .forwarded_header(ForwardedHeader::Forwarded)
    ///     .build()?;
    /// # let _ = throttle;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn forwarded_header(mut self, header: ForwardedHeader) -> Self {
        self.forwarded = header;
        self
    }

    /// Where the counters are kept. Default: a [`MemoryCounters`] of 65,536 counters in this
    /// process.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, LoginThrottle, MemoryCounters};
    ///
    /// let throttle = LoginThrottle::builder(Key::generate())
    ///     .store(MemoryCounters::new(1_000))
    ///     .build()?;
    /// # let _ = throttle;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn store(mut self, store: impl CounterStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The bound on password hashes at once. Default: [`HashLimit::for_this_machine`]. Pass a
    /// clone of the limit every other password check uses, so all of them share it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{HashLimit, Key, LoginThrottle};
    ///
    /// let limit = HashLimit::new(4);
    /// let throttle = LoginThrottle::builder(Key::generate())
    ///     .hash_limit(limit.clone())
    ///     .build()?;
    /// # let _ = throttle;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn hash_limit(mut self, limit: HashLimit) -> Self {
        self.hash_limit = Some(limit);
        self
    }

    /// The known-device cookie's name. Default `__Host-device`, or `device` with
    /// [`secure(false)`](Self::secure).
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, LoginThrottle};
    ///
    /// let throttle = LoginThrottle::builder(Key::generate())
    ///     .device_cookie_name("__Host-known")
    ///     .build()?;
    /// # let _ = throttle;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn device_cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = Some(name.into());
        self
    }

    /// Whether the known-device cookie is `Secure` (default on). Turn it off only for plain-http
    /// development, as with the session cookie.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Key, LoginThrottle};
    ///
    /// let throttle = LoginThrottle::builder(Key::generate())
    ///     .secure(false) // plain http on 127.0.0.1
    ///     .build()?;
    /// # let _ = throttle;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// How long a known-device cookie stays valid after the login that issued it (default 180
    /// days, at most 400). Each successful login re-issues it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_session_auth::{Key, LoginThrottle};
    ///
    /// let throttle = LoginThrottle::builder(Key::generate())
    ///     .device_lifetime(Duration::from_secs(30 * 86_400))
    ///     .build()?;
    /// # let _ = throttle;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn device_lifetime(mut self, lifetime: Duration) -> Self {
        self.device_lifetime = lifetime;
        self
    }

    /// The time source of the budgets and the known-device cookies (default the system clock),
    /// so tests can move it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{Clock, Key, LoginThrottle};
    ///
    /// #[derive(Debug)]
    /// struct Fixed(u64);
    /// impl Clock for Fixed {
    ///     fn now(&self) -> u64 {
    ///         self.0
    ///     }
    /// }
    ///
    /// let throttle = LoginThrottle::builder(Key::generate())
    ///     .clock(Fixed(1_700_000_000))
    ///     .build()?;
    /// # let _ = throttle;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// A function called with every decision (besides the `tracing` event): to count attacks,
    /// alert, or block an address at the firewall. It runs inline: keep it quick.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use tower_session_auth::{Key, LoginThrottle, ThrottleOutcome};
    ///
    /// let throttled = Arc::new(AtomicU64::new(0));
    /// let count = Arc::clone(&throttled);
    /// let throttle = LoginThrottle::builder(Key::generate())
    ///     .on_event(move |event| {
    ///         if matches!(event.outcome, ThrottleOutcome::Throttled(_)) {
    ///             count.fetch_add(1, Ordering::Relaxed);
    ///         }
    ///     })
    ///     .build()?;
    /// # let _ = throttle;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    pub fn on_event<F>(mut self, hook: F) -> Self
    where
        F: Fn(&ThrottleEvent) + Send + Sync + 'static,
    {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// Checks the configuration and builds the throttle.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] with [`ConfigError::Budget`] for a budget of zero attempts or
    /// a refill outside 1 second to 1 day; [`ConfigError::TrustedProxy`] for a proxy that is not
    /// an address or network; [`ConfigError::ThrottleLimit`] for a known-device lifetime of zero
    /// or over 400 days; and the cookie rules of the session layer for the cookie's name
    /// ([`ConfigError::CookieName`], [`ConfigError::CookiePrefix`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_session_auth::{Budget, ConfigError, Error, Key, LoginThrottle};
    ///
    /// let refused = LoginThrottle::builder(Key::generate())
    ///     .per_account(Budget::new(0, Duration::from_secs(60)))
    ///     .build();
    /// assert!(matches!(refused, Err(Error::InvalidConfig(ConfigError::Budget))));
    /// ```
    pub fn build(self) -> Result<LoginThrottle, Error> {
        let refuse = |rule| Err(Error::InvalidConfig(rule));
        if ![self.per_address, self.per_account, self.per_device]
            .iter()
            .all(Budget::is_valid)
        {
            return refuse(ConfigError::Budget);
        }
        let proxies = self
            .proxies
            .iter()
            .map(|p| Network::parse(p))
            .collect::<Result<Vec<_>, _>>()?;
        let lifetime = self.device_lifetime.as_secs();
        if lifetime == 0 || lifetime > MAX_COOKIE_AGE_SECS {
            return refuse(ConfigError::ThrottleLimit);
        }
        let cookie_name = self.cookie_name.unwrap_or_else(|| {
            if self.secure {
                "__Host-device"
            } else {
                "device"
            }
            .to_owned()
        });
        let mut scope = CookieScope::default();
        scope.secure = self.secure;
        scope.validate(&cookie_name)?;
        scope.render();
        Ok(LoginThrottle(Arc::new(Inner {
            key: self.key,
            clock: self.clock,
            store: self
                .store
                .unwrap_or_else(|| Arc::new(MemoryCounters::default())),
            per_address: self.per_address,
            per_account: self.per_account,
            per_device: self.per_device,
            proxies,
            forwarded: self.forwarded,
            hash_limit: self.hash_limit.unwrap_or_else(HashLimit::for_this_machine),
            cookie_name,
            scope,
            device_lifetime: lifetime,
            hook: self.hook,
            warned_no_address: AtomicBool::new(false),
        })))
    }
}
