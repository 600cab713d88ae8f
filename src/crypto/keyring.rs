//! The keyring on disk: one file per key under the keys directory, named by
//! its id, plus `keyring.toml` naming the active id of each kind. Ids let a
//! key be rotated later without rewriting what names the old one.
//!
//! ```text
//! keys/
//!   keyring.toml            active ids (no secrets)
//!   kek-<id>.key            key-encryption key: wraps per-cardholder data keys
//!   blind-<id>.key          HMAC key: document commitments and card ids
//!   subject-<id>.key        HMAC key: audit subjects
//!   attest-<id>.key         Ed25519 seed: signs fact attestations
//!   admin.token             bootstrap admin token (first start only)
//!   seal.toml               present when the keys are sealed (see `seal.rs`)
//! ```
//!
//! Every secret file is read and written through [`KeyFiles`]: plain, or
//! sealed under the seal key.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::key_files::{finish_shredding, read_secret_file, sync_dir, write_secret_file, KeyFiles};
use super::{new_token, token_hash, BlindIndex, Secret32, SubjectHasher, TokenHash};

/// The keyring manifest: the active id of each kind, no secret.
pub const MANIFEST: &str = "keyring.toml";
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// Files that may sit in an otherwise empty keys directory.
const HARMLESS: &[&str] = &["README.md", ".gitignore", ".lock"];

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("keys directory {dir}: {reason}")]
    Io { dir: String, reason: String },
    #[error("key file {file}: {reason}")]
    BadKey { file: String, reason: String },
    #[error("keys directory {0} holds files but no keyring.toml; refusing to generate new keys over them")]
    NotAKeyring(String),
    #[error("seal: {0}")]
    Seal(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    version: u32,
    kek: String,
    /// Written by early versions, which kept one photo key for all photos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    photo: Option<String>,
    blind_index: String,
    audit_subject: String,
    attestation: String,
    /// The attestation key this keyring was made with, once it has been
    /// rotated: the keyring's fingerprint (stored with the data) keeps
    /// naming it, so a rotation is not a change of keyring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attestation_first: Option<String>,
    /// Attestation keys rotated out: their public keys stay published until
    /// the last attestation they signed has expired (no secret here: the
    /// seed is destroyed at rotation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    attestation_retired: Vec<RetiredAttestation>,
}

/// A retired attestation key: its id, public key and until when verifiers
/// may still meet an attestation it signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetiredAttestation {
    pub id: String,
    /// The Ed25519 public key, base64url without padding (a JWK's `x`).
    pub x: String,
    /// Unix seconds after which no attestation it signed is still valid.
    pub until: i64,
}

#[derive(Debug)]
struct Keks {
    active: String,
    keys: HashMap<String, Arc<Secret32>>,
}

/// Every key the vault holds in memory while it runs.
#[derive(Debug)]
pub struct Keyring {
    pub dir: PathBuf,
    /// How the secret files are read and written (plain or sealed).
    pub files: KeyFiles,
    /// The key-encryption keys: the active one, and older ones until the
    /// rotation that rewraps their data keys destroys them.
    keks: RwLock<Keks>,
    manifest: Mutex<Manifest>,
    pub blind: BlindIndex,
    pub subjects: SubjectHasher,
    /// The active attestation key (id and seed).
    attestation: RwLock<(String, Arc<Secret32>)>,
    /// Destruction-epoch keys for document scans.
    pub scans: super::ScanKeys,
    /// Keys of scans preserved by legal holds.
    pub holds: super::HoldKeys,
    /// True when this start generated the keyring.
    pub created: bool,
}

impl Keyring {
    /// Loads the keyring, or creates every key on first start with an empty
    /// (or missing) keys directory. Key files are written 0600, the directory 0700.
    ///
    /// # Errors
    /// Unreadable or malformed key files, loose permissions, or a non-empty
    /// directory that is not a keyring.
    pub fn open_or_create(dir: &Path) -> Result<Self, KeyError> {
        if super::seal::state(dir)?.is_some() {
            return Err(KeyError::Seal(
                "the keys are sealed: unseal them (passphrase file in config, or shares at POST /v1/unseal)".into(),
            ));
        }
        Self::open_files(KeyFiles::plain(dir))
    }

    /// Loads the keyring `files` reaches (plain, or sealed and opened),
    /// creating every key on first start with an empty (or missing)
    /// directory.
    ///
    /// # Errors
    /// As [`Keyring::open_or_create`].
    pub fn open_files(files: KeyFiles) -> Result<Self, KeyError> {
        if !is_keyring(files.dir()) {
            Self::create_in(&files)?;
            let mut ring = Self::load(files)?;
            ring.created = true;
            return Ok(ring);
        }
        Self::load(files)
    }

    /// Generates every key into an empty (or missing) directory.
    ///
    /// # Errors
    /// The directory holds other files, or a key cannot be written.
    pub(crate) fn create_in(files: &KeyFiles) -> Result<(), KeyError> {
        let dir = files.dir();
        let io = |e: std::io::Error| KeyError::Io {
            dir: dir.display().to_string(),
            reason: e.to_string(),
        };
        fs::create_dir_all(dir).map_err(io)?;
        let foreign = fs::read_dir(dir).map_err(io)?.filter_map(Result::ok).any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let sealing = files.is_sealed() && name == super::seal::SEAL_FILE;
            !(HARMLESS.contains(&name.as_str()) || sealing)
        });
        if foreign {
            return Err(KeyError::NotAKeyring(dir.display().to_string()));
        }
        generate(files)
    }

    fn load(files: KeyFiles) -> Result<Self, KeyError> {
        let dir = files.dir().to_owned();
        let dir = dir.as_path();
        finish_shredding(dir)?;
        let manifest_text = read_secret_file(&dir.join(MANIFEST))?;
        let manifest: Manifest = toml::from_str(&manifest_text).map_err(|e| KeyError::BadKey {
            file: MANIFEST.into(),
            reason: e.message().to_owned(),
        })?;
        // Every kek-*.key on disk stays usable, so data
        // written under an older (rotated) key can still be read.
        let mut keks = HashMap::new();
        for entry in fs::read_dir(dir).map_err(|e| KeyError::Io {
            dir: dir.display().to_string(),
            reason: e.to_string(),
        })? {
            let Ok(entry) = entry else { continue };
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".key") else { continue };
            if id.starts_with("kek-") {
                keks.insert(id.to_owned(), Arc::new(read_key32(&files, &name)?));
            }
        }
        let missing = |id: &str| KeyError::BadKey {
            file: format!("{id}.key"),
            reason: "named active in keyring.toml but missing".into(),
        };
        if !keks.contains_key(&manifest.kek) {
            return Err(missing(&manifest.kek));
        }
        Ok(Self {
            dir: dir.to_owned(),
            keks: RwLock::new(Keks {
                active: manifest.kek.clone(),
                keys: keks,
            }),
            manifest: Mutex::new(manifest.clone()),
            blind: BlindIndex::new(
                manifest.blind_index.clone(),
                read_key32(&files, &format!("{}.key", manifest.blind_index))?,
            ),
            subjects: SubjectHasher::new(
                manifest.audit_subject.clone(),
                read_key32(&files, &format!("{}.key", manifest.audit_subject))?,
            ),
            attestation: RwLock::new((
                manifest.attestation.clone(),
                Arc::new(read_key32(&files, &format!("{}.key", manifest.attestation))?),
            )),
            scans: super::ScanKeys::load(&files)?,
            holds: super::HoldKeys::new(files.clone()),
            files,
            created: false,
        })
    }

    /// The active key-encryption key.
    #[must_use]
    pub fn active_kek(&self) -> (String, Arc<Secret32>) {
        let keks = self.keks.read().unwrap_or_else(PoisonError::into_inner);
        // load() checked that the active id is present, and rotation only
        // ever makes a key active after inserting it.
        let key = keks
            .keys
            .get(&keks.active)
            .cloned()
            .unwrap_or_else(|| Arc::new(Secret32::from_bytes([0; 32])));
        (keks.active.clone(), key)
    }

    #[must_use]
    pub fn kek(&self, id: &str) -> Option<Arc<Secret32>> {
        self.keks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys
            .get(id)
            .cloned()
    }

    /// Ids of every KEK held, active or not.
    #[must_use]
    pub fn kek_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .keks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys
            .keys()
            .cloned()
            .collect();
        ids.sort();
        ids
    }

    /// Creates a new KEK and makes it active (durably, in keyring.toml).
    /// Older KEKs stay until [`Keyring::destroy_kek`].
    ///
    /// # Errors
    /// The key file or the manifest cannot be written.
    pub fn rotate_kek(&self) -> Result<String, KeyError> {
        let mut manifest = self.manifest.lock().unwrap_or_else(PoisonError::into_inner);
        let id = new_id("kek");
        let key = Secret32::random();
        let encoded = Zeroizing::new(STANDARD.encode(key.expose()));
        self.files.write(&format!("{id}.key"), encoded.as_bytes())?;
        let mut next = manifest.clone();
        next.kek.clone_from(&id);
        write_manifest(&self.dir, &next)?;
        self.files.notify(MANIFEST);
        *manifest = next;
        let mut keks = self.keks.write().unwrap_or_else(PoisonError::into_inner);
        keks.keys.insert(id.clone(), Arc::new(key));
        keks.active.clone_from(&id);
        Ok(id)
    }

    /// Destroys a KEK that is no longer active: its file is overwritten,
    /// synced and unlinked, and the key dropped from memory (zeroized).
    ///
    /// # Errors
    /// It is the active KEK, or the file cannot be destroyed.
    pub fn destroy_kek(&self, id: &str) -> Result<bool, KeyError> {
        if self.keks.read().unwrap_or_else(PoisonError::into_inner).active == id {
            return Err(KeyError::BadKey {
                file: format!("{id}.key"),
                reason: "the active KEK cannot be destroyed".into(),
            });
        }
        self.files.shred(&format!("{id}.key"))?;
        Ok(self
            .keks
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .keys
            .remove(id)
            .is_some())
    }

    /// The active attestation key: its id and the Ed25519 seed that signs.
    #[must_use]
    pub fn attestation(&self) -> (String, Arc<Secret32>) {
        self.attestation.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Hash of the bootstrap admin token, if its file is still present.
    ///
    /// # Errors
    /// The file exists but cannot be read.
    pub fn admin_token_hash(&self) -> Result<Option<TokenHash>, KeyError> {
        let Some(bytes) = self.files.read_if_exists(ADMIN_TOKEN_FILE)? else {
            return Ok(None);
        };
        let token = Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
        Ok(Some(token_hash(token.trim())))
    }

    /// A short, non-secret fingerprint of which keys these are, stored with
    /// the data so that starting with the wrong keys directory is refused.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        let manifest = self.manifest.lock().unwrap_or_else(PoisonError::into_inner);
        let attestation = manifest.attestation_first.as_ref().unwrap_or(&manifest.attestation);
        format!("{}/{}/{}", self.blind.id, self.subjects.id, attestation)
    }
}

fn new_id(prefix: &str) -> String {
    let mut b = [0u8; 4];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("{prefix}-{}", hex::encode(b))
}

/// True when `dir` holds a keyring (its `keyring.toml`).
pub(crate) fn is_keyring(dir: &Path) -> bool {
    dir.join(MANIFEST).exists()
}

fn generate(files: &KeyFiles) -> Result<(), KeyError> {
    let dir = files.dir();
    let io = |e: std::io::Error| KeyError::Io {
        dir: dir.display().to_string(),
        reason: e.to_string(),
    };
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
    let manifest = Manifest {
        version: 1,
        kek: new_id("kek"),
        photo: None,
        blind_index: new_id("blind"),
        audit_subject: new_id("subject"),
        attestation: new_id("attest"),
        attestation_first: None,
        attestation_retired: Vec::new(),
    };
    for id in [
        &manifest.kek,
        &manifest.blind_index,
        &manifest.audit_subject,
        &manifest.attestation,
    ] {
        let key = Secret32::random();
        let encoded = Zeroizing::new(STANDARD.encode(key.expose()));
        files.write(&format!("{id}.key"), encoded.as_bytes())?;
    }
    let token = new_token();
    files.write(ADMIN_TOKEN_FILE, format!("{}\n", token.as_str()).as_bytes())?;
    // The manifest is written last: a crash part-way leaves no keyring.toml,
    // and the next start regenerates instead of running on half a keyring.
    write_manifest(dir, &manifest)?;
    sync_dir(dir)
}

fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), KeyError> {
    let body = toml::to_string(manifest).map_err(|e| KeyError::BadKey {
        file: MANIFEST.into(),
        reason: e.to_string(),
    })?;
    let text = format!("# civic-vault keyring: the active key of each kind. Generated; keep with the keys.\n{body}");
    write_secret_file(&dir.join(MANIFEST), text.as_bytes())?;
    sync_dir(dir)
}

fn read_key32(files: &KeyFiles, name: &str) -> Result<Secret32, KeyError> {
    let raw = files.read(name)?;
    let text = Zeroizing::new(String::from_utf8_lossy(&raw).into_owned());
    let mut bytes = Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| KeyError::BadKey {
        file: name.to_owned(),
        reason: "not base64".into(),
    })?);
    let arr: [u8; 32] = bytes.as_slice().try_into().map_err(|_| KeyError::BadKey {
        file: name.to_owned(),
        reason: "not 32 bytes".into(),
    })?;
    zeroize::Zeroize::zeroize(&mut *bytes);
    Ok(Secret32::from_bytes(arr))
}

mod adopt;
mod attestation;
pub use adopt::check_received_manifest;

#[cfg(test)]
#[path = "keyring_tests.rs"]
mod tests;
