//! The HTTP face of errors: every failure a caller can see, mapped to its
//! status and contract `code` in one match. Domain failures arrive as
//! [`crate::domain::error::Error`]; the cases only HTTP knows (no token, a
//! rate limit, a sealed vault, a wrong method) are added here. The caller's
//! message names a field at most; detail meant for operators goes to the log
//! (without personal data), never to the caller.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub use crate::domain::error::Error;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Domain(#[from] Error),
    #[error("a valid bearer token is required")]
    Unauthenticated,
    /// Expected while the keys are sealed, so not logged as a failure.
    #[error("the vault is sealed: it serves nothing until its keys are unsealed (GET /v1/unseal)")]
    Sealed,
    #[error("{0}")]
    UnsealFailed(String),
    /// This node is a standby: another node holds the database lock.
    #[error("this node is a standby: another node of this vault is active")]
    Standby,
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("too many requests; retry later")]
    RateLimited { retry_after_secs: u64 },
}

impl From<crate::domain::store::StoreError> for ApiError {
    fn from(e: crate::domain::store::StoreError) -> Self {
        Self::Domain(e.into())
    }
}

/// Marks a response with the code it carried, for the audit entry.
#[derive(Clone, Copy, Debug)]
pub struct ErrorCode(pub &'static str);

impl ApiError {
    /// `field`: what is wrong (e.g. `applicant.date_of_birth`); `why`: how.
    #[must_use]
    pub fn invalid(field: &str, why: &str) -> Self {
        Self::Domain(Error::invalid(field, why))
    }

    /// The one place statuses and contract codes are decided.
    #[must_use]
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Domain(e) => match e {
                Error::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
                Error::UnknownPurpose(_) => (StatusCode::BAD_REQUEST, "unknown_purpose"),
                Error::UnknownFact(_) => (StatusCode::BAD_REQUEST, "unknown_fact"),
                Error::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden_by_policy"),
                Error::NotFound => (StatusCode::NOT_FOUND, "not_found"),
                Error::DuplicateEnrollment => (StatusCode::CONFLICT, "duplicate_enrollment"),
                Error::PrincipalExists => (StatusCode::CONFLICT, "principal_exists"),
                Error::VersionConflict => (StatusCode::CONFLICT, "version_conflict"),
                Error::PolicyRejected { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "policy_rejected"),
                Error::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
                Error::InsufficientProof { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "insufficient_proof"),
                Error::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
                Error::Internal { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            },
            Self::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Self::Sealed | Self::Standby => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::UnsealFailed(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unseal_failed"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            Self::Domain(Error::Unavailable { detail }) => {
                tracing::error!(code, detail = %detail, "request failed closed")
            }
            Self::Domain(Error::Internal { detail }) => tracing::error!(code, detail = %detail, "internal error"),
            _ => {}
        }
        let mut error = json!({ "code": code, "message": self.to_string() });
        match &self {
            Self::Domain(Error::Forbidden { decision_id }) => error["decision_id"] = json!(decision_id),
            Self::Domain(Error::PolicyRejected { report }) => error["report"] = (**report).clone(),
            Self::Domain(e @ Error::InsufficientProof { missing }) => {
                error["missing"] = json!(missing);
                error["message"] = json!(format!("{e}; missing: {}", missing.join("; ")));
            }
            _ => {}
        }
        let body = match &self {
            Self::Standby => json!({ "error": error, "role": "standby" }),
            _ => json!({ "error": error }),
        };
        let mut response = (status, axum::Json(body)).into_response();
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
