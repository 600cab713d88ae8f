//! The only ways to open cardholder data. Each takes a [`Permit`] and
//! checks that it was issued for its action: reading fields without a
//! Cedar allow cannot be written by accident.

use zeroize::Zeroizing;

use super::action::Action;
use super::card::{CardId, CardMeta, CardRecord, OpenCard, PhotoRecord};
use super::error::Error;
use super::vocab::Purpose;
use crate::crypto::Keyring;

/// Proof that Cedar allowed `principal` to perform `action` for `purpose`.
/// Only the policy engine makes one; functions that open cardholder data
/// take one and check it is for their action.
#[derive(Debug)]
pub struct Permit {
    action: Action,
    principal: String,
    purpose: Purpose,
    decision_id: String,
}

impl Permit {
    /// Only the policy engine (the `authz` module) makes permits, after an allow.
    pub(crate) fn new(action: Action, principal: String, purpose: Purpose, decision_id: String) -> Self {
        Self {
            action,
            principal,
            purpose,
            decision_id,
        }
    }

    #[must_use]
    pub fn action(&self) -> Action {
        self.action
    }

    #[must_use]
    pub fn principal(&self) -> &str {
        &self.principal
    }

    #[must_use]
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }

    #[must_use]
    pub fn decision_id(&self) -> &str {
        &self.decision_id
    }

    /// True when this permit is for `action`.
    #[must_use]
    pub fn allows(&self, action: Action) -> bool {
        self.action == action
    }
}

/// A holder's photo, opened, with its media type.
pub struct Photo {
    pub bytes: Zeroizing<Vec<u8>>,
    /// `image/png` or `image/jpeg`: enrollment accepts those two only, by
    /// their bytes, so the bytes decide here too.
    pub content_type: &'static str,
}

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
) -> Result<Photo, Error> {
    if ![Action::ReadPhoto, Action::Disclose, Action::PrintCard]
        .into_iter()
        .any(|a| permit.allows(a))
    {
        return Err(Error::Internal {
            detail: "photo opened without a read_photo or disclose permit".into(),
        });
    }
    let dek = data_key(keys, card_id, record)?;
    let text = Zeroizing::new(
        dek.open_field(card_id, "photo_key", &record.photo_key)
            .map_err(|_| Error::NotFound)?,
    );
    let identity: age::x25519::Identity = std::str::from_utf8(&text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or(Error::NotFound)?;
    let bytes = age::decrypt(&identity, &photo.age_file)
        .map(Zeroizing::new)
        .map_err(|_| Error::NotFound)?;
    let content_type = match super::enrollment::sniff(&bytes) {
        Some(super::enrollment::MediaKind::Png) => "image/png",
        _ => "image/jpeg",
    };
    Ok(Photo { bytes, content_type })
}

/// Size classes of the sealed meta: a card with every proof the rules allow
/// still fits the first.
pub const META_CLASSES: &[usize] = &[1024, 4096];
/// Size classes of the sealed fields: ordinary names and addresses of every
/// kind fit the first; only very long text (validation allows 200
/// characters a line) reaches the next.
pub const FIELD_CLASSES: &[usize] = &[1024, 4096, 8192];

/// Opens a record's meta: status, dates, program, clerk, proof commitments.
/// No permit: it holds nothing of the applicant's own fields, and the fact
/// path, the counter and the sweep all need it.
///
/// # Errors
/// The record's keys are gone (404), or the meta does not decode.
pub fn open_card(keys: &Keyring, card_id: &CardId, record: CardRecord) -> Result<OpenCard, Error> {
    let dek = data_key(keys, card_id, &record)?;
    let plain = dek
        .open_padded(card_id, "meta", &record.meta)
        .map_err(|_| Error::NotFound)?;
    let meta: CardMeta = postcard::from_bytes(&plain).map_err(|_| Error::internal("a card's meta does not decode"))?;
    Ok(OpenCard { record, meta })
}

/// Seals a card's meta under its data key, padded.
///
/// # Errors
/// The record's keys are gone.
pub fn seal_meta(keys: &Keyring, card_id: &CardId, record: &CardRecord, meta: &CardMeta) -> Result<Vec<u8>, Error> {
    let dek = data_key(keys, card_id, record)?;
    Ok(seal_meta_with(&dek, card_id, meta))
}

/// Seals a card's meta under `dek`, padded (enrollment, which holds the key).
#[must_use]
pub fn seal_meta_with(dek: &crate::crypto::DataKey, card_id: &CardId, meta: &CardMeta) -> Vec<u8> {
    // A struct of strings, dates and byte arrays always encodes.
    let plain = Zeroizing::new(postcard::to_allocvec(meta).unwrap_or_default());
    dek.seal_padded(card_id, "meta", &plain, META_CLASSES)
}

/// The key that seals the card's list of credential status indices
/// ([`crate::crypto::DataKey::index_key`]). No permit: it opens nothing of
/// the holder's, and issuance, revocation and the sweep all need it.
///
/// # Errors
/// The record's keys are gone (404).
pub fn index_key(keys: &Keyring, card_id: &CardId, record: &CardRecord) -> Result<crate::crypto::IndexKey, Error> {
    Ok(data_key(keys, card_id, record)?.index_key(card_id))
}

fn data_key(keys: &Keyring, card_id: &CardId, record: &CardRecord) -> Result<crate::crypto::DataKey, Error> {
    let kek = keys.kek(&record.dek.kek_id).ok_or(Error::NotFound)?;
    crate::crypto::DataKey::unwrap_with(&record.dek, &kek, card_id).map_err(|_| Error::NotFound)
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
) -> Result<time::Date, Error> {
    if ![
        Action::QueryFact,
        Action::Disclose,
        Action::RenewCard,
        Action::UpdateCard,
        Action::OfferCredential,
        Action::PrintCard,
    ]
    .into_iter()
    .any(|a| permit.allows(a))
    {
        return Err(Error::Internal {
            detail: "birth date opened without a query_fact or disclose permit".into(),
        });
    }
    let unreadable = || Error::Internal {
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
/// a disclosure, for a clerk at the counter, or for a released match fact
/// to compare with (the fact query opens them only with such a permit).
///
/// # Errors
/// The permit is for another action, or the record's keys are gone (404).
pub fn open_fields(
    permit: &Permit,
    keys: &Keyring,
    card_id: &CardId,
    record: &CardRecord,
) -> Result<super::enrollment::SealedFields, Error> {
    if ![
        Action::AccessReport,
        Action::Disclose,
        Action::ListNotices,
        Action::LookupCard,
        Action::QueryFact,
        Action::ReadPrintQueue,
        Action::UpdateCard,
        Action::OfferCredential,
        Action::PrintCard,
    ]
    .into_iter()
    .any(|a| permit.allows(a))
    {
        return Err(Error::Internal {
            detail: "fields opened without a disclose or list_notices permit".into(),
        });
    }
    let dek = data_key(keys, card_id, record)?;
    let text = dek
        .open_padded(card_id, "fields", &record.fields)
        .map_err(|_| Error::NotFound)?;
    serde_json::from_slice(&text).map_err(|_| Error::Internal {
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
) -> Result<Vec<u8>, Error> {
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
) -> Result<Zeroizing<Vec<u8>>, Error> {
    if !permit.allows(Action::ReadLegalRequest) {
        return Err(Error::Internal {
            detail: "legal package opened without a read_legal_request permit".into(),
        });
    }
    let dek = data_key(keys, card_id, record)?;
    dek.open_field(card_id, &format!("legal:{request_id}"), sealed)
        .map(Zeroizing::new)
        .map_err(|_| Error::NotFound)
}

/// Seals `fields` as a record's fields under its data key, padded (an
/// update of the holder's name, address, gender or languages).
///
/// # Errors
/// The permit is not for an update, or the record's keys are gone.
pub fn seal_fields(
    permit: &Permit,
    keys: &Keyring,
    card_id: &CardId,
    record: &CardRecord,
    fields: &super::enrollment::SealedFields,
) -> Result<Vec<u8>, Error> {
    if !permit.allows(Action::UpdateCard) {
        return Err(Error::internal("fields sealed without an update_card permit"));
    }
    let dek = data_key(keys, card_id, record)?;
    let plain = Zeroizing::new(serde_json::to_vec(fields).map_err(|_| Error::internal("field encoding"))?);
    Ok(dek.seal_padded(card_id, "fields", &plain, FIELD_CLASSES))
}

/// A replacement card's record from the one it replaces: a new data key
/// wrapped under the active KEK for the new card id, and the holder's
/// fields (with the new number), birth date, photo identity and `meta`
/// sealed under it. The photo's age file is the same file; the index keys
/// move to the new card.
///
/// # Errors
/// The permit is not for a replacement, or the old record's keys are gone.
pub fn replacement_record(
    permit: &Permit,
    keys: &Keyring,
    old_id: &CardId,
    old: &CardRecord,
    new_id: &CardId,
    new_number: &str,
    meta: &CardMeta,
) -> Result<CardRecord, Error> {
    if !permit.allows(Action::ReplaceCard) {
        return Err(Error::internal("a record copied without a replace_card permit"));
    }
    let old_dek = data_key(keys, old_id, old)?;
    let open = |field: &str, sealed: &[u8]| {
        old_dek
            .open_field(old_id, field, sealed)
            .map(Zeroizing::new)
            .map_err(|_| Error::NotFound)
    };
    let mut fields: super::enrollment::SealedFields = serde_json::from_slice(
        &old_dek
            .open_padded(old_id, "fields", &old.fields)
            .map_err(|_| Error::NotFound)?,
    )
    .map_err(|_| Error::internal("a cardholder record does not decode"))?;
    fields.card_number = Some(new_number.to_owned());
    let plain = Zeroizing::new(serde_json::to_vec(&fields).map_err(|_| Error::internal("field encoding"))?);
    let birth = open("birth", &old.birth)?;
    let photo_key = open("photo_key", &old.photo_key)?;
    let dek = crate::crypto::DataKey::generate();
    let (kek_id, kek) = keys.active_kek();
    Ok(CardRecord {
        dek: dek.wrap(&kek_id, &kek, new_id),
        meta: seal_meta_with(&dek, new_id, meta),
        fields: dek.seal_padded(new_id, "fields", &plain, FIELD_CLASSES),
        birth: dek.seal_field(new_id, "birth", &birth),
        photo_key: dek.seal_field(new_id, "photo_key", &photo_key),
        index: old.index.clone(),
        due: old.due,
    })
}
