//! Health, unsealing, attestation keys and the OpenAPI document.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always "ok" when it answers.
    #[schema(example = "ok")]
    pub status: String,
    /// Present (true) while the keys are sealed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealed: Option<bool>,
}

impl Health {
    /// The answer of a vault whose keys are open.
    #[must_use]
    pub fn ok() -> Self {
        Self {
            status: "ok".into(),
            sealed: None,
        }
    }
}

/// `GET /readyz`: whether a load balancer should send requests here.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    /// "active" (this node serves), "standby" (another node holds the
    /// store), "sealed" (the keys are not open yet) or "starting".
    #[schema(example = "active")]
    pub role: String,
    /// Why an active node is not ready: "store_failed" (a storage write
    /// failed and the vault fails closed) or "witness_conflict" (the audit
    /// chain disagrees with the off-box witness). Absent when ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /v1/unseal` and the answers of `POST /v1/unseal`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnsealStatus {
    pub sealed: bool,
    /// "shares" or "passphrase" (while sealed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The seal's id (while sealed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seal_id: Option<String>,
    /// Shares needed (while sealed; null for a passphrase seal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u8>,
    /// Distinct shares held so far (while sealed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<u64>,
}

impl UnsealStatus {
    /// The answer of a vault whose keys are open.
    #[must_use]
    pub fn unsealed() -> Self {
        Self {
            sealed: false,
            mode: None,
            seal_id: None,
            threshold: None,
            received: None,
        }
    }
}

/// `GET /v1/attestation-keys`: a JWKS (RFC 7517).
#[derive(Debug, Serialize, ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// One Ed25519 public key (RFC 8037 `OKP`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    /// "OKP".
    pub kty: String,
    /// "Ed25519".
    pub crv: String,
    /// The public key, base64url.
    pub x: String,
    /// The key id attestations name in their header.
    pub kid: String,
    /// "sig".
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    #[schema(rename = "use")]
    pub use_: Option<String>,
    /// "EdDSA".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
}

/// `GET /v1/openapi.json`: an OpenAPI 3.1 document, this one. Describes the
/// document's outer shape only; OpenAPI's own schema describes the rest.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OpenApiDocument {
    /// "3.1.0".
    pub openapi: String,
    /// Title, description, version.
    #[schema(value_type = Object)]
    pub info: serde_json::Map<String, serde_json::Value>,
    /// Each path template's operations.
    #[schema(value_type = BTreeMap<String, Object>)]
    pub paths: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    /// Schemas and security schemes.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub components: Option<serde_json::Map<String, serde_json::Value>>,
    /// Tags and their descriptions.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub tags: Option<Vec<serde_json::Value>>,
}
