//! The demo's user store: two users whose passwords are stored as PBKDF2-HMAC-SHA256 hashes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ring::pbkdf2;
use tower_session_auth::{secrets_equal, AuthUser, HashLimit};

/// A demo user. Only the password hash is stored, never the password.
#[derive(Clone)]
pub struct User {
    pub id: &'static str,
    pub username: &'static str,
    password_hash: Cow<'static, str>,
    /// SHA-256 of the user's API token (a high-entropy token needs no slow hash).
    api_token_sha256: &'static str,
}

// Hashes are secrets too: `Debug` (and so `CurrentUser<User>` in logs) shows only the names.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl AuthUser for User {
    type Id = String;

    fn id(&self) -> String {
        self.id.to_owned()
    }

    // A password change changes the hash, which ends every session of the user.
    fn session_auth_hash(&self) -> Option<&[u8]> {
        Some(self.password_hash.as_bytes())
    }
}

const ITERATIONS: NonZeroU32 = match NonZeroU32::new(100_000) {
    Some(n) => n,
    None => unreachable!(),
};

/// susan / hello and david / bye, hashed with the salt `tower-session-auth demo <username>`.
const USERS: [User; 2] = [
    User {
        id: "user001",
        username: "susan",
        password_hash: Cow::Borrowed(
            "b84d6f8e5430988672406907ef529c920603eec5ddd5e525e6b73845040c7b5d",
        ),
        api_token_sha256: "e8a637f8c7fb82e2a837d80cb3af074ead5578c9d73a3da7969eca8fddab62d6",
    },
    User {
        id: "user002",
        username: "david",
        password_hash: Cow::Borrowed(
            "b1a7ac558c78bf358ec4de8276418d46bd1968373070a544a2177f6c6e9a405d",
        ),
        api_token_sha256: "37f27b36c02341b8bd93dd20b037e2693d34acc10c5fc8e7caf314b0ef16f1bd",
    },
];

/// Checked for unknown usernames, so that they cost the same work as known ones.
const DUMMY: User = User {
    id: "",
    username: "dummy",
    password_hash: Cow::Borrowed(
        "17cc5fc06b7bdeff22f7533b953f35a4c64260a1b091db468d3c02aecad5449e",
    ),
    api_token_sha256: "",
};

/// Whether these credentials may be checked at all: no control characters, as the crate's Basic
/// parser requires. PBKDF2 pads a short password with zero bytes, so without this `hello\0` would
/// pass for `hello`.
pub fn well_formed(username: &str, password: &str) -> bool {
    !username
        .chars()
        .chain(password.chars())
        .any(char::is_control)
}

/// The built-in user with this id, with the password the demo starts with.
#[allow(dead_code)] // used by the tests that include this file
pub fn by_id(id: &str) -> Option<User> {
    USERS.iter().find(|u| u.id == id).cloned()
}

/// The built-in user if `username` and `password` match the passwords the demo starts with.
#[allow(dead_code)] // used by the tests that include this file
pub fn verify_password(username: &str, password: &str) -> Option<User> {
    Users::default().verify_password(username, password)
}

/// The demo's users as they are now: the built-in ones, with the passwords changed since the
/// app started (in memory: a restart forgets them). Clones share the changes.
#[derive(Clone, Debug, Default)]
pub struct Users {
    /// New password hashes (hex), by user id.
    changed: Arc<Mutex<HashMap<&'static str, String>>>,
}

impl Users {
    /// The user with this id, for the gate's user loader.
    pub fn by_id(&self, id: &str) -> Option<User> {
        let user = USERS.iter().find(|u| u.id == id)?;
        Some(self.current(user))
    }

    /// `user` with their current password hash.
    fn current(&self, user: &User) -> User {
        let mut user = user.clone();
        let changed = self.changed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hash) = changed.get(user.id) {
            user.password_hash = Cow::Owned(hash.clone());
        }
        user
    }

    /// Replaces the password of the user `id` (an expensive hash: call it on a blocking thread).
    pub fn set_password(&self, id: &str, password: &str) {
        let Some(user) = USERS.iter().find(|u| u.id == id) else {
            return;
        };
        let mut hash = [0u8; 32];
        let salt = format!("tower-session-auth demo {}", user.username);
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            ITERATIONS,
            salt.as_bytes(),
            password.as_bytes(),
            &mut hash,
        );
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        self.changed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(user.id, hex);
    }

    /// The user if `username` and `password` match. Unknown users and wrong passwords take the
    /// same time and give the same answer; credentials that are not [`well_formed`] are refused
    /// unhashed.
    pub fn verify_password(&self, username: &str, password: &str) -> Option<User> {
        if !well_formed(username, password) {
            return None;
        }
        let known = USERS
            .iter()
            .find(|u| u.username == username)
            .map(|u| self.current(u));
        verify_against(known, password)
    }
}

/// Checks `password` against `known`'s hash, or against a dummy's for an unknown user.
fn verify_against(known: Option<User>, password: &str) -> Option<User> {
    let candidate = known.as_ref().unwrap_or(&DUMMY);
    let salt = format!("tower-session-auth demo {}", candidate.username);
    let hash = hex(&candidate.password_hash);
    let ok = pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA256,
        ITERATIONS,
        salt.as_bytes(),
        password.as_bytes(),
        &hash,
    )
    .is_ok();
    // ring's pbkdf2::verify compares in constant time.
    if ok {
        known
    } else {
        None
    }
}

/// A bound on the password hashes running at once. Each costs 100,000 rounds of PBKDF2 on a
/// blocking thread: unbounded, a client with many connections fills tokio's blocking pool (512
/// threads) and slows every other request. When every permit is taken, the caller answers `503`
/// at once instead of queueing. The bound is the crate's [`HashLimit`], shared with the login
/// throttle, which takes its permits after the budgets allow an attempt.
#[derive(Clone, Debug)]
pub struct PasswordHashing {
    limit: HashLimit,
    started: Arc<AtomicU64>,
    users: Users,
}

impl PasswordHashing {
    /// Twice the available parallelism: enough to keep the cores busy, not enough to starve them.
    pub fn for_this_machine() -> Self {
        Self::with_limit(HashLimit::for_this_machine())
    }

    /// At most `permits` hashes at once.
    #[allow(dead_code)] // used by the tests that include this file
    pub fn new(permits: usize) -> Self {
        Self::with_limit(HashLimit::new(permits))
    }

    fn with_limit(limit: HashLimit) -> Self {
        PasswordHashing {
            limit,
            started: Arc::new(AtomicU64::new(0)),
            users: Users::default(),
        }
    }

    /// The bound itself, for the login throttle.
    pub fn limit(&self) -> HashLimit {
        self.limit.clone()
    }

    /// The users whose passwords this checks.
    pub fn users(&self) -> &Users {
        &self.users
    }

    /// The right to run one hash, or `None` at once when every permit is taken.
    pub fn try_permit(&self) -> Option<HashPermit> {
        self.limit.try_acquire().map(|p| self.adopt(p))
    }

    /// A permit the login throttle took, to hash with.
    pub fn adopt(&self, permit: tower_session_auth::HashPermit) -> HashPermit {
        HashPermit {
            _permit: permit,
            started: Arc::clone(&self.started),
            users: self.users.clone(),
        }
    }

    /// How many hashes have started so far.
    #[allow(dead_code)] // used by the tests that include this file
    pub fn hashes_started(&self) -> u64 {
        self.started.load(Ordering::SeqCst)
    }
}

/// The right to run one password hash, from [`PasswordHashing::try_permit`] or
/// [`PasswordHashing::adopt`].
#[must_use]
pub struct HashPermit {
    _permit: tower_session_auth::HashPermit,
    started: Arc<AtomicU64>,
    users: Users,
}

impl HashPermit {
    /// [`Users::verify_password`] on a blocking thread. The permit goes with the hash and is
    /// released when the hash ends, not before, even if the client hangs up and its request is
    /// dropped.
    pub async fn verify(self, username: String, password: String) -> Option<User> {
        if !well_formed(&username, &password) {
            return None;
        }
        tokio::task::spawn_blocking(move || {
            self.started.fetch_add(1, Ordering::SeqCst);
            let user = self.users.verify_password(&username, &password);
            drop(self);
            user
        })
        .await
        .ok()
        .flatten()
    }

    /// [`Users::set_password`] on a blocking thread, under the same bound as a verification.
    pub async fn set_password(self, id: String, password: String) {
        let _ = tokio::task::spawn_blocking(move || {
            self.started.fetch_add(1, Ordering::SeqCst);
            self.users.set_password(&id, &password);
            drop(self);
        })
        .await;
    }
}

/// The user whose API token this is. Every stored hash is compared, in constant time, so the
/// answer takes the same time whichever user (if any) matches.
pub fn verify_api_token(token: &str) -> Option<User> {
    let presented = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    USERS.iter().fold(None, |found, user| {
        let matches = secrets_equal(&hex(user.api_token_sha256), presented.as_ref());
        if matches {
            Some(user.clone())
        } else {
            found
        }
    })
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
