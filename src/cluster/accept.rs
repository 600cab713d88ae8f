//! Whether a key file received from a peer may be written here, decided
//! before anything is written: a peer never replaces a key this node
//! holds (a different file under a held name is refused, 409; the same
//! file again is acknowledged), and never delivers a scan epoch key or an
//! issuer key whose time has not come (a key for a future epoch would be
//! used for scans not yet taken; a far-future issuer key would become the
//! signing key). Refusals are logged by name, never with key bytes.

use hyper::StatusCode;

use super::wire::Kind;
use crate::crypto::KeyFiles;

/// How far ahead of this node's clock a received scan epoch or issuer key
/// may start: both are made when first needed (the epoch containing now, an
/// issuer key dated now), never early, so this only absorbs clock skew
/// between nodes.
pub const SKEW_SECS: i64 = 300;

/// What to do with a received key file.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not held here: write it, then load it.
    Write,
    /// Held here already with exactly this content: acknowledge.
    Held,
    /// A manifest naming a KEK not held here yet: acknowledge, not applied
    /// (a rotation sends the KEK first; it is sent again with it).
    NotYet,
}

pub type Refusal = (StatusCode, String);

/// Decides on `name` (of `kind`) received with `bytes`, at `now` (unix
/// seconds, this vault's clock).
///
/// # Errors
/// 409 when `name` is held here with other content, or names a future
/// epoch or issuer key; 503 when the held file does not read.
pub fn check(files: &KeyFiles, name: &str, kind: Kind, bytes: &[u8], now: i64) -> Result<Verdict, Refusal> {
    let starts = match kind {
        Kind::Scan => crate::crypto::EpochId::start_of_file(name),
        Kind::Issuer => crate::crypto::issuer_created_of_file(name),
        _ => None,
    };
    if matches!(kind, Kind::Scan | Kind::Issuer) && starts.is_none_or(|s| s > now.saturating_add(SKEW_SECS)) {
        tracing::error!(file = %name, "a peer sent a key for a time that has not come: refused");
        return Err((
            StatusCode::CONFLICT,
            "a scan epoch or issuer key whose time has not come is refused".into(),
        ));
    }
    if kind == Kind::Manifest {
        // It names which KEK is active: it changes with every rotation, and
        // nothing else in it may.
        return match crate::crypto::check_received_manifest(files, bytes) {
            Ok(true) => Ok(Verdict::Write),
            Ok(false) => Ok(Verdict::NotYet),
            Err(e) => {
                tracing::error!(file = %name, error = %e, "a peer sent a keyring.toml that is refused");
                Err((StatusCode::CONFLICT, e.to_string()))
            }
        };
    }
    if !well_formed(kind, bytes) {
        return Err((StatusCode::BAD_REQUEST, format!("{name}: not a key of its kind")));
    }
    let held = files
        .read_for_peer(name)
        .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    match held {
        None => Ok(Verdict::Write),
        Some(held) if constant_eq(&held, bytes) => Ok(Verdict::Held),
        Some(_) => {
            tracing::error!(file = %name, "a peer sent other content for a key file held here: refused");
            Err((
                StatusCode::CONFLICT,
                "a key file held here is never replaced by a peer's".into(),
            ))
        }
    }
}

/// Whether `bytes` read as a key of `kind`, as the keyring will load it: a
/// KEK or an issuer key is 32 bytes in base64, a scan or hold key an age
/// X25519 identity.
fn well_formed(kind: Kind, bytes: &[u8]) -> bool {
    use base64::Engine;
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    match kind {
        Kind::Kek | Kind::Issuer | Kind::Attestation => base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map(zeroize::Zeroizing::new)
            .is_ok_and(|b| b.len() == 32),
        Kind::Scan | Kind::Hold => text.trim().parse::<age::x25519::Identity>().is_ok(),
        Kind::Manifest => false,
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
