//! Keys another node of the cluster made, taken into this running keyring:
//! its file is already written (by `KeyFiles::write_received`), so only
//! memory changes here. And keys another node destroyed, dropped from
//! memory once their file is shredded.

use std::sync::{Arc, PoisonError};

use super::{read_key32, read_secret_file, KeyError, Keyring, Manifest, MANIFEST};

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
        let mut keks = self.keks.write().unwrap_or_else(PoisonError::into_inner);
        if keks.keys.contains_key(&next.kek) {
            keks.active.clone_from(&next.kek);
        }
        *manifest = next;
        Ok(())
    }
}
