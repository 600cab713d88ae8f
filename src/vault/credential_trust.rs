//! What the vault trusts and shows about its issuance beyond its own
//! keys, read from `[credentials]` at start: a city PKI's certificate
//! chain for the ES256 issuer key (`x5c`), and the wallet providers whose
//! wallet attestations it accepts.

use serde_json::Value;

use crate::crypto::jose::{Alg, IssuerSigner};
use crate::crypto::x5c::CertChain;
use crate::vault::Vault;

/// The chain that rides on what `signer` signs at `now`: the city's, when
/// its leaf certifies that key and is in date.
pub(super) fn chain_for<'a>(v: &'a Vault, signer: &IssuerSigner, now: i64) -> Option<&'a CertChain> {
    v.credentials
        .chain
        .as_ref()
        .filter(|c| c.certifies(&signer.public(), now))
}

/// The `[credentials] certificate_chain`, read and checked against the
/// active ES256 issuer key, or `None` when none is configured.
///
/// # Errors
/// The file does not read as certificates, or its leaf does not certify
/// the active ES256 issuer key at `now` (a message saying how to mend it).
pub fn certificate_chain(
    config: &crate::config::Config,
    issuer: &crate::crypto::IssuerKeys,
    now: i64,
) -> Result<Option<CertChain>, String> {
    let Some(path) = &config.credentials.certificate_chain else {
        return Ok(None);
    };
    let what = format!("[credentials] certificate_chain {}", path.display());
    let pem = std::fs::read(path).map_err(|e| format!("{what}: {}", e.kind()))?;
    let chain = CertChain::from_pem(&pem).map_err(|e| format!("{what}: {e}"))?;
    let key = issuer.active(Alg::Es256).map_err(|e| format!("{what}: {e}"))?;
    if !chain.certifies(&key.public(), now) {
        return Err(format!(
            "{what}: its first certificate does not certify the active ES256 issuer key {} or is out of date; \
             have the city CA certify the key `civic-vault credential issuer-key --jwks` prints from \
             /.well-known/jwt-vc-issuer (start without certificate_chain to fetch it)",
            key.kid()
        ));
    }
    Ok(Some(chain))
}

/// The wallet providers of `[credentials] wallet_attestation_keys` (none
/// when unset).
///
/// # Errors
/// The file does not read as a JWKS of keys the vault can use, or
/// `require_wallet_attestation` is set without it.
pub fn wallet_providers(config: &crate::config::Config) -> Result<crate::vault::credential_state::Providers, String> {
    let c = &config.credentials;
    let Some(path) = &c.wallet_attestation_keys else {
        if c.require_wallet_attestation {
            return Err("[credentials] require_wallet_attestation needs wallet_attestation_keys".into());
        }
        return Ok(crate::vault::credential_state::Providers::default());
    };
    let what = format!("[credentials] wallet_attestation_keys {}", path.display());
    let text = std::fs::read(path).map_err(|e| format!("{what}: {}", e.kind()))?;
    let jwks: Value = serde_json::from_slice(&text).map_err(|e| format!("{what}: not JSON ({e})"))?;
    crate::vault::credential_state::Providers::from_jwks(&jwks).map_err(|e| format!("{what}: {e}"))
}
