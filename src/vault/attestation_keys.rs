//! The attestation key as the running vault holds it: the signer every
//! fact answer uses, the keys published to verify them, and rotation
//! (`POST /v1/keys/attestation/rotate`, `civic-vault keys rotate-attestation`).

use std::sync::{Arc, PoisonError};

use serde_json::{json, Value};

use crate::crypto::Attestor;
use crate::domain::error::Error;
use crate::vault::Vault;

/// What a rotation did.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AttestationRotation {
    /// The key that signs attestations from now on.
    pub kid: String,
    /// The key rotated out: its seed destroyed, its public key published
    /// until `retired_published_until`.
    pub retired_kid: String,
    /// RFC 3339: when the last attestation the retired key signed expires
    /// and its public key leaves the JWKS.
    pub retired_published_until: String,
}

/// How long past an attestation's lifetime a retired key stays published
/// (clock differences between the vault and its verifiers).
const SKEW_SECS: i64 = 60;

impl Vault {
    /// The signer of fact attestations now.
    #[must_use]
    pub fn attestor(&self) -> Arc<Attestor> {
        self.attestor.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Takes the keyring's active attestation key into the signer, when it
    /// changed (after a rotation here, or another node's manifest).
    pub fn refresh_attestor(&self) {
        let (id, seed) = self.keys.attestation();
        let mut signer = self.attestor.write().unwrap_or_else(PoisonError::into_inner);
        if signer.kid() != id {
            *signer = Arc::new(Attestor::new(id, &seed));
        }
    }

    /// The JWKs that verify attestations: the active key, then each retired
    /// key whose attestations may still be met.
    #[must_use]
    pub fn attestation_jwks(&self) -> Vec<Value> {
        let now = self.clock.now().unix_timestamp();
        let mut keys = vec![self.attestor().jwk()];
        keys.extend(
            self.keys
                .retired_attestations(now)
                .into_iter()
                .map(|r| json!({"kty": "OKP", "crv": "Ed25519", "x": r.x, "kid": r.id, "alg": "EdDSA", "use": "sig"})),
        );
        keys
    }

    /// Replaces the attestation key now: a new key signs from the next
    /// answer on, the old seed is destroyed, and its public key stays in
    /// the JWKS for the attestations' lifetime (`[facts] attestation_ttl`)
    /// and a minute. On a cluster the new key and `keyring.toml` travel to
    /// every node, which take the key when they arrive.
    ///
    /// # Errors
    /// A key file or the manifest cannot be written (503; the keyring is
    /// left as the error says: the new key active once its manifest is
    /// written).
    pub async fn rotate_attestation(self: &Arc<Self>) -> Result<AttestationRotation, Error> {
        let v = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let now = v.clock.now().unix_timestamp();
            let ttl = i64::try_from(v.config.facts.attestation_ttl.as_secs()).unwrap_or(i64::MAX);
            let retired = v
                .keys
                .rotate_attestation(now, ttl.saturating_add(SKEW_SECS))
                .map_err(|e| Error::unavailable(format!("attestation key rotation: {e}")))?;
            v.refresh_attestor();
            let until = time::OffsetDateTime::from_unix_timestamp(retired.until)
                .ok()
                .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                .unwrap_or_default();
            tracing::info!(kid = %v.attestor().kid(), retired = %retired.id, "attestation key rotated");
            Ok(AttestationRotation {
                kid: v.attestor().kid().to_owned(),
                retired_kid: retired.id,
                retired_published_until: until,
            })
        })
        .await
        .map_err(|_| Error::internal("the attestation key rotation stopped"))?
    }
}
