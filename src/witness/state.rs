//! The witness's state directory: its signing key (`witness.key`, 0600,
//! created on first run), its public key (`witness.pub`), and the newest
//! cosigned checkpoint (`latest.json`), replaced atomically and fsynced
//! before any answer that depends on it leaves.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

use super::{cosignature_message, extends, genesis_head, key_text, CosignRequest, Cosignature, Refusal};

pub const KEY_FILE: &str = "witness.key";
pub const PUBLIC_FILE: &str = "witness.pub";
pub const LATEST_FILE: &str = "latest.json";

/// The witness: its key, the vault key it serves, and the newest cosignature.
pub struct WitnessState {
    key: SigningKey,
    vault: VerifyingKey,
    dir: PathBuf,
    latest: Mutex<Option<Cosignature>>,
}

/// Why a cosign request was refused, and how to answer it.
#[derive(Debug)]
pub enum Refused {
    /// Not from the pinned vault (403).
    Forbidden(String),
    /// Does not extend the last cosigned checkpoint (409).
    Conflict(Box<Refusal>),
    /// The witness could not record its state (500).
    Failed(String),
}

fn io(path: &Path, e: &std::io::Error) -> String {
    format!("{}: {}", path.display(), e.kind())
}

impl WitnessState {
    /// Opens (creating on first run, 0700) the state directory.
    ///
    /// # Errors
    /// The directory, key or state cannot be read or written.
    pub fn open(dir: &Path, vault: VerifyingKey) -> Result<Self, String> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io(dir, &e))?;
        let key_path = dir.join(KEY_FILE);
        let key = match std::fs::read(&key_path) {
            Ok(bytes) => {
                let seed: [u8; 32] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| format!("{}: not a 32-byte key", key_path.display()))?;
                SigningKey::from_bytes(&seed)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SigningKey::generate(&mut rand::rngs::OsRng);
                crate::crypto::write_secret_file(&key_path, &key.to_bytes()).map_err(|e| e.to_string())?;
                key
            }
            Err(e) => return Err(io(&key_path, &e)),
        };
        let public_path = dir.join(PUBLIC_FILE);
        let public = format!("{}\n", key_text(&key.verifying_key()));
        if std::fs::read_to_string(&public_path).ok().as_deref() != Some(public.as_str()) {
            std::fs::write(&public_path, public).map_err(|e| io(&public_path, &e))?;
        }
        let latest_path = dir.join(LATEST_FILE);
        let latest = match std::fs::read(&latest_path) {
            Ok(bytes) => {
                let c: Cosignature = serde_json::from_slice(&bytes)
                    .map_err(|_| format!("{}: not a cosigned checkpoint", latest_path.display()))?;
                if c.verify(&key.verifying_key(), Some(&vault)).is_err() {
                    return Err(format!(
                        "{}: not cosigned by this witness for the pinned vault key",
                        latest_path.display()
                    ));
                }
                Some(c)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&latest_path, &e)),
        };
        Ok(Self {
            key,
            vault,
            dir: dir.to_owned(),
            latest: Mutex::new(latest),
        })
    }

    #[must_use]
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The newest cosigned checkpoint.
    #[must_use]
    pub fn latest(&self) -> Option<Cosignature> {
        self.latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Cosigns `req.checkpoint` if it is the pinned vault's and extends the
    /// last cosigned checkpoint; records it (fsynced) before returning.
    /// Blocking. `now` is the RFC 3339 time of the cosignature.
    ///
    /// # Errors
    /// See [`Refused`].
    pub fn cosign(&self, req: &CosignRequest, now: &str) -> Result<Cosignature, Refused> {
        let cp = &req.checkpoint;
        cp.verify(&self.vault).map_err(Refused::Forbidden)?;
        let mut latest = self.latest.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (last_seq, last_head) = latest
            .as_ref()
            .map_or_else(|| (0, genesis_head()), |l| (l.seq, l.head.clone()));
        let refuse = |reason: String| {
            tracing::warn!(
                seq = cp.seq,
                last_cosigned = last_seq,
                reason = %reason,
                "checkpoint refused"
            );
            Refused::Conflict(Box::new(Refusal {
                error: "does_not_extend".into(),
                reason,
                latest: latest.clone(),
            }))
        };
        if cp.seq == last_seq {
            return match &*latest {
                Some(l) if l.head == cp.head => Ok(l.clone()),
                _ => Err(refuse(format!(
                    "entry {} differs from the head this witness cosigned for it: a fork",
                    cp.seq
                ))),
            };
        }
        if cp.seq < last_seq {
            return Err(refuse(format!(
                "entry {} is older than the last cosigned checkpoint (entry {last_seq}): a rollback",
                cp.seq
            )));
        }
        if req.from != last_seq {
            return Err(refuse(format!(
                "the entries must follow the last cosigned checkpoint (entry {last_seq}), not entry {}",
                req.from
            )));
        }
        extends(&last_head, req.from, &req.entries, cp.seq, &cp.head)
            .map_err(|e| refuse(format!("{e}: a fork or rewritten history")))?;
        let signature = self.key.sign(&cosignature_message(&cp.key, cp.seq, &cp.head, now));
        let cosigned = Cosignature {
            vault_key: cp.key.clone(),
            seq: cp.seq,
            head: cp.head.clone(),
            at: cp.at.clone(),
            cosigned_at: now.to_owned(),
            witness_key: key_text(&self.key.verifying_key()),
            signature: base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, signature.to_bytes()),
        };
        self.persist(&cosigned).map_err(Refused::Failed)?;
        *latest = Some(cosigned.clone());
        tracing::info!(seq = cp.seq, head = %cp.head, "checkpoint cosigned");
        Ok(cosigned)
    }

    /// Replaces `latest.json` atomically and durably.
    fn persist(&self, c: &Cosignature) -> Result<(), String> {
        let path = self.dir.join(LATEST_FILE);
        let bytes = serde_json::to_vec(c).map_err(|e| e.to_string())?;
        crate::crypto::write_secret_file(&path, &bytes).map_err(|e| e.to_string())?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io(&self.dir, &e))
    }
}
