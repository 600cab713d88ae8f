//! What can go wrong in the vault's own terms. The HTTP skin maps each case
//! to a status and a contract `code` in one match (the HTTP skin's `error`);
//! nothing here knows a status code.
//!
//! A message names a field at most, never a value the caller sent: callers
//! see it. `detail` is for the operator's log, and never holds personal data.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Malformed or out-of-range input; the message names the field.
    #[error("{0}")]
    InvalidRequest(String),
    #[error("unknown purpose in `{0}`")]
    UnknownPurpose(String),
    #[error("unknown fact in `{0}`")]
    UnknownFact(String),
    /// The thing does not exist, or the caller may not know whether it does.
    #[error("not found")]
    NotFound,
    /// A Cedar decision denied it.
    #[error("denied by policy")]
    Forbidden { decision_id: String },
    #[error("an identity document on this application already backs an active card")]
    DuplicateEnrollment,
    #[error("a principal with this id already exists")]
    PrincipalExists,
    #[error("the policies changed since the version given in expected_version")]
    VersionConflict,
    #[error("the candidate policies were rejected; see the report")]
    PolicyRejected { report: Box<serde_json::Value> },
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("the proofs do not meet the program's requirements")]
    InsufficientProof { missing: Vec<String> },
    /// The vault cannot do this now (storage failed, a writer stopped): it
    /// fails closed.
    #[error("the vault cannot serve this request now")]
    Unavailable { detail: String },
    #[error("internal error")]
    Internal { detail: String },
}

impl Error {
    /// `field`: what is wrong (e.g. `applicant.date_of_birth`); `why`: how.
    #[must_use]
    pub fn invalid(field: &str, why: &str) -> Self {
        Self::InvalidRequest(format!("`{field}`: {why}"))
    }

    /// An internal failure, with detail for the log only.
    #[must_use]
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::Internal { detail: detail.into() }
    }

    /// A failure that makes the vault fail closed, with detail for the log only.
    #[must_use]
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::Unavailable { detail: detail.into() }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Failed(detail) => Self::Unavailable { detail },
            StoreError::Conflict(Conflict::DuplicateEnrollment) => Self::DuplicateEnrollment,
            StoreError::Conflict(Conflict::PrincipalExists) => Self::PrincipalExists,
            StoreError::Conflict(Conflict::NotFound) => Self::NotFound,
            StoreError::Conflict(Conflict::VersionConflict) => Self::VersionConflict,
            StoreError::Conflict(Conflict::CardIdTaken) => Self::Unavailable {
                detail: "card id collision".into(),
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not read or write. The caller fails closed (503).
    #[error("storage failure: {0}")]
    Failed(String),
    /// A change conflicted with what is stored; nothing was changed.
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// An identity document already backs an active card.
    DuplicateEnrollment,
    /// A principal with this id exists.
    PrincipalExists,
    /// The thing to change does not exist.
    NotFound,
    /// The freshly drawn card id is taken (about one chance in 2^80).
    CardIdTaken,
    /// Another policy version was stored first.
    VersionConflict,
}

impl Conflict {
    /// The error code a caller (and the audit entry) sees.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::DuplicateEnrollment => "duplicate_enrollment",
            Self::PrincipalExists => "principal_exists",
            Self::NotFound => "not_found",
            Self::CardIdTaken => "unavailable",
            Self::VersionConflict => "version_conflict",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
