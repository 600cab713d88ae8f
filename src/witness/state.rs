//! The witness's state directory: its Ed25519 signing key (`witness.key`,
//! 0600, created on first run), its verifier key (`witness.vkey`:
//! `<name>+<id>+<base64(0x04 ‖ key)>`, what logs pin), and for each log it
//! witnesses the newest checkpoint it cosigned (`logs.json`: origin → size
//! and root), replaced atomically and fsynced before any cosignature that
//! depends on it leaves. The check of the old size and the update happen
//! under one lock, so two requests cannot roll the record back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use super::AddCheckpoint;
use crate::crypto::note::{Checkpoint, NoteKey, VerifierKey, ALG_ED25519};
use crate::domain::tlog::check_consistency;

pub const KEY_FILE: &str = "witness.key";
pub const VKEY_FILE: &str = "witness.vkey";
pub const LOGS_FILE: &str = "logs.json";

/// The newest checkpoint cosigned for one log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Recorded {
    size: u64,
    /// base64 root hash.
    root: String,
}

/// How an `add-checkpoint` request is answered.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// 200: the cosignature lines.
    Cosigned(String),
    /// 409: the size this witness last cosigned (the request's old size,
    /// or an equal size with another root, disagrees with it).
    Conflict(u64),
    /// 400: the request is malformed.
    Bad(String),
    /// 403: no trusted key of the log signed the checkpoint.
    Forbidden,
    /// 404: the witness does not witness this log.
    UnknownLog,
    /// 422: the consistency proof does not verify.
    BadProof,
    /// 500: the state could not be written.
    Failed(String),
}

/// The witness: its key, the logs it witnesses, and what it cosigned.
pub struct WitnessState {
    key: NoteKey,
    /// Trusted checkpoint keys by origin.
    logs: BTreeMap<String, Vec<VerifierKey>>,
    dir: PathBuf,
    recorded: Mutex<BTreeMap<String, Recorded>>,
}

fn io(path: &Path, e: &std::io::Error) -> String {
    format!("{}: {}", path.display(), e.kind())
}

impl WitnessState {
    /// Opens (creating on first run, 0700) the state directory of the
    /// witness named `name`, witnessing the logs whose checkpoint keys are `logs`.
    ///
    /// # Errors
    /// A bad name or log key, or the directory, key or state cannot be
    /// read or written.
    pub fn open(dir: &Path, name: &str, logs: &[VerifierKey]) -> Result<Self, String> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io(dir, &e))?;
        // An existing directory is made private too: the key lives here.
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).map_err(|e| io(dir, &e))?;
        let key = NoteKey::new(name, load_key(dir)?).map_err(|e| format!("--name: {e}"))?;
        let vkey_path = dir.join(VKEY_FILE);
        let vkey = format!("{}\n", key.cosigner().text());
        if std::fs::read_to_string(&vkey_path).ok().as_deref() != Some(vkey.as_str()) {
            std::fs::write(&vkey_path, vkey).map_err(|e| io(&vkey_path, &e))?;
        }
        let mut trusted: BTreeMap<String, Vec<VerifierKey>> = BTreeMap::new();
        for log in logs {
            if log.alg != ALG_ED25519 {
                return Err(format!("--log {}: not a log's Ed25519 checkpoint key", log.name));
            }
            trusted.entry(log.name.clone()).or_default().push(log.clone());
        }
        let path = dir.join(LOGS_FILE);
        let recorded = match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|_| format!("{}: not a witness state", path.display()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(io(&path, &e)),
        };
        Ok(Self {
            key,
            logs: trusted,
            dir: dir.to_owned(),
            recorded: Mutex::new(recorded),
        })
    }

    /// The witness's verifier key (`cosignature/v1`): what a log pins.
    #[must_use]
    pub fn verifier_key(&self) -> VerifierKey {
        self.key.cosigner()
    }

    /// The origins this witness witnesses.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.logs.keys().map(String::as_str)
    }

    /// The size last cosigned for `origin` (0 before the first).
    #[must_use]
    pub fn size_of(&self, origin: &str) -> u64 {
        self.recorded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(origin)
            .map_or(0, |r| r.size)
    }

    /// Answers one `add-checkpoint` body at `now` (POSIX seconds), in the
    /// order c2sp.org/tlog-witness gives its checks. Blocking: a
    /// cosignature leaves only once its record is on disk.
    #[must_use]
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Answer {
        let req = match AddCheckpoint::parse(body) {
            Ok(r) => r,
            Err(why) => return Answer::Bad(why),
        };
        let cp = match Checkpoint::parse(&req.checkpoint) {
            Ok(c) => c,
            Err(e) => return Answer::Bad(format!("the checkpoint: {e}")),
        };
        let Some(keys) = self.logs.get(&cp.origin) else {
            return Answer::UnknownLog;
        };
        if !keys.iter().any(|k| cp.verify(k).is_ok()) {
            return Answer::Forbidden;
        }
        if req.old > cp.size {
            return Answer::Bad("the old size is larger than the checkpoint's".into());
        }
        let mut recorded = self.recorded.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (size, root) = match recorded.get(&cp.origin) {
            Some(r) => match STANDARD.decode(&r.root).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()) {
                Some(root) => (r.size, root),
                None => return Answer::Failed(format!("{LOGS_FILE}: a root hash is not 32 bytes")),
            },
            None => (0, [0; 32]),
        };
        if req.old != size {
            tracing::info!(origin = %cp.origin, old = req.old, size, "checkpoint from another old size: 409");
            return Answer::Conflict(size);
        }
        if req.old == 0 {
            if !req.proof.is_empty() {
                return Answer::Bad("a proof from size 0 must be empty".into());
            }
        } else if req.old == cp.size {
            if root != cp.root {
                tracing::warn!(origin = %cp.origin, size, "a checkpoint of the cosigned size with another root: a fork");
                return Answer::Conflict(size);
            }
        } else if check_consistency(&req.proof, req.old, &root, cp.size, &cp.root).is_err() {
            tracing::warn!(origin = %cp.origin, old = req.old, size = cp.size, "consistency proof does not verify: a fork or a rewritten log");
            return Answer::BadProof;
        }
        let lines = match self.key.cosign(&cp.body, now) {
            Ok(line) => format!("{}\n", line.trim_end()),
            Err(e) => return Answer::Failed(e.to_string()),
        };
        if cp.size != size || recorded.get(&cp.origin).is_none() {
            let mut next = recorded.clone();
            next.insert(
                cp.origin.clone(),
                Recorded {
                    size: cp.size,
                    root: STANDARD.encode(cp.root),
                },
            );
            if let Err(e) = self.persist(&next) {
                return Answer::Failed(e);
            }
            *recorded = next;
            tracing::info!(origin = %cp.origin, size = cp.size, "checkpoint cosigned");
        }
        Answer::Cosigned(lines)
    }

    /// Replaces `logs.json` atomically and durably.
    fn persist(&self, logs: &BTreeMap<String, Recorded>) -> Result<(), String> {
        let path = self.dir.join(LOGS_FILE);
        let bytes = serde_json::to_vec_pretty(logs).map_err(|e| e.to_string())?;
        crate::crypto::write_secret_file(&path, &bytes).map_err(|e| e.to_string())?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io(&self.dir, &e))
    }
}

/// The witness's signing key, created (0600) on first run.
fn load_key(dir: &Path) -> Result<SigningKey, String> {
    let path = dir.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let seed: [u8; 32] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| format!("{}: not a 32-byte key", path.display()))?;
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            crate::crypto::write_secret_file(&path, &key.to_bytes()).map_err(|e| e.to_string())?;
            Ok(key)
        }
        Err(e) => Err(io(&path, &e)),
    }
}
