//! Holder-held credentials: what an SD-JWT VC of the vault says about a
//! card (only the contract's claims, each disclosable on its own), for how
//! long, and how the status lists are laid out. The encoding is
//! `crypto::sdjwt`'s; issuance is `vault::credentials`'.

use serde_json::{json, Value};
use time::Date;

use super::card::CardMeta;
use super::enrollment::age_on;

/// The credential type (`vct`).
pub const VCT: &str = "urn:civic-vault:municipal-id:1";
/// Credentials per offer: each is presented once, so two verifiers cannot
/// link two presentations by the credential (its signature, its salts,
/// its holder key, its status index).
pub const BATCH: usize = 10;
/// Entries per status list (2^17 ≥ 100 000): an index says little about
/// when a credential was issued, and a list says nothing about whose.
pub const LIST_ENTRIES: u64 = 1 << 17;
/// Bytes of one list's bitstring.
pub const LIST_BYTES: usize = (LIST_ENTRIES / 8) as usize;
/// A new list is opened once this many of the current list's entries are
/// taken, so a random draw finds a free one in a few tries.
pub const LIST_FILL: u64 = LIST_ENTRIES / 2;
/// How long a credential is valid at most, in days (the card's own expiry
/// may end it sooner).
pub const LIFETIME_DAYS: i64 = 365;
const DAY: i64 = 86_400;

/// One status list as stored: its bits (set: revoked) and which entries
/// are taken, each [`LIST_BYTES`] long, entry 0 in the low bit of byte 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListBits {
    pub bits: Vec<u8>,
    pub taken: Vec<u8>,
}

/// The disclosable claims of a valid card's credential: `resident` (every
/// program requires proof of residency, as for the `resident` fact),
/// `age_over_N` for each configured threshold, `program`.
#[must_use]
pub fn claims(meta: &CardMeta, birth: Date, today: Date, thresholds: &[u32]) -> Vec<(String, Value)> {
    let age = age_on(birth, today);
    let mut out = vec![("resident".to_owned(), json!(true))];
    for n in thresholds {
        out.push((
            format!("age_over_{n}"),
            json!(age >= i32::try_from(*n).unwrap_or(i32::MAX)),
        ));
    }
    out.push(("program".to_owned(), json!(meta.program)));
    out
}

/// `iat` and `exp` of a credential issued at `now`, both at midnight UTC
/// (a credential's times say only its day): from today to at most
/// [`LIFETIME_DAYS`] later, and not past the day after the card expires.
/// `None` when that leaves nothing (the card expires today or earlier).
#[must_use]
pub fn validity(now: i64, expires_on: Option<Date>) -> Option<(i64, i64)> {
    let iat = now - now.rem_euclid(DAY);
    let mut exp = iat + LIFETIME_DAYS * DAY;
    if let Some(last) = expires_on {
        let end = last.next_day()?.midnight().assume_utc().unix_timestamp();
        exp = exp.min(end);
    }
    (exp > now).then_some((iat, exp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn times_are_days() {
        let now = date!(2026 - 03 - 04).midnight().assume_utc().unix_timestamp() + 45_678;
        let (iat, exp) = validity(now, None).unwrap();
        assert_eq!(iat % DAY, 0);
        assert_eq!(exp - iat, LIFETIME_DAYS * DAY);
        let (_, exp) = validity(now, Some(date!(2026 - 06 - 30))).unwrap();
        assert_eq!(exp, date!(2026 - 07 - 01).midnight().assume_utc().unix_timestamp());
        assert_eq!(validity(now, Some(date!(2026 - 03 - 03))), None);
    }
}
