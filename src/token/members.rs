//! A session's members as a token carried them: the JSON text kept whole, each member's value
//! decoded only when something reads it.
//!
//! Verifying a cookie used to build a `serde_json` map of every value, and freeing it again at
//! the end of the request; a handler that reads one key of a 3 KB session paid for all of them.
//! Here opening a token scans the payload once (validating all of it, allocating nothing per
//! value), keeps the text and where each member's value lies in it, and a read decodes that one
//! value straight into the handler's type. A write copies the unchanged members' text as it is.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::{DeserializeOwned, DeserializeSeed, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The members of one session, sorted by key, each key once.
#[derive(Default)]
pub(crate) struct Members {
    /// The JSON the members were scanned from (empty when they were built from values).
    text: String,
    entries: Vec<Entry>,
    /// The decoded values of members built from a map (empty for scanned ones); never grown, so
    /// a boxed slice, a word smaller than a `Vec` in every cached session.
    values: Box<[Value]>,
    /// What the login code derived from these members or verified them against, kept with
    /// them so that a cookie the verified-cookie cache holds costs it once, not on every
    /// request; each within its [`Memo::budget`].
    memos: [OnceLock<Arc<dyn Any + Send + Sync>>; 2],
    /// No [`Memo::Tracking`] is kept, nor counted: only the login tracking of a layer with a
    /// registry makes one. (False by default: members keep both kinds unless told otherwise.)
    refuses_tracking: bool,
}

/// What a memo holds.
#[derive(Clone, Copy)]
pub(crate) enum Memo {
    /// The credential hash the session's auth-hash tag verified against (a `Vec<u8>`).
    AuthHash = 0,
    /// The login's registry key and entry id, derived (by SHA-256) from `_user_id` and `_sid`,
    /// and the `_sid` they were checked with (a `LoginKeys`).
    Tracking = 1,
}

impl Memo {
    /// The most heap a memo of this kind may take (with the allocator's rounding): what the verified-cookie cache counts for it whether or not it is made. A
    /// larger one is computed again on every request instead. Room for a 120-byte credential
    /// hash (an Argon2 PHC string is about 100); for a login's keys, a 32- and a 64-byte digest
    /// in hex and a `_sid` of up to 56 bytes.
    pub(crate) const fn budget(self) -> usize {
        match self {
            Memo::AuthHash => 176,
            Memo::Tracking => 304,
        }
    }
}

/// The heap an `Arc<T>` takes: its counts and `T`, in one allocation.
pub(crate) fn arc_heap_bytes<T>() -> usize {
    crate::cache::allocation(2 * size_of::<usize>() + size_of::<T>())
}

struct Entry {
    key: Key,
    slot: Slot,
}

/// A key as it appears in `text` (no escapes: the common case), or decoded.
enum Key {
    Span(u32, u32),
    Owned(Box<str>),
}

/// A value not yet decoded (its span in `text`), or a decoded one.
enum Slot {
    Raw(u32, u32),
    /// An index into `values`: the table stays small for the cache, and members built from a
    /// map (a store's record) need no allocation each.
    Value(u32),
}

/// One member's value, as text or decoded.
#[derive(Clone, Copy)]
pub(crate) enum Member<'a> {
    /// Valid JSON text, not yet decoded.
    Raw(&'a str),
    /// A decoded value.
    Value(&'a Value),
}

impl<'a> Member<'a> {
    /// The value decoded as a `T`.
    pub(crate) fn decode<T: DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        match self {
            Member::Raw(text) => serde_json::from_str(text),
            Member::Value(value) => T::deserialize(value),
        }
    }

    /// The value as a `serde_json::Value`. The text was validated when it was scanned, so this
    /// fails only for JSON beyond what `serde_json` decodes (a number out of `f64`'s range,
    /// nesting over 128 levels), which reads as `null`.
    pub(crate) fn to_value(self) -> Value {
        match self {
            Member::Raw(text) => serde_json::from_str(text).unwrap_or(Value::Null),
            Member::Value(value) => value.clone(),
        }
    }

    /// Whether this is `value`.
    pub(crate) fn is(self, value: &Value) -> bool {
        match self {
            Member::Raw(text) => serde_json::from_str::<Value>(text).is_ok_and(|v| v == *value),
            Member::Value(v) => v == value,
        }
    }

    /// The value as a string, if it is one.
    pub(crate) fn as_string(self) -> Option<String> {
        self.decode::<String>().ok()
    }

    /// Appends the value as JSON: its text as it came, or the decoded value serialised.
    pub(crate) fn write(self, out: &mut Vec<u8>) {
        match self {
            Member::Raw(text) => out.extend_from_slice(text.as_bytes()),
            // Serialising a `Value` into memory cannot fail.
            Member::Value(value) => {
                let _ = serde_json::to_writer(&mut *out, value);
            }
        }
    }

    fn same(self, other: Member<'_>) -> bool {
        match (self, other) {
            (Member::Raw(a), Member::Raw(b)) if a == b => true,
            (Member::Value(a), Member::Value(b)) => a == b,
            (a, b) => a.decode::<Value>().ok() == b.decode::<Value>().ok(),
        }
    }
}

impl Members {
    /// The members of `map`, decoded already.
    pub(crate) fn from_map(map: Map<String, Value>) -> Members {
        // A `Map` iterates in key order, each key once (serde_json without `preserve_order`);
        // sorted anyway, so the order is this type's own guarantee.
        let mut entries = Vec::with_capacity(map.len());
        let mut values = Vec::with_capacity(map.len());
        for (i, (key, value)) in map.into_iter().enumerate() {
            entries.push(Entry {
                key: Key::Owned(key.into_boxed_str()),
                // At most 1 MiB of JSON: fewer members than `u32` counts.
                slot: Slot::Value(i as u32),
            });
            values.push(value);
        }
        entries.sort_by(|a, b| a.key.get("").cmp(b.key.get("")));
        Members {
            text: String::new(),
            entries,
            values: values.into_boxed_slice(),
            memos: Default::default(),
            refuses_tracking: false,
        }
    }

    /// Scans `text`, which must be one JSON object that `serde_json` decodes, validating all of
    /// it: what a decoded map would refuse (a lone surrogate, a number beyond `f64`, nesting over
    /// 128) is refused here too, so every member decodes later. Members whose key `set_apart`
    /// claims are handed to it (as raw JSON) instead of being kept. Of duplicate members the last
    /// counts, as in a decoded map.
    pub(crate) fn scan(
        text: String,
        mut set_apart: impl FnMut(&str, &str) -> bool,
    ) -> Result<Members, serde_json::Error> {
        // Offsets are kept as `u32`: a token is at most 4 KiB, a stored record at most 1 MiB.
        if u32::try_from(text.len()).is_err() {
            return Err(serde::de::Error::custom("session too large"));
        }
        // Most sessions have a few members: one allocation, no growth.
        let mut entries = Vec::with_capacity(8);
        let mut suspect = false;
        {
            let mut de = serde_json::Deserializer::from_str(&text);
            Scan {
                base: text.as_ptr() as usize,
                entries: &mut entries,
                set_apart: &mut set_apart,
                suspect: &mut suspect,
            }
            .deserialize(&mut de)?;
            de.end()?;
        }
        // The scan checks the syntax only; decoding checks more. Decode (allocating nothing)
        // only when the text may hold what decoding refuses.
        if suspect {
            let mut de = serde_json::Deserializer::from_str(&text);
            Decodes.deserialize(&mut de)?;
        }
        let text_ref = text.as_str();
        if !entries.is_sorted_by(|a, b| a.key.get(text_ref) < b.key.get(text_ref)) {
            // Stable, so of equal keys the last one scanned is last: keep it.
            entries.sort_by(|a, b| a.key.get(text_ref).cmp(b.key.get(text_ref)));
            let mut unique: Vec<Entry> = Vec::with_capacity(entries.len());
            for entry in entries {
                let duplicate = unique
                    .last()
                    .is_some_and(|last| last.key.get(text_ref) == entry.key.get(text_ref));
                if duplicate {
                    unique.pop();
                }
                unique.push(entry);
            }
            entries = unique;
        }
        Ok(Members {
            text,
            entries,
            values: Box::default(),
            memos: Default::default(),
            refuses_tracking: false,
        })
    }

    /// The member under `key`.
    pub(crate) fn get(&self, key: &str) -> Option<Member<'_>> {
        let entry = if self.entries.len() <= 16 {
            // A session's few members: compared by length first, no branches on order.
            self.entries
                .iter()
                .find(|e| e.key.len() == key.len() && e.key.bytes(&self.text) == key.as_bytes())?
        } else {
            let i = self
                .entries
                .binary_search_by(|e| e.key.get(&self.text).cmp(key))
                .ok()?;
            &self.entries[i]
        };
        Some(self.member(entry))
    }

    /// Whether there is a member under `key`.
    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// How many members there are.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The length of the text the members were scanned from: about what they serialise to.
    pub(crate) fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The members in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, Member<'_>)> {
        self.entries
            .iter()
            .map(|e| (e.key.get(&self.text), self.member(e)))
    }

    /// The members in key order, each with its whole text (`"key":value`, as the token had it)
    /// when it can be copied as one piece: a raw value under a key written without escapes.
    pub(crate) fn iter_with_text(&self) -> impl Iterator<Item = (&str, Member<'_>, Option<&str>)> {
        self.entries.iter().map(|e| {
            let whole = match (&e.key, &e.slot) {
                // From the key's opening quote (one byte before it, an ASCII `"`) to the end of
                // the value: only whitespace and the colon lie between them.
                (Key::Span(start, _), Slot::Raw(_, end)) => (*start as usize)
                    .checked_sub(1)
                    .and_then(|quote| self.text.get(quote..*end as usize)),
                _ => None,
            };
            (e.key.get(&self.text), self.member(e), whole)
        })
    }

    /// The keys in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.key.get(&self.text))
    }

    /// Every member decoded, as a map.
    pub(crate) fn to_map(&self) -> Map<String, Value> {
        self.iter()
            .map(|(k, v)| (k.to_owned(), v.to_value()))
            .collect()
    }

    /// The memo `which`, if one of type `T` was kept.
    pub(crate) fn memo<T: Any + Send + Sync>(&self, which: Memo) -> Option<Arc<T>> {
        Arc::clone(self.memos[which as usize].get()?)
            .downcast()
            .ok()
    }

    /// The memo `which`, borrowed, if one of type `T` was kept.
    pub(crate) fn memo_ref<T: Any + Send + Sync>(&self, which: Memo) -> Option<&T> {
        self.memos[which as usize].get()?.downcast_ref()
    }

    /// Keeps `value` as the memo `which`, unless there is one already, it takes more than the
    /// kind's [`Memo::budget`] (`bytes`: what it holds on the heap, its `Arc` included), or these
    /// members keep no memo of that kind.
    pub(crate) fn set_memo<T: Any + Send + Sync>(&self, which: Memo, value: Arc<T>, bytes: usize) {
        if bytes <= which.budget() && self.keeps(which) {
            let _ = self.memos[which as usize].set(value);
        }
    }

    /// Keeps no [`Memo::Tracking`], nor room for one: for a layer without a registry, whose
    /// sessions never make one. (The verified-cookie cache then counts 304 bytes less for each.)
    pub(crate) fn without_tracking_memo(&mut self) {
        self.refuses_tracking = true;
    }

    fn keeps(&self, which: Memo) -> bool {
        match which {
            Memo::AuthHash => true,
            Memo::Tracking => !self.refuses_tracking,
        }
    }

    /// What these members hold on the heap, for the verified-cookie cache's budget (memos
    /// counted at their largest, as they may come after the cache weighed them).
    pub(crate) fn heap_bytes(&self) -> usize {
        use crate::cache::{allocation, json_value_bytes};
        let entries = self.entries.iter().map(|e| match &e.key {
            Key::Owned(key) => allocation(key.len()),
            Key::Span(..) => 0,
        });
        allocation(self.text.capacity())
            + allocation(self.entries.capacity() * size_of::<Entry>())
            + allocation(self.values.len() * size_of::<Value>())
            + self.values.iter().map(json_value_bytes).sum::<usize>()
            + [Memo::AuthHash, Memo::Tracking]
                .into_iter()
                .filter(|&which| self.keeps(which))
                .map(Memo::budget)
                .sum::<usize>()
            + entries.sum::<usize>()
    }

    /// A byte of the text and of the table of members, and the first memo's state: the blocks a
    /// read of the session uses (see [`Weigh::touch`](crate::cache::Weigh::touch)).
    pub(crate) fn touch(&self) -> u64 {
        let text = self.text.as_bytes().first().copied().unwrap_or_default();
        let table = self.entries.first().map_or(0, |e| e.key.len());
        let memo = self.memos[Memo::AuthHash as usize].get().is_some();
        u64::from(text) ^ table as u64 ^ u64::from(memo)
    }

    fn member<'s>(&'s self, entry: &'s Entry) -> Member<'s> {
        match &entry.slot {
            Slot::Raw(start, end) => Member::Raw(&self.text[*start as usize..*end as usize]),
            Slot::Value(i) => Member::Value(&self.values[*i as usize]),
        }
    }
}

impl PartialEq for Members {
    /// The same keys with the same values, however each was written.
    fn eq(&self, other: &Members) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((ka, va), (kb, vb))| ka == kb && va.same(vb))
    }
}

impl fmt::Debug for Members {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys only: values may be personal data.
        f.debug_struct("Members")
            .field("keys", &self.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Key {
    fn len(&self) -> usize {
        match self {
            Key::Span(start, end) => (end - start) as usize,
            Key::Owned(key) => key.len(),
        }
    }

    /// The key's bytes: no character-boundary checks, for comparisons.
    fn bytes<'s>(&'s self, text: &'s str) -> &'s [u8] {
        match self {
            Key::Span(start, end) => text
                .as_bytes()
                .get(*start as usize..*end as usize)
                .unwrap_or_default(),
            Key::Owned(key) => key.as_bytes(),
        }
    }

    fn get<'s>(&'s self, text: &'s str) -> &'s str {
        match self {
            Key::Span(start, end) => &text[*start as usize..*end as usize],
            Key::Owned(key) => key,
        }
    }
}

/// Whether `json`, one JSON value of valid syntax, may hold what `serde_json` refuses to
/// decode: a `\\uD800`–`\\uDFFF` escape (a lone surrogate unless paired), 100 brackets or more
/// (`serde_json` decodes 127 levels), or a number beyond `f64`'s range, which needs a run of at
/// least 309 digits or an exponent of at least three digits. A necessary condition, cheap to
/// test: a scalar is tested alone (a string only when it has an escape), a container byte by
/// byte.
fn may_not_decode(json: &[u8]) -> bool {
    match json.first() {
        Some(b'"') => json.contains(&b'\\') && surrogate_escape(json),
        Some(b't' | b'f' | b'n') | None => false,
        Some(b'[' | b'{') => may_not_decode_within(json),
        Some(_) => json.len() >= 309 || exponent(json),
    }
}

/// [`may_not_decode`] for an array or an object.
fn may_not_decode_within(json: &[u8]) -> bool {
    let digit = |b: u8| b.wrapping_sub(b'0') < 10;
    // `[` is 0x5B and `{` 0x7B.
    let brackets: usize = json.iter().map(|&b| usize::from(b | 0x20 == b'{')).sum();
    // A run of 309 digits holds an aligned chunk of 155.
    let long_run = json
        .chunks_exact(155)
        .any(|chunk| chunk.iter().fold(true, |all, &b| all & digit(b)));
    // `serde_json` refuses a 128th level; checking from 100 on leaves a margin.
    brackets >= 100
        || long_run
        || exponent(json)
        || (json.contains(&b'\\') && surrogate_escape(json))
}

/// Whether `json` holds `e` or `E`, an optional sign, and three digits.
fn exponent(json: &[u8]) -> bool {
    let digit = |b: u8| b.wrapping_sub(b'0') < 10;
    if json.len() < 4 {
        return false;
    }
    // Shifted views of the text (the last one padded), so that the loop has no bounds checks
    // and no early exit: it compiles to vector code.
    let n = json.len() - 3;
    let (w0, w1, w2, w3) = (&json[..n], &json[1..=n], &json[2..n + 2], &json[3..n + 3]);
    let w4 = |i: usize| json.get(i + 4).copied().unwrap_or(0);
    let mut any = false;
    for i in 0..n {
        let e = w0[i] | 0x20 == b'e';
        let unsigned = digit(w1[i]) & digit(w2[i]) & digit(w3[i]);
        let sign = (w1[i] == b'+') | (w1[i] == b'-');
        any |= e & (unsigned | (sign & digit(w2[i]) & digit(w3[i])));
    }
    // A sign and three digits: checked only where a sign and two digits were found.
    any && (0..n).any(|i| {
        let e = w0[i] | 0x20 == b'e';
        let sign = (w1[i] == b'+') | (w1[i] == b'-');
        e & ((digit(w1[i]) & digit(w2[i]) & digit(w3[i]))
            | (sign & digit(w2[i]) & digit(w3[i]) & digit(w4(i))))
    })
}

/// Whether `json` holds an escape of a surrogate code unit (`\\uD8..` to `\\uDF..`).
fn surrogate_escape(json: &[u8]) -> bool {
    json.windows(4).any(|w| {
        w[0] == b'\\'
            && w[1] == b'u'
            && matches!(w[2], b'd' | b'D')
            && matches!(w[3], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
    })
}

/// Decodes a JSON value and keeps nothing: strings, numbers and depth checked as a decoded
/// `Value` would be.
struct Decodes;

impl<'de> DeserializeSeed<'de> for Decodes {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Decodes {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Decodes)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Decodes)?.is_some() {
            map.next_value_seed(Decodes)?;
        }
        Ok(())
    }
}

/// The payload's visitor: keys borrowed where they can be, values as raw spans.
struct Scan<'e, F> {
    base: usize,
    entries: &'e mut Vec<Entry>,
    set_apart: &'e mut F,
    /// Set when a kept value may hold what decoding refuses.
    suspect: &'e mut bool,
}

impl<'de, F: FnMut(&str, &str) -> bool> DeserializeSeed<'de> for Scan<'_, F> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: FnMut(&str, &str) -> bool> Visitor<'de> for Scan<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let span = |s: &str| {
            // Both slices lie in the text (`u32` checked by the caller).
            let start = (s.as_ptr() as usize - self.base) as u32;
            (start, start + s.len() as u32)
        };
        while let Some(key) = access.next_key::<KeyText<'de>>()? {
            let value = access.next_value::<&'de RawValue>()?;
            let key_str: &str = &key.0;
            if (self.set_apart)(key_str, value.get()) {
                continue;
            }
            let key = match key.0 {
                Cow::Borrowed(k) => {
                    let (start, end) = span(k);
                    Key::Span(start, end)
                }
                Cow::Owned(k) => Key::Owned(k.into_boxed_str()),
            };
            let (start, end) = span(value.get());
            *self.suspect |= may_not_decode(value.get().as_bytes());
            self.entries.push(Entry {
                key,
                slot: Slot::Raw(start, end),
            });
        }
        Ok(())
    }
}

/// A key, borrowed from the text when it has no escapes.
struct KeyText<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for KeyText<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = KeyText<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<KeyText<'de>, E> {
                Ok(KeyText(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyText<'de>, E> {
                Ok(KeyText(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scan(text: &str) -> Result<Members, serde_json::Error> {
        Members::scan(text.to_owned(), |_, _| false)
    }

    #[test]
    fn scanned_members_read_as_the_decoded_map_does() {
        let text = r#"{"b":[1,{"x":"y"}],"a":"\u00e9t\u00e9","c\"q":null,"d":1.5e3}"#;
        let members = scan(text).unwrap();
        let map: Map<String, Value> = serde_json::from_str(text).unwrap();
        assert_eq!(members.to_map(), map);
        assert_eq!(members.keys().collect::<Vec<_>>(), ["a", "b", "c\"q", "d"]);
        assert_eq!(members.get("a").unwrap().decode::<String>().unwrap(), "été");
        assert!(members.get("c\"q").unwrap().is(&Value::Null));
        assert_eq!(members.get("d").unwrap().decode::<f64>().unwrap(), 1500.0);
        assert!(members.get("e").is_none());
        assert!(members.get("b").unwrap().decode::<u64>().is_err());
    }

    #[test]
    fn of_duplicate_keys_the_last_counts() {
        let members = scan(r#"{"k":1,"a":0,"k":2,"k":3}"#).unwrap();
        assert_eq!(members.len(), 2);
        assert_eq!(members.get("k").unwrap().decode::<u64>().unwrap(), 3);
        // The same key written with an escape is the same key.
        let members = scan(r#"{"k":1,"\u006b":2}"#).unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!(members.get("k").unwrap().decode::<u64>().unwrap(), 2);
    }

    #[test]
    fn anything_but_one_valid_object_is_refused() {
        for bad in [
            "[1]",
            "1",
            "{\"a\":}",
            "{\"a\":1} x",
            "{\"a\":[1,}",
            "{\"a\":NaN}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":[\"\\uDC00x\"]}",
            "{\"a\":1e400}",
            "{\"a\":[-1E+309]}",
            "",
        ] {
            assert!(scan(bad).is_err(), "{bad:?}");
        }
        let long = format!("{{\"a\":{}}}", "9".repeat(309));
        assert!(scan(&long).is_err());
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(127), "]".repeat(127));
        assert!(scan(&deep).is_err());
        // What decodes is kept: a pair of surrogates, large numbers within range, the deepest `serde_json` decodes.
        for good in [
            "{\"a\":\"\\ud83d\\ude00\",\"e\":\"e123\"}".to_owned(),
            "{\"a\":1e300,\"b\":-2.5E-300,\"c\":18446744073709551616}".to_owned(),
            format!("{{\"a\":{}}}", "9".repeat(308)),
            format!("{{\"a\":{}1{}}}", "[".repeat(126), "]".repeat(126)),
        ] {
            let members = scan(&good).unwrap();
            assert_eq!(
                members.to_map(),
                serde_json::from_str::<Map<String, Value>>(&good).unwrap()
            );
        }
        assert!(scan(" { } ").unwrap().is_empty());
    }

    #[test]
    fn set_apart_members_are_not_kept() {
        let mut seen = Vec::new();
        let members = Members::scan(r#"{"exp":12,"a":1,"iat":3}"#.to_owned(), |k, v| {
            let claim = k == "exp" || k == "iat";
            if claim {
                seen.push((k.to_owned(), v.to_owned()));
            }
            claim
        })
        .unwrap();
        assert_eq!(members.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(
            seen,
            [("exp".into(), "12".into()), ("iat".into(), "3".into())]
        );
    }

    #[test]
    fn members_compare_by_value_however_written() {
        let a = scan(r#"{"a":[1, 2],"b":"x"}"#).unwrap();
        let b = Members::from_map(json!({"b":"x","a":[1,2]}).as_object().unwrap().clone());
        assert!(a == b);
        assert!(a != scan(r#"{"a":[1,2],"b":"y"}"#).unwrap());
        assert!(a != scan(r#"{"a":[1,2]}"#).unwrap());
    }

    #[test]
    fn raw_members_are_written_back_as_they_came() {
        let members = scan(r#"{"a":1.50,"b":"\u00e9"}"#).unwrap();
        let mut out = Vec::new();
        for (_, member) in members.iter() {
            member.write(&mut out);
        }
        assert_eq!(out, br#"1.50"\u00e9""#);
    }

    proptest::proptest! {
        /// Differential: the scan accepts exactly what decoding into a map accepts, and reads
        /// the same members. Texts from an alphabet dense in JSON's hard cases (escapes,
        /// surrogates, exponents, nesting, duplicates).
        #[test]
        fn the_scan_accepts_what_a_decoded_map_accepts(
            body in proptest::collection::vec(proptest::sample::select(vec![
                "{", "}", "[", "]", ",", ":", "\"", "\"k\"", "\"a\"", "1", "9", "0", "-", "+",
                ".", "e", "E", "e3", "999", "\\", "\\u", "d800", "DC00", "00e9", "n", "null",
                "true", " ", "\"\\ud83d\\ude00\"", "\"\\ud800\"", "1e400", "[[[[[[[[[[",
                "]]]]]]]]]]",
            ]), 0..40),
        ) {
            let text = format!("{{{}}}", body.concat());
            let decoded = serde_json::from_str::<Map<String, Value>>(&text);
            let scanned = scan(&text);
            proptest::prop_assert_eq!(scanned.is_ok(), decoded.is_ok(), "{}", text);
            if let (Ok(scanned), Ok(decoded)) = (scanned, decoded) {
                proptest::prop_assert_eq!(scanned.to_map(), decoded);
            }
        }
    }

    #[test]
    fn debug_shows_keys_only() {
        let members = scan(r#"{"user":"secret-value"}"#).unwrap();
        let debug = format!("{members:?}");
        assert!(debug.contains("user") && !debug.contains("secret-value"));
    }
}
