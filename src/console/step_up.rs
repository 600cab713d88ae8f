//! A step-up: a fresh passkey check inside a session, before an action
//! that asks for one. The session is checked against its CSRF header; the
//! ceremony is bound to that session and principal.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::auth::{now, refused, source, stored_keys, verify, CheckFinish, MaybePeer};
use super::page::{cookie_secret, session_principal};
use super::passkeys::{self, Pending};
use super::Console;
use crate::domain::principal::Principal;

/// The session a step-up request belongs to, checked against its CSRF header.
fn step_up_session(console: &Console, headers: &HeaderMap) -> Option<(String, Arc<Principal>)> {
    let secret = cookie_secret(headers)?;
    let now = console.vault.clock.now().unix_timestamp();
    let session = console.sessions.touch(&secret, now)?;
    let csrf = headers.get("x-csrf-token").and_then(|v| v.to_str().ok())?;
    if !session.csrf_matches(csrf) {
        return None;
    }
    let principal = session_principal(console, &session)?;
    Some((secret, principal))
}

pub async fn step_up_begin(State(console): State<Arc<Console>>, peer: MaybePeer, headers: HeaderMap) -> Response {
    let Some((secret, principal)) = step_up_session(&console, &headers) else {
        return refused(
            StatusCode::FORBIDDEN,
            "Sign in again (the session ended or the page is stale).",
        );
    };
    let passkeys = passkeys::decode(&stored_keys(&console, &principal.id).passkeys);
    let (share, _) = source(peer.as_ref());
    match console
        .passkeys
        .begin_check(share, now(&console), &principal.id, Some(secret), &passkeys)
    {
        Ok((ceremony, options)) => Json(json!({"ceremony": ceremony, "options": options})).into_response(),
        Err(e) => refused(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

pub async fn step_up_finish(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Json(req): Json<CheckFinish>,
) -> Response {
    let Some((secret, principal)) = step_up_session(&console, &headers) else {
        return refused(
            StatusCode::FORBIDDEN,
            "Sign in again (the session ended or the page is stale).",
        );
    };
    let Ok(Pending::StepUp {
        principal: for_principal,
        session,
        state,
    }) = console.passkeys.take(&req.ceremony, now(&console))
    else {
        return refused(
            StatusCode::BAD_REQUEST,
            &passkeys::PasskeyError::UnknownCeremony.to_string(),
        );
    };
    if session != secret || for_principal != principal.id {
        return refused(
            StatusCode::BAD_REQUEST,
            &passkeys::PasskeyError::UnknownCeremony.to_string(),
        );
    }
    if !verify(
        &console,
        &principal.id,
        &req.credential,
        &state,
        "console_step_up",
        None,
    )
    .await
    {
        return refused(StatusCode::BAD_REQUEST, &passkeys::PasskeyError::Rejected.to_string());
    }
    console.sessions.stepped_up(&secret);
    Json(json!({"ok": true})).into_response()
}
