//! The HTTP skin. Every handler has the same beats: who is asking
//! (authenticate) → is it allowed (Cedar) → is the input valid → call the
//! domain → shape the answer. The audit middleware wraps them all.

pub mod audit_layer;
pub mod extract;
pub(crate) mod handlers;

use std::sync::Arc;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{middleware, Json, Router};
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::error::{ApiError, ErrorCode};
use crate::server::Vault;

/// Every request is cut off after this long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds the router; tests can drive it without a socket.
pub fn router(vault: Arc<Vault>) -> Router {
    let audited = Router::new()
        .route("/v1/principals", post(handlers::principals::create))
        .route("/v1/principals/{id}", delete(handlers::principals::remove))
        .route("/v1/enrollments", post(handlers::enrollments::enroll))
        .route("/v1/cardholders/{card}/photo", get(handlers::cards::photo))
        .route("/v1/cardholders/{card}/revoke", post(handlers::cards::revoke))
        .route("/v1/cardholders/{card}", delete(handlers::cards::erase))
        .route("/v1/facts", post(handlers::facts::query))
        .route(
            "/v1/legal/holds",
            post(handlers::holds::request).get(handlers::holds::list),
        )
        .route("/v1/legal/holds/{id}/approve", post(handlers::holds::approve))
        .route("/v1/legal/holds/{id}/release", post(handlers::holds::release))
        .route("/v1/legal/requests", post(handlers::legal::create))
        .route("/v1/legal/requests/{id}", get(handlers::legal::read))
        .route("/v1/legal/notices", get(handlers::legal::notices))
        .route("/v1/legal/notices/{id}/sent", post(handlers::legal::sent))
        .route(
            "/v1/policies",
            get(handlers::policies::get).put(handlers::policies::put),
        )
        .route("/v1/policies/check", post(handlers::policies::check_only))
        .route("/v1/policies/versions", get(handlers::policies::versions))
        .route("/v1/policies/versions/{version}", get(handlers::policies::version))
        .route("/v1/policies/rollback", post(handlers::policies::rollback))
        .route("/v1/retention", get(handlers::retention::status))
        .route("/v1/retention/sweep", post(handlers::retention::sweep))
        .route("/v1/audit", get(handlers::audit::list))
        .route("/v1/audit/verify", get(handlers::audit::verify))
        .route("/metrics", get(handlers::ops::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    ApiError::Unavailable {
                        detail: "request timed out".into(),
                    }
                }))
                .timeout(REQUEST_TIMEOUT),
        )
        .layer(middleware::from_fn_with_state(
            Arc::clone(&vault),
            audit_layer::audit_requests,
        ));

    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        // Public keys: no token, and not audited (anyone may fetch them, and
        // an unauthenticated route must not be a way to fill the audit log).
        .route("/v1/attestation-keys", get(handlers::facts::keys))
        .merge(audited)
        .layer(DefaultBodyLimit::disable())
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // The route template only: paths carry card numbers.
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map_or("(unmatched)", MatchedPath::as_str);
            tracing::info_span!("request", method = %req.method(), route)
        }))
        .with_state(vault)
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> Response {
    let mut r = (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({"error": {"code": "method_not_allowed", "message": "this method is not allowed here"}})),
    )
        .into_response();
    r.extensions_mut().insert(ErrorCode("method_not_allowed"));
    r
}
