//! Every secret file of a keys directory is read and written here, as a
//! plain file or sealed under the seal key (see `seal.rs`): one seam, so a
//! key written while the vault runs is sealed exactly when the keyring is.
//! Also the file primitives under it: owner-only durable writes, reads that
//! refuse loose permissions, zero-filling, and crash-safe shredding.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use super::{KeyError, Secret32};

/// What a sealed file starts with.
pub(crate) const HEADER: &str = "civic-vault sealed key v1\n";

/// Told the name of every key file written while the vault runs (never its
/// bytes): how new keys reach the other nodes of a cluster.
pub type KeyObserver = Arc<dyn Fn(&str) + Send + Sync>;

/// Reads and writes the secret files of a keys directory: as plain files,
/// or sealed under the seal key.
#[derive(Clone)]
pub struct KeyFiles {
    dir: PathBuf,
    seal: Option<Arc<Secret32>>,
    /// Shared by every clone, so the keyring, the scan keys and the issuer
    /// keys all report to the observer set once.
    observer: Arc<OnceLock<KeyObserver>>,
}

impl std::fmt::Debug for KeyFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFiles")
            .field("dir", &self.dir)
            .field("sealed", &self.seal.is_some())
            .finish()
    }
}

impl KeyFiles {
    /// An unsealed keys directory.
    #[must_use]
    pub fn plain(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            seal: None,
            observer: Arc::default(),
        }
    }

    pub(crate) fn sealed_with(dir: &Path, key: Secret32) -> Self {
        Self {
            dir: dir.to_owned(),
            seal: Some(Arc::new(key)),
            observer: Arc::default(),
        }
    }

    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    #[must_use]
    pub fn is_sealed(&self) -> bool {
        self.seal.is_some()
    }

    /// Writes `name` (0600, synced, via a temporary name): sealed when the
    /// keyring is.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write(&self, name: &str, plaintext: &[u8]) -> Result<(), KeyError> {
        write_secret_file(&self.dir.join(name), &self.encode(name, plaintext))?;
        self.notify(name);
        Ok(())
    }

    /// Sets who is told of each key file written from now on (once; a
    /// second observer is refused and `false` returned).
    pub fn observe(&self, observer: KeyObserver) -> bool {
        self.observer.set(observer).is_ok()
    }

    /// Tells the observer, if any, that `name` was written.
    pub(crate) fn notify(&self, name: &str) {
        if let Some(observer) = self.observer.get() {
            observer(name);
        }
    }

    /// Writes a key file received from another node of the cluster exactly
    /// as a local key is written (sealed when this keyring is; the keyring
    /// manifest, which holds no secret, plain), synced, without telling the
    /// observer: a received key is not sent on again.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write_received(&self, name: &str, plaintext: &[u8]) -> Result<(), KeyError> {
        let path = self.dir.join(name);
        if name == super::keyring::MANIFEST {
            write_secret_file(&path, plaintext)?;
        } else {
            write_secret_file(&path, &self.encode(name, plaintext))?;
        }
        sync_dir(&self.dir)
    }

    /// What a key file holds, opened, for sending to another node (the
    /// keyring manifest as it is); `None` when it is gone.
    ///
    /// # Errors
    /// See [`KeyFiles::read_if_exists`].
    pub fn read_for_peer(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeyError> {
        if name == super::keyring::MANIFEST {
            let path = self.dir.join(name);
            return if path.exists() {
                read_secret_bytes(&path).map(Some)
            } else {
                Ok(None)
            };
        }
        self.read_if_exists(name)
    }

    /// Writes a file that is not secret (a public key), never sealed, but
    /// like every file here readable by its owner only.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write_public(&self, name: &str, bytes: &[u8]) -> Result<(), KeyError> {
        write_secret_file(&self.dir.join(name), bytes)
    }

    pub(crate) fn encode(&self, name: &str, plaintext: &[u8]) -> Zeroizing<Vec<u8>> {
        match &self.seal {
            None => Zeroizing::new(plaintext.to_vec()),
            Some(key) => {
                let sealed = super::seal(key, &aad(name), plaintext);
                Zeroizing::new(format!("{HEADER}{}\n", STANDARD.encode(sealed)).into_bytes())
            }
        }
    }

    /// Reads `name`; `None` when there is no such file.
    ///
    /// # Errors
    /// Loose permissions, a sealed file in a plain keyring or the reverse,
    /// or a sealed file that does not open (altered, or renamed).
    pub fn read_if_exists(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeyError> {
        let path = self.dir.join(name);
        if !path.exists() {
            return Ok(None);
        }
        let raw = read_secret_bytes(&path)?;
        let bad = |reason: &str| KeyError::BadKey {
            file: name.to_owned(),
            reason: reason.to_owned(),
        };
        let is_sealed = raw.starts_with(HEADER.as_bytes());
        match (&self.seal, is_sealed) {
            (None, false) => Ok(Some(raw)),
            (None, true) => Err(bad("sealed, but the keyring is opened unsealed")),
            (Some(_), false) => Err(bad("not sealed, in a sealed keyring")),
            (Some(key), true) => {
                let body = std::str::from_utf8(&raw[HEADER.len()..]).map_err(|_| bad("not a sealed key file"))?;
                let sealed = STANDARD.decode(body.trim()).map_err(|_| bad("not a sealed key file"))?;
                super::open(key, &aad(name), &sealed)
                    .map(|p| Some(Zeroizing::new(p)))
                    .map_err(|_| bad("does not open under this seal (altered, or moved from another name)"))
            }
        }
    }

    /// Reads `name`, which must exist.
    ///
    /// # Errors
    /// See [`KeyFiles::read_if_exists`]; also a missing file.
    pub fn read(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        self.read_if_exists(name)?.ok_or_else(|| KeyError::BadKey {
            file: name.to_owned(),
            reason: "missing".into(),
        })
    }

    /// Destroys `name` (rename, zeros, sync, unlink).
    ///
    /// # Errors
    /// The file cannot be destroyed.
    pub fn shred(&self, name: &str) -> Result<(), KeyError> {
        shred_file(&self.dir, &self.dir.join(name))
    }
}

fn aad(name: &str) -> Vec<u8> {
    let mut a = b"civic-vault key file\0".to_vec();
    a.extend_from_slice(name.as_bytes());
    a
}

/// Destroys a key file. First it is renamed to `<name>.shred` (atomic: from
/// then on no loader sees it as a key), then overwritten with zeros, synced
/// and unlinked, and the directory synced. A crash part-way leaves at most a
/// `.shred` file, which [`finish_shredding`] completes at the next start.
pub(crate) fn shred_file(dir: &Path, path: &Path) -> Result<(), KeyError> {
    let io = |e: std::io::Error| KeyError::Io {
        dir: path.display().to_string(),
        reason: e.to_string(),
    };
    let doomed = path.with_extension("shred");
    if path.exists() {
        fs::rename(path, &doomed).map_err(io)?;
        sync_dir(dir)?;
    }
    destroy_doomed(dir, &doomed)
}

/// Overwrites, syncs and unlinks a `.shred` file, if it is there.
fn destroy_doomed(dir: &Path, doomed: &Path) -> Result<(), KeyError> {
    let io = |e: std::io::Error| KeyError::Io {
        dir: doomed.display().to_string(),
        reason: e.to_string(),
    };
    if doomed.exists() {
        zero_fill(doomed, 128)?;
        fs::remove_file(doomed).map_err(io)?;
        sync_dir(dir)?;
    }
    Ok(())
}

/// Writes zeros over a file's bytes (at least `min_len` of them) and syncs,
/// so what it held is not left in its blocks.
pub(crate) fn zero_fill(path: &Path, min_len: usize) -> Result<(), KeyError> {
    let io = |e: std::io::Error| KeyError::Io {
        dir: path.display().to_string(),
        reason: e.to_string(),
    };
    let len = usize::try_from(fs::metadata(path).map_err(io)?.len()).unwrap_or(0);
    let mut f = OpenOptions::new().write(true).open(path).map_err(io)?;
    f.write_all(&vec![0u8; len.max(min_len)]).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Syncs a directory, so renames and unlinks in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), KeyError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| KeyError::Io {
            dir: dir.display().to_string(),
            reason: e.to_string(),
        })
}

/// Completes destructions a crash interrupted (`*.shred` files), and
/// destroys the half-written files of writes a crash interrupted (`*.tmp`:
/// [`write_secret_file`] renames its temporary file into place as its commit
/// point, so a `.tmp` file is a key that never came into use — a KEK
/// generated by a rotation killed mid-write, say — and must not linger).
/// Callers hold the keys lock, so no write is in progress.
pub(crate) fn finish_shredding(dir: &Path) -> Result<(), KeyError> {
    let Ok(entries) = fs::read_dir(dir) else { return Ok(()) };
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_some_and(|x| x == "shred" || x == "tmp") {
            destroy_doomed(dir, &path)?;
        }
    }
    Ok(())
}

/// Writes a file readable by its owner only, durably, via a temporary name.
///
/// # Errors
/// The file cannot be written.
pub fn write_secret_file(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let io = |e: std::io::Error| KeyError::Io {
        dir: path.display().to_string(),
        reason: e.to_string(),
    };
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

pub(crate) fn read_secret_file(path: &Path) -> Result<String, KeyError> {
    let bytes = read_secret_bytes(path)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| KeyError::BadKey {
        file: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        reason: "not UTF-8".into(),
    })
}

/// Reads a file that must be readable by its owner only.
pub(crate) fn read_secret_bytes(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let meta = fs::metadata(path).map_err(|e| KeyError::BadKey {
        file: name.clone(),
        reason: e.to_string(),
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(KeyError::BadKey {
            file: name,
            reason: "readable by group or others; chmod 600 it".into(),
        });
    }
    fs::read(path).map(Zeroizing::new).map_err(|e| KeyError::BadKey {
        file: name,
        reason: e.to_string(),
    })
}
