//! Cards and what is stored about each holder.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::crypto::{Commitment, WrappedKey};

/// Crockford base32: no I, L, O or U, so a number read aloud or copied by
/// hand survives.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A card number: 80 random bits as `XXXX-XXXX-XXXX-XXXX`. Random rather
/// than sequential so that nobody can walk the card space.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber(String);

impl std::fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardNumber(***)")
    }
}

impl CardNumber {
    #[must_use]
    pub fn generate() -> Self {
        let mut bytes = [0u8; 10];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let mut bits: u128 = 0;
        for b in bytes {
            bits = (bits << 8) | u128::from(b);
        }
        let mut out = String::with_capacity(19);
        for i in 0..16 {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            let shift = 75 - 5 * i;
            out.push(char::from(ALPHABET[((bits >> shift) & 31) as usize]));
        }
        Self(out)
    }

    /// Accepts a presented number in any case, with or without dashes or
    /// spaces. Returns `None` when it cannot be a card number at all.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() > 40 {
            return None;
        }
        let mut symbols = Vec::with_capacity(16);
        for c in s.chars() {
            match c {
                '-' | ' ' => {}
                c if c.is_ascii_alphanumeric() => {
                    let u = match c.to_ascii_uppercase() {
                        'O' => '0',
                        'I' | 'L' => '1',
                        u => u,
                    };
                    if !ALPHABET.contains(&(u as u8)) {
                        return None;
                    }
                    symbols.push(u);
                }
                _ => return None,
            }
        }
        if symbols.len() != 16 {
            return None;
        }
        let mut out = String::with_capacity(19);
        for (i, c) in symbols.into_iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            out.push(c);
        }
        Some(Self(out))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The storage key of a card: a keyed hash of its number.
pub type CardId = [u8; 32];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    Lost,
    Stolen,
    Fraud,
    HolderRequest,
}

/// Why a card was replaced by a new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplacementReason {
    Lost,
    Stolen,
    Damaged,
    NotReceived,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CardStatus {
    Active,
    Revoked {
        reason: RevocationReason,
        at: i64,
    },
    /// The holder asked for erasure; the retention sweep destroys the record.
    ErasureRequested {
        at: i64,
    },
    /// A new card replaced this one (its number is in the meta); this
    /// number answers `card_valid: false` from then on.
    Replaced {
        reason: ReplacementReason,
        at: i64,
    },
}

impl CardStatus {
    /// The word the counter and reports use.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked { .. } => "revoked",
            Self::ErasureRequested { .. } => "erasure_requested",
            Self::Replaced { .. } => "replaced",
        }
    }
}

/// How the holder gets the card.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    #[default]
    Mail,
    Pickup,
}

/// Where the card is between the printer and the holder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    pub printed_at: Option<i64>,
    pub picked_up_at: Option<i64>,
}

/// What the vault keeps about a card besides the holder's fields, sealed
/// under the card's data key (`CardRecord::meta`). A stolen data directory
/// shows none of it: not the status or its reason, not the dates, not the
/// clerk, not the program, not how many documents were presented.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardMeta {
    pub program: String,
    /// The rules version met: the program profile's digest.
    pub rules: String,
    pub status: CardStatus,
    pub issued_on: Date,
    /// `None`: the card does not expire (a profile's age band may say so).
    pub expires_on: Option<Date>,
    pub enrolled_at: i64,
    /// The clerk who enrolled the holder.
    pub clerk: String,
    /// Every proof's document commitment, in the order presented; nothing
    /// else about a proof survives enrollment.
    pub proofs: Vec<Commitment>,
    /// Which of them proved identity: the card's real index keys (the
    /// record's index adds decoys, and only this says which are which).
    pub identity: Vec<Commitment>,
    pub delivery: Delivery,
    pub counter: Counter,
    /// The category only, never the evidence.
    pub fee_waiver: Option<crate::domain::program::FeeWaiver>,
    /// Up to two BCP 47 tags (`ase`: American Sign Language).
    pub languages: Vec<String>,
    /// Enrolled with a caretaker (a minor); the relationship is in the fields.
    pub caretaker: bool,
    /// The number of the card this one replaced, and of the one that
    /// replaced it (lineage, sealed like the rest).
    pub replaces: Option<String>,
    pub replaced_by: Option<String>,
    /// When the card was renewed, oldest first.
    pub renewed_at: Vec<i64>,
}

impl CardMeta {
    /// Valid on `today`: active and not past its expiry date.
    #[must_use]
    pub fn is_valid_on(&self, today: Date) -> bool {
        matches!(self.status, CardStatus::Active) && self.expires_on.is_none_or(|e| today <= e)
    }

    /// When the record is due for destruction, given the inactive-cardholder
    /// window: at an erasure request; the window after revocation; the window
    /// after the card's last valid day (never, for a card that does not expire).
    #[must_use]
    pub fn due_at(&self, inactive_window_secs: i64) -> i64 {
        match self.status {
            CardStatus::ErasureRequested { at } => at,
            CardStatus::Revoked { at, .. } | CardStatus::Replaced { at, .. } => at.saturating_add(inactive_window_secs),
            CardStatus::Active => self.expires_on.and_then(Date::next_day).map_or(i64::MAX, |d| {
                d.midnight()
                    .assume_utc()
                    .unix_timestamp()
                    .saturating_add(inactive_window_secs)
            }),
        }
    }
}

impl CardMeta {
    /// When the sweep is next to look at the record: when it falls due, but
    /// never more than `inactive_window_secs` after `now`. Every record's
    /// entry is then within one window ahead, moved on by the sweep while
    /// the record is not due, so the due index does not tell an active card
    /// (due years away) from a revoked one (due within a window).
    #[must_use]
    pub fn index_due(&self, now: i64, inactive_window_secs: i64) -> i64 {
        self.due_at(inactive_window_secs)
            .min(now.saturating_add(inactive_window_secs))
    }
}

/// A cardholder's stored record. Everything about the holder and the card
/// is sealed under the holder's data key, each blob padded to a size class
/// so its length says nothing; what stays in the clear is only what the
/// store itself must read: the wrapped data key (and which KEK wraps it)
/// and the index keys of the identity documents (padded with decoys to a
/// fixed count), which duplicate detection needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardRecord {
    pub dek: WrappedKey,
    /// Sealed [`CardMeta`].
    pub meta: Vec<u8>,
    /// Sealed JSON of name, address, gender and card number.
    pub fields: Vec<u8>,
    /// Sealed `YYYY-MM-DD`, on its own so an age fact opens only that.
    pub birth: Vec<u8>,
    /// Sealed age X25519 identity that opens this card's photo.
    pub photo_key: Vec<u8>,
    /// Index keys: the commitments of the documents that proved identity
    /// (they may not back a second valid card), then random decoys, always
    /// [`INDEX_SLOTS`] of them (more only if more documents proved identity).
    pub index: Vec<Commitment>,
    /// This record's one entry in the due index (see [`CardMeta::index_due`]),
    /// so a change of it replaces the entry instead of adding one.
    pub due: i64,
}

/// Index keys every card has, real or decoy, so the count says nothing.
pub const INDEX_SLOTS: usize = 4;

/// A record with its meta opened: what the fact path, the counter and the
/// sweep read. Held in memory only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenCard {
    pub record: CardRecord,
    pub meta: CardMeta,
}

impl std::ops::Deref for OpenCard {
    type Target = CardMeta;
    fn deref(&self) -> &CardMeta {
        &self.meta
    }
}

/// The photo as stored: an age file and the id of the key it was written to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoRecord {
    pub key_id: String,
    pub age_file: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_tolerate_how_people_type_them() {
        let n = CardNumber::generate();
        assert_eq!(n.as_str().len(), 19);
        assert_eq!(CardNumber::parse(n.as_str()), Some(n.clone()));
        let sloppy = n.as_str().replace('-', " ").to_lowercase();
        assert_eq!(CardNumber::parse(&sloppy), Some(n));
        assert_eq!(CardNumber::parse("not-a-card"), None);
        assert_eq!(CardNumber::parse("UUUU-UUUU-UUUU-UUUU"), None);
    }
}
