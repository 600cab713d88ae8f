//! The witness's HTTP service: `POST /v1/witness/cosign`,
//! `GET /v1/witness/latest` and `GET /v1/witness/key`. Requests are bounded
//! ([`super::MAX_BODY`], [`super::MAX_ENTRIES`]); answers carry hashes and
//! sequence numbers, never an entry.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::state::Refused;
use super::{key_text, CosignRequest, WitnessState, COSIGN_PATH, LATEST_PATH, MAX_BODY, MAX_ENTRIES};

/// The witness's router.
pub fn router(state: Arc<WitnessState>) -> Router {
    Router::new()
        .route(COSIGN_PATH, post(cosign))
        .route(LATEST_PATH, get(latest))
        .route("/v1/witness/key", get(key))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Serves the witness on `listener` until `shutdown` resolves.
///
/// # Errors
/// The listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<WitnessState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(
        witness_key = %key_text(&state.public_key()),
        last_cosigned = state.latest().map_or(0, |l| l.seq),
        "witness serving"
    );
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

fn error(status: StatusCode, code: &str, reason: &str) -> Response {
    (status, Json(json!({"error": code, "reason": reason}))).into_response()
}

async fn cosign(State(state): State<Arc<WitnessState>>, body: axum::body::Bytes) -> Response {
    let req: CosignRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(_) => return error(StatusCode::BAD_REQUEST, "invalid_request", "not a cosign request"),
    };
    if req.entries.len() > MAX_ENTRIES {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_entries",
            &format!("at most {MAX_ENTRIES} entries a request"),
        );
    }
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let answer = tokio::task::spawn_blocking(move || state.cosign(&req, &now)).await;
    match answer {
        Ok(Ok(cosigned)) => Json(cosigned).into_response(),
        Ok(Err(Refused::Forbidden(reason))) => {
            tracing::warn!(reason = %reason, "cosign request not from the pinned vault key");
            error(StatusCode::FORBIDDEN, "not_the_vault", &reason)
        }
        Ok(Err(Refused::Conflict(refusal))) => (StatusCode::CONFLICT, Json(refusal)).into_response(),
        Ok(Err(Refused::Failed(reason))) => {
            tracing::error!(reason = %reason, "the witness could not record its state");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the witness could not record its state",
            )
        }
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "cosigning failed"),
    }
}

async fn latest(State(state): State<Arc<WitnessState>>) -> Response {
    Json(state.latest()).into_response()
}

async fn key(State(state): State<Arc<WitnessState>>) -> Response {
    Json(json!({"witness_key": key_text(&state.public_key())})).into_response()
}
