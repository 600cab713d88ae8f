//! The HTTP skin. Every handler has the same beats: who is asking
//! (authenticate) → is it allowed (Cedar) → is the input valid → call the
//! domain → shape the answer. The audit middleware wraps them all.

pub mod audit_layer;
pub mod body_limit;
pub mod dto;
pub mod error;
pub mod extract;
pub mod gate;
pub(crate) mod handlers;
pub mod openapi;

use std::sync::Arc;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{middleware, Router};
use tower::layer::util::Stack;
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::http::error::{ApiError, Error};
use crate::vault::Vault;

/// Who is on the other end of the connection, as the listener saw it: the
/// address and, over TLS with a client certificate, its SHA-256. The
/// listener's outermost layer puts it in every request's extensions.
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    pub addr: std::net::SocketAddr,
    pub client_cert: Option<[u8; 32]>,
}

/// A request the staff console makes on behalf of a signed-in person: the
/// gate authenticates it by this (never by a bearer token) and its audit
/// entry says `channel: console`. Only the console puts it in a request's
/// extensions; nothing from the network can.
#[derive(Clone, Debug)]
pub struct ConsoleCaller {
    pub principal: String,
    /// The principal's token hash when the session began: a rotation since
    /// ends the session.
    pub token_hash: crate::crypto::TokenHash,
}

/// Builds the router; tests can drive it without a socket.
pub fn router(vault: Arc<Vault>) -> Router {
    router_with(vault, Router::new())
}

/// The audited API routes alone, without the outer limits (the console
/// calls them for a request that has passed those already).
pub fn api_routes(vault: Arc<Vault>) -> Router {
    audited_routes(&vault).with_state(vault)
}

// Each `Router::layer` wraps every route in a box of its own, and each
// request clones its route's boxes, nested: the layers of a router are
// grouped into one `ServiceBuilder` per router (the same order, outermost
// first), so a request clones three boxes, not a hundred.

fn audited_routes(vault: &Arc<Vault>) -> Router<Arc<Vault>> {
    let mut office = office_routes(Router::new());
    // Published checkpoints are a public route (`router_with`).
    if !vault.config.audit.publish_checkpoints {
        office = office.route("/v1/audit/checkpoint", get(handlers::tlog::checkpoint));
    }
    card_routes(office)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn_with_state(
                    Arc::clone(vault),
                    audit_layer::audit_requests,
                ))
                // Inside the audit layer: a body refused for its size is
                // an audited request like any other refusal, of its action.
                .layer(middleware::from_fn(body_limit::bound_bodies))
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    ApiError::from(Error::unavailable("request timed out"))
                }))
                .timeout(vault.config.limits.request_timeout.as_std()),
        )
}

/// The router with a further skin (the staff console) merged in, under the
/// same limits, headers and trace.
pub fn router_with(vault: Arc<Vault>, skin: Router<Arc<Vault>>) -> Router {
    let audited = audited_routes(&vault);
    let shed = Arc::clone(&vault);
    let mut public = Router::new();
    if vault.config.audit.publish_checkpoints {
        public = public.route("/v1/audit/checkpoint", get(handlers::tlog::public_checkpoint));
    }
    let public = public
        .route("/healthz", get(handlers::ops::healthz))
        .route("/readyz", get(handlers::ops::readyz))
        .route("/v1/openapi.json", get(handlers::ops::openapi))
        // Not sealed (or unsealed already): the same answer the sealed gate
        // gives once it has opened.
        .route(
            "/v1/unseal",
            get(handlers::ops::unseal_status).post(handlers::ops::unseal),
        )
        // Public keys: no token, and not audited (anyone may fetch them, and
        // an unauthenticated route must not be a way to fill the audit log).
        .route("/v1/attestation-keys", get(handlers::facts::keys))
        // Holder-held credentials: the wallet's side (authenticated by the
        // pre-authorized code; the redemption writes its own audit entry)
        // and the public documents a verifier needs, never told about a
        // presentation.
        .route("/.well-known/openid-credential-issuer", get(handlers::wallet::metadata))
        .route(
            "/.well-known/oauth-authorization-server",
            get(handlers::wallet::authorization_server),
        )
        .route("/.well-known/jwt-vc-issuer", get(handlers::wallet::jwt_vc_issuer))
        .route("/oid4vci/token", post(handlers::oauth::token))
        .route("/oid4vci/par", post(handlers::oauth::par))
        .route("/oid4vci/nonce", post(handlers::wallet::nonce))
        .route("/oid4vci/credential", post(handlers::wallet::credential))
        .route("/v1/status-lists/{n}", get(handlers::status_lists::status_list))
        // The routes that write no audit entry of their own get the same
        // body limit here (the audited ones inside their audit layer).
        .layer(middleware::from_fn(body_limit::limit_bodies))
        .merge(audited)
        .merge(skin.layer(middleware::from_fn(body_limit::limit_bodies)));
    let outer = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // The route template only: paths carry card numbers.
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map_or("(unmatched)", MatchedPath::as_str);
            tracing::info_span!("request", method = %req.method(), route)
        }))
        .layer(middleware::from_fn_with_state(Arc::clone(&vault), limit_addresses))
        // Beyond the concurrency cap a request is refused at once (503),
        // before the audit layer: overload must not add audit writes.
        .layer(HandleErrorLayer::new(move |_: tower::BoxError| {
            let v = Arc::clone(&shed);
            async move {
                v.metrics.shed();
                ApiError::from(Error::unavailable("too many requests in progress"))
            }
        }))
        .load_shed()
        // Global: `Router::layer` wraps each route on its own, and the cap
        // is on the whole vault.
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            vault.config.limits.max_concurrent_requests,
        ));
    public
        .layer(
            security_headers(outer)
                // Inside the routes, so that the route template is known.
                .layer(middleware::from_fn_with_state(Arc::clone(&vault), observe_latency))
                .layer(DefaultBodyLimit::disable()),
        )
        .with_state(vault)
}

/// The counter's and city systems' routes: enrollment, cards, facts.
fn card_routes(router: Router<Arc<Vault>>) -> Router<Arc<Vault>> {
    router
        .route("/v1/enrollments", post(handlers::enrollments::enroll))
        .route("/v1/cardholders/{card}/photo", get(handlers::cards::photo))
        .route("/v1/cardholders/{card}/print", get(handlers::printing::print))
        .route("/v1/cardholders/{card}/revoke", post(handlers::cards::revoke))
        .route(
            "/v1/cardholders/{card}",
            get(handlers::counter::lookup).delete(handlers::cards::erase),
        )
        .route("/v1/cardholders/{card}/renew", post(handlers::counter::renew))
        .route("/v1/cardholders/{card}/replace", post(handlers::counter::replace))
        .route("/v1/cardholders/{card}/update", post(handlers::counter::update))
        .route("/v1/cardholders/{card}/printed", post(handlers::counter::printed))
        .route("/v1/cardholders/{card}/picked-up", post(handlers::counter::picked_up))
        .route(
            "/v1/cardholders/{card}/credential-offer",
            post(handlers::credentials::offer),
        )
        .route(
            "/v1/cardholders/{card}/access-report",
            post(handlers::access_report::access_report),
        )
        .route("/v1/print-queue", get(handlers::counter::print_queue))
        .route("/v1/facts", post(handlers::facts::query))
}

/// The office's routes: principals, legal, policies, retention, audit, reports.
fn office_routes(router: Router<Arc<Vault>>) -> Router<Arc<Vault>> {
    router
        .route(
            "/v1/principals",
            post(handlers::principals::create).get(handlers::principals::list),
        )
        .route("/v1/principals/{id}/approve", post(handlers::principals::approve))
        .route("/v1/principals/{id}/rotate", post(handlers::principals::rotate))
        .route("/v1/principals/{id}", delete(handlers::principals::remove))
        .route("/v1/reports/quarterly", get(handlers::reports::quarterly))
        .route("/v1/honey-cards", post(handlers::honey::create))
        .route("/v1/honey-cards/alerts", get(handlers::honey::alerts))
        .route(
            "/v1/legal/holds",
            post(handlers::holds::request).get(handlers::holds::list),
        )
        .route("/v1/legal/holds/{id}/approve", post(handlers::holds::approve))
        .route("/v1/legal/holds/{id}/release", post(handlers::holds::release))
        .route(
            "/v1/legal/requests",
            post(handlers::legal::create).get(handlers::legal::list),
        )
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
        .route("/v1/keys/attestation/rotate", post(handlers::keys::rotate_attestation))
        .route("/v1/audit", get(handlers::audit::list))
        .route("/v1/audit/verify", get(handlers::audit::verify))
        .route("/v1/audit/tile/{*path}", get(handlers::tlog::tile))
        .route("/v1/audit/proof/inclusion", get(handlers::tlog::inclusion))
        .route("/v1/audit/proof/consistency", get(handlers::tlog::consistency))
        .route("/metrics", get(handlers::ops::metrics))
        .route("/v1/status", get(handlers::ops::status))
}

type HeaderLayer = SetResponseHeaderLayer<HeaderValue>;
/// The layers [`security_headers`] adds inside `L`.
pub(crate) type WithHeaders<L> = Stack<
    HeaderLayer,
    Stack<HeaderLayer, Stack<HeaderLayer, Stack<HeaderLayer, Stack<HeaderLayer, Stack<HeaderLayer, L>>>>>,
>;

/// Headers on every answer, sealed or not: added inside the layers of
/// `builder`.
pub(crate) fn security_headers<L>(builder: ServiceBuilder<L>) -> ServiceBuilder<WithHeaders<L>> {
    builder
        // Nothing is cached, but for the few public documents made to be
        // cached (status lists), whose handlers say so themselves.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // An API answers JSON only: nothing in it may be framed, run as a
        // page, or leak a referrer. (The console sets its own page policy.)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        ))
}

/// The per-address rate limit, checked before anything else.
/// Records how long each request took, by method and route template.
async fn observe_latency(
    axum::extract::State(v): axum::extract::State<Arc<Vault>>,
    req: Request,
    next: middleware::Next,
) -> Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let response = next.run(req).await;
    let route = route.as_ref().map_or("(unmatched)", MatchedPath::as_str);
    v.metrics.latency.observe(&method, route, started.elapsed());
    response
}

async fn limit_addresses(
    axum::extract::State(v): axum::extract::State<Arc<Vault>>,
    req: Request,
    next: middleware::Next,
) -> Response {
    let peer = req.extensions().get::<Peer>().map(|p| p.addr.ip());
    if let Some(ip) = peer {
        if let Err(wait) = v.rate_limits.check_address(ip) {
            v.metrics.address_limited();
            return ApiError::RateLimited {
                retry_after_secs: crate::vault::rate_limits::retry_after_secs(wait),
            }
            .into_response();
        }
    }
    next.run(req).await
}

async fn not_found() -> ApiError {
    Error::NotFound.into()
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
