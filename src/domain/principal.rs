//! Principals: city systems and staff, each holding one bearer token.

use serde::{Deserialize, Serialize};

use super::error::Error;
use super::vocab::{AgencyKind, PrincipalKind, Purpose, Role};
use crate::crypto::TokenHash;

/// A registered caller, as stored. The token itself is never kept.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct Principal {
    pub id: String,
    pub kind: PrincipalKind,
    pub roles: Vec<Role>,
    pub agency_kind: Option<AgencyKind>,
    pub purposes: Vec<Purpose>,
    pub token_hash: TokenHash,
    pub created_at: i64,
    /// v1.1: whether the token authenticates yet (records from before v1.1
    /// decode as active, see `store::decode_principal`).
    pub status: PrincipalStatus,
    /// The admin who issued it (`None` for the bootstrap admin and old records).
    pub issued_by: Option<String>,
    /// The admin other than the issuer who approved a privileged principal.
    pub approved_by: Option<String>,
}

/// Whether a principal's token works.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalStatus {
    Active,
    /// A privileged staff principal waiting for a second admin.
    PendingApproval,
    /// The retired bootstrap admin: kept for the record, its token refused.
    Disabled,
}

impl PrincipalStatus {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::PendingApproval => "pending_approval",
            Self::Disabled => "disabled",
        }
    }
}

/// Roles whose holder can read or keep cardholder data, or change who can:
/// a staff principal holding one needs a second admin's approval.
pub const PRIVILEGED: [Role; 3] = [Role::Admin, Role::PrivacyOfficer, Role::Legal];

/// The role pairs no principal may hold together (the floor forbids them too:
/// `floor.separation_of_duties`).
pub const FORBIDDEN_PAIRS: [(Role, Role); 4] = [
    (Role::Legal, Role::PrivacyOfficer),
    (Role::Admin, Role::Clerk),
    (Role::Admin, Role::Legal),
    (Role::Admin, Role::PrivacyOfficer),
];

/// The first forbidden pair within `roles`, if any.
#[must_use]
pub fn forbidden_pair(roles: &[Role]) -> Option<(Role, Role)> {
    FORBIDDEN_PAIRS
        .into_iter()
        .find(|(a, b)| roles.contains(a) && roles.contains(b))
}

impl Principal {
    /// Whether issuing it needs a second admin.
    #[must_use]
    pub fn is_privileged(&self) -> bool {
        self.kind == PrincipalKind::Staff && self.roles.iter().any(|r| PRIVILEGED.contains(r))
    }
}

/// `POST /v1/principals` as the admin sends it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPrincipal {
    pub id: String,
    pub kind: PrincipalKind,
    #[serde(default)]
    pub agency_kind: Option<AgencyKind>,
    /// Systems: the purposes they may ask facts for.
    #[serde(default)]
    #[schema(value_type = Vec<crate::domain::vocab::Purpose>)]
    pub purposes: Vec<String>,
    #[serde(default)]
    pub roles: Vec<Role>,
}

impl NewPrincipal {
    /// Checks the shape for its kind and turns it into a principal.
    ///
    /// # Errors
    /// A bad id, an unknown purpose, or fields that do not fit the kind.
    pub fn into_principal(self, token_hash: TokenHash, now: i64, issued_by: &str) -> Result<Principal, Error> {
        validate_id(&self.id)?;
        let mut purposes = Vec::with_capacity(self.purposes.len());
        for p in &self.purposes {
            let purpose = p
                .parse::<Purpose>()
                .map_err(|()| Error::UnknownPurpose("purposes".into()))?;
            if !purposes.contains(&purpose) {
                purposes.push(purpose);
            }
        }
        let mut roles = self.roles;
        roles.sort_unstable();
        roles.dedup();
        match self.kind {
            PrincipalKind::System => {
                if self.agency_kind.is_none() {
                    return Err(Error::invalid("agency_kind", "required for a system principal"));
                }
                if purposes.is_empty() {
                    return Err(Error::invalid(
                        "purposes",
                        "a system principal needs at least one purpose",
                    ));
                }
                if !roles.is_empty() {
                    return Err(Error::invalid("roles", "only staff principals have roles"));
                }
            }
            PrincipalKind::Staff => {
                if roles.is_empty() {
                    return Err(Error::invalid("roles", "a staff principal needs at least one role"));
                }
                if self.agency_kind.is_some() {
                    return Err(Error::invalid(
                        "agency_kind",
                        "only system principals have an agency kind",
                    ));
                }
                if !purposes.is_empty() {
                    return Err(Error::invalid("purposes", "only system principals register purposes"));
                }
                if let Some((a, b)) = forbidden_pair(&roles) {
                    return Err(Error::invalid(
                        "roles",
                        &format!(
                            "{} and {} may not be held together (separation of duties)",
                            a.as_str(),
                            b.as_str()
                        ),
                    ));
                }
            }
        }
        Ok(Principal {
            id: self.id,
            kind: self.kind,
            roles,
            agency_kind: self.agency_kind,
            purposes,
            token_hash,
            created_at: now,
            status: PrincipalStatus::Active,
            issued_by: Some(issued_by.to_owned()),
            approved_by: None,
        })
    }
}

/// Principal ids: 1 to 64 characters of `a-z 0-9 . _ -`, starting with a
/// letter or digit. They appear in audit entries and Cedar entity ids.
///
/// # Errors
/// Anything else.
pub fn validate_id(id: &str) -> Result<(), Error> {
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("id", "1 to 64 characters of a-z, 0-9, '.', '_' or '-'"))
    }
}
