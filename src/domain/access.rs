//! The only ways to open cardholder data. Each takes a [`Permit`] and
//! checks that it was issued for its action: reading fields without a
//! Cedar allow cannot be written by accident.

use zeroize::Zeroizing;

use super::card::{CardId, CardRecord, PhotoRecord};
use crate::authz::{Action, Permit};
use crate::crypto::Keyring;
use crate::error::ApiError;

/// Decrypts a holder's photo: data key → sealed photo identity → age file.
///
/// # Errors
/// The permit is for another action, or the record's keys are gone (then
/// the photo is as good as destroyed: 404).
pub fn open_photo(
    permit: &Permit,
    keys: &Keyring,
    card_id: &CardId,
    record: &CardRecord,
    photo: &PhotoRecord,
) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    if !permit.allows(Action::ReadPhoto) {
        return Err(ApiError::Internal {
            detail: "photo opened without a read_photo permit".into(),
        });
    }
    let dek = data_key(keys, card_id, record)?;
    let text = Zeroizing::new(
        dek.open_field(card_id, "photo_key", &record.photo_key)
            .map_err(|_| ApiError::NotFound)?,
    );
    let identity: age::x25519::Identity = std::str::from_utf8(&text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or(ApiError::NotFound)?;
    age::decrypt(&identity, &photo.age_file)
        .map(Zeroizing::new)
        .map_err(|_| ApiError::NotFound)
}

fn data_key(keys: &Keyring, card_id: &CardId, record: &CardRecord) -> Result<crate::crypto::DataKey, ApiError> {
    let kek = keys.kek(&record.dek.kek_id).ok_or(ApiError::NotFound)?;
    crate::crypto::DataKey::unwrap_with(&record.dek, &kek, card_id).map_err(|_| ApiError::NotFound)
}

/// Opens a holder's date of birth, for age facts.
///
/// # Errors
/// The permit is not for a fact query, or the record does not open.
pub fn open_birth_date(
    permit: &Permit,
    keys: &Keyring,
    card_id: &super::card::CardId,
    record: &super::card::CardRecord,
) -> Result<time::Date, ApiError> {
    if !permit.allows(Action::QueryFact) {
        return Err(ApiError::Internal {
            detail: "birth date opened without a query_fact permit".into(),
        });
    }
    let unreadable = || ApiError::Internal {
        detail: "a cardholder record does not open".into(),
    };
    let kek = keys.kek(&record.dek.kek_id).ok_or_else(unreadable)?;
    let dek = crate::crypto::DataKey::unwrap_with(&record.dek, &kek, card_id).map_err(|_| unreadable())?;
    let text = Zeroizing::new(
        dek.open_field(card_id, "birth", &record.birth)
            .map_err(|_| unreadable())?,
    );
    let text = std::str::from_utf8(&text).map_err(|_| unreadable())?;
    time::Date::parse(text, &time::macros::format_description!("[year]-[month]-[day]")).map_err(|_| unreadable())
}
