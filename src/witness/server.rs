//! The witness's HTTP service: `POST /add-checkpoint` (c2sp.org/tlog-witness)
//! and `GET /` (its verifier key and the origins it witnesses, for whoever
//! sets it up; not their sizes). Bodies are bounded ([`super::MAX_BODY`]); answers carry
//! sizes and signatures, nothing a log logged.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::{Answer, WitnessState, ADD_CHECKPOINT, MAX_BODY, SIZE_CONTENT_TYPE};

/// The witness's router.
pub fn router(state: Arc<WitnessState>) -> Router {
    Router::new()
        .route(ADD_CHECKPOINT, post(add_checkpoint))
        .route("/", get(about))
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
        verifier_key = %state.verifier_key().text(),
        logs = state.origins().count(),
        listen = %listener.local_addr()?,
        "witness serving"
    );
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

fn text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

async fn add_checkpoint(State(state): State<Arc<WitnessState>>, body: axum::body::Bytes) -> Response {
    let now = u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(1);
    let answer = tokio::task::spawn_blocking(move || state.add_checkpoint(&body, now)).await;
    match answer {
        Ok(Answer::Cosigned(lines)) => text(StatusCode::OK, lines),
        Ok(Answer::Conflict(size)) => (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)],
            format!("{size}\n"),
        )
            .into_response(),
        Ok(Answer::Bad(why)) => text(StatusCode::BAD_REQUEST, format!("{why}\n")),
        Ok(Answer::Forbidden) => text(
            StatusCode::FORBIDDEN,
            "no signature by a key this witness trusts for the log\n".into(),
        ),
        Ok(Answer::UnknownLog) => text(StatusCode::NOT_FOUND, "this witness does not witness that log\n".into()),
        Ok(Answer::BadProof) => text(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the consistency proof does not verify\n".into(),
        ),
        Ok(Answer::Failed(why)) => {
            tracing::error!(reason = %why, "the witness could not record its state");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the witness could not record its state\n".into(),
            )
        }
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "cosigning failed\n".into()),
    }
}

async fn about(State(state): State<Arc<WitnessState>>) -> Response {
    let mut out = format!(
        "A C2SP tlog-witness (civic-vault witness serve).\nverifier key: {}\n",
        state.verifier_key().text()
    );
    for origin in state.origins() {
        // Not the sizes: a log's size over time is the log's to publish.
        out.push_str(&format!("log: {origin}\n"));
    }
    text(StatusCode::OK, out)
}
