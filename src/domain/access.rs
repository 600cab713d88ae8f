//! The only ways to open cardholder data. Each takes a [`Permit`] and
//! checks that it was issued for its action: reading fields without a
//! Cedar allow cannot be written by accident.

use zeroize::Zeroizing;

use super::card::PhotoRecord;
use crate::authz::{Action, Permit};
use crate::crypto::Keyring;
use crate::error::ApiError;

/// Decrypts a holder's photo.
///
/// # Errors
/// The permit is for another action, or the photo's key is gone.
pub fn open_photo(permit: &Permit, keys: &Keyring, photo: &PhotoRecord) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    if !permit.allows(Action::ReadPhoto) {
        return Err(ApiError::Internal {
            detail: "photo opened without a read_photo permit".into(),
        });
    }
    keys.photo
        .decrypt(&photo.key_id, &photo.age_file)
        .ok_or(ApiError::NotFound)
}
