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
    if !(permit.allows(Action::ReadPhoto) || permit.allows(Action::Disclose)) {
        return Err(ApiError::Internal {
            detail: "photo opened without a read_photo or disclose permit".into(),
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
    if !(permit.allows(Action::QueryFact) || permit.allows(Action::Disclose)) {
        return Err(ApiError::Internal {
            detail: "birth date opened without a query_fact or disclose permit".into(),
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

/// Opens a holder's sealed fields (name, address, gender, card number) for
/// a disclosure or for a clerk sending a cardholder notice.
///
/// # Errors
/// The permit is for another action, or the record's keys are gone (404).
pub fn open_fields(
    permit: &Permit,
    keys: &Keyring,
    card_id: &CardId,
    record: &CardRecord,
) -> Result<super::enrollment::SealedFields, ApiError> {
    if !(permit.allows(Action::Disclose) || permit.allows(Action::ListNotices)) {
        return Err(ApiError::Internal {
            detail: "fields opened without a disclose or list_notices permit".into(),
        });
    }
    let dek = data_key(keys, card_id, record)?;
    let text = Zeroizing::new(
        dek.open_field(card_id, "fields", &record.fields)
            .map_err(|_| ApiError::NotFound)?,
    );
    serde_json::from_slice(&text).map_err(|_| ApiError::Internal {
        detail: "a cardholder record does not decode".into(),
    })
}

/// Seals a legal answer's package under the card's data key, so that it is
/// destroyed with the cardholder record.
///
/// # Errors
/// The record's keys are gone.
pub fn seal_package(
    keys: &Keyring,
    card_id: &CardId,
    record: &CardRecord,
    request_id: &str,
    package: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let dek = data_key(keys, card_id, record)?;
    Ok(dek.seal_field(card_id, &format!("legal:{request_id}"), package))
}

/// Opens a stored legal package for someone allowed to read past answers.
///
/// # Errors
/// The permit is for another action, or the record or its keys are gone
/// (then the package was destroyed with the cardholder record: 404).
pub fn open_package(
    permit: &Permit,
    keys: &Keyring,
    card_id: &CardId,
    record: &CardRecord,
    request_id: &str,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    if !permit.allows(Action::ReadLegalRequest) {
        return Err(ApiError::Internal {
            detail: "legal package opened without a read_legal_request permit".into(),
        });
    }
    let dek = data_key(keys, card_id, record)?;
    dek.open_field(card_id, &format!("legal:{request_id}"), sealed)
        .map(Zeroizing::new)
        .map_err(|_| ApiError::NotFound)
}
