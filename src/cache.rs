//! A bounded cache of what verifying a secret established: recently verified session cookies, so
//! that a session read on every request costs a keyed hash and a constant-time comparison instead
//! of an HMAC, base64 and JSON parsing; and auth-hash tags already checked against a user's hash.
//!
//! Safety rests on four rules:
//! - an entry is only ever made from a cookie that fully verified (MAC or AEAD tag, header,
//!   payload, time claims), and is found again only by the exact same bytes, compared in
//!   constant time (`subtle`), so a hit proves what a fresh verification would;
//! - each hit re-checks the entry's deadlines against the clock, so nothing outlives its `exp`,
//!   idle or absolute timeout;
//! - the cache belongs to one layer configuration: a new key set (a removed key) starts empty;
//! - it is bounded, so a flood of distinct valid cookies costs at most its capacity in memory.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use subtle::ConstantTimeEq;

const SHARDS: usize = 16;
/// Entries per shard; 16 × 256 sessions of a few hundred bytes each stay under a few MiB.
const SHARD_CAPACITY: usize = 256;

struct Entry<V> {
    token: Box<[u8]>,
    verified: Arc<V>,
}

/// One lock's worth of entries, by the keyed hash of their bytes.
type Shard<V> = Mutex<HashMap<u64, Entry<V>>>;

/// A bounded map from exact secret bytes (a cookie, or a stored auth-hash tag with the hash it was
/// checked against) to what verifying them established; one per
/// [`SessionLayer`](crate::SessionLayer) configuration.
pub(crate) struct Cache<V> {
    hasher: RandomState,
    shards: Box<[Shard<V>]>,
}

impl<V> std::fmt::Debug for Cache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").finish_non_exhaustive()
    }
}

impl<V> Default for Cache<V> {
    fn default() -> Self {
        Cache {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

impl<V> Cache<V> {
    fn shard(&self, hash: u64) -> std::sync::MutexGuard<'_, HashMap<u64, Entry<V>>> {
        self.shards[(hash as usize) % SHARDS]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Where `token` is filed: a keyed hash of its last bytes, which lie in its MAC (or AEAD
    /// tag) and so differ between any two valid tokens. A token crafted to share them only
    /// misses: the whole token is compared before an entry is used.
    fn key(&self, token: &[u8]) -> u64 {
        self.hasher
            .hash_one(&token[token.len().saturating_sub(32)..])
    }

    /// What verifying exactly these bytes established, if cached.
    pub(crate) fn get(&self, token: impl AsRef<[u8]>) -> Option<Arc<V>> {
        let token = token.as_ref();
        let hash = self.key(token);
        let shard = self.shard(hash);
        let entry = shard.get(&hash)?;
        constant_time_eq(&entry.token, token).then(|| Arc::clone(&entry.verified))
    }

    /// Remembers that `token` verified, establishing `verified`.
    pub(crate) fn insert(&self, token: impl AsRef<[u8]>, verified: Arc<V>) {
        let token = token.as_ref();
        let hash = self.key(token);
        let mut shard = self.shard(hash);
        if shard.len() >= SHARD_CAPACITY && !shard.contains_key(&hash) {
            // Evict an arbitrary entry: the hasher is randomly keyed, so an attacker cannot
            // choose which.
            if let Some(&victim) = shard.keys().next() {
                shard.remove(&victim);
            }
        }
        shard.insert(
            hash,
            Entry {
                token: token.into(),
                verified,
            },
        );
    }
}

/// Whether `a` and `b` are equal, in time that depends only on their lengths (which are public:
/// a cookie's length is visible on the wire). Eight bytes at a time are folded into one word
/// without branching; `subtle` then tests that word. (`subtle`'s slice comparison goes a byte at a
/// time through an optimisation barrier, which made this lookup cost more than the HMAC it saves
/// a fraction of.)
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut words_a, mut words_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let mut diff = 0u64;
    for (x, y) in (&mut words_a).zip(&mut words_b) {
        let word = |w: &[u8]| u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        diff |= word(x) ^ word(y);
    }
    for (x, y) in words_a.remainder().iter().zip(words_b.remainder()) {
        diff |= u64::from(x ^ y);
    }
    bool::from(diff.ct_eq(&0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified() -> Arc<u32> {
        Arc::new(7)
    }

    #[test]
    fn hits_need_the_exact_bytes() {
        let cache = Cache::<u32>::default();
        cache.insert("a.b.c", verified());
        assert!(cache.get("a.b.c").is_some());
        for other in ["a.b.", "a.b.c ", "a.b.d", "A.b.c", ""] {
            assert!(cache.get(other).is_none(), "{other}");
        }
    }

    #[test]
    fn constant_time_eq_is_equality() {
        for len in 0..40 {
            let a: Vec<u8> = (0..len as u8).collect();
            assert!(constant_time_eq(&a, &a.clone()));
            for i in 0..len {
                let mut b = a.clone();
                b[i] ^= 0x80;
                assert!(!constant_time_eq(&a, &b), "len {len}, byte {i}");
            }
            assert!(!constant_time_eq(&a, &[a.as_slice(), b"x"].concat()));
        }
    }

    #[test]
    fn a_token_sharing_the_tail_of_a_cached_one_misses() {
        let cache = Cache::<u32>::default();
        let tail = "T".repeat(40);
        cache.insert(format!("a.valid.{tail}"), verified());
        assert!(cache.get(format!("a.forged.{tail}")).is_none());
        assert!(cache.get(format!("a.valid.{tail}")).is_some());
    }

    #[test]
    fn bounded() {
        let cache = Cache::<u32>::default();
        for i in 0..(SHARDS * SHARD_CAPACITY * 3) {
            cache.insert(format!("token-{i}"), verified());
        }
        let total: usize = cache.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(total <= SHARDS * SHARD_CAPACITY, "{total}");
    }
}
