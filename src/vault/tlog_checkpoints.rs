//! The transparency log's checkpoints (C2SP tlog-checkpoint signed notes):
//! at each audit checkpoint (`checkpoints.rs`, same interval) the Merkle
//! tree's size and root are signed with the checkpoint key as an Ed25519
//! signed-note key named after the log's origin, and appended (fsynced) to
//! `<data_dir>/audit-tlog-checkpoints.jsonl`, one `{"note": …}` per line.
//! Witnesses' cosignatures land beside them (`witness.rs`); the newest
//! checkpoint with its cosignatures is what `GET /v1/audit/checkpoint` serves.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use crate::crypto::note::{Checkpoint, NoteKey, VerifierKey};
use crate::domain::store::Store;
use crate::domain::tlog;

/// The file, in the data directory.
pub const FILE: &str = "audit-tlog-checkpoints.jsonl";
/// The log's verifier key (`<origin>+<id>+<key>`), in the keys directory.
pub const VKEY_FILE: &str = "checkpoint.vkey";
/// Witnesses' cosignatures, one `{"size", "line"}` per line.
pub const COSIGNATURES: &str = "audit-tlog-cosignatures.jsonl";

/// A cosignature as recorded: the checkpoint's size and its signature line
/// (which names the witness and holds its time).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cosigned {
    pub size: u64,
    pub line: String,
}

/// One line of the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    pub note: String,
}

/// The default origin: `civic-vault.invalid/audit/<keyring fingerprint>`.
#[must_use]
pub fn default_origin(fingerprint: &str) -> String {
    format!("civic-vault.invalid/audit/{fingerprint}")
}

/// Signs and keeps the log's checkpoints.
pub struct TreeCheckpointer {
    key: NoteKey,
    path: PathBuf,
    /// The newest signed checkpoint (a signed note), if any.
    latest: Mutex<Option<String>>,
    /// Cosignature lines recorded for it.
    cosigned: Mutex<Vec<String>>,
    data_dir: PathBuf,
}

impl std::fmt::Debug for TreeCheckpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeCheckpointer")
            .field("origin", &self.key.name())
            .finish_non_exhaustive()
    }
}

impl TreeCheckpointer {
    /// A checkpointer for `origin`, signing with `key`; the newest
    /// checkpoint already in `data_dir`, checked against the key.
    ///
    /// # Errors
    /// The origin is not a valid key name, or the file holds a line that
    /// does not parse or verify.
    pub fn open(origin: &str, key: SigningKey, data_dir: &Path) -> Result<Self, String> {
        let key = NoteKey::new(origin, key).map_err(|e| format!("[audit] origin: {e}"))?;
        let all = read_all(data_dir, &key.verifier())?;
        let newest = all.last().map_or(0, |c| c.size);
        let cosigned = read_cosignatures(data_dir)?
            .into_iter()
            .filter(|c| c.size == newest)
            .map(|c| c.line)
            .collect();
        Ok(Self {
            key,
            path: data_dir.join(FILE),
            latest: Mutex::new(all.last().map(|c| c.with_signatures(&c.signatures))),
            cosigned: Mutex::new(cosigned),
            data_dir: data_dir.to_owned(),
        })
    }

    /// The log's origin line.
    #[must_use]
    pub fn origin(&self) -> &str {
        self.key.name()
    }

    /// `<origin>+<hex id>+<base64 key>`: what auditors and witnesses pin.
    #[must_use]
    pub fn verifier_key(&self) -> VerifierKey {
        self.key.verifier()
    }

    /// The newest signed checkpoint.
    #[must_use]
    pub fn latest(&self) -> Option<String> {
        self.latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The newest checkpoint with the cosignatures recorded for it.
    #[must_use]
    pub fn latest_cosigned(&self) -> Option<String> {
        let note = self.latest()?;
        let cosigned = self.cosigned.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(format!(
            "{note}{}",
            cosigned.iter().map(|l| format!("{l}\n")).collect::<String>()
        ))
    }

    /// Records (fsynced) a witness's verified cosignature line for the
    /// checkpoint of `size`.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn record_cosignature(&self, size: u64, line: &str) -> Result<(), String> {
        append_line(
            &self.data_dir.join(COSIGNATURES),
            &Cosigned {
                size,
                line: line.to_owned(),
            },
        )?;
        let newest = self
            .latest()
            .and_then(|n| Checkpoint::parse(&n).ok())
            .map_or(0, |c| c.size);
        if size == newest {
            let mut c = self.cosigned.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if !c.iter().any(|l| l == line) {
                c.push(line.to_owned());
            }
        }
        Ok(())
    }

    /// Signs the tree as the store holds it, durably (the caller has
    /// flushed the store), and appends it; its size. A tree no larger than
    /// the newest checkpoint's is not signed again.
    ///
    /// # Errors
    /// The tree cannot be read or the file written.
    pub fn sign(&self, store: &impl Store) -> Result<Option<u64>, String> {
        let size = store.tlog_size().map_err(|e| e.to_string())?;
        let newest = self
            .latest()
            .and_then(|n| Checkpoint::parse(&n).ok())
            .map_or(0, |c| c.size);
        if size == 0 || size <= newest {
            return Ok(None);
        }
        let root = tlog::root_at(store, size).map_err(|e| e.to_string())?;
        let note = self
            .key
            .sign_checkpoint(self.key.name(), size, &root)
            .map_err(|e| e.to_string())?;
        append_line(&self.path, &Line { note: note.clone() })?;
        *self.latest.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(note);
        self.cosigned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        tracing::info!(size, "audit tree checkpoint signed");
        Ok(Some(size))
    }
}

/// Appends one JSON line, fsynced.
fn append_line(path: &Path, value: &impl Serialize) -> Result<(), String> {
    let mut line = serde_json::to_vec(value).map_err(|e| e.to_string())?;
    line.push(b'\n');
    let io = |e: std::io::Error| format!("{}: {}", path.display(), e.kind());
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    f.write_all(&line).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Every cosignature recorded in `data_dir` (unchecked: a verifier checks
/// each against the checkpoint of its size and the witness's key).
///
/// # Errors
/// The file cannot be read or a line does not parse.
pub fn read_cosignatures(data_dir: &Path) -> Result<Vec<Cosigned>, String> {
    let path = data_dir.join(COSIGNATURES);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {}", path.display(), e.kind())),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|_| format!("{COSIGNATURES} line {}: not a cosignature", i + 1)))
        .collect()
}

/// Every checkpoint in `data_dir`, each checked against `key`, in file order.
///
/// # Errors
/// A line does not parse, or its signature by `key` is missing or wrong.
pub fn read_all(data_dir: &Path, key: &VerifierKey) -> Result<Vec<Checkpoint>, String> {
    let path = data_dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {}", path.display(), e.kind())),
    };
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |why: String| format!("{FILE} line {}: {why}", i + 1);
        let line: Line = serde_json::from_str(l).map_err(|_| bad("not a checkpoint line".into()))?;
        let cp = Checkpoint::parse(&line.note).map_err(|e| bad(e.to_string()))?;
        if cp.origin != key.name {
            return Err(bad(format!("origin {:?} is not this log's", cp.origin)));
        }
        cp.verify(key).map_err(|e| bad(e.to_string()))?;
        out.push(cp);
    }
    Ok(out)
}
