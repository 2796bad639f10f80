//! A shard's presence filter: which keys its index may hold, readable without the shard's lock,
//! so that a lookup of a token the cache does not hold (every request of a site with more
//! sessions than the cache keeps, and every one-off cookie of a flood) answers "miss" without
//! taking the lock or reading the index.
//!
//! The index is too large to stay in the CPU's caches once it is full (64 KiB a shard), and the
//! lock's atomic operations wait, on x86, for every read before them: a miss waited for a line
//! of the index from memory, under the lock. The filter is 4 KiB a shard, 64 KiB a cache: read
//! on every lookup, it stays in the CPU's caches.
//!
//! Each key falls in one of [`BUCKETS`] words of the filter and has an 8-bit tag, both from a
//! remix of its bits. A word holds up to seven tags of the keys filed in it, and in its last byte
//! how many more were filed there without a tag. A key is certainly not filed when its word holds
//! neither its tag nor an untagged key. Only the holder of the shard's lock writes the filter, as
//! it files and removes entries; it keeps the filter exact (each filed key's tag, or its count,
//! in its word). A lookup reads it without the lock: one read of one word, which may be a moment
//! old. Its answer only decides whether the lookup goes on to the index, under the lock: a tag
//! that is found goes on (a false "maybe" costs only the lock, as every lookup did before); a key
//! filed just after the read is missed once, as it would have been a moment earlier, and the
//! token is verified. Nothing is ever taken from the cache without the index and the comparison
//! of the whole token, in constant time.

use std::sync::atomic::{AtomicU64, Ordering};

/// Words of a shard's filter: 512 for the index's at most 1,024 entries, two a word on average.
/// Seven tags fit in a word, so that in a full shard about one word in a thousand holds an
/// untagged key, and a key not filed is taken for one (its tag is in its word) about one time in
/// a hundred.
const BUCKETS: usize = 512;

/// The tag lanes of a word: its seven lower bytes.
const LANES: u64 = 0x00ff_ffff_ffff_ffff;
/// A one in each tag lane.
const ONES: u64 = 0x0001_0101_0101_0101;
/// The high bit of each tag lane.
const HIGHS: u64 = 0x0080_8080_8080_8080;
/// Where a word counts its untagged keys: its highest byte.
const UNTAGGED_SHIFT: u32 = 56;

pub(super) struct Filter {
    words: Box<[AtomicU64]>,
}

impl Filter {
    pub(super) fn new() -> Filter {
        Filter {
            words: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The word of `key` and its tag (never zero: a lane holding zero is empty). From a remix of
    /// all the key's bits: its lowest pick the shard, the same for every key of a filter.
    fn place(key: u64) -> (usize, u64) {
        let mixed = key.wrapping_mul(0xd6e8_feb8_6659_fd93);
        // The word from the top nine bits, the tag from the eight below them.
        let word = (mixed >> 55) as usize % BUCKETS;
        let tag = ((mixed >> 47) & 0xff).max(1);
        (word, tag)
    }

    /// The lanes of `word` that hold `tag`, each flagged by its high bit: exact for the lowest
    /// one (a borrow can flag a lane above it), which is all that is used.
    fn lanes_holding(word: u64, tag: u64) -> u64 {
        let x = (word & LANES) ^ (tag * ONES);
        x.wrapping_sub(ONES) & !x & HIGHS
    }

    /// Whether the shard's index may hold `key`: false only when it certainly does not (as of a
    /// moment ago).
    pub(super) fn may_hold(&self, key: u64) -> bool {
        let (word, tag) = Filter::place(key);
        let word = self.words[word].load(Ordering::Relaxed);
        word >> UNTAGGED_SHIFT != 0 || Filter::lanes_holding(word, tag) != 0
    }

    /// Records that `key` was filed; whether it took a tag lane (else it was counted as
    /// untagged), which [`remove`](Self::remove) must be told. Under the shard's lock.
    pub(super) fn add(&self, key: u64) -> bool {
        let (at, tag) = Filter::place(key);
        let word = self.words[at].load(Ordering::Relaxed);
        let empty = Filter::lanes_holding(word, 0);
        let (word, tagged) = if empty != 0 {
            let lane = empty.trailing_zeros() / 8;
            (word | tag << (8 * lane), true)
        } else {
            // A count that reached 255 stays there: the word then always answers "maybe".
            let untagged = (word >> UNTAGGED_SHIFT).saturating_add(1).min(255);
            (word & LANES | untagged << UNTAGGED_SHIFT, false)
        };
        self.words[at].store(word, Ordering::Relaxed);
        tagged
    }

    /// Records that `key`, filed with `tagged` as [`add`](Self::add) said, was removed. Under
    /// the shard's lock.
    pub(super) fn remove(&self, key: u64, tagged: bool) {
        let (at, tag) = Filter::place(key);
        let word = self.words[at].load(Ordering::Relaxed);
        let word = if tagged {
            // Keys of the same tag in one word are alike here: any of their lanes is emptied.
            let holding = Filter::lanes_holding(word, tag);
            debug_assert_ne!(holding, 0, "a tagged key's tag is in its word");
            if holding == 0 {
                return;
            }
            let lane = holding.trailing_zeros() / 8;
            word & !(0xff << (8 * lane))
        } else {
            match word >> UNTAGGED_SHIFT {
                0 | 255 => return,
                untagged => word & LANES | (untagged - 1) << UNTAGGED_SHIFT,
            }
        };
        self.words[at].store(word, Ordering::Relaxed);
    }

    /// The tags and untagged counts of the keys given, as [`add`](Self::add) would have placed
    /// them: what the filter must hold, word by word, for tests. Each word's tags sorted.
    #[cfg(test)]
    pub(super) fn expected(keys: impl Iterator<Item = (u64, bool)>) -> Vec<(Vec<u8>, u64)> {
        let mut words = vec![(Vec::new(), 0); BUCKETS];
        for (key, tagged) in keys {
            let (at, tag) = Filter::place(key);
            match tagged {
                true => words[at].0.push(tag as u8),
                false => words[at].1 += 1,
            }
        }
        for word in &mut words {
            word.0.sort_unstable();
            word.1 = word.1.min(255);
        }
        words
    }

    /// What the filter holds, in the form of [`expected`](Self::expected).
    #[cfg(test)]
    pub(super) fn held(&self) -> Vec<(Vec<u8>, u64)> {
        self.words
            .iter()
            .map(|word| {
                let word = word.load(Ordering::Relaxed);
                let mut tags: Vec<u8> = (0..7)
                    .map(|lane| (word >> (8 * lane)) as u8)
                    .filter(|&tag| tag != 0)
                    .collect();
                tags.sort_unstable();
                (tags, word >> UNTAGGED_SHIFT)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys spread as the cache's keyed hash spreads them.
    fn key(i: u64) -> u64 {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        BuildHasherDefault::<DefaultHasher>::default().hash_one(i)
    }

    #[test]
    fn a_filed_key_is_always_maybe_and_the_words_stay_exact_through_removals() {
        let filter = Filter::new();
        let mut filed: Vec<(u64, bool)> = Vec::new();
        let check = |filed: &[(u64, bool)]| {
            assert_eq!(filter.held(), Filter::expected(filed.iter().copied()));
            assert!(filed.iter().all(|&(k, _)| filter.may_hold(k)));
            // With a full shard's worth filed, most keys not filed are known absent.
            let absent = (1 << 40..(1 << 40) + 10_000)
                .filter(|&i| !filter.may_hold(key(i)))
                .count();
            assert!(absent > 9_700, "{absent} of 10,000 known absent");
        };
        for i in 0..1_024 {
            filed.push((key(i), filter.add(key(i))));
        }
        check(&filed);
        // A shard's churn: one key out, in an order unrelated to the filing, one key in.
        let mut at = 0;
        for i in 1_024..50_000 {
            at = (at + 7_919) % filed.len();
            let (k, tagged) = filed.swap_remove(at);
            filter.remove(k, tagged);
            filed.push((key(i), filter.add(key(i))));
            if i % 10_000 == 0 {
                check(&filed);
            }
        }
        // Overfilled, as no shard is: words run out of lanes and count untagged keys.
        for i in 50_000..55_000 {
            filed.push((key(i), filter.add(key(i))));
        }
        assert!(
            filed.iter().any(|&(_, tagged)| !tagged),
            "some words overflowed"
        );
        assert_eq!(filter.held(), Filter::expected(filed.iter().copied()));
        assert!(filed.iter().all(|&(k, _)| filter.may_hold(k)));
        while let Some((k, tagged)) = filed.pop() {
            filter.remove(k, tagged);
        }
        assert!(filter
            .held()
            .iter()
            .all(|(tags, untagged)| tags.is_empty() && *untagged == 0));
    }

    #[test]
    fn an_empty_filter_holds_nothing_and_a_tag_is_found_in_every_lane() {
        let filter = Filter::new();
        assert!((0..1_000).all(|i| !filter.may_hold(key(i))));
        for tag in 1..=255 {
            for lane in 0..7 {
                let word = tag << (8 * lane);
                assert_ne!(Filter::lanes_holding(word, tag), 0);
                let others = (1..=255).filter(|&t| t != tag);
                assert!(others
                    .into_iter()
                    .all(|t| Filter::lanes_holding(word, t) == 0));
            }
        }
    }
}
