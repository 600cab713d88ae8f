//! Signed audit checkpoints, kept outside sled: every `checkpoint_every`
//! entries or `checkpoint_interval` (whichever first, when the chain grew),
//! the chain head (sequence number and hash) is signed with an Ed25519 key
//! of its own and appended to `<data_dir>/audit-checkpoints.jsonl` (fsynced)
//! and to the log. Removing the newest entries from the store then no
//! longer verifies: the chain is shorter than a signed checkpoint, or its
//! hash at a checkpoint's sequence number differs.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The file, in the data directory.
pub const FILE: &str = "audit-checkpoints.jsonl";
/// The signing key, in the keys directory (sealed when the keys are).
pub const KEY_FILE: &str = "checkpoint.key";
/// Its public key, beside it and never sealed, so `audit verify --keys`
/// pins the key without unsealing anything.
pub const PUBLIC_FILE: &str = "checkpoint.pub";

/// One line of the checkpoint file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub seq: u64,
    pub head: String,
    pub at: String,
    /// base64url Ed25519 public key that signed it.
    pub key: String,
    /// base64url signature over [`message`].
    pub signature: String,
}

/// What is signed: a domain-separated statement of the head.
#[must_use]
pub fn message(seq: u64, head: &str, at: &str) -> Vec<u8> {
    format!("civic-vault audit checkpoint v1\n{seq}\n{head}\n{at}\n").into_bytes()
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("checkpoint line {line}: {reason}")]
    Bad { line: usize, reason: String },
}

fn io(path: &Path, e: &std::io::Error) -> CheckpointError {
    CheckpointError::Io {
        path: path.display().to_string(),
        reason: e.kind().to_string(),
    }
}

/// Signs and appends checkpoints.
pub struct Checkpointer {
    key: SigningKey,
    path: PathBuf,
    /// The newest checkpoint signed since start: its sequence number and time.
    last: std::sync::Mutex<Option<(u64, String)>>,
}

impl Checkpointer {
    /// Loads `checkpoint.key` through `files`, creating it (mode 0600,
    /// sealed when the keys are) on first use, and writes `checkpoint.pub`.
    ///
    /// # Errors
    /// The key cannot be read or written, or is not 32 bytes.
    pub fn open(files: &crate::crypto::KeyFiles, data_dir: &Path) -> Result<Self, CheckpointError> {
        let key_path = files.dir().join(KEY_FILE);
        let key_err = |reason: String| CheckpointError::Io {
            path: key_path.display().to_string(),
            reason,
        };
        let key = match files.read_if_exists(KEY_FILE).map_err(|e| key_err(e.to_string()))? {
            Some(bytes) => {
                let seed: [u8; 32] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| key_err("not a 32-byte key".into()))?;
                SigningKey::from_bytes(&seed)
            }
            None => {
                let key = SigningKey::generate(&mut rand::rngs::OsRng);
                files
                    .write(KEY_FILE, &key.to_bytes())
                    .map_err(|e| key_err(e.to_string()))?;
                key
            }
        };
        let public = format!("{}\n", URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()));
        let public_path = files.dir().join(PUBLIC_FILE);
        if std::fs::read_to_string(&public_path).ok().as_deref() != Some(public.as_str()) {
            files
                .write_public(PUBLIC_FILE, public.as_bytes())
                .map_err(|e| key_err(e.to_string()))?;
        }
        Ok(Self {
            key,
            path: data_dir.join(FILE),
            last: std::sync::Mutex::new(None),
        })
    }

    /// The key itself, for the tree's signed-note checkpoints (the same
    /// Ed25519 key, named after the log's origin).
    #[must_use]
    pub fn signing_key(&self) -> SigningKey {
        self.key.clone()
    }

    /// The newest checkpoint signed since start (sequence number, RFC 3339 time).
    #[must_use]
    pub fn last_signed(&self) -> Option<(u64, String)> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    #[must_use]
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Signs `store`'s chain head at `at` (RFC 3339), if there is one, and
    /// returns its sequence number. Blocking: it flushes the store first,
    /// because only what is durable may be signed — a checkpoint ahead of
    /// the disk would make a crash look like removed entries.
    pub fn sign_head(&self, store: &crate::store::AnyStore, at: &str) -> Option<u64> {
        use crate::domain::store::Store;
        let (seq, head) = store.audit_head().ok()?;
        if seq == 0 {
            return None;
        }
        store.flush().ok()?;
        match self.write(seq, &head, at) {
            Ok(_) => Some(seq),
            Err(e) => {
                tracing::error!(error = %e, "audit checkpoint could not be written");
                None
            }
        }
    }

    /// Signs the head and appends it (fsynced) to the file.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write(&self, seq: u64, head: &str, at: &str) -> Result<Checkpoint, CheckpointError> {
        let signature = self.key.sign(&message(seq, head, at));
        let cp = Checkpoint {
            seq,
            head: head.to_owned(),
            at: at.to_owned(),
            key: URL_SAFE_NO_PAD.encode(self.key.verifying_key().as_bytes()),
            signature: URL_SAFE_NO_PAD.encode(signature.to_bytes()),
        };
        let mut line = serde_json::to_vec(&cp).map_err(|e| CheckpointError::Io {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        })?;
        line.push(b'\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| io(&self.path, &e))?;
        f.write_all(&line).map_err(|e| io(&self.path, &e))?;
        f.sync_all().map_err(|e| io(&self.path, &e))?;
        tracing::info!(seq, head = %head, "audit checkpoint signed");
        *self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((seq, at.to_owned()));
        Ok(cp)
    }
}

/// The public key a keys directory's checkpoint key signs with, if any:
/// from `checkpoint.pub`, or (keys from before it was written, never
/// sealed) from the plain `checkpoint.key`.
///
/// # Errors
/// The file exists but cannot be read or is malformed.
pub fn pinned_key(keys_dir: &Path) -> Result<Option<VerifyingKey>, CheckpointError> {
    let public = keys_dir.join(PUBLIC_FILE);
    if let Ok(text) = std::fs::read_to_string(&public) {
        let bad = || CheckpointError::Io {
            path: public.display().to_string(),
            reason: "not an Ed25519 public key".into(),
        };
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| bad())?
            .as_slice()
            .try_into()
            .map_err(|_| bad())?;
        return VerifyingKey::from_bytes(&bytes).map(Some).map_err(|_| bad());
    }
    let path = keys_dir.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| CheckpointError::Io {
                path: path.display().to_string(),
                reason: format!(
                    "not a plain 32-byte key (sealed keys are verified through {PUBLIC_FILE}, which the vault writes \
                     at start)"
                ),
            })?;
            Ok(Some(SigningKey::from_bytes(&seed).verifying_key()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path, &e)),
    }
}

/// Reads and checks every checkpoint of `data_dir`: each signature, and each
/// key against `pinned` when given. Returns the heads by sequence number.
///
/// # Errors
/// A line does not parse, a signature does not verify, or a key is not the pinned one.
pub fn read_verified(data_dir: &Path, pinned: Option<&VerifyingKey>) -> Result<BTreeMap<u64, String>, CheckpointError> {
    Ok(read_all(data_dir, pinned)?
        .into_iter()
        .map(|cp| (cp.seq, cp.head))
        .collect())
}

/// Every checkpoint of `data_dir`, checked as by [`read_verified`], in file order.
///
/// # Errors
/// As [`read_verified`].
pub fn read_all(data_dir: &Path, pinned: Option<&VerifyingKey>) -> Result<Vec<Checkpoint>, CheckpointError> {
    let path = data_dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&path, &e)),
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |reason: &str| CheckpointError::Bad {
            line: i + 1,
            reason: reason.to_owned(),
        };
        let cp: Checkpoint = serde_json::from_str(line).map_err(|_| bad("not a checkpoint"))?;
        let key_bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(&cp.key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("bad key"))?;
        let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| bad("bad key"))?;
        if pinned.is_some_and(|p| p != &key) {
            return Err(bad("signed by a key other than this vault's checkpoint key"));
        }
        let sig: [u8; 64] = URL_SAFE_NO_PAD
            .decode(&cp.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("bad signature"))?;
        key.verify(&message(cp.seq, &cp.head, &cp.at), &Signature::from_bytes(&sig))
            .map_err(|_| bad("the signature does not verify"))?;
        out.push(cp);
    }
    Ok(out)
}
