//! The session token: the application's map with the crate's time claims, signed (Microdot's
//! format, a compact JWS) or, in private mode, encrypted.
//!
//! Time claims are checked when a token is opened, written by the crate, and never shown to the
//! application. `exp`, `nbf` and `iat` are JWT's; `_created` is the session's absolute anchor
//! (`iat`, renewed at every issue, is its idle anchor).

use serde_json::Value;

use super::members::{Anchors, Members, Scanned};
use super::{aead, claims, jws, remember, Rejection};
use crate::decimal::{decimal_len, push_decimal};
use crate::key::KeySet;

/// The time claims, which the application may neither read nor write.
pub(crate) const CLAIMS: [&str; 4] = ["exp", "nbf", "iat", CREATED];
const CREATED: &str = "_created";

/// How session tokens are made and checked under one layer's configuration.
#[derive(Debug, Clone)]
pub(crate) struct SessionFormat {
    pub(crate) keys: KeySet,
    /// The cookie's name: associated data of a private token, so it cannot move to another cookie.
    pub(crate) cookie_name: String,
    /// Encrypt instead of only signing.
    pub(crate) private: bool,
    pub(crate) leeway: u64,
    pub(crate) idle_timeout: Option<u64>,
    pub(crate) absolute_timeout: Option<u64>,
    /// Accept tokens without the crate's anchors (Microdot writes none).
    pub(crate) claimless: bool,
    /// The sessions it opens may keep the login-tracking memo: only a layer with a registry
    /// makes one, and the verified-cookie cache counts room for it only then.
    pub(crate) tracking_memo: bool,
}

/// What opening one session token established: the application's map and the crate's `_…` keys,
/// without the time claims, and the token's [`Anchors`], in one shared block (cheap to clone).
#[derive(Clone)]
pub(crate) struct Opened {
    pub(crate) map: Members,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys only: values may be personal data.
        let anchors = self.anchors();
        f.debug_struct("Opened")
            .field("map", &self.map)
            .field("key_index", &anchors.key_index)
            .field("expires_at", &anchors.expires_at)
            .finish_non_exhaustive()
    }
}

impl Opened {
    /// Which key verified the token, and its times.
    pub(crate) fn anchors(&self) -> &Anchors {
        self.map.anchors()
    }

    /// Whether the session is valid at `now`.
    pub(crate) fn check_time(&self, now: u64) -> Result<(), Rejection> {
        let now = now as f64;
        let Anchors {
            expires_at,
            valid_from,
            ..
        } = *self.anchors();
        if expires_at.is_some_and(|t| now >= t) {
            return Err(Rejection::Expired);
        }
        if valid_from.is_some_and(|t| now < t) {
            return Err(Rejection::NotYetValid);
        }
        Ok(())
    }
}

/// A time claim the scan met: its NumericDate, or `None` when it is valid JSON but not a
/// NumericDate (refused as [`Rejection::BadClaims`] where the claim is checked).
type Claim = Option<f64>;

/// Scans a session payload in one pass: the members of the JSON of `text` from `json_start` on
/// (the token before it), which must be one JSON object, without the time claims, which are set
/// apart into `claims` (in the order of [`CLAIMS`]) as they are met, so the members are neither
/// searched for them nor shrunk afterwards. Of duplicate members the last counts, as in a parsed
/// `Map`. `None` when the text is not such an object, or a claim's value does not decode (a
/// number beyond `f64`'s range, which only `serde_json`'s scan meets).
fn scan_payload(
    text: String,
    json_start: usize,
    claims: &mut [Option<Claim>; 4],
) -> Option<Scanned> {
    let mut bad_claim = false;
    let members = Scanned::scan(text, json_start, |key, raw| {
        let Some(i) = claim_index(key) else {
            return false;
        };
        // A claim is decoded at once: it is checked on every request.
        match claim_date(raw) {
            Ok(date) => claims[i] = Some(date),
            // Never from the compact scan, whose values all decode: a claim handed over
            // twice (see `Scanned::scan`) fails only in `serde_json`'s scan.
            Err(_) => bad_claim = true,
        }
        true
    });
    members.ok().filter(|_| !bad_claim)
}

/// The earlier of two instants, either of which may be unset.
fn earliest(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The later of two instants, either of which may be unset.
fn latest(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Where `key` is in [`CLAIMS`], if it is a claim: matched on its bytes, so that each of a
/// session's keys costs a few comparisons of registers rather than calls to compare memory.
fn claim_index(key: &[u8]) -> Option<usize> {
    match key {
        b"exp" => Some(0),
        b"nbf" => Some(1),
        b"iat" => Some(2),
        b"_created" => Some(3),
        _ => None,
    }
}

/// A claim's raw JSON read as a NumericDate ([`claims::numeric_date`] of the value `serde_json`
/// decodes); an error when it is not JSON at all. Up to 19 digits alone (valid JSON, so with no
/// sign and no leading zero, and within a `u64`) are read as that integer without a parser and
/// without a `Value`: every time claim this crate issues is one.
fn claim_date(raw: &[u8]) -> serde_json::Result<Claim> {
    match small_integer(raw) {
        Some(n) => Ok(claims::numeric_date_of_integer(n)),
        None => serde_json::from_slice::<Value>(raw).map(|value| claims::numeric_date(&value).ok()),
    }
}

/// The integer of 1 to 19 ASCII digits (always within a `u64`) with no leading zero; `None` for
/// anything else. Eight digits at a time in a register: a claim's ten digits one at a time were a
/// chain of ten multiplications.
fn small_integer(raw: &[u8]) -> Option<u64> {
    if raw.is_empty() || raw.len() > 19 || (raw.len() > 1 && raw[0] == b'0') {
        return None;
    }
    let mut n = 0u64;
    let mut rest = raw;
    while let Some((eight, tail)) = rest.split_first_chunk::<8>() {
        // At most eight digits before these eight (19 in all): below 10^8 · 10^8 + 10^8.
        n = n * 100_000_000 + eight_digits(*eight)?;
        rest = tail;
    }
    rest.iter().try_fold(n, |n, &b| {
        let digit = b.wrapping_sub(b'0');
        (digit <= 9).then(|| n * 10 + u64::from(digit))
    })
}

/// The number that eight ASCII digits write (the first the most significant), or `None` if any
/// byte is not a digit: the bytes checked and combined in pairs, then the four pairs at once, in
/// one register.
fn eight_digits(bytes: [u8; 8]) -> Option<u64> {
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    let x = u64::from_le_bytes(bytes);
    // Each byte is 0x30 to 0x39: its high half is 3, and adding 6 leaves it 3. (The second test
    // can carry into the next byte only from a byte whose high half is F, which the first fails.)
    if x & HIGH != ZEROS || x.wrapping_add(0x0606_0606_0606_0606) & HIGH != ZEROS {
        return None;
    }
    // Digits 0 to 9, the first in the lowest byte. Each byte becomes ten times itself plus the
    // next (the even bytes: two-digit numbers below 100); then two multiplications weigh the
    // four pairs (10^6, 10^4, 100, 1) into the high half.
    let d = x - ZEROS;
    let pairs = d.wrapping_mul(10).wrapping_add(d >> 8);
    const LOW_OF_HALVES: u64 = 0x0000_00FF_0000_00FF;
    let first = (pairs & LOW_OF_HALVES).wrapping_mul(100 + (1_000_000 << 32));
    let second = ((pairs >> 16) & LOW_OF_HALVES).wrapping_mul(1 + (10_000 << 32));
    Some(first.wrapping_add(second) >> 32)
}

impl SessionFormat {
    /// Verifies and decodes one session token: MAC (or AEAD tag), payload, time claims, and the
    /// idle and absolute timeouts from the signed anchors (SECURITY.md JWT-07, JWT-09, SES-03 to
    /// SES-05).
    pub(crate) fn open(&self, token: &str, now: u64) -> Result<Opened, Rejection> {
        let (text, key_index) = if self.private {
            let (json, key_index) = aead::open(token, self.keys.all(), &self.cookie_name)?;
            let text = std::str::from_utf8(&json)
                .ok()
                .map(|json| [token, json].concat());
            (text, key_index)
        } else {
            let verified = jws::verify(token, self.keys.all())?;
            (verified.payload_text_after(token), verified.key_index)
        };
        // Authentic from here on: what this layer cannot read (not base64 of UTF-8, not one
        // JSON object) is left alone.
        let mut claims = [None; 4];
        let Some(map) = text.and_then(|text| scan_payload(text, token.len(), &mut claims)) else {
            return Err(Rejection::Unusable);
        };
        let [exp, nbf, iat, created] = claims;
        let others = nbf.is_some() || iat.is_some() || created.is_some();
        if remember::is_remember_shaped_without_claims(&map, exp.is_some(), others) {
            // A remember-me token is never a session (SECURITY.md JWT-10, the other direction).
            return Err(Rejection::BadPayload);
        }
        // The claims, each read once: what `claims::check_time_claims` checks of a whole map.
        let [exp, nbf, iat] = claims::check_time_claim_dates([exp, nbf, iat], now, self.leeway)?;
        let created = claims::present_date(created)?;
        let (issued, created) = (iat.map(|t| t as u64), created.map(|t| t as u64));
        if !self.claimless && (issued.is_none() || created.is_none()) {
            return Err(Rejection::Unusable);
        }
        let leeway = self.leeway as f64;
        let deadline = |anchor: Option<u64>, timeout: Option<u64>| match (anchor, timeout) {
            (Some(a), Some(t)) => Some(a.saturating_add(t) as f64),
            _ => None,
        };
        // Pairwise, not reduced from an array: the array was written to memory and read back.
        let expires_at = earliest(
            earliest(
                exp.map(|exp| exp + leeway),
                deadline(issued, self.idle_timeout),
            ),
            deadline(created, self.absolute_timeout),
        );
        let valid_from = latest(nbf, iat).map(|t| t - leeway);
        let anchors = Anchors {
            key_index,
            created,
            issued,
            expires_at,
            valid_from,
        };
        let opened = Opened {
            map: map.into_members(anchors, self.tracking_memo),
        };
        opened.check_time(now)?;
        Ok(opened)
    }

    /// The token for `json` (the session serialised, without claims) begun at `created` and
    /// issued `now`, under the current key.
    pub(crate) fn seal(&self, json: Vec<u8>, created: u64, now: u64) -> String {
        let json = with_claims(json, |out| self.push_claims(created, now, out));
        if self.private {
            aead::seal(&json, self.keys.current(), &self.cookie_name)
        } else {
            jws::encode_json(&json, self.keys.current())
        }
    }

    /// The length of what [`seal`](Self::seal) makes of `json_len` bytes of JSON.
    pub(crate) fn sealed_len(&self, json_len: usize, created: u64, now: u64) -> usize {
        // A comma between the map's members and the claims, then the claims.
        let json_len = json_len + 1 + self.claims_len(created, now);
        if self.private {
            aead::encoded_len(json_len)
        } else {
            jws::encoded_len(json_len)
        }
    }

    /// Appends the crate's claims for a session begun at `created`, issued `now`, as JSON members:
    /// `"_created":…,"exp":…,"iat":…`. `exp` is the earlier of the two deadlines, so PyJWT
    /// (Microdot) enforces them too.
    pub(crate) fn push_claims(&self, created: u64, now: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\"_created\":");
        push_decimal(out, created);
        if let Some(exp) = self.expiry(created, now) {
            out.extend_from_slice(b",\"exp\":");
            push_decimal(out, exp);
        }
        out.extend_from_slice(b",\"iat\":");
        push_decimal(out, now);
    }

    /// The length of what [`push_claims`](Self::push_claims) writes, without writing it.
    pub(crate) fn claims_len(&self, created: u64, now: u64) -> usize {
        let exp = self
            .expiry(created, now)
            .map_or(0, |exp| 7 + decimal_len(exp));
        11 + decimal_len(created) + exp + 7 + decimal_len(now)
    }

    fn expiry(&self, created: u64, now: u64) -> Option<u64> {
        let idle = self.idle_timeout.map(|t| now.saturating_add(t));
        let absolute = self.absolute_timeout.map(|t| created.saturating_add(t));
        idle.into_iter().chain(absolute).min()
    }
}

/// `json` (a serialised object) with the crate's claims, written by `push_claims`, added as its
/// last members.
pub(crate) fn with_claims(mut json: Vec<u8>, push_claims: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    json.reserve(64); // a comma and the claims: 56 bytes with ten-digit times
    json.pop(); // the closing brace
    if json.len() > 1 {
        json.push(b',');
    }
    push_claims(&mut json);
    json.push(b'}');
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_found_by_their_exact_names() {
        for (i, claim) in CLAIMS.iter().enumerate() {
            assert_eq!(claim_index(claim.as_bytes()), Some(i));
        }
        for other in [
            "",
            "e",
            "ex",
            "expx",
            "EXP",
            "iat ",
            "_create",
            "_created_",
            "user",
        ] {
            assert_eq!(claim_index(other.as_bytes()), None, "{other:?}");
        }
    }

    fn format(private: bool, claimless: bool) -> SessionFormat {
        SessionFormat {
            keys: KeySet::new(crate::Key::generate()),
            cookie_name: "session".into(),
            private,
            leeway: 0,
            idle_timeout: None,
            absolute_timeout: None,
            claimless,
            tracking_memo: false,
        }
    }

    #[test]
    fn in_07_authentic_but_unreadable_sessions_are_unusable_in_both_formats() {
        for private in [false, true] {
            let format = format(private, true);
            let seal = |json: &[u8]| {
                if private {
                    aead::seal(json, format.keys.current(), "session")
                } else {
                    jws::encode_json(json, format.keys.current())
                }
            };
            // Not UTF-8: short (decoded on the stack) and long (decoded on the heap).
            let long = [&b"{\"a\":\""[..], &[0xff; 600], b"\"}"].concat();
            for json in [
                &b"{\"a\":NaN}"[..],
                b"[1]",
                b"not json",
                b"{\"a\":\"\xff\"}",
                &long,
            ] {
                assert_eq!(
                    format.open(&seal(json), 0).unwrap_err(),
                    Rejection::Unusable,
                    "private {private}: {json:?}"
                );
            }
            // Anchorless while claim-less sessions are refused: authentic, unusable.
            let strict = SessionFormat {
                claimless: false,
                ..format.clone()
            };
            assert_eq!(
                strict.open(&seal(b"{\"a\":1}"), 0).unwrap_err(),
                Rejection::Unusable
            );
            // Not authentic: never unusable.
            let other = self::format(private, true);
            assert_ne!(
                other.open(&seal(b"{\"a\":1}"), 0).unwrap_err(),
                Rejection::Unusable
            );
        }
    }

    #[test]
    fn claims_decode_as_serde_json_decodes_them() {
        for raw in [
            "0",
            "7",
            "1733400000",
            "1234567890123456789",
            "9999999999999999999",
            "18446744073709551615",
            "18446744073709551616",
            "1.5",
            "-1",
            "1e3",
            "\"1733400000\"",
            "null",
            "[1]",
        ] {
            let theirs = serde_json::from_str::<Value>(raw).unwrap();
            assert_eq!(
                claim_date(raw.as_bytes()).unwrap(),
                claims::numeric_date(&theirs).ok(),
                "{raw}"
            );
        }
        for raw in ["", "1e400", "0123", "00", "12a", "+1"] {
            assert!(claim_date(raw.as_bytes()).is_err(), "{raw}");
            assert!(serde_json::from_str::<Value>(raw).is_err(), "{raw}");
        }
    }

    /// A digit at a time, as `serde_json` reads an integer: what [`small_integer`] must answer.
    fn small_integer_bytewise(raw: &[u8]) -> Option<u64> {
        let digits = !raw.is_empty() && raw.len() <= 19 && raw.iter().all(u8::is_ascii_digit);
        let leading_zero = raw.len() > 1 && raw[0] == b'0';
        (digits && !leading_zero).then(|| std::str::from_utf8(raw).ok()?.parse().ok())?
    }

    /// Every byte next to the digits' range (and the high ones a carry could cross), at each
    /// place of numbers of every length around the eight-digit steps.
    #[test]
    fn integers_are_read_eight_digits_at_a_time_as_one_at_a_time() {
        let edges = [
            0x00, b'+', b'-', b'.', b'/', b'0', b'1', b'5', b'9', b':', b'e', 0x7f, 0x80, 0xb0,
            0xb9, 0xca, 0xf0, 0xf9, 0xfa, 0xff,
        ];
        for len in 0..=20 {
            for at in 0..len {
                for &edge in &edges {
                    let mut raw: Vec<u8> = (0..len).map(|i| b"918273645"[i % 9]).collect();
                    raw[at] = edge;
                    assert_eq!(small_integer(&raw), small_integer_bytewise(&raw), "{raw:?}");
                }
            }
        }
        for raw in [
            "9999999999999999999",
            "1000000000000000000",
            "10000000",
            "99999999",
            "1",
        ] {
            assert_eq!(small_integer(raw.as_bytes()), raw.parse().ok(), "{raw}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_integer_is_read_as_one_at_a_time_reads_it(
            raw in proptest::collection::vec(
                proptest::prop_oneof![b'0'..=b'9', b'0'..=b'9', proptest::num::u8::ANY],
                0..22,
            ),
            n in 0u64..,
        ) {
            proptest::prop_assert_eq!(small_integer(&raw), small_integer_bytewise(&raw));
            let text = n.to_string();
            let expected = (text.len() <= 19).then_some(n);
            proptest::prop_assert_eq!(small_integer(text.as_bytes()), expected);
        }
    }

    /// A payload the compact scan gives up on partway (here at a space, after the claims) is
    /// read by `serde_json`'s scan from the start: the claims it handed over are handed over
    /// again, and what the token says counts, as if `serde_json` alone had read it.
    #[test]
    fn a_payload_the_compact_scan_gives_up_on_is_read_whole_by_serde_json() {
        let format = format(false, false);
        let seal = |json: &str| jws::encode_json(json.as_bytes(), format.keys.current());
        let now = 1_733_400_100;
        let token = seal(
            r#"{"_created":1733400000,"exp":1733401800,"iat":1733400000,"k":[1,2],"user": "a"}"#,
        );
        let opened = format.open(&token, now).unwrap();
        assert_eq!(opened.map.keys().collect::<Vec<_>>(), ["k", "user"]);
        let user = opened.map.get("user").unwrap().decode::<String>().unwrap();
        assert_eq!(user, "a");
        let anchors = opened.anchors();
        assert_eq!(
            (anchors.created, anchors.issued),
            (Some(1_733_400_000), Some(1_733_400_000))
        );
        assert_eq!(anchors.expires_at, Some(1_733_401_800.0));
        // Of a claim written twice the last counts, whichever scan met the first.
        let token = seal(
            r#"{"_created":1733400000,"exp":1733400050,"iat":1733400000,"exp":1733401800, "u":1}"#,
        );
        assert!(format.open(&token, now).is_ok());
        let token = seal(
            r#"{"_created":1733400000,"exp":1733401800,"iat":1733400000,"exp":1733400050, "u":1}"#,
        );
        assert_eq!(format.open(&token, now).unwrap_err(), Rejection::Expired);
        // A claim beyond what decoding reads, after one the compact scan handed over: unusable.
        let token =
            seal(r#"{"_created":1733400000,"exp":1733401800,"iat":1733400000,"exp":1e400}"#);
        assert_eq!(format.open(&token, now).unwrap_err(), Rejection::Unusable);
    }

    /// Time claims of a session cookie must be numbers in range (SECURITY.md JWT-08), however its
    /// payload is scanned: compactly, or by `serde_json` (a space after the claims).
    #[test]
    fn jwt_08_session_claims_must_be_numbers_in_range_in_both_scans() {
        let format = format(false, false);
        let seal = |json: &str| jws::encode_json(json.as_bytes(), format.keys.current());
        let now = 1_733_400_100;
        for tail in ["}", ", \"u\":1}"] {
            for exp in [
                "\"1733401800\"",
                "null",
                "true",
                "-1",
                "[1733401800]",
                "253402300800",
            ] {
                let json =
                    format!("{{\"_created\":1733400000,\"exp\":{exp},\"iat\":1733400000{tail}");
                assert_eq!(
                    format.open(&seal(&json), now).unwrap_err(),
                    Rejection::BadClaims,
                    "{json}"
                );
            }
            for exp in ["1733401800", "1733401800.5", "1733401800.0"] {
                let json =
                    format!("{{\"_created\":1733400000,\"exp\":{exp},\"iat\":1733400000{tail}");
                assert!(format.open(&seal(&json), now).is_ok(), "{json}");
            }
        }
    }

    #[test]
    fn deadlines_are_checked_on_every_hit() {
        let anchors = Anchors {
            expires_at: Some(200.0),
            valid_from: Some(100.0),
            ..Anchors::default()
        };
        let scanned = Scanned::scan("{}".to_owned(), 0, |_, _| false).unwrap();
        let opened = Opened {
            map: scanned.into_members(anchors, false),
        };
        assert_eq!(opened.check_time(99), Err(Rejection::NotYetValid));
        assert!(opened.check_time(199).is_ok());
        assert_eq!(opened.check_time(200), Err(Rejection::Expired));
    }
}
