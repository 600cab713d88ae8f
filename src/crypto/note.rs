//! C2SP signed notes as the audit log's transparency log uses them, over
//! Cloudflare's `signed_note` crate (a port of Go's
//! `golang.org/x/mod/sumdb/note`):
//!
//! - checkpoints (c2sp.org/tlog-checkpoint): `origin\nsize\nbase64(root)\n`,
//!   signed by the log's Ed25519 note key (algorithm 0x01);
//! - cosignatures (c2sp.org/tlog-cosignature, `cosignature/v1`): a witness's
//!   Ed25519 signature (algorithm byte 0x04 in its key id) over
//!   `cosignature/v1\ntime T\n` and the checkpoint's body, carried as
//!   `timestamp (u64, big-endian) ‖ signature`;
//! - verifier keys (`<name>+<hex key id>+<base64(alg ‖ key)>`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use signed_note::{Note, VerifierList};

/// The signed-note algorithm byte of an Ed25519 note signature.
pub const ALG_ED25519: u8 = 0x01;
/// The algorithm byte of an Ed25519 `cosignature/v1`.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// A note, a key or a checkpoint that is not what it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("no signature by the expected key")]
    Unsigned,
    #[error("a signature by {0} does not verify")]
    BadSignature(String),
}

fn malformed(why: impl Into<String>) -> NoteError {
    NoteError::Malformed(why.into())
}

/// A key name valid for signed notes (non-empty, no spaces, no `+`).
#[must_use]
pub fn valid_name(name: &str) -> bool {
    signed_note::is_key_name_valid(name)
}

/// The key id of `name` with `alg ‖ key` (c2sp.org/signed-note).
#[must_use]
pub fn key_id(name: &str, alg: u8, key: &[u8; 32]) -> u32 {
    let mut material = Vec::with_capacity(33);
    material.push(alg);
    material.extend_from_slice(key);
    signed_note::key_id(name, &material)
}

/// A verifier key: a name, its algorithm byte and an Ed25519 public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    pub name: String,
    pub alg: u8,
    pub key: VerifyingKey,
}

impl VerifierKey {
    /// Parses `<name>+<hex id>+<base64(alg ‖ key)>`, checking the id.
    ///
    /// # Errors
    /// Not three parts, a bad name, id or key, an algorithm other than
    /// Ed25519 (0x01) or `cosignature/v1` (0x04), or an id that is not the key's.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        // The key's base64 may hold `+` itself: split twice, from the left.
        let shape = || malformed("a verifier key is <name>+<hex key id>+<base64 key>");
        let (name, rest) = text.trim().split_once('+').ok_or_else(shape)?;
        let (id, key) = rest.split_once('+').ok_or_else(shape)?;
        if !valid_name(name) {
            return Err(malformed("the key name"));
        }
        let id = u32::from_str_radix(id, 16).map_err(|_| malformed("the key id is not hexadecimal"))?;
        let bytes = STANDARD.decode(key).map_err(|_| malformed("the key is not base64"))?;
        let (&alg, rest) = bytes.split_first().ok_or_else(|| malformed("the key is empty"))?;
        if alg != ALG_ED25519 && alg != ALG_COSIGNATURE_V1 {
            return Err(malformed(
                "only Ed25519 (0x01) and cosignature/v1 (0x04) keys are known",
            ));
        }
        let raw: [u8; 32] = rest.try_into().map_err(|_| malformed("not a 32-byte Ed25519 key"))?;
        let key = VerifyingKey::from_bytes(&raw).map_err(|_| malformed("not an Ed25519 key"))?;
        if key_id(name, alg, &raw) != id {
            return Err(malformed("the key id does not match the name and key"));
        }
        Ok(Self {
            name: name.to_owned(),
            alg,
            key,
        })
    }

    #[must_use]
    pub fn id(&self) -> u32 {
        key_id(&self.name, self.alg, self.key.as_bytes())
    }

    /// The key's text form.
    #[must_use]
    pub fn text(&self) -> String {
        let mut material = vec![self.alg];
        material.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id(), STANDARD.encode(material))
    }
}

/// The Ed25519 signature of a note or a cosignature, for `signed_note`.
struct Keyed<'a> {
    name: &'a str,
    alg: u8,
    key: &'a SigningKey,
    /// For a cosignature: its time.
    time: u64,
}

impl signed_note::Signer for Keyed<'_> {
    fn name(&self) -> &str {
        self.name
    }

    fn key_id(&self) -> u32 {
        key_id(self.name, self.alg, self.key.verifying_key().as_bytes())
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        if self.alg == ALG_COSIGNATURE_V1 {
            let sig = self.key.sign(&cosigned_message(self.time, msg));
            let mut out = self.time.to_be_bytes().to_vec();
            out.extend_from_slice(&sig.to_bytes());
            Ok(out)
        } else {
            Ok(self.key.sign(msg).to_bytes().to_vec())
        }
    }
}

struct Verifying(VerifierKey);

impl signed_note::Verifier for Verifying {
    fn name(&self) -> &str {
        &self.0.name
    }

    fn key_id(&self) -> u32 {
        self.0.id()
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let (message, sig) = if self.0.alg == ALG_COSIGNATURE_V1 {
            let Some((time, sig)) = sig.split_first_chunk::<8>() else {
                return false;
            };
            let time = u64::from_be_bytes(*time);
            if time == 0 || time > i64::MAX as u64 {
                return false;
            }
            (cosigned_message(time, msg), sig)
        } else {
            (msg.to_vec(), sig)
        };
        let Ok(sig) = <[u8; 64]>::try_from(sig) else {
            return false;
        };
        self.0
            .key
            .verify(&message, &ed25519_dalek::Signature::from_bytes(&sig))
            .is_ok()
    }
}

/// What a `cosignature/v1` signs: the header, the time, the checkpoint's body.
#[must_use]
pub fn cosigned_message(time: u64, body: &[u8]) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {time}\n").into_bytes();
    m.extend_from_slice(body);
    m
}

/// A note key: an Ed25519 key with a name, signing checkpoints (0x01) or
/// cosigning them (0x04).
pub struct NoteKey {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for NoteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl NoteKey {
    /// # Errors
    /// The name is not a valid key name.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        if !valid_name(name) {
            return Err(malformed("the key name (no spaces, no +, not empty)"));
        }
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier key of this key's checkpoint signatures (0x01).
    #[must_use]
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            alg: ALG_ED25519,
            key: self.key.verifying_key(),
        }
    }

    /// The verifier key of this key's cosignatures (0x04).
    #[must_use]
    pub fn cosigner(&self) -> VerifierKey {
        VerifierKey {
            alg: ALG_COSIGNATURE_V1,
            ..self.verifier()
        }
    }

    /// Signs a checkpoint: the whole signed note.
    ///
    /// # Errors
    /// The origin is not one line of text.
    pub fn sign_checkpoint(&self, origin: &str, size: u64, root: &[u8; 32]) -> Result<String, NoteError> {
        self.sign_note(&checkpoint_body(origin, size, root)?)
    }

    /// Signs any note's text (lines ending in newlines): the signed note.
    ///
    /// # Errors
    /// The text is not a note's text.
    pub fn sign_note(&self, body: &str) -> Result<String, NoteError> {
        let mut note = Note::new(body.as_bytes(), &[]).map_err(|e| malformed(e.to_string()))?;
        let signer = Keyed {
            name: &self.name,
            alg: ALG_ED25519,
            key: &self.key,
            time: 0,
        };
        note.add_sigs(&[&signer]).map_err(|e| malformed(e.to_string()))?;
        String::from_utf8(note.to_bytes()).map_err(|_| malformed("not UTF-8"))
    }

    /// A `cosignature/v1` line over a checkpoint's body, at `time` (POSIX seconds).
    ///
    /// # Errors
    /// The body is not a note's text, or `time` is 0 or beyond 2^63 − 1.
    pub fn cosign(&self, body: &str, time: u64) -> Result<String, NoteError> {
        if time == 0 || time > i64::MAX as u64 {
            return Err(malformed("a cosignature's time is 1 to 2^63 - 1"));
        }
        let mut note = Note::new(body.as_bytes(), &[]).map_err(|e| malformed(e.to_string()))?;
        let signer = Keyed {
            name: &self.name,
            alg: ALG_COSIGNATURE_V1,
            key: &self.key,
            time,
        };
        note.add_sigs(&[&signer]).map_err(|e| malformed(e.to_string()))?;
        let bytes = note.to_bytes();
        let text = String::from_utf8(bytes).map_err(|_| malformed("not UTF-8"))?;
        text.rsplit_once("\n\n")
            .map(|(_, sig)| sig.to_owned())
            .ok_or_else(|| malformed("no signature line"))
    }
}

/// A checkpoint's body.
///
/// # Errors
/// The origin is empty or not one line.
pub fn checkpoint_body(origin: &str, size: u64, root: &[u8; 32]) -> Result<String, NoteError> {
    if origin.is_empty() || origin.chars().any(char::is_control) {
        return Err(malformed("the origin is one non-empty line"));
    }
    Ok(format!("{origin}\n{size}\n{}\n", STANDARD.encode(root)))
}

/// A checkpoint read from a signed note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: [u8; 32],
    /// The note's body (origin, size, root and any extension lines).
    pub body: String,
    /// The signature lines, each `— name base64`.
    pub signatures: Vec<String>,
}

impl Checkpoint {
    /// Parses a signed checkpoint (no signature checked).
    ///
    /// # Errors
    /// Not a signed note, or its body is not a checkpoint.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let note = Note::from_bytes(text.as_bytes()).map_err(|e| malformed(e.to_string()))?;
        let body = String::from_utf8(note.text().to_vec()).map_err(|_| malformed("not UTF-8"))?;
        let mut lines = body.lines();
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| malformed("no origin"))?;
        let size_line = lines.next().ok_or_else(|| malformed("no tree size"))?;
        if size_line.len() > 1 && size_line.starts_with('0') {
            return Err(malformed("the tree size has a leading zero"));
        }
        let size: u64 = size_line.parse().map_err(|_| malformed("the tree size"))?;
        let root: [u8; 32] = STANDARD
            .decode(lines.next().ok_or_else(|| malformed("no root hash"))?)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| malformed("the root hash is not 32 bytes of base64"))?;
        if lines.any(str::is_empty) {
            return Err(malformed("an empty extension line"));
        }
        let signatures = text
            .rsplit_once("\n\n")
            .map(|(_, s)| s.lines().map(str::to_owned).collect())
            .unwrap_or_default();
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            body,
            signatures,
        })
    }

    /// The note with these signature lines.
    #[must_use]
    pub fn with_signatures(&self, lines: &[String]) -> String {
        let mut out = format!("{}\n", self.body);
        for l in lines {
            out.push_str(l);
            out.push('\n');
        }
        out
    }

    /// Checks a signature by `key` and returns the lines it verified (with a
    /// `cosignature/v1` key: its cosignature's time beside each).
    ///
    /// # Errors
    /// No signature by `key`, or one by `key` that does not verify.
    pub fn verify(&self, key: &VerifierKey) -> Result<Vec<(String, Option<u64>)>, NoteError> {
        let text = self.with_signatures(&self.signatures);
        let note = Note::from_bytes(text.as_bytes()).map_err(|e| malformed(e.to_string()))?;
        let known = VerifierList::new(vec![Box::new(Verifying(key.clone()))]);
        let (verified, _) = note.verify(&known).map_err(|e| match e {
            signed_note::NoteError::UnverifiedNote => NoteError::Unsigned,
            signed_note::NoteError::InvalidSignature { name, .. } => NoteError::BadSignature(name),
            other => malformed(other.to_string()),
        })?;
        Ok(verified
            .into_iter()
            .map(|s| {
                let time = (key.alg == ALG_COSIGNATURE_V1)
                    .then(|| s.signature().first_chunk::<8>().map(|t| u64::from_be_bytes(*t)))
                    .flatten();
                (String::from_utf8_lossy(&s.to_bytes()).trim_end().to_owned(), time)
            })
            .collect())
    }
}

#[cfg(test)]
#[path = "note_tests.rs"]
mod tests;
