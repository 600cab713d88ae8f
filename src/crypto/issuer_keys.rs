//! The keys that sign holder-held credentials: Ed25519 seeds in
//! `keys/issuer-<created>-<random>.key`, written and read through
//! [`KeyFiles`] (sealed when the keyring is). The newest signs; older ones
//! stay in the JWKS, verifying what they signed, until the last credential
//! they could have signed has expired, and are then destroyed.

use std::fs;
use std::sync::{Arc, PoisonError, RwLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use zeroize::Zeroizing;

use super::key_files::{sync_dir, KeyFiles};
use super::{Attestor, KeyError, Secret32};

/// One issuer key: when it was made (unix seconds) and its signer.
struct IssuerKey {
    created: i64,
    signer: Arc<Attestor>,
}

/// Every issuer key held, oldest first.
pub struct IssuerKeys {
    files: KeyFiles,
    keys: RwLock<Vec<IssuerKey>>,
}

impl std::fmt::Debug for IssuerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKeys")
            .field("kids", &self.kids())
            .finish_non_exhaustive()
    }
}

fn parse_created(kid: &str) -> Option<i64> {
    let rest = kid.strip_prefix("issuer-")?;
    let (created, random) = rest.split_once('-')?;
    (random.len() == 8 && random.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| created.parse().ok())
        .flatten()
}

/// When the issuer key of the file `name` was made (unix seconds); `None`
/// when `name` is not an issuer key's.
#[must_use]
pub fn created_of_file(name: &str) -> Option<i64> {
    name.strip_suffix(".key").and_then(parse_created)
}

impl IssuerKeys {
    /// Loads every `issuer-*.key`, creating the first one when there is none.
    ///
    /// # Errors
    /// A key file that does not read as 32 base64 bytes, or one that cannot be written.
    pub fn load(files: &KeyFiles, now: i64) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        if let Ok(entries) = fs::read_dir(files.dir()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(kid) = name.strip_suffix(".key") else { continue };
                let Some(created) = parse_created(kid) else { continue };
                keys.push(read_key(files, kid, created)?);
            }
        }
        keys.sort_by(|a, b| (a.created, a.signer.kid()).cmp(&(b.created, b.signer.kid())));
        let ring = Self {
            files: files.clone(),
            keys: RwLock::new(keys),
        };
        if ring.keys.read().unwrap_or_else(PoisonError::into_inner).is_empty() {
            ring.rotate(now)?;
        }
        Ok(ring)
    }

    /// The newest key: it signs every credential issued now.
    ///
    /// # Errors
    /// There is no key (only after a failed rotation removed the last one, which rotation never does).
    pub fn active(&self) -> Result<Arc<Attestor>, KeyError> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .last()
            .map(|k| Arc::clone(&k.signer))
            .ok_or_else(|| KeyError::BadKey {
                file: "issuer-*.key".into(),
                reason: "no issuer key".into(),
            })
    }

    /// When the active key was made.
    #[must_use]
    pub fn active_since(&self) -> Option<i64> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .last()
            .map(|k| k.created)
    }

    /// Makes a new key (durably) and makes it the one that signs; returns its id.
    ///
    /// # Errors
    /// The key file cannot be written.
    pub fn rotate(&self, now: i64) -> Result<String, KeyError> {
        let mut random = [0u8; 4];
        rand::rngs::OsRng.fill_bytes(&mut random);
        let kid = format!("issuer-{now}-{}", hex::encode(random));
        let seed = Secret32::random();
        let encoded = Zeroizing::new(STANDARD.encode(seed.expose()));
        self.files.write(&format!("{kid}.key"), encoded.as_bytes())?;
        sync_dir(self.files.dir())?;
        self.keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(IssuerKey {
                created: now,
                signer: Arc::new(Attestor::new(kid.clone(), &seed)),
            });
        Ok(kid)
    }

    /// Destroys every key replaced by a newer one more than `lifetime`
    /// seconds ago: nothing it signed can still be valid. Returns their ids.
    ///
    /// # Errors
    /// A key file could not be destroyed (that key stays, to try again).
    pub fn retire(&self, now: i64, lifetime: i64) -> Result<Vec<String>, KeyError> {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        let mut gone = Vec::new();
        while keys.len() > 1 && keys[1].created.saturating_add(lifetime) < now {
            let kid = keys[0].signer.kid().to_owned();
            self.files.shred(&format!("{kid}.key"))?;
            keys.remove(0);
            gone.push(kid);
        }
        Ok(gone)
    }

    /// Loads an issuer key another node of the cluster made (its file
    /// already written here); it signs here too when it is the newest.
    ///
    /// # Errors
    /// The name is not an issuer key's, or the file does not read.
    pub fn adopt(&self, name: &str) -> Result<(), KeyError> {
        let kid = name.strip_suffix(".key").unwrap_or(name);
        let created = parse_created(kid).ok_or_else(|| KeyError::BadKey {
            file: name.to_owned(),
            reason: "not an issuer key".into(),
        })?;
        let key = read_key(&self.files, kid, created)?;
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        if keys.iter().all(|k| k.signer.kid() != kid) {
            keys.push(key);
            keys.sort_by(|a, b| (a.created, a.signer.kid()).cmp(&(b.created, b.signer.kid())));
        }
        Ok(())
    }

    /// Drops an issuer key another node destroyed (its file shredded here);
    /// the last key held stays, so signing never finds none.
    pub fn forget(&self, name: &str) {
        let kid = name.strip_suffix(".key").unwrap_or(name);
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        if keys.len() > 1 {
            keys.retain(|k| k.signer.kid() != kid);
        }
    }

    /// The ids held, oldest first.
    #[must_use]
    pub fn kids(&self) -> Vec<String> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|k| k.signer.kid().to_owned())
            .collect()
    }

    /// The public keys, oldest first, as JWKs.
    #[must_use]
    pub fn jwks(&self) -> Vec<serde_json::Value> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|k| k.signer.jwk())
            .collect()
    }
}

fn read_key(files: &KeyFiles, kid: &str, created: i64) -> Result<IssuerKey, KeyError> {
    let name = format!("{kid}.key");
    let raw = files.read(&name)?;
    let text = Zeroizing::new(String::from_utf8_lossy(&raw).into_owned());
    let bytes = Zeroizing::new(STANDARD.decode(text.trim()).unwrap_or_default());
    let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| KeyError::BadKey {
        file: name.clone(),
        reason: "not 32 base64 bytes".into(),
    })?;
    Ok(IssuerKey {
        created,
        signer: Arc::new(Attestor::new(kid.to_owned(), &Secret32::from_bytes(seed))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_old_keys_until_their_credentials_expire() {
        let dir = tempfile::tempdir().unwrap();
        let files = KeyFiles::plain(dir.path());
        let keys = IssuerKeys::load(&files, 1_000).unwrap();
        let first = keys.active().unwrap().kid().to_owned();
        let second = keys.rotate(2_000).unwrap();
        assert_eq!(keys.active().unwrap().kid(), second);
        assert_eq!(keys.kids(), vec![first.clone(), second.clone()]);
        // Reloading finds both, the newer still active.
        let again = IssuerKeys::load(&files, 3_000).unwrap();
        assert_eq!(again.kids(), vec![first.clone(), second.clone()]);
        assert_eq!(again.active().unwrap().kid(), second);
        // Not yet: a credential signed at 1 999 is valid until 1 999 + 500.
        assert!(keys.retire(2_400, 500).unwrap().is_empty());
        assert_eq!(keys.retire(2_600, 500).unwrap(), vec![first.clone()]);
        assert!(!dir.path().join(format!("{first}.key")).exists());
        assert_eq!(keys.kids(), vec![second]);
    }
}
