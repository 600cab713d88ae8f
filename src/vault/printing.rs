//! The printed card: the holder's fields, photo and a seal anyone can
//! check offline (`crypto::card_seal`), drawn as a PDF (`print`).
//!
//! Each print draws a status index of its own from the credentials' status
//! lists and records it as the card's, as an issuance does: revoking,
//! replacing or erasing the card sets its bit, so a verifier with a fresh
//! list sees the printed card revoked. A card that is not valid now is not
//! printed (404, as for any card not held).

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::crypto::card_seal::{self, Printed};
use crate::crypto::jose::Alg;
use crate::domain::access::{open_birth_date, open_fields, open_photo, Permit};
use crate::domain::card::CardId;
use crate::domain::enrollment::Address;
use crate::domain::error::Error;
use crate::domain::store::Store as _;
use crate::print::{card_pdf, Face};
use crate::vault::credentials::{issuer_url, status_ref};
use crate::vault::Vault;

/// The card `card_id` (printed number `number`) as a print-ready PDF with
/// its seal, opened through `permit` (`print_card`).
///
/// # Errors
/// The card is not valid now (404), its record does not open, storage
/// fails, or the card could not be drawn.
pub async fn print(v: &Arc<Vault>, permit: &Permit, card_id: CardId, number: &str) -> Result<Vec<u8>, Error> {
    let now = v.clock.now();
    let card = v.card(card_id).await?.ok_or(Error::NotFound)?;
    if !card.is_valid_on(now.date()) {
        return Err(Error::NotFound);
    }
    let stored = v.read(move |v| v.store.photo(&card_id)).await?.ok_or(Error::NotFound)?;
    let fields = open_fields(permit, &v.keys, &card_id, &card.record)?;
    let birth = open_birth_date(permit, &v.keys, &card_id, &card.record)?;
    let photo = open_photo(permit, &v.keys, &card_id, &card.record, &stored)?;
    // One status index for this print, taken as the card's (its sealed
    // indices), only while the card is still valid.
    let index = {
        let _guard = v.credentials.draw.lock().await;
        let drawn: Vec<u64> = v.read(|v| crate::vault::credentials::draw(v, 1)).await?;
        crate::vault::credential_indices::take(v, card_id, &drawn, &[]).await?;
        drawn.first().copied().ok_or(Error::NotFound)?
    };
    let signer = v
        .credentials
        .issuer
        .active(Alg::Es256)
        .map_err(|e| Error::internal(e.to_string()))?;
    let day = |d: time::Date| d.to_string();
    let expires = card.expires_on.map(|d| {
        let end = d.with_hms(23, 59, 59).map_or(0, |t| t.assume_utc().unix_timestamp());
        (day(d), end)
    });
    let address = fields.address.as_ref().and_then(Address::printed_lines);
    let printed = Printed {
        issuer: issuer_url(v),
        program: v.program.title.clone(),
        number: number.to_owned(),
        name: fields.full_name.clone(),
        birth_date: day(birth),
        issued: day(card.issued_on),
        expires: expires.clone(),
        address: address.clone(),
        photo_sha256: Sha256::digest(&*photo.bytes).into(),
        status: status_ref(v, index),
        iat: now.unix_timestamp(),
    };
    let seal = card_seal::seal(&signer, &printed).map_err(|e| Error::internal(e.to_string()))?;
    let verify_url = format!("{}/verify/", issuer_url(v));
    let number = number.to_owned();
    // Drawing is CPU work (shaping, subsetting, compression): off the
    // runtime's threads.
    let pdf = tokio::task::spawn_blocking(move || {
        let face = Face {
            program: &printed.program,
            number: &number,
            name: &printed.name,
            birth_date: &printed.birth_date,
            issued: &printed.issued,
            expires: expires.as_ref().map(|(d, _)| d.as_str()),
            address: address.as_deref(),
            photo: &photo.bytes,
            photo_type: photo.content_type,
            seal: &seal,
            verify_url: &verify_url,
        };
        card_pdf(&face)
    })
    .await
    .map_err(|e| Error::internal(e.to_string()))?;
    pdf.map_err(|e| match e {
        // The enrolled photo's header passed, its pixels do not decode: the
        // clerk retakes it (update) before printing.
        crate::print::PrintError::Photo => Error::InvalidRequest(
            "photo: the card's photo does not decode as an image; take a new one (update) and print again".into(),
        ),
        e => Error::internal(e.to_string()),
    })
}
