//! The demo's user store: two users whose passwords are stored as PBKDF2-HMAC-SHA256 hashes.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ring::pbkdf2;
use tower_session_auth::{secrets_equal, AuthUser, HashLimit};

/// A demo user. Only the password hash is stored, never the password.
#[derive(Clone)]
pub struct User {
    pub id: &'static str,
    pub username: &'static str,
    password_hash: &'static str,
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
        password_hash: "b84d6f8e5430988672406907ef529c920603eec5ddd5e525e6b73845040c7b5d",
        api_token_sha256: "e8a637f8c7fb82e2a837d80cb3af074ead5578c9d73a3da7969eca8fddab62d6",
    },
    User {
        id: "user002",
        username: "david",
        password_hash: "b1a7ac558c78bf358ec4de8276418d46bd1968373070a544a2177f6c6e9a405d",
        api_token_sha256: "37f27b36c02341b8bd93dd20b037e2693d34acc10c5fc8e7caf314b0ef16f1bd",
    },
];

/// Checked for unknown usernames, so that they cost the same work as known ones.
const DUMMY: User = User {
    id: "",
    username: "dummy",
    password_hash: "17cc5fc06b7bdeff22f7533b953f35a4c64260a1b091db468d3c02aecad5449e",
    api_token_sha256: "",
};

/// The user with this id, for the gate's user loader.
pub fn by_id(id: &str) -> Option<User> {
    USERS.iter().find(|u| u.id == id).cloned()
}

/// Whether these credentials may be checked at all: no control characters, as the crate's Basic
/// parser requires. PBKDF2 pads a short password with zero bytes, so without this `hello\0` would
/// pass for `hello`.
pub fn well_formed(username: &str, password: &str) -> bool {
    !username
        .chars()
        .chain(password.chars())
        .any(char::is_control)
}

/// The user if `username` and `password` match. Unknown users and wrong passwords take the same
/// time and give the same answer; credentials that are not [`well_formed`] are refused unhashed.
pub fn verify_password(username: &str, password: &str) -> Option<User> {
    if !well_formed(username, password) {
        return None;
    }
    let known = USERS.iter().find(|u| u.username == username);
    let candidate = known.unwrap_or(&DUMMY);
    let salt = format!("tower-session-auth demo {}", candidate.username);
    let hash = hex(candidate.password_hash);
    let ok = pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA256,
        ITERATIONS,
        salt.as_bytes(),
        password.as_bytes(),
        &hash,
    )
    .is_ok();
    // ring's pbkdf2::verify compares in constant time.
    (ok && known.is_some()).then(|| candidate.clone())
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
        }
    }

    /// The bound itself, for the login throttle.
    pub fn limit(&self) -> HashLimit {
        self.limit.clone()
    }

    /// The right to run one hash, or `None` at once when every permit is taken.
    #[allow(dead_code)] // used by the tests that include this file
    pub fn try_permit(&self) -> Option<HashPermit> {
        self.limit.try_acquire().map(|p| self.adopt(p))
    }

    /// A permit the login throttle took, to hash with.
    pub fn adopt(&self, permit: tower_session_auth::HashPermit) -> HashPermit {
        HashPermit {
            _permit: permit,
            started: Arc::clone(&self.started),
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
}

impl HashPermit {
    /// [`verify_password`] on a blocking thread. The permit goes with the hash and is released
    /// when the hash ends, not before, even if the client hangs up and its request is dropped.
    pub async fn verify(self, username: String, password: String) -> Option<User> {
        if !well_formed(&username, &password) {
            return None;
        }
        tokio::task::spawn_blocking(move || {
            self.started.fetch_add(1, Ordering::SeqCst);
            let user = verify_password(&username, &password);
            drop(self);
            user
        })
        .await
        .ok()
        .flatten()
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
