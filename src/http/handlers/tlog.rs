//! The audit log as a transparency log (contract v1.2): the newest signed
//! checkpoint with its cosignatures, C2SP hash tiles, and RFC 6962
//! inclusion and consistency proofs. Every answer is about hashes: no entry,
//! no subject.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;

use crate::authz::Action;
use crate::domain::store::Store;
use crate::domain::tlog::{self, TreeError};
use crate::domain::vocab::Purpose;
use crate::http::error::{ApiError, Error};
use crate::http::gate::Gate;
use crate::http::openapi::{BadRequest, Refused};
use crate::vault::Vault;

const PURPOSE: Purpose = Purpose::Oversight;

/// An inclusion proof.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    /// base64 hashes, leaf to root (RFC 6962 §2.1.1).
    pub hashes: Vec<String>,
}

/// A consistency proof.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    /// base64 hashes (RFC 6962 §2.1.2).
    pub hashes: Vec<String>,
}

fn text(body: String) -> Response {
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

fn tree_error(e: TreeError, field: &str) -> ApiError {
    match e {
        TreeError::Store(detail) => Error::unavailable(detail).into(),
        TreeError::Missing { .. } | TreeError::Input(_) => {
            ApiError::invalid(field, "is beyond the tree the log holds, or not a valid size")
        }
    }
}

fn numbers(q: &HashMap<String, String>, keys: [&str; 2]) -> Result<[u64; 2], ApiError> {
    if let Some(k) = q.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(ApiError::invalid(k, "is not accepted here"));
    }
    let one = |k: &str| {
        q.get(k)
            .ok_or_else(|| ApiError::invalid(k, "is required"))?
            .parse::<u64>()
            .map_err(|_| ApiError::invalid(k, "must be a whole number"))
    };
    Ok([one(keys[0])?, one(keys[1])?])
}

/// The newest signed checkpoint with the cosignatures recorded for it; on
/// a log that has none yet, one signed now (after a flush).
async fn newest(vault: &Arc<Vault>) -> Result<String, ApiError> {
    let note = vault
        .read(|v| {
            if v.tree_checkpoints.latest().is_none() {
                v.store.flush()?;
                v.tree_checkpoints
                    .sign(&v.store)
                    .map_err(crate::domain::store::StoreError::Failed)?;
            }
            Ok(v.tree_checkpoints.latest_cosigned())
        })
        .await?;
    Ok(note.ok_or(Error::NotFound)?)
}

/// `GET /v1/audit/checkpoint`.
#[utoipa::path(
    get,
    path = "/v1/audit/checkpoint",
    operation_id = "audit_checkpoint",
    tag = "oversight",
    description = "The audit log's newest checkpoint as a C2SP tlog-checkpoint signed note \
        (origin, tree size, base64 root hash, a blank line, the vault's signature line, then \
        witnesses' cosignature lines). Verify it with the key `civic-vault audit verifier-key` \
        prints.\n\n\
        Permissions: auditor or privacy officer (Cedar action `read_audit`, purpose `oversight`); \
        anyone when `[audit] publish_checkpoints = true`.",
    responses(
        (status = 200, description = "the signed note", body = String, content_type = "text/plain"),
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn checkpoint(gate: Gate) -> Result<Response, ApiError> {
    gate.admit(Action::ReadAudit, PURPOSE)?;
    Ok(text(newest(&gate.vault).await?))
}

/// `GET /v1/audit/checkpoint` when published: no token, not audited (a
/// public route must not be a way to fill the audit log).
///
/// # Errors
/// As [`checkpoint`].
pub async fn public_checkpoint(State(vault): State<Arc<Vault>>) -> Result<Response, ApiError> {
    Ok(text(newest(&vault).await?))
}

/// `GET /v1/audit/tile/{L}/{N}[.p/{W}]`.
#[utoipa::path(
    get,
    path = "/v1/audit/tile/{path}",
    operation_id = "audit_tile",
    tag = "oversight",
    description = "A C2SP tlog-tiles hash tile of the audit's Merkle tree: `{L}/{N}` (N in the \
        spec's x001/234 form) is a full tile of 256 hashes, `{L}/{N}.p/{W}` the first W hashes.\n\n\
        Permissions: auditor or privacy officer (Cedar action `read_audit`, purpose `oversight`).",
    params(("path" = String, Path, description = "L/N or L/N.p/W, as C2SP tlog-tiles spells them")),
    responses(
        (status = 200, description = "the tile's hashes", body = Vec<u8>, content_type = "application/octet-stream"),
        BadRequest,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn tile(gate: Gate, Path(path): Path<String>) -> Result<Response, ApiError> {
    gate.admit(Action::ReadAudit, PURPOSE)?;
    // The crate reads Go's form, tile/H/L/N; C2SP leaves H (always 8) out.
    // It panics on a level past 63 or a width of 0 (`Tile::new` asserts), so
    // those are refused first.
    let t = plausible_tile(&path)
        .then(|| tlog_tiles::Tile::from_path(&format!("tile/{}/{path}", tlog::TILE_HEIGHT)).ok())
        .flatten()
        .filter(|t| !t.is_data() && t.height() == tlog::TILE_HEIGHT)
        .ok_or_else(|| ApiError::invalid("path", "must be a hash tile path L/N or L/N.p/W"))?;
    let (level, n, width) = (t.level(), t.level_index(), u64::from(t.width()));
    let bytes = gate
        .vault
        .read(move |v| {
            let size = v.store.tlog_size()?;
            let have = tlog::level_width(size, level).saturating_sub(n.saturating_mul(tlog::TILE_WIDTH));
            if have < width {
                return Ok(Err(TreeError::Missing {
                    level,
                    from: n,
                    to: width,
                }));
            }
            Ok(tlog::tile(&v.store, level, n, width))
        })
        .await?
        .map_err(|e| match e {
            TreeError::Store(d) => ApiError::from(Error::unavailable(d)),
            _ => Error::NotFound.into(),
        })?;
    Ok(([(CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// Whether a tile path's level and partial width are in the ranges
/// `tlog_tiles::Tile::new` asserts (level < 64, width 1..=255).
fn plausible_tile(path: &str) -> bool {
    let level = path.split('/').next().and_then(|l| l.parse::<u8>().ok());
    let width_ok = match path.split_once(".p/") {
        Some((_, w)) => w.parse::<u32>().is_ok_and(|w| (1..256).contains(&w)),
        None => true,
    };
    level.is_some_and(|l| l < 64) && width_ok
}

/// `GET /v1/audit/proof/inclusion?seq=N&size=S`.
#[utoipa::path(
    get,
    path = "/v1/audit/proof/inclusion",
    operation_id = "audit_inclusion_proof",
    tag = "oversight",
    description = "RFC 6962 inclusion proof of entry `seq` (leaf index seq − 1) in the tree of \
        `size` entries: check it against a checkpoint of that size.\n\n\
        Permissions: auditor or privacy officer (Cedar action `read_audit`, purpose `oversight`).",
    params(
        ("seq" = u64, Query, description = "the entry"),
        ("size" = u64, Query, description = "the tree size (a checkpoint's)"),
    ),
    responses(
        (status = 200, description = "the proof", body = InclusionProof),
        BadRequest,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn inclusion(gate: Gate, Query(q): Query<HashMap<String, String>>) -> Result<Json<InclusionProof>, ApiError> {
    gate.admit(Action::ReadAudit, PURPOSE)?;
    let [seq, size] = numbers(&q, ["seq", "size"])?;
    if seq == 0 || seq > size {
        return Err(ApiError::invalid("seq", "must be 1 to size"));
    }
    let proof = gate
        .vault
        .read(move |v| {
            if size > v.store.tlog_size()? {
                return Ok(Err(TreeError::Input("size".into())));
            }
            Ok(tlog::inclusion_proof(&v.store, seq - 1, size))
        })
        .await?
        .map_err(|e| tree_error(e, "size"))?;
    Ok(Json(InclusionProof {
        leaf_index: seq - 1,
        tree_size: size,
        hashes: proof.iter().map(|h| STANDARD.encode(h)).collect(),
    }))
}

/// `GET /v1/audit/proof/consistency?from=A&to=B`.
#[utoipa::path(
    get,
    path = "/v1/audit/proof/consistency",
    operation_id = "audit_consistency_proof",
    tag = "oversight",
    description = "RFC 6962 consistency proof that the tree of `from` entries is a prefix of the \
        tree of `to` entries.\n\n\
        Permissions: auditor or privacy officer (Cedar action `read_audit`, purpose `oversight`).",
    params(
        ("from" = u64, Query, description = "the older tree size (>= 1)"),
        ("to" = u64, Query, description = "the newer tree size"),
    ),
    responses(
        (status = 200, description = "the proof", body = ConsistencyProof),
        BadRequest,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn consistency(
    gate: Gate,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    gate.admit(Action::ReadAudit, PURPOSE)?;
    let [from, to] = numbers(&q, ["from", "to"])?;
    if from == 0 || from > to {
        return Err(ApiError::invalid("from", "must be 1 to `to`"));
    }
    let proof = gate
        .vault
        .read(move |v| {
            if to > v.store.tlog_size()? {
                return Ok(Err(TreeError::Input("to".into())));
            }
            Ok(tlog::consistency_proof(&v.store, from, to))
        })
        .await?
        .map_err(|e| tree_error(e, "to"))?;
    Ok(Json(ConsistencyProof {
        from,
        to,
        hashes: proof.iter().map(|h| STANDARD.encode(h)).collect(),
    }))
}
