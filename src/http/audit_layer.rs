//! One audit entry per request, guaranteed by construction: this middleware
//! wraps every audited route. A handler that writes data commits its entry
//! together with the data (and marks the slot committed); for every other
//! request — denied, malformed, unauthenticated, read-only — the entry is
//! written here before the response leaves. If it cannot be written, the
//! caller gets 503 instead of the response (fail closed).

use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::authz::{Action, Decision};
use crate::domain::audit::{AuditDraft, Decision as AuditDecision};
use crate::domain::store::{Commit, Store};
use crate::domain::vocab::Purpose;
use crate::http::error::{ApiError, Error, ErrorCode};
use crate::vault::Vault;

#[derive(Default)]
struct SlotState {
    draft: AuditDraft,
    committed: bool,
    /// SHA-256 of the TLS client certificate of this connection, if any.
    client_cert: Option<[u8; 32]>,
}

/// The audit entry being assembled for the current request.
#[derive(Clone, Default)]
pub struct AuditSlot(Arc<Mutex<SlotState>>);

impl AuditSlot {
    fn with<R>(&self, f: impl FnOnce(&mut SlotState) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn begin(&self, action: Action, purpose: Option<Purpose>) {
        self.with(|s| {
            action.as_str().clone_into(&mut s.draft.action);
            s.draft.purpose = purpose.map(|p| p.as_str().to_owned());
        });
    }

    pub fn purpose(&self, purpose: Purpose) {
        self.with(|s| s.draft.purpose = Some(purpose.as_str().to_owned()));
    }

    /// The connection's verified client certificate (its SHA-256), if any.
    #[must_use]
    pub fn client_cert(&self) -> Option<[u8; 32]> {
        self.with(|s| s.client_cert)
    }

    pub fn principal(&self, id: &str) {
        self.with(|s| s.draft.principal = Some(id.to_owned()));
    }

    /// Records what a principal change did (v1.1).
    pub fn principal_change(&self, change: crate::domain::audit::PrincipalChange) {
        self.with(|s| s.draft.principal_change = Some(change));
    }

    pub fn subject(&self, subject: String) {
        self.with(|s| s.draft.subject = Some(subject));
    }

    /// Records a digest of what this request produced or changed.
    pub fn digest(&self, name: &str, value: String) {
        self.with(|s| {
            s.draft.digests.insert(name.to_owned(), value);
        });
    }

    /// Records the requirements an enrollment did not meet (their names).
    pub fn missing(&self, requirements: &[String]) {
        self.with(|s| {
            s.draft.missing = requirements
                .iter()
                .map(|m| m.split(':').next().unwrap_or_default().trim().to_owned())
                .collect();
        });
    }

    /// Records one legal-request item's decision.
    pub fn item_decision(&self, item: &str, allowed: bool) {
        self.with(|s| {
            let d = if allowed {
                AuditDecision::Allow
            } else {
                AuditDecision::Deny
            };
            s.draft.items.insert(item.to_owned(), d);
        });
    }

    /// Adds the policies that decided a further decision of this request.
    pub fn more_policies(&self, policies: &[String]) {
        self.with(|s| {
            for p in policies {
                if !s.draft.policies.contains(p) {
                    s.draft.policies.push(p.clone());
                }
            }
        });
    }

    /// Records the resource and extra context a decision was made with.
    pub fn replay_inputs(&self, resource: &crate::authz::Resource, cx: &crate::authz::RequestContext) {
        self.with(|s| {
            s.draft.resource = Some(crate::authz::replay::resource_label(resource));
            let extra = crate::domain::audit::ReplayContext {
                distinct_cards_last_hour: cx.distinct_cards_last_hour,
                requested_by_self: cx.requested_by_self,
                requested_roles: cx
                    .requested_roles
                    .as_ref()
                    .map(|r| r.iter().map(|x| (*x).to_owned()).collect()),
                bulk_ceiling_per_hour: cx.bulk_ceiling_per_hour,
                duplicate_outcomes_today: cx.duplicate_outcomes_today,
            };
            s.draft.context = (extra != crate::domain::audit::ReplayContext::default()).then_some(extra);
        });
    }

    pub fn decision(&self, d: &Decision) {
        self.with(|s| {
            s.draft.decision = if d.allowed {
                AuditDecision::Allow
            } else {
                AuditDecision::Deny
            };
            s.draft.decision_id = Some(d.decision_id.clone());
            s.draft.policies.clone_from(&d.policies);
            s.draft.policy_version = Some(d.version);
        });
    }

    /// The entry for a commit made by the handler itself, outcome `ok`
    /// (the store rewrites the outcome if the change conflicts).
    #[must_use]
    pub fn take_for_commit(&self) -> AuditDraft {
        self.with(|s| {
            s.committed = true;
            let mut d = s.draft.clone();
            "ok".clone_into(&mut d.outcome);
            d
        })
    }

    /// The handler's commit did not reach the log: the middleware must try.
    pub fn uncommitted(&self) {
        self.with(|s| s.committed = false);
    }

    fn finish(&self, outcome: &str) -> Option<AuditDraft> {
        self.with(|s| {
            (!s.committed).then(|| {
                let mut d = s.draft.clone();
                outcome.clone_into(&mut d.outcome);
                d
            })
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuditSlot {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Self>().cloned().unwrap_or_default())
    }
}

/// The middleware.
pub async fn audit_requests(State(vault): State<Arc<Vault>>, mut req: Request, next: Next) -> Response {
    let slot = AuditSlot::default();
    let peer = req
        .extensions()
        .get::<crate::http::Peer>()
        .map(|p| (p.addr.ip(), p.client_cert));
    let client_cert = peer.and_then(|p| p.1);
    let console = req.extensions().get::<crate::http::ConsoleCaller>().is_some();
    slot.with(|s| {
        s.draft.at = vault.clock.now().unix_timestamp();
        s.draft.channel = console.then(|| "console".to_owned());
        "unrouted".clone_into(&mut s.draft.action);
        s.client_cert = client_cert;
    });
    req.extensions_mut().insert(slot.clone());
    let response = next.run(req).await;
    let status = response.status();
    let outcome = match response.extensions().get::<ErrorCode>() {
        Some(code) => code.0.to_owned(),
        None if status.is_success() => "ok".to_owned(),
        None => format!("http_{}", status.as_u16()),
    };
    let action = slot.with(|s| s.draft.action.clone());
    vault.metrics.request(&action, &outcome);
    let Some(mut draft) = slot.finish(&outcome) else {
        return response;
    };
    if let (Some((source, _)), true) = (peer, draft.principal.is_none() && outcome == "unauthenticated") {
        if vault.tally_counted(source, &mut draft) {
            return response;
        }
    }
    // A request about a honey card queues its alert, written later off
    // this path; the probe is the same for every request.
    let hits = crate::vault::honey::hits_for(&vault, std::slice::from_ref(&draft));
    let audit = vec![draft];
    let written = vault.store.commit(Commit {
        changes: Vec::new(),
        audit,
    });
    match written.await {
        Ok(_) => {
            crate::vault::honey::report(&vault, hits);
            response
        }
        Err(_) => {
            vault.metrics.audit_failure();
            ApiError::from(Error::unavailable("the audit entry could not be written")).into_response()
        }
    }
}
