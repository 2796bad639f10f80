//! Base64 (RFC 4648) for the crate's tokens and headers, through `base64-simd`: strict (canonical
//! only: no whitespace, no stray padding, no set bits after the last byte) and never panicking,
//! whatever a client sends.
//!
//! `base64-simd` decodes and encodes 32 bytes a step in vector registers (AVX2 or SSE4.1, chosen
//! at run time; a portable loop elsewhere). A session cookie's payload is a few hundred
//! characters, which the `base64` crate's scalar engine took two to three times as long over
//! (measured in the commit that made this module).

use base64_simd::{Base64, Out};

/// The URL-safe alphabet without padding: JWS segments, sealed cookies, device ids.
pub(crate) const URL: &Base64 = &base64_simd::URL_SAFE_NO_PAD;

/// The standard alphabet with padding: HTTP Basic credentials.
pub(crate) const STANDARD: &Base64 = &base64_simd::STANDARD;

/// Decodes `src` into the front of `dst` and returns the bytes written; `None` when `src` is not
/// canonical base64 of `alphabet`, or `dst` is too short for it.
pub(crate) fn decode_into<'d>(
    alphabet: &Base64,
    src: &[u8],
    dst: &'d mut [u8],
) -> Option<&'d [u8]> {
    let len = alphabet.decoded_length(src).ok()?;
    // `decode` asserts that the buffer is long enough: checked here instead.
    let dst = dst.get_mut(..len)?;
    alphabet.decode(src, Out::from_slice(dst)).ok().map(|d| &*d)
}

/// Decodes `src` into a new buffer; `None` when it is not canonical base64 of `alphabet`.
pub(crate) fn decode(alphabet: &Base64, src: impl AsRef<[u8]>) -> Option<Vec<u8>> {
    alphabet.decode_to_vec(src).ok()
}

/// Appends `src`, encoded, to `dst`: into its spare capacity when there is enough, nothing
/// zeroed first.
pub(crate) fn encode_append(alphabet: &Base64, src: &[u8], dst: &mut String) {
    alphabet.encode_append(src, dst);
}

/// Encodes `src` as a new string.
pub(crate) fn encode(alphabet: &Base64, src: impl AsRef<[u8]>) -> String {
    alphabet.encode_to_string(src)
}

#[cfg(test)]
mod tests {
    //! The `base64` crate (a dev-dependency here) is the reference: both must accept exactly the
    //! same strings, decode them to the same bytes, and encode alike.
    use super::*;
    use base64::engine::general_purpose;
    use base64::Engine as _;
    use proptest::prelude::*;

    fn agree(text: impl AsRef<[u8]>) {
        let text = text.as_ref();
        let url = general_purpose::URL_SAFE_NO_PAD.decode(text).ok();
        assert_eq!(decode(URL, text), url, "{text:?}");
        let std = general_purpose::STANDARD.decode(text).ok();
        assert_eq!(decode(STANDARD, text), std, "{text:?}");
        let mut buf = [0u8; 64];
        let into = decode_into(URL, text, &mut buf).map(<[u8]>::to_vec);
        match url {
            Some(bytes) if bytes.len() <= buf.len() => assert_eq!(into, Some(bytes)),
            _ => assert_eq!(into, None, "{text:?}"),
        }
    }

    #[test]
    fn non_canonical_and_malformed_input_is_refused_as_the_base64_crate_refuses_it() {
        for text in [
            "",
            "A",
            "AA",
            "AB",
            "AAA",
            "AAB",
            "AAAA",
            "AA==",
            "AA=",
            "A===",
            "QUI",
            "QUJ",
            "QUJDRA",
            "QUJDRB",
            "QUJDRA==",
            " QUJD",
            "QUJD\n",
            "QU JD",
            "QUJD=",
            "Q+/D",
            "Q-_D",
            "QUJD%",
            "\u{e9}QUJD",
            "QUJD\0",
            "AB==",
            "QUJDRB==",
            "AA=A",
            "====",
            "AAA=",
            "=AAA",
        ] {
            agree(text);
        }
    }

    /// Every byte value at every position of strings long enough for the vector code (it takes
    /// 38 characters and more), valid in both alphabets or in one: a byte outside an alphabet is
    /// refused wherever it stands, as the reference refuses it.
    #[test]
    fn any_byte_anywhere_in_a_long_string_is_judged_as_the_base64_crate_judges_it() {
        let url = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9w_-8";
        let standard = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9w+/8=";
        for text in [url, standard, &standard[..52], &url[..42]] {
            agree(text);
            for at in 0..text.len() {
                for byte in 0..=255u8 {
                    let mut bytes = text.as_bytes().to_vec();
                    bytes[at] = byte;
                    agree(&bytes);
                }
            }
        }
    }

    proptest! {
        #[test]
        fn any_string_decodes_as_with_the_base64_crate(text in "[A-Za-z0-9+/_=\\- .]{0,80}") {
            agree(&text);
        }

        #[test]
        fn any_bytes_decode_as_with_the_base64_crate(
            bytes in proptest::collection::vec(any::<u8>(), 0..100)
        ) {
            agree(&bytes);
        }

        #[test]
        fn any_bytes_encode_and_decode_as_with_the_base64_crate(
            bytes in proptest::collection::vec(any::<u8>(), 0..200)
        ) {
            let url = general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
            prop_assert_eq!(&encode(URL, &bytes), &url);
            prop_assert_eq!(encode(STANDARD, &bytes), general_purpose::STANDARD.encode(&bytes));
            let mut out = String::from("a.");
            encode_append(URL, &bytes, &mut out);
            prop_assert_eq!(&out[2..], url.as_str());
            let mut back = vec![0u8; bytes.len()];
            prop_assert_eq!(decode_into(URL, url.as_bytes(), &mut back), Some(&bytes[..]));
            if !bytes.is_empty() {
                let short = bytes.len() - 1;
                prop_assert_eq!(decode_into(URL, url.as_bytes(), &mut back[..short]), None);
            }
        }
    }
}
