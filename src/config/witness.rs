//! `[[witness]]`: the C2SP tlog-witnesses that cosign the audit log's
//! checkpoints (see `vault/witness.rs`). One `[witness]` table or several
//! `[[witness]]` tables; `[audit] witness_threshold` says how many
//! cosignatures make a checkpoint cosigned.

use serde::{Deserialize, Deserializer};

use super::ConfigError;
use crate::crypto::note::{VerifierKey, ALG_COSIGNATURE_V1};
use crate::duration::HumanDuration;

/// One witness.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Witness {
    /// Its submission prefix (`https://witness.example.gov`): the vault
    /// posts to `<url>/add-checkpoint`.
    pub url: String,
    /// Its verifier key, `<name>+<hex id>+<base64 key>` (a `cosignature/v1`
    /// key, as `civic-vault witness key` or any C2SP witness publishes it).
    pub key: String,
    /// How long one call to it may take.
    #[serde(default = "timeout")]
    pub timeout: HumanDuration,
}

const fn timeout() -> HumanDuration {
    super::dur(5, crate::duration::Unit::Seconds)
}

/// The configured witnesses, from one `[witness]` table or `[[witness]]` tables.
#[derive(Debug, Clone, Default)]
pub struct Witnesses(pub Vec<Witness>);

impl<'de> Deserialize<'de> for Witnesses {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(Witness),
            Many(Vec<Witness>),
        }
        Ok(match OneOrMany::deserialize(d)? {
            OneOrMany::One(w) => Self(vec![w]),
            OneOrMany::Many(ws) => Self(ws),
        })
    }
}

impl super::Config {
    /// How many witnesses must cosign a checkpoint: `[audit]
    /// witness_threshold`, 1 by default (0 without witnesses).
    #[must_use]
    pub fn witness_threshold(&self) -> usize {
        if self.witness.0.is_empty() {
            0
        } else {
            self.audit.witness_threshold.unwrap_or(1)
        }
    }

    pub(super) fn validate_witness(&self) -> Result<(), ConfigError> {
        if self.audit.witness.is_some() {
            return Err(ConfigError::key(
                "audit.witness",
                "witnesses now speak C2SP tlog-witness and are configured as [[witness]] with url and key \
                 (the witness's verifier key, printed by `civic-vault witness key`)",
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for w in &self.witness.0 {
            let ok = url::Url::parse(&w.url).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.query().is_none()
                    && u.username().is_empty()
            });
            if !ok {
                return Err(ConfigError::key(
                    "witness.url",
                    "must be an http or https URL such as https://witness.example.gov",
                ));
            }
            let key = VerifierKey::parse(&w.key).ok().filter(|k| k.alg == ALG_COSIGNATURE_V1);
            let Some(key) = key else {
                return Err(ConfigError::key(
                    "witness.key",
                    "must be the witness's cosignature/v1 verifier key, <name>+<hex id>+<base64 key>, as `civic-vault \
                     witness key` prints it",
                ));
            };
            if !names.insert(key.name) {
                return Err(ConfigError::key("witness.key", "two witnesses have the same name"));
            }
            if w.timeout.is_zero() {
                return Err(ConfigError::key("witness.timeout", "must be longer than 0s"));
            }
        }
        match self.audit.witness_threshold {
            Some(_) if self.witness.0.is_empty() => Err(ConfigError::key(
                "audit.witness_threshold",
                "needs witnesses ([[witness]] url and key)",
            )),
            Some(t) if t == 0 || t > self.witness.0.len() => Err(ConfigError::key(
                "audit.witness_threshold",
                format!(
                    "must be between 1 and the number of witnesses ({})",
                    self.witness.0.len()
                ),
            )),
            _ => Ok(()),
        }
    }
}
