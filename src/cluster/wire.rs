//! What nodes send each other: a key file (its name and what it holds,
//! opened, base64) or the name of a key destroyed. Only the files that
//! change while a vault runs travel; the rest of a keys directory is copied
//! once, before a node's first start.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub const KEYS_PATH: &str = "/cluster/v1/keys";
pub const DESTROYED_PATH: &str = "/cluster/v1/destroyed";

/// `POST /cluster/v1/keys`: a key made on the active node.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    pub name: String,
    /// The file's content as the sender's keyring opened it, base64; the
    /// receiver seals it under its own seal when its keys are sealed.
    pub bytes: Zeroizing<String>,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFile")
            .field("name", &self.name)
            .field("bytes", &"***")
            .finish()
    }
}

/// `POST /cluster/v1/destroyed`: a key the active node destroyed.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destroyed {
    pub name: String,
}

/// The answer to either: the key is (or is no longer) in this node's keys
/// directory and memory.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ack {
    pub node: String,
    pub name: String,
}

/// The kinds of key that are made or destroyed while a vault runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `keyring.toml`: which KEK is active (no secret).
    Manifest,
    Kek,
    Scan,
    Hold,
    Issuer,
    /// An attestation key made by a rotation (`keys rotate-attestation`).
    Attestation,
}

/// Which kind a file name is, when it is one that travels. Anything else
/// (a path, the admin token, the seal, the index keys) is refused.
#[must_use]
pub fn kind_of(name: &str) -> Option<Kind> {
    if name == crate::crypto::MANIFEST {
        return Some(Kind::Manifest);
    }
    let stem = name.strip_suffix(".key")?;
    let plain = !stem.is_empty()
        && stem.len() <= 96
        && stem
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !plain {
        return None;
    }
    [
        ("kek-", Kind::Kek),
        ("scan-", Kind::Scan),
        ("hold_", Kind::Hold),
        ("issuer-", Kind::Issuer),
        ("attest-", Kind::Attestation),
    ]
    .into_iter()
    .find_map(|(prefix, kind)| (stem.len() > prefix.len() && stem.starts_with(prefix)).then_some(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_replicated_key_names_travel() {
        assert_eq!(kind_of("kek-0a1b2c3d.key"), Some(Kind::Kek));
        assert_eq!(kind_of("scan-86400s-20000.key"), Some(Kind::Scan));
        assert_eq!(kind_of("hold_ab12.key"), Some(Kind::Hold));
        assert_eq!(kind_of("issuer-1700000000-0a1b2c3d.key"), Some(Kind::Issuer));
        assert_eq!(kind_of("issuer-es256-1700000000-0a1b2c3d.key"), Some(Kind::Issuer));
        assert_eq!(kind_of("keyring.toml"), Some(Kind::Manifest));
        assert_eq!(kind_of("attest-0a1b2c3d.key"), Some(Kind::Attestation));
        for bad in [
            "admin.token",
            "seal.toml",
            "blind-0a1b2c3d.key",
            "../kek-1.key",
            "kek-/x.key",
            "kek-.key",
            "KEK-1.key",
            "kek-1",
        ] {
            assert_eq!(kind_of(bad), None, "{bad}");
        }
    }
}
