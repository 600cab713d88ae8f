//! Destruction epochs for document scans. Every scan is an age file to the
//! X25519 key of the epoch it was enrolled in (`keys/scan-<len>s-<index>.key`).
//! When every scan of an epoch is past its retention window, the epoch's key
//! is destroyed: the file is overwritten with zeros, synced and unlinked, and
//! the in-memory identity is dropped (age zeroizes it). Every copy of those
//! scans — in sled's free space, in any backup — is then noise.

use std::collections::BTreeMap;
use std::fs;
use std::sync::{Arc, Mutex, PoisonError};

use age::secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::key_files::{sync_dir, KeyFiles};
use super::KeyError;

/// One destruction epoch: `[index * len, (index + 1) * len)` in unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EpochId {
    pub len_secs: u32,
    pub index: u64,
}

impl EpochId {
    /// The epoch length for a retention window: a quarter of the window,
    /// between one second and one day. A scan then outlives its window by at
    /// most one epoch plus one sweep interval.
    #[must_use]
    pub fn length_for(window_secs: u64) -> u32 {
        u32::try_from((window_secs / 4).clamp(1, 86_400)).unwrap_or(86_400)
    }

    #[must_use]
    pub fn containing(unix: i64, len_secs: u32) -> Self {
        let unix = u64::try_from(unix).unwrap_or(0);
        Self {
            len_secs,
            index: unix / u64::from(len_secs.max(1)),
        }
    }

    /// When the epoch ends (unix seconds).
    #[must_use]
    pub fn end(self) -> i64 {
        i64::try_from((self.index + 1) * u64::from(self.len_secs)).unwrap_or(i64::MAX)
    }

    /// The key id, also its file name without `.key`.
    #[must_use]
    pub fn key_id(self) -> String {
        format!("scan-{}s-{}", self.len_secs, self.index)
    }

    fn parse(key_id: &str) -> Option<Self> {
        let rest = key_id.strip_prefix("scan-")?;
        let (len, index) = rest.split_once("s-")?;
        Some(Self {
            len_secs: len.parse().ok()?,
            index: index.parse().ok()?,
        })
    }

    /// When the epoch named by the key file `name` starts (unix seconds);
    /// `None` when `name` is not an epoch key's.
    #[must_use]
    pub fn start_of_file(name: &str) -> Option<i64> {
        let e = name.strip_suffix(".key").and_then(Self::parse)?;
        i64::try_from(e.index).ok()?.checked_mul(i64::from(e.len_secs))
    }

    /// The 12-byte prefix of this epoch's records in the store.
    #[must_use]
    pub fn prefix(self) -> [u8; 12] {
        let mut p = [0u8; 12];
        p[..4].copy_from_slice(&self.len_secs.to_be_bytes());
        p[4..].copy_from_slice(&self.index.to_be_bytes());
        p
    }

    #[must_use]
    pub fn from_prefix(bytes: &[u8]) -> Option<Self> {
        Some(Self {
            len_secs: u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?),
            index: u64::from_be_bytes(bytes.get(4..12)?.try_into().ok()?),
        })
    }
}

/// The epoch keys on disk and in memory.
pub struct ScanKeys {
    files: KeyFiles,
    keys: Mutex<BTreeMap<EpochId, Arc<age::x25519::Identity>>>,
}

impl std::fmt::Debug for ScanKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanKeys")
            .field("epochs", &self.epochs().len())
            .finish_non_exhaustive()
    }
}

impl ScanKeys {
    /// Loads every `scan-*.key` in `dir`.
    ///
    /// # Errors
    /// A scan key file that is not an age identity.
    pub fn load(files: &KeyFiles) -> Result<Self, KeyError> {
        let mut keys = BTreeMap::new();
        if let Ok(entries) = fs::read_dir(files.dir()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(epoch) = name.strip_suffix(".key").and_then(EpochId::parse) else {
                    continue;
                };
                keys.insert(epoch, Arc::new(read_identity(files, &name)?));
            }
        }
        Ok(Self {
            files: files.clone(),
            keys: Mutex::new(keys),
        })
    }

    /// Loads an epoch key another node of the cluster made (its file
    /// already written here).
    ///
    /// # Errors
    /// The name is not an epoch key's, or the file is not an age identity.
    pub fn adopt(&self, name: &str) -> Result<(), KeyError> {
        let epoch = name
            .strip_suffix(".key")
            .and_then(EpochId::parse)
            .ok_or_else(|| KeyError::BadKey {
                file: name.to_owned(),
                reason: "not a scan epoch key".into(),
            })?;
        let identity = read_identity(&self.files, name)?;
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(epoch, Arc::new(identity));
        Ok(())
    }

    /// Drops an epoch key another node destroyed (its file shredded here).
    pub fn forget(&self, name: &str) {
        if let Some(epoch) = name.strip_suffix(".key").and_then(EpochId::parse) {
            self.keys.lock().unwrap_or_else(PoisonError::into_inner).remove(&epoch);
        }
    }

    /// The recipient for `epoch`, creating its key (durably) on first use.
    ///
    /// # Errors
    /// The key file cannot be written.
    pub fn recipient(&self, epoch: EpochId) -> Result<age::x25519::Recipient, KeyError> {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(id) = keys.get(&epoch) {
            return Ok(id.to_public());
        }
        let identity = age::x25519::Identity::generate();
        let text = Zeroizing::new(format!("{}\n", identity.to_string().expose_secret()));
        self.files.write(&format!("{}.key", epoch.key_id()), text.as_bytes())?;
        sync_dir(self.files.dir())?;
        let recipient = identity.to_public();
        keys.insert(epoch, Arc::new(identity));
        Ok(recipient)
    }

    #[must_use]
    pub fn identity(&self, epoch: EpochId) -> Option<Arc<age::x25519::Identity>> {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&epoch)
            .cloned()
    }

    #[must_use]
    pub fn epochs(&self) -> Vec<EpochId> {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect()
    }

    /// Destroys the epoch's key: zeros over the file, sync, unlink, sync the
    /// directory, drop the identity. Returns whether there was a key.
    ///
    /// # Errors
    /// The file could not be overwritten or removed (the key stays loaded,
    /// so the sweep can try again).
    pub fn destroy(&self, epoch: EpochId) -> Result<bool, KeyError> {
        self.files.shred(&format!("{}.key", epoch.key_id()))?;
        let had = self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&epoch)
            .is_some();
        Ok(had)
    }
}

fn read_identity(files: &KeyFiles, name: &str) -> Result<age::x25519::Identity, KeyError> {
    let raw = files.read(name)?;
    let text = Zeroizing::new(String::from_utf8_lossy(&raw).into_owned());
    text.trim().parse().map_err(|_| KeyError::BadKey {
        file: name.to_owned(),
        reason: "not an age X25519 identity".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_name_and_bound() {
        assert_eq!(EpochId::length_for(7 * 86_400), 86_400);
        assert_eq!(EpochId::length_for(2), 1);
        let e = EpochId::containing(100, 30);
        assert_eq!((e.index, e.end()), (3, 120));
        assert_eq!(EpochId::parse(&e.key_id()), Some(e));
        assert_eq!(EpochId::from_prefix(&e.prefix()), Some(e));
    }

    #[test]
    fn a_destroyed_epoch_key_is_gone_from_disk_and_memory() {
        let dir = tempfile::tempdir().unwrap();
        let files = KeyFiles::plain(dir.path());
        let keys = ScanKeys::load(&files).unwrap();
        let e = EpochId::containing(1_000, 10);
        let r = keys.recipient(e).unwrap();
        let file = age::encrypt(&r, b"scan").unwrap();
        let reloaded = ScanKeys::load(&files).unwrap();
        assert_eq!(
            age::decrypt(reloaded.identity(e).unwrap().as_ref(), &file).unwrap(),
            b"scan"
        );
        assert!(keys.destroy(e).unwrap());
        assert!(keys.identity(e).is_none());
        assert!(!dir.path().join(format!("{}.key", e.key_id())).exists());
        assert!(ScanKeys::load(&files).unwrap().epochs().is_empty());
    }
}

/// The key of one legal hold's preserved scans (`keys/hold-<id>.key`): scans
/// still inside their window when the hold took effect are re-encrypted to it,
/// so the hold does not keep a whole epoch (other applicants' scans) alive.
/// Destroyed when the hold is released.
#[derive(Debug)]
pub struct HoldKeys {
    files: KeyFiles,
}

impl HoldKeys {
    #[must_use]
    pub fn new(files: KeyFiles) -> Self {
        Self { files }
    }

    fn name(hold_id: &str) -> String {
        format!("{hold_id}.key")
    }

    /// Creates the hold's key and returns its recipient.
    ///
    /// # Errors
    /// The key file cannot be written.
    pub fn create(&self, hold_id: &str) -> Result<age::x25519::Recipient, KeyError> {
        let identity = age::x25519::Identity::generate();
        let text = Zeroizing::new(format!("{}\n", identity.to_string().expose_secret()));
        self.files.write(&Self::name(hold_id), text.as_bytes())?;
        sync_dir(self.files.dir())?;
        Ok(identity.to_public())
    }

    /// The hold's identity, while it exists.
    #[must_use]
    pub fn identity(&self, hold_id: &str) -> Option<age::x25519::Identity> {
        let raw = self.files.read_if_exists(&Self::name(hold_id)).ok()??;
        let text = Zeroizing::new(String::from_utf8_lossy(&raw).into_owned());
        text.trim().parse().ok()
    }

    /// Hold ids that still have a key on disk.
    #[must_use]
    pub fn held(&self) -> Vec<String> {
        fs::read_dir(self.files.dir())
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        name.strip_suffix(".key")
                            .filter(|n| n.starts_with("hold_"))
                            .map(str::to_owned)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Destroys the hold's key (zeros, sync, unlink).
    ///
    /// # Errors
    /// The file cannot be destroyed.
    pub fn destroy(&self, hold_id: &str) -> Result<(), KeyError> {
        self.files.shred(&Self::name(hold_id))
    }
}
