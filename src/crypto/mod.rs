//! All cryptography lives here: the keyring on disk, authenticated encryption
//! of applicant fields under per-cardholder data keys, age files for photos,
//! keyed hashes (the blind index and audit subjects), bearer tokens.
//!
//! Nothing outside this module touches key bytes.

mod aead;
mod attest;
mod blind;
pub mod card_seal;
mod issuer_keys;
pub mod jose;
mod key_files;
mod keyring;
pub mod note;
mod scan_keys;
pub mod sdjwt;
pub mod seal;
mod secret;
pub mod status_cwt;
mod token;
pub mod x5c;

pub use aead::{open, seal, AeadError, DataKey, IndexKey, WrappedKey};
pub use attest::Attestor;
pub use blind::{BlindIndex, Commitment, CommitmentCost, SubjectHasher};
pub use issuer_keys::{created_of_file as issuer_created_of_file, IssuerKeys};
pub(crate) use key_files::read_secret_bytes;
pub use key_files::{write_secret_file, KeyObserver};
pub use keyring::{check_received_manifest, KeyError, Keyring, MANIFEST};
pub use scan_keys::{EpochId, HoldKeys, ScanKeys};
pub use seal::KeyFiles;
pub use secret::Secret32;
pub use token::{new_token, token_hash, TokenHash};
