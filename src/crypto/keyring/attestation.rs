//! Rotating the attestation key: a new Ed25519 key signs fact attestations
//! from now on, the old seed is destroyed at once (it signs nothing more),
//! and its public key stays in `keyring.toml` — and so in the published
//! JWKS — until the last attestation it signed has expired.
//!
//! On a cluster the new key file travels first and `keyring.toml` after it
//! (`cluster::wire::Kind::Attestation`, then the manifest); a node adopts the
//! new key when the manifest naming it arrives, and destroys its own copy of
//! the old seed then.

use std::sync::{Arc, PoisonError};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use zeroize::Zeroizing;

use super::{new_id, read_key32, write_manifest, KeyError, Keyring, Manifest, RetiredAttestation, MANIFEST};
use crate::crypto::Secret32;

impl Keyring {
    /// Makes a new attestation key active and retires the old one: its seed
    /// destroyed, its public key kept published until `now + keep_for`
    /// (the attestations' lifetime, so every one it signed still verifies).
    /// Retired keys past their time are dropped from the manifest here.
    ///
    /// # Errors
    /// The new key, the manifest or the old key's destruction cannot be
    /// written. The new key is active once the manifest is written; a
    /// failed destruction leaves the old seed's file to `finish_shredding`
    /// at the next start.
    pub fn rotate_attestation(&self, now: i64, keep_for: i64) -> Result<RetiredAttestation, KeyError> {
        let mut manifest = self.manifest.lock().unwrap_or_else(PoisonError::into_inner);
        let (old_id, old_seed) = self.attestation();
        let id = new_id("attest");
        let key = Secret32::random();
        let encoded = Zeroizing::new(STANDARD.encode(key.expose()));
        self.files.write(&format!("{id}.key"), encoded.as_bytes())?;
        let retired = RetiredAttestation {
            id: old_id.clone(),
            x: public_x(&old_seed),
            until: now.saturating_add(keep_for),
        };
        let mut next = manifest.clone();
        if next.attestation_first.is_none() {
            next.attestation_first = Some(old_id.clone());
        }
        next.attestation.clone_from(&id);
        next.attestation_retired.retain(|r| r.until > now);
        next.attestation_retired.push(retired.clone());
        write_manifest(&self.dir, &next)?;
        self.files.notify(MANIFEST);
        *manifest = next;
        *self.attestation.write().unwrap_or_else(PoisonError::into_inner) = (id, Arc::new(key));
        drop(manifest);
        self.files.shred(&format!("{old_id}.key"))?;
        Ok(retired)
    }

    /// Retired attestation keys whose attestations may still be met at
    /// `now` (to publish beside the active one).
    #[must_use]
    pub fn retired_attestations(&self, now: i64) -> Vec<RetiredAttestation> {
        self.manifest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .attestation_retired
            .iter()
            .filter(|r| r.until > now)
            .cloned()
            .collect()
    }

    /// Takes the attestation key `next` names active here, when it is not
    /// already (another node rotated it; its file arrived first), and
    /// destroys this node's copy of the old seed. Returns whether it changed.
    ///
    /// # Errors
    /// The named key's file does not read as a key.
    pub(super) fn adopt_attestation(&self, next: &Manifest) -> Result<bool, KeyError> {
        let (current, _) = self.attestation();
        if next.attestation == current {
            return Ok(false);
        }
        let key = read_key32(&self.files, &format!("{}.key", next.attestation))?;
        *self.attestation.write().unwrap_or_else(PoisonError::into_inner) = (next.attestation.clone(), Arc::new(key));
        self.files.shred(&format!("{current}.key"))?;
        Ok(true)
    }
}

/// The Ed25519 public key of `seed`, base64url (a JWK's `x`).
fn public_x(seed: &Secret32) -> String {
    URL_SAFE_NO_PAD.encode(
        ed25519_dalek::SigningKey::from_bytes(seed.expose())
            .verifying_key()
            .to_bytes(),
    )
}

/// Whether two manifests name the same keyring: every key that never
/// rotates is the same, and so is the attestation key the fingerprint names.
pub(super) fn same_keyring(a: &Manifest, b: &Manifest) -> bool {
    let first = |m: &Manifest| m.attestation_first.clone().unwrap_or_else(|| m.attestation.clone());
    a.version == b.version
        && a.photo == b.photo
        && a.blind_index == b.blind_index
        && a.audit_subject == b.audit_subject
        && first(a) == first(b)
}

/// Whether `id` is a plain key id with `prefix` (what a manifest may name).
pub(super) fn plain_id(id: &str, prefix: &str) -> bool {
    id.len() > prefix.len() + 1
        && id.starts_with(prefix)
        && id.as_bytes().get(prefix.len()) == Some(&b'-')
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
