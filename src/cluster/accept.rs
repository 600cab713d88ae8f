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
        // It names which KEK is active: it changes with every rotation.
        return Ok(Verdict::Write);
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

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
