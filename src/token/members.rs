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
use triomphe::HeaderSlice;

use super::compact;

/// The members of one session, sorted by key, each key once: one block of memory holding the
/// token they were opened from (if any), their JSON text, where each member lies in it, and the
/// login code's memos. Cheap to clone: a reference count.
///
/// One block, so that a verified-cookie cache hit reads one run of memory (the token it compares,
/// the table a read searches, the text it decodes) rather than a chain of blocks, each found
/// only after the one before it has come from memory.
#[derive(Clone)]
pub(crate) struct Members(triomphe::Arc<HeaderSlice<Head, str>>);

#[derive(Default)]
struct Head {
    /// Where the JSON begins in the block's text; before it lies the token (empty for members
    /// not opened from one).
    json_start: u32,
    /// The members in key order.
    table: Table,
    /// Keys that were written with escapes, decoded (rare), and the keys of members built from
    /// a map: what an [`APART`] key span indexes.
    keys: Box<[Box<str>]>,
    /// The decoded values of members built from a map (empty for scanned ones): what an
    /// [`APART`] value span indexes.
    values: Box<[Value]>,
    /// What the login code derived from these members or verified them against, kept with
    /// them so that a cookie the verified-cookie cache holds costs it once, not on every
    /// request; each within its [`Memo::budget`].
    memos: [OnceLock<Arc<dyn Any + Send + Sync>>; 2],
    /// No [`Memo::Tracking`] is kept, nor counted: only the login tracking of a layer with a
    /// registry makes one. (False by default: members keep both kinds unless told otherwise.)
    refuses_tracking: bool,
    /// What verifying the token established besides the members.
    anchors: Anchors,
}

/// What verifying the token that members were opened from established besides them: which key
/// verified it, and its times. All empty for members not opened from a token. Kept in the
/// members' block, so that the verified-cookie cache's index holds only a reference to it (a
/// small slot) and a hit checks the times in the block it reads anyway.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Anchors {
    /// 0 for the current key, else a fallback (the cookie must be re-issued).
    pub(crate) key_index: usize,
    /// The absolute-timeout anchor.
    pub(crate) created: Option<u64>,
    /// When it was issued (the idle-timeout anchor).
    pub(crate) issued: Option<u64>,
    /// The first instant it is no longer valid: the earliest of `exp` (+ leeway), the idle and
    /// the absolute deadlines.
    pub(crate) expires_at: Option<f64>,
    /// The first instant it is valid: from `nbf` and `iat` (− leeway).
    pub(crate) valid_from: Option<f64>,
}

/// Members that lie in their JSON text one after another in key order ([`Members::run`]): a write
/// copies each stretch of them that it did not change as one piece.
pub(crate) struct Run<'m> {
    json: &'m str,
    entries: &'m [Entry],
}

impl<'m> Run<'m> {
    /// How many members there are.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Where `key` is or would be among the members from `from` on: its index, and whether it
    /// is there.
    pub(crate) fn position(&self, from: usize, key: &str) -> (usize, bool) {
        let key_of = |e: &Entry| self.json.get(e.key.range()).unwrap_or_default();
        let rest = self.entries.get(from..).unwrap_or_default();
        let at = rest.partition_point(|e| key_less(key_of(e).as_bytes(), key.as_bytes()));
        (from + at, rest.get(at).is_some_and(|e| key_of(e) == key))
    }

    /// The text of the members `range` (not empty), comma-separated as they lie: from the first
    /// one's opening quote to the end of the last one's value.
    pub(crate) fn text(&self, range: std::ops::Range<usize>) -> &'m str {
        let first = self.entries.get(range.start);
        let last = range.end.checked_sub(1).and_then(|i| self.entries.get(i));
        match (first, last) {
            (Some(first), Some(last)) => whole_text(self.json, first, last).unwrap_or_default(),
            _ => "",
        }
    }
}

/// Members scanned from JSON text, not yet made into their block: what the token's claims are
/// checked against before the block is made ([`into_members`](Self::into_members)).
pub(crate) struct Scanned {
    text: String,
    json_start: usize,
    table: Table,
    keys: Vec<Box<str>>,
}

/// Members a table holds without an allocation of its own: a small session's all (a logged-in
/// one has four or five of the crate's, and the application's).
const INLINE: usize = 8;

/// The table of members: inline while it is small.
enum Table {
    Inline(u8, [Entry; INLINE]),
    Spilled(Vec<Entry>),
}

impl Default for Table {
    fn default() -> Table {
        Table::Inline(0, [Entry::default(); INLINE])
    }
}

impl Table {
    fn as_slice(&self) -> &[Entry] {
        match self {
            Table::Inline(len, entries) => &entries[..usize::from(*len)],
            Table::Spilled(entries) => entries,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [Entry] {
        match self {
            Table::Inline(len, entries) => &mut entries[..usize::from(*len)],
            Table::Spilled(entries) => entries,
        }
    }

    /// Inlined into the scan, so that an entry goes from registers to its place in the table.
    /// Called, it went through the stack: its spans stored as four words and loaded as one,
    /// which the CPU cannot forward from store to load (about 15 cycles of every member).
    #[inline(always)]
    fn push(&mut self, key: Span, value: Span) {
        match self {
            Table::Inline(len, entries) if usize::from(*len) < INLINE => {
                let slot = &mut entries[usize::from(*len)];
                slot.key = key;
                slot.value = value;
                *len += 1;
            }
            _ => self.push_spilled(key, value),
        }
    }

    /// [`push`](Self::push) into a table that is or becomes [`Table::Spilled`].
    #[inline(never)]
    fn push_spilled(&mut self, key: Span, value: Span) {
        debug_assert!(matches!(self, Table::Spilled(_)) || self.as_slice().len() == INLINE);
        let entry = Entry { key, value };
        match self {
            Table::Inline(_, entries) => {
                let mut spilled = Vec::with_capacity(2 * INLINE);
                spilled.extend_from_slice(entries);
                spilled.push(entry);
                *self = Table::Spilled(spilled);
            }
            Table::Spilled(entries) => entries.push(entry),
        }
    }

    fn truncate(&mut self, n: usize) {
        match self {
            // `n` is at most the length, which fits.
            Table::Inline(len, _) => *len = (*len).min(n as u8),
            Table::Spilled(entries) => entries.truncate(n),
        }
    }

    /// The heap it holds apart from the block.
    fn heap_bytes(&self) -> usize {
        match self {
            Table::Inline(..) => 0,
            Table::Spilled(entries) => {
                crate::cache::allocation(entries.capacity() * size_of::<Entry>())
            }
        }
    }
}

/// A key and its value.
#[derive(Clone, Copy, Default)]
struct Entry {
    key: Span,
    value: Span,
}

/// Where a key or a value lies in the JSON text, or, with `start` at [`APART`], the index of
/// one held apart, decoded (`Head::keys`, `Head::values`).
#[derive(Clone, Copy, Default)]
struct Span {
    start: u32,
    end: u32,
}

/// The `start` of a span that indexes a key or value held apart. The text is shorter, so no
/// span of it starts there.
const APART: u32 = u32::MAX;

impl Span {
    fn apart(index: usize) -> Span {
        // Fewer members than the text has bytes, or than a map of them holds: within `u32`.
        Span {
            start: APART,
            end: index as u32,
        }
    }

    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
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
    /// The most heap a memo of this kind may take (with the allocator's rounding): what the
    /// verified-cookie cache counts for it whether or not it is made. A larger one is computed
    /// again on every request instead. Room for a 120-byte credential hash (an Argon2 PHC string
    /// is about 100); for a login's keys, a 32- and a 64-byte digest in hex and a `_sid` of up to
    /// 56 bytes.
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

/// One member's value, as text or decoded.
#[derive(Clone, Copy)]
pub(crate) enum Member<'a> {
    /// Valid JSON text of one value (validated by [`Scanned::scan`]), not yet decoded.
    Raw(&'a str),
    /// A decoded value.
    Value(&'a Value),
}

impl<'a> Member<'a> {
    /// The value decoded as a `T`, as `serde_json` decodes it (a string without escapes without
    /// its parser: see [`RawText`](super::raw::RawText)).
    pub(crate) fn decode<T: DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        match self {
            Member::Raw(text) => T::deserialize(super::raw::RawText(text)),
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

    /// The value as a string, if it is one: borrowed, unless its JSON text has an escape.
    pub(crate) fn as_str(self) -> Option<Cow<'a, str>> {
        match self {
            Member::Raw(text) => match super::raw::plain_string(text) {
                Some(plain) => Some(Cow::Borrowed(plain)),
                None => self.as_string().map(Cow::Owned),
            },
            Member::Value(Value::String(text)) => Some(Cow::Borrowed(text)),
            Member::Value(_) => None,
        }
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

impl Default for Members {
    /// No members.
    fn default() -> Members {
        Members::new(Head::default(), "")
    }
}

impl Members {
    fn new(head: Head, text: &str) -> Members {
        Members(triomphe::Arc::from_header_and_str(head, text))
    }

    /// The members of `map`, decoded already.
    pub(crate) fn from_map(map: Map<String, Value>) -> Members {
        // A `Map` iterates in key order, each key once (serde_json without `preserve_order`);
        // sorted anyway, so the order is this type's own guarantee.
        let mut table = Table::default();
        let mut keys = Vec::with_capacity(map.len());
        let mut values = Vec::with_capacity(map.len());
        for (i, (key, value)) in map.into_iter().enumerate() {
            table.push(Span::apart(i), Span::apart(i));
            keys.push(key.into_boxed_str());
            values.push(value);
        }
        table
            .as_mut_slice()
            .sort_by(|a, b| keys[a.key.end as usize].cmp(&keys[b.key.end as usize]));
        let head = Head {
            table,
            keys: keys.into_boxed_slice(),
            values: values.into_boxed_slice(),
            ..Head::default()
        };
        Members::new(head, "")
    }

    /// Scans the JSON of `text` from `json_start` on (see [`Scanned::scan`]) and makes the
    /// members' block at once, with no anchors.
    #[cfg(any(test, fuzzing))]
    pub(crate) fn scan(
        text: String,
        json_start: usize,
        set_apart: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<Members, serde_json::Error> {
        Ok(Scanned::scan(text, json_start, set_apart)?.into_members(Anchors::default(), true))
    }

    fn head(&self) -> &Head {
        &self.0.header
    }

    fn entries(&self) -> &[Entry] {
        self.head().table.as_slice()
    }

    /// The members' JSON text (empty when they were built from values).
    fn json(&self) -> &str {
        self.0
            .slice
            .get(self.head().json_start as usize..)
            .unwrap_or_default()
    }

    /// Reads, without using them, a byte of each line of memory of the block's text (the token
    /// and the JSON) and the fields of the head that a hit of the verified-cookie cache reads
    /// next: where the JSON starts, the first and last members' places, the times. Read one
    /// after another as the token's comparison, the time check and the handler reach them,
    /// each line not in the CPU's caches is a wait of its own; read here, before any is used,
    /// the CPU fetches them together. What is read depends only on this block (its length
    /// included, which a token of another length learns from the comparison anyway), never on
    /// the token it is compared with.
    pub(crate) fn fetch_ahead(&self) {
        let (head, text) = (self.head(), self.0.slice.as_bytes());
        // One byte in every 64 falls on each line the text covers, however it is aligned,
        // except perhaps the last: its last byte.
        let mut byte = text.last().copied().unwrap_or_default();
        let mut at = 0;
        while let Some(b) = text.get(at) {
            byte ^= b;
            at += 64;
        }
        let entries = head.table.as_slice();
        let places = entries
            .first()
            .zip(entries.last())
            .map(|(a, b)| (a.key, b.value));
        let times = (head.anchors.expires_at, head.anchors.valid_from);
        std::hint::black_box((byte, head.json_start, places, times));
    }

    /// The token these members were opened from: empty unless they were.
    pub(crate) fn token(&self) -> &[u8] {
        let text = self.0.slice.as_bytes();
        text.get(..self.head().json_start as usize)
            .unwrap_or_default()
    }

    /// The member under `key`.
    pub(crate) fn get(&self, key: &str) -> Option<Member<'_>> {
        let (json, head) = (self.json(), self.head());
        let entries = self.entries();
        let entry = if entries.len() <= 16 {
            // A session's few members: compared by length first, no branches on order.
            entries.iter().find(|e| {
                let span = e.key;
                if span.start == APART {
                    key_text(json, &head.keys, span) == key
                } else {
                    (span.end - span.start) as usize == key.len()
                        && json.as_bytes().get(span.range()) == Some(key.as_bytes())
                }
            })?
        } else {
            let i = entries
                .binary_search_by(|e| key_text(json, &head.keys, e.key).cmp(key))
                .ok()?;
            &entries[i]
        };
        Some(member(json, head, entry))
    }

    /// How many members there are.
    pub(crate) fn len(&self) -> usize {
        self.entries().len()
    }

    /// The length of the JSON text the members were scanned from: about what they serialise to.
    pub(crate) fn text_len(&self) -> usize {
        self.json().len()
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    /// The members in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, Member<'_>)> {
        let (json, head) = (self.json(), self.head());
        self.entries()
            .iter()
            .map(move |e| (key_text(json, &head.keys, e.key), member(json, head, e)))
    }

    /// The members in key order, each with its whole text (`"key":value`, as the token had it)
    /// when it can be copied as one piece: a raw value under a key written without escapes.
    pub(crate) fn iter_with_text(&self) -> impl Iterator<Item = (&str, Member<'_>, Option<&str>)> {
        let (json, head) = (self.json(), self.head());
        self.entries().iter().map(move |e| {
            let whole = if e.key.start != APART && e.value.start != APART {
                whole_text(json, e, e)
            } else {
                None
            };
            (
                key_text(json, &head.keys, e.key),
                member(json, head, e),
                whole,
            )
        })
    }

    /// The members' texts as one run, when they lie in the JSON as this crate writes them: in
    /// key order, each whole (`"key":value`, the key and the value in the text), one comma apart.
    /// `None` otherwise (a token written by another key holder with spaces, escaped keys, members
    /// built from a map).
    pub(crate) fn run(&self) -> Option<Run<'_>> {
        let (json, entries) = (self.json(), self.entries());
        let whole = |e: &Entry| e.key.start != APART && e.value.start != APART && e.key.start > 0;
        let adjacent = |pair: &[Entry]| {
            // The value's end, a comma, the next key's opening quote, the next key.
            pair[1].key.start == pair[0].value.end + 2
                && json.as_bytes().get(pair[0].value.end as usize) == Some(&b',')
        };
        (entries.iter().all(whole) && entries.windows(2).all(adjacent))
            .then_some(Run { json, entries })
    }

    /// The keys in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        let (json, head) = (self.json(), self.head());
        self.entries()
            .iter()
            .map(move |e| key_text(json, &head.keys, e.key))
    }

    /// Every member decoded, as a map.
    pub(crate) fn to_map(&self) -> Map<String, Value> {
        self.iter()
            .map(|(k, v)| (k.to_owned(), v.to_value()))
            .collect()
    }

    /// The memo `which`, if one of type `T` was kept.
    pub(crate) fn memo<T: Any + Send + Sync>(&self, which: Memo) -> Option<Arc<T>> {
        Arc::clone(self.head().memos[which as usize].get()?)
            .downcast()
            .ok()
    }

    /// The memo `which`, borrowed, if one of type `T` was kept.
    pub(crate) fn memo_ref<T: Any + Send + Sync>(&self, which: Memo) -> Option<&T> {
        self.head().memos[which as usize].get()?.downcast_ref()
    }

    /// Keeps `value` as the memo `which`, unless there is one already, it takes more than the
    /// kind's [`Memo::budget`] (`bytes`: what it holds on the heap, its `Arc` included), or these
    /// members keep no memo of that kind.
    pub(crate) fn set_memo<T: Any + Send + Sync>(&self, which: Memo, value: Arc<T>, bytes: usize) {
        if bytes <= which.budget() && self.keeps(which) {
            let _ = self.head().memos[which as usize].set(value);
        }
    }

    /// Whether something besides this handle holds the block (the verified-cookie cache, when
    /// it admitted it): only then can a memo kept in it be read again.
    pub(crate) fn is_shared(&self) -> bool {
        !self.0.is_unique()
    }

    /// What verifying the token these members were opened from established.
    pub(crate) fn anchors(&self) -> &Anchors {
        &self.head().anchors
    }

    fn keeps(&self, which: Memo) -> bool {
        match which {
            Memo::AuthHash => true,
            Memo::Tracking => !self.head().refuses_tracking,
        }
    }

    /// What these members hold on the heap, for the verified-cookie cache's budget (memos
    /// counted at their largest, as they may come after the cache weighed them): the block
    /// and what it points to.
    pub(crate) fn heap_bytes(&self) -> usize {
        use crate::cache::{allocation, json_value_bytes};
        let head = self.head();
        // The reference count, the head, the text; padded to the head's alignment.
        let block = (size_of::<usize>() + size_of::<Head>() + self.0.slice.len())
            .next_multiple_of(align_of::<Head>());
        allocation(block)
            + head.table.heap_bytes()
            + allocation(head.keys.len() * size_of::<Box<str>>())
            + head.keys.iter().map(|k| allocation(k.len())).sum::<usize>()
            + allocation(head.values.len() * size_of::<Value>())
            + head.values.iter().map(json_value_bytes).sum::<usize>()
            + [Memo::AuthHash, Memo::Tracking]
                .into_iter()
                .filter(|&which| self.keeps(which))
                .map(Memo::budget)
                .sum::<usize>()
    }
}

/// The text of members `first` to `last` as they lie in `json` (both in the text): from the first
/// key's opening quote (one byte before the key, an ASCII `"`) to the end of the last value.
fn whole_text<'s>(json: &'s str, first: &Entry, last: &Entry) -> Option<&'s str> {
    let quote = (first.key.start as usize).checked_sub(1)?;
    json.get(quote..last.value.end as usize)
}

/// The value of `entry`, of members whose JSON is `json` and head `head` (each found once by a
/// caller that reads many).
fn member<'s>(json: &'s str, head: &'s Head, entry: &Entry) -> Member<'s> {
    let span = entry.value;
    if span.start == APART {
        // Every index was made with its value.
        head.values
            .get(span.end as usize)
            .map_or(Member::Raw("null"), Member::Value)
    } else {
        Member::Raw(json.get(span.range()).unwrap_or("null"))
    }
}

impl Scanned {
    /// Scans the JSON of `text` from `json_start` on, which must be one JSON object that
    /// `serde_json` decodes, validating all of it: what a decoded map would refuse (a lone
    /// surrogate, a number beyond `f64`, nesting over 128) is refused here too, so every member
    /// decodes later. What comes before `json_start` is the token the members were opened from,
    /// kept with them ([`Members::token`]). Members whose key `set_apart` claims are handed to it
    /// (as raw JSON) instead of being kept. Of duplicate members the last counts, as in a decoded
    /// map; and so does the last hand-over of a key: when the compact scan gives up partway
    /// (text it does not read, see `compact`), `serde_json`'s scan hands every member over
    /// again, in order.
    pub(crate) fn scan(
        text: String,
        json_start: usize,
        mut set_apart: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<Scanned, serde_json::Error> {
        // Offsets are kept as `u32`, below `APART`: a token is at most 4 KiB, a stored record
        // at most 1 MiB.
        let json = match text.get(json_start..) {
            Some(json) if text.len() < APART as usize => json,
            _ => return Err(serde::de::Error::custom("session too large")),
        };
        let bytes = json.as_bytes();
        let mut table = Table::default();
        let mut keys = Vec::new();
        // Compact JSON, as sessions are written, first; `serde_json` decides the rest.
        let compact = compact::members(json, |key, value| {
            // Within the text, whose length was checked; at ASCII bytes (quotes, brackets,
            // commas), so on its characters' boundaries.
            let span = |r: std::ops::Range<usize>| Span {
                start: r.start as u32,
                end: r.end as u32,
            };
            let (key, value) = (span(key), span(value));
            // As bytes: slicing a `str` would check each end for a character boundary.
            let text = |span: Span| bytes.get(span.range()).unwrap_or_default();
            if !set_apart(text(key), text(value)) {
                table.push(key, value);
            }
        });
        // Every value of compact text decodes (no escapes, short numbers, shallow nesting);
        // other text is scanned again, from the start.
        if !compact {
            table = Table::default();
            serde_scan(json, &mut table, &mut keys, &mut set_apart)?;
        }
        // Compared as bytes, which order as their text does.
        let key = |span: Span| key_bytes(bytes, &keys, span);
        let entries = table.as_mut_slice();
        if !entries.is_sorted_by(|a, b| key_less(key(a.key), key(b.key))) {
            // Stable, so of equal keys the last one scanned is last: keep it.
            entries.sort_by(|a, b| key(a.key).cmp(key(b.key)));
            let mut kept = 0;
            for i in 0..entries.len() {
                let later = entries
                    .get(i + 1)
                    .is_some_and(|next| key(next.key) == key(entries[i].key));
                if !later {
                    entries[kept] = entries[i];
                    kept += 1;
                }
            }
            table.truncate(kept);
        }
        Ok(Scanned {
            text,
            json_start,
            table,
            keys,
        })
    }

    /// The keys in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        let json = self.text.get(self.json_start..).unwrap_or_default();
        self.table
            .as_slice()
            .iter()
            .map(move |e| key_text(json, &self.keys, e.key))
    }

    /// Whether there is a member under `key`.
    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.keys().any(|k| k == key)
    }

    /// The members' block, with what verifying their token established; with room for a
    /// [`Memo::Tracking`] only if `tracking` (a layer with a registry: see
    /// [`Members::set_memo`]).
    pub(crate) fn into_members(self, anchors: Anchors, tracking: bool) -> Members {
        let head = Head {
            // Below `APART`, checked by the scan.
            json_start: self.json_start as u32,
            table: self.table,
            keys: self.keys.into_boxed_slice(),
            refuses_tracking: !tracking,
            anchors,
            ..Head::default()
        };
        Members::new(head, &self.text)
    }
}

/// [`Scanned::scan`] by `serde_json`, for text outside the compact subset: what decides whether
/// text is accepted.
fn serde_scan(
    json: &str,
    table: &mut Table,
    keys: &mut Vec<Box<str>>,
    set_apart: &mut impl FnMut(&[u8], &[u8]) -> bool,
) -> Result<(), serde_json::Error> {
    let mut suspect = false;
    let mut de = serde_json::Deserializer::from_str(json);
    Scan {
        base: json.as_ptr() as usize,
        table,
        keys,
        set_apart,
        suspect: &mut suspect,
    }
    .deserialize(&mut de)?;
    de.end()?;
    // The scan checks the syntax only; decoding checks more. Decode (allocating nothing) only
    // when the text may hold what decoding refuses.
    if suspect {
        let mut de = serde_json::Deserializer::from_str(json);
        Decodes.deserialize(&mut de)?;
    }
    Ok(())
}

/// Checks that the compact scan answers only for text `serde_json`'s scan accepts, with the same
/// members in the same order, each of which decodes; returns whether it answered.
#[cfg(any(test, fuzzing))]
pub(crate) fn compact_agrees(json: &str) -> bool {
    let text = |r: std::ops::Range<usize>| json.get(r).expect("a span of the text").to_owned();
    let mut compact = Vec::new();
    if !compact::members(json, |key, value| compact.push((text(key), text(value)))) {
        return false;
    }
    let mut by_serde = Vec::new();
    serde_scan(
        json,
        &mut Table::default(),
        &mut Vec::new(),
        &mut |key, value| {
            let text = |b: &[u8]| std::str::from_utf8(b).expect("UTF-8").to_owned();
            by_serde.push((text(key), text(value)));
            true
        },
    )
    .expect("serde_json accepts what the compact scan accepts");
    assert_eq!(compact, by_serde, "the scans disagree on {json:?}");
    for (_, value) in &compact {
        let mut de = serde_json::Deserializer::from_str(value);
        Decodes.deserialize(&mut de).expect("compact values decode");
    }
    true
}

/// Whether key `a` sorts before key `b`, as `a < b` does: decided by the first bytes when they
/// differ, as they do for most pairs of a session's keys, without a call to compare the rest.
fn key_less(a: &[u8], b: &[u8]) -> bool {
    match (a.first(), b.first()) {
        (Some(x), Some(y)) if x != y => x < y,
        _ => a < b,
    }
}

/// [`key_text`] as bytes, without checking that the span's ends are a string's character
/// boundaries (they are).
fn key_bytes<'s>(json: &'s [u8], keys: &'s [Box<str>], span: Span) -> &'s [u8] {
    if span.start == APART {
        keys.get(span.end as usize).map_or(&[], |k| k.as_bytes())
    } else {
        json.get(span.range()).unwrap_or_default()
    }
}

/// The key `span` names: a span of `json`, or one of `keys`.
fn key_text<'s>(json: &'s str, keys: &'s [Box<str>], span: Span) -> &'s str {
    if span.start == APART {
        keys.get(span.end as usize).map_or("", |k| k)
    } else {
        json.get(span.range()).unwrap_or_default()
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
    table: &'e mut Table,
    /// Keys written with escapes, decoded.
    keys: &'e mut Vec<Box<str>>,
    set_apart: &'e mut F,
    /// Set when a kept value may hold what decoding refuses.
    suspect: &'e mut bool,
}

impl<'de, F: FnMut(&[u8], &[u8]) -> bool> DeserializeSeed<'de> for Scan<'_, F> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: FnMut(&[u8], &[u8]) -> bool> Visitor<'de> for Scan<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let span = |s: &str| {
            // Both slices lie in the text (`u32` checked by the caller).
            let start = (s.as_ptr() as usize - self.base) as u32;
            Span {
                start,
                end: start + s.len() as u32,
            }
        };
        while let Some(key) = access.next_key::<KeyText<'de>>()? {
            let value = access.next_value::<&'de RawValue>()?;
            let key_str: &str = &key.0;
            if (self.set_apart)(key_str.as_bytes(), value.get().as_bytes()) {
                continue;
            }
            let key = match key.0 {
                Cow::Borrowed(k) => span(k),
                Cow::Owned(k) => {
                    self.keys.push(k.into_boxed_str());
                    Span::apart(self.keys.len() - 1)
                }
            };
            *self.suspect |= may_not_decode(value.get().as_bytes());
            self.table.push(key, span(value.get()));
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
        Members::scan(text.to_owned(), 0, |_, _| false)
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

    /// A string is lent where it lies unless its JSON has an escape; decoded it reads the same.
    #[test]
    fn a_string_reads_borrowed_unless_escaped_and_as_decoded() {
        let text = r#"{"a":"tag-_09","b":"\"q\" \u00e9","c":"","d":1,"e":["x"],"f":null,"g":"\\"}"#;
        let members = scan(text).unwrap();
        for key in ["a", "b", "c", "d", "e", "f", "g"] {
            let member = members.get(key).unwrap();
            let decoded = member.decode::<String>().ok();
            assert_eq!(member.as_str().as_deref(), decoded.as_deref(), "{key}");
        }
        assert!(matches!(
            members.get("a").unwrap().as_str(),
            Some(Cow::Borrowed("tag-_09"))
        ));
        assert!(matches!(
            members.get("c").unwrap().as_str(),
            Some(Cow::Borrowed(""))
        ));
        assert!(
            matches!(members.get("b").unwrap().as_str(), Some(Cow::Owned(s)) if s == "\"q\" é")
        );
        assert_eq!(members.get("g").unwrap().as_str().as_deref(), Some("\\"));
        let value = Value::String("v".into());
        assert!(matches!(
            Member::Value(&value).as_str(),
            Some(Cow::Borrowed("v"))
        ));
        assert_eq!(Member::Value(&json!(2)).as_str(), None);
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
        let members = Members::scan(r#"{"exp":12,"a":1,"iat":3}"#.to_owned(), 0, |k, v| {
            let claim = k == b"exp" || k == b"iat";
            if claim {
                seen.push((k.to_owned(), v.to_owned()));
            }
            claim
        })
        .unwrap();
        assert_eq!(members.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(
            seen,
            [
                (b"exp".to_vec(), b"12".to_vec()),
                (b"iat".to_vec(), b"3".to_vec())
            ]
        );
    }

    /// A run is the members one after another in the text: never with a claim, a dropped
    /// duplicate or whitespace between two of them, which a copy of the run would carry into
    /// the new cookie; claims before or after the members leave it a run.
    #[test]
    fn a_run_has_nothing_between_its_members() {
        let claims = crate::token::session::CLAIMS;
        let run = |text: &str| {
            let members = Members::scan(text.to_owned(), 0, |k, _| {
                claims.iter().any(|claim| claim.as_bytes() == k)
            })
            .unwrap();
            members.run().map(|run| run.text(0..run.len()).to_owned())
        };
        for refused in [
            r#"{"a":1,"exp":2,"b":3}"#,
            r#"{"a":1,"_created":2,"b":3}"#,
            r#"{"a":1,"b":1,"b":2,"c":3}"#,
            r#"{"a":1, "b":2}"#,
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"\u0062":2}"#,
        ] {
            assert_eq!(run(refused), None, "{refused}");
        }
        for (text, copied) in [
            (r#"{"iat":1,"a":1,"b":2,"exp":3}"#, r#""a":1,"b":2"#),
            (r#"{"a" :1,"b": [1, 2]}"#, r#""a" :1,"b": [1, 2]"#),
            (r#"{"b":1,"a":1,"b":2}"#, r#""a":1,"b":2"#),
            (r#"{"x":{"exp":1,"y":2}}"#, r#""x":{"exp":1,"y":2}"#),
        ] {
            assert_eq!(run(text).as_deref(), Some(copied), "{text}");
        }
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
        /// Keys are ordered as `str`'s `<` orders them, short and empty ones, shared first
        /// bytes and bytes above ASCII included.
        #[test]
        fn keys_sort_as_strings_do(a in "[a_é]{0,3}", b in "[a_é]{0,3}") {
            proptest::prop_assert_eq!(key_less(a.as_bytes(), b.as_bytes()), a < b);
        }
    }

    proptest::proptest! {
        /// Differential: the scan accepts exactly what decoding into a map accepts, and reads
        /// the same members. Texts from an alphabet dense in JSON's hard cases (escapes,
        /// surrogates, exponents, nesting, duplicates).
        #[test]
        fn the_scan_accepts_what_a_decoded_map_accepts(
            token in "[A-Za-z0-9_.-]{0,40}",
            body in proptest::collection::vec(proptest::sample::select(vec![
                "{", "}", "[", "]", ",", ":", "\"", "\"k\"", "\"a\"", "1", "9", "0", "-", "+",
                ".", "e", "E", "e3", "999", "\\", "\\u", "d800", "DC00", "00e9", "n", "null",
                "true", " ", "\"\\ud83d\\ude00\"", "\"\\ud800\"", "1e400", "[[[[[[[[[[",
                "]]]]]]]]]]",
            ]), 0..40),
        ) {
            let text = format!("{{{}}}", body.concat());
            let decoded = serde_json::from_str::<Map<String, Value>>(&text);
            // After a token, as a session cookie's members are scanned.
            let scanned = Members::scan(format!("{token}{text}"), token.len(), |_, _| false);
            proptest::prop_assert_eq!(scanned.is_ok(), decoded.is_ok(), "{}", text);
            if let (Ok(scanned), Ok(decoded)) = (scanned, decoded) {
                proptest::prop_assert_eq!(scanned.token(), token.as_bytes());
                proptest::prop_assert_eq!(scanned.text_len(), text.len());
                proptest::prop_assert_eq!(scanned.to_map(), decoded);
            }
        }
    }

    /// More members than the block holds inline: out of order, one written twice (the second
    /// time with an escape), enough for the binary search; scanned after a token, and built from
    /// a map.
    #[test]
    fn many_members_spill_out_of_the_block_and_read_alike() {
        let mut text = String::from("{");
        for i in (0..20).rev() {
            text += &format!("\"k{i:02}\":{i},");
        }
        text += r#""\u006b05":"again"}"#;
        let token = "aaa.bbb.ccc";
        let members = Members::scan(format!("{token}{text}"), token.len(), |_, _| false).unwrap();
        let map: Map<String, Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(members.token(), token.as_bytes());
        assert_eq!(members.text_len(), text.len());
        assert_eq!(members.len(), 20);
        assert_eq!(members.to_map(), map);
        assert_eq!(
            members.get("k05").unwrap().decode::<String>().unwrap(),
            "again"
        );
        assert_eq!(members.get("k19").unwrap().decode::<u64>().unwrap(), 19);
        assert!(members.get("k20").is_none());
        let built = Members::from_map(map.clone());
        assert!(built.token().is_empty());
        assert_eq!(built.get("k00").unwrap().decode::<u64>().unwrap(), 0);
        assert!(built == members);
        // A token alone before no JSON object is refused like the object alone.
        assert!(Members::scan(format!("{token}[1]"), token.len(), |_, _| false).is_err());
        assert!(Members::scan(token.to_owned(), token.len() + 1, |_, _| false).is_err());
    }

    /// Sessions as this crate, PyJWT and `serde_json` write them take the compact scan, and it
    /// reads them as `serde_json`'s does; anything outside its subset is left to `serde_json`,
    /// which accepts or refuses it as before.
    #[test]
    fn the_compact_scan_reads_written_sessions_and_leaves_the_rest_to_serde_json() {
        let deep = |n: usize| format!("{{\"a\":{}1{}}}", "[".repeat(n), "]".repeat(n));
        let number = |digits: usize| format!("{{\"a\":-{}.5}}", "1".repeat(digits));
        for compact in [
            "{}".to_owned(),
            r#"{"_created":1733400000,"exp":1733401800,"iat":1733400000,"user":"alice"}"#
                .to_owned(),
            r#"{"_fresh":true,"_id":"été 😀","_user_id":"42","n":null,"x":false}"#.to_owned(),
            r#"{"a":[],"b":{},"c":[1,-0,0.25,-12.5,"s",[{"k":[true]}]],"d":{"e":{"f":1}}}"#
                .to_owned(),
            r#"{"k":1,"a":0,"k":2}"#.to_owned(),
            "{\"\":\"\",\"\u{7f}\":\"~\"}".to_owned(),
            deep(16),
            number(37),
        ] {
            assert!(compact_agrees(&compact), "{compact:?} not read compactly");
            let members = scan(&compact).unwrap();
            assert_eq!(
                members.to_map(),
                serde_json::from_str::<Map<String, Value>>(&compact).unwrap()
            );
        }
        for other in [
            // Whitespace, escapes, exponents, control characters: serde_json's to decide.
            " {}".to_owned(),
            r#"{"a": 1}"#.to_owned(),
            "{\"a\":1}\n".to_owned(),
            r#"{"a\"b":1}"#.to_owned(),
            r#"{"a":"\u00e9"}"#.to_owned(),
            r#"{"a":1e3}"#.to_owned(),
            r#"{"a":[1.5E-3]}"#.to_owned(),
            "{\"a\":\"\u{1}\"}".to_owned(),
            "{\"a\":\"\t\"}".to_owned(),
            deep(17),
            number(38),
            // Invalid: refused by serde_json, after the compact scan gave up.
            r#"{"a":01}"#.to_owned(),
            r#"{"a":1.}"#.to_owned(),
            r#"{"a":-}"#.to_owned(),
            r#"{"a":+1}"#.to_owned(),
            r#"{"a":.5}"#.to_owned(),
            r#"{"a":tru}"#.to_owned(),
            r#"{"a":nul"#.to_owned(),
            r#"{"a":1,}"#.to_owned(),
            r#"{"a":[1,]}"#.to_owned(),
            r#"{"a":{"b"}}"#.to_owned(),
            r#"{"a":1}}"#.to_owned(),
            r#"{"a":1"#.to_owned(),
            r#"{"a""#.to_owned(),
            r#"{"a"1}"#.to_owned(),
            r#"{a:1}"#.to_owned(),
            r#"{"a":"x}"#.to_owned(),
            "{".to_owned(),
            "{}x".to_owned(),
            "[1]".to_owned(),
            String::new(),
        ] {
            assert!(!compact_agrees(&other), "{other:?} read compactly");
        }
        // What the compact scan gave up on is still accepted when valid, refused when not.
        assert!(scan(r#"{"a": "\u00e9"}"#).is_ok());
        assert!(scan(&deep(17)).is_ok() && scan(&number(38)).is_ok());
        for bad in [
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":1,}"#,
            "{\"a\":\"\u{1}\"}",
        ] {
            assert!(scan(bad).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// Any object `serde_json` writes, whatever it holds, and any text made from one by
        /// cutting it, or inserting or changing a byte: the compact scan answers only as
        /// `serde_json`'s scan does (`compact_agrees` asserts), and it takes every object written
        /// without escapes or exponents.
        #[test]
        fn the_compact_scan_agrees_with_serde_json(
            map in proptest::collection::btree_map("[a-z_é\\\\\"\u{1}]{0,6}", json_value(), 0..8),
            edit in (0usize..512, proptest::prelude::any::<u8>(), 0u8..4),
        ) {
            let map: Map<String, Value> = map.into_iter().collect();
            let text = serde_json::to_string(&map).unwrap();
            let plain = map.iter().all(|(k, v)| plain(k) && plain_value(v));
            proptest::prop_assert_eq!(compact_agrees(&text), plain, "{}", text);
            let mut bytes = text.into_bytes();
            let (at, byte, kind) = edit;
            let at = at % (bytes.len() + 1);
            match kind {
                0 => bytes.truncate(at),
                1 => bytes.insert(at, byte),
                2 if at < bytes.len() => bytes[at] = byte,
                _ => bytes.insert(at, b"{}[]\",:-.0e\\ 1"[usize::from(byte) % 14]),
            }
            if let Ok(edited) = String::from_utf8(bytes) {
                compact_agrees(&edited);
                let decoded = serde_json::from_str::<Map<String, Value>>(&edited);
                proptest::prop_assert_eq!(scan(&edited).ok().map(|m| m.to_map()), decoded.ok());
            }
        }
    }

    /// Whether `serde_json` writes `text` without escapes.
    fn plain(text: &str) -> bool {
        !text.contains(|c: char| c == '"' || c == '\\' || c < ' ')
    }

    /// Whether `serde_json` writes `value` without escapes or exponents.
    fn plain_value(value: &Value) -> bool {
        match value {
            Value::String(s) => plain(s),
            Value::Number(n) => !n.to_string().contains(['e', 'E']),
            Value::Array(a) => a.iter().all(plain_value),
            Value::Object(m) => m.iter().all(|(k, v)| plain(k) && plain_value(v)),
            Value::Null | Value::Bool(_) => true,
        }
    }

    /// JSON values of every kind, nested, with numbers of every form `serde_json` writes.
    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[a-z \\\\\"\u{0}-\u{1f}é😀]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map("[a-z]{0,3}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn debug_shows_keys_only() {
        let members = scan(r#"{"user":"secret-value"}"#).unwrap();
        let debug = format!("{members:?}");
        assert!(debug.contains("user") && !debug.contains("secret-value"));
    }
}
