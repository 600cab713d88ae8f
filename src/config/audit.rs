//! `[audit]`: signed checkpoints, the transparency log's name and
//! publication, and how many witnesses make a checkpoint cosigned.

use serde::Deserialize;

use super::dur;
use crate::duration::HumanDuration;

/// Signed audit checkpoints (see `checkpoints.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    /// A checkpoint after this many new entries...
    pub checkpoint_every: u64,
    /// ...or this long after the last one, when the chain grew.
    pub checkpoint_interval: HumanDuration,
    /// The old protocol's `[audit.witness]`: refused with a pointer to `[[witness]]`.
    pub witness: Option<toml::Value>,
    /// v1.2: how many of the `[[witness]]`es must cosign a checkpoint
    /// (default 1).
    pub witness_threshold: Option<usize>,
    /// v1.2: the transparency log's name, its checkpoints' origin line and
    /// their key's name (default `civic-vault.invalid/audit/<keyring fingerprint>`).
    pub origin: Option<String>,
    /// v1.2: `GET /v1/audit/checkpoint` without a token (it then reveals
    /// the log's size over time to anyone).
    pub publish_checkpoints: bool,
}

impl Default for Audit {
    fn default() -> Self {
        Self {
            checkpoint_every: 1000,
            checkpoint_interval: dur(60, crate::duration::Unit::Seconds),
            witness: None,
            witness_threshold: None,
            origin: None,
            publish_checkpoints: false,
        }
    }
}
