//! The one gate every audited handler passes: who is asking (the bearer
//! token), whether Cedar allows it, and the commit of what it changed —
//! each recorded in the request's audit slot, so a handler cannot forget one
//! beat. A handler takes a [`Gate`] as an extractor and speaks only to it
//! for authentication, authorization and commits.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;

use crate::authz::{Action, Permit, RequestContext, Resource};
use crate::domain::audit::AuditDraft;
use crate::domain::card::CardNumber;
use crate::domain::principal::Principal;
use crate::domain::store::{Change, Commit, Committed, Store, StoreError};
use crate::domain::vocab::Purpose;
use crate::http::audit_layer::AuditSlot;
use crate::http::error::{ApiError, Error};
pub use crate::vault::cards::CardRef;
use crate::vault::Vault;

/// One request's passage through the vault.
pub struct Gate {
    pub vault: Arc<Vault>,
    pub slot: AuditSlot,
    headers: HeaderMap,
    console: Option<crate::http::ConsoleCaller>,
    /// The source address, as the listener saw it (none without a listener).
    peer: Option<std::net::IpAddr>,
}

impl FromRequestParts<Arc<Vault>> for Gate {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, vault: &Arc<Vault>) -> Result<Self, Infallible> {
        Ok(Self {
            vault: Arc::clone(vault),
            slot: parts.extensions.get::<AuditSlot>().cloned().unwrap_or_default(),
            headers: parts.headers.clone(),
            console: parts.extensions.get::<crate::http::ConsoleCaller>().cloned(),
            peer: parts.extensions.get::<crate::http::Peer>().map(|p| p.addr.ip()),
        })
    }
}

impl Gate {
    /// The share of the in-memory tables this request's address is charged to.
    #[must_use]
    pub fn source(&self) -> crate::vault::shares::Source {
        self.peer
            .map_or(crate::vault::shares::Source::UNKNOWN, crate::vault::shares::Source::of)
    }

    /// Names the request's action (and purpose, when fixed) in its audit
    /// entry, then authenticates the caller.
    ///
    /// # Errors
    /// 401 without a valid token; 429 when the principal is over its rate.
    pub fn enter(&self, action: Action, purpose: Option<Purpose>) -> Result<Arc<Principal>, ApiError> {
        self.slot.begin(action, purpose);
        let who = self.authenticate()?;
        // The chain disagrees with the off-box witness (vault/witness.rs):
        // only oversight may look, until an operator restores the data.
        let oversight = matches!(action, Action::ReadMetrics | Action::ReadAudit | Action::VerifyAudit);
        if let Some(conflict) = self.vault.witness.as_ref().and_then(|w| w.conflict()) {
            if !oversight {
                return Err(
                    crate::domain::error::Error::unavailable(format!("audit witness conflict: {conflict}")).into(),
                );
            }
        }
        Ok(who)
    }

    /// [`Gate::enter`] and [`Gate::authorize`] for an action on the vault
    /// as a whole with a fixed purpose: the common prologue.
    ///
    /// # Errors
    /// As those two.
    pub fn admit(&self, action: Action, purpose: Purpose) -> Result<(Arc<Principal>, Permit), ApiError> {
        let who = self.enter(action, Some(purpose))?;
        let permit = self.authorize(&who, action, &Resource::Vault, &RequestContext::purpose(purpose))?;
        Ok((who, permit))
    }

    /// Authenticates the request's bearer token and records who asked.
    ///
    /// # Errors
    /// 401 when there is no valid token (or a bound system's certificate is
    /// missing); 429 when the principal is over its rate.
    pub fn authenticate(&self) -> Result<Arc<Principal>, ApiError> {
        let v = &self.vault;
        let principal = match &self.console {
            // The console's own request for a signed-in person: the session
            // stands for the token, as long as the principal is still active
            // and has not been rotated since.
            Some(c) => v.principals.get(&c.principal).filter(|p| {
                p.status == crate::domain::principal::PrincipalStatus::Active && p.token_hash == c.token_hash
            }),
            None => crate::http::extract::bearer(&self.headers).and_then(|t| v.principals.authenticate(t)),
        }
        .ok_or(ApiError::Unauthenticated)?;
        self.slot.principal(&principal.id);
        // A system bound to a client certificate must present exactly it.
        if let Some(expected) = v.config.tls.system_certs.get(&principal.id) {
            let presented = self.slot.client_cert().map(|c| format!("sha256:{}", hex::encode(c)));
            if presented.as_deref() != Some(expected.to_ascii_lowercase().as_str()) {
                return Err(ApiError::Unauthenticated);
            }
        }
        if let Err(wait) = v.rate_limits.check_principal(&principal) {
            v.metrics.rate_limited();
            return Err(ApiError::RateLimited {
                retry_after_secs: crate::vault::rate_limits::retry_after_secs(wait),
            });
        }
        Ok(principal)
    }

    /// Decides with Cedar and records the decision; the permit on allow.
    ///
    /// # Errors
    /// 403 with the decision id when denied.
    pub fn authorize(
        &self,
        principal: &Principal,
        action: Action,
        resource: &Resource,
        context: &RequestContext,
    ) -> Result<Permit, ApiError> {
        let decision = self.vault.policy().decide(principal, action, resource, context);
        self.slot.decision(&decision);
        self.slot.replay_inputs(resource, context);
        self.vault.metrics.decision(decision.allowed);
        match decision.permit {
            Some(p) if decision.allowed => Ok(p),
            _ => Err(Error::Forbidden {
                decision_id: decision.decision_id,
            }
            .into()),
        }
    }

    /// The card that `text` names, with its subject recorded in the slot.
    #[must_use]
    pub fn card(&self, text: &str) -> CardRef {
        let number = CardNumber::parse(text);
        let canonical = number.as_ref().map_or(text, CardNumber::as_str);
        let subject = self.vault.keys.subjects.subject("card", canonical);
        self.slot.subject(subject.clone());
        CardRef {
            id: self.vault.keys.blind.card_id(canonical),
            number,
            subject,
        }
    }

    /// The request body as JSON, at most `limit` bytes.
    ///
    /// # Errors
    /// 400 naming the field, 413 past the limit.
    /// Whether the request carries a body (a content type, or a length
    /// above zero).
    #[must_use]
    pub fn has_body(&self) -> bool {
        let length = self
            .headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        match length {
            Some(n) => n > 0,
            None => {
                self.headers.contains_key(axum::http::header::CONTENT_TYPE)
                    || self.headers.contains_key(axum::http::header::TRANSFER_ENCODING)
            }
        }
    }

    pub async fn body<T: DeserializeOwned>(&self, body: Body, limit: usize) -> Result<T, ApiError> {
        crate::http::extract::read_json(&self.headers, body, limit).await
    }

    /// Commits `changes` together with this request's audit entry, durably.
    ///
    /// # Errors
    /// The conflict that stopped it (nothing changed; the entry records the
    /// conflict), or 503 when storage failed (the middleware then writes
    /// the entry, or fails closed).
    pub async fn commit(&self, changes: Vec<Change>) -> Result<Committed, ApiError> {
        self.commit_with(changes, Vec::new()).await
    }

    /// [`Gate::commit`] with further entries after this request's own
    /// (certificates, say).
    ///
    /// # Errors
    /// As [`Gate::commit`].
    pub async fn commit_with(&self, changes: Vec<Change>, more: Vec<AuditDraft>) -> Result<Committed, ApiError> {
        let mut audit = vec![self.slot.take_for_commit()];
        audit.extend(more);
        self.commit_entries(Commit { changes, audit }).await
    }

    /// Commits entries the handler built from the slot itself (one per fact
    /// decision, say).
    ///
    /// # Errors
    /// As [`Gate::commit`].
    pub async fn commit_entries(&self, commit: Commit) -> Result<Committed, ApiError> {
        // A request about a honey card queues its alert, written later off
        // this path; the probe is the same for every request.
        let hits = crate::vault::honey::hits_for(&self.vault, &commit.audit);
        match self.vault.store.commit(commit).await {
            Ok(done) => {
                crate::vault::honey::report(&self.vault, hits);
                Ok(done)
            }
            Err(e @ StoreError::Conflict(_)) => {
                crate::vault::honey::report(&self.vault, hits);
                Err(e.into())
            }
            Err(e) => {
                // The entry did not land: the middleware is told to try.
                self.slot.uncommitted();
                Err(e.into())
            }
        }
    }
}
