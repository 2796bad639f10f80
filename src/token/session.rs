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

/// A session payload scanned in one pass: the members without the time claims, and the claims
/// (in the order of [`CLAIMS`]) set apart as they are met, so the members are neither searched
/// for them nor shrunk afterwards. Of duplicate members the last counts, as in a parsed `Map`.
struct Payload {
    members: Scanned,
    claims: [Option<Value>; 4],
}

impl Payload {
    /// Scans the JSON of `text` from `json_start` on (the token before it), which must be one
    /// JSON object; `None` when it was not base64 of UTF-8.
    fn scan(text: Option<String>, json_start: usize) -> Result<Payload, Rejection> {
        let text = text.ok_or(Rejection::Malformed)?;
        let mut claims: [Option<Value>; 4] = Default::default();
        let mut bad_claim = false;
        let members = Scanned::scan(text, json_start, |key, raw| {
            let Some(i) = claim_index(key) else {
                return false;
            };
            // A claim is decoded at once: it is checked on every request.
            match claim_value(raw) {
                Ok(value) => claims[i] = Some(value),
                // Never from the compact scan, whose values all decode: a claim handed over
                // twice (see `Scanned::scan`) fails only in `serde_json`'s scan.
                Err(_) => bad_claim = true,
            }
            true
        })
        .map_err(|_| Rejection::BadPayload)?;
        if bad_claim {
            return Err(Rejection::BadPayload);
        }
        Ok(Payload { members, claims })
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

/// A claim's raw JSON decoded. Up to 19 digits alone (valid JSON, so with no sign and no leading
/// zero, and within a `u64`) are read as the integer `serde_json` makes of them, in one pass
/// without a parser: every time claim this crate issues is one.
fn claim_value(raw: &[u8]) -> serde_json::Result<Value> {
    match small_integer(raw) {
        Some(n) => Ok(n.into()),
        None => serde_json::from_slice(raw),
    }
}

/// The integer of 1 to 19 ASCII digits (always within a `u64`) with no leading zero; `None` for
/// anything else.
fn small_integer(raw: &[u8]) -> Option<u64> {
    if raw.is_empty() || raw.len() > 19 || (raw.len() > 1 && raw[0] == b'0') {
        return None;
    }
    raw.iter().try_fold(0u64, |n, &b| {
        let digit = b.wrapping_sub(b'0');
        (digit <= 9).then(|| n * 10 + u64::from(digit))
    })
}

impl SessionFormat {
    /// Verifies and decodes one session token: MAC (or AEAD tag), payload, time claims, and the
    /// idle and absolute timeouts from the signed anchors (SECURITY.md JWT-07, JWT-09, SES-03 to
    /// SES-05).
    pub(crate) fn open(&self, token: &str, now: u64) -> Result<Opened, Rejection> {
        let (payload, key_index) = if self.private {
            let (json, key_index) = aead::open(token, self.keys.all(), &self.cookie_name)?;
            let text = std::str::from_utf8(&json)
                .ok()
                .map(|json| [token, json].concat());
            (Payload::scan(text, token.len()), key_index)
        } else {
            let verified = jws::verify(token, self.keys.all())?;
            let text = verified.payload_text_after(token);
            (Payload::scan(text, token.len()), verified.key_index)
        };
        // Authentic from here on: what this layer cannot read is left alone.
        let Payload {
            members: map,
            claims,
        } = payload.map_err(|_| Rejection::Unusable)?;
        let [exp, nbf, iat, created] = &claims;
        let others = nbf.is_some() || iat.is_some() || created.is_some();
        if remember::is_remember_shaped_without_claims(&map, exp.is_some(), others) {
            // A remember-me token is never a session (SECURITY.md JWT-10, the other direction).
            return Err(Rejection::BadPayload);
        }
        // The claims, each read once: what `claims::check_time_claims` checks of a whole map.
        let [exp, nbf, iat] = claims::check_time_claim_values(
            [exp.as_ref(), nbf.as_ref(), iat.as_ref()],
            now,
            self.leeway,
        )?;
        let created = created.as_ref().map(claims::numeric_date).transpose()?;
        let (issued, created) = (iat.map(|t| t as u64), created.map(|t| t as u64));
        if !self.claimless && (issued.is_none() || created.is_none()) {
            return Err(Rejection::Unusable);
        }
        let leeway = self.leeway as f64;
        let deadline = |anchor: Option<u64>, timeout: Option<u64>| match (anchor, timeout) {
            (Some(a), Some(t)) => Some(a.saturating_add(t) as f64),
            _ => None,
        };
        let expires_at = [
            exp.map(|exp| exp + leeway),
            deadline(issued, self.idle_timeout),
            deadline(created, self.absolute_timeout),
        ]
        .into_iter()
        .flatten()
        .reduce(f64::min);
        let valid_from = [nbf, iat]
            .into_iter()
            .flatten()
            .reduce(f64::max)
            .map(|t| t - leeway);
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
            let ours = claim_value(raw.as_bytes()).unwrap();
            assert_eq!(ours, serde_json::from_str::<Value>(raw).unwrap(), "{raw}");
            assert_eq!(
                claims::numeric_date(&ours).ok(),
                claims::numeric_date(&serde_json::from_str(raw).unwrap()).ok()
            );
        }
        for raw in ["", "1e400", "0123", "00", "12a", "+1"] {
            assert!(claim_value(raw.as_bytes()).is_err(), "{raw}");
            assert!(serde_json::from_str::<Value>(raw).is_err(), "{raw}");
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
