//! Sealed keys. A sealed keys directory holds every secret (`*.key`,
//! `admin.token`) encrypted under one 256-bit *seal key* that is never on
//! disk in the clear: it is either encrypted to a passphrase (age's scrypt
//! recipient, inside `seal.toml`) or split into Shamir shares (k of n, over
//! GF(256), by the `blahaj` crate, the maintained fork of `sharks`) that only the operators hold.
//!
//! ```text
//! keys/
//!   seal.toml        mode, k and n, the seal's id, a check value of the seal
//!                    key, and (passphrase mode) the seal key under age scrypt
//!   keyring.toml     active key ids (no secrets; not sealed)
//!   *.key            "civic-vault sealed key v1" + XChaCha20-Poly1305(seal key,
//!   admin.token       bound to the file's name) of what the plain file held
//! ```
//!
//! Every key the vault writes while it runs (a destruction epoch's scan key,
//! a new KEK, a hold key, the checkpoint key) goes through [`KeyFiles`], so a
//! sealed keyring stays sealed: nothing secret is written in the clear after
//! `keys seal`.
//!
//! Changing a seal (sealing a plain keyring, or `keys rotate`) is crash-safe:
//! the new files are written beside the old as `<name>.sealing-<seal id>`,
//! then `seal.toml` is replaced (the commit point), then each new file is
//! renamed over its old one. A start that finds `.sealing-` files finishes
//! the renames when their id is the committed seal's, and deletes them when
//! it is not.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use super::key_files::KeyFiles;
use super::key_files::HEADER;
use super::key_files::{finish_shredding, read_secret_bytes, sync_dir, write_secret_file, zero_fill};
use super::{KeyError, Secret32};

mod keys;
pub use keys::{combine, parse_share};
use keys::{new_info, open_passphrase};

pub const SEAL_FILE: &str = "seal.toml";
const PENDING: &str = ".sealing-";

/// How a new seal is opened.
#[derive(Debug)]
pub enum NewSeal {
    /// The seal key encrypted to this passphrase (age scrypt).
    Passphrase(Zeroizing<String>),
    /// The seal key split into `shares` Shamir shares, any `threshold` of
    /// which open it.
    Shares { threshold: u8, shares: u8 },
}

/// What opens an existing seal.
#[derive(Debug)]
pub enum Unlock {
    Passphrase(Zeroizing<String>),
    Shares(Vec<Zeroizing<String>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Passphrase,
    Shares,
}

impl Mode {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passphrase => "passphrase",
            Self::Shares => "shares",
        }
    }
}

/// `seal.toml`. Nothing in it opens anything without the passphrase or the
/// shares.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealInfo {
    pub version: u32,
    pub mode: Mode,
    /// Shares needed (shares mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u8>,
    /// Shares made (shares mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shares: Option<u8>,
    /// Names this seal; every share carries it.
    pub id: String,
    /// HMAC-SHA256(seal key, "civic-vault seal check v1"), hex: tells a
    /// right seal key from a wrong one without revealing it.
    pub check: String,
    /// Passphrase mode: the seal key as an age file to the scrypt
    /// recipient, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase_sealed: Option<String>,
}

fn check_value(key: &Secret32) -> String {
    hex::encode(super::blind::keyed(key, "civic-vault seal check v1", &[]))
}

fn io_err(dir: &Path) -> impl Fn(std::io::Error) -> KeyError + '_ {
    move |e| KeyError::Io {
        dir: dir.display().to_string(),
        reason: e.to_string(),
    }
}

/// The seal of `dir`, if it is sealed; finishes or undoes a seal change a
/// crash interrupted.
///
/// # Errors
/// `seal.toml` cannot be read or parsed, or a pending file cannot be moved.
pub fn state(dir: &Path) -> Result<Option<SealInfo>, KeyError> {
    let info = read_info(dir)?;
    settle_pending(dir, info.as_ref().map(|i| i.id.as_str()))?;
    Ok(info)
}

/// How `dir`'s keys are sealed at rest, if they are (reads `seal.toml`
/// only; changes nothing).
///
/// # Errors
/// `seal.toml` cannot be read or parsed.
pub fn mode(dir: &Path) -> Result<Option<Mode>, KeyError> {
    Ok(read_info(dir)?.map(|i| i.mode))
}

fn read_info(dir: &Path) -> Result<Option<SealInfo>, KeyError> {
    let path = dir.join(SEAL_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = fs::read_to_string(&path).map_err(io_err(dir))?;
    toml::from_str(&text).map(Some).map_err(|e| KeyError::BadKey {
        file: SEAL_FILE.into(),
        reason: e.message().to_owned(),
    })
}

/// Completes the renames of the committed seal's pending files; removes
/// pending files of a seal change that never committed.
fn settle_pending(dir: &Path, committed: Option<&str>) -> Result<(), KeyError> {
    let Ok(entries) = fs::read_dir(dir) else { return Ok(()) };
    let mut moved = false;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some((target, id)) = name.split_once(PENDING) else {
            continue;
        };
        if Some(id) == committed {
            let old = dir.join(target);
            if old.exists() {
                // The plain key a seal replaces is not left in its old blocks.
                zero_fill(&old, 0)?;
            }
            fs::rename(e.path(), old).map_err(io_err(dir))?;
        } else {
            fs::remove_file(e.path()).map_err(io_err(dir))?;
        }
        moved = true;
    }
    if moved {
        sync_dir(dir)?;
    }
    Ok(())
}

/// The secret files of a keys directory: every `*.key` and `admin.token`.
fn secret_names(dir: &Path) -> Result<Vec<String>, KeyError> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map_err(io_err(dir))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| (n.ends_with(".key") || n == super::keyring::ADMIN_TOKEN_FILE) && !n.contains(PENDING))
        .collect();
    names.sort();
    Ok(names)
}

const LOCK_FILE: &str = ".lock";

/// An exclusive lock on a keys directory, held by a running vault (sealed
/// or not) and by `keys seal` / `keys rotate`: a seal change under a
/// running vault would leave the keys it writes afterwards under a seal
/// key nobody holds. Released when dropped (or when the process dies).
#[derive(Debug)]
pub struct KeysLock(#[allow(dead_code, reason = "held for its lock, never read")] fs::File);

impl KeysLock {
    /// Takes the lock, or says who holds it.
    ///
    /// # Errors
    /// Another process (or vault) holds it, or the file cannot be opened.
    pub fn acquire(dir: &Path) -> Result<Self, KeyError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(dir.join(LOCK_FILE))
            .map_err(io_err(dir))?;
        match file.try_lock() {
            Ok(()) => Ok(Self(file)),
            Err(fs::TryLockError::WouldBlock) => Err(KeyError::Seal(format!(
                "{} is in use by a running vault (or another keys command): stop it first",
                dir.display()
            ))),
            Err(fs::TryLockError::Error(e)) => Err(io_err(dir)(e)),
        }
    }
}

/// What sealing hands the operator, once.
#[derive(Debug)]
pub struct Sealed {
    pub seal_id: String,
    /// Shares mode: every share, to be given to different operators.
    pub shares: Vec<Zeroizing<String>>,
    /// The bootstrap admin token, when `admin.token` is in the keyring: it
    /// is sealed now, so this is the only readable copy.
    pub admin_token: Option<Zeroizing<String>>,
}

/// Seals `dir`. A plain keyring is re-written sealed (each plain file is
/// overwritten with zeros before the sealed one replaces it); an empty or
/// missing directory gets a new keyring that is sealed from its first byte.
///
/// # Errors
/// Already sealed, not a keyring, bad parameters, or I/O.
pub fn seal(dir: &Path, how: &NewSeal) -> Result<Sealed, KeyError> {
    let _lock = KeysLock::acquire(dir)?;
    if state(dir)?.is_some() {
        return Err(KeyError::Seal(
            "already sealed; `civic-vault keys rotate` changes the seal".into(),
        ));
    }
    let key = Secret32::random();
    let (info, shares) = new_info(&key, how)?;
    let files = KeyFiles::sealed_with(dir, key);
    if super::keyring::is_keyring(dir) {
        let plain = KeyFiles::plain(dir);
        finish_shredding(dir)?;
        rewrite(dir, &plain, &files, &info)?;
    } else {
        // The seal first: a crash before the keyring is complete leaves a
        // sealed directory that the first unsealed start fills.
        write_info(dir, &info)?;
        super::Keyring::create_in(&files)?;
    }
    let admin_token = files
        .read_if_exists(super::keyring::ADMIN_TOKEN_FILE)?
        .map(|t| Zeroizing::new(String::from_utf8_lossy(&t).trim().to_owned()));
    Ok(Sealed {
        seal_id: info.id,
        shares,
        admin_token,
    })
}

/// Replaces the seal of a sealed `dir`: opens it with `unlock`, makes a new
/// seal key, re-seals every secret file under it. The old passphrase or
/// shares open nothing afterwards.
///
/// # Errors
/// Not sealed, `unlock` does not open it, bad parameters, or I/O.
pub fn rotate(dir: &Path, unlock: &Unlock, how: &NewSeal) -> Result<Vec<Zeroizing<String>>, KeyError> {
    let _lock = KeysLock::acquire(dir)?;
    let Some(info) = state(dir)? else {
        return Err(KeyError::Seal("not sealed; `civic-vault keys seal` seals it".into()));
    };
    let old = open(dir, &info, unlock)?;
    let key = Secret32::random();
    let (next, shares) = new_info(&key, how)?;
    finish_shredding(dir)?;
    rewrite(dir, &old, &KeyFiles::sealed_with(dir, key), &next)?;
    Ok(shares)
}

/// Opens a sealed keys directory.
///
/// # Errors
/// The passphrase or shares do not open this seal.
pub fn open(dir: &Path, info: &SealInfo, unlock: &Unlock) -> Result<KeyFiles, KeyError> {
    let key = match unlock {
        Unlock::Passphrase(p) => open_passphrase(info, p)?,
        Unlock::Shares(texts) => {
            let mut shares = BTreeMap::new();
            for t in texts {
                let (x, bytes) = parse_share(info, t)?;
                shares.insert(x, bytes);
            }
            combine(info, &shares)?
        }
    };
    Ok(KeyFiles::sealed_with(dir, key))
}

fn write_info(dir: &Path, info: &SealInfo) -> Result<(), KeyError> {
    let body = toml::to_string(info).map_err(|e| KeyError::Seal(e.to_string()))?;
    let text = format!(
        "# civic-vault seal: what opens the keys here. Nothing in this file opens them without\n\
         # the passphrase or the shares. Generated; keep with the keys.\n{body}"
    );
    write_secret_file(&dir.join(SEAL_FILE), text.as_bytes())?;
    sync_dir(dir)
}

/// Re-writes every secret file from `from` to `to`, committing `info`.
fn rewrite(dir: &Path, from: &KeyFiles, to: &KeyFiles, info: &SealInfo) -> Result<(), KeyError> {
    let names = secret_names(dir)?;
    for name in &names {
        let plain = from.read(name)?;
        let pending = format!("{name}{PENDING}{}", info.id);
        write_secret_file(&dir.join(&pending), &to.encode(name, &plain))?;
    }
    sync_dir(dir)?;
    write_info(dir, info)?;
    settle_pending(dir, Some(&info.id))
}

/// Reads a passphrase file: its first line, which must be readable by its
/// owner only.
///
/// # Errors
/// Unreadable, loosely permitted, or empty.
pub fn read_passphrase_file(path: &Path) -> Result<Zeroizing<String>, KeyError> {
    let raw = read_secret_bytes(path)?;
    let text = std::str::from_utf8(&raw).map_err(|_| KeyError::BadKey {
        file: path.display().to_string(),
        reason: "not UTF-8".into(),
    })?;
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        return Err(KeyError::BadKey {
            file: path.display().to_string(),
            reason: "empty: the passphrase is its first line".into(),
        });
    }
    Ok(Zeroizing::new(line.to_owned()))
}

/// What `keys status` prints: no secrets, only the shape of the keyring.
///
/// # Errors
/// The directory cannot be read.
pub fn status(dir: &Path) -> Result<serde_json::Value, KeyError> {
    let info = state(dir)?;
    let names = if dir.exists() { secret_names(dir)? } else { Vec::new() };
    let mut sealed_files = 0usize;
    let mut plain_files = Vec::new();
    for n in &names {
        let raw = read_secret_bytes(&dir.join(n))?;
        if raw.starts_with(HEADER.as_bytes()) {
            sealed_files += 1;
        } else {
            plain_files.push(n.clone());
        }
    }
    Ok(serde_json::json!({
        "keys_dir": dir.display().to_string(),
        "keyring": super::keyring::is_keyring(dir),
        "sealed": info.is_some(),
        "mode": info.as_ref().map(|i| i.mode.as_str()),
        "seal_id": info.as_ref().map(|i| i.id.clone()),
        "threshold": info.as_ref().and_then(|i| i.threshold),
        "shares": info.as_ref().and_then(|i| i.shares),
        "secret_files": names.len(),
        "sealed_files": sealed_files,
        "plain_files": plain_files,
    }))
}

#[cfg(test)]
#[path = "seal_tests.rs"]
mod tests;
