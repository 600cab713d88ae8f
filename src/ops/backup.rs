//! Backup and restore of a stopped vault's data directory: every sled tree
//! and the audit checkpoint file, streamed into one age file encrypted to an
//! operator's X25519 recipient. The plaintext is framed records ending in a
//! trailer with the record count and the sha256 of everything before it, so
//! a backup can be verified without restoring it, and a restore that does
//! not verify leaves nothing behind.
//!
//! Plain keys are never in the archive (they are backed up apart from
//! data, see keys/README.md). Sealed keys may be: `--keys` adds every file
//! of a sealed keys directory, still sealed, so the archive needs both the
//! backup identity and the seal's passphrase or shares. Destroyed data stays destroyed: a cardholder record in
//! a backup is wrapped under the KEK of its day, and the KEK rotation that
//! follows an erasure destroys that KEK, so the restored record cannot be
//! opened — nor can any other record of a backup older than that rotation.

use std::io::{BufReader, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

const MAGIC: &[u8] = b"civic-vault backup v1\n";
const TREE: u8 = 1;
const FILE: u8 = 2;
const END: u8 = 0;
/// Upper bound on one framed field, against a corrupt or hostile archive.
const MAX_FIELD: u32 = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Io(String),
    #[error("the data directory is in use (stop the vault first) or unreadable: {0}")]
    Store(String),
    #[error("the archive does not decrypt with this identity: {0}")]
    Decrypt(String),
    #[error("the archive is damaged: {0}")]
    Damaged(String),
    #[error("{0} is not empty: restore only into an empty directory")]
    NotEmpty(String),
}

fn io(e: impl std::fmt::Display) -> BackupError {
    BackupError::Io(e.to_string())
}

/// Writes a new age identity for backups to `out` (mode 0600, never
/// overwriting) and returns its recipient (`age1...`).
///
/// # Errors
/// The file exists or cannot be written.
pub fn keygen(out: &Path) -> Result<String, String> {
    use age::secrecy::ExposeSecret;
    use std::os::unix::fs::OpenOptionsExt;
    let id = age::x25519::Identity::generate();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| format!("{}: {}", out.display(), e.kind()))?;
    writeln!(f, "# civic-vault backup identity; public: {}", id.to_public())
        .and_then(|()| writeln!(f, "{}", id.to_string().expose_secret()))
        .map_err(|e| e.to_string())?;
    Ok(id.to_public().to_string())
}

/// Reads the age X25519 identity in an identity file.
///
/// # Errors
/// The file cannot be read or holds no identity.
pub fn read_identity(path: &Path) -> Result<age::x25519::Identity, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {}", path.display(), e.kind()))?;
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| format!("{}: no age X25519 identity in it", path.display()))
}

/// What an archive holds.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Manifest {
    pub trees: usize,
    pub records: u64,
    pub files: usize,
    /// Files of a sealed keys directory in the archive.
    pub key_files: usize,
    pub bytes: u64,
    pub digest: String,
}

/// Writes and hashes at once.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Hashing<W> {
    fn put(&mut self, data: &[u8]) -> Result<(), BackupError> {
        self.hash.update(data);
        self.bytes += data.len() as u64;
        self.inner.write_all(data).map_err(io)
    }

    fn field(&mut self, data: &[u8]) -> Result<(), BackupError> {
        let len = u32::try_from(data.len()).map_err(|_| BackupError::Io("a value over 4 GiB".into()))?;
        self.put(&len.to_be_bytes())?;
        self.put(data)
    }
}

const KEYS_PREFIX: &str = "keys/";

/// The files of a sealed keys directory, for the archive.
fn sealed_key_files(keys_dir: &Path) -> Result<Vec<(String, Vec<u8>)>, BackupError> {
    match crate::crypto::seal::state(keys_dir) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Err(BackupError::Io(format!(
                "{} is not sealed: plain keys never go into a backup (seal them, or back them up apart)",
                keys_dir.display()
            )))
        }
        Err(e) => return Err(BackupError::Io(e.to_string())),
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(keys_dir).map_err(io)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_file() && !name.starts_with('.') {
            out.push((name, std::fs::read(e.path()).map_err(io)?));
        }
    }
    out.sort();
    Ok(out)
}

/// Backs up `data_dir` (and, when given, a sealed `keys_dir`) into `out`,
/// encrypted to `recipient`.
///
/// # Errors
/// The store is in use or unreadable, the keys are not sealed, or the
/// archive cannot be written.
pub fn backup(
    data_dir: &Path,
    keys_dir: Option<&Path>,
    out: &Path,
    recipient: &age::x25519::Recipient,
) -> Result<Manifest, BackupError> {
    // The archive and a restored store are owner-only, like the store itself.
    crate::vault::owner_only_umask();
    let keys = keys_dir.map(sealed_key_files).transpose()?.unwrap_or_default();
    let db = sled::Config::new()
        .path(data_dir)
        .open()
        .map_err(|e| BackupError::Store(e.to_string()))?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(|e| BackupError::Io(format!("{}: {e}", out.display())))?;
    let encryptor = age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient)).map_err(io)?;
    let writer = encryptor.wrap_output(std::io::BufWriter::new(file)).map_err(io)?;
    let mut w = Hashing {
        inner: writer,
        hash: Sha256::new(),
        bytes: 0,
    };
    let mut m = Manifest::default();
    w.put(MAGIC)?;
    for name in db.tree_names() {
        let tree = db.open_tree(&name).map_err(|e| BackupError::Store(e.to_string()))?;
        m.trees += 1;
        for kv in &tree {
            let (k, v) = kv.map_err(|e| BackupError::Store(e.to_string()))?;
            w.put(&[TREE])?;
            w.field(&name)?;
            w.field(&k)?;
            w.field(&v)?;
            m.records += 1;
        }
    }
    let checkpoints = data_dir.join(crate::vault::checkpoints::FILE);
    if let Ok(text) = std::fs::read(&checkpoints) {
        w.put(&[FILE])?;
        w.field(crate::vault::checkpoints::FILE.as_bytes())?;
        w.field(&text)?;
        m.files += 1;
    }
    for (name, content) in keys {
        w.put(&[FILE])?;
        w.field(format!("{KEYS_PREFIX}{name}").as_bytes())?;
        w.field(&content)?;
        m.key_files += 1;
    }
    w.put(&[END])?;
    w.put(&m.records.to_be_bytes())?;
    let digest: [u8; 32] = w.hash.clone().finalize().into();
    w.inner.write_all(&digest).map_err(io)?;
    let mut inner = w.inner.finish().map_err(io)?;
    inner.flush().map_err(io)?;
    inner.into_inner().map_err(io)?.sync_all().map_err(io)?;
    m.bytes = w.bytes;
    m.digest = format!("sha256:{}", hex::encode(digest));
    Ok(m)
}

/// Reads one archive, calling `sink` for each tree record and file; checks
/// the trailer.
fn read_archive(
    archive: &Path,
    identity: &age::x25519::Identity,
    mut sink: impl FnMut(u8, &[u8], &[u8], &[u8]) -> Result<(), BackupError>,
) -> Result<Manifest, BackupError> {
    let file = std::fs::File::open(archive).map_err(|e| BackupError::Io(format!("{}: {e}", archive.display())))?;
    let decryptor = age::Decryptor::new(BufReader::new(file)).map_err(|e| BackupError::Decrypt(e.to_string()))?;
    let reader = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| BackupError::Decrypt(e.to_string()))?;
    let mut r = BufReader::new(reader);
    let mut hash = Sha256::new();
    let mut bytes = 0u64;
    let mut read = |n: usize, hash: &mut Sha256, bytes: &mut u64| -> Result<Vec<u8>, BackupError> {
        let mut buf = vec![0u8; n];
        r.read_exact(&mut buf)
            .map_err(|e| BackupError::Damaged(format!("truncated ({e})")))?;
        hash.update(&buf);
        *bytes += n as u64;
        Ok(buf)
    };
    if read(MAGIC.len(), &mut hash, &mut bytes)? != MAGIC {
        return Err(BackupError::Damaged("not a civic-vault backup".into()));
    }
    let mut m = Manifest::default();
    let mut last_tree: Vec<u8> = Vec::new();
    loop {
        let kind = read(1, &mut hash, &mut bytes)?[0];
        if kind == END {
            break;
        }
        let mut field = |hash: &mut Sha256, bytes: &mut u64| -> Result<Vec<u8>, BackupError> {
            let len = u32::from_be_bytes(read(4, hash, bytes)?.try_into().unwrap_or([0xFF; 4]));
            if len > MAX_FIELD {
                return Err(BackupError::Damaged("a field over the size limit".into()));
            }
            read(len as usize, hash, bytes)
        };
        match kind {
            TREE => {
                let (name, k, v) = (
                    field(&mut hash, &mut bytes)?,
                    field(&mut hash, &mut bytes)?,
                    field(&mut hash, &mut bytes)?,
                );
                if name != last_tree {
                    m.trees += 1;
                    last_tree.clone_from(&name);
                }
                m.records += 1;
                sink(TREE, &name, &k, &v)?;
            }
            FILE => {
                let (name, content) = (field(&mut hash, &mut bytes)?, field(&mut hash, &mut bytes)?);
                if name.starts_with(KEYS_PREFIX.as_bytes()) {
                    m.key_files += 1;
                } else {
                    m.files += 1;
                }
                sink(FILE, &name, &[], &content)?;
            }
            _ => return Err(BackupError::Damaged("an unknown record kind".into())),
        }
    }
    let count = u64::from_be_bytes(read(8, &mut hash, &mut bytes)?.try_into().unwrap_or([0; 8]));
    let expected: [u8; 32] = hash.finalize().into();
    let mut recorded = [0u8; 32];
    r.read_exact(&mut recorded)
        .map_err(|_| BackupError::Damaged("no trailer".into()))?;
    if recorded != expected || count != m.records {
        return Err(BackupError::Damaged(
            "the digest or the record count does not match".into(),
        ));
    }
    let mut rest = [0u8; 1];
    if r.read(&mut rest).map_err(io)? != 0 {
        return Err(BackupError::Damaged("data after the trailer".into()));
    }
    m.bytes = bytes;
    m.digest = format!("sha256:{}", hex::encode(recorded));
    Ok(m)
}

/// Decrypts and checks an archive without restoring it.
///
/// # Errors
/// It does not decrypt, or is damaged.
pub fn verify(archive: &Path, identity: &age::x25519::Identity) -> Result<Manifest, BackupError> {
    read_archive(archive, identity, |_, _, _, _| Ok(()))
}

fn is_empty_or_absent(dir: &Path) -> Result<bool, BackupError> {
    Ok(!dir.exists() || std::fs::read_dir(dir).map_err(io)?.next().is_none())
}

fn empty_again(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            let _ = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
        }
    }
}

/// A key file name from the archive: a plain file name, nothing that
/// reaches outside the keys directory.
fn key_file_name(name: &str) -> Option<&str> {
    let n = name.strip_prefix(KEYS_PREFIX)?;
    let ok =
        !n.is_empty() && n != "." && n != ".." && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    ok.then_some(n)
}

/// Restores an archive into `data_dir` (and its sealed keys, if it holds
/// any and `keys_dir` is given, into `keys_dir`); each must be empty or
/// absent. On any failure both are left empty.
///
/// # Errors
/// A directory is not empty, the archive does not decrypt or is damaged.
pub fn restore(
    archive: &Path,
    identity: &age::x25519::Identity,
    data_dir: &Path,
    keys_dir: Option<&Path>,
) -> Result<Manifest, BackupError> {
    crate::vault::owner_only_umask();
    if !is_empty_or_absent(data_dir)? {
        return Err(BackupError::NotEmpty(data_dir.display().to_string()));
    }
    if let Some(k) = keys_dir {
        if !is_empty_or_absent(k)? {
            return Err(BackupError::NotEmpty(k.display().to_string()));
        }
    }
    let result = (|| {
        // No background flusher: it holds the database (and its file lock)
        // for a moment after the drop below, and the restored chain is
        // verified right after by a second open, which then found the lock
        // taken now and then. This writer flushes once, at the end.
        let db = sled::Config::new()
            .path(data_dir)
            .flush_every_ms(None)
            .open()
            .map_err(|e| BackupError::Store(e.to_string()))?;
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        let mut key_files: Vec<(String, Vec<u8>)> = Vec::new();
        let m = read_archive(archive, identity, |kind, name, k, v| {
            if kind == FILE {
                let name = String::from_utf8_lossy(name).into_owned();
                if let Some(key) = key_file_name(&name) {
                    key_files.push((key.to_owned(), v.to_vec()));
                    return Ok(());
                }
                if name != crate::vault::checkpoints::FILE {
                    return Err(BackupError::Damaged("an unexpected file".into()));
                }
                files.push((name, v.to_vec()));
                return Ok(());
            }
            let tree = db.open_tree(name).map_err(|e| BackupError::Store(e.to_string()))?;
            tree.insert(k, v).map_err(|e| BackupError::Store(e.to_string()))?;
            Ok(())
        })?;
        db.flush().map_err(|e| BackupError::Store(e.to_string()))?;
        drop(db);
        for (name, content) in files {
            std::fs::write(data_dir.join(name), content).map_err(io)?;
        }
        if let Some(k) = keys_dir {
            if !key_files.is_empty() {
                use std::os::unix::fs::PermissionsExt;
                std::fs::create_dir_all(k).map_err(io)?;
                std::fs::set_permissions(k, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
                for (name, content) in key_files {
                    crate::crypto::write_secret_file(&k.join(name), &content).map_err(io)?;
                }
            }
        }
        Ok(m)
    })();
    if result.is_err() {
        // Nothing half-written: empty the directories again.
        empty_again(data_dir);
        if let Some(k) = keys_dir {
            empty_again(k);
        }
    }
    result
}
