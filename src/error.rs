//! The service's one error type, mapped to HTTP status and contract `code`
//! in one place. The caller's message names a field at most; detail meant
//! for operators goes to the log (without personal data), never to the caller.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::store::{Conflict, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("unknown purpose in `{0}`")]
    UnknownPurpose(String),
    #[error("unknown fact in `{0}`")]
    UnknownFact(String),
    #[error("a valid bearer token is required")]
    Unauthenticated,
    #[error("denied by policy")]
    Forbidden { decision_id: String },
    #[error("not found")]
    NotFound,
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
    #[error("the vault cannot serve this request now")]
    Unavailable { detail: String },
    /// Expected while the keys are sealed, so not logged as a failure.
    #[error("the vault is sealed: it serves nothing until its keys are unsealed (GET /v1/unseal)")]
    Sealed,
    #[error("{0}")]
    UnsealFailed(String),
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("too many requests; retry later")]
    RateLimited { retry_after_secs: u64 },
    #[error("internal error")]
    Internal { detail: String },
}

/// Marks a response with the code it carried, for the audit entry.
#[derive(Clone, Copy, Debug)]
pub struct ErrorCode(pub &'static str);

impl ApiError {
    /// `field`: what is wrong (e.g. `applicant.date_of_birth`); `why`: how.
    #[must_use]
    pub fn invalid(field: &str, why: &str) -> Self {
        Self::InvalidRequest(format!("`{field}`: {why}"))
    }

    #[must_use]
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            Self::UnknownPurpose(_) => (StatusCode::BAD_REQUEST, "unknown_purpose"),
            Self::UnknownFact(_) => (StatusCode::BAD_REQUEST, "unknown_fact"),
            Self::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Self::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden_by_policy"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::DuplicateEnrollment => (StatusCode::CONFLICT, "duplicate_enrollment"),
            Self::PrincipalExists => (StatusCode::CONFLICT, "principal_exists"),
            Self::VersionConflict => (StatusCode::CONFLICT, "version_conflict"),
            Self::PolicyRejected { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "policy_rejected"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::InsufficientProof { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "insufficient_proof"),
            Self::Unavailable { .. } | Self::Sealed => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::UnsealFailed(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unseal_failed"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Internal { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<StoreError> for ApiError {
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            Self::Unavailable { detail } => tracing::error!(code, detail = %detail, "request failed closed"),
            Self::Internal { detail } => tracing::error!(code, detail = %detail, "internal error"),
            _ => {}
        }
        let mut error = json!({ "code": code, "message": self.to_string() });
        if let Self::Forbidden { decision_id } = &self {
            error["decision_id"] = json!(decision_id);
        }
        if let Self::PolicyRejected { report } = &self {
            error["report"] = (**report).clone();
        }
        if let Self::InsufficientProof { missing } = &self {
            error["missing"] = json!(missing);
            error["message"] = json!(format!("{}; missing: {}", self, missing.join("; ")));
        }
        let mut response = (status, axum::Json(json!({ "error": error }))).into_response();
        if let Self::RateLimited { retry_after_secs } = &self {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(*retry_after_secs),
            );
        }
        response.extensions_mut().insert(ErrorCode(code));
        response
    }
}
