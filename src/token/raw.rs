//! A member's JSON text as a `serde` deserializer: what `serde_json::from_str` makes of the text,
//! except that a string without escapes (the usual value of a session: a user name, a path, a
//! theme) asked for as a string is handed to the visitor as it lies in the text, without starting
//! a parser. For a handler that reads a short string, the parser's setup cost more than the rest
//! of the read.
//!
//! Any other text, and a string asked for as anything but a string, goes to `serde_json`'s
//! deserializer, method for method: a type's `Deserialize` calls exactly one method of its
//! deserializer, so forwarding that call to `serde_json` and then checking that nothing follows
//! (as `from_str` does) decides what `from_str` would. Every answer is the value `from_str` gives,
//! or an error where it gives one (a visitor's error about a plain string carries no line and
//! column; every caller drops the error's text). The tests hold both to the same answers.

use serde::de::Visitor;
use serde::Deserializer;

/// The JSON text of one member's value, valid (every member's text was validated when it was
/// scanned).
pub(crate) struct RawText<'a>(pub(crate) &'a str);

/// The characters of `text`, valid JSON text of one value, if it is a string without escapes:
/// those between its quotes. In valid JSON a quote inside a string is escaped, and so is every
/// control character, so text that begins and ends with a quote and holds no backslash is one
/// string, of these characters.
pub(crate) fn plain_string(text: &str) -> Option<&str> {
    match text.as_bytes() {
        // `contains`, not the `memchr` crate: a session's strings are short, and its vector
        // search costs more to set up than the search.
        [b'"', inner @ .., b'"'] if !inner.contains(&b'\\') => text.get(1..text.len() - 1),
        _ => None,
    }
}

/// Methods whose every answer `serde_json` gives (see [`RawText::by_serde_json`]).
macro_rules! by_serde_json {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(
            self,
            $($arg: $ty,)*
            visitor: V,
        ) -> Result<V::Value, serde_json::Error> {
            self.by_serde_json(|de| de.$method($($arg,)* visitor))
        }
    )*};
}

impl<'de> RawText<'de> {
    /// What `serde_json::from_str` answers when the type asks its deserializer `ask`: the text
    /// parsed by `serde_json`'s deserializer, asked the same, and then checked to end there.
    fn by_serde_json<T>(
        self,
        ask: impl FnOnce(
            &mut serde_json::Deserializer<serde_json::de::StrRead<'de>>,
        ) -> Result<T, serde_json::Error>,
    ) -> Result<T, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(self.0);
        let value = ask(&mut de)?;
        de.end()?;
        Ok(value)
    }
}

impl<'de> Deserializer<'de> for RawText<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match plain_string(self.0) {
            // What `serde_json` hands a visitor for a string without escapes in borrowed text.
            Some(text) => visitor.visit_borrowed_str(text),
            None => self.by_serde_json(|de| de.deserialize_any(visitor)),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match plain_string(self.0) {
            Some(text) => visitor.visit_borrowed_str(text),
            None => self.by_serde_json(|de| de.deserialize_str(visitor)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_str(visitor)
    }

    by_serde_json! {
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::DeserializeOwned;
    use serde::Deserialize;
    use serde_json::value::RawValue;
    use serde_json::Value;
    use std::collections::BTreeMap;
    use std::fmt::Debug;

    #[derive(Debug, PartialEq, Deserialize)]
    enum Theme {
        Dark,
        #[serde(rename = "light")]
        Light,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Name(String);

    #[derive(Debug, PartialEq, Deserialize)]
    struct Cart {
        items: Vec<u64>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(tag = "kind")]
    enum Tagged {
        Cart { items: Vec<u64> },
        Empty,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(u64),
        Text(String),
    }

    /// Whether `RawText` and `serde_json::from_str` give the same answer for `text` as a `T`:
    /// both a value, the same one, or both an error.
    fn agree<T: DeserializeOwned + PartialEq + Debug>(text: &str) {
        let ours = T::deserialize(RawText(text));
        let theirs = serde_json::from_str::<T>(text);
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{text:?} as {}", std::any::type_name::<T>()),
            (Err(_), Err(_)) => {}
            _ => panic!(
                "{text:?} as {}: {ours:?} against serde_json's {theirs:?}",
                std::any::type_name::<T>()
            ),
        }
    }

    /// Every type a handler is likely to ask for, and some it is not.
    fn agree_as_all(text: &str) {
        agree::<String>(text);
        agree::<Option<String>>(text);
        agree::<Option<Option<String>>>(text);
        agree::<char>(text);
        agree::<Value>(text);
        agree::<Theme>(text);
        agree::<Name>(text);
        agree::<Cart>(text);
        agree::<Either>(text);
        agree::<u64>(text);
        agree::<i8>(text);
        agree::<u128>(text);
        agree::<f64>(text);
        agree::<bool>(text);
        agree::<()>(text);
        agree::<Vec<String>>(text);
        agree::<(String, u64)>(text);
        agree::<BTreeMap<String, u64>>(text);
        agree::<std::net::IpAddr>(text);
        agree::<std::path::PathBuf>(text);
        agree::<serde_bytes_like::Bytes>(text);
        agree::<Option<u64>>(text);
        agree::<Option<char>>(text);
        agree::<Box<str>>(text);
        agree::<Tagged>(text);
        let raw = <Option<Box<RawValue>>>::deserialize(RawText(text))
            .map(|raw| raw.map(|raw| raw.get().to_owned()));
        let theirs = serde_json::from_str::<Option<Box<RawValue>>>(text)
            .map(|raw| raw.map(|raw| raw.get().to_owned()));
        assert_eq!(raw.ok(), theirs.ok(), "{text:?} as Option<RawValue>");
        let raw = <Box<RawValue>>::deserialize(RawText(text)).map(|raw| raw.get().to_owned());
        let theirs = serde_json::from_str::<Box<RawValue>>(text).map(|raw| raw.get().to_owned());
        assert_eq!(raw.ok(), theirs.ok(), "{text:?} as RawValue");
    }

    /// A byte buffer, asked for as bytes (`deserialize_byte_buf`).
    mod serde_bytes_like {
        #[derive(Debug, PartialEq)]
        pub(super) struct Bytes(pub(super) Vec<u8>);

        impl<'de> serde::Deserialize<'de> for Bytes {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Visit;
                impl serde::de::Visitor<'_> for Visit {
                    type Value = Bytes;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("bytes")
                    }
                    fn visit_bytes<E>(self, v: &[u8]) -> Result<Bytes, E> {
                        Ok(Bytes(v.to_vec()))
                    }
                    fn visit_str<E>(self, v: &str) -> Result<Bytes, E> {
                        Ok(Bytes(v.as_bytes().to_vec()))
                    }
                }
                d.deserialize_byte_buf(Visit)
            }
        }
    }

    #[test]
    fn every_value_decodes_as_serde_json_decodes_it() {
        for text in [
            r#""alice""#,
            r#""""#,
            r#""x""#,
            r#""é""#,
            r#""Dark""#,
            r#""light""#,
            r#""dark""#,
            r#""1""#,
            r#""127.0.0.1""#,
            r#""/orders/1234""#,
            r#""a\"b""#,
            r#""\u00e9""#,
            r#""\\""#,
            r#""a\nb""#,
            "null",
            "0",
            "1",
            "-1",
            "300",
            "1.5",
            "-0.0",
            "1e3",
            "340282366920938463463374607431768211455",
            "true",
            "false",
            "[]",
            "[1,2,3]",
            r#"["a","b"]"#,
            r#"["a",1]"#,
            r#"{"items":[1,2]}"#,
            r#"{"kind":"Cart","items":[3]}"#,
            r#"{"kind":"Empty"}"#,
            r#"{"a":1,"b":2}"#,
            "{}",
        ] {
            agree_as_all(text);
        }
    }

    proptest! {
        /// Any string, as JSON writes it (with whatever escapes it needs), decodes as
        /// `serde_json` decodes it.
        #[test]
        fn any_string_decodes_as_serde_json_decodes_it(s in any::<String>()) {
            let text = serde_json::to_string(&s).unwrap();
            agree_as_all(&text);
            prop_assert_eq!(String::deserialize(RawText(&text)).unwrap(), s);
        }
    }
}
