//! The keys that sign holder-held credentials and their status lists, of
//! two algorithms: ES256 (P-256 scalars in
//! `keys/issuer-es256-<created>-<random>.key`) and Ed25519 (seeds in
//! `keys/issuer-<created>-<random>.key`, the name every earlier version
//! wrote, so their keys still open). Both are 32 bytes in base64, written
//! and read through [`KeyFiles`] (sealed when the keyring is). The newest
//! key of each algorithm signs; older ones stay in the JWKS, verifying
//! what they signed, until the last credential they could have signed has
//! expired, and are then destroyed.

use std::fs;
use std::sync::{Arc, PoisonError, RwLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use zeroize::Zeroizing;

use super::jose::{Alg, IssuerSigner};
use super::key_files::{sync_dir, KeyFiles};
use super::{KeyError, Secret32};

/// One issuer key: when it was made (unix seconds) and its signer.
struct IssuerKey {
    created: i64,
    signer: Arc<IssuerSigner>,
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

/// The id prefix of each algorithm's keys.
const fn prefix(alg: Alg) -> &'static str {
    match alg {
        Alg::Es256 => "issuer-es256-",
        Alg::Ed25519 => "issuer-",
    }
}

/// The algorithm and creation time a key id names.
fn parse_kid(kid: &str) -> Option<(Alg, i64)> {
    let (alg, rest) = match kid.strip_prefix(prefix(Alg::Es256)) {
        Some(rest) => (Alg::Es256, rest),
        None => (Alg::Ed25519, kid.strip_prefix(prefix(Alg::Ed25519))?),
    };
    let (created, random) = rest.split_once('-')?;
    (random.len() == 8 && random.bytes().all(|b| b.is_ascii_hexdigit()) && created.bytes().all(|b| b.is_ascii_digit()))
        .then(|| created.parse().ok().map(|c| (alg, c)))
        .flatten()
}

/// When the issuer key of the file `name` was made (unix seconds); `None`
/// when `name` is not an issuer key's.
#[must_use]
pub fn created_of_file(name: &str) -> Option<i64> {
    name.strip_suffix(".key")
        .and_then(parse_kid)
        .map(|(_, created)| created)
}

fn sort(keys: &mut [IssuerKey]) {
    keys.sort_by(|a, b| (a.created, a.signer.kid()).cmp(&(b.created, b.signer.kid())));
}

impl IssuerKeys {
    /// Loads every issuer key file, creating the first key of each
    /// algorithm when there is none (an older install gains its ES256 key).
    ///
    /// # Errors
    /// A key file that does not read as a key, or one that cannot be written.
    pub fn load(files: &KeyFiles, now: i64) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        if let Ok(entries) = fs::read_dir(files.dir()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(kid) = name.strip_suffix(".key") else { continue };
                let Some((alg, created)) = parse_kid(kid) else { continue };
                keys.push(read_key(files, kid, alg, created)?);
            }
        }
        sort(&mut keys);
        let ring = Self {
            files: files.clone(),
            keys: RwLock::new(keys),
        };
        for alg in Alg::ALL {
            if ring.active_since(alg).is_none() {
                ring.rotate(alg, now)?;
            }
        }
        Ok(ring)
    }

    /// The newest key of `alg`: it signs everything of `alg` signed now.
    ///
    /// # Errors
    /// There is no such key (only after a failed rotation removed the last one, which rotation never does).
    pub fn active(&self, alg: Alg) -> Result<Arc<IssuerSigner>, KeyError> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .rev()
            .find(|k| k.signer.alg() == alg)
            .map(|k| Arc::clone(&k.signer))
            .ok_or_else(|| KeyError::BadKey {
                file: format!("{}*.key", prefix(alg)),
                reason: "no issuer key".into(),
            })
    }

    /// When the active key of `alg` was made.
    #[must_use]
    pub fn active_since(&self, alg: Alg) -> Option<i64> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .rev()
            .find(|k| k.signer.alg() == alg)
            .map(|k| k.created)
    }

    /// Makes a new key of `alg` (durably) and makes it the one that signs;
    /// returns its id.
    ///
    /// # Errors
    /// The key file cannot be written.
    pub fn rotate(&self, alg: Alg, now: i64) -> Result<String, KeyError> {
        let mut random = [0u8; 4];
        rand::rngs::OsRng.fill_bytes(&mut random);
        let kid = format!("{}{now}-{}", prefix(alg), hex::encode(random));
        // A P-256 scalar must be below the group order: 32 random bytes are
        // not, once in 2^32 draws; draw again then.
        let (secret, signer) = loop {
            let secret = Secret32::random();
            if let Some(signer) = IssuerSigner::new(kid.clone(), alg, &secret) {
                break (secret, signer);
            }
        };
        let encoded = Zeroizing::new(STANDARD.encode(secret.expose()));
        self.files.write(&format!("{kid}.key"), encoded.as_bytes())?;
        sync_dir(self.files.dir())?;
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        keys.push(IssuerKey {
            created: now,
            signer: Arc::new(signer),
        });
        sort(&mut keys);
        Ok(kid)
    }

    /// Destroys every key replaced by a newer one of its algorithm more
    /// than `lifetime` seconds ago: nothing it signed can still be valid.
    /// Returns their ids.
    ///
    /// # Errors
    /// A key file could not be destroyed (that key stays, to try again).
    pub fn retire(&self, now: i64, lifetime: i64) -> Result<Vec<String>, KeyError> {
        self.retire_each(now, |_| lifetime)
    }

    /// As [`Self::retire`], with a lifetime for each algorithm's keys (the
    /// ES256 keys also sign printed cards' seals, which live as long as
    /// the cards).
    ///
    /// # Errors
    /// A key file could not be destroyed.
    pub fn retire_each(&self, now: i64, lifetime_of: impl Fn(Alg) -> i64) -> Result<Vec<String>, KeyError> {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        let mut gone = Vec::new();
        for alg in Alg::ALL {
            loop {
                let mut of_alg = keys.iter().enumerate().filter(|(_, k)| k.signer.alg() == alg);
                let (Some((oldest, _)), Some((_, successor))) = (of_alg.next(), of_alg.next()) else {
                    break;
                };
                if successor.created.saturating_add(lifetime_of(alg)) >= now {
                    break;
                }
                let kid = keys[oldest].signer.kid().to_owned();
                self.files.shred(&format!("{kid}.key"))?;
                keys.remove(oldest);
                gone.push(kid);
            }
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
        let (alg, created) = parse_kid(kid).ok_or_else(|| KeyError::BadKey {
            file: name.to_owned(),
            reason: "not an issuer key".into(),
        })?;
        let key = read_key(&self.files, kid, alg, created)?;
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        if keys.iter().all(|k| k.signer.kid() != kid) {
            keys.push(key);
            sort(&mut keys);
        }
        Ok(())
    }

    /// Drops an issuer key another node destroyed (its file shredded here);
    /// the last key of each algorithm stays, so signing never finds none.
    pub fn forget(&self, name: &str) {
        let kid = name.strip_suffix(".key").unwrap_or(name);
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        let Some(alg) = keys.iter().find(|k| k.signer.kid() == kid).map(|k| k.signer.alg()) else {
            return;
        };
        if keys.iter().filter(|k| k.signer.alg() == alg).count() > 1 {
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

fn read_key(files: &KeyFiles, kid: &str, alg: Alg, created: i64) -> Result<IssuerKey, KeyError> {
    let name = format!("{kid}.key");
    let raw = files.read(&name)?;
    let text = Zeroizing::new(String::from_utf8_lossy(&raw).into_owned());
    let bytes = Zeroizing::new(STANDARD.decode(text.trim()).unwrap_or_default());
    let bad = |reason: &str| KeyError::BadKey {
        file: name.clone(),
        reason: reason.into(),
    };
    let secret: [u8; 32] = bytes.as_slice().try_into().map_err(|_| bad("not 32 base64 bytes"))?;
    let signer = IssuerSigner::new(kid.to_owned(), alg, &Secret32::from_bytes(secret))
        .ok_or_else(|| bad("not a P-256 scalar"))?;
    Ok(IssuerKey {
        created,
        signer: Arc::new(signer),
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
        let ed = keys.active(Alg::Ed25519).unwrap().kid().to_owned();
        let first = keys.active(Alg::Es256).unwrap().kid().to_owned();
        assert!(first.starts_with("issuer-es256-1000-"), "{first}");
        let second = keys.rotate(Alg::Es256, 2_000).unwrap();
        assert_eq!(keys.active(Alg::Es256).unwrap().kid(), second);
        assert_eq!(
            keys.active(Alg::Ed25519).unwrap().kid(),
            ed,
            "each algorithm rotates on its own"
        );
        assert_eq!(keys.kids().len(), 3);
        // Reloading finds all three, the newer ES256 key still active.
        let again = IssuerKeys::load(&files, 3_000).unwrap();
        assert_eq!(again.kids(), keys.kids());
        assert_eq!(again.active(Alg::Es256).unwrap().kid(), second);
        // Not yet: a credential signed at 1 999 is valid until 1 999 + 500.
        assert!(keys.retire(2_400, 500).unwrap().is_empty());
        // The Ed25519 key has no successor: it stays, however old.
        assert_eq!(keys.retire(2_600, 500).unwrap(), vec![first.clone()]);
        assert!(!dir.path().join(format!("{first}.key")).exists());
        let mut left = keys.kids();
        left.sort();
        assert_eq!(left, vec![ed, second]);
    }

    #[test]
    fn each_algorithm_keeps_its_keys_for_its_own_lifetime() {
        let dir = tempfile::tempdir().unwrap();
        let files = KeyFiles::plain(dir.path());
        let keys = IssuerKeys::load(&files, 1_000).unwrap();
        let es = keys.active(Alg::Es256).unwrap().kid().to_owned();
        let ed = keys.active(Alg::Ed25519).unwrap().kid().to_owned();
        keys.rotate(Alg::Es256, 2_000).unwrap();
        keys.rotate(Alg::Ed25519, 2_000).unwrap();
        // ES256 keys also sign printed cards' seals: kept far longer.
        let gone = keys
            .retire_each(3_000, |alg| if alg == Alg::Es256 { i64::MAX } else { 500 })
            .unwrap();
        assert_eq!(gone, vec![ed]);
        assert!(keys.kids().contains(&es));
    }
}

#[cfg(test)]
mod older_keys {
    use super::*;

    #[test]
    fn an_older_install_keeps_its_ed25519_key_and_gains_an_es256_one() {
        let dir = tempfile::tempdir().unwrap();
        let files = KeyFiles::plain(dir.path());
        // As every earlier version wrote it: an Ed25519 seed, no algorithm in the name.
        let seed = Secret32::random();
        let old = IssuerSigner::new("issuer-500-0a1b2c3d".into(), Alg::Ed25519, &seed).unwrap();
        files
            .write("issuer-500-0a1b2c3d.key", STANDARD.encode(seed.expose()).as_bytes())
            .unwrap();
        let keys = IssuerKeys::load(&files, 1_000).unwrap();
        assert_eq!(keys.active(Alg::Ed25519).unwrap().jwk(), old.jwk());
        assert!(keys.active(Alg::Es256).unwrap().kid().starts_with("issuer-es256-1000-"));
        assert_eq!(created_of_file("issuer-500-0a1b2c3d.key"), Some(500));
        assert_eq!(created_of_file("issuer-es256-700-0a1b2c3d.key"), Some(700));
        assert_eq!(created_of_file("issuer-es256-x-0a1b2c3d.key"), None);
    }
}
