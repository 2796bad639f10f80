//! A session's members as a token carried them: the JSON text kept whole, each member's value
//! decoded only when something reads it.
//!
//! Verifying a cookie used to build a `serde_json` map of every value, and freeing it again at
//! the end of the request; a handler that reads one key of a 3 KB session paid for all of them.
//! Here opening a token scans the payload once (validating all of it, allocating nothing per
//! value), keeps the text and where each member's value lies in it, and a read decodes that one
//! value straight into the handler's type. A write copies the unchanged members' text as it is.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeOwned, DeserializeSeed, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The members of one session, sorted by key, each key once.
#[derive(Default)]
pub(crate) struct Members {
    /// The JSON the members were scanned from (empty when they were built from values).
    text: String,
    entries: Vec<Entry>,
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
    Value(Value),
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
        self.decode::<Value>().ok().and_then(|v| match v {
            Value::String(s) => Some(s),
            _ => None,
        })
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
        let mut entries: Vec<Entry> = map
            .into_iter()
            .map(|(key, value)| Entry {
                key: Key::Owned(key.into_boxed_str()),
                slot: Slot::Value(value),
            })
            .collect();
        entries.sort_by(|a, b| a.key.get("").cmp(b.key.get("")));
        Members {
            text: String::new(),
            entries,
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
        let mut entries = Vec::new();
        {
            let mut de = serde_json::Deserializer::from_str(&text);
            Scan {
                base: text.as_ptr() as usize,
                entries: &mut entries,
                set_apart: &mut set_apart,
            }
            .deserialize(&mut de)?;
            de.end()?;
        }
        // The scan checks the syntax only; decoding checks more. Decode (allocating nothing)
        // only when the text may hold what decoding refuses.
        if may_not_decode(text.as_bytes()) {
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
        Ok(Members { text, entries })
    }

    /// The member under `key`.
    pub(crate) fn get(&self, key: &str) -> Option<Member<'_>> {
        let i = self
            .entries
            .binary_search_by(|e| e.key.get(&self.text).cmp(key))
            .ok()?;
        Some(self.member(&self.entries[i]))
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

    /// What these members hold on the heap, for the verified-cookie cache's budget.
    pub(crate) fn heap_bytes(&self) -> usize {
        use crate::cache::{allocation, json_value_bytes};
        let entries = self.entries.iter().map(|e| {
            let key = match &e.key {
                Key::Owned(key) => allocation(key.len()),
                Key::Span(..) => 0,
            };
            let value = match &e.slot {
                Slot::Value(value) => json_value_bytes(value),
                Slot::Raw(..) => 0,
            };
            key + value
        });
        allocation(self.text.capacity())
            + allocation(self.entries.capacity() * size_of::<Entry>())
            + entries.sum::<usize>()
    }

    fn member<'s>(&'s self, entry: &'s Entry) -> Member<'s> {
        match &entry.slot {
            Slot::Raw(start, end) => Member::Raw(&self.text[*start as usize..*end as usize]),
            Slot::Value(value) => Member::Value(value),
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
    fn get<'s>(&'s self, text: &'s str) -> &'s str {
        match self {
            Key::Span(start, end) => &text[*start as usize..*end as usize],
            Key::Owned(key) => key,
        }
    }
}

/// Whether `json` (valid syntax) may hold what `serde_json` refuses to decode: a `\\uD800`–
/// `\\uDFFF` escape (a lone surrogate unless paired), 100 brackets or more (`serde_json` decodes 127 levels),
/// or a number beyond `f64`'s range, which needs a run of at least 309 digits or an exponent of
/// at least three digits. A necessary condition, cheap to test: one pass, no allocation.
fn may_not_decode(json: &[u8]) -> bool {
    let mut brackets = 0usize;
    let mut run = 0usize;
    // The two bytes before the current digit run.
    let (mut before, mut before2) = (0u8, 0u8);
    for &b in json {
        if b.is_ascii_digit() {
            run += 1;
            let exponent = matches!(before, b'e' | b'E')
                || (matches!(before, b'+' | b'-') && matches!(before2, b'e' | b'E'));
            if run >= 309 || (run == 3 && exponent) {
                return true;
            }
        } else {
            if run == 0 {
                before2 = before;
                before = b;
            } else {
                run = 0;
                before2 = 0;
                before = b;
            }
            brackets += usize::from(b == b'[' || b == b'{');
        }
    }
    // `serde_json` refuses a 128th level; checking from 100 on leaves a margin.
    brackets >= 100 || surrogate_escape(json)
}

/// Whether `json` holds an escape of a UTF-16 surrogate (`\\uD8..` to `\\uDF..`).
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
