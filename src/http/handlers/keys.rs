//! `POST /v1/keys/attestation/rotate`: replacing the attestation key now.

use axum::Json;

use crate::authz::Action;
use crate::domain::vocab::Purpose;
use crate::http::error::ApiError;
use crate::http::gate::Gate;
use crate::http::openapi::Refused;
use crate::vault::attestation_keys::AttestationRotation;

/// `POST /v1/keys/attestation/rotate` (`civic-vault keys rotate-attestation`).
#[utoipa::path(
    post,
    path = "/v1/keys/attestation/rotate",
    tag = "ops",
    description = "Replaces the key that signs fact attestations now: a new key signs from the \
        next answer on, the old key's seed is destroyed, and its public key stays in \
        `GET /v1/attestation-keys` until every attestation it signed has expired \
        (`[facts] attestation_ttl` and a minute), so verifiers that fetch the JWKS keep verifying. \
        On a cluster the new key and `keyring.toml` travel to every node, which sign with it once \
        they hold it. No body.\n\n\
        Permissions: admin (Cedar action `rotate_keys`, purpose `system_administration`).",
    responses(
        (status = 200, description = "the new key and the retired one", body = AttestationRotation),
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn rotate_attestation(gate: Gate) -> Result<Json<AttestationRotation>, ApiError> {
    gate.admit(Action::RotateKeys, Purpose::SystemAdministration)?;
    Ok(Json(gate.vault.rotate_attestation().await?))
}
