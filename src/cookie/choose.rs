//! Choosing one cookie among several of the same name.
//!
//! A browser sends one cookie per (name, domain, path), so a request can carry several with the
//! session's name: this host's, and others tossed from a sibling subdomain or set on a longer
//! path. Exactly one distinct valid value is used; none, several that disagree, or more than
//! [`MAX_CANDIDATES`](super::parse::MAX_CANDIDATES) mean none (SECURITY.md IN-02).

use super::parse::MAX_CANDIDATES;
use crate::token::Rejection;

/// What the candidates of one cookie name came to.
#[derive(Debug)]
pub(crate) enum Choice<T> {
    /// No candidate verified (or none was sent).
    None {
        /// Exactly one was sent and it was refused as not authentic: the caller may delete it.
        /// With several, a removal would hit this host's cookie and leave a tossed one in place;
        /// one that is authentic but unusable or not yet valid ([`Rejection::is_authentic`]) is a
        /// key holder's and stays.
        delete: bool,
        /// Some candidate was authentic but unusable or not yet valid.
        authentic: bool,
    },
    /// Every candidate that verified says the same.
    One(T),
    /// Valid candidates disagree: a cookie was tossed, and which one is ours cannot be known.
    Conflict,
    /// More candidates than a browser would send.
    TooMany,
}

/// Opens every candidate with `open`, and keeps a value only when every one that opened is the
/// `same` as the first. `what` names the cookie in the debug events.
pub(crate) fn choose<T>(
    what: &str,
    candidates: &[impl AsRef<str>],
    mut open: impl FnMut(&str) -> Result<T, Rejection>,
    same: impl Fn(&T, &T) -> bool,
) -> Choice<T> {
    if candidates.len() > MAX_CANDIDATES {
        tracing::debug!("too many {what} cookies; {what} ignored");
        return Choice::TooMany;
    }
    let mut found: Option<T> = None;
    let mut authentic = false;
    for candidate in candidates {
        match open(candidate.as_ref()) {
            Ok(value) => match &found {
                Some(seen) if !same(seen, &value) => {
                    tracing::debug!("conflicting {what} cookies; {what} ignored");
                    return Choice::Conflict;
                }
                Some(_) => {}
                None => found = Some(value),
            },
            Err(rejection) => {
                authentic |= rejection.is_authentic();
                tracing::debug!(reason = rejection.class(), "{what} cookie rejected");
            }
        }
    }
    match found {
        Some(value) => Choice::One(value),
        None => Choice::None {
            delete: candidates.len() == 1 && !authentic,
            authentic,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(candidates: &[&str]) -> Choice<u8> {
        let candidates: Vec<Box<str>> = candidates.iter().map(|&c| c.into()).collect();
        let open = |c: &str| match c {
            "unusable" => Err(Rejection::Unusable),
            "early" => Err(Rejection::NotYetValid),
            "expired" => Err(Rejection::Expired),
            c => c.parse::<u8>().map_err(|_| Rejection::BadSignature),
        };
        choose("test", &candidates, open, |a, b| a == b)
    }

    #[test]
    fn in_02_one_distinct_valid_value_or_none() {
        assert!(matches!(run(&[]), Choice::None { delete: false, .. }));
        assert!(matches!(run(&["x"]), Choice::None { delete: true, .. }));
        assert!(matches!(
            run(&["x", "y"]),
            Choice::None { delete: false, .. }
        ));
        assert!(matches!(
            run(&["unusable"]),
            Choice::None {
                delete: false,
                authentic: true
            }
        ));
        // Not yet valid: a key holder's, by a clock ahead of ours; kept. Expired: deleted.
        assert!(matches!(
            run(&["early"]),
            Choice::None {
                delete: false,
                authentic: true
            }
        ));
        assert!(matches!(
            run(&["expired"]),
            Choice::None {
                delete: true,
                authentic: false
            }
        ));
        assert!(matches!(run(&["7"]), Choice::One(7)));
        assert!(matches!(run(&["x", "7", "7"]), Choice::One(7)));
        assert!(matches!(run(&["7", "8"]), Choice::Conflict));
        assert!(matches!(run(&["7", "7", "7", "7", "7"]), Choice::TooMany));
    }
}
