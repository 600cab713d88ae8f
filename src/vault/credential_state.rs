//! Holder-held credentials' in-memory state, which the vault holds: the
//! issuer keys, offers, access tokens and nonces (see `credentials` for the
//! flow that uses them). Nothing here knows the vault.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::crypto::IssuerKeys;
use crate::domain::card::CardId;

/// How long an offer may wait for the wallet, in seconds.
pub const OFFER_TTL: i64 = 600;
/// How long an access token and a nonce live, in seconds.
pub const TOKEN_TTL: i64 = 300;
/// Wrong transaction codes before an offer is burnt.
pub(super) const PIN_TRIES: u8 = 3;
/// Offers and tokens held at most (a flood of offers cannot grow memory).
pub(super) const MAX_PENDING: usize = 10_000;
/// How long a verifier may cache a status list, in seconds.
pub const LIST_TTL: i64 = 300;
/// The credential configuration the vault issues.
pub const CONFIGURATION_ID: &str = "municipal_id";
/// The pre-authorized code grant type.
pub const PRE_AUTHORIZED: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";

/// What an offer will issue, decided when the clerk made it.
#[derive(Clone)]
pub(super) struct Pending {
    pub(super) card_id: CardId,
    /// The card's audit subject (keyed hash), for the redemption's entry.
    pub(super) subject: String,
    pub(super) claims: Vec<(String, Value)>,
    pub(super) iat: i64,
    pub(super) exp: i64,
}

pub(super) struct Offer {
    pub(super) pending: Pending,
    pub(super) pin: String,
    pub(super) expires_at: i64,
    pub(super) tries: u8,
}

pub(super) struct Grant {
    pub(super) pending: Pending,
    pub(super) expires_at: i64,
}

/// Why a wallet's request was refused: the OAuth / OpenID4VCI error code
/// and a description with nothing about the holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletError {
    pub status: u16,
    pub code: &'static str,
    pub description: &'static str,
}

pub(super) const fn refuse(status: u16, code: &'static str, description: &'static str) -> WalletError {
    WalletError {
        status,
        code,
        description,
    }
}

/// The in-memory state of issuance, and the issuer keys.
pub struct Credentials {
    pub issuer: IssuerKeys,
    pub(super) offers: Mutex<HashMap<[u8; 32], Offer>>,
    pub(super) grants: Mutex<HashMap<[u8; 32], Grant>>,
    pub(super) nonces: Mutex<HashMap<[u8; 32], i64>>,
    /// One issuance at a time draws status indices.
    pub(super) draw: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

pub(super) fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

pub(super) fn random_secret() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Credentials {
    #[must_use]
    pub fn new(issuer: IssuerKeys) -> Self {
        Self {
            issuer,
            offers: Mutex::new(HashMap::new()),
            grants: Mutex::new(HashMap::new()),
            nonces: Mutex::new(HashMap::new()),
            draw: tokio::sync::Mutex::new(()),
        }
    }

    /// A fresh nonce for a wallet's key proofs (`POST /oid4vci/nonce`).
    ///
    /// # Errors
    /// Too many nonces outstanding.
    pub fn nonce(&self, now: i64) -> Result<String, WalletError> {
        let mut nonces = lock(&self.nonces);
        nonces.retain(|_, exp| *exp > now);
        if nonces.len() >= MAX_PENDING {
            return Err(refuse(503, "temporarily_unavailable", "too many nonces outstanding"));
        }
        let n = random_secret();
        nonces.insert(hash(&n), now + TOKEN_TTL);
        Ok(n)
    }

    pub(super) fn take_nonce(&self, nonce: &str, now: i64) -> bool {
        lock(&self.nonces).remove(&hash(nonce)).is_some_and(|exp| exp > now)
    }
}
