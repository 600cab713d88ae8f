//! The staff console: the vault's people — clerks, privacy officers, legal
//! staff, auditors and admins — work in a browser, under `/console/`.
//!
//! A second skin over the same gates: every action a screen offers is the
//! API request it stands for ([`api::call`]), made with the signed-in person
//! as the caller, so Cedar decides it and the audit records it exactly as for
//! the API (with `channel: console`). People sign in with passkeys
//! ([`passkeys`]), never bearer tokens; a session lives in a `__Host-`
//! cookie ([`session`]); every state-changing form carries the session's
//! CSRF token; publishing a policy, answering a legal request and approving
//! a privileged principal need a fresh passkey check.
//!
//! Pages are rendered on the server (askama templates in
//! `src/console/templates`); every form works without JavaScript except the
//! passkey ceremonies and the webcam. The one script and the one stylesheet
//! are same-origin files, as the page policy demands.

pub mod api;
mod auth;
mod letter;
mod page;
mod pages;
pub mod passkeys;
pub mod session;
mod step_up;
mod verify_page;

use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::vault::Vault;

pub use page::{Refusal, Staff};

/// The page policy of every console answer.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What the console keeps beside the vault.
pub struct Console {
    pub vault: Arc<Vault>,
    /// The audited API routes the console calls.
    pub api: Router,
    pub sessions: session::Sessions,
    pub passkeys: passkeys::Passkeys,
    /// The origin browsers use; state-changing requests must come from it.
    pub origin: String,
}

impl Console {
    /// The console for `vault`.
    ///
    /// # Errors
    /// `console.origin` cannot carry passkeys.
    pub fn new(vault: Arc<Vault>) -> Result<Arc<Self>, String> {
        let c = &vault.config.console;
        let origin = vault.config.console_origin();
        // Keyed by the vault's subject key, so the made-up credential ids of
        // a sign-in for an id without a passkey are the same at every start
        // and nobody without keys/ can tell them from real ones.
        let decoy_key = vault.keys.subjects.subject("console-decoy-credentials", "v1");
        Ok(Arc::new(Self {
            api: crate::http::api_routes(Arc::clone(&vault)),
            sessions: session::Sessions::new(
                c.session_idle.as_std(),
                c.session_absolute.as_std(),
                c.step_up_window.as_std(),
            ),
            passkeys: passkeys::Passkeys::new(&origin, decoy_key.as_bytes())?,
            origin,
            vault,
        }))
    }
}

/// The authorization page's policy: the console's, but a form may lead
/// anywhere (browsers apply `form-action` to the redirect after a POST, and
/// the confirmation's redirect goes to the wallet, often a scheme of its own).
const WALLET_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `routes` under the console's same-origin rule, with a referrer policy
/// and a content security policy of their own.
fn with_policies<S: Clone + Send + Sync + 'static>(
    routes: Router<Arc<Console>>,
    console: &Arc<Console>,
    referrer: &'static str,
    csp: &'static str,
) -> Router<S> {
    routes
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(console),
            page::same_origin,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static(referrer),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        ))
        .with_state(Arc::clone(console))
}

/// The holder's authorization page (OpenID4VCI's authorization code flow),
/// under the console's look and same-origin rule, with its own policy.
fn wallet_pages<S: Clone + Send + Sync + 'static>(console: &Arc<Console>) -> Router<S> {
    let routes = Router::new().route(
        "/oid4vci/authorize",
        get(pages::wallet_authorize::ask).post(pages::wallet_authorize::confirm),
    );
    with_policies(routes, console, "same-origin", WALLET_CSP)
}

/// The front desk's card check (`/verify/`), under the console's policy
/// and its same-origin rule (so that the status lists it fetches are the
/// page's own origin's).
fn verify_pages<S: Clone + Send + Sync + 'static>(console: &Arc<Console>) -> Router<S> {
    let routes = Router::new()
        .route("/verify", get(verify_page::slash))
        .route("/verify/", get(verify_page::index))
        .route("/verify/verify.js", get(verify_page::script))
        .route("/verify/verify.css", get(verify_page::style))
        .route("/verify/jsqr.js", get(verify_page::jsqr))
        .route("/verify/sw.js", get(verify_page::worker));
    with_policies(routes, console, "no-referrer", CSP)
}

/// The console's routes, ready to merge into the vault's router.
pub fn router<S: Clone + Send + Sync + 'static>(console: Arc<Console>) -> Router<S> {
    let wallet = wallet_pages(&console);
    let verify = verify_pages(&console);
    Router::new()
        .route("/console", get(pages::home::redirect))
        .route("/console/", get(pages::home::page))
        .route("/console/login", get(auth::login_page))
        .route("/console/register", get(auth::register_page))
        .route("/console/auth/register/begin", post(auth::register_begin))
        .route("/console/auth/register/finish", post(auth::register_finish))
        .route("/console/auth/login/begin", post(auth::login_begin))
        .route("/console/auth/login/finish", post(auth::login_finish))
        .route("/console/auth/step-up/begin", post(step_up::step_up_begin))
        .route("/console/auth/step-up/finish", post(step_up::step_up_finish))
        .route("/console/sign-out", post(auth::sign_out))
        .route(
            "/console/sessions",
            get(pages::sessions::page).post(pages::sessions::revoke),
        )
        .route("/console/static/console.js", get(page::script))
        .route("/console/static/console.css", get(page::stylesheet))
        .merge(pages::routes())
        .route("/console/{*rest}", get(page::not_found).post(page::not_found))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&console),
            page::same_origin,
        ))
        // Same-origin requests carry their Origin (a form POST under
        // `no-referrer` says `Origin: null`, which the same-origin rule refuses);
        // nothing leaves for another site.
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .with_state(console)
        .merge(wallet)
        .merge(verify)
}
