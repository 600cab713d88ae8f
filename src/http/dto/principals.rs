//! Principals: who may call the vault.

use serde::Serialize;
use utoipa::ToSchema;

use super::rfc3339;
use crate::domain::principal::{Principal, PrincipalStatus};
use crate::domain::vocab::{AgencyKind, PrincipalKind, Purpose, Role};

/// `POST /v1/principals` → 201: the token, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedPrincipal {
    pub id: String,
    pub kind: PrincipalKind,
    /// Staff: the roles held (empty for systems).
    pub roles: Vec<Role>,
    /// Systems: the agency kind (null for staff).
    pub agency_kind: Option<AgencyKind>,
    /// Systems: the purposes registered (empty for staff).
    pub purposes: Vec<Purpose>,
    /// `active`, or `pending_approval` until an admin other than the issuer approves.
    pub status: PrincipalStatus,
    /// The bearer token: shown in this answer and nowhere else.
    pub token: String,
    /// Staff: the one-time link (valid 24 h) that registers a passkey for
    /// the console; it works once the principal is active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_url: Option<String>,
    /// What this issuance did to the bootstrap admin token, when it did
    /// something or will at the next admin (see `bootstrap_notice`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
}

/// `POST /v1/principals/{id}/approve` → 200.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrincipalApproved {
    pub id: String,
    /// `active`.
    pub status: PrincipalStatus,
    /// What this approval did to the bootstrap admin token, when it did
    /// something or will at the next admin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
}

/// `POST /v1/principals/{id}/rotate` → 200: the new token, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenRotated {
    pub id: String,
    pub token: String,
    /// Staff: a new one-time passkey registration link; the passkeys
    /// registered before are removed and console sessions end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_url: Option<String>,
}

/// `GET /v1/principals`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrincipalList {
    pub principals: Vec<ListedPrincipal>,
}

/// A principal as listed: never its token or the token's hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListedPrincipal {
    pub id: String,
    pub kind: PrincipalKind,
    pub status: PrincipalStatus,
    /// The admin who issued it (null for the bootstrap admin).
    pub issued_by: Option<String>,
    /// The second admin who approved a privileged principal, or null.
    pub approved_by: Option<String>,
    /// RFC 3339.
    pub created_at: Option<String>,
    #[serde(flatten)]
    pub grants: PrincipalGrants,
}

/// What a principal may be granted: roles for staff, an agency kind and
/// purposes for systems.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum PrincipalGrants {
    /// Staff.
    Staff { roles: Vec<Role> },
    /// Systems.
    System {
        agency_kind: Option<AgencyKind>,
        purposes: Vec<Purpose>,
    },
}

impl From<&Principal> for ListedPrincipal {
    fn from(p: &Principal) -> Self {
        let grants = if p.kind == PrincipalKind::Staff {
            PrincipalGrants::Staff { roles: p.roles.clone() }
        } else {
            PrincipalGrants::System {
                agency_kind: p.agency_kind,
                purposes: p.purposes.clone(),
            }
        };
        Self {
            id: p.id.clone(),
            kind: p.kind,
            status: p.status,
            issued_by: p.issued_by.clone(),
            approved_by: p.approved_by.clone(),
            created_at: rfc3339(p.created_at),
            grants,
        }
    }
}
