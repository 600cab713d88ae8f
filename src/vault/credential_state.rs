//! Holder-held credentials' in-memory state, which the vault holds: the
//! issuer keys, offers, pushed authorization requests, authorization
//! codes, access tokens, nonces and DPoP proof ids (see `credentials` for the
//! flow that uses them). Nothing here knows the vault.
//!
//! Each table is a [`SharedTable`]: a source address (the clerk's for an
//! offer, the wallet's for a nonce or an access token) holds a share of it,
//! so ten thousand nonces asked from one address displace only that
//! address's own, never a real wallet's.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::crypto::jose::PublicKey;
use crate::crypto::IssuerKeys;
use crate::domain::card::CardId;
use crate::vault::shares::{SharedTable, Source};

/// How long an offer may wait for the wallet, in seconds.
pub const OFFER_TTL: i64 = 600;
/// How long an access token and a nonce live, in seconds.
pub const TOKEN_TTL: i64 = 300;
/// Wrong transaction codes before an offer is burnt.
pub(super) const PIN_TRIES: u8 = 3;
/// Offers, access tokens and nonces one source address holds at most: a
/// counter office behind one address makes many offers an hour, a wallet
/// asks a nonce or two per issuance.
const SHARE: usize = 256;
/// Offers, access tokens and nonces held at most, each kind (a flood cannot
/// grow memory): 256 addresses' full shares.
const MAX_PENDING: usize = 65_536;
/// How long a verifier may cache a status list, in seconds.
pub const LIST_TTL: i64 = 300;
/// The credential configuration the vault issues.
pub const CONFIGURATION_ID: &str = "municipal_id";
/// The pre-authorized code grant type.
pub const PRE_AUTHORIZED: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
/// The authorization code grant type.
pub const AUTHORIZATION_CODE: &str = "authorization_code";
/// How long a pushed authorization request waits for the holder to
/// confirm with the clerk's code, in seconds.
pub const REQUEST_TTL: i64 = 600;
/// How long an authorization code waits for the wallet, in seconds.
pub const CODE_TTL: i64 = 120;
/// How long a DPoP proof's `jti` is remembered (beyond the proof's own
/// window of acceptance), in seconds.
pub(super) const JTI_TTL: i64 = 420;

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
    pub(super) tries: u8,
}

pub(super) struct Grant {
    pub(super) pending: Pending,
    /// The JWK thumbprint of the DPoP key the token is bound to (RFC 9449),
    /// if the wallet asked with a DPoP proof.
    pub(super) jkt: Option<String>,
}

/// A pushed authorization request (RFC 9126), waiting for the holder to
/// confirm with the clerk's transaction code.
#[derive(Clone)]
pub(super) struct Pushed {
    /// The offer it redeems (its pre-authorized code's hash).
    pub(super) offer: [u8; 32],
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    /// PKCE's S256 code challenge.
    pub(super) challenge: String,
    pub(super) state: Option<String>,
    pub(super) jkt: Option<String>,
    /// Whether a wallet attestation came with the push.
    pub(super) attested: bool,
}

/// An authorization code, for the wallet that pushed its request.
pub(super) struct Code {
    pub(super) pending: Pending,
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    pub(super) challenge: String,
    pub(super) jkt: Option<String>,
    pub(super) attested: bool,
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

/// The wallet providers' keys, by `kid`.
#[derive(Debug, Default)]
pub struct Providers(Vec<(String, PublicKey)>);

impl Providers {
    /// Reads a JWKS of wallet providers' keys (ES256 or Ed25519, each with
    /// a `kid`).
    ///
    /// # Errors
    /// Not a JWKS, a key without `kid`, or a key the vault cannot use.
    pub fn from_jwks(jwks: &Value) -> Result<Self, String> {
        let keys = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("not a JWKS (no \"keys\" array)")?;
        let mut out = Vec::with_capacity(keys.len());
        for (i, k) in keys.iter().enumerate() {
            let kid = k
                .get("kid")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("key {} has no kid", i + 1))?;
            if k.get("d").is_some() {
                return Err(format!("key {kid} holds a private key"));
            }
            let key = PublicKey::from_jwk(k).map_err(|e| format!("key {kid}: {e}"))?;
            out.push((kid.to_owned(), key));
        }
        if out.is_empty() {
            return Err("the JWKS holds no key".into());
        }
        Ok(Self(out))
    }

    /// Whether any provider is trusted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn key(&self, kid: &str) -> Option<&PublicKey> {
        self.0.iter().find(|(k, _)| k == kid).map(|(_, key)| key)
    }
}

/// The in-memory state of issuance, and the issuer keys.
pub struct Credentials {
    pub issuer: IssuerKeys,
    /// The city PKI's chain for the ES256 issuer key (`[credentials]
    /// certificate_chain`), if configured.
    pub chain: Option<crate::crypto::x5c::CertChain>,
    /// The wallet providers whose attestations the vault trusts.
    pub providers: Providers,
    pub(super) offers: SharedTable<[u8; 32], Offer>,
    pub(super) grants: SharedTable<[u8; 32], Grant>,
    pub(super) nonces: SharedTable<[u8; 32], ()>,
    /// An offer's `issuer_state` (hashed) → its pre-authorized code's hash:
    /// both grants of one offer redeem the same thing, once.
    pub(super) states: SharedTable<[u8; 32], [u8; 32]>,
    pub(super) pushed: SharedTable<[u8; 32], Pushed>,
    pub(super) codes: SharedTable<[u8; 32], Code>,
    /// DPoP proofs' `jti`s seen (hashed): a proof is used once.
    pub(super) jtis: SharedTable<[u8; 32], ()>,
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

impl Credentials {
    #[must_use]
    pub fn new(issuer: IssuerKeys, chain: Option<crate::crypto::x5c::CertChain>, providers: Providers) -> Self {
        Self {
            issuer,
            chain,
            providers,
            offers: SharedTable::new(SHARE, MAX_PENDING),
            grants: SharedTable::new(SHARE, MAX_PENDING),
            nonces: SharedTable::new(SHARE, MAX_PENDING),
            states: SharedTable::new(SHARE, MAX_PENDING),
            pushed: SharedTable::new(SHARE, MAX_PENDING),
            codes: SharedTable::new(SHARE, MAX_PENDING),
            jtis: SharedTable::new(SHARE * 4, MAX_PENDING * 4),
            draw: tokio::sync::Mutex::new(()),
        }
    }

    /// A fresh nonce for a wallet's key proofs (`POST /oid4vci/nonce`),
    /// charged to `source`'s share.
    #[must_use]
    pub fn nonce(&self, source: Source, now: i64) -> String {
        let n = random_secret();
        self.nonces.insert(source, hash(&n), (), now, now + TOKEN_TTL);
        n
    }

    /// Whether `nonce` is live (not used, not expired).
    pub(super) fn nonce_is_live(&self, nonce: &str, now: i64) -> bool {
        self.nonces.contains(&hash(nonce), now)
    }

    /// Uses `nonce` up: whether it was live.
    pub(super) fn take_nonce(&self, nonce: &str, now: i64) -> bool {
        self.nonces.take(&hash(nonce), now).is_some()
    }
}
