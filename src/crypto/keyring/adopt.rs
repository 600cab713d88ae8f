//! Keys another node of the cluster made, taken into this running keyring:
//! its file is already written (by `KeyFiles::write_received`), so only
//! memory changes here. And keys another node destroyed, dropped from
//! memory once their file is shredded.

use std::sync::{Arc, PoisonError};

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

    /// Re-reads `keyring.toml` (another node rotated the KEK): its KEK
    /// becomes active here when this keyring holds it.
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
        if !same_but_kek(&manifest, &next) {
            return Err(bad_manifest("it changes more than which KEK is active"));
        }
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

/// Whether two manifests differ at most in which KEK is active.
fn same_but_kek(a: &Manifest, b: &Manifest) -> bool {
    a.version == b.version
        && a.photo == b.photo
        && a.blind_index == b.blind_index
        && a.audit_subject == b.audit_subject
        && a.attestation == b.attestation
}

/// Checks a `keyring.toml` received from a peer, before anything is
/// written: it must parse, change nothing but which KEK is active (the
/// blind index, audit subject and attestation keys never travel), and name
/// a `kek-*`. Returns whether that KEK is held here (a rotation sends the
/// KEK first, then the manifest; one naming a KEK not yet here is not
/// applied).
///
/// # Errors
/// The manifest does not parse, or changes another field.
pub fn check_received_manifest(files: &KeyFiles, bytes: &[u8]) -> Result<bool, KeyError> {
    let text = std::str::from_utf8(bytes).map_err(|_| bad_manifest("not UTF-8"))?;
    let next: Manifest = toml::from_str(text).map_err(|_| bad_manifest("does not parse"))?;
    let here = read_secret_file(&files.dir().join(MANIFEST))?;
    let here: Manifest = toml::from_str(&here).map_err(|_| bad_manifest("this node's does not parse"))?;
    if !same_but_kek(&here, &next) {
        return Err(bad_manifest("it changes more than which KEK is active"));
    }
    let plain = next.kek.len() > 4
        && next.kek.starts_with("kek-")
        && next
            .kek
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !plain {
        return Err(bad_manifest("it does not name a KEK"));
    }
    Ok(files.dir().join(format!("{}.key", next.kek)).exists())
}
