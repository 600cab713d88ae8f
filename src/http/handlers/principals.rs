use axum::body::Body;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;

use crate::authz::{Action, RequestContext, Resource};
use crate::crypto::{new_token, token_hash};
use crate::domain::audit::{AuditDraft, Decision as AuditDecision, PrincipalChange};
use crate::domain::principal::{validate_id, NewPrincipal, Principal, PrincipalStatus};
use crate::domain::staff::{new_registration, registration_url, StaffKeys};
use crate::domain::store::{Change, Commit, Store};
use crate::domain::vocab::{Purpose, Role};
use crate::http::dto::{IssuedPrincipal, ListedPrincipal, PrincipalApproved, PrincipalList, TokenRotated};
use crate::http::error::{ApiError, Error};
use crate::http::extract::DEFAULT_LIMIT;
use crate::http::gate::Gate;
use crate::http::openapi::{BadRequest, Conflict, NotFound, PayloadTooLarge, Refused};
use crate::vault::Vault;

const PURPOSE: Purpose = Purpose::SystemAdministration;

/// The bootstrap admin's id (keys/admin.token).
pub const BOOTSTRAP_ID: &str = "admin";

fn roles_context(p: &Principal) -> RequestContext {
    RequestContext {
        requested_roles: Some(p.roles.iter().map(|r| r.as_str()).collect()),
        ..RequestContext::purpose(PURPOSE)
    }
}

/// `POST /v1/principals`: the token is in this response and nowhere else. A
/// privileged staff principal waits for a second admin, unless the bootstrap
/// admin issues an admin while it is still the installation credential.
#[utoipa::path(
    post,
    path = "/v1/principals",
    operation_id = "create_principal",
    tag = "admin",
    description = "Issues a principal (a city system or a staff member) and its token, shown in this \
        answer and nowhere else. A staff principal holding admin, privacy_officer or legal is \
        `pending_approval` until an admin other than the issuer approves it (unless the bootstrap \
        admin issues an admin, or `governance.second_approval` is off).\n\n\
        Permissions: admin (Cedar action `issue_principal`, purpose `system_administration`); the \
        floor refuses role combinations that separation of duties forbids.",
    request_body = crate::domain::principal::NewPrincipal,
    responses(
        (status = 201, description = "issued; the token is shown once", body = IssuedPrincipal),
        BadRequest,
        Conflict,
        PayloadTooLarge,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn create(gate: Gate, body: Body) -> Result<(StatusCode, Json<IssuedPrincipal>), ApiError> {
    let v = &gate.vault;
    let (who, _) = gate.admit(Action::IssuePrincipal, PURPOSE)?;
    let req: NewPrincipal = gate.body(body, DEFAULT_LIMIT).await?;
    gate.slot.subject(v.keys.subjects.subject("principal", &req.id));
    let token = new_token();
    let mut principal = req.into_principal(token_hash(&token), v.clock.now().unix_timestamp(), &who.id)?;
    // The floor decides the roles too, so no editable policy can grant them.
    gate.authorize(
        &who,
        Action::IssuePrincipal,
        &Resource::Vault,
        &roles_context(&principal),
    )?;
    let bootstrap_admin = who.id == BOOTSTRAP_ID && principal.roles == [Role::Admin];
    if v.config.governance.second_approval && principal.is_privileged() && !bootstrap_admin {
        principal.status = PrincipalStatus::PendingApproval;
    }
    gate.slot.principal_change(PrincipalChange::of("issue", &principal));
    let mut changes = vec![Change::PutPrincipal(Box::new(principal.clone()))];
    let registration = staff_registration(v, &principal, &mut changes);
    gate.commit(changes).await?;
    let body = IssuedPrincipal {
        id: principal.id.clone(),
        kind: principal.kind,
        roles: principal.roles.clone(),
        agency_kind: principal.agency_kind,
        purposes: principal.purposes.clone(),
        status: principal.status,
        token: token.as_str().to_owned(),
        registration_url: registration.as_deref().map(|c| registration_url(c)),
        notice: None,
    };
    v.principals.insert(principal);
    let notice = retire_bootstrap_if_due(v).await?;
    Ok((StatusCode::CREATED, Json(IssuedPrincipal { notice, ..body })))
}

/// `POST /v1/principals/{id}/approve`: an admin other than the issuer makes
/// a pending principal active.
#[utoipa::path(
    post,
    path = "/v1/principals/{id}/approve",
    operation_id = "approve_principal",
    tag = "admin",
    description = "Makes a pending principal active. 403 when the approver is its issuer or the \
        roles are a forbidden combination; 404 when there is no such pending principal.\n\n\
        Permissions: admin other than the issuer (Cedar action `approve_principal`, purpose \
        `system_administration`; the floor's `floor.two_person_principals`).",
    params(("id" = String, Path, description = "the principal id")),
    responses(
        (status = 200, description = "approved", body = PrincipalApproved),
        NotFound,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn approve(gate: Gate, Path(id): Path<String>) -> Result<Json<PrincipalApproved>, ApiError> {
    let v = &gate.vault;
    let who = gate.enter(Action::ApprovePrincipal, Some(PURPOSE))?;
    gate.slot.subject(v.keys.subjects.subject("principal", &id));
    let found = v.principals.get(&id);
    let cx = RequestContext {
        requested_by_self: Some(
            found
                .as_ref()
                .is_none_or(|p| p.issued_by.as_deref() == Some(who.id.as_str())),
        ),
        requested_roles: found.as_ref().map(|p| p.roles.iter().map(|r| r.as_str()).collect()),
        ..RequestContext::purpose(PURPOSE)
    };
    gate.authorize(&who, Action::ApprovePrincipal, &Resource::Vault, &cx)?;
    let mut principal = found
        .filter(|p| p.status == PrincipalStatus::PendingApproval)
        .map(|p| (*p).clone())
        .ok_or(Error::NotFound)?;
    principal.status = PrincipalStatus::Active;
    principal.approved_by = Some(who.id.clone());
    gate.slot.principal_change(PrincipalChange::of("approve", &principal));
    gate.commit(vec![Change::UpdatePrincipal(Box::new(principal.clone()))])
        .await?;
    v.principals.insert(principal);
    let notice = retire_bootstrap_if_due(v).await?;
    Ok(Json(PrincipalApproved {
        id,
        status: PrincipalStatus::Active,
        notice,
    }))
}

/// `POST /v1/principals/{id}/rotate`: a new token; the old one stops before
/// this answers.
#[utoipa::path(
    post,
    path = "/v1/principals/{id}/rotate",
    tag = "admin",
    description = "A new token for a principal, shown in this answer and nowhere else; the old one \
        stops working before this answers.\n\n\
        Permissions: admin (Cedar action `rotate_principal`, purpose `system_administration`).",
    params(("id" = String, Path, description = "the principal id")),
    responses(
        (status = 200, description = "rotated; the token is shown once", body = TokenRotated),
        NotFound,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn rotate(gate: Gate, Path(id): Path<String>) -> Result<Json<TokenRotated>, ApiError> {
    let v = &gate.vault;
    let who = gate.enter(Action::RotatePrincipal, Some(PURPOSE))?;
    gate.slot.subject(v.keys.subjects.subject("principal", &id));
    gate.authorize(
        &who,
        Action::RotatePrincipal,
        &Resource::Vault,
        &RequestContext::purpose(PURPOSE),
    )?;
    let mut principal = v
        .principals
        .get(&id)
        .filter(|p| p.status != PrincipalStatus::Disabled)
        .map(|p| (*p).clone())
        .ok_or(Error::NotFound)?;
    let token = new_token();
    principal.token_hash = token_hash(&token);
    gate.slot.principal_change(PrincipalChange::of("rotate", &principal));
    let mut changes = vec![Change::UpdatePrincipal(Box::new(principal.clone()))];
    let registration = staff_registration(v, &principal, &mut changes);
    gate.commit(changes).await?;
    v.principals.insert(principal);
    Ok(Json(TokenRotated {
        id,
        token: token.as_str().to_owned(),
        registration_url: registration.as_deref().map(|c| registration_url(c)),
    }))
}

/// For a staff principal: a new registration code, replacing any passkeys
/// it had (issue or rotation), added to `changes`; the code to hand over.
fn staff_registration(v: &Vault, p: &Principal, changes: &mut Vec<Change>) -> Option<zeroize::Zeroizing<String>> {
    if p.kind != crate::domain::vocab::PrincipalKind::Staff {
        return None;
    }
    let (code, registration) = new_registration(v.clock.now().unix_timestamp());
    changes.push(Change::PutStaffKeys {
        id: p.id.clone(),
        keys: Box::new(StaffKeys {
            registration: Some(registration),
            passkeys: Vec::new(),
        }),
    });
    Some(code)
}

/// `GET /v1/principals`: who can call the vault, never a token or its hash.
#[utoipa::path(
    get,
    path = "/v1/principals",
    operation_id = "list_principals",
    tag = "admin",
    description = "Who can call the vault: every principal with its kind, status, roles (staff) or \
        agency kind and purposes (systems); never a token or its hash.\n\n\
        Permissions: admin or auditor (Cedar action `list_principals`, purpose `system_administration`).",
    responses(
        (status = 200, description = "every principal", body = PrincipalList),
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn list(gate: Gate) -> Result<Json<PrincipalList>, ApiError> {
    gate.admit(Action::ListPrincipals, PURPOSE)?;
    let principals = gate
        .vault
        .principals
        .all()
        .iter()
        .map(|p| ListedPrincipal::from(&**p))
        .collect();
    Ok(Json(PrincipalList { principals }))
}

/// Once two admins other than the bootstrap admin are active, the bootstrap
/// token (a one-time installation credential) is disabled, audited.
/// Said in the answer that makes the first admin other than the bootstrap
/// admin active: the next one retires the bootstrap token.
pub const BOOTSTRAP_WARNING: &str = "one admin other than the bootstrap admin is active: when a second one \
    is active, the bootstrap admin token (keys/admin.token) is disabled for good; sign in to the console \
    as a staff admin before then";
/// Said in the answer that retired the bootstrap token.
pub const BOOTSTRAP_RETIRED: &str = "two admins other than the bootstrap admin are active: the bootstrap \
    admin token (keys/admin.token) is disabled from now on; admins work as their own principals";

/// Retires the bootstrap admin once two other admins are active, and says
/// what happened to it (or will, at the next admin) for the answer.
async fn retire_bootstrap_if_due(v: &Vault) -> Result<Option<String>, ApiError> {
    // With the approval rule off (single-operator installs) the bootstrap
    // admin is that operator and stays.
    if !v.config.governance.second_approval {
        return Ok(None);
    }
    let all = v.principals.all();
    let Some(bootstrap) = all
        .iter()
        .find(|p| p.id == BOOTSTRAP_ID && p.status == PrincipalStatus::Active)
    else {
        return Ok(None);
    };
    let others = all
        .iter()
        .filter(|p| p.id != BOOTSTRAP_ID && p.status == PrincipalStatus::Active && p.roles.contains(&Role::Admin))
        .count();
    if others < 2 {
        return Ok((others == 1).then(|| BOOTSTRAP_WARNING.to_owned()));
    }
    let mut retired = (**bootstrap).clone();
    retired.status = PrincipalStatus::Disabled;
    let draft = AuditDraft {
        at: v.clock.now().unix_timestamp(),
        action: "retire_bootstrap_admin".into(),
        purpose: Some(PURPOSE.as_str().into()),
        decision: AuditDecision::Allow,
        subject: Some(v.keys.subjects.subject("principal", BOOTSTRAP_ID)),
        outcome: "ok".into(),
        principal_change: Some(PrincipalChange::of("retire_bootstrap", &retired)),
        ..AuditDraft::default()
    };
    let commit = Commit {
        changes: vec![Change::UpdatePrincipal(Box::new(retired.clone()))],
        audit: vec![draft],
    };
    v.store.commit(commit).await?;
    v.principals.insert(retired);
    tracing::info!("two other admins are active: the bootstrap admin token is disabled");
    Ok(Some(BOOTSTRAP_RETIRED.to_owned()))
}

/// `DELETE /v1/principals/{id}`: the token stops working before this answers.
#[utoipa::path(
    delete,
    path = "/v1/principals/{id}",
    tag = "admin",
    description = "Deletes a principal: its token stops working before this answers.\n\n\
        Permissions: admin (Cedar action `delete_principal`, purpose `system_administration`).",
    params(("id" = String, Path, description = "the principal id")),
    responses(
        (status = 204, description = "revoked; the token no longer works"),
        BadRequest,
        NotFound,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn remove(gate: Gate, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let v = &gate.vault;
    let who = gate.enter(Action::DeletePrincipal, Some(PURPOSE))?;
    gate.slot.subject(v.keys.subjects.subject("principal", &id));
    gate.authorize(
        &who,
        Action::DeletePrincipal,
        &Resource::Vault,
        &RequestContext::purpose(PURPOSE),
    )?;
    validate_id(&id).map_err(|_| Error::NotFound)?;
    if let Some(p) = v.principals.get(&id) {
        gate.slot.principal_change(PrincipalChange::of("delete", &p));
    }
    gate.commit(vec![Change::DeletePrincipal { id: id.clone() }]).await?;
    v.principals.remove(&id);
    Ok(StatusCode::NO_CONTENT)
}
