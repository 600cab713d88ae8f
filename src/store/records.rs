//! How records are encoded in sled (postcard), and the one record with two
//! versions on disk: principals before and since v1.1.

use super::failed;
use crate::domain::principal::Principal;
use crate::domain::store::StoreError;

pub(crate) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|_| StoreError::Failed("unreadable record".into()))
}

/// Every value of a tree, decoded, in key order.
pub(super) fn decode_all<T: serde::de::DeserializeOwned>(tree: &sled::Tree) -> Result<Vec<T>, StoreError> {
    tree.iter().values().map(|v| decode(&v.map_err(failed)?)).collect()
}

/// Principal records since v1.1 start with this byte. An older record starts
/// with its id's length (1 to 64, a one-byte varint), so the two never meet.
const PRINCIPAL_V2: u8 = 0xF2;

/// The principal record as stored before v1.1 (no status, issuer, approver).
#[derive(serde::Deserialize)]
struct PrincipalV1 {
    id: String,
    kind: crate::domain::vocab::PrincipalKind,
    roles: Vec<crate::domain::vocab::Role>,
    agency_kind: Option<crate::domain::vocab::AgencyKind>,
    purposes: Vec<crate::domain::vocab::Purpose>,
    token_hash: crate::crypto::TokenHash,
    created_at: i64,
}

pub(crate) fn encode_principal(p: &Principal) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![PRINCIPAL_V2];
    out.extend(encode(p)?);
    Ok(out)
}

/// Reads a principal record of either version; a pre-v1.1 principal was
/// active (that version had no approval), with no recorded issuer.
pub(crate) fn decode_principal(bytes: &[u8]) -> Result<Principal, StoreError> {
    if let Some(rest) = bytes.strip_prefix(&[PRINCIPAL_V2]) {
        return decode(rest);
    }
    let old: PrincipalV1 = decode(bytes)?;
    Ok(Principal {
        id: old.id,
        kind: old.kind,
        roles: old.roles,
        agency_kind: old.agency_kind,
        purposes: old.purposes,
        token_hash: old.token_hash,
        created_at: old.created_at,
        status: crate::domain::principal::PrincipalStatus::Active,
        issued_by: None,
        approved_by: None,
    })
}

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(value).map_err(|_| StoreError::Failed("record encoding".into()))
}
