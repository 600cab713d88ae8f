//! Signing in: the pages and the JSON endpoints of the passkey ceremonies.
//! Registration needs the one-time code from a principal's
//! `registration_url`; sign-in needs a registered passkey; a step-up is a
//! fresh passkey check inside a session. Each outcome is audited (never the
//! code, the credential or the cookie). A refusal to someone not signed in
//! (a bad registration code, a sign-in that did not verify) is an
//! unauthenticated refusal: tallied per source address and second like an
//! unauthenticated `/v1` request (`vault::audit_tally`), so a flood cannot
//! grow the audit log. A sign-in start answers alike whether or not the id
//! names a staff member with a passkey (`passkeys`).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Extension, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::json;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use super::page::{cleared_cookie, render, session_cookie, Nav, Staff};
use super::passkeys::{self, Pending};
use super::Console;
use crate::domain::audit::{AuditDraft, Decision};
use crate::domain::principal::{Principal, PrincipalStatus};
use crate::domain::staff::{registration_hash, StaffKeys};
use crate::domain::store::{Change, Commit, Store};
use crate::domain::vocab::PrincipalKind;
use crate::http::Peer;
use crate::vault::shares::Source;

/// The address a request came from, as the listener saw it (absent when
/// the router is driven without a listener).
pub(super) type MaybePeer = Option<Extension<Peer>>;

pub(super) fn source(peer: Option<&Extension<Peer>>) -> (Source, Option<std::net::IpAddr>) {
    peer.map_or((Source::UNKNOWN, None), |p| {
        (Source::of(p.addr.ip()), Some(p.addr.ip()))
    })
}

pub(super) fn now(console: &Console) -> i64 {
    console.vault.clock.now().unix_timestamp()
}

#[derive(Template)]
#[template(path = "login.html", config = "src/console/askama.toml")]
struct LoginPage {
    nav: Nav,
}

#[derive(Template)]
#[template(path = "register.html", config = "src/console/askama.toml")]
struct RegisterPage {
    nav: Nav,
}

pub async fn login_page() -> Response {
    render(&LoginPage { nav: Nav::anonymous() })
}

pub async fn register_page() -> Response {
    render(&RegisterPage { nav: Nav::anonymous() })
}

/// A ceremony's refusal, as JSON for the script.
pub(super) fn refused(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": "passkey_refused", "message": message}})),
    )
        .into_response()
}

fn draft(console: &Console, principal: Option<&str>, action: &str, ok: bool) -> AuditDraft {
    let v = &console.vault;
    AuditDraft {
        at: v.clock.now().unix_timestamp(),
        principal: principal.map(str::to_owned),
        action: action.to_owned(),
        decision: if ok { Decision::Allow } else { Decision::Deny },
        outcome: if ok { "ok" } else { "passkey_refused" }.to_owned(),
        channel: Some("console".to_owned()),
        subject: principal.map(|p| v.keys.subjects.subject("principal", p)),
        ..AuditDraft::default()
    }
}

/// Records a refusal to someone who has not proven who they are: tallied
/// per source address (see the module).
async fn refusal(console: &Console, from: Option<std::net::IpAddr>, action: &str) {
    let entry = draft(console, None, action, false);
    console.vault.tally_refusal(from, entry).await;
}

/// Writes one audit entry for a sign-in event.
async fn audit(console: &Console, principal: Option<&str>, action: &str, ok: bool, changes: Vec<Change>) -> bool {
    let v = &console.vault;
    let draft = draft(console, principal, action, ok);
    v.store
        .commit(Commit {
            changes,
            audit: vec![draft],
        })
        .await
        .is_ok()
}

/// A staff principal that may use the console now.
fn staff(console: &Console, id: &str) -> Option<Arc<Principal>> {
    console
        .vault
        .principals
        .get(id)
        .filter(|p| p.kind == PrincipalKind::Staff && p.status == PrincipalStatus::Active)
}

pub(super) fn stored_keys(console: &Console, id: &str) -> StaffKeys {
    console.vault.store.staff_keys(id).ok().flatten().unwrap_or_default()
}

/// Starts a session and answers with its cookie.
fn signed_in(console: &Console, principal: &Principal) -> Response {
    let now = console.vault.clock.now().unix_timestamp();
    let (secret, _) = console.sessions.start(&principal.id, principal.token_hash, now);
    (
        [(header::SET_COOKIE, session_cookie(&secret))],
        Json(json!({"next": "/console/"})),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterBegin {
    code: String,
}

pub async fn register_begin(
    State(console): State<Arc<Console>>,
    peer: MaybePeer,
    Json(req): Json<RegisterBegin>,
) -> Response {
    let (share, from) = source(peer.as_ref());
    let hash = registration_hash(&req.code);
    let now = now(&console);
    // Codes are random and kept only hashed: finding whose code this is
    // means looking at each staff member's record.
    let owner = console.vault.principals.all().into_iter().find(|p| {
        p.kind == PrincipalKind::Staff
            && stored_keys(&console, &p.id)
                .registration
                .is_some_and(|r| r.admits(&hash, now))
    });
    let Some(owner) = owner else {
        refusal(&console, from, "console_register_passkey").await;
        return refused(
            StatusCode::BAD_REQUEST,
            "This registration link is not valid: it was used already, it expired (links work for 24 hours), or the principal is not approved yet. Ask an admin for a new one.",
        );
    };
    if owner.status != PrincipalStatus::Active {
        return refused(
            StatusCode::BAD_REQUEST,
            "This principal is waiting for a second admin's approval; the link works once it is approved.",
        );
    }
    let existing = passkeys::decode(&stored_keys(&console, &owner.id).passkeys);
    match console.passkeys.begin_register(share, now, &owner.id, hash, &existing) {
        Ok((ceremony, options)) => Json(json!({"ceremony": ceremony, "options": options})).into_response(),
        Err(e) => refused(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterFinish {
    ceremony: String,
    credential: RegisterPublicKeyCredential,
}

pub async fn register_finish(
    State(console): State<Arc<Console>>,
    peer: MaybePeer,
    Json(req): Json<RegisterFinish>,
) -> Response {
    let (_, from) = source(peer.as_ref());
    let Ok(Pending::Register {
        principal,
        code_hash,
        state,
    }) = console.passkeys.take(&req.ceremony, now(&console))
    else {
        return refused(
            StatusCode::BAD_REQUEST,
            &passkeys::PasskeyError::UnknownCeremony.to_string(),
        );
    };
    let Some(owner) = staff(&console, &principal) else {
        return refused(StatusCode::BAD_REQUEST, "This principal cannot use the console.");
    };
    let now = console.vault.clock.now().unix_timestamp();
    let mut keys = stored_keys(&console, &owner.id);
    // The code must still be the live one: used once, and not replaced.
    if !keys.registration.as_ref().is_some_and(|r| r.admits(&code_hash, now)) {
        return refused(StatusCode::BAD_REQUEST, "This registration link was used already.");
    }
    let passkey = match console.passkeys.finish_register(&req.credential, &state) {
        Ok(p) => p,
        Err(e) => {
            refusal(&console, from, "console_register_passkey").await;
            return refused(StatusCode::BAD_REQUEST, &e.to_string());
        }
    };
    let mut all = passkeys::decode(&keys.passkeys);
    all.push(passkey);
    keys.passkeys = passkeys::encode(&all);
    keys.registration = None;
    let change = Change::PutStaffKeys {
        id: owner.id.clone(),
        keys: Box::new(keys),
    };
    if !audit(
        &console,
        Some(&owner.id),
        "console_register_passkey",
        true,
        vec![change],
    )
    .await
    {
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "The vault could not record the passkey; try again.",
        );
    }
    signed_in(&console, &owner)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBegin {
    id: String,
}

/// Starts a sign-in. An id without a passkey (unknown, not active, not yet
/// registered) gets the same answer as one with: nothing is refused here,
/// so nothing is audited until the sign-in finishes.
pub async fn login_begin(
    State(console): State<Arc<Console>>,
    peer: MaybePeer,
    Json(req): Json<LoginBegin>,
) -> Response {
    let (share, _) = source(peer.as_ref());
    let passkeys = staff(&console, &req.id)
        .map(|p| passkeys::decode(&stored_keys(&console, &p.id).passkeys))
        .unwrap_or_default();
    match console
        .passkeys
        .begin_check(share, now(&console), &req.id, None, &passkeys)
    {
        Ok((ceremony, options)) => Json(json!({"ceremony": ceremony, "options": options})).into_response(),
        Err(e) => refused(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckFinish {
    pub(super) ceremony: String,
    pub(super) credential: PublicKeyCredential,
}

/// Verifies an assertion for `principal`, storing a changed counter. A
/// failed sign-in is an unauthenticated refusal from `from` (tallied); a
/// failed step-up is the signed-in principal's, audited as such.
pub(super) async fn verify(
    console: &Console,
    principal: &str,
    credential: &PublicKeyCredential,
    state: &webauthn_rs::prelude::PasskeyAuthentication,
    action: &str,
    from: Option<Option<std::net::IpAddr>>,
) -> bool {
    let mut keys = stored_keys(console, principal);
    let mut all = passkeys::decode(&keys.passkeys);
    match console.passkeys.finish_check(credential, state, &mut all) {
        Ok(changed) => {
            let changes = if changed {
                keys.passkeys = passkeys::encode(&all);
                vec![Change::PutStaffKeys {
                    id: principal.to_owned(),
                    keys: Box::new(keys),
                }]
            } else {
                Vec::new()
            };
            audit(console, Some(principal), action, true, changes).await
        }
        Err(_) => {
            match from {
                Some(from) => refusal(console, from, action).await,
                None => {
                    audit(console, Some(principal), action, false, Vec::new()).await;
                }
            }
            false
        }
    }
}

pub async fn login_finish(
    State(console): State<Arc<Console>>,
    peer: MaybePeer,
    Json(req): Json<CheckFinish>,
) -> Response {
    let (_, from) = source(peer.as_ref());
    let rejected = || refused(StatusCode::BAD_REQUEST, &passkeys::PasskeyError::Rejected.to_string());
    let (principal, state) = match console.passkeys.take(&req.ceremony, now(&console)) {
        Ok(Pending::SignIn { principal, state }) => (principal, state),
        // A decoy's sign-in fails as a wrong passkey does.
        Ok(Pending::Decoy) => {
            refusal(&console, from, "console_sign_in").await;
            return rejected();
        }
        _ => {
            return refused(
                StatusCode::BAD_REQUEST,
                &passkeys::PasskeyError::UnknownCeremony.to_string(),
            )
        }
    };
    let Some(owner) = staff(&console, &principal) else {
        refusal(&console, from, "console_sign_in").await;
        return rejected();
    };
    if !verify(
        &console,
        &owner.id,
        &req.credential,
        &state,
        "console_sign_in",
        Some(from),
    )
    .await
    {
        return refused(StatusCode::BAD_REQUEST, &passkeys::PasskeyError::Rejected.to_string());
    }
    signed_in(&console, &owner)
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: Option<String>,
}

pub async fn sign_out(staff: Staff, Form(form): Form<CsrfOnly>) -> Response {
    if let Err(r) = staff.check_csrf(form.csrf.as_deref()) {
        return r.into_response();
    }
    staff.console.sessions.end(&staff.secret);
    audit(
        &staff.console,
        Some(&staff.principal.id),
        "console_sign_out",
        true,
        Vec::new(),
    )
    .await;
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/console/login".to_owned()),
            (header::SET_COOKIE, cleared_cookie()),
        ],
    )
        .into_response()
}
