//! A C2SP transparency-log witness (c2sp.org/tlog-witness), as
//! `civic-vault witness serve` runs it and as the vault's client speaks
//! to any witness: `POST <prefix>/add-checkpoint` with the size the
//! witness last cosigned (`old N`), a Merkle consistency proof from that
//! size (RFC 6962 §2.1.2), a blank line and the log's signed checkpoint
//! (c2sp.org/tlog-checkpoint). The witness answers with `cosignature/v1`
//! lines (c2sp.org/tlog-cosignature), or 409 and its own size, 422 for a
//! proof that does not verify, 403 for a checkpoint no trusted key
//! signed, 404 for a log it does not know.
//!
//! A witness receives checkpoints and hashes, never an audit entry: it
//! learns the log's size over time, nothing of who asked about what.
//!
//! This module holds what both sides share: the request's text, how it
//! parses, and the bounds. It sits below the vault and knows no store.

pub mod server;
mod state;

pub use state::{Answer, WitnessState};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The submission path, after the witness's URL prefix.
pub const ADD_CHECKPOINT: &str = "/add-checkpoint";
/// The content type of a 409's body: the witness's size, in decimal.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";
/// Consistency proof lines a request may hold (tlog-witness: at most 63).
pub const MAX_PROOF_LINES: usize = 63;
/// A request's body, at most: 63 hashes and a checkpoint with its signatures.
pub const MAX_BODY: usize = 64 * 1024;

/// An `add-checkpoint` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the previous checkpoint the client believes the witness holds.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<[u8; 32]>,
    /// The signed checkpoint, as sent.
    pub checkpoint: String,
}

impl AddCheckpoint {
    /// The request's body text.
    #[must_use]
    pub fn body(&self) -> String {
        let mut out = format!("old {}\n", self.old);
        for h in &self.proof {
            out.push_str(&STANDARD.encode(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// Parses a request body.
    ///
    /// # Errors
    /// Not `old N`, proof lines, a blank line and a checkpoint, as the
    /// protocol writes them: why, in words that quote nothing sent.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_owned())?;
        let (first, mut rest) = text
            .split_once('\n')
            .ok_or_else(|| "the body does not begin with an old size line".to_owned())?;
        let old = first
            .strip_prefix("old ")
            .filter(|n| !n.is_empty() && (n.len() == 1 || !n.starts_with('0')) && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| "the first line is not `old <size>` (decimal, no leading zeroes)".to_owned())?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = rest
                .split_once('\n')
                .ok_or_else(|| "no blank line before the checkpoint".to_owned())?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(format!("more than {MAX_PROOF_LINES} consistency proof lines"));
            }
            let hash: [u8; 32] = STANDARD
                .decode(line)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| "a consistency proof line is not a base64 SHA-256 hash".to_owned())?;
            proof.push(hash);
        }
        if rest.is_empty() {
            return Err("no checkpoint after the blank line".into());
        }
        Ok(Self {
            old,
            proof,
            checkpoint: rest.to_owned(),
        })
    }
}

/// Parses a 409's body: the witness's size, a decimal and a newline.
#[must_use]
pub fn parse_size(body: &str) -> Option<u64> {
    let n = body.strip_suffix('\n').unwrap_or(body).trim();
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .then(|| n.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    #[test]
    fn a_request_reads_back_as_written() {
        let req = AddCheckpoint {
            old: 20,
            proof: vec![[1; 32], [2; 32]],
            checkpoint: "log.example\n25\nAAAA\n\n— log.example abc\n".into(),
        };
        assert_eq!(AddCheckpoint::parse(req.body().as_bytes()).unwrap(), req);
        let zero = AddCheckpoint {
            old: 0,
            proof: vec![],
            checkpoint: "x\n1\nAAAA\n\n— x y\n".into(),
        };
        assert!(zero.body().starts_with("old 0\n\nx\n"));
        assert_eq!(AddCheckpoint::parse(zero.body().as_bytes()).unwrap(), zero);
    }

    #[test]
    fn malformed_requests_are_refused() {
        for bad in [
            "",
            "old\n\nx\n",
            "old 01\n\nx\n",
            "old -1\n\nx\n",
            "new 1\n\nx\n",
            "old 1\nnot base64!\n\nx\n",
            "old 1\nAAAA\n\nx\n",
            "old 1\n",
            "old 1\n\n",
        ] {
            assert!(AddCheckpoint::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        let many = format!("old 1\n{}\nx\n", format!("{}\n", STANDARD.encode([0u8; 32])).repeat(64));
        assert!(AddCheckpoint::parse(many.as_bytes()).is_err());
        assert_eq!(parse_size("42\n"), Some(42));
        assert_eq!(parse_size("x\n"), None);
    }
}
