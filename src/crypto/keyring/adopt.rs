//! Keys another node of the cluster made, taken into this running keyring:
//! its file is already written (by `KeyFiles::write_received`), so only
//! memory changes here. And keys another node destroyed, dropped from
//! memory once their file is shredded.

use std::sync::{Arc, PoisonError};

use super::attestation::{plain_id, same_keyring};
use super::{read_key32, read_secret_file, KeyError, KeyFiles, Keyring, Manifest, MANIFEST};

impl Keyring {
    /// Loads `<id>.key`, a KEK another node made, beside the ones held.
    ///
    /// # Errors
    /// The file does not read as a 32-byte key.
    pub fn adopt_kek(&self, id: &str) -> Result<(), KeyError> {
        let key = read_key32(&self.files, &format!("{id}.key"))?;
        self.keks
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .keys
            .insert(id.to_owned(), Arc::new(key));
        Ok(())
    }

    /// Drops a KEK whose file another node's destruction shredded. The
    /// active KEK stays in memory (a manifest naming a newer one comes
    /// first, so this happens only out of order).
    pub fn forget_kek(&self, id: &str) {
        let mut keks = self.keks.write().unwrap_or_else(PoisonError::into_inner);
        if keks.active != id {
            keks.keys.remove(id);
        }
    }

    /// Re-reads `keyring.toml` (another node rotated the KEK or the
    /// attestation key): its KEK becomes active here when this keyring
    /// holds it, and its attestation key (whose file came first).
    ///
    /// # Errors
    /// The manifest does not read.
    pub fn reload_manifest(&self) -> Result<(), KeyError> {
        let text = read_secret_file(&self.dir.join(MANIFEST))?;
        let next: Manifest = toml::from_str(&text).map_err(|e| KeyError::BadKey {
            file: MANIFEST.into(),
            reason: e.message().to_owned(),
        })?;
        let mut manifest = self.manifest.lock().unwrap_or_else(PoisonError::into_inner);
        if !same_keyring(&manifest, &next) {
            return Err(bad_manifest(CHANGES_MORE));
        }
        self.adopt_attestation(&next)?;
        let mut keks = self.keks.write().unwrap_or_else(PoisonError::into_inner);
        if keks.keys.contains_key(&next.kek) {
            keks.active.clone_from(&next.kek);
        }
        *manifest = next;
        Ok(())
    }
}

fn bad_manifest(reason: &str) -> KeyError {
    KeyError::BadKey {
        file: MANIFEST.into(),
        reason: reason.into(),
    }
}

/// What a received manifest may not do.
const CHANGES_MORE: &str = "it changes more than which KEK and attestation key are active";

/// Checks a `keyring.toml` received from a peer, before anything is
/// written: it must parse, change nothing but which KEK and attestation key
/// are active (and the retired attestation keys' public halves; the blind
/// index and audit subject keys never travel), and name a `kek-*` and an
/// `attest-*`. Returns whether both are held here (a rotation sends the key
/// first, then the manifest; one naming a key not yet here is not applied).
///
/// # Errors
/// The manifest does not parse, or changes another field.
pub fn check_received_manifest(files: &KeyFiles, bytes: &[u8]) -> Result<bool, KeyError> {
    let text = std::str::from_utf8(bytes).map_err(|_| bad_manifest("not UTF-8"))?;
    let next: Manifest = toml::from_str(text).map_err(|_| bad_manifest("does not parse"))?;
    let here = read_secret_file(&files.dir().join(MANIFEST))?;
    let here: Manifest = toml::from_str(&here).map_err(|_| bad_manifest("this node's does not parse"))?;
    if !same_keyring(&here, &next) {
        return Err(bad_manifest(CHANGES_MORE));
    }
    if !plain_id(&next.kek, "kek") {
        return Err(bad_manifest("it does not name a KEK"));
    }
    if !plain_id(&next.attestation, "attest") {
        return Err(bad_manifest("it does not name an attestation key"));
    }
    let held = |id: &str| files.dir().join(format!("{id}.key")).exists();
    Ok(held(&next.kek) && held(&next.attestation))
}
