//! The off-box witness (`civic-vault witness serve`): a small separate
//! process, with an Ed25519 key of its own, meant for another machine or
//! another office. The vault sends it each signed audit checkpoint with the
//! entries since the last one it cosigned; the witness cosigns only a
//! checkpoint that extends that one (it recomputes the hash chain from its
//! last cosigned head to the new head) and remembers it, fsynced, before
//! answering. A rollback or a fork is refused. The vault then refuses to
//! start on a chain older than the witness's last cosignature.
//!
//! This module holds the protocol (what is sent, what is signed, how a
//! cosignature and an extension are checked), shared by the witness
//! ([`server`]) and the vault's client (`vault::witness`). It sits below
//! the vault: it knows the audit chain's hash, nothing of the store.

pub mod server;
mod state;

pub use state::WitnessState;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::domain::audit::{chain_hash, format_hash, GENESIS};

/// `POST`: a checkpoint and the entries since the last cosigned one.
pub const COSIGN_PATH: &str = "/v1/witness/cosign";
/// `GET`: the newest cosigned checkpoint (`null` before the first).
pub const LATEST_PATH: &str = "/v1/witness/latest";
/// Entries one cosign request may carry.
pub const MAX_ENTRIES: usize = 20_000;
/// A cosign request's body, at most.
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// A checkpoint as the vault signed it (`audit-checkpoints.jsonl`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultCheckpoint {
    pub seq: u64,
    pub head: String,
    pub at: String,
    /// base64url Ed25519 public key of the vault's checkpoint key.
    pub key: String,
    /// base64url signature over [`checkpoint_message`].
    pub signature: String,
}

/// What the vault's checkpoint key signs.
#[must_use]
pub fn checkpoint_message(seq: u64, head: &str, at: &str) -> Vec<u8> {
    format!("civic-vault audit checkpoint v1\n{seq}\n{head}\n{at}\n").into_bytes()
}

/// The body of a cosign request.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CosignRequest {
    pub checkpoint: VaultCheckpoint,
    /// The sequence number the entries follow: the witness's last cosigned one (0 before the first).
    pub from: u64,
    /// The canonical JSON of entries `from + 1 ..= checkpoint.seq`, in order:
    /// the bytes each entry's chain hash covers.
    pub entries: Vec<String>,
}

/// A cosigned checkpoint: the witness's answer, a line of the vault's
/// `audit-cosignatures.jsonl`, and the witness's own state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cosignature {
    /// The vault's checkpoint key (base64url): whose log this is.
    pub vault_key: String,
    pub seq: u64,
    pub head: String,
    /// When the vault signed the checkpoint.
    pub at: String,
    /// When the witness cosigned it.
    pub cosigned_at: String,
    /// base64url Ed25519 public key of the witness.
    pub witness_key: String,
    /// base64url signature over [`cosignature_message`].
    pub signature: String,
}

/// What the witness signs: domain-separated, naming the vault's key so a
/// cosignature cannot be carried to another vault's log.
#[must_use]
pub fn cosignature_message(vault_key: &str, seq: u64, head: &str, cosigned_at: &str) -> Vec<u8> {
    format!("civic-vault witness cosignature v1\n{vault_key}\n{seq}\n{head}\n{cosigned_at}\n").into_bytes()
}

/// A refused cosign request (HTTP 409 or 403): why, and the witness's newest
/// cosignature, from which the vault resends.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Refusal {
    pub error: String,
    pub reason: String,
    pub latest: Option<Cosignature>,
}

/// An Ed25519 public key from its base64url form.
///
/// # Errors
/// It is not 32 bytes of base64url, or not a valid point.
pub fn parse_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = URL_SAFE_NO_PAD
        .decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| "not a base64url Ed25519 public key (32 bytes)".to_owned())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "not an Ed25519 public key".to_owned())
}

/// The base64url form of a public key.
#[must_use]
pub fn key_text(key: &VerifyingKey) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

fn signature(text: &str) -> Result<Signature, String> {
    let bytes: [u8; 64] = URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| "not a base64url Ed25519 signature".to_owned())?;
    Ok(Signature::from_bytes(&bytes))
}

impl VaultCheckpoint {
    /// Checks that `vault` signed it.
    ///
    /// # Errors
    /// Another key, or a signature that does not verify.
    pub fn verify(&self, vault: &VerifyingKey) -> Result<(), String> {
        if parse_key(&self.key)? != *vault {
            return Err("signed by a key other than the pinned vault checkpoint key".into());
        }
        vault
            .verify(
                &checkpoint_message(self.seq, &self.head, &self.at),
                &signature(&self.signature)?,
            )
            .map_err(|_| "the checkpoint signature does not verify".into())
    }
}

impl Cosignature {
    /// Checks that `witness` cosigned it (and, given `vault`, for that vault's log).
    ///
    /// # Errors
    /// Another witness or vault key, or a signature that does not verify.
    pub fn verify(&self, witness: &VerifyingKey, vault: Option<&VerifyingKey>) -> Result<(), String> {
        if parse_key(&self.witness_key)? != *witness {
            return Err("cosigned by a key other than the pinned witness key".into());
        }
        if let Some(v) = vault {
            if parse_key(&self.vault_key)? != *v {
                return Err("cosigned for another vault's checkpoint key".into());
            }
        }
        witness
            .verify(
                &cosignature_message(&self.vault_key, self.seq, &self.head, &self.cosigned_at),
                &signature(&self.signature)?,
            )
            .map_err(|_| "the cosignature does not verify".into())
    }
}

/// The genesis head: what a chain of no entries ends in.
#[must_use]
pub fn genesis_head() -> String {
    format_hash(&GENESIS)
}

/// Checks that `entries` (canonical JSON) lead from `prev_head` after entry
/// `from` to `head` at entry `seq`: each entry's hash is
/// `sha256(previous hash ‖ canonical JSON)`, as in the chain itself.
///
/// # Errors
/// The count does not match, or the recomputed head differs.
pub fn extends(prev_head: &str, from: u64, entries: &[String], seq: u64, head: &str) -> Result<(), String> {
    let count = u64::try_from(entries.len()).unwrap_or(u64::MAX);
    if from.checked_add(count) != Some(seq) {
        return Err(format!("{count} entries after entry {from} do not reach entry {seq}"));
    }
    let mut prev: [u8; 32] = prev_head
        .strip_prefix("sha256:")
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| "the previous head is not a sha256 hash".to_owned())?;
    for canonical in entries {
        prev = chain_hash(&prev, canonical.as_bytes());
    }
    if format_hash(&prev) == head {
        Ok(())
    } else {
        Err(format!(
            "the entries after entry {from} do not hash to the checkpoint's head at entry {seq}"
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    #[test]
    fn extension_recomputes_the_chain() {
        let e1 = "{\"seq\":1}".to_owned();
        let e2 = "{\"seq\":2}".to_owned();
        let h1 = chain_hash(&GENESIS, e1.as_bytes());
        let h2 = chain_hash(&h1, e2.as_bytes());
        let g = genesis_head();
        assert!(extends(&g, 0, &[e1.clone(), e2.clone()], 2, &format_hash(&h2)).is_ok());
        assert!(extends(&format_hash(&h1), 1, std::slice::from_ref(&e2), 2, &format_hash(&h2)).is_ok());
        assert!(extends(&g, 0, &[e2.clone(), e1], 2, &format_hash(&h2)).is_err());
        assert!(extends(&g, 0, &[e2], 2, &format_hash(&h2)).is_err());
    }
}
