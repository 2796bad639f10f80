//! A shard's index: its entries by key (a keyed hash, already uniform), in one array of slots
//! that each hold a key beside its entry, found by linear probing from the key's home slot and
//! kept at most half full.
//!
//! A hit reads the key and the entry from the same slot: one line of memory, where a SwissTable
//! (`std`'s `HashMap`) first reads a line of control bytes and only then the bucket. In a full
//! cache, whose index is too large to stay in the CPU's caches, the recurring sessions of a busy
//! site are each read too seldom for their index lines to stay there either, so that first line
//! is a wait for memory on every hit.

use std::mem::size_of;

/// The slots an index first allocates.
const MIN_SLOTS: usize = 16;

/// A key and its entry, aligned so that a slot of 32 bytes (a session's) never straddles two
/// lines of memory.
#[repr(align(32))]
struct Slot<T>(Option<(u64, T)>);

/// The bytes of one slot holding a `T`.
pub(super) const fn slot_bytes<T>() -> usize {
    size_of::<Slot<T>>()
}

pub(super) struct Index<T> {
    /// Empty until the first insert, then a power of two of slots, never more than half full:
    /// every probe ends at an empty slot.
    slots: Box<[Slot<T>]>,
    len: usize,
    /// Lookups by key, for tests.
    #[cfg(test)]
    finds: std::cell::Cell<u64>,
}

impl<T> Index<T> {
    pub(super) fn new() -> Index<T> {
        Index {
            slots: Box::new([]),
            len: 0,
            #[cfg(test)]
            finds: std::cell::Cell::new(0),
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The slot a probe for `key` starts at. The bits that pick a shard (the lowest) are the same
    /// in all of a shard's keys: the home is taken from the high half instead.
    fn home(&self, key: u64) -> usize {
        (key >> 32) as usize & (self.slots.len() - 1)
    }

    fn next(&self, slot: usize) -> usize {
        (slot + 1) & (self.slots.len() - 1)
    }

    /// The slot holding `key`.
    fn find(&self, key: u64) -> Option<usize> {
        #[cfg(test)]
        self.finds.set(self.finds.get() + 1);
        self.probe(key)
    }

    /// [`find`](Self::find), not counted.
    fn probe(&self, key: u64) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mut slot = self.home(key);
        loop {
            match &self.slots[slot].0 {
                None => return None,
                Some((k, _)) if *k == key => return Some(slot),
                Some(_) => slot = self.next(slot),
            }
        }
    }

    pub(super) fn get(&self, key: u64) -> Option<&T> {
        let slot = self.find(key)?;
        self.slots[slot].0.as_ref().map(|(_, value)| value)
    }

    pub(super) fn get_mut(&mut self, key: u64) -> Option<&mut T> {
        let slot = self.find(key)?;
        self.slots[slot].0.as_mut().map(|(_, value)| value)
    }

    /// Files `value` under `key`, returning the value it replaces.
    pub(super) fn insert(&mut self, key: u64, value: T) -> Option<T> {
        if let Some(slot) = self.find(key) {
            let old = self.slots[slot].0.replace((key, value));
            return old.map(|(_, value)| value);
        }
        if 2 * (self.len + 1) > self.slots.len() {
            self.grow();
        }
        self.place(key, value);
        self.len += 1;
        None
    }

    /// Puts `value` in the first empty slot from `key`'s home on (`key` is not filed).
    fn place(&mut self, key: u64, value: T) {
        let mut slot = self.home(key);
        while self.slots[slot].0.is_some() {
            slot = self.next(slot);
        }
        self.slots[slot].0 = Some((key, value));
    }

    /// Doubles the slots (or makes the first ones) and files every entry again.
    fn grow(&mut self) {
        let slots = (2 * self.slots.len()).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, (0..slots).map(|_| Slot(None)).collect());
        for (key, value) in old.into_vec().into_iter().filter_map(|slot| slot.0) {
            self.place(key, value);
        }
    }

    /// Takes `key`'s value out. The entries after it in its run that may not be found past the
    /// emptied slot move back into it, one after another (Knuth's algorithm R), so no probe
    /// stops short of an entry and no slot is left marked as deleted.
    pub(super) fn remove(&mut self, key: u64) -> Option<T> {
        let mut hole = self.find(key)?;
        let (_, value) = self.slots[hole].0.take()?;
        self.len -= 1;
        let mut slot = hole;
        loop {
            slot = self.next(slot);
            let Some((key, _)) = &self.slots[slot].0 else {
                return Some(value);
            };
            let home = self.home(*key);
            // The entry stays when its probe does not pass the hole: when its home lies
            // cyclically in (hole, slot]. Otherwise it moves into the hole, which moves to it.
            let stays = if hole <= slot {
                hole < home && home <= slot
            } else {
                hole < home || home <= slot
            };
            if !stays {
                self.slots[hole].0 = self.slots[slot].0.take();
                hole = slot;
            }
        }
    }

    #[cfg(test)]
    pub(super) fn values(&self) -> impl Iterator<Item = &T> {
        self.slots
            .iter()
            .filter_map(|slot| slot.0.as_ref().map(|(_, value)| value))
    }

    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.slots
            .iter_mut()
            .filter_map(|slot| slot.0.as_mut().map(|(_, value)| value))
    }

    /// [`get`](Self::get) without counting a lookup, for tests.
    #[cfg(test)]
    pub(super) fn peek(&self, key: u64) -> Option<&T> {
        let slot = self.probe(key)?;
        self.slots[slot].0.as_ref().map(|(_, value)| value)
    }

    /// How many lookups by key were made, for tests.
    #[cfg(test)]
    pub(super) fn finds(&self) -> u64 {
        self.finds.get()
    }

    /// The slots allocated, for tests.
    #[cfg(test)]
    pub(super) fn slots(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// A key whose home is `home` in any index of at most 2^32 slots, told apart by `tag`.
    fn key(home: u32, tag: u32) -> u64 {
        (u64::from(home) << 32) | u64::from(tag)
    }

    #[test]
    fn an_index_allocates_nothing_until_its_first_entry_and_stays_at_most_half_full() {
        let mut index = Index::new();
        assert_eq!(index.slots(), 0);
        assert_eq!(index.get(1), None);
        assert_eq!(index.remove(1), None);
        for n in 0..1000u32 {
            assert_eq!(index.insert(key(n.wrapping_mul(2_654_435_761), n), n), None);
            assert!(2 * index.len() <= index.slots());
        }
        assert_eq!(index.len(), 1000);
        assert_eq!(index.slots(), 2048);
        for n in 0..1000u32 {
            assert_eq!(index.get(key(n.wrapping_mul(2_654_435_761), n)), Some(&n));
        }
    }

    #[test]
    fn removing_from_a_run_that_wraps_around_keeps_every_other_entry_found() {
        let mut index = Index::new();
        // 16 slots: a run from slot 14 over the end, holding entries whose homes are 14, 15
        // and 0, then one that was pushed past its home.
        let keys = [key(14, 1), key(14, 2), key(15, 3), key(0, 4), key(14, 5)];
        for (n, k) in keys.iter().enumerate() {
            index.insert(*k, n);
        }
        assert_eq!(index.slots(), 16);
        for removed in 0..keys.len() {
            let mut copy = Index::new();
            for (n, k) in keys.iter().enumerate() {
                copy.insert(*k, n);
            }
            assert_eq!(copy.remove(keys[removed]), Some(removed));
            assert_eq!(copy.get(keys[removed]), None);
            for (n, k) in keys.iter().enumerate().filter(|(n, _)| *n != removed) {
                assert_eq!(copy.get(*k), Some(&n), "after removing {removed}");
            }
            assert_eq!(copy.len(), keys.len() - 1);
        }
    }

    #[test]
    fn removing_leaves_in_place_an_entry_at_or_past_its_home() {
        // 16 slots: `a` and `b` at home 3 fill slots 3 and 4, `c` sits at its home, 5. With `a`
        // gone, `b` moves back to 3 and `c` must stay: moved to 4, before its home, no probe
        // would find it.
        let (a, b, c) = (key(3, 1), key(3, 2), key(5, 3));
        let mut index = Index::new();
        for (n, k) in [a, b, c].into_iter().enumerate() {
            index.insert(k, n);
        }
        assert_eq!(index.slots(), 16);
        assert_eq!(index.remove(a), Some(0));
        assert_eq!((index.get(b), index.get(c)), (Some(&1), Some(&2)));
        assert_eq!(index.remove(b), Some(1));
        assert_eq!(index.get(c), Some(&2));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u64, u32),
        Remove(u64),
        Get(u64),
        /// Adds one to the value, through `get_mut`.
        Bump(u64),
        /// Adds one to every value, through `values_mut`.
        BumpAll,
    }

    /// Keys crowded on a few homes, so runs are long, wrap around the end of tables of every
    /// size (the homes just below 2^32 are the last slots of any table) and are broken by
    /// removals.
    fn crowded_key() -> impl Strategy<Value = u64> {
        let homes = prop_oneof![0u32..4, 12u32..16, 28u32..32, (u32::MAX - 3)..=u32::MAX];
        (0u32..8, homes).prop_map(|(tag, home)| key(home, tag))
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (crowded_key(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v >> 1)),
            3 => crowded_key().prop_map(Op::Remove),
            1 => crowded_key().prop_map(Op::Get),
            1 => crowded_key().prop_map(Op::Bump),
            1 => Just(Op::BumpAll),
        ]
    }

    proptest! {
        /// The index answers as a `HashMap` does, whatever the inserts and removals.
        #[test]
        fn an_index_agrees_with_a_map(ops in proptest::collection::vec(op(), 0..200)) {
            let mut index = Index::new();
            let mut model = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(index.insert(k, v), model.insert(k, v)),
                    Op::Remove(k) => prop_assert_eq!(index.remove(k), model.remove(&k)),
                    Op::Get(k) => prop_assert_eq!(index.get(k), model.get(&k)),
                    Op::Bump(k) => {
                        if let Some(v) = index.get_mut(k) {
                            *v += 1;
                        }
                        if let Some(v) = model.get_mut(&k) {
                            *v += 1;
                        }
                    }
                    Op::BumpAll => {
                        index.values_mut().for_each(|v| *v += 1);
                        model.values_mut().for_each(|v| *v += 1);
                    }
                }
                prop_assert_eq!(index.len(), model.len());
                for (k, v) in &model {
                    prop_assert_eq!(index.get(*k), Some(v));
                }
                let mut values: Vec<u32> = index.values().copied().collect();
                let mut expected: Vec<u32> = model.values().copied().collect();
                values.sort_unstable();
                expected.sort_unstable();
                prop_assert_eq!(values, expected);
            }
        }
    }
}
